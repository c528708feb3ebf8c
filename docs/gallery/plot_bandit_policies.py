r"""
Policies on the default bandit
==============================

:math:`\pi_{\mathrm{ref}}`, the optimum :math:`\pi^*` of (JS, Ψ = identity) and the policy each
loss trains to, on the default problem of ``python -m sim.bandit``. IUPO in the per-response form
lands on :math:`\pi^*`; DPO and f-DPO, whose own optimum has Ψ = logit, push the best action
further.
"""

import matplotlib

matplotlib.use("Agg")

from sim import plots
from sim.compare import compare
from sim.config import BanditConfig, load_problem

problem, _ = load_problem(BanditConfig())
comparison = compare(problem, "js", "identity")
for outcome in comparison.outcomes:
    print(f"{outcome.name:28s} total variation to its own optimum {outcome.tv_own:.2e}")
plots.plot_policies(comparison, "bandit_policies.png")
