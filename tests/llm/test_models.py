"""Pretrained models from folders: ``--model PATH`` end to end, the tokenizer checked against the
model's vocabulary, TRL's learning rates as the pretrained defaults."""

import json
from pathlib import Path

import pytest
from llm_helpers import FIXTURES

from llm.config import PRETRAINED_LR, TrainConfig
from llm.engine.model import (
    GPT2_VOCAB,
    ModelError,
    load_model,
    offline_gpt2,
    offline_gpt2_tokenizer,
)
from llm.train import main as train_main


def saved_gpt2(folder: Path, tokenizer: bool = True, vocab: int = GPT2_VOCAB) -> Path:
    """A tiny GPT-2 saved with ``save_pretrained`` (and its tokenizer unless told not to)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    if vocab == GPT2_VOCAB:
        model = offline_gpt2(n_layer=1, n_embd=32, n_head=2, n_positions=128, seed=0)
    else:
        model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=vocab))
    model.save_pretrained(folder)
    if tokenizer:
        offline_gpt2_tokenizer().save_pretrained(folder)
    return folder


def test_a_folder_with_its_tokenizer_loads_both(tmp_path, capsys):
    model, tokenizer = load_model(str(saved_gpt2(tmp_path / "m")))
    assert len(tokenizer) == model.get_input_embeddings().num_embeddings == GPT2_VOCAB
    assert tokenizer.pad_token == tokenizer.eos_token
    assert "warning" not in capsys.readouterr().err


def test_a_gpt2_vocabulary_without_a_tokenizer_gets_gpt2s_with_a_warning(tmp_path, capsys):
    _, tokenizer = load_model(str(saved_gpt2(tmp_path / "m", tokenizer=False)))
    assert len(tokenizer) == GPT2_VOCAB
    assert "has no tokenizer; using GPT-2's" in capsys.readouterr().err


def test_another_vocabulary_without_a_tokenizer_is_refused(tmp_path):
    with pytest.raises(ModelError, match=r"embeds 1000 tokens, not GPT-2's 50257; save"):
        load_model(str(saved_gpt2(tmp_path / "m", tokenizer=False, vocab=1000)))


def test_a_tokenizer_larger_than_the_model_vocabulary_is_refused(tmp_path):
    folder = saved_gpt2(tmp_path / "m", tokenizer=False, vocab=1000)
    offline_gpt2_tokenizer().save_pretrained(folder)
    with pytest.raises(ModelError, match=r"has 50257 tokens but the model embeds only 1000"):
        load_model(str(folder))


def test_a_model_takes_trls_learning_rates_by_default(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')  # a saved model's folder
    config = TrainConfig(model=str(tmp_path), out_dir=str(tmp_path))
    assert (config.sft_lr, config.lr) == PRETRAINED_LR == (2e-5, 1e-6)


@pytest.mark.slow
def test_a_saved_model_folder_trains_sft_and_preference_from_the_cli(tmp_path):
    folder = saved_gpt2(tmp_path / "gpt2")
    out = tmp_path / "runs"
    argv = ["--data", "jsonl", "--data-path", str(FIXTURES / "trl.jsonl"), "--model",
            str(folder), "--out-dir", str(out), "--run-name", "r", "--sft-steps", "2",
            "--pref-steps", "2", "--batch-size", "4", "--sft-batch-size", "4", "--log-every", "1",
            "--eval-every", "2", "--save-every", "2", "--max-length", "48",
            "--eval-fraction", "0.25", "--warmup-steps", "1", "--sft-lr", "1e-3", "--lr", "1e-3"]
    assert train_main(argv) == 0
    run = out / "r"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for stage in ("sft", "pref"):
        assert [r["step"] for r in rows if r["stage"] == stage and r["split"] == "train"] == [1, 2]
    sft, _ = load_model(str(run / "sft"))
    assert sft.config.n_layer == 1 and (run / "sft" / "tokenizer.json").is_file()
    assert json.loads((run / "config.json").read_text())["model"] == str(folder)


def test_a_folder_whose_tokenizer_is_empty_is_refused(tmp_path):
    folder = saved_gpt2(tmp_path / "m", tokenizer=False)
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": "GPT2Tokenizer"}')
    with pytest.raises(ModelError, match=r"tokenizer of .* is empty"):
        load_model(str(folder))


@pytest.mark.slow
def test_the_experiment_runs_on_real_data_with_a_model_folder(tmp_path, capsys):
    import csv

    from llm import experiment

    folder = saved_gpt2(tmp_path / "gpt2")
    out = tmp_path / "exp"
    assert experiment.main(["--data", "jsonl", "--data-path", str(FIXTURES / "trl.jsonl"),
                            "--model", str(folder), "--quick", "--out-dir", str(out),
                            "--betas", "0.2", "--seeds", "0", "--lrs", "1e-3",
                            "--max-extensions", "0"]) == 0
    with open(out / "runs.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["method"] for r in rows} == {m for m, *_ in experiment.METHODS}
    assert not {"best_accuracy", "reward_policy", "kl"} & set(rows[0])
    text = (out / "experiment.md").read_text()
    assert "no true reward" in text and "frontier" in text
    # three rows of results, two of differences to IPO, three of settling
    assert text.count("| 0.2 |") == 3 + 2 + 3
    assert (out / "curves-beta0.2.png").is_file() and not (out / "frontier.png").exists()
    [listed] = [line for line in capsys.readouterr().out.splitlines()
                if line.startswith("results: ")]
    assert "curves-beta0.2.png" in listed and "frontier.png" not in listed
