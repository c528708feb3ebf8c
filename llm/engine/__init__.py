"""The engine room: a run's folder (:mod:`~llm.engine.run_folder`), its session
(:mod:`~llm.engine.session`: model, data, logger), the stages and objectives
(:mod:`~llm.engine.objectives`), π_ref's log-probabilities as data (:mod:`~llm.engine.reference`),
the loop (:mod:`~llm.engine.loop`), checkpoints, processes, scoring, metrics and throughput."""
