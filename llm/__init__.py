"""llm: preference fine-tuning of GPT-2 with the loss family."""

import upo_theory  # noqa: F401  # first: Ctrl-C while starting is one line
