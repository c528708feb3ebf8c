"""sim: a tabular-bandit simulator for the UPO optimum and the loss family."""
