"""llm.config: the typed config, validated when made, and the CLI generated from its fields."""

import dataclasses
import subprocess
import sys

import pytest

from llm.config import (
    OFFLINE_LR,
    PRETRAINED_LR,
    ConfigError,
    TrainConfig,
)
from llm.engine.objectives import plan
from llm.train import build_parser, parse_args


def test_every_field_is_a_documented_flag():
    text = build_parser().format_help()
    for item in dataclasses.fields(TrainConfig):
        assert item.metadata["help"]
        assert ("--" + item.name.replace("_", "-") in text) == item.init  # spec is resolved


def test_flags_parse_into_typed_fields():
    config = parse_args(["--loss", "fdpo", "--f", "alpha", "--beta", "0.2", "--alpha", "0.5",
                         "--resume", "--model", "none", "--batch-size", "8"])
    assert (config.loss, config.beta, config.alpha, config.resume) == ("fdpo", 0.2, 0.5, True)
    assert config.model is None and config.batch_size == 8
    assert config.spec.name == "f-DPO[alpha(alpha=1/2)]"
    assert parse_args(["--loss", "ipo"]).spec.name == "IPO"


def test_the_loss_spec_is_resolved_once_and_not_saved():
    config = TrainConfig(loss="iupo", f="hellinger", form="paper")
    assert config.spec is config.spec and config.spec.name == "IUPO[hellinger, paper]"
    assert "spec" not in config.to_json()


def test_a_generator_that_starts_with_a_minus_sign_is_a_value():
    assert parse_args(["--f", "-log(u)"]).spec.divergence.name == "-log(u)"


def test_json_round_trip():
    config = TrainConfig(loss="fdpo", f="hellinger", form="per_response", seed=3)
    assert TrainConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("changes, named", [
    ({"beta": 0.0}, "beta"),
    ({"loss": "ppo"}, "loss"),
    ({"f": "tv"}, "tv"),
    ({"form": "sideways"}, "form"),
    ({"data": "hh"}, "data-path"),
    ({"n_embd": 30, "n_head": 4}, "n_embd"),
    ({"init": "/nonexistent/folder"}, "init"),
    ({"length": "max"}, "length"),
])
def test_bad_values_fail_at_construction_naming_the_field(changes, named):
    with pytest.raises(ConfigError, match=named):
        TrainConfig(**changes)


@pytest.mark.parametrize(("argv", "message"), [
    (["--loss", "dpo", "--f", "js"], "--f js is ignored by --loss dpo"),
    (["--loss", "ipo", "--f", "hellinger"], "--f hellinger is ignored by --loss ipo"),
    (["--f", "js", "--alpha", "0.3"], "has no alpha"),
    (["--eval-data-path", "tests/fixtures/hh.jsonl"], "--eval-data-path is ignored"),
    (["--data-path", "tests/fixtures/hh.jsonl"], "--data-path is ignored"),
    (["--data", "hh", "--data-path", "tests/fixtures/hh.jsonl", "--truth-every", "10"],
     "--truth-every needs the offline task"),
])
def test_an_option_the_run_would_ignore_is_refused(capsys, argv, message):
    """Each was accepted and silently ignored (issue 28), ``--f js`` even though it equals
    the default f: the command line's own fields are checked, not only the values."""
    with pytest.raises(SystemExit) as stop:
        parse_args(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and err.count("\n") == 1


def test_the_same_options_where_the_run_uses_them_are_taken():
    assert parse_args(["--loss", "dpo", "--f", "rkl"]).loss == "dpo"
    assert parse_args(["--f", "alpha", "--alpha", "0.3"]).alpha == 0.3
    assert parse_args(["--truth-every", "10"]).truth_every == 10


def test_cli_rejects_a_bad_value_with_exit_2_and_one_line():
    result = subprocess.run([sys.executable, "-m", "llm.train", "--beta", "-1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "beta" in result.stderr and "Traceback" not in result.stderr


def test_cli_help_documents_everything():
    result = subprocess.run([sys.executable, "-m", "llm.train", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--truth-eval-prompts" in result.stdout


def test_learning_rates_default_by_whether_the_model_is_pretrained(tmp_path):
    offline = TrainConfig()
    assert (offline.sft_lr, offline.lr) == OFFLINE_LR
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')  # a saved model's folder
    pretrained = TrainConfig(model=str(tmp_path))
    assert (pretrained.sft_lr, pretrained.lr) == PRETRAINED_LR
    assert PRETRAINED_LR[1] <= OFFLINE_LR[1] / 100  # the offline rate would wreck real weights
    chosen = TrainConfig(model=str(tmp_path), lr=3e-6, sft_lr=1e-5)
    assert (chosen.sft_lr, chosen.lr) == (1e-5, 3e-6)
    assert TrainConfig.from_json(chosen.to_json()) == chosen


def test_each_stage_has_its_own_batch_size():
    config = TrainConfig(batch_size=8, sft_batch_size=24)
    assert [(s.name, s.batch_size) for s in plan(config)] == [("sft", 24), ("pref", 8)]
    assert [s.name for s in plan(TrainConfig(stage="pref", pref_steps=5))] == ["pref"]
    with pytest.raises(ConfigError, match="sft_batch_size"):
        TrainConfig(sft_batch_size=0)


def test_the_lists_of_fields_are_read_off_the_fields_marks():
    """Resume, the reference cache key, the experiment and the range checks each take their
    fields from the fields' metadata: a new field is decided once, where it is declared."""
    from llm.engine.reference import REFERENCE_KEY_FIELDS
    from llm.engine.run_folder import RESUMABLE_CHANGES
    from llm.experiment import SWEPT

    names = {item.name for item in dataclasses.fields(TrainConfig) if item.init}
    assert RESUMABLE_CHANGES == set(TrainConfig.marked("resumable")) < names
    assert set(REFERENCE_KEY_FIELDS) == set(TrainConfig.marked("reference_key")) < names
    assert set(SWEPT) == set(TrainConfig.marked("swept")) < names
    assert not RESUMABLE_CHANGES & set(REFERENCE_KEY_FIELDS) - {"resume"}
    for name in TrainConfig.marked("bound", ">0"):
        with pytest.raises(ConfigError, match=f"{name}=0 must be > 0"):
            TrainConfig(**{name: 0})
    for name in TrainConfig.marked("bound", ">=0"):
        with pytest.raises(ConfigError, match=f"{name}=-1 must be >= 0"):
            TrainConfig(**{name: -1})
    with pytest.raises(KeyError, match="unknown field mark"):
        TrainConfig.marked("resumeable")


def test_a_field_with_an_unknown_mark_is_refused_when_the_class_is_made():
    from llm.config import _check_marks
    from upo_theory.cli import option

    @dataclasses.dataclass
    class Misspelt:
        fine: int = option(1, "a field", resumable=True, choices=(1, 2))
        wrong: int = option(1, "a field", resumeable=True)

    with pytest.raises(TypeError, match=r"Misspelt.wrong: unknown field marks \['resumeable'\]"):
        _check_marks(Misspelt)


def test_what_the_config_cannot_know_is_refused_before_work(tmp_path):
    """The schema holds these; the machine, the files and the packages refuse them, in the
    same words, before the run touches anything (llm.run.check_before_work)."""
    from llm.data.locations import check_locations
    from llm.run import check_before_work

    missing = TrainConfig(data="jsonl", data_path=str(tmp_path / "missing.jsonl"))
    with pytest.raises(ConfigError, match=r"data_path=.*missing.jsonl. is not a file or folder"):
        check_before_work(missing)
    check_locations(TrainConfig(data="hh", data_path="Anthropic/hh-rlhf"))  # a hub name
    with pytest.raises(ConfigError, match=r"is not a saved model folder \(it has no config.json"):
        check_before_work(TrainConfig(model=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"GiB, more than the .* GiB available; make them"):
        check_before_work(TrainConfig(n_layer=10_000, n_embd=16_384))
    assert list(tmp_path.iterdir()) == []
