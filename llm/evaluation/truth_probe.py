"""The truth evaluation of a run in training: its policy against π_ref under the true reward.

:class:`TruthProbe` evaluates the policy as it is now (:func:`.evaluate_with_truth`: true
reward, win rate, KL and D_f from π_ref), at the end of a run and, with
``--truth-every N``, every N steps of the preference stage, where the training loop logs it with
``split`` "truth". The points over training and over β are each method's reward-against-divergence
frontier (:mod:`llm.experiments.frontier`). Sampling draws from its own seeded generator, so probing
leaves the run's random state, and a resumed run, exactly as they were.
"""

from __future__ import annotations

import torch

from upo_theory import Divergence, get_divergence

from ..config import TrainConfig
from ..data.chat import has_chat_template
from ..engine.session import TrainingSession
from .true_reward import evaluate_with_truth

LOGGED = ("step", "stage", "split")
"""The keys a logged row adds to the probe's metrics."""


def truth_divergence(config: TrainConfig) -> Divergence:
    """The divergence whose D_f(π, π_ref) the truth evaluation estimates: ``--truth-f``, or the
    f the loss regularises with."""
    if config.truth_f is None:
        return config.spec.divergence
    return get_divergence(config.truth_f, config.alpha)


class TruthProbe:
    """Evaluates a session's policy against π_ref (loaded once, on first use) with r*."""

    def __init__(self, session: TrainingSession) -> None:
        self.session = session
        self._reference: torch.nn.Module | None = None
        self._memo: dict = {}  # the reference's samples and log-probs, made on first use

    def __call__(self, step: int | None = None) -> dict[str, float]:
        """The policy's truth metrics now (``step`` is where the loop is; it does not matter)."""
        session, config = self.session, self.session.config
        if self._reference is None:
            self._reference = session.reference_model().to(session.world.device)
        return evaluate_with_truth(
            session.model, self._reference, session.tokenizer,
            divergence=truth_divergence(config), seed=config.seed,
            n_prompts=config.truth_eval_prompts, max_new_tokens=config.truth_max_new_tokens,
            device=session.world.device,
            chat=config.chat_template and has_chat_template(session.tokenizer), memo=self._memo)

    def final(self, last_step: int) -> dict[str, float]:
        """The truth metrics of the trained policy: the logged probe of the last step where
        there is one (the policy has not moved since), else a new evaluation, logged as the
        last step's probe when the run probes (``--truth-every``), so its points over training
        end at the trained policy."""
        for row in reversed(self.session.logger.history):
            if row["stage"] == "pref" and row["split"] == "truth" and row["step"] == last_step:
                return {k: v for k, v in row.items() if k not in LOGGED}
        scores = self()
        if self.session.config.truth_every > 0:
            self.session.logger.log({"step": last_step, "stage": "pref", "split": "truth",
                                     **scores})
        return scores
