"""Chat templates: where the tokenizer has one, HH conversations and TRL prompt/response rows are
rendered through it with the response tokens alone scored (as TRL's DPOTrainer does for
conversational rows); where it has none, the plain format, whose token ids are pinned."""

import hashlib
import json

import pytest
from llm_helpers import FIXTURES, saved_causal_lm

from llm.config import TrainConfig
from llm.data.batching import sft_batch, tokenize_pairs
from llm.data.chat import chat_token_ids, conversation, has_chat_template
from llm.data.pairs import PreferencePair, from_hh
from llm.data.training_data import load_training_data
from llm.engine.metrics import read_metrics
from llm.engine.model import load_model, offline_gpt2_tokenizer
from llm.train import main as train_main

TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|endoftext|>"
            "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")
"""A simple chat template: each turn as ``<|role|>content<|endoftext|>``."""
PLAIN_IDS = {
    "offline": "169485ba8e83854bfcded96dc9af0bd88e379efa6d79ba050a7f8060b5e80bc1",
    "hh": "0cf30462bc687b43c99efd6844b7926347d6f4bc8e2dcd624b1dcb140a9526a7",
    "shp": "e76fd63b9972f0404c5119073be16d04c0ecb9567deddd119f0195526d21f542",
}
"""SHA-256 of the token ids of every train and held-out pair of the default settings, taken
before chat templates existed: the plain GPT-2 path must not move."""
SOURCES = {"offline": {"offline_train_pairs": 3000},  # the default when the digest was taken
           "hh": dict(data_path=str(FIXTURES / "hh.jsonl"), eval_fraction=0.25),
           "shp": dict(data_path=str(FIXTURES / "shp.json"), eval_fraction=0.25)}


@pytest.fixture(scope="module")
def chat_tokenizer():
    tokenizer = offline_gpt2_tokenizer()
    tokenizer.chat_template = TEMPLATE
    return tokenizer


def ids_digest(config: TrainConfig, tokenizer) -> str:
    data = load_training_data(config, tokenizer, 1, False, [])
    rows = [[p.prompt, p.chosen, p.rejected] for p in data.train + data.eval]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


@pytest.mark.parametrize("data", sorted(PLAIN_IDS))
def test_without_a_chat_template_the_token_ids_are_unchanged(data):
    tokenizer = offline_gpt2_tokenizer()
    assert not has_chat_template(tokenizer)
    assert ids_digest(TrainConfig(data=data, **SOURCES[data]), tokenizer) == PLAIN_IDS[data]


def test_no_chat_template_keeps_the_plain_format_with_a_template(chat_tokenizer):
    config = TrainConfig(data="hh", chat_template=False, **SOURCES["hh"])
    assert ids_digest(config, chat_tokenizer) == PLAIN_IDS["hh"]
    assert ids_digest(config.replace(chat_template=True), chat_tokenizer) != PLAIN_IDS["hh"]


def test_hh_turns_become_messages_and_later_turns_stay_in_the_response():
    pair = from_hh({"chosen": "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Name a cat."
                              "\n\nAssistant: Miso.\n\nHuman: Thanks!\n\nAssistant: Welcome.",
                    "rejected": "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Name a cat."
                                "\n\nAssistant: No."})
    asked, chosen = conversation(pair.prompt, pair.chosen)
    assert asked == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."},
                     {"role": "user", "content": "Name a cat."}]
    assert chosen == [{"role": "assistant", "content": "Miso."},
                      {"role": "user", "content": "Thanks!"},
                      {"role": "assistant", "content": "Welcome."}]
    assert conversation(pair.prompt, pair.rejected)[1] == [{"role": "assistant", "content": "No."}]
    assert conversation("Be brief.\n\nHuman: Hi\n\nAssistant:", " Yo.")[0][0] == {
        "role": "system", "content": "Be brief."}


@pytest.mark.parametrize("pair", [
    PreferencePair("\n\nHuman: Name a cat.\n\nAssistant:", " Miso.", " No."),
    PreferencePair("What is 1 + 1?", " 2.", " 3."),
])
def test_a_pair_is_rendered_through_the_template_and_only_the_response_is_scored(
        chat_tokenizer, pair):
    [(prompt, chosen, rejected)] = chat_token_ids([pair], chat_tokenizer)
    question = conversation(pair.prompt, pair.chosen)[0][-1]["content"]
    assert chat_tokenizer.decode(prompt) == f"<|user|>{question}<|endoftext|><|assistant|>"
    assert chat_tokenizer.decode(chosen) == f"{pair.chosen.strip()}<|endoftext|>"
    assert chat_tokenizer.decode(rejected) == f"{pair.rejected.strip()}<|endoftext|>"
    [tokenized], report = tokenize_pairs([pair], chat_tokenizer, 96, chat=True)
    assert report.kept == 1 and tokenized.chosen == chosen  # the template ends the turn itself
    batch = sft_batch([tokenized], chat_tokenizer.pad_token_id)
    scored = batch.targets[batch.response_mask].tolist()
    assert scored == chosen  # the response tokens alone, not the prompt's


@pytest.mark.slow
def test_a_model_with_a_chat_template_trains_on_rendered_pairs(tmp_path, chat_tokenizer):
    folder = saved_causal_lm(tmp_path / "llama", "llama")
    chat_tokenizer.save_pretrained(folder)
    assert has_chat_template(load_model(str(folder))[1])  # the folder's template is used
    out = tmp_path / "runs"
    assert train_main(["--data", "hh", "--data-path", str(FIXTURES / "hh.jsonl"), "--model",
                       str(folder), "--out-dir", str(out), "--run-name", "r", "--sft-steps", "1",
                       "--pref-steps", "1", "--batch-size", "4", "--sft-batch-size", "4",
                       "--eval-fraction", "0.25", "--truth-eval-prompts", "0",
                       "--device", "cpu"]) == 0
    rows = read_metrics(out / "r")
    assert {(r["stage"], r["split"]) for r in rows} >= {("sft", "train"), ("pref", "eval")}
