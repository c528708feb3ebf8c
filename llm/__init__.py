"""llm: preference fine-tuning of GPT-2 with the loss family."""
