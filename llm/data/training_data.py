"""The pairs a run trains and evaluates on: read, converted, split and tokenised once.

:func:`load_training_data` turns ``config.data`` (the offline task, or HH/SHP/TRL rows from
:mod:`llm.data.readers`) into :class:`~llm.data.pairs.PreferencePair` values, holds out evaluation
(or, with ``--holdout validation``, validation) pairs, tokenises both and checks that every stage's
batch fits. The offline task's held-out rows are kept for its Bayes accuracy.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import TrainConfig
from .batching import TokenizedPair, tokenize_pairs
from .chat import has_chat_template
from .pairs import DataError, PreferencePair, from_hh, load_pairs, split_by_prompt


@dataclass
class TrainingData:
    """Tokenised train and held-out pairs, and the offline task's held-out rows (else None).

    Parameters
    ----------
    train, eval : list of TokenizedPair
        The training pairs and the held-out pairs.
    offline_eval_rows : list of dict of str to str, optional
        The offline task's held-out rows (None for other data).
    """

    train: list[TokenizedPair]
    eval: list[TokenizedPair]
    offline_eval_rows: list[dict[str, str]] | None = None


@dataclass(frozen=True)
class BatchNeed:
    """A stage's batch, which the training pairs must fill: its name, size and option.

    Parameters
    ----------
    stage : str
        The stage's name.
    size : int
        Its batch size.
    flag : str
        The option that sets it.
    """

    stage: str
    size: int
    flag: str


def load_training_data(config: TrainConfig, tokenizer, processes: int, main: bool,
                       batches: Sequence[BatchNeed]) -> TrainingData:
    """Read, convert, split and tokenise the pairs of ``config.data`` (``main``: the process that
    reports; ``processes``: how many share the held-out pairs).

    Parameters
    ----------
    config : TrainConfig
        The run's configuration.
    tokenizer : transformers tokenizer
        The model's tokenizer.
    processes : int
        How many processes share the held-out pairs.
    main : bool
        Whether this process reports.
    batches : sequence of BatchNeed
        The batches the training pairs must fill.

    Returns
    -------
    TrainingData
        The tokenised pairs.

    Raises
    ------
    DataError
        When the pairs cannot fill a batch or give each process a held-out pair.
    """
    say = print if main else (lambda *a, **k: None)
    train, held, rows_eval = _pairs(config, say)
    if config.holdout == "validation":  # choosing settings must not look at the eval pairs
        train, held = split_by_prompt(train, config.eval_fraction, config.seed)
        held, rows_eval = held[: config.eval_pairs], None
        say(f"holdout: {len(held)} validation pairs from held-out training prompts",
            file=sys.stderr)
    train_tok = _tokenized(train, "train", config, tokenizer, say)
    eval_tok = _tokenized(held, "eval", config, tokenizer, say)
    for batch in batches:
        if len(train_tok) < batch.size:
            raise DataError(f"only {len(train_tok)} training pairs for a {batch.stage} batch of "
                            f"{batch.size}; lower {batch.flag} or add data")
    if len(eval_tok) < processes:
        raise DataError(f"{len(eval_tok)} held-out pairs for {processes} processes; pass "
                        "--eval-data-path or raise --eval-fraction")
    return TrainingData(train_tok, eval_tok, rows_eval)


def _pairs(config: TrainConfig, say) -> tuple[list[PreferencePair], list[PreferencePair],
                                                list[dict[str, str]] | None]:
    """Train and held-out pairs of ``config.data``, and the offline task's held-out rows."""
    if config.data == "offline":
        from .offline_task import generate_pairs

        rows_train, rows_eval = generate_pairs(
            config.seed, config.offline_train_pairs, config.offline_eval_pairs)
        rows_eval = rows_eval[: config.eval_pairs]
        train = [from_hh(r) for r in rows_train]
        held = [from_hh(r) for r in rows_eval]
        say(f"data: offline task, {len(train)} train / {len(held)} eval pairs", file=sys.stderr)
        return train, held, rows_eval
    train, report = load_pairs(config.data, config.data_path)
    say(f"data: {report.summary()}", file=sys.stderr)
    if config.eval_data_path:
        held, held_report = load_pairs(config.data, config.eval_data_path, split="eval")
        say(f"eval data: {held_report.summary()}", file=sys.stderr)
    else:
        train, held = split_by_prompt(train, config.eval_fraction, config.seed)
    return train, held[: config.eval_pairs], None


def _tokenized(pairs: list[PreferencePair], name: str, config: TrainConfig, tokenizer,
               say) -> list[TokenizedPair]:
    chat = config.chat_template and has_chat_template(tokenizer)
    tokenized, report = tokenize_pairs(pairs, tokenizer, config.max_length, chat)
    if report.dropped_empty or report.dropped_identical:
        say(f"{name}: dropped {report.dropped_empty} pairs with an empty response and "
            f"{report.dropped_identical} with identical responses after truncation to "
            f"max_length={config.max_length}", file=sys.stderr)
    return tokenized
