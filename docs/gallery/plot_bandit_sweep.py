r"""
The simulator across β
======================

For f = JS on the default problem: first, the total-variation distance between each loss's
minimiser and the UPO optimum of its own (f, Ψ) against β (below the dotted line the minimiser is
the optimum); then :math:`\pi^*(y)` and each loss's minimiser for the four actions against β, one
panel per policy.
"""

import matplotlib

matplotlib.use("Agg")
import numpy as np

from sim import plots
from sim.compare import beta_sweep
from sim.config import BanditConfig, load_problem

problem, _ = load_problem(BanditConfig())
sweep = beta_sweep(problem, np.geomspace(0.05, 2.0, 9), "js", "identity")
plots.plot_sweep_tv(sweep, "bandit_tv_beta.png",
                    title="JS: distance of each minimiser to the UPO optimum, across β")
plots.plot_sweep(sweep, "bandit_beta.png", columns=3, tv=False,
                 optimum="π* (JS, Ψ = identity)")
