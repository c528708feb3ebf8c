"""
Gradient training on the bandit
===============================

Each loss trained by gradient steps on the default problem (f = JS): the loss above its minimum
(left) and the distance to the loss's own optimum (right) along the steps.
"""

import matplotlib

matplotlib.use("Agg")

from sim import plots
from sim.compare import compare
from sim.config import BanditConfig, load_problem

problem, _ = load_problem(BanditConfig())
trained = compare(problem, "js", "identity", steps=300)
plots.plot_curves(trained, "bandit_training.png")
