"""Problem validation, generators and the problem file."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import logit

from sim.problems import (
    CATALOGUE,
    GENERATORS,
    azar,
    azar_ipo_policy,
    bradley_terry,
    from_json,
    generate,
    sample_pairs,
)
from upo_theory import Problem, ProblemError

GOOD = {"pi_ref": [0.2, 0.3, 0.5], "mu": [1 / 3] * 3,
        "prefs": [[0.5, 0.7, 0.6], [0.3, 0.5, 0.4], [0.4, 0.6, 0.5]], "beta": 0.1}


@given(prefs=st.sampled_from(sorted(GENERATORS)), actions=st.integers(2, 8),
       contexts=st.integers(1, 3), seed=st.integers(0, 10**6),
       mu=st.sampled_from(["uniform", "ref"]))
def test_generated_problems_are_valid(prefs, actions, contexts, seed, mu):
    problem = generate(prefs, actions=actions, contexts=contexts, beta=0.3, seed=seed, mu=mu)
    p = problem.prefs
    assert p.shape == (contexts, actions, actions)
    assert np.allclose(p + p.transpose(0, 2, 1), 1) and np.all((p > 0) & (p < 1))
    assert np.allclose(problem.pi_ref.sum(axis=1), 1) and np.all(problem.pi_ref > 0)
    again = generate(prefs, actions=actions, contexts=contexts, beta=0.3, seed=seed, mu=mu)
    assert np.array_equal(again.prefs, p) and np.array_equal(again.pi_ref, problem.pi_ref)


@given(actions=st.integers(2, 8), seed=st.integers(0, 10**6))
def test_bradley_terry_logits_are_reward_differences(actions, seed):
    """Proposition 3.2's premise: Ψ = logit turns BT preferences into r(y) − r(y')."""
    problem = bradley_terry(actions, 2, 0.2, seed=seed)
    r = problem.rewards
    assert np.allclose(problem.psi_values("logit"), r[:, :, None] - r[:, None, :], atol=1e-12)
    expected = r - (problem.mu * r).sum(axis=1, keepdims=True)
    assert np.allclose(problem.psibar("logit"), expected, atol=1e-12)


def test_cyclic_preferences_are_not_transitive():
    p = generate("cyclic", actions=3, contexts=1, beta=0.2, seed=0).prefs[0]
    assert p[0, 1] > 0.5 and p[1, 2] > 0.5 and p[2, 0] > 0.5


def test_sampled_pairs_follow_mu_and_the_preferences():
    problem = bradley_terry(3, 1, 0.2, seed=1, mu="ref")
    pairs = sample_pairs(problem, 200_000, seed=5)
    counts = np.zeros((3, 3))
    np.add.at(counts, (pairs.winner, pairs.loser), 1)
    frequency = counts / len(pairs)
    mu = problem.mu[0]
    expected = 2 * mu[:, None] * mu[None, :] * problem.prefs[0]
    assert np.allclose(frequency, expected, atol=4e-3)


def test_azar_scenario_and_its_closed_form():
    scenario = azar(0.25)
    assert len(scenario.pairs) == 3 and scenario.problem.actions == 3
    theta = np.log(azar_ipo_policy(0.25))
    assert np.allclose(np.diff(-theta), 4 / 3)
    assert set(CATALOGUE) >= {"default", "azar", "rock_paper_scissors"}
    for make in CATALOGUE.values():
        assert isinstance(make().problem, Problem)


def _problem(**changes):
    data = {**GOOD, **changes}
    return Problem(data["pi_ref"], data["mu"], data["prefs"], data["beta"])


@pytest.mark.parametrize(("changes", "message"), [
    ({"pi_ref": [0.0, 0.5, 0.5]}, "pi_ref has a zero"),
    ({"pi_ref": [0.2, 0.3, 0.6]}, "pi_ref rows sum to"),
    ({"mu": [0.5, 0.5]}, "mu has shape"),
    ({"prefs": [[0.5, 0.7, 0.6], [0.4, 0.5, 0.4], [0.4, 0.6, 0.5]]}, "p\\^T = 1"),
    ({"prefs": [[0.5, 1.2, 0.6], [-0.2, 0.5, 0.4], [0.4, 0.6, 0.5]]}, "outside \\[0, 1\\]"),
    ({"prefs": [[0.5, 0.5], [0.5, 0.5]]}, "prefs has shape"),
    ({"beta": 0.0}, "beta=0.0 must be a positive"),
    ({"beta": -1.0}, "must be a positive"),
    ({"pi_ref": [1.0], "mu": [1.0], "prefs": [[0.5]]}, "K >= 2"),
])
def test_bad_problems_are_refused_with_the_fix(changes, message):
    with pytest.raises(ProblemError, match=message) as err:
        _problem(**changes)
    assert "\n" not in str(err.value)


def test_logit_needs_open_preferences():
    with pytest.raises(ProblemError, match="psi='logit'"):
        azar().problem.psibar("logit")


@pytest.mark.parametrize("kwargs", [{"actions": 1}, {"contexts": 0}, {"actions": 2.5}])
def test_bad_sizes_are_refused(kwargs):
    with pytest.raises(ProblemError):
        bradley_terry(**{"actions": 3, "contexts": 1, **kwargs})


def test_unknown_generator_and_mu_are_refused():
    with pytest.raises(ProblemError, match="choose one of"):
        generate("transitive")
    with pytest.raises(ProblemError, match="mu="):
        bradley_terry(mu="zipf")


def test_problem_file_round_trip(tmp_path):
    problem = bradley_terry(4, 2, 0.3, seed=2)
    path = tmp_path / "p.json"
    path.write_text(json.dumps({**problem.to_json(), "pairs": [[0, 1, 2], [1, 3, 0]]}))
    scenario = from_json(path)
    assert np.allclose(scenario.problem.prefs, problem.prefs)
    assert scenario.problem.beta == 0.3 and len(scenario.pairs) == 2


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "mu"}), "lacks \\['mu'\\]"),
    (json.dumps({**GOOD, "pi_ref": "abc"}), 'pi_ref holds "abc", not one of the numbers'),
    (json.dumps({**GOOD, "pi_ref": [[0.5, 0.5], [1.0]]}), "malformed arrays"),
    (json.dumps({**GOOD, "pairs": [[0, 1]]}), "triples"),
    (json.dumps({**GOOD, "pairs": [[0, 1, 7]]}), "indices must lie"),
    (json.dumps({**GOOD, "prefs": [[0.5, 0.9, 0.6], [0.3, 0.5, 0.4], [0.4, 0.6, 0.5]]}), "p\\^T"),
])
def test_malformed_problem_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ProblemError, match=message) as err:
        from_json(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_problem_file_is_refused(tmp_path):
    with pytest.raises(ProblemError, match="cannot read"):
        from_json(tmp_path / "none.json")


def test_logit_of_bt_preferences_matches_scipy():
    problem = bradley_terry(5, 1, 0.2, seed=3)
    assert np.allclose(problem.psi_values("logit"), logit(problem.prefs), atol=1e-12)
