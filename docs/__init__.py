"""docs: the generated documentation site (``python -m docs``)."""
