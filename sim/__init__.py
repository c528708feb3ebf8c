"""sim: a tabular-bandit simulator for the UPO optimum and the loss family.

Modules: :mod:`.problems` (validated problems, seeded generators, problem files and the named
catalogue, Azar et al.'s scenario among them), :mod:`.optimum` (the exact optimum from the KKT
conditions of Theorem 3.1), :mod:`.objective` (J(π) of eq. 11, TV), :mod:`.training` (softmax
policies trained on every loss, analytic gradients), :mod:`.compare` (every loss against its own
optimum, β sweeps), :mod:`.plots` and the command line :mod:`.bandit` (``python -m sim.bandit``).
"""
