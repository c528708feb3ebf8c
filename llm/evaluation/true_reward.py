"""Evaluation with the truth: sample from π and π_ref on held-out prompts, score with r*.

Beside the paper's metrics (which only rank the labelled pairs), this measures what preference
training is for: the true reward r* (:func:`~llm.data.offline_task.true_reward`) of responses
sampled from the policy π and from the reference π_ref on held-out prompts, the win rate of π
against π_ref under r*, and how far π moved from π_ref — the reward-against-divergence frontier
that the f-DPO paper uses to compare divergences.

A response is the token sequence sampled (at temperature 1, no truncation of the distribution)
until the end-of-text token, a token containing a newline, or ``max_new_tokens`` tokens; both
models give probabilities to the same set of such sequences, so with ``t = log π(y|x) −
log π_ref(y|x)`` (paper, Notation) the Monte-Carlo estimates

    KL(π ‖ π_ref) = E_{y∼π}[t],        D_f(π, π_ref) = E_{y∼M}[2 f(e^t) / (1 + e^t)]

(paper, Section 2.2; M = (π + π_ref)/2, sampled as the policy's and the reference's samples
together) are unbiased; each comes with its standard error. The mixture form of D_f
(:func:`upo_theory.mixture_integrand`) replaces the plain E_{y∼π_ref}[f(e^t)], whose heavy tail
(responses π favours and π_ref rarely draws) made both the estimate and its standard error
unreliable. Every function of t is evaluated from the log-ratio itself, never from an overflowed
e^t.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch
from transformers import DynamicCache

from upo_theory import Divergence, get_divergence, mixture_integrand

from ..data.batching import collate
from ..data.chat import prompt_token_ids
from ..data.offline_task import BEST_REWARD, eval_prompts, is_correct, true_reward
from ..engine.scoring import score_batches


def mixture_mean_and_se(g_policy: np.ndarray, g_reference: np.ndarray) -> tuple[float, float]:
    """E_M[g] from equally many samples of π and of π_ref (stratified), with its standard error."""
    (a, se_a), (b, se_b) = mean_and_se(g_policy), mean_and_se(g_reference)
    return 0.5 * (a + b), 0.5 * float(np.hypot(se_a, se_b))


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    """Sample mean and its standard error s/√n (0 for a single value)."""
    values = np.asarray(values, dtype=np.float64)
    se = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else 0.0
    return float(values.mean()), float(se)


def win_scores(reward_policy: np.ndarray, reward_reference: np.ndarray) -> np.ndarray:
    """1 where the policy's response has the larger true reward, 0 where smaller, ½ for ties."""
    a, b = np.asarray(reward_policy, float), np.asarray(reward_reference, float)
    return np.where(a > b, 1.0, np.where(a < b, 0.0, 0.5))


def stop_token_mask(tokenizer, vocab_size: int) -> torch.Tensor:
    """Bool (V,): the end-of-text token and every token whose text contains a newline."""
    texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    stops = torch.zeros(vocab_size, dtype=torch.bool)
    stops[[i for i, text in enumerate(texts) if "\n" in text]] = True
    stops[tokenizer.eos_token_id] = True
    return stops


def _by_length(prompt_ids: Sequence[list[int]], batch_size: int) -> list[list[int]]:
    """Indices of prompts grouped by token length, in chunks of at most ``batch_size``."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, ids in enumerate(prompt_ids):
        groups[len(ids)].append(i)
    return [group[k:k + batch_size] for _, group in sorted(groups.items())
            for k in range(0, len(group), batch_size)]


@torch.no_grad()
def sample_responses(model, prompt_ids: Sequence[list[int]], stops: torch.Tensor, *,
                     max_new_tokens: int, seed: int, batch_size: int = 64) -> list[list[int]]:
    """Ancestral samples (temperature 1, no top-k or top-p) of response ids, ending at a stop.

    Prompts of equal token length are batched together, so no padding enters the model; each
    batch decodes with the model's key-value cache (:func:`_sample_batch`). The draws come from
    a generator of their own seeded with ``seed``, so the caller's random state is untouched.
    """
    device = stops.device
    generator = torch.Generator(device=device).manual_seed(seed)
    responses: list[list[int]] = [[] for _ in prompt_ids]
    for chunk in _by_length(prompt_ids, batch_size):
        inputs = torch.tensor([prompt_ids[i] for i in chunk], device=device)  # (B, P)
        for i, row in zip(chunk, _sample_batch(model, inputs, stops, max_new_tokens, generator),
                          strict=True):
            responses[i] = row
    return responses


def _sample_batch(model, inputs: torch.Tensor, stops: torch.Tensor, max_new_tokens: int,
                  generator: torch.Generator) -> list[list[int]]:
    """Up to ``max_new_tokens`` tokens per row of ``inputs`` (B, P), each cut after its first stop.

    Each token is drawn by inverse transform from the next-token distribution in float64: one
    uniform per row, its place in the cumulative probabilities. That is an exact draw from the
    softmax, as ``torch.multinomial`` is, at a twentieth of its time on a 50k vocabulary (whose
    exponential race drew one random number per token of the vocabulary); decoding ends when
    every row has stopped.
    """
    cache = {_cache_argument(model): DynamicCache()}  # filled in place by each call
    out = model(input_ids=inputs, use_cache=True, logits_to_keep=1, **cache)
    drawn, stopped = [], torch.zeros(inputs.shape[0], dtype=torch.bool, device=inputs.device)
    for step in range(max_new_tokens):
        cumulative = torch.softmax(out.logits[:, -1].double(), dim=-1).cumsum(dim=-1)  # (B, V)
        uniform = torch.rand((inputs.shape[0], 1), generator=generator, dtype=torch.float64,
                             device=inputs.device) * cumulative[:, -1:]
        token = torch.searchsorted(cumulative, uniform, right=True)[:, 0].clamp_(
            max=cumulative.shape[1] - 1)  # (B,)
        drawn.append(token)
        stopped |= stops[token]
        if bool(stopped.all()) or step + 1 == max_new_tokens:
            break
        out = model(input_ids=token[:, None], use_cache=True, logits_to_keep=1, **cache)
    rows = torch.stack(drawn, dim=1).tolist()  # (B, L)
    return [row[:next((k + 1 for k, t in enumerate(row) if stops[t]), len(row))] for row in rows]


def _cache_argument(model) -> str:
    """The name under which the model's forward takes its key-value cache: ``cache`` in later
    transformers 5.x releases, ``past_key_values`` (since deprecated) in earlier ones."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def sequence_logprobs(model, prompt_ids: Sequence[list[int]], responses: Sequence[list[int]],
                      *, pad_id: int, device: torch.device | str, batch_size: int = 64
                      ) -> np.ndarray:
    """log π(y|x) = Σ_i log π(y_i | x, y_<i) of each (prompt, response), teacher-forced."""
    rows = [(list(p), list(r)) for p, r in zip(prompt_ids, responses, strict=True)]
    batches = (collate(rows[s: s + batch_size], pad_id) for s in range(0, len(rows), batch_size))
    scored = score_batches(model, batches, device)
    return np.concatenate([sums.numpy() for sums, _ in scored]) if scored else np.zeros(0)


def response_text(tokenizer, ids: Sequence[int]) -> str:
    """The text of sampled response ids up to the first newline (end-of-text dropped)."""
    return tokenizer.decode(list(ids), skip_special_tokens=True).split("\n")[0]


def _stream_seed(seed: int, stream: int) -> int:
    """An independent seed per (seed, stream): the reference's samples for a seed are the same
    whatever the policy, so runs are compared on the same π_ref samples."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0]
               >> np.uint64(1))


def evaluate_with_truth(policy, reference, tokenizer, *, divergence: str | Divergence, seed: int,
                        n_prompts: int, max_new_tokens: int, device: torch.device | str,
                        batch_size: int = 64, chat: bool = False, memo: dict | None = None
                        ) -> dict[str, float]:
    """Sample from π and π_ref on held-out prompts; true reward, win rate and divergences.

    With ``chat`` the prompts are rendered through the tokenizer's chat template, as the pairs
    were trained (:mod:`llm.data.chat`).

    Parameters
    ----------
    policy, reference
        Causal LMs (e.g. ``GPT2LMHeadModel``) on ``device``; put in eval mode while sampling.
    divergence
        The f of D_f(π, π_ref) to estimate: a name, an expression in u or a Divergence.
    seed
        Seeds the held-out prompts (:func:`~llm.data.offline_task.eval_prompts`) and the sampling
        (one stream per model, so π_ref's samples do not depend on π).
    memo
        A dict kept with ``reference`` between calls: its samples and log-probs are then
        computed once and reused (they depend on neither the policy nor the step).

    Returns
    -------
    dict
        ``reward_policy``, ``reward_reference`` (mean r*), ``win_rate`` (π against π_ref under r*,
        ties ½), ``kl`` (KL(π ‖ π_ref) from π's samples), ``f_divergence`` (D_f from both
        models' samples, the mixture form), each with a ``*_se`` standard error;
        ``correct_policy``, ``correct_reference`` (share of responses whose first answer word
        is the answer), ``best_reward`` (r* of the concise correct answer) and ``n_samples``.
    """
    prompts = eval_prompts(seed, n_prompts)
    prompt_ids = [prompt_token_ids(tokenizer, p, chat) for p in prompts]
    models = {"policy": policy, "reference": reference}
    samples, logp = _sample_and_score(models, tokenizer, prompt_ids, seed=seed,
                                      max_new_tokens=max_new_tokens, device=device,
                                      batch_size=batch_size, memo=memo)
    t_policy = logp["policy", "policy"] - logp["reference", "policy"]
    t_reference = logp["policy", "reference"] - logp["reference", "reference"]
    rewards, correct = {}, {}
    for name, ids in samples.items():
        texts = [response_text(tokenizer, row) for row in ids]
        rewards[name] = np.array([true_reward(p, y) for p, y in zip(prompts, texts, strict=True)])
        correct[name] = np.array([is_correct(p, y) for p, y in zip(prompts, texts, strict=True)])
    integrand = mixture_integrand(get_divergence(divergence))
    result: dict[str, float] = {}
    for key, values in (("reward_policy", rewards["policy"]),
                        ("reward_reference", rewards["reference"]),
                        ("win_rate", win_scores(rewards["policy"], rewards["reference"])),
                        ("kl", t_policy)):
        result[key], result[f"{key}_se"] = mean_and_se(values)
    result["f_divergence"], result["f_divergence_se"] = mixture_mean_and_se(
        integrand(t_policy), integrand(t_reference))
    result["correct_policy"] = float(correct["policy"].mean())
    result["correct_reference"] = float(correct["reference"].mean())
    result["best_reward"] = BEST_REWARD
    result["n_samples"] = float(n_prompts)
    return result


def _sample_and_score(models: dict[str, torch.nn.Module], tokenizer,
                      prompt_ids: list[list[int]], *, seed: int, max_new_tokens: int,
                      device: torch.device | str, batch_size: int, memo: dict | None = None
                      ) -> tuple[dict[str, list[list[int]]], dict[tuple[str, str], np.ndarray]]:
    """Each model's samples, and log π_scorer(samples of sampler) for every (scorer, sampler).

    The reference's samples and its log-probs of them depend on neither the policy nor the
    step: with a ``memo`` (one per reference model) they are computed once per (seed, prompts,
    ``max_new_tokens``) and reused, which spares half the sampling and a quarter of the scoring
    of every later evaluation.
    """
    vocab = models["policy"].get_output_embeddings().weight.shape[0]
    stops = stop_token_mask(tokenizer, vocab).to(device)
    key = (seed, max_new_tokens, tuple(map(tuple, prompt_ids)))
    modes = {name: model.training for name, model in models.items()}
    for model in models.values():
        model.eval()
    try:
        if memo is not None and key in memo:
            known = memo[key]
        else:
            reference = sample_responses(models["reference"], prompt_ids, stops,
                                         max_new_tokens=max_new_tokens,
                                         seed=_stream_seed(seed, 1), batch_size=batch_size)
            known = reference, sequence_logprobs(models["reference"], prompt_ids, reference,
                                                 pad_id=tokenizer.eos_token_id, device=device,
                                                 batch_size=batch_size)
            if memo is not None:
                memo[key] = known
        samples = {"policy": sample_responses(models["policy"], prompt_ids, stops,
                                              max_new_tokens=max_new_tokens,
                                              seed=_stream_seed(seed, 0), batch_size=batch_size),
                   "reference": known[0]}
        logp = {(scorer, sampler): sequence_logprobs(
                    models[scorer], prompt_ids, samples[sampler], pad_id=tokenizer.eos_token_id,
                    device=device, batch_size=batch_size)
                for scorer, sampler in (("policy", "policy"), ("reference", "policy"),
                                        ("policy", "reference"))}
        logp["reference", "reference"] = known[1]
    finally:
        for name, model in models.items():
            model.train(modes[name])
    return samples, logp
