"""The hard budget on SymPy work: time limits that nest, and a child process with a memory cap
and a wall-clock limit that no expression can outlast."""

from __future__ import annotations

import resource
import subprocess
import sys
import time

import pytest

import upo_theory.budget as budget
import upo_theory.derivation as derivation
from upo_theory import BudgetExceeded, ExpressionError, UserError, derive, get_divergence
from upo_theory.budget import time_limited, within_budget


def _spin(seconds: float) -> str:
    """Busy for ``seconds`` of CPU time (what the limits count)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return "done"


def test_time_limited_returns_none_past_its_limit() -> None:
    start = time.process_time()
    assert time_limited(lambda: _spin(5.0), 0.2) is None
    assert time.process_time() - start < 1.0
    assert time_limited(lambda: _spin(0.01), 1.0) == "done"


def _swallowing(times: int) -> str:
    """Spins, swallowing the first ``times`` interrupts as mpmath's bare ``except:`` would."""
    for _ in range(times):
        try:
            _spin(5.0)
        except BaseException:  # the point of the test
            pass
    return _spin(5.0)


def test_a_swallowed_interrupt_comes_again() -> None:
    start = time.process_time()
    assert time_limited(lambda: _swallowing(3), 0.2) is None
    assert time.process_time() - start < 1.5


def test_an_inner_limit_never_outlives_the_outer_one() -> None:
    """The inner call has 5 s, the outer 0.3 s: the outer still fires at 0.3 s."""
    def outer() -> str:
        time_limited(lambda: _spin(0.1), 5.0)  # ends early, and re-arms the outer timer
        return _spin(5.0)

    start = time.process_time()
    assert time_limited(outer, 0.3) is None
    assert time.process_time() - start < 1.5


def test_work_within_the_budget_comes_back() -> None:
    assert within_budget(lambda x: x * 2, 21) == 42


def _refuse() -> None:
    raise ExpressionError("a message naming the fix")


def test_a_user_error_in_the_child_is_raised_as_itself() -> None:
    with pytest.raises(ExpressionError, match="naming the fix"):
        within_budget(_refuse)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_running_out_of_time_is_refused_at_the_limit() -> None:
    start = _child_cpu()
    with pytest.raises(BudgetExceeded, match=r"more than 0.5 s"):
        within_budget(_spin, 30.0, seconds=0.5, what="the test")
    assert _child_cpu() - start < 3.0  # the child's CPU time: the limit, whatever the load


def test_running_out_of_memory_is_refused() -> None:
    with pytest.raises(BudgetExceeded, match="GB of memory"):
        within_budget(lambda: bytearray(3 * 1024**3), memory=256 * 1024**2, what="the test")


def test_sympy_failing_in_the_child_is_one_user_error() -> None:
    with pytest.raises(BudgetExceeded, match="OverflowError"):
        within_budget(lambda: (_ for _ in ()).throw(OverflowError("too big")), what="f")


def test_a_hostile_f_is_refused_by_get_divergence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "USER_F_SECONDS", 1.0)
    start = _child_cpu()
    with pytest.raises(UserError, match=r"\(log\(u\)\*\*999\)\*\*999"):
        get_divergence("(log(u)**999)**999")
    assert _child_cpu() - start < 4.0  # the child's CPU time, whatever the load


def test_registered_divergences_never_leave_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a registered divergence went through the budget")

    monkeypatch.setattr(budget, "within_budget", refuse)
    assert get_divergence("js").name == "js"


def test_a_user_f_is_derived_once_in_the_child_and_reused() -> None:
    divergence = get_divergence("u*log(u) - log(u) + 2*(u - 1)")
    settled = derivation._SETTLED[(divergence.f, divergence)]
    assert derive(divergence) is settled and settled.admissible


@pytest.mark.slow
def test_the_cli_refuses_a_hostile_f_within_10_cpu_seconds() -> None:
    """The budget counts CPU time, so the refusal costs the same on a loaded machine (where it
    takes longer by the clock) as on an idle one."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    hostile = "(log(u)**999+log(1+u)**999)**999"  # far past the budget, not near its edge
    result = subprocess.run([sys.executable, "-m", "upo_theory", "--f", hostile],
                            capture_output=True, text=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert result.returncode == 2 and spent <= 10.0, spent
    assert result.stderr.startswith("python -m upo_theory: error: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_a_claim_that_never_sees_its_interrupt_leaves_the_others_their_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim whose work never lets the time limit's interrupt through (C code that does not
    return to Python, or a bare ``except:`` in a loop) never ends by the limit; for a user's f
    it used to run until the CPU limit of all the claims, and the whole report was refused (seen
    in CI). Each claim of a user's f now runs in a process of its own, killed a little past its
    limit: that claim is UNDECIDED, and the others run."""
    import signal

    import upo_theory.claims as claims

    def stubborn(d):
        signal.signal(signal.SIGPROF, signal.SIG_IGN)  # the interrupt never arrives
        end = time.process_time() + 60
        while time.process_time() < end:
            sum(range(1000))

    first, *rest = claims.PER_DIVERGENCE[:3]
    stubborn.about = first.about
    monkeypatch.setattr(claims, "PER_DIVERGENCE", (stubborn, *rest))
    monkeypatch.setattr(claims, "CLAIM_SECONDS", 1)
    started = time.time()
    results = claims.verify_divergence(get_divergence("u*log(u) - log(u)"))
    [stuck] = [r for r in results if r.claim == first.about.name]
    assert stuck.status == "UNDECIDED" and "ran past 1 s" in stuck.detail
    assert len(results) == 3 and time.time() - started < 60
