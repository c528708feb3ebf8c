"""llm.trl: the loss family inside TRL's DPOTrainer.

On one batch, UPOTrainer's loss and gradients equal TRL's own for every member TRL has (sigmoid and
ipo with reverse KL, JS and the α-divergence), and it trains IUPO members for a few steps with
TRL's metrics logged. Skipped where TRL is not installed (CI installs the ``trl`` extra).
"""

import copy
import json

import pytest
import torch
from llm_helpers import FIXTURES

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

import llm.trl  # noqa: E402
from llm.engine.model import offline_gpt2, offline_gpt2_tokenizer  # noqa: E402
from llm.trl import UPOTrainer, completion_logps  # noqa: E402

BETA = 0.1
USER_JS = "u*log(u) - (u + 1)*log((u + 1)/2)"
"""JS written out as a user would: the same generator as the registered ``js``."""


@pytest.fixture(scope="module")
def parts():
    """A tiny float64 GPT-2 (π_ref), a policy moved away from it, its tokenizer and TRL rows."""
    reference = offline_gpt2(n_layer=1, n_embd=32, n_head=2, n_positions=128, seed=0).double()
    tokenizer = offline_gpt2_tokenizer()
    policy = copy.deepcopy(reference)
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(1)
        for parameter in policy.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    rows = [json.loads(line) for line in (FIXTURES / "trl.jsonl").read_text().splitlines()]
    data = datasets.Dataset.from_list([r for r in rows if r["chosen"] != r["rejected"]])
    return policy, reference, tokenizer, data


def make(cls, parts, tmp_path, beta=BETA, **options):
    policy, reference, tokenizer, data = parts
    trainer_options = {k: options.pop(k) for k in list(options)
                       if k in ("loss", "f", "form", "alpha", "length", "spec")}
    args = trl.DPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, beta=beta,
                         report_to="none", use_cpu=True, save_strategy="no", logging_steps=1,
                         max_steps=3, learning_rate=1e-3, seed=0, **options)
    return cls(model=copy.deepcopy(policy), ref_model=copy.deepcopy(reference), args=args,
               train_dataset=data, processing_class=tokenizer, **trainer_options)


def loss_and_grads(trainer, batch):
    model = trainer.model
    model.train()
    model.zero_grad()
    loss = trainer.compute_loss(model, batch)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                           if p.grad is not None}


def trls_completion_logps(model, inputs):
    """TRL's own log-probs: its fused LM head (recent TRL, float32), else the plain forward, which
    older TRL scores in the model's dtype as completion_logps does."""
    labels = inputs["input_ids"].masked_fill(inputs["completion_mask"] == 0, -100)
    out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                labels=labels, fused_lm_head=True, use_cache=False)
    if getattr(out, "log_probs", None) is None:
        return completion_logps(model, inputs)
    mask = inputs["completion_mask"][:, 1:]
    return (out.log_probs * mask).sum(dim=1).view(2, -1), mask.sum(dim=1).view(2, -1)


TRL_MEMBERS = [
    # (TRL's loss_type, f_divergence_type, alpha coefficient) -> UPOTrainer's member
    (("sigmoid", "reverse_kl", None), dict(loss="dpo", length="sum")),
    (("sigmoid", "js_divergence", None), dict(loss="fdpo", f="js", length="sum")),
    (("sigmoid", "alpha_divergence", 0.3), dict(loss="fdpo", f="alpha", alpha=0.7,
                                                 length="sum")),
    (("ipo", "reverse_kl", None), dict(loss="ipo", length="score_per_token")),
    (("ipo", "js_divergence", None), dict(loss="iupo", f="js", length="score_per_token")),
    (("ipo", "js_divergence", None), dict(loss="iupo", f=USER_JS, length="score_per_token")),
    (("ipo", "alpha_divergence", 0.3), dict(loss="iupo", f="alpha", alpha=0.7,
                                             length="score_per_token")),
]


@pytest.mark.parametrize(("theirs", "ours"), TRL_MEMBERS,
                         ids=[f"{t[0]}-{t[1]}-{o.get('f', 'rkl')[:5]}" for t, o in TRL_MEMBERS])
def test_the_loss_and_gradients_equal_trls_own_on_the_same_batch(parts, tmp_path, monkeypatch,
                                                                 theirs, ours):
    """Given TRL's log-probs, the loss and its gradients are TRL's to 1e-6: the loss is the same
    function of them. (Where TRL scores in float32, its log-probs are TRL's own rounding.)"""
    loss_type, divergence, coefficient = theirs
    extra = {} if coefficient is None else {"f_alpha_divergence_coef": coefficient}
    reference = make(trl.DPOTrainer, parts, tmp_path / "trl", loss_type=[loss_type],
                     f_divergence_type=divergence, **extra)
    mine = make(UPOTrainer, parts, tmp_path / "upo", **ours)
    batch = next(iter(reference.get_train_dataloader()))
    try:
        expected, expected_grads = loss_and_grads(reference, batch)
    except KeyError as error:  # TRL < 1.1x: its alpha_divergence has no float64 branch
        pytest.skip(f"this TRL's own {divergence} cannot run in float64 ({error})")
    assert abs(expected.item() - (1 / (2 * BETA)) ** 2 * (loss_type == "ipo")) > 1e-3  # t != 0
    end_to_end, _ = loss_and_grads(mine, batch)  # our own log-probs, in the model's float64
    torch.testing.assert_close(end_to_end.to(expected.dtype), expected, rtol=1e-4, atol=1e-6)
    monkeypatch.setattr(llm.trl, "completion_logps", trls_completion_logps)
    got, grads = loss_and_grads(mine, batch)
    torch.testing.assert_close(got.to(expected.dtype), expected, rtol=1e-6, atol=1e-6)
    assert grads.keys() == expected_grads.keys()
    for name, grad in grads.items():  # float32 rounding: within 1e-5 of the largest entry
        scale = expected_grads[name].abs().max().item()
        torch.testing.assert_close(grad, expected_grads[name].to(grad.dtype), rtol=1e-5,
                                   atol=1e-5 * scale)


def test_completion_logps_are_trls_in_float32(parts, tmp_path):
    trainer = make(trl.DPOTrainer, parts, tmp_path)
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        ours, tokens = completion_logps(trainer.model, batch)
        theirs, their_tokens = trls_completion_logps(trainer.model, batch)
    assert torch.equal(tokens, their_tokens) and (tokens > 0).all()
    torch.testing.assert_close(ours.float(), theirs.float(), rtol=1e-5, atol=1e-5)


def test_options_that_change_trls_own_loss_are_refused(parts, tmp_path):
    with pytest.raises(ValueError, match=r"leave DPOConfig's \['loss_type'\]"):
        make(UPOTrainer, parts, tmp_path, loss_type=["ipo"], loss="iupo")
    with pytest.raises(ValueError, match="paper form has no per-response score"):
        make(UPOTrainer, parts, tmp_path, loss="iupo", form="paper", length="score_per_token")


@pytest.mark.slow
@pytest.mark.parametrize("member", [dict(loss="iupo", f="js", form="paper"),
                                    dict(loss="iupo", f="hellinger", form="per_response")])
def test_three_steps_of_dpotrainer_train_an_iupo_member_and_log_trls_metrics(parts, tmp_path,
                                                                             member):
    trainer = make(UPOTrainer, parts, tmp_path, **member)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert [entry["step"] for entry in logged] == [1, 2, 3]
    for entry in logged:
        assert {"rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
                "logps/chosen", "logps/rejected", "statistic"} <= set(entry)
        assert torch.isfinite(torch.tensor(entry["loss"]))
    assert any(not torch.equal(before[n], p) for n, p in trainer.model.named_parameters())
    assert (trainer.spec.divergence.name, trainer.spec.form) == (member["f"], member["form"])
