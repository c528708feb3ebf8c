"""Evaluation with the truth: f(e^t), sampling, sequence log-probs and exact divergences."""

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import GPT2Config, GPT2LMHeadModel

from llm import task
from llm.engine.model import offline_gpt2_tokenizer
from llm.evaluation import true_reward as truth
from upo_theory import U, get_divergence, mixture_integrand, registered


@pytest.fixture(scope="module")
def tokenizer():
    return offline_gpt2_tokenizer()


def tiny_gpt2(seed: int, init_scale: float = 0.02) -> GPT2LMHeadModel:
    """A one-layer GPT-2 with the GPT-2 vocabulary; a large init_scale makes it opinionated."""
    config = GPT2Config(n_layer=1, n_embd=16, n_head=2, n_positions=64, vocab_size=50257,
                        initializer_range=init_scale)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPT2LMHeadModel(config).eval()


@pytest.mark.parametrize("divergence", [d.name for d in registered()])
@given(t=st.floats(-720.0, 720.0))
@settings(max_examples=40)
def test_mixture_integrand_equals_its_definition_in_high_precision(divergence, t):
    generator = sp.lambdify(U, next(d for d in registered() if d.name == divergence).f, "mpmath")
    with mpmath.workdps(60):
        u = mpmath.exp(mpmath.mpf(t))
        exact = 2 * generator(u) / (1 + u)
    value = float(mixture_integrand(get_divergence(divergence))(np.array([t]))[0])
    if abs(exact) > np.finfo(np.float64).max:
        assert value == np.inf
    else:
        assert value == pytest.approx(float(exact), rel=1e-9, abs=1e-12)


@given(st.lists(st.floats(-5, 5), min_size=2, max_size=30),
       st.lists(st.floats(-5, 5), min_size=2, max_size=30))
def test_mixture_mean_weighs_both_samples_equally(a, b):
    n = min(len(a), len(b))
    a, b = np.array(a[:n]), np.array(b[:n])
    mean, se = truth.mixture_mean_and_se(a, b)
    assert mean == pytest.approx(np.concatenate([a, b]).mean(), abs=1e-12)
    expected_se = 0.5 * np.sqrt(a.var(ddof=1) / n + b.var(ddof=1) / n)
    assert se == pytest.approx(expected_se, rel=1e-9, abs=1e-15)


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=30),
       st.lists(st.floats(-5, 5), min_size=1, max_size=30))
def test_win_scores_are_antisymmetric_with_ties_half(a, b):
    n = min(len(a), len(b))
    a, b = np.array(a[:n]), np.array(b[:n])
    np.testing.assert_array_equal(truth.win_scores(a, b) + truth.win_scores(b, a), 1.0)
    np.testing.assert_array_equal(truth.win_scores(a, a), 0.5)


def test_first_sampled_tokens_follow_the_model_softmax(tokenizer):
    model = tiny_gpt2(2, init_scale=3.0)  # a peaked next-token distribution
    prompt = tokenizer("Hi")["input_ids"]
    with torch.no_grad():
        p = torch.softmax(model(torch.tensor([prompt])).logits[0, -1].double(), dim=0).numpy()
    stops = torch.zeros(50257, dtype=torch.bool)
    stops[50256] = True
    draws = truth.sample_responses(model, [prompt] * 4000, stops, max_new_tokens=1, seed=0,
                                   batch_size=4000)
    freq = np.bincount([d[0] for d in draws], minlength=50257) / len(draws)
    top = np.argsort(p)[-3:]  # the likeliest tokens, each drawn often enough to test
    se = np.sqrt(p[top] * (1 - p[top]) / len(draws))
    assert np.all(np.abs(freq[top] - p[top]) <= 4 * se)


def test_stop_tokens_include_end_of_text_and_newlines(tokenizer):
    stops = truth.stop_token_mask(tokenizer, 50257)
    assert stops[tokenizer.eos_token_id]
    for text in ("\n", "\n\n"):
        (token,) = tokenizer(text)["input_ids"]
        assert stops[token]
    assert not stops[tokenizer(" 12")["input_ids"]].any()


def test_sampling_is_seeded_and_stops_at_stop_tokens(tokenizer):
    model = tiny_gpt2(0, init_scale=0.3)
    prompts = [tokenizer(p)["input_ids"] for p in task.eval_prompts(0, 12)]
    stops = truth.stop_token_mask(tokenizer, 50257)
    # make the newline token likely, so that some samples stop early
    with torch.no_grad():
        model.transformer.wte.weight[198] *= 8.0

    def draw(seed):
        return truth.sample_responses(model, prompts, stops, max_new_tokens=6, seed=seed,
                                      batch_size=5)

    first = draw(1)
    assert first == draw(1) and first != draw(2)
    for response in first:
        assert 1 <= len(response) <= 6
        assert not stops[response[:-1]].any()
        assert len(response) == 6 or stops[response[-1]]
    assert any(len(r) < 6 for r in first)


def test_sequence_logprobs_equal_a_full_softmax_computation(tokenizer):
    model = tiny_gpt2(3, init_scale=0.3)
    prompts = [tokenizer(p)["input_ids"] for p in task.eval_prompts(1, 5)]
    responses = [[11, 22, 33][: 1 + i % 3] for i in range(5)]
    scored = truth.sequence_logprobs(model, prompts, responses, pad_id=50256, device="cpu",
                                     batch_size=2)
    for i, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        ids = torch.tensor([prompt + response])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0].double(), dim=-1)
        expected = sum(float(logp[len(prompt) - 1 + k, token]) for k, token in enumerate(response))
        assert scored[i] == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_identical_models_have_zero_divergence(tokenizer):
    model = tiny_gpt2(0, init_scale=0.3)
    result = truth.evaluate_with_truth(model, model, tokenizer, divergence="js", seed=0,
                                       n_prompts=16, max_new_tokens=4, device="cpu")
    assert result["kl"] == 0.0 and result["kl_se"] == 0.0
    assert result["f_divergence"] == 0.0 and result["f_divergence_se"] == 0.0
    assert result["best_reward"] == task.BEST_REWARD
    assert 0.0 <= result["win_rate"] <= 1.0


@pytest.mark.slow
def test_one_token_estimates_match_exact_enumeration(tokenizer):
    """With one new token the response space is the vocabulary: KL and D_f can be summed."""
    policy, reference = tiny_gpt2(1, init_scale=0.4), tiny_gpt2(2, init_scale=0.4)
    n = 200
    result = truth.evaluate_with_truth(policy, reference, tokenizer, divergence="js", seed=5,
                                       n_prompts=n, max_new_tokens=1, device="cpu")
    prompts = task.eval_prompts(5, n)
    kl, d_f = np.zeros(n), np.zeros(n)
    js = sp.lambdify(U, next(d for d in registered() if d.name == "js").f, "numpy")
    for length in {len(tokenizer(p)["input_ids"]) for p in prompts}:
        rows = [i for i, p in enumerate(prompts) if len(tokenizer(p)["input_ids"]) == length]
        ids = torch.tensor([tokenizer(prompts[i])["input_ids"] for i in rows])  # (B, P)
        with torch.no_grad():
            lp = torch.log_softmax(policy(ids).logits[:, -1].double(), dim=-1).numpy()
            lq = torch.log_softmax(reference(ids).logits[:, -1].double(), dim=-1).numpy()
        kl[rows] = np.sum(np.exp(lp) * (lp - lq), axis=1)
        d_f[rows] = np.sum(np.exp(lq) * js(np.exp(lp - lq)), axis=1)  # Σ q f(p/q)
    assert kl.mean() > 0.1  # the two models really differ
    assert abs(result["kl"] - kl.mean()) < 4 * result["kl_se"]
    assert abs(result["f_divergence"] - d_f.mean()) < 4 * result["f_divergence_se"]


def test_reference_samples_do_not_depend_on_the_policy(tokenizer):
    reference = tiny_gpt2(0, init_scale=0.3)
    quick_stopper = tiny_gpt2(1, init_scale=0.3)  # samples end-of-text at once: draws less
    with torch.no_grad():
        quick_stopper.transformer.wte.weight[tokenizer.eos_token_id] *= 200.0
    results = [truth.evaluate_with_truth(policy, reference, tokenizer, divergence="js", seed=4,
                                         n_prompts=12, max_new_tokens=5, device="cpu")
               for policy in (quick_stopper, tiny_gpt2(2, init_scale=0.3))]
    assert results[0]["reward_reference"] == results[1]["reward_reference"]
    assert results[0]["kl"] != results[1]["kl"]


def test_truth_probes_over_training_leave_a_resumed_run_exact(tmp_path):
    """--truth-every samples from the policy mid-training; it must not move any random state
    (with dropout, which draws from it every step): the run ends with the weights of a run
    without probes; stopped after pref step 2 (a probe) and resumed, it ends as the whole run
    does, its truth rows included; the summary's truth evaluation is the last step's probe."""
    import json

    from llm_helpers import tiny
    from safetensors.torch import load_file

    from llm.engine.metrics import read_metrics
    from llm.train import run_training

    config = tiny(tmp_path / "whole", data="offline", data_path=None, offline_train_pairs=48,
                  offline_eval_pairs=8, eval_pairs=8, truth_eval_prompts=4,
                  truth_max_new_tokens=4, truth_every=2, pref_steps=4, save_every=1,
                  run_name="run", dropout=0.1)
    whole = run_training(config)
    unprobed = run_training(config.replace(out_dir=str(tmp_path / "unprobed"), truth_every=0))
    stopped = config.replace(out_dir=str(tmp_path / "stopped"), stop_after=3 + 2)
    run_training(stopped)
    resumed = run_training(stopped.replace(resume=True, stop_after=None))

    def outcome(folder):
        rows = [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in read_metrics(folder)]
        return load_file(folder / "checkpoint" / "model.safetensors"), rows

    (weights, rows), (expected_weights, expected_rows) = outcome(resumed), outcome(whole)
    assert all(torch.equal(weights[k], v) for k, v in expected_weights.items())
    assert rows == expected_rows
    plain, _ = outcome(unprobed)
    assert all(torch.equal(plain[k], v) for k, v in expected_weights.items())
    probes = [r for r in rows if r["split"] == "truth"]
    assert [r["step"] for r in probes] == [2, 4] and probes[0]["kl"] != probes[1]["kl"]
    summary = json.loads((whole / "summary.json").read_text())
    assert summary["truth"]["kl"] == probes[-1]["kl"]


def test_later_sampled_tokens_follow_the_model_given_the_earlier_ones(tokenizer):
    """Two-token draws: the cached decoding's second token has the teacher-forced softmax."""
    model = tiny_gpt2(4, init_scale=3.0)  # peaked, so a few pairs are drawn often
    prompt = tokenizer("Hi")["input_ids"]
    stops = torch.zeros(50257, dtype=torch.bool)
    draws = truth.sample_responses(model, [prompt] * 4000, stops, max_new_tokens=2, seed=1,
                                   batch_size=4000)
    assert all(len(d) == 2 for d in draws)
    first = max(set(d[0] for d in draws), key=[d[0] for d in draws].count)
    seconds = [d[1] for d in draws if d[0] == first]
    with torch.no_grad():
        p = torch.softmax(model(torch.tensor([[*prompt, first]])).logits[0, -1].double(),
                          dim=0).numpy()
    freq = np.bincount(seconds, minlength=50257) / len(seconds)
    top = np.argsort(p)[-3:]
    se = np.sqrt(p[top] * (1 - p[top]) / len(seconds))
    assert len(seconds) > 500 and np.all(np.abs(freq[top] - p[top]) <= 4 * se)


def test_a_memo_reuses_the_reference_and_changes_nothing(tokenizer):
    policy, reference = tiny_gpt2(1, init_scale=0.3), tiny_gpt2(2, init_scale=0.3)
    kwargs = dict(divergence="js", seed=3, n_prompts=10, max_new_tokens=4, device="cpu")
    plain = truth.evaluate_with_truth(policy, reference, tokenizer, **kwargs)
    memo: dict = {}
    assert truth.evaluate_with_truth(policy, reference, tokenizer, memo=memo, **kwargs) == plain
    assert len(memo) == 1
    calls = []
    original = reference.forward
    reference.forward = lambda *a, **k: (calls.append(k), original(*a, **k))[1]
    assert truth.evaluate_with_truth(policy, reference, tokenizer, memo=memo, **kwargs) == plain
    assert not any(k.get("use_cache") for k in calls)  # never sampled again
