"""``python -m upo_theory``: exit codes, JSON shape, and agreement with the derivation."""

from __future__ import annotations

import json

import pytest

import upo_theory.claims as claims
from upo_theory import CENTRAL_CLAIMS, CLAIM_GROUPS, CLAIM_STATUSES, verify_all
from upo_theory.__main__ import main
from upo_theory.claim_terms import CENTRAL_PAPER, CENTRAL_PER_RESPONSE


def test_json_for_js_has_the_derived_objects(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--f", "js", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["objects"]["f_prime"]["sympy"] == "log(2*u/(u + 1))"
    assert out["objects"]["sup_f_prime"]["sympy"] == "log(2)"
    assert out["admissible"] is True
    assert all(c["holds"] for c in out["checks"])
    assert "\\log" in out["objects"]["f"]["latex"]


def test_json_carries_the_conditions_and_the_verdict_in_latex(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Beside the terminal's text, each check's condition and reason and the verdict as prose
    with LaTeX maths (the pages' typeset form), for a failing f too."""
    from docs_helpers import latex_prose_problems

    assert main(["--f", "pearson", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["admissible"] is False
    assert out["verdict_latex"].startswith(r"not admissible for Theorem 3.1: $\lim_{u \to 0^+} "
                                           r"f'(u) = -\infty$ fails ($f'(0^+) = -2$ is finite")
    for check in out["checks"]:
        for key in ("name_latex", "detail_latex"):
            assert not latex_prose_problems(check[key]), (key, check)
    assert not latex_prose_problems(out["verdict_latex"])


def test_user_expression_and_alpha(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--f", "u*log(u) - log(u)", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["objects"]["f_prime"]["sympy"] == "log(u) + 1 - 1/u"
    assert main(["--f", "alpha", "--alpha", "0.25", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == {"alpha": "1/4"}
    assert out["objects"]["sup_f_prime"]["sympy"] == "4"


@pytest.mark.parametrize(
    "argv",
    [["--f", "__import__('os').system('true')"], ["--f", "u.real"], ["--f", "alpha", "--alpha",
     "1.5"], ["--f", "u*log(v)"], ["--f", ""]],
)
def test_user_errors_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m upo_theory: error: ") and err.count("\n") == 1


def test_pearson_verdict_names_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--f", "pearson"]) == 0
    out = capsys.readouterr().out
    assert "f'(0+) = -2 is finite" in out
    assert "NOT APPLICABLE" in out


def test_full_report_prints_the_central_claim_then_the_three_groups(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    central = out.index("The central claim: minimising the IUPO loss (eq. 24")
    starts = [out.index(f"{title}: ") for title in CLAIM_GROUPS.values()]
    assert [central, *starts] == sorted([central, *starts])
    assert ("as the paper states it, paper statistic (eq. 23): PROVEN for rkl; REFUTED for fkl, "
            "js" in out)
    assert ("the project's repair, per-response statistic (eq. 17): PROVEN for every admissible f"
            in out)
    assert out.index("paper statistic (eq. 23)") < out.index("per-response statistic (eq. 17)")
    assert "total variation = 0.156" in out
    results = verify_all()
    ends = [*starts[1:], out.index("\n\n", starts[-1])]
    for name, start, end in zip(CLAIM_GROUPS, starts, ends, strict=True):
        group = out[start:end]
        members = [r for r in results if r.group == name]
        tally = {s: sum(r.status == s for r in members) for s in CLAIM_STATUSES}
        assert group.splitlines()[0].endswith(
            f"{len({r.claim for r in members})} statements ({len(members)} instances: "
            + ", ".join(f"{n} {s}" for s, n in tally.items()) + ")")
        assert sum(group.count(f"\n{s:14s} ") for s in CLAIM_STATUSES) == len(members)
    assert out.count("counterexample:") == sum(r.status == "REFUTED" for r in results)
    assert "UNDECIDED " not in out


def test_json_report_carries_group_and_scope(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["claims"]
    assert {c["group"] for c in rows} == set(CLAIM_GROUPS) == {"paper", "repair", "extended"}
    assert all(c["scope"].startswith("for ") for c in rows)
    assert {c["claim"] for c in rows} >= set(CENTRAL_CLAIMS)
    groups = {c["claim"]: c["group"] for c in rows}
    assert groups[CENTRAL_PER_RESPONSE] == "repair"
    assert groups[CENTRAL_PAPER] == "paper"


def test_a_generator_starting_with_a_minus_sign_is_a_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--f", "-log(u)", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "-log(u)" and out["objects"]["f_prime"]["sympy"] == "-1/u"


@pytest.mark.parametrize("f", ["Abs(u-1)**1.5", "Abs(u-1)**3", "Max(u*log(u), u-1)"])
def test_what_sympy_cannot_settle_is_undecided_not_a_traceback(
    f: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(claims, "CLAIM_SECONDS", 1)  # the claims that SymPy cannot settle
    assert main(["--f", f]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "verdict:" in out
    assert "UNDECIDED" in out or "NOT APPLICABLE" in out


@pytest.mark.parametrize(("f", "bounds"), [("js", ("-oo", "log(2)")), ("1 - u**2", (None, None))])
def test_sup_and_inf_of_f_prime_only_where_f_prime_increases(
        capsys: pytest.CaptureFixture[str], f: str, bounds: tuple) -> None:
    """The limits of f' at 0+ and ∞ are its inf and sup only for an increasing f'; for 1 − u²
    (f' = −2u) the report used to show sup f' = −∞."""
    assert main(["--f", f, "--json"]) == 0
    objects = json.loads(capsys.readouterr().out)["objects"]
    assert (objects["inf_f_prime"]["sympy"], objects["sup_f_prime"]["sympy"]) == bounds
