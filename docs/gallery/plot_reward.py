"""
The implicit reward of Theorem 3.1
==================================

β f′(u) (eq. 12), one panel per differentiable divergence, for the paper's β = 0.1, 0.2, 0.5;
dashed: its ceiling β sup f′, where f′ is bounded. For reverse KL and Pearson the reward keeps
rising; for the others it flattens under its ceiling.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from upo_theory import derive, kernel_for, registered

betas = (0.1, 0.2, 0.5)  # the paper's (Section 5)
u = np.logspace(-3, np.log10(8.0), 600)
divs = [d for d in registered() if derive(d).differentiable]
cols = 4
rows = -(-len(divs) // cols)
fig, axes = plt.subplots(rows, cols, figsize=(12, 3.0 * rows + 0.4), sharex=True,
                         layout="constrained", squeeze=False)
for ax, div in zip(axes.flat, divs, strict=False):
    k = kernel_for(div)
    for beta, color in zip(betas, ("C0", "C1", "C2"), strict=True):
        ax.plot(u, beta * k(np.log(u)), color=color, label=f"β = {beta}")
        if np.isfinite(k.sup):
            ax.axhline(beta * k.sup, color=color, ls="--", lw=0.8)
    ax.set(xscale="log", ylim=(-1.5, 1.5), xlabel="u")
    ax.set_title(div.title, fontsize=9.5)
    ax.grid(alpha=0.3)
for ax in axes.flat[len(divs):]:
    ax.set_visible(False)
for ax in axes[:, 0]:
    ax.set_ylabel("β f′(u)")
handles, labels = axes[0, 0].get_legend_handles_labels()
fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=9)
fig.suptitle("implicit reward β f′(π/π$_{ref}$) (eq. 12); dashed: its ceiling β sup f′")
fig.savefig("reward.png", dpi=110)
plt.close(fig)
