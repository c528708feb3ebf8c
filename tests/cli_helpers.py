"""Calling an entry point's ``main`` as a user would, and what a refusal must look like."""

from __future__ import annotations


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
