"""Figures for the documentation, drawn from the packages' own functions."""
