"""The core's bottom layer: the error every layer raises for a user's mistake.

A user's mistake raises :class:`UserError` (or a subclass defined next to what it guards:
:class:`~upo_theory.ExpressionError`, :class:`~upo_theory.LossSpecError`, ...);
:func:`upo_theory.cli.run_cli` turns it into one line on stderr and exit status 2, never a
traceback.
It lives here, below every other module, so that no layer imports the command line to raise it.
"""


class UserError(ValueError):
    """A mistake in what the user gave (a value, a file, a folder); the message names the fix."""
