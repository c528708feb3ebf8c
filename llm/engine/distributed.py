"""Process group and device: one process, or ``torchrun`` with DistributedDataParallel.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the process group uses NCCL on CUDA and gloo on the CPU;
each rank takes its contiguous slice of every global batch, and metric sums are all-reduced.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as torch_dist

from upo_theory import UserError

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's rank, the number of processes and the device it computes on."""

    rank: int
    size: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, items: list) -> list:
        """This rank's contiguous slice of ``items`` (whose length the world size divides)."""
        per = len(items) // self.size
        return items[self.rank * per: (self.rank + 1) * per]

    def autocast(self) -> Any:
        """bf16 autocast on CUDA; nothing on the CPU (float32 throughout)."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def local(self) -> World:
        """The same device as a world of one (for sums that the caller reduces itself)."""
        return World(0, 1, self.device)

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum ``values`` over all processes (the identity in one process)."""
        if self.distributed:
            values = values.clone()
            torch_dist.all_reduce(values, op=torch_dist.ReduceOp.SUM)
        return values

    def most(self, count: int) -> int:
        """The largest ``count`` over all processes."""
        if not self.distributed:
            return count
        value = torch.tensor(count, device=self.device)
        torch_dist.all_reduce(value, op=torch_dist.ReduceOp.MAX)
        return int(value)

    def on_main(self, work: Callable[[], T]) -> T | None:
        """``work()`` on the main process (None elsewhere), the others waiting for it. When it
        raises there, every other process stops too, silently, as the main process says why:
        exit 2 after a :class:`UserError` (a refusal), 1 after anything else. Without this a
        refusal on the main process left the others at their next collective, to fail there
        with a lost-connection traceback."""
        result, failure = None, None
        if self.main:
            try:
                result = work()
            except BaseException as error:  # told to the others, then raised
                failure = error
        if self.distributed:
            code = torch.tensor(0 if failure is None else 2 if isinstance(failure, UserError)
                                else 1, device=self.device)
            torch_dist.broadcast(code, src=0)
            if not self.main and int(code):
                raise SystemExit(int(code))
        if failure is not None:
            raise failure
        return result

    def barrier(self) -> None:
        if self.distributed:
            torch_dist.barrier()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto``: CUDA when present, else the CPU; ``cuda`` without an index: the local rank's."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"device={name!r} but CUDA is not available; pass --device cpu")
        if name == "cuda":
            name = f"cuda:{local_rank}"
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise UserError(f"device={name!r} but this machine has {torch.cuda.device_count()} "
                            "CUDA devices; pass --device cuda or cuda:0")
    return torch.device(name)


def check_batches_divide(batch_sizes: dict[str, int], processes: int) -> None:
    """Refuse, before any process group or work, global batches that do not split evenly."""
    for flag, size in batch_sizes.items():
        if size % processes:
            raise UserError(f"{flag} {size} does not divide over the {processes} processes; "
                            f"give a multiple of {processes}")


def init_world(device: str, batch_sizes: dict[str, int] | None = None,
               deterministic: bool = True, sharded: bool = False) -> World:
    """Join the ``torchrun`` process group when launched by it; otherwise a world of one.

    ``batch_sizes`` (flag: global batch) are checked against the number of processes first, and
    ``sharded`` (``--fsdp``) needs more than one process. On
    CUDA, float32 matrix products may use TF32, and with ``deterministic`` every kernel is a
    deterministic one (cuBLAS gets a fixed workspace, set before its first use), so that a run
    repeats, and resumes, bit for bit.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if sharded and size == 1:
        raise UserError("--fsdp shards the model over several processes; launch it with "
                        "torchrun --nproc_per_node N -m llm.train --fsdp ...")
    check_batches_divide(batch_sizes or {}, size)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    resolved = resolve_device(device, local_rank)
    if resolved.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
    if size == 1:
        return World(0, 1, resolved)
    if not torch_dist.is_initialized():
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        torch_dist.init_process_group(backend=backend)
    if resolved.type == "cuda":
        torch.cuda.set_device(resolved)
    return World(torch_dist.get_rank(), torch_dist.get_world_size(), resolved)


def close_world(world: World) -> None:
    if world.distributed and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
