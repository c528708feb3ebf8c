"""The experiments room: many runs and their statistics, one job a module.

The protocol and the sweep (:mod:`~llm.experiments.sweep`: the settings, the
:class:`~llm.experiments.sweep.ExperimentConfig`, running the runs through
:func:`llm.run.run_training`), the learning-rate selection rule (:mod:`~llm.experiments.rates`),
the statistics over seeds (:mod:`~llm.experiments.statistics`), the comparison at matched
divergence (:mod:`~llm.experiments.frontier`), the report rendered
(:mod:`~llm.experiments.report`) and its files (:mod:`~llm.experiments.report_files`); a
worker process ends with the experiment (:mod:`~llm.experiments.workers`). One
``python -m llm.train`` never enters this room.
"""
