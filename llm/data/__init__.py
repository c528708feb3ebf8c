"""The data room: rows read from files and the hub (:mod:`~llm.data.readers`), converted to one
pair format (:mod:`~llm.data.pairs`), the offline task (:mod:`~llm.data.offline_task`), tokenised
and batched (:mod:`~llm.data.batching`), and a run's pairs loaded once
(:mod:`~llm.data.training_data`)."""
