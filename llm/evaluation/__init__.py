"""The evaluation room: the measurement of one run. Its summary (:mod:`~llm.evaluation.summary`),
the offline task's true-reward evaluation (:mod:`~llm.evaluation.true_reward`, probed during
training by :mod:`~llm.evaluation.truth_probe`), the curves of runs
(:mod:`~llm.evaluation.curves`) and their figures (:mod:`~llm.evaluation.figures`)."""
