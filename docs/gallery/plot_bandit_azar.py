r"""
Azar et al.'s scenario
======================

Three actions, uniform :math:`\pi_{\mathrm{ref}}`, the dataset {(a ≻ b), (b ≻ c), (a ≻ c)}, each
pair once, β = 0.5. DPO becomes deterministic; IPO converges to the closed form of Azar et al.
"""

import matplotlib

matplotlib.use("Agg")

from sim import plots
from sim.compare import compare
from sim.problems import azar

scenario = azar(0.5)
comparison = compare(scenario.problem, "rkl", "identity", pairs=scenario.pairs)
plots.plot_policies(comparison, "bandit_azar.png")
