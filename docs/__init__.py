"""docs: the generated documentation site (``python -m docs``)."""

import upo_theory  # noqa: F401  # first: Ctrl-C while starting is one line
