"""Calling an entry point's ``main`` as a user would, and what a refusal must look like."""

from __future__ import annotations

from pathlib import Path


def call(main, args: list[str], capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``main(args)``, as the module's ``sys.exit`` gives."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as stop:  # argparse and parse_config exit while parsing
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(result: tuple[int, str, str], *words: str, alone: bool = True) -> None:
    """Exit 2 with one error line naming ``words``; with ``alone``, nothing else on stderr (a
    failure during setup may follow progress lines, and then ends with the error)."""
    code, _, err = result
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip("\n").splitlines()
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1 and errors[0] == lines[-1], err
    assert not alone or lines == errors, err
    for word in words:
        assert word in errors[0], err


TINY_ARGV = ["--data", "jsonl", "--data-path",
             str(Path(__file__).parent / "fixtures" / "trl.jsonl"), "--n-layer", "1",
             "--n-embd", "32", "--n-head", "2", "--sft-steps", "2", "--pref-steps", "4",
             "--batch-size", "4", "--sft-batch-size", "4", "--eval-fraction", "0.25",
             "--truth-eval-prompts", "0", "--max-length", "48", "--save-every", "2",
             "--eval-every", "2", "--warmup-steps", "1", "--device", "cpu"]
"""``llm.train``'s command line for a tiny run (seconds) of the tests about a user's files."""

OTHER_STAGE = {"sft": ("--pref-steps", "--batch-size"), "pref": ("--sft-steps", "--sft-batch-size")}
"""The options of :data:`TINY_ARGV` that a run of one stage would ignore (and so refuses)."""
ARCHITECTURE = ("--n-layer", "--n-embd", "--n-head")
"""The options of :data:`TINY_ARGV` that a run of a saved model (``--model``, ``--init``)
ignores (and so refuses)."""


def without(argv: list, flags: tuple[str, ...]) -> list:
    """``argv`` without the options ``flags`` (each followed by its value)."""
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token in flags:
            skip = True
        else:
            out.append(token)
    return out


def stage_argv(argv: list, stage: str) -> list:
    """``argv`` (a tiny run's, such as :data:`TINY_ARGV`) for ``--stage sft`` or ``pref``:
    without the other stage's options, which the run would ignore."""
    return [*without(argv, OTHER_STAGE[stage]), "--stage", stage]


def saved_model_argv(argv: list, flag: str, folder) -> list:
    """``argv`` (a tiny run's) starting from the saved model ``folder`` (``flag``: ``--model``
    or ``--init``): without the offline architecture's options, which the run would ignore."""
    return [*without(argv, ARCHITECTURE), flag, folder]


def refused(result: tuple[int, str, str], *words: str) -> None:
    """Exit 2, no traceback, the last stderr line the one error naming ``words`` (progress
    lines of a setup that got under way may come before it)."""
    assert_user_error(result, *words, alone=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (not a link) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}

