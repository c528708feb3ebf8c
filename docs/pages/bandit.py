"""The simulator page: the exact UPO optimum of a tabular bandit against trained policies.

Figures and tables come from ``docs.plots.bandit``, which calls the simulator's own solvers,
trainers and plotting functions; this module only lays them out, with captions and alt texts.
"""

from __future__ import annotations

from ..figures import Figures
from ..site import Page
from .references import cite


def bandit_page(figs: Figures, measured: dict[str, str]) -> Page:
    """The page "Bandit simulator"; ``measured`` holds HTML tables by topic."""
    body = (
        "<p>A tabular bandit is where the theory meets numbers: the UPO optimum π* is solved "
        "exactly from the KKT conditions (Theorem 3.1), and softmax policies are trained on "
        "each loss of the family. Whether a loss's minimiser is π* — and how far it lands "
        "when it is not — is measured, for every admissible f. Run it yourself with "
        "<code>python -m sim.bandit --f js</code> (see the <a href=\"cli.html#cli-sim-bandit\">"
        "CLI reference</a>).</p>"
        "<h2>Which losses reach π*</h2>"
        + measured.get("table", "")
        + figs.show("bandit_policies",
                    "<strong>Policies on the default problem</strong> (f = JS): π<sub>ref</sub>, "
                    "the optimum π* of (JS, Ψ = identity), and the policy each loss trains to. "
                    "IUPO in the per-response form lands on π*; DPO and f-DPO, whose own "
                    "optimum has Ψ = logit, push the best action further.",
                    "Grouped bar chart over four actions. For each action, bars for pi_ref, "
                    "pi star and the five trained policies; the per-response IUPO bars match "
                    "the pi star bars, DPO and f-DPO put about 0.9 on action 2.")
        + "<h2>Distance to π* against β</h2>"
        + figs.show("bandit_tv_beta",
                    "<strong>Distance to the optimum across β</strong> (f = JS): the "
                    "total-variation distance between each loss's minimiser and the UPO optimum "
                    "of its own (f, Ψ). Below the dotted line the minimiser is the optimum.",
                    "Line plot on log-log axes of distance against beta, one line per loss, "
                    "with a dotted horizontal threshold; the lines below it are the losses "
                    "whose minimiser is their optimum.")
        + figs.show("bandit_beta",
                    "<strong>The policies across β</strong>: π*(y) and each loss's minimiser "
                    "π(y) for the four actions against β, one panel per policy (f = JS); "
                    "compare each panel with the first.",
                    "Six small line plots on a grid, probability against beta on a log axis, "
                    "one coloured line per action; the legend of actions is below the grid.")
        + "<h2>Training curves</h2>"
        + figs.show("bandit_training",
                    "<strong>Gradient training</strong>: the loss above its minimum (left) and "
                    "the distance to the loss's own optimum (right) along the steps.",
                    "Two line plots on log scales against the training step, one line per "
                    "loss, both decreasing.")
        + "<h2>Zero mass where 0 ∈ dom f′</h2>"
        + measured.get("pearson", "")
        + "<h2>The Azar et al. scenario</h2>"
        + f"<p>The example of Azar et al. {cite('azar')}, which motivated IPO.</p>"
        + measured.get("azar", "")
        + figs.show("bandit_azar",
                    "<strong>Azar et al.'s scenario at β = 0.5</strong>: three actions, uniform "
                    "π<sub>ref</sub>, the dataset {(a ≻ b), (b ≻ c), (a ≻ c)}. DPO becomes "
                    "deterministic, IPO converges to the closed form.",
                    "Grouped bar chart over three actions: DPO puts almost all mass on the "
                    "first action, IPO spreads it in decreasing steps.")
    )
    return Page("bandit.html", "Bandit simulator", "Experiments", body,
                "exact optimum against each loss's trained policy, on tabular bandits")
