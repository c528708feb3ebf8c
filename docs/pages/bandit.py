"""The simulator page: the exact UPO optimum of a tabular bandit against trained policies.

Figures and tables come from ``docs.plots.bandit``, which calls the simulator's own solvers,
trainers and plotting functions; this module only lays them out.
"""

from __future__ import annotations

from ..figures import Figures
from ..site import Page


def bandit_page(figs: Figures, measured: dict[str, str]) -> Page:
    """The page "Bandit simulator"; ``measured`` holds HTML tables by topic."""
    body = (
        "<p>A tabular bandit is where the theory meets numbers: the UPO optimum π* is solved "
        "exactly from the KKT conditions (Theorem 3.1), and softmax policies are trained on "
        "each loss of the family. Whether a loss's minimiser is π* — and how far it lands "
        "when it is not — is measured, for every admissible f. Run it yourself with "
        "<code>python -m sim.bandit --f js</code> (see the <a href=\"cli.html\">CLI "
        "reference</a>).</p>"
        "<h2>Which losses reach π*</h2>"
        + measured.get("table", "")
        + figs.show("bandit_policies", "π* against the policy each loss trains to, on the "
                    "default problem.")
        + "<h2>Distance to π* against β</h2>"
        + figs.show("bandit_tv_beta", "Total-variation distance between each loss's minimiser "
                    "and the UPO optimum of its own (f, Ψ), across β (f = JS). Below the "
                    "dotted line the minimiser is the optimum.")
        + figs.show("bandit_beta", "π*(y) and each minimiser's π(y) against β, one panel per "
                    "policy (drawn by sim.plots.plot_sweep; click to enlarge).")
        + "<h2>Training curves</h2>"
        + figs.show("bandit_training", "Loss and distance to π* along gradient training.")
        + "<h2>Zero mass where 0 ∈ dom f′</h2>"
        + measured.get("pearson", "")
        + "<h2>The Azar et al. scenario</h2>"
        + measured.get("azar", "")
        + figs.show("bandit_azar", "Three actions, uniform π_ref, the dataset {(a, b), (b, c), "
                    "(a, c)}: DPO becomes deterministic, IPO converges to the closed form.")
    )
    return Page("bandit.html", "Bandit simulator", "Experiments", body,
                "exact optimum against each loss's trained policy, on tabular bandits")
