"""llm.train and sim.bandit refuse what Theorem 3.1 excludes, and an infinite beta, before any
work starts: one line naming the failed condition and the flag that overrides it."""

import pytest

from llm.config import ConfigError, TrainConfig
from llm.train import parse_args
from sim.bandit import main as bandit_main
from sim.config import BanditConfig
from upo_theory import Condition, ProblemError

REFUSED = {
    "(u-1)**2": Condition.INFINITE_AT_ZERO,  # Pearson chi^2 written out: f'(0+) = -2
    "pearson": Condition.INFINITE_AT_ZERO,
    "sin(u)": Condition.NORMALISED,
    "1 - u**2": Condition.CONVEX,  # concave
    "u - 1": Condition.STRICTLY_CONVEX_AT_ONE,  # linear
}


@pytest.mark.parametrize("loss", ["iupo", "fdpo"])
@pytest.mark.parametrize("f", list(REFUSED))
def test_inadmissible_f_is_refused_naming_the_condition_and_the_flag(f: str, loss: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig(loss=loss, f=f)
    message = str(info.value)
    assert REFUSED[f].value in message and "--allow-inadmissible-f" in message
    assert "\n" not in message


@pytest.mark.parametrize("f", list(REFUSED))
def test_the_flag_trains_with_it_on_purpose(f: str) -> None:
    config = parse_args(["--f", f, "--allow-inadmissible-f"])
    assert config.allow_inadmissible_f and config.spec.divergence.f is not None


def test_dpo_and_ipo_refuse_an_f_they_would_ignore_and_admissible_f_pass() -> None:
    with pytest.raises(ConfigError, match="ignored by --loss ipo"):
        TrainConfig(loss="ipo", f="sin(u)")
    assert TrainConfig(loss="ipo", f="rkl").spec.name == "IPO"
    for f in ("js", "rkl", "fkl", "hellinger", "neyman", "alpha", "u*log(u) - log(u)"):
        assert not TrainConfig(loss="iupo", f=f).allow_inadmissible_f


def test_an_undecidable_f_is_refused_not_trained() -> None:
    with pytest.raises(ConfigError, match=r"could not be decided|undecided"):
        TrainConfig(f="Max(u*log(u), u-1)")


@pytest.mark.parametrize("beta", [float("inf"), float("nan"), -1.0, 0.0])
def test_beta_must_be_positive_and_finite(beta: float) -> None:
    with pytest.raises(ConfigError, match="beta"):
        TrainConfig(beta=beta)
    with pytest.raises(ProblemError, match="beta"):
        BanditConfig(beta=beta)


def test_cli_lines(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--beta", "inf"], ["--f", "(u-1)**2"]):
        with pytest.raises(SystemExit) as info:
            parse_args(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("python -m llm.train: error: ") and err.count("\n") == 1
    with pytest.raises(SystemExit) as info:
        bandit_main(["--beta", "inf", "--steps", "0"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m sim.bandit: error: --beta inf") and err.count("\n") == 1
