r"""
Generators and their derivatives
================================

f (left) and f′ (right) of every registered divergence, against the ratio :math:`u =
\pi/\pi_{\mathrm{ref}}` on a log axis. f′ is missing for total variation, which has no derivative
at 1. Every generator is zero at u = 1 and convex; every derivative is increasing, and all but
Pearson's go to −∞ as u → 0.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from upo_theory import derive, generator_function, kernel_for, registered

u = np.logspace(-3, np.log10(8.0), 600)
fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
for div in registered():
    ax_f.plot(u, generator_function(div)(u), label=div.label)
    if derive(div).differentiable:
        ax_d.plot(u, kernel_for(div)(np.log(u)), label=div.label)  # f'(u) = k(log u)
ax_f.set(xscale="log", ylim=(-0.5, 6), xlabel="u = π/π$_{ref}$", ylabel="f(u)",
         title="generators f")
ax_d.set(xscale="log", ylim=(-6, 4), xlabel="u = π/π$_{ref}$", ylabel="f′(u)",
         title="derivatives f′ (total variation has none)")
for ax in (ax_f, ax_d):
    ax.axvline(1.0, color="0.6", lw=0.8, ls=":")
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.grid(alpha=0.3)
handles, labels = ax_f.get_legend_handles_labels()
fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8)
fig.savefig("generators.png", dpi=110)
plt.close(fig)
