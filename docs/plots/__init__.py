"""Figures that ``python -m docs`` draws itself (the run folders given with ``--runs``)."""
