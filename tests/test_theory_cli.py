"""``python -m upo_theory``: exit codes, JSON shape, and agreement with the derivation."""

from __future__ import annotations

import json

import pytest

from upo_theory.__main__ import main


def test_json_for_js_has_the_derived_objects(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--f", "js", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["objects"]["f_prime"]["sympy"] == "log(2*u/(u + 1))"
    assert out["objects"]["sup_f_prime"]["sympy"] == "log(2)"
    assert out["admissible"] is True
    assert all(c["holds"] for c in out["checks"])
    assert "\\log" in out["objects"]["f"]["latex"]


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


def test_full_report_lists_every_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    for word in ("PROVEN", "REFUTED", "NOT APPLICABLE", "counterexample:"):
        assert word in out
    assert "0 UNDECIDED" in out
