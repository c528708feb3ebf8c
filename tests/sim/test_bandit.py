"""The command line: python -m sim.bandit."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sim.bandit import BanditConfig, build_parser, main


def run_cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exit_info:  # a bad option or value, refused before any work
        code = exit_info.code
    out, err = capsys.readouterr()
    return code, out, err


def test_default_run_shows_which_losses_reach_pi_star(capsys):
    code, out, _ = run_cli(capsys, "--f", "js", "--steps", "3")
    assert code == 0
    for name in ("pi_ref", "pi*", "DPO", "f-DPO[js]", "IPO", "IUPO[js, paper]",
                 "IUPO[js, per_response]", "TV own", "J(pi*)"):
        assert name in out
    row = next(line for line in out.splitlines() if line.startswith("IUPO[js, per_response]")
               and "(js, identity)" in line)
    assert float(row.split(")")[1].split()[0]) < 1e-6  # the per-response form reaches π*


def test_json_output_has_inputs_and_every_result(capsys):
    code, out, _ = run_cli(capsys, "--f", "hellinger", "--json", "--steps", "4", "--actions", "3",
                           "--contexts", "2", "--prefs", "random", "--seed", "3")
    assert code == 0
    data = json.loads(out)
    assert data["config"]["f"] == "hellinger" and data["config"]["seed"] == 3
    assert np.array(data["problem"]["prefs"]).shape == (2, 3, 3)
    assert {entry["loss"] for entry in data["losses"]} == {
        "DPO", "f-DPO[hellinger]", "IPO", "IUPO[hellinger, paper]", "IUPO[hellinger, per_response]"}
    assert all(len(entry["trajectory"]["loss"]) == 5 for entry in data["losses"])
    per_response = next(e for e in data["losses"] if e["loss"].endswith("per_response]"))
    assert per_response["tv_to_headline_optimum"] < 1e-6


def test_plots_and_sweep_are_written(tmp_path, capsys):
    target = tmp_path / "figs" / "run.png"
    code, out, _ = run_cli(capsys, "--f", "fkl", "--steps", "3", "--sweep", "0.1,0.5",
                           "--plot", str(target))
    assert code == 0 and "beta sweep" in out
    for name in ("run.png", "run_curves.png", "run_sweep.png"):
        assert (tmp_path / "figs" / name).stat().st_size > 1000


def test_azar_scenario_and_finite_pairs(capsys):
    code, out, _ = run_cli(capsys, "--scenario", "azar", "--f", "rkl", "--steps", "0")
    assert code == 0 and "finite dataset of 3 pairs" in out
    dpo = [line for line in out.splitlines() if line.startswith("DPO")][-1]  # the summary row
    assert dpo.split()[-1] == "False"  # DPO has no minimiser on Azar et al.'s dataset
    code, out, _ = run_cli(capsys, "--pairs", "40", "--steps", "0", "--f", "alpha",
                           "--alpha", "0.3")
    assert code == 0 and "finite dataset of 40 pairs" in out and "alpha=3/10" in out


def test_pearson_reports_exact_zeros(capsys):
    code, out, _ = run_cli(capsys, "--f", "pearson", "--psi", "logit", "--beta", "0.05",
                           "--actions", "6", "--steps", "0", "--seed", "2")
    assert code == 0 and "exactly zero mass" in out


def test_problem_file(tmp_path, capsys):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"pi_ref": [0.5, 0.5], "mu": [0.5, 0.5],
                                "prefs": [[0.5, 0.8], [0.2, 0.5]], "beta": 0.5}))
    code, out, _ = run_cli(capsys, "--problem", str(path), "--steps", "0")
    assert code == 0 and "beta=0.5" in out and "K=2" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--f", "tv"], "not differentiable"),
    (["--f", "u**"], "not a valid expression"),
    (["--f", "alpha", "--alpha", "2"], "outside (0, 1)"),
    (["--beta", "0"], "--beta 0.0 must be positive"),
    (["--actions", "1"], "K >= 2"),
    (["--contexts", "0"], "C >= 1"),
    (["--pairs", "-3"], "negative"),
    (["--sweep", "0.1,x"], "--sweep"),
    (["--sweep", "0.1"], "two or more"),
    (["--lr", "0"], "--lr"),
    (["--problem", "/nonexistent/p.json"], "cannot read"),
    (["--scenario", "azar", "--psi", "logit"], "psi='logit'"),
    (["--scenario", "azar", "--problem", "x.json"], "not both"),
    (["--seed", "-1"], "--seed -1 is negative"),
    (["--pairs", "10000000000000"], "lower --pairs"),
    (["--beta", "1e-300"], "give a larger beta"),
    (["--problem", "/dev/zero"], "not a regular file"),
    (["--f", "exp(50*u)-exp(50)"], "cannot be evaluated precisely enough"),
])
def test_user_errors_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv, "--steps", "0")
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1
    assert err.startswith("python -m sim.bandit: error: ")


@pytest.mark.parametrize(("changes", "message"), [
    ({"beta": True}, "beta holds true"),
    ({"beta": "0.2"}, 'beta holds "0.2"'),
    ({"prefs": [[0.5, False], [0.3, 0.5]]}, "prefs holds false"),
    ({"pairs": [[0.5, 0, 1]]}, "pairs holds 0.5, not one of the integer indices"),
    ({"pairs": [[0, True, 0]]}, "pairs holds true"),
])
def test_problem_file_values_are_checked_by_type(tmp_path, capsys, changes, message):
    """NumPy would read ``true`` as β = 1 and a pair index 0.5 as 0: refused instead."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"pi_ref": [0.5, 0.5], "mu": [0.5, 0.5],
                                "prefs": [[0.5, 0.7], [0.3, 0.5]], "beta": 0.2, **changes}))
    code, out, err = run_cli(capsys, "--problem", str(path), "--steps", "0")
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err


@pytest.mark.parametrize(("extra", "message"), [
    (', "unknown": 1', "unknown keys ['unknown']; the keys are pi_ref, mu, prefs, beta, pairs, "
                       "name"),
    (', "betta": 0.2', "unknown keys ['betta']"),
    (', "beta": 0.2', 'key "beta" is given twice'),
    (', "mu": [0.9, 0.1]', 'key "mu" is given twice'),
])
def test_a_problem_file_with_an_unknown_or_repeated_key_is_refused(tmp_path, capsys, extra,
                                                                     message):
    """A misspelt ``"betta"`` would leave β at the file's other value, and a repeated ``"beta"``
    would keep the last silently: both are refused in one line."""
    path = tmp_path / "p.json"
    path.write_text('{"pi_ref": [0.5, 0.5], "mu": [0.5, 0.5], "prefs": [[0.5, 0.7], [0.3, 0.5]], '
                    f'"beta": 0.5{extra}}}')
    code, out, err = run_cli(capsys, "--problem", str(path), "--steps", "0")
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err
    assert err.startswith("python -m sim.bandit: error: ")


def test_a_problem_file_may_name_itself_and_give_pairs(tmp_path, capsys):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"pi_ref": [0.5, 0.5], "mu": [0.5, 0.5], "name": "mine",
                                "prefs": [[0.5, 0.8], [0.2, 0.5]], "beta": 0.5,
                                "pairs": [[0, 0, 1], [0, 1, 0]]}))
    code, out, err = run_cli(capsys, "--problem", str(path), "--steps", "0")
    assert code == 0 and "mine" in out, err


def test_a_fifo_problem_file_is_refused_without_waiting_for_a_writer(tmp_path, capsys):
    fifo = tmp_path / "p.json"
    os.mkfifo(fifo)
    code, _, err = run_cli(capsys, "--problem", str(fifo), "--steps", "0")
    assert code == 2 and "not a regular file" in err


def test_json_output_is_valid_json_when_a_result_is_not_finite(capsys):
    """Ψ = logit at a small β: a distance to an optimum that does not exist is NaN in the
    results, ``null`` in the JSON (bare ``NaN`` is not JSON)."""
    code, out, _ = run_cli(capsys, "--json", "--psi", "logit", "--beta", "0.001", "--steps", "0")
    assert code == 0 and "NaN" not in out and "Infinity" not in out
    json.loads(out)


def test_module_entry_point_exits_2_without_a_traceback():
    done = subprocess.run([sys.executable, "-m", "sim.bandit", "--f", "tv"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_parser_is_generated_from_the_config():
    flags = {a.dest for a in build_parser()._actions} - {"help"}
    assert flags == set(BanditConfig.__dataclass_fields__)
    assert BanditConfig(**vars(build_parser().parse_args([]))) == BanditConfig()


def test_a_plot_path_that_is_a_link_is_replaced_not_written_through(tmp_path):
    """Both figures the run writes (``p.png`` and its ``p_curves.png``) planted as links to a
    user's file: the links are replaced, the file is unchanged."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    for name in ("p.png", "p_curves.png"):
        (tmp_path / name).symlink_to(notes)
    assert main(["--plot", str(tmp_path / "p.png"), "--steps", "5"]) == 0
    assert notes.read_text() == "mine"
    for name in ("p.png", "p_curves.png"):
        path = tmp_path / name
        assert not path.is_symlink() and path.read_bytes()[:4] == b"\x89PNG"
