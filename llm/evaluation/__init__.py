"""The evaluation room: a run's summary (:mod:`~llm.evaluation.summary`), the offline task's
true-reward evaluation (:mod:`~llm.evaluation.true_reward`), the curves of runs
(:mod:`~llm.evaluation.curves`) and their figures (:mod:`~llm.evaluation.figures`), the paper's
experiment (:mod:`~llm.evaluation.sweep`) and its report (:mod:`~llm.evaluation.report`)."""
