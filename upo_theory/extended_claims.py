"""Checks beyond the paper (group "extended"), each statement saying its own scope: where the
paper's statements stop holding outside the f they are made for, and what the paper form of the
statistic (eq. 23) can and cannot do.

Two forms (proved in :func:`forms_equal`): the paper form and the per-response form agree for all
inputs iff g(s) = f'(e^s) is affine, i.e. f'(u) = c log u + d — reverse KL up to scale and terms
linear in u. (⇐) both forms equal c(t_w − t_l). (⇒) at p_w = a + b, p_l = b, q_w = q_l = 0 in log
space equality reads g(a + b) = g(a) + g(b) − g(0), Cauchy's equation, whose continuous solutions
are affine. The paper form is antisymmetric iff g(s) + g(−s) is constant: antisymmetry does not
make the forms equal (:func:`antisymmetry_does_not_rescue_the_paper_form`).
"""

from __future__ import annotations

import sympy as sp

from .admission import get_divergence
from .claim_terms import (
    CYCLIC_EXAMPLE,
    EXAMPLE,
    LOG_POINTS,
    PI_L,
    PI_W,
    PIREF_L,
    PIREF_W,
    H,
    S,
    antisymmetry,
    central_instance,
    fdpo_and_dpo,
    pair_latex,
    paper_statistic,
    per_response_statistic,
    show,
    statistic_latex,
)
from .derivation import OPTIMUM_CONDITIONS, Derivation, T, Y, derive
from .exact_problem import ExactProblem
from .expressions import U
from .losses import LossSpec
from .minimise import minimise
from .optimum import upo_optimum
from .problem import total_variation
from .table_loss import population_loss
from .verdicts import DIFFERENTIABLE, Claim, ClaimResult, about, decide, differs, vanishes

_R = sp.Rational


@about(Claim("f-DPO likelihood at the optimum without Bradley-Terry",
             "Proposition 3.2; beyond the paper",
             "for non-Bradley-Terry p* the logit-UPO optimum still satisfies "
             "sigma(beta f'(u*_w) - beta f'(u*_l)) = p*(y_w > y_l)", "extended",
             "for cyclic (rock-paper-scissors) p*, every admissible f",
             r"for non-Bradley–Terry $p^*$ the logit-UPO optimum still satisfies "
             r"$\sigma\big(\beta f'(u^*_w) - \beta f'(u^*_l)\big) = p^*(y_w \succ y_l)$",
             r"for cyclic (rock–paper–scissors) $p^*$, every admissible $f$",
             name_latex="$f$-DPO likelihood at the optimum without Bradley–Terry"))
def likelihood_without_bradley_terry() -> ClaimResult:
    """Proposition 3.2's conclusion fails for preferences that are not Bradley–Terry."""
    claim = likelihood_without_bradley_terry.about
    # Psibar(y_i) = (logit(4/5) + logit(1/5) + logit(1/2)) / 3 = 0 for each i, so pi* = pi_ref
    # for every f (eq. 16 with equal Psibar), and the model's likelihood is sigma(0) = 1/2.
    psibar = [sum(sp.log(p / (1 - p)) for p in row) / 3 for row in CYCLIC_EXAMPLE.prefs]
    if not all(sp.simplify(value) == 0 for value in psibar):
        return claim.result(None, "UNDECIDED", "Psibar of the cyclic example is not constant",
                            detail_latex=r"$\bar\Psi$ of the cyclic example is not constant")
    example = {**CYCLIC_EXAMPLE.describe(), "Psibar": "0, 0, 0", "pi*": "pi_ref (every f)",
               "sigma(beta f'(u*_1) - beta f'(u*_2))": "1/2", "p*(y_1 > y_2)": "4/5"}
    return claim.result(None, "REFUTED", "Psibar is constant, so pi* = pi_ref and the f-DPO "
                        "likelihood is 1/2 for every pair, while p*(y_1 > y_2) = 4/5: "
                        "Proposition 3.2 needs Bradley-Terry", counterexample=example,
                        detail_latex=r"$\bar\Psi$ is constant, so $\pi^* = \pi_{\mathrm{ref}}$ "
                        r"and the f-DPO likelihood is $1/2$ for every pair, while "
                        r"$p^*(y_1 \succ y_2) = 4/5$: Proposition 3.2 needs Bradley–Terry")


PEARSON_EXAMPLE = ExactProblem(EXAMPLE.pi_ref, EXAMPLE.mu, EXAMPLE.prefs, _R(1, 20))
""":data:`~upo_theory.claim_terms.EXAMPLE` at β = 1/20, where Pearson χ²'s optimum has zeros."""


@about(Claim("Pearson chi^2 under the literal reading of '0 not in dom f'' (Theorem 3.1)",
             "Theorem 3.1; beyond the paper",
             "read literally (dom f' = (0, oo), so '0 not in dom f'' holds for every f), the "
             "theorem admits Pearson chi^2 (f' = 2(u - 1), invertible); its conclusion, "
             "pi* = pi_ref (f')^-1((Psibar - lambda)/beta) with full support, then holds",
             "extended", "for Pearson chi^2, dom f' read as (0, oo)",
             r"read literally ($\operatorname{dom} f' = (0, \infty)$, so "
             r"$0 \notin \operatorname{dom} f'$ holds for every $f$), the theorem admits "
             rf"Pearson $\chi^2$ ($f'(u) = {sp.latex(2 * (U - 1))}$, invertible); its "
             r"conclusion, $\pi^* = \pi_{\mathrm{ref}}\,(f')^{-1}\big((\bar\Psi - \lambda)"
             r"/\beta\big)$ with full support, then holds",
             r"for Pearson $\chi^2$, $\operatorname{dom} f'$ read as $(0, \infty)$",
             name_latex=r"Pearson $\chi^2$ under the literal reading of "
             r"$0 \notin \operatorname{dom} f'$ (Theorem 3.1)"))
def pearson_under_the_literal_reading() -> ClaimResult:
    """What the literal reading of Theorem 3.1's "0 ∉ dom f'" does to Pearson χ².

    The report reads the condition as f'(0+) = −∞ (Pearson: f'(0+) = −2, NOT APPLICABLE). Read
    literally, every f on (0, ∞) meets it and Pearson is in scope; but on
    :data:`~upo_theory.claim_terms.EXAMPLE` at β = 1/20 the KKT point (exact, in rationals) is
    π* = (0, 0, 1) with λ = 17/30 and η ≥ 0, while the theorem's formula normalised gives
    π(y_1) = −5/36 < 0. The per-response loss has then no minimiser (the engine's L-BFGS drives
    π(y_1) to 0, towards a point that is not π*), and the paper form's minimiser is interior.
    """
    claim = pearson_under_the_literal_reading.about
    ex, q = PEARSON_EXAMPLE, PEARSON_EXAMPLE.pi_ref
    psibar = [sum(m * p for m, p in zip(ex.mu, row, strict=True)) for row in ex.prefs]
    lam = psibar[2] - ex.beta * 2 * (1 / q[2] - 1)  # y_3 alone carries mass 1
    eta = [ex.beta * -2 - psibar[i] + lam for i in range(2)]  # beta inf f' - Psibar + lambda
    if not (all(e >= 0 for e in eta) and q[2] * (1 + (psibar[2] - lam) / (2 * ex.beta)) == 1):
        return claim.result("pearson", "UNDECIDED", "the exact KKT point is not (0, 0, 1)",
                            detail_latex="the exact KKT point is not $(0, 0, 1)$")
    full = sum(qi * p for qi, p in zip(q, psibar, strict=True))  # lambda of the formula
    formula = [qi * (1 + (p - full) / (2 * ex.beta)) for qi, p in zip(q, psibar, strict=True)]
    divergence = get_divergence("pearson")
    star = upo_optimum(ex.problem, divergence, "identity").policy[0]
    runs = {form: minimise(population_loss(LossSpec("identity", divergence, form), ex.problem),
                           gtol=1e-10) for form in ("per_response", "paper")}
    per, paper = runs["per_response"], runs["paper"]
    return claim.result("pearson", "REFUTED", "pi* has zeros", detail_latex=r"$\pi^*$ has zeros",
                        counterexample={
        **ex.describe(), "pi* (exact KKT)": "0, 0, 1", "lambda": str(lam),
        "eta(y_1), eta(y_2)": f"{eta[0]}, {eta[1]}",
        "the formula with full support": ", ".join(map(str, formula)),
        "pi* (engine)": show(star),
        "per-response loss": f"no minimiser (converged = {per.converged}): pi(y_1) -> 0, "
                             f"towards {show(per.policy[0])}, total variation "
                             f"{float(total_variation(per.policy, star[None])[0]):.3g} from pi*",
        "paper-form minimiser": show(paper.policy[0])})


ANTISYMMETRIC_F = "u*log(u) + u**2/2 - u - log(u) + 1/2"
"""An admissible f with f'(u) = log u + u − 1/u: f'(e^s) = s + 2 sinh s is odd."""
ANTISYMMETRIC_F1 = sp.log(U) + U - 1 / U
"""Its f'."""
_ANTISYMMETRIC_TEX = sp.latex(sp.sympify(ANTISYMMETRIC_F, locals={"u": U}))


@about(Claim("antisymmetry does not rescue the paper form", "eq. (23); beyond the paper",
             "for f = u log u + u^2/2 - u - log u + 1/2 (f' = log u + u - 1/u, admissible), "
             "the paper statistic is antisymmetric in (y_w, y_l), and yet the minimiser of "
             "the paper form's loss is not pi*", "extended",
             "for f' = log u + u - 1/u, on the three-action example",
             rf"for $f(u) = {_ANTISYMMETRIC_TEX}$ ($f'(u) = {sp.latex(ANTISYMMETRIC_F1)}$, "
             r"admissible), the paper statistic is antisymmetric in $(y_w, y_l)$, and yet the "
             r"minimiser of the paper form's loss is not $\pi^*$",
             rf"for $f'(u) = {sp.latex(ANTISYMMETRIC_F1)}$, on the three-action example",
             name_latex="antisymmetry does not rescue the paper form"))
def antisymmetry_does_not_rescue_the_paper_form() -> ClaimResult:
    """An admissible f outside the registry whose paper statistic is antisymmetric (g(s) =
    f'(e^s) odd), for which the paper form still misses π*: antisymmetry is not the point,
    being a difference of one function of each response is (:func:`forms_equal`)."""
    claim = antisymmetry_does_not_rescue_the_paper_form.about
    d = derive(get_divergence(ANTISYMMETRIC_F))
    if not (d.admissible and vanishes(d.f1 - ANTISYMMETRIC_F1)):
        return claim.result(None, "UNDECIDED", "f is not admissible with that f'",
                            detail_latex="$f$ is not admissible with that $f'$")
    antisymmetric, forms = paper_form_antisymmetric(d), forms_equal(d)
    if antisymmetric.status != "PROVEN" or forms.status != "REFUTED":
        return claim.result(None, "UNDECIDED", "SymPy could not settle antisymmetry "
                            "and the forms' difference", detail_latex="SymPy could not settle "
                            "antisymmetry and the forms' difference")
    pi, found, gradient = central_instance(d, LossSpec("identity", d.divergence, "paper"))
    numbers = {**EXAMPLE.describe(), "pi*": show(pi), "paper-form minimiser": show(found),
               "|gradient of eq. 24 at pi*|": f"{gradient:.3g}",
               "total variation": f"{float(total_variation(found, pi)):.3g}"}
    if gradient <= 1e-6:
        return claim.result(None, "REFUTED", "the gradient at pi* vanishes",
                            counterexample=numbers,
                            detail_latex=r"the gradient at $\pi^*$ vanishes")
    return claim.result(None, "PROVEN", "f is admissible (SymPy); f'(e^s) + f'(e^-s) "
                        "= 0, so the paper statistic is antisymmetric (SymPy); the two forms "
                        f"differ ({forms.detail}); the paper form's gradient at pi* is "
                        f"{gradient:.3g}, not 0", witness=numbers,
                        detail_latex=r"$f$ is admissible (SymPy); $f'(e^s) + f'(e^{-s}) = 0$, so "
                        "the paper statistic is antisymmetric (SymPy); the two forms differ "
                        f"({forms.detail_latex}); the paper form's gradient at $\\pi^*$ is "
                        f"{gradient:.3g}, not 0")


antisymmetry_does_not_rescue_the_paper_form.seconds = 30  # type: ignore[attr-defined]


@about(Claim("f-DPO (eq. 5) differs from DPO (eq. 4)", "eqs. (4), (5); beyond the paper",
             "for f other than reverse KL, -log sigma(beta (f'(u_w) - f'(u_l))) is not "
             "DPO's loss (the paper states eq. 5 = eq. 4 for reverse KL only)", "extended",
             "for f other than reverse KL",
             r"for $f$ other than reverse KL, "
             r"$-\log\sigma\big(\beta\,(f'(u_w) - f'(u_l))\big)$ is not DPO's loss (the paper "
             "states eq. 5 = eq. 4 for reverse KL only)", "for $f$ other than reverse KL",
             name_latex="$f$-DPO (eq. 5) differs from DPO (eq. 4)"),
       needs=DIFFERENTIABLE, reverse_kl=False)
def fdpo_differs_from_dpo(d: Derivation) -> ClaimResult | None:
    """For f other than reverse KL, f-DPO's loss (eq. 5) is not DPO's (eq. 4)."""
    return differs(fdpo_differs_from_dpo.about, d.divergence.label, *fdpo_and_dpo(d))


@about(Claim("IUPO statistic (eq. 23) differs from IPO's h (eq. 9)",
             "Proposition 4.1; beyond the paper",
             "for f other than reverse KL, f'(pi_w/pi_l) - f'(piref_w/piref_l) is not h "
             "(the paper states it is h for reverse KL only)", "extended",
             "for f other than reverse KL",
             f"for $f$ other than reverse KL, ${statistic_latex(paper_statistic)}$ is not "
             f"$h = {pair_latex(H)}$ (the paper states it is $h$ for reverse KL only)",
             "for $f$ other than reverse KL",
             name_latex="IUPO statistic (eq. 23) differs from IPO's $h$ (eq. 9)"),
       needs=DIFFERENTIABLE, reverse_kl=False)
def statistic_differs_from_h(d: Derivation) -> ClaimResult | None:
    """For f other than reverse KL, the eq. (23) statistic is not IPO's h."""
    claim = statistic_differs_from_h.about
    return differs(claim, d.divergence.label, paper_statistic(d), H, LOG_POINTS)


@about(Claim("paper form (eq. 23) = per-response form", "eqs. (17), (23); beyond the paper",
             "f'(pi_w/pi_l) - f'(piref_w/piref_l) = f'(pi_w/piref_w) - f'(pi_l/piref_l) "
             "for all probabilities; true iff f'(e^s) is affine in s", "extended",
             "for every differentiable f",
             f"${statistic_latex(paper_statistic)} = {statistic_latex(per_response_statistic)}$ "
             "for all probabilities; true iff $f'(e^s)$ is affine in $s$",
             "for every differentiable $f$",
             name_latex="paper form (eq. 23) $=$ per-response form"), needs=DIFFERENTIABLE)
def forms_equal(d: Derivation) -> ClaimResult:
    """The paper form (eq. 23) equals the per-response form, iff g(s) = f'(e^s) is affine."""
    claim = forms_equal.about
    paper, per_response = paper_statistic(d), per_response_statistic(d)
    # The Cauchy point of the module's proof: p_w = a + b, p_l = b, q_w = q_l = 0 in log space
    # (scaled by 1/20 so that pi_w + pi_l < 1).
    cauchy = {PI_W: sp.exp(2) / 20, PI_L: sp.exp(1) / 20, PIREF_W: _R(1, 20), PIREF_L: _R(1, 20)}
    result = decide(claim, d.divergence.label, paper, per_response, [*LOG_POINTS, cauchy],
                    "f'(e^s) is affine in s, so both forms equal c (t_w - t_l)",
                    r"$f'(e^s)$ is affine in $s$, so both forms equal $c\,(t_w - t_l)$")
    if result.status == "REFUTED" and sp.simplify(sp.diff(_g(d, S), S, 2)) != 0:
        return ClaimResult(**{
            **result.__dict__,
            "detail": result.detail + "; f'(e^s) is not affine in s (its second derivative is "
                                      "not 0)",
            "detail_latex": result.detail_latex + "; $f'(e^s)$ is not affine in $s$ (its second "
                                                  "derivative is not 0)"})
    return result


def _swapped_paper_statistic(d: Derivation) -> sp.Expr:
    """The paper statistic with y_w and y_l swapped."""
    return paper_statistic(d, PI_L, PI_W, PIREF_L, PIREF_W)


def _g(d: Derivation, s: sp.Expr) -> sp.Expr:
    return d.log_ratio_derivative.subs(T, s)


@about(Claim("paper-form statistic antisymmetric in (y_w, y_l)",
             "eq. (23); beyond the paper",
             "f'(pi_l/pi_w) - f'(piref_l/piref_w) = -(f'(pi_w/pi_l) - f'(piref_w/piref_l)); "
             "true iff f'(e^s) + f'(e^-s) is constant", "extended",
             "for every differentiable f",
             f"${statistic_latex(_swapped_paper_statistic)} = "
             rf"-\left({statistic_latex(paper_statistic)}\right)$; true iff "
             "$f'(e^s) + f'(e^{-s})$ is constant", "for every differentiable $f$",
             name_latex="paper-form statistic antisymmetric in $(y_w, y_l)$"),
       needs=DIFFERENTIABLE)
def paper_form_antisymmetric(d: Derivation) -> ClaimResult:
    """The paper form is antisymmetric iff g(s) + g(−s) is constant."""
    claim = paper_form_antisymmetric.about
    return antisymmetry(d, paper_statistic, claim,
                        "f'(e^s) + f'(e^-s) is constant, so the swap flips the sign",
                        "$f'(e^s) + f'(e^{-s})$ is constant, so the swap flips the sign")


@about(Claim("paper form can reach the target 1/(2 beta)", "eq. (24); beyond the paper",
             "for every beta > 0 and pi_ref there is pi with f'(pi_w/pi_l) - "
             "f'(piref_w/piref_l) = 1/(2 beta)", "extended",
             "for convex differentiable f (f' continuous and increasing)",
             r"for every $\beta > 0$ and $\pi_{\mathrm{ref}}$ there is $\pi$ with "
             rf"${statistic_latex(paper_statistic)} = \frac{{1}}{{2 \beta}}$",
             r"for convex differentiable $f$ ($f'$ continuous and increasing)",
             name_latex=r"paper form can reach the target $1/(2\beta)$"),
       needs=OPTIMUM_CONDITIONS)
def target_reachable(d: Derivation) -> ClaimResult:
    """Can the paper-form statistic reach IUPO's target 1/(2β) (eq. 24) for every β and π_ref?

    Needs only f' continuous and increasing (f convex, differentiable): then f' maps (0, ∞) onto
    (f'(0+), sup f'), so with sup f' = ∞ the value f'(π_ref ratio) + 1/(2β) is taken by some
    ratio π_w/π_l (and any positive ratio is that of two probabilities with π_w + π_l ≤ 1).
    Theorem 3.1's f'(0+) = −∞ plays no part.
    """
    claim = target_reachable.about
    label = d.divergence.label
    if not d.sup_f1.is_finite:
        return claim.result(label, "PROVEN", "sup f' = oo: f'(pi_w/pi_l) takes every value in "
                            "(f'(0+), oo), which holds f'(piref_w/piref_l) + 1/(2 beta)",
                            detail_latex=r"$\sup f' = \infty$: $f'\big(\pi(y_w)/\pi(y_l)\big)$ "
                            r"takes every value in $\big(f'(0^+), \infty\big)$, which holds "
                            r"$f'\big(\pi_{\mathrm{ref}}(y_w)/\pi_{\mathrm{ref}}(y_l)\big) + "
                            r"\frac{1}{2 \beta}$")
    gap = sp.simplify(d.sup_f1 - d.f1.subs(U, 1))
    beta = sp.Rational(1, 2 * (sp.floor(gap) + 2))  # a target 1/(2 beta) above the reach
    example = {
        "beta": str(beta), "piref_w/piref_l": "1", "sup of the statistic": f"{float(gap):.6g}",
        "target 1/(2 beta)": str(1 / (2 * beta)),
        "out of reach where piref_w/piref_l is at least": "(f')^-1(sup f' - 1/(2 beta)), "
                                                          "or 0 where sup f' - 1/(2 beta) <= "
                                                          "f'(0+)",
        **{f"threshold at beta = {b}": _reach_threshold(d, b) for b in REACH_BETAS},
    }
    return claim.result(label, "REFUTED", f"sup f' = {d.sup_f1}: the statistic stays below "
                        f"sup f' - f'(piref_w/piref_l) = {gap} at equal reference probabilities, "
                        f"under the target {1 / (2 * beta)}", counterexample=example,
                        detail_latex=rf"$\sup f' = {sp.latex(d.sup_f1)}$: the statistic stays "
                        r"below $\sup f' - f'\big(\pi_{\mathrm{ref}}(y_w)/\pi_{\mathrm{ref}}(y_l)"
                        rf"\big) = {sp.latex(gap)}$ at equal reference probabilities, under the "
                        rf"target ${sp.latex(1 / (2 * beta))}$")


REACH_BETAS: tuple[sp.Rational, ...] = (_R(1, 10), _R(1, 5), _R(1, 2))
"""The β of the paper's experiment, at which the reach thresholds are reported."""


def _reach_threshold(d: Derivation, beta: sp.Rational) -> str:
    """The smallest π_ref(y_w)/π_ref(y_l) at which the target 1/(2β) is out of the paper
    statistic's reach: sup_r f'(r) − f'(ρ) = sup f' − f'(ρ) ≤ 1/(2β) iff
    ρ ≥ (f')⁻¹(sup f' − 1/(2β)), or every ρ when sup f' − 1/(2β) ≤ f'(0+)."""
    level = d.sup_f1 - 1 / (2 * beta)
    if d.inf_f1 is not None and bool(level <= d.inf_f1):
        return "0 (out of reach for every pi_ref)"
    if d.inverse is None:
        return "no closed-form (f')^-1"
    return f"{float(d.inverse.subs(Y, level)):.3g}"
