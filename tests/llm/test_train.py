"""llm.train end to end on tiny models: formats, resume, NaN, --init, offline task, DDP, plot."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from llm_helpers import FIXTURES, config_argv
from llm_helpers import tiny as tiny_run
from safetensors.torch import load_file

import llm.engine.objectives
from llm.config import ConfigError, TrainConfig
from llm.data.batching import batch_indices, visited_pairs
from llm.engine.loop import TrainingDivergedError
from llm.engine.metrics import COLUMNS, read_metrics
from llm.train import run_training

DATA = {"hh": "hh.jsonl", "shp": "shp.json", "jsonl": "trl.jsonl"}
PREF_NAMES = {"loss", "rewards/accuracies", "rewards/margins", "rewards/chosen",
              "rewards/rejected", "logps/chosen", "logps/rejected", "statistic"}


def tiny(tmp_path: Path, **changes) -> TrainConfig:
    return tiny_run(tmp_path, **changes)  # tests/llm/test_cuda.py runs the trainer on a GPU


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(run_dir / "checkpoint" / "model.safetensors")


@given(st.integers(1, 40), st.integers(1, 8), st.integers(1, 30), st.integers(0, 99))
def test_batches_cover_each_epoch_once_and_the_cache_covers_every_visited_pair(n, size, steps,
                                                                              seed):
    if size > n:
        return
    per_epoch = n // size
    epoch = [i for s in range(per_epoch) for i in batch_indices(n, size, seed, s)]
    assert len(epoch) == len(set(epoch)) == per_epoch * size
    used = {i for s in range(steps) for i in batch_indices(n, size, seed, s)}
    assert used <= set(visited_pairs(n, size, seed, steps))


@pytest.mark.parametrize("kind", sorted(DATA))
def test_each_format_trains_end_to_end(tmp_path, kind):
    config = tiny(tmp_path, data=kind, data_path=str(FIXTURES / DATA[kind]))
    run_dir = run_training(config)
    rows = read_metrics(run_dir)
    pref_train = [r for r in rows if r["stage"] == "pref" and r["split"] == "train"]
    pref_eval = [r for r in rows if r["stage"] == "pref" and r["split"] == "eval"]
    assert [r["step"] for r in pref_train] == [1, 2, 3]
    assert PREF_NAMES | {"grad_norm", "learning_rate", "tokens_per_s"} <= set(pref_train[-1])
    assert [r["step"] for r in pref_eval] == [0, 2, 3]
    # at step 0 the policy is π_ref: statistic 0, so the IUPO loss is (0 − 1/(2β))²
    assert abs(pref_eval[0]["statistic"]) < 1e-4 and abs(pref_eval[0]["rewards/margins"]) < 1e-4
    assert pref_eval[0]["loss"] == pytest.approx((1 / (2 * config.beta)) ** 2, rel=1e-4)
    assert all(set(r) <= set(COLUMNS) for r in rows)
    for row in pref_train + pref_eval:  # TRL's meaning of the margin
        assert row["rewards/margins"] == pytest.approx(
            row["rewards/chosen"] - row["rewards/rejected"], rel=1e-6, abs=1e-9)
    csv_lines = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == len(rows) + 1
    for name in ("sft/model.safetensors", "checkpoint/state.pt", "curves.png", "summary.json",
                 "config.json", "ref_logps.pt"):
        assert (run_dir / name).is_file(), name
    # the run's settings as given, with the batch layout it decided (prefix: GPT-2 on the CPU)
    saved = TrainConfig.from_json((run_dir / "checkpoint" / "run_config.json").read_text())
    assert saved == config.replace(layout="prefix")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return run_training(tiny(tmp_path_factory.mktemp("whole"), sft_steps=3, pref_steps=4))


@pytest.mark.parametrize("stop_after", [2, 5])  # killed in the SFT stage / in the pref stage
def test_killed_then_resumed_run_ends_with_the_same_weights(tmp_path, uninterrupted, stop_after):
    config = tiny(tmp_path, sft_steps=3, pref_steps=4, stop_after=stop_after)
    run_dir = run_training(config)
    state = torch.load(run_dir / "checkpoint" / "state.pt", weights_only=True)
    assert state["step"] == (stop_after if stop_after <= 3 else stop_after - 3)
    run_training(config.replace(stop_after=None, resume=True))
    whole, resumed = weights(uninterrupted), weights(run_dir)
    assert whole.keys() == resumed.keys()
    for name in whole:
        assert torch.equal(whole[name], resumed[name]), name
    timeless = [[{k: v for k, v in r.items() if k != "tokens_per_s"} for r in read_metrics(d)]
                for d in (run_dir, uninterrupted)]
    assert timeless[0] == timeless[1]
    # the summary, written from the history restored at resume, is the uninterrupted run's
    summaries = [{k: v for k, v in json.loads((d / "summary.json").read_text()).items()
                  if k not in ("seconds", "run")} for d in (run_dir, uninterrupted)]
    assert summaries[0] == summaries[1]


def test_nan_loss_stops_with_the_step_after_keeping_a_good_checkpoint(tmp_path, monkeypatch):
    real = llm.engine.objectives.pair_losses
    calls = {"train": 0}

    def poisoned(*args, **kwargs):
        losses, statistic = real(*args, **kwargs)
        if losses.requires_grad:
            calls["train"] += 1
            if calls["train"] == 3:
                return losses * float("nan"), statistic
        return losses, statistic

    monkeypatch.setattr(llm.engine.objectives, "pair_losses", poisoned)
    config = tiny(tmp_path, stage="pref", pref_steps=5, save_every=100)
    with pytest.raises(TrainingDivergedError, match="step 3"):
        run_training(config)
    run_dir = tmp_path / config.resolved_run_name()
    state = torch.load(run_dir / "checkpoint" / "state.pt", weights_only=True)
    assert state["step"] == 2
    assert all(torch.isfinite(t).all() for t in weights(run_dir).values())


def test_nan_at_a_stages_first_step_points_to_its_start(tmp_path, monkeypatch):
    real = llm.engine.objectives.pair_losses

    def poisoned(*args, **kwargs):
        losses, statistic = real(*args, **kwargs)
        return (losses * float("nan") if losses.requires_grad else losses), statistic

    monkeypatch.setattr(llm.engine.objectives, "pair_losses", poisoned)
    config = tiny(tmp_path, stage="pref", pref_steps=5, save_every=100)
    with pytest.raises(TrainingDivergedError, match="step 1; the last good state is the pref"):
        run_training(config)
    assert not (tmp_path / config.resolved_run_name() / "checkpoint").exists()


def test_init_reuses_a_saved_sft_model_as_start_and_reference(tmp_path):
    sft_dir = run_training(tiny(tmp_path, stage="sft", run_name="sft")) / "sft"
    pref_dir = run_training(tiny(tmp_path, stage="pref", init=str(sft_dir), run_name="pref"))
    rows = read_metrics(pref_dir)
    assert {r["stage"] for r in rows} == {"pref"}
    first = next(r for r in rows if r["split"] == "eval")
    assert first["step"] == 0 and abs(first["statistic"]) < 1e-4
    start = load_file(sft_dir / "model.safetensors")
    end = weights(pref_dir)
    assert any(not torch.equal(start[k], end[k]) for k in start)


def test_offline_task_runs_with_the_truth_evaluation(tmp_path):
    config = tiny(tmp_path, data="offline", data_path=None, offline_train_pairs=40,
                  offline_eval_pairs=8, truth_eval_prompts=2, truth_max_new_tokens=4)
    run_dir = run_training(config)
    truth = json.loads((run_dir / "truth.json").read_text())
    assert {"reward_policy", "reward_reference", "win_rate", "kl"} <= set(truth)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["truth"] == truth
    assert 0.5 <= summary["best_eval_accuracy"] <= 1.0  # Bayes accuracy: mean of max(p, 1 - p)


@pytest.mark.parametrize("layout", ["padded", "packed", "prefix"])
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path, layout):
    config = tiny(tmp_path, run_name="one", sft_steps=2, pref_steps=2,  # both stages
                  layout=layout)
    one = run_training(config)
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
            "2", "-m", "llm.train", *config_argv(config.replace(run_name="two"))]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    two = tmp_path / "two"
    for name, tensor in weights(one).items():  # AdamW divides a near-zero gradient by its own
        # size, so the reduction order's rounding can move such a weight by a fraction of lr
        torch.testing.assert_close(weights(two)[name], tensor, rtol=0, atol=5e-5)
    losses = [[r["loss"] for r in read_metrics(d) if r["split"] == "train"] for d in (one, two)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_plot_cli_draws_several_runs_and_rejects_a_non_run(tmp_path, uninterrupted):
    out = tmp_path / "figure.png"
    result = subprocess.run([sys.executable, "-m", "llm.plot", str(uninterrupted),
                             str(uninterrupted), "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and out.stat().st_size > 1000
    bad = subprocess.run([sys.executable, "-m", "llm.plot", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not a run folder" in bad.stderr


def test_cli_data_error_exits_2_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "llm.train", "--data", "hh", "--data-path",
                             str(tmp_path / "none.jsonl"), "--out-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "none.jsonl" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("changes", "flag"), [
    ({"sft_batch_size": 10_000}, "lower --sft-batch-size"),
    ({"batch_size": 10_000}, "lower --batch-size"),
])
def test_a_batch_larger_than_the_data_names_its_own_flag(tmp_path, changes, flag):
    from llm.data.pairs import DataError

    with pytest.raises(DataError, match=flag):
        run_training(tiny(tmp_path, **changes))


def test_runs_from_the_same_start_share_the_reference_cache(tmp_path, capsys):
    import llm.engine.reference

    sft_dir = run_training(tiny(tmp_path, stage="sft", run_name="sft")) / "sft"
    shared = tmp_path / "caches" / "new" / "reference.pt"  # its folders made when it is written
    first = run_training(tiny(tmp_path, stage="pref", init=str(sft_dir), run_name="a",
                              reference_cache=str(shared)))
    computed = {"calls": 0}
    real = llm.engine.reference.reference_logps

    def counting(*args, **kwargs):
        computed["calls"] += 1
        return real(*args, **kwargs)

    llm.engine.reference.reference_logps = counting
    try:
        second = run_training(tiny(tmp_path, stage="pref", init=str(sft_dir), run_name="b",
                                   loss="ipo", reference_cache=str(shared)))
        assert computed["calls"] == 0  # read from the shared file
        other = run_training(tiny(tmp_path, stage="pref", init=str(sft_dir), run_name="c",
                                  max_length=40, reference_cache=str(shared)))
        assert computed["calls"] == 1  # other settings: computed again
    finally:
        llm.engine.reference.reference_logps = real
    load = llm.engine.reference.load_reference_cache
    rows = torch.load(first / "ref_logps.pt", weights_only=True)["logps"].shape[0]
    torch.testing.assert_close(load(second / "ref_logps.pt", rows, print),
                               load(first / "ref_logps.pt", rows, print), rtol=0, atol=0,
                               equal_nan=True)  # unvisited pairs hold NaN
    assert "other settings" in capsys.readouterr().err and other.is_dir()
    with pytest.raises(ConfigError, match="reference_cache needs --stage pref"):
        tiny(tmp_path, reference_cache=str(shared))


def test_the_preference_objective_is_a_function_of_log_probs_and_the_reference_data():
    """No run, folder or model: π_ref's log-probs come in as data (as TRL's columns)."""
    from llm.engine.objectives import PreferenceObjective
    from llm.engine.reference import ReferenceLogps
    from llm.losses import pair_losses

    config = TrainConfig(beta=0.2)
    reference = ReferenceLogps(
        torch.tensor([[-3.0, -4.0, 2.0, 3.0], [-5.0, -1.0, 4.0, 1.0]], dtype=torch.float64),
        torch.zeros(0, 4, dtype=torch.float64))
    objective = PreferenceObjective.of(config)
    with pytest.raises(ValueError, match="needs pi_ref"):
        objective(torch.zeros(2), torch.ones(2), [0], "train")
    sums = torch.tensor([-2.0, -6.0, -4.5, -0.5], dtype=torch.float64)  # chosen rows, then rejected
    scored = objective.with_reference(reference)(sums, torch.ones(4), [1, 0], "train")
    losses, _ = pair_losses(config.spec, sums[:2], sums[2:], torch.tensor([-5.0, -3.0]).double(),
                            torch.tensor([-1.0, -4.0]).double(), 0.2)
    torch.testing.assert_close(scored.loss, losses.sum(), rtol=0, atol=0)


def test_the_summary_is_written_from_memory_not_read_back(tmp_path, monkeypatch):
    import llm.engine.metrics
    import llm.evaluation.curves

    def refused(*args, **kwargs):
        raise AssertionError("the summary read the run folder back")

    monkeypatch.setattr(llm.engine.metrics, "read_metrics", refused)
    monkeypatch.setattr(llm.evaluation.curves, "read_metrics", refused)
    monkeypatch.setattr(llm.evaluation.curves, "saved_run", refused)
    folder = run_training(tiny(tmp_path, sft_steps=2, pref_steps=2))
    monkeypatch.undo()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["final_eval"] == next(r for r in reversed(read_metrics(folder))
                                         if r["split"] == "eval")
    assert (folder / "curves.png").is_file()
