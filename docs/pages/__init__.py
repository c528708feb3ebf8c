"""Generators of the site's pages from the code's own objects (MyST source text)."""
