"""The gallery's image scraper: the PNG files a script wrote are that script's figures.

The project's plotting functions (``sim.plots``, ``llm.plot``) save figures to files and close
them, so sphinx-gallery's matplotlib scraper would find nothing; this one collects the PNG files
each code block wrote, in the order they were written.
"""

from __future__ import annotations

import shutil
from pathlib import Path


class PNGScraper:
    """sphinx-gallery image scraper for PNG files written into the script's folder."""

    def __repr__(self) -> str:
        return "PNGScraper"

    def __call__(self, block, block_vars, gallery_conf):
        from sphinx_gallery.scrapers import figure_rst

        folder = Path(block_vars["src_file"]).parent
        names = []
        for png in sorted(folder.glob("*.png"), key=lambda p: p.stat().st_mtime):
            target = block_vars["image_path_iterator"].next()
            shutil.move(png, target)
            names.append(target)
        return figure_rst(names, gallery_conf["src_dir"])
