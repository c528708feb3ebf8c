"""Options a run would ignore, refused when a command line gives them (one table of rules).

:meth:`llm.config.TrainConfig.check_given` refuses what :func:`refusal` finds among the fields
the command line set itself (``given``, from :func:`upo_theory.cli.parse_config`); a default
never trips a rule, and ``llm.experiment`` applies the same rules to the training options it
shares (its protocol's own options are not counted as given). Each :class:`Rule` names the
options, when the run ignores them (read from the code that would use them:
:func:`llm.engine.objectives.plan` for the stages, :mod:`llm.data.training_data` for the data and
the held-out split, :mod:`llm.run` and :mod:`llm.evaluation.summary` for the truth evaluation,
:mod:`llm.engine.lora` for LoRA), and the fix. :func:`refusal` also bounds ``--stop-after``,
whose value the loop compares with global steps that start at 1 (a value below 1 would stop
after the first step, named as step -1; one past the run's last step would never stop it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from upo_theory import FIXED_DIVERGENCE, UserError

from .losses import check_admissible

if TYPE_CHECKING:
    import llm.config


@dataclass(frozen=True)
class Rule:
    """``options`` (field names) are ignored when ``ignored(config)`` holds; the message says
    why (``because``, formatted with the config's fields) and the fix."""

    options: tuple[str, ...]
    ignored: Callable[[llm.config.TrainConfig], bool]
    because: str
    fix: str


def _admissible(config: llm.config.TrainConfig) -> bool:
    try:
        check_admissible(config.spec, False)
    except UserError:
        return False
    return True


def _no_truth(config: llm.config.TrainConfig) -> bool:
    """No truth evaluation: it needs the offline task's true reward, a preference stage, the
    evaluation holdout and prompts to sample (:func:`llm.evaluation.summary.write_summary`)."""
    return (config.data != "offline" or config.stage == "sft" or config.holdout != "eval"
            or config.truth_eval_prompts == 0)


PREFERENCE_ONLY = ("loss", "f", "alpha", "form", "allow_inadmissible_f", "beta", "lr", "length",
                   "pref_steps", "batch_size", "truth_every", "truth_f", "truth_max_new_tokens")
"""What only the preference stage (and its truth evaluation) reads."""
SFT_ONLY = ("sft_steps", "sft_batch_size", "sft_lr")
"""What only the supervised fine-tuning stage reads."""
TRUTH = ("truth_f", "truth_max_new_tokens", "truth_every")
"""The settings of the truth evaluation."""
ARCHITECTURE = ("n_layer", "n_embd", "n_head")
"""The offline GPT-2's shape, read only when neither ``--model`` nor ``--init`` names a model
(:func:`llm.engine.session.initial_model`)."""

RULES: tuple[Rule, ...] = (
    Rule(PREFERENCE_ONLY, lambda c: c.stage == "sft",
         "by --stage sft, which trains no preference stage", "drop it, or use --stage both"),
    Rule(SFT_ONLY, lambda c: c.stage == "pref",
         "by --stage pref, which trains no SFT stage", "drop it, or use --stage both"),
    Rule(("form",), lambda c: c.loss in FIXED_DIVERGENCE,
         "by --loss {loss}, which has one form", "drop --form, or use --loss fdpo/iupo"),
    Rule(("allow_inadmissible_f",), lambda c: c.allow_inadmissible_f and _admissible(c),
         "with f = {spec.divergence.name}, which meets Theorem 3.1's conditions",
         "drop it (it only lets an inadmissible --f train)"),
    Rule(ARCHITECTURE, lambda c: c.init is not None,
         "with --init, whose saved config.json sets the architecture", "drop it"),
    Rule(ARCHITECTURE, lambda c: c.model is not None,
         "with --model, whose own config sets the architecture", "drop it"),
    Rule(("lora_alpha", "lora_target_modules"), lambda c: not c.lora_r,
         "without --lora-r (full fine-tuning has no adapters)", "give --lora-r N, or drop it"),
    Rule(("offline_train_pairs", "offline_eval_pairs"), lambda c: c.data != "offline",
         "by --data {data}, which reads its pairs from --data-path", "drop it"),
    Rule(("eval_fraction",), lambda c: c.holdout == "eval" and c.eval_data_path is not None,
         "with --eval-data-path, whose pairs are the held-out ones",
         "drop one of them (the fraction is used when no eval file is given, or with --holdout "
         "validation)"),
    Rule(("eval_fraction",), lambda c: c.holdout == "eval" and c.data == "offline",
         "by the offline task, which makes its own held-out pairs",
         "drop it (it is used with --data hh/shp/jsonl, or with --holdout validation)"),
    Rule(("truth_eval_prompts",), lambda c: c.truth_eval_prompts > 0 and _no_truth(c),
         "here: this run has no truth evaluation (it needs --data offline, a preference stage "
         "and --holdout eval)", "drop it"),
    Rule(TRUTH, lambda c: c.data != "offline",
         "by --data {data}, which has no true reward (only the offline task has one)", "drop it"),
    Rule(TRUTH, lambda c: c.holdout != "eval",
         "by --holdout {holdout}, which has no truth evaluation", "drop it"),
    Rule(TRUTH, lambda c: c.truth_eval_prompts == 0,
         "with --truth-eval-prompts 0 (no truth evaluation)",
         "drop it, or give --truth-eval-prompts N"),
)
"""Every option the run would ignore, with when and the fix; the first rule that holds for a
given option is the one the message names."""


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def last_step(config: llm.config.TrainConfig) -> int:
    """The run's last global step: its stages' steps added up, SFT first
    (:func:`llm.engine.objectives.plan`)."""
    return ((config.sft_steps if config.stage in ("sft", "both") else 0)
            + (config.pref_steps if config.stage in ("pref", "both") else 0))


def refusal(config: llm.config.TrainConfig, given: frozenset[str] | set[str]) -> str | None:
    """The message refusing the first option of ``given`` that ``config``'s run would ignore (or
    a ``--stop-after`` below 1, given or not), naming the fix; None when there is none."""
    if config.stop_after is not None and config.stop_after < 1:
        return (f"--stop-after {config.stop_after} names no step (global steps start at 1); "
                "give a step >= 1, or drop it")
    last = last_step(config)
    if config.stop_after is not None and config.stop_after > last:
        return (f"--stop-after {config.stop_after} is past this run's last step ({last}), so it "
                f"would never stop the run; give a step <= {last}, or drop it")
    for rule in RULES:
        for name in rule.options:
            if name in given and rule.ignored(config):
                because = rule.because.format(**{k: getattr(config, k) for k in (
                    "loss", "data", "holdout", "spec")})
                return f"{flag(name)} is ignored {because}: {rule.fix}"
    return None
