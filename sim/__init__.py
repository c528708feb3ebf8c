"""sim: a tabular-bandit simulator for the UPO optimum and the loss family.

Modules: :mod:`.problems` (validated problems, seeded generators, problem files and the named
catalogue, Azar et al.'s scenario among them, and sampled datasets), :mod:`.value` (J(π) of
eq. 11), :mod:`.training` (trajectories of GD/Adam on every loss), :mod:`.compare` (every loss
against its own optimum, β sweeps), :mod:`.plots` and the command line :mod:`.bandit`
(``python -m sim.bandit``). The problem, the exact optimum (KKT conditions of Theorem 3.1), the
loss on a pair table and its minimiser are the core's (``upo_theory``), one engine for the
claims and the simulator.
"""

import upo_theory  # noqa: F401  # first: Ctrl-C while starting is one line
