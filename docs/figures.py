"""The figures a build produced, by name, and how pages show one (or say why it is missing)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .html import esc, figure, note


@dataclass
class Figures:
    """Figure name → image path relative to the site root; ``skipped`` says why one is absent."""

    paths: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def show(self, name: str, caption: str, alt: str) -> str:
        """The figure ``name`` with its ``caption`` (HTML) and ``alt`` text (what the image
        shows, in words), anchored as ``fig-<name>``; or a note saying why it was not drawn."""
        if name in self.paths:
            return figure(self.paths[name], caption, alt, ident=f"fig-{name.replace('_', '-')}")
        why = self.skipped.get(name, "not drawn in this build")
        return note(f"Figure <em>{esc(name)}</em> is not in this build: {esc(why)}.", "warn")
