"""``python -m llm.launch --nproc-per-node N [llm.train options]``: ``llm.train`` on N processes,
started by PyTorch's own launcher, reporting as ``llm.train`` does.

``torchrun --nproc_per_node N -m llm.train ...`` works as it is, but it reports as a launcher:
after a rank's one-line refusal it adds its own ``ChildFailedError`` traceback (about 45 lines)
and exits 1 whatever the run's exit was. This command is the same launch with ``llm.train``'s
manners. The options are checked once, before any process starts: ``llm.train``'s command line
(:func:`llm.train.parse_args`), the checks a run makes before work
(:func:`llm.run.check_before_work`), the global batches that must divide over the processes and
the CUDA devices there must be (:func:`check_launch`). Then ``torch.distributed.run`` (what
``torchrun`` runs, standalone on this machine) starts the processes, and the command exits as
the run did: 0; the exit code of the first rank that failed (2 for a refusal, whose one line
that rank printed); 128 + the signal for a rank killed by one; 130 on Ctrl-C, naming
``--resume``. The process management stays PyTorch's; only its reporting is replaced.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from upo_theory import UserError
from upo_theory.cli import OneLineParser, config_parser, parse_config, run_cli

from .config import TrainConfig
from .run import RESUME

__all__ = ["check_launch", "main"]
PROG = "python -m llm.launch"


def build_parser() -> argparse.ArgumentParser:
    """The launcher's own option; the rest of the command line is ``llm.train``'s."""
    parser = OneLineParser(
        prog=PROG, usage=f"{PROG} --nproc-per-node N [llm.train options]",
        description="llm.train on N processes of this machine (DistributedDataParallel, or "
                    "FSDP2 with --fsdp), started by torch.distributed.run as torchrun would; "
                    "every other option is llm.train's (python -m llm.train --help).")
    parser.add_argument("--nproc-per-node", "--nproc_per_node", type=int, required=True,
                        metavar="N",
                        help="processes to start (one per GPU on CUDA; on the CPU, gloo)")
    return parser


def check_launch(config: TrainConfig, processes: int) -> None:
    """Refuse, before any process starts, what the ranks would each refuse: fewer than one
    process, ``--fsdp`` in one, a global batch that does not divide over the processes, more
    processes than CUDA devices on CUDA (than CPUs on the CPU), and what
    :func:`llm.run.check_before_work` refuses."""
    import torch

    from .engine.distributed import check_batches_divide, resolve_device
    from .engine.objectives import plan
    from .run import check_before_work

    if processes < 1:
        raise UserError(f"--nproc-per-node {processes}: give 1 or more processes")
    if config.fsdp and processes == 1:
        raise UserError("--fsdp shards the model over several processes; give "
                        "--nproc-per-node 2 or more")
    device = resolve_device(config.device)
    room, what = ((torch.cuda.device_count(), "CUDA devices") if device.type == "cuda"
                  else (os.cpu_count() or 1, "CPUs"))
    if processes > room:
        raise UserError(f"--nproc-per-node {processes} but this machine has {room} {what} (one "
                        f"per process); give --nproc-per-node {room} or fewer")
    check_batches_divide({s.batch_flag: s.batch_size for s in plan(config)}, processes)
    check_before_work(config)


def launch(processes: int, train_argv: list[str]) -> int:
    """Start ``llm.train`` with ``train_argv`` on ``processes`` processes; the run's exit code."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args as launcher_args
    from torch.distributed.run import run

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # torchrun's default, without its banner
    for name in list(logging.Logger.manager.loggerDict):  # the ranks speak, not the launcher
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        run(launcher_args(["--standalone", f"--nproc-per-node={processes}", "-m", "llm.train",
                           *train_argv]))
    except ChildFailedError as error:
        rank, failure = error.get_first_failure()
        if failure.exitcode < 0:
            print(f"{PROG}: rank {rank} was killed by signal {-failure.exitcode}; {RESUME}",
                  file=sys.stderr)
            return 128 - failure.exitcode
        return failure.exitcode  # the rank has said why
    except SignalException as stop:  # Ctrl-C or a kill of this launcher, passed on to the ranks
        if stop.sigval == signal.SIGINT:
            return 130  # the main rank has said so, with how to resume
        print(f"{PROG}: stopped by signal {stop.sigval.name}; {RESUME}", file=sys.stderr)
        return 128 + stop.sigval
    return 0


def main(argv: list[str] | None = None) -> int:
    options, train_argv = build_parser().parse_known_args(argv)
    config = parse_config(TrainConfig, train_argv, config_parser(
        TrainConfig, prog=PROG, description="the options of python -m llm.train"))

    def work() -> int:
        check_launch(config, options.nproc_per_node)
        return launch(options.nproc_per_node, train_argv)

    return run_cli(PROG, work, then=RESUME)


if __name__ == "__main__":
    sys.exit(main())
