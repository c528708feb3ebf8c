r"""
The two JS-IUPO pair statistics
===============================

Both statistics over the policy's probabilities :math:`(\pi(y_w), \pi(y_l))`, with
:math:`\pi_{\mathrm{ref}}(y_w) = 0.3` and :math:`\pi_{\mathrm{ref}}(y_l) = 0.2` (the star). Only
the triangle :math:`\pi(y_w) + \pi(y_l) \le 1` is drawn: the rest is not a probability. Black
lines: where the statistic equals the IUPO target :math:`1/(2\beta)` for β = 2, 1 and 0.5 (targets
0.25, 0.5, 1). The paper form (eq. 23) never reaches the target of β = 0.5: it is at most
:math:`\log 2 - f'(\pi_{\mathrm{ref}}(y_w)/\pi_{\mathrm{ref}}(y_l))`. The per-response form (eq.
17) reaches every target.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from upo_theory import get_divergence, kernel_for, loss_spec, pair_statistic

ref_w, ref_l = 0.3, 0.2
betas = (2.0, 1.0, 0.5)
js = get_divergence("js")
k = kernel_for(js)
ceiling = float(k.sup - k(np.array([np.log(ref_w / ref_l)]))[0])  # sup of the paper form

grid = np.linspace(0.002, 0.998, 300)
pw, pl = np.meshgrid(grid, grid)
valid = pw + pl <= 1.0
rw, rl = np.full_like(pw, np.log(ref_w)), np.full_like(pw, np.log(ref_l))
fig, axes = plt.subplots(1, 2, figsize=(11, 5.0), layout="constrained")
titles = {"paper": "paper form (eq. 23)", "per_response": "per-response form (eq. 17)"}
for ax, (form, title) in zip(axes, titles.items(), strict=True):
    stat = pair_statistic(loss_spec("iupo", js, form), np.log(pw), np.log(pl), rw, rl)
    stat = np.ma.masked_where(~valid, stat)
    mesh = ax.pcolormesh(pw, pl, stat, cmap="RdBu_r", vmin=-3, vmax=3, shading="auto")
    lines = ax.contour(pw, pl, stat, levels=sorted(1 / (2 * b) for b in betas), colors="k",
                       linewidths=1.0)
    ax.clabel(lines, fmt=lambda target: f"β={1 / (2 * target):.3g}", fontsize=8)
    ax.plot([0, 1], [1, 0], color="0.3", lw=0.8)
    ax.plot([ref_w], [ref_l], "k*", ms=10)
    ax.set(xlabel="π(y$_w$)", ylabel="π(y$_l$)", title=title, aspect="equal", xlim=(0, 1),
           ylim=(0, 1))
    fig.colorbar(mesh, ax=ax, shrink=0.85, label="pair statistic")
fig.suptitle(f"JS-IUPO statistics; π$_{{ref}}$(y$_w$) = {ref_w}, π$_{{ref}}$(y$_l$) = {ref_l} (★); "
             f"the paper form is at most {ceiling:.3f}\nblack lines: statistic = target 1/(2β)",
             fontsize=10)
fig.savefig("js_statistics.png", dpi=110)
plt.close(fig)
