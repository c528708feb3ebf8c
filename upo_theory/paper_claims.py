"""The paper's claims as the paper states them (group "paper"), each checked only within the
scope the paper gives it: Theorem 3.1, Proposition 3.2, Proposition 4.1, eqs. (4), (5), (14),
(26) and Section 5.1's JS derivative, and the central claim for the paper's statistic.

The central claim (eqs. 22, 24, Algorithm 1) as the paper writes it: the paper form of eq. (23)
is not a difference of one function of each response, and its minimiser differs from π*: at π*
its gradient is not zero (the tabular engine computes both on
:data:`~upo_theory.claim_terms.EXAMPLE`, a 3-action problem). With the per-response statistic
in its place the claim holds (:mod:`~upo_theory.repair_claims`).
"""

from __future__ import annotations

import functools

import sympy as sp

from .admission import get_divergence
from .claim_terms import (
    BETA,
    BT_EXAMPLE,
    CENTRAL_PAPER,
    EXAMPLE,
    LOG_POINTS,
    PI,
    PI_L,
    PI_REF,
    PI_W,
    PIREF_L,
    PIREF_W,
    H,
    X,
    Z,
    central_claim,
    central_instance,
    fdpo_and_dpo,
    generic_f1,
    pair_latex,
    paper_statistic,
    per_response_statistic,
    show,
    sigmoid,
    statistic_latex,
    worked_optimum,
)
from .derivation import Derivation, Y, derive
from .exact_problem import likelihood_gap
from .expressions import U
from .extended_claims import forms_equal
from .kernels import kernel_for
from .losses import LossSpec
from .problem import total_variation
from .verdicts import ADMISSIBLE, DIFFERENTIABLE, Claim, ClaimResult, about, decide, vanishes

_R = sp.Rational
JS_F = get_divergence("js").f
"""JS's generator, as the registry holds it (the claim differentiates this f)."""
JS_F1 = sp.log(2 * U / (1 + U))
"""The paper's JS derivative (Section 5.1)."""


@about(Claim("logit(sigma(z)) = z", "Proposition 3.2",
             "log(s/(1-s)) with s = 1/(1+exp(-z)) is z", "paper", "for every real z",
             rf"$\log\frac{{s}}{{1 - s}} = z$ with $s = \sigma(z) = {sp.latex(sigmoid(Z))}$",
             "for every real $z$",
             name_latex=r"$\operatorname{logit}\big(\sigma(z)\big) = z$"))
def logit_inverts_sigmoid() -> ClaimResult:
    """Proposition 3.2's first step: logit(σ(z)) = z for real z."""
    claim = logit_inverts_sigmoid.about
    lhs = sp.log(sigmoid(X) / (1 - sigmoid(X)))
    return decide(claim, None, lhs, X, [{X: _R(3, 7)}], "simplifies to z for every real z",
                  "simplifies to $z$ for every real $z$")


@about(Claim("JS derivative f'(u) = log(2u/(1+u))", "Section 5.1",
             "d/du [u log u - (u+1) log((u+1)/2)] = log(2u/(1+u))", "paper", "for JS",
             rf"$\frac{{d}}{{du}}\left[{sp.latex(JS_F)}\right] = {sp.latex(JS_F1)}$",
             "for JS",
             name_latex=f"JS derivative $f'(u) = {sp.latex(JS_F1)}$"))
def js_derivative() -> ClaimResult:
    """The paper's JS derivative (Section 5.1): f'(u) = log(2u/(1+u))."""
    claim = js_derivative.about
    d = derive(get_divergence("js"))
    return decide(claim, "js", sp.diff(d.f, U), JS_F1, [{U: _R(1, 3)}],
                  "SymPy's derivative of the paper's f simplifies to log(2u/(1+u))",
                  f"SymPy's derivative of the paper's $f$ simplifies to ${sp.latex(JS_F1)}$")


@about(Claim("eq. 26 is eq. 24 with the JS f'", "eqs. (23), (24), (26)",
             "(f'(pi_w/pi_l) - f'(piref_w/piref_l) - 1/(2 beta))^2 with f' = log(2u/(1+u)) "
             "is eq. 26", "paper", "for JS",
             rf"$\left({statistic_latex(paper_statistic)} - \frac{{1}}{{2 \beta}}\right)^2$ "
             rf"with $f'(u) = {sp.latex(JS_F1)}$ is eq. 26", "for JS",
             name_latex="eq. 26 is eq. 24 with the JS $f'$"))
def eq26_is_eq24_with_js() -> ClaimResult:
    """eq. (26) is eq. (24) with the paper form (23) and the JS f'."""
    claim = eq26_is_eq24_with_js.about
    d = derive(get_divergence("js"))
    a, b = PI_W / PI_L, PIREF_W / PIREF_L
    eq24 = (d.f1.subs(U, a) - d.f1.subs(U, b) - 1 / (2 * BETA)) ** 2
    eq26 = (sp.log(2 * a / (a + 1)) - sp.log(2 * b / (b + 1)) - 1 / (2 * BETA)) ** 2
    pt = {PI_W: _R(1, 2), PI_L: _R(1, 5), PIREF_W: _R(1, 3), PIREF_L: _R(1, 4), BETA: _R(1, 10)}
    return decide(claim, "js", eq24, eq26, [pt], "the integrands coincide identically",
                  "the integrands coincide identically")


@about(Claim("Bradley-Terry: Psibar(y) - Psibar(y') = r(y) - r(y')", "Proposition 3.2",
             "with p*(y > y') = sigma(r(y) - r(y')) and Psi = logit, Psibar(y) = "
             "E_{y'~mu} Psi(p*(y > y')) = r(y) - E_mu r, for every mu", "paper",
             "for Bradley-Terry p*, Psi = logit",
             r"with $p^*(y \succ y') = \sigma\big(r(y) - r(y')\big)$ and "
             r"$\Psi = \operatorname{logit}$, $\bar\Psi(y) = \mathbb{E}_{y' \sim \mu}\,"
             r"\Psi\big(p^*(y \succ y')\big) = r(y) - \mathbb{E}_\mu r$, for every $\mu$",
             r"for Bradley–Terry $p^*$, $\Psi = \operatorname{logit}$",
             name_latex=r"Bradley–Terry: $\bar\Psi(y) - \bar\Psi(y') = r(y) - r(y')$"))
@functools.lru_cache(maxsize=1)  # Prop. 3.2's check for every f stands on it
def bradley_terry_reward_gaps() -> ClaimResult:
    """Proposition 3.2's Bradley–Terry step: Ψ̄(y) − Ψ̄(y') = r(y) − r(y') for Ψ = logit."""
    claim = bradley_terry_reward_gaps.about
    mu1, mu2 = sp.symbols("mu1 mu2", positive=True)
    r = sp.symbols("r1:4", real=True)
    mu = (mu1, mu2, 1 - mu1 - mu2)

    def psibar(i: int) -> sp.Expr:
        return sum(m * sp.log(sigmoid(r[i] - r[j]) / (1 - sigmoid(r[i] - r[j])))
                   for j, m in enumerate(mu))

    lhs = sp.Matrix([psibar(0) - psibar(1), psibar(0) - psibar(2)])
    rhs = sp.Matrix([r[0] - r[1], r[0] - r[2]])
    if all(vanishes(e) for e in lhs - rhs):
        return claim.result(None, "PROVEN", "logit(sigma(x)) = x makes Psibar(y_i) = r_i - "
                            "sum_j mu_j r_j (SymPy, 3 actions, symbolic mu and r)",
                            detail_latex=r"$\operatorname{logit}\big(\sigma(x)\big) = x$ makes "
                            r"$\bar\Psi(y_i) = r_i - \sum_j \mu_j r_j$ (SymPy, 3 actions, "
                            r"symbolic $\mu$ and $r$)")
    return claim.result(None, "UNDECIDED", "SymPy could not simplify the difference to 0",
                        detail_latex="SymPy could not simplify the difference to $0$")


@about(Claim("stationarity d/dpi [pi_ref f(pi/pi_ref)] = f'(pi/pi_ref)",
             "Theorem 3.1, eq. (14)",
             "the derivative of the divergence term in pi(y) is f'(pi(y)/pi_ref(y))",
             "paper", "for every differentiable f",
             "the derivative of the divergence term in $\\pi(y)$ is "
             r"$\frac{\partial}{\partial \pi}\left["
             rf"{pair_latex(PI_REF * sp.Function('f')(PI / PI_REF))}\right] = "
             rf"{pair_latex(generic_f1(PI / PI_REF))}$", "for every differentiable $f$",
             name_latex=r"stationarity $\frac{\partial}{\partial \pi}\big[\pi_{\mathrm{ref}}\, "
             r"f(\pi/\pi_{\mathrm{ref}})\big] = f'(\pi/\pi_{\mathrm{ref}})$"),
       needs=DIFFERENTIABLE)
def stationarity(d: Derivation) -> ClaimResult:
    """Theorem 3.1, eq. (14): ∂/∂π [π_ref f(π/π_ref)] = f'(π/π_ref)."""
    claim = stationarity.about
    lhs = sp.diff(PI_REF * d.f.subs(U, PI / PI_REF), PI)
    return decide(claim, d.divergence.label, lhs, d.f1.subs(U, PI / PI_REF),
                  [{PI: _R(1, 3), PI_REF: _R(1, 2)}], "chain rule; simplifies to 0",
                  "chain rule; simplifies to 0")


@about(Claim("Theorem 3.1: pi* = pi_ref (f')^-1((Psibar - lambda)/beta) is the unique "
             "maximiser", "Theorem 3.1, eqs. (12)-(16)",
             "the objective of eq. 11 is strictly concave, its maximiser has full support "
             "(eta = 0), lambda exists and is unique, and pi* solves beta f'(pi*/pi_ref) = "
             "Psibar - lambda", "paper",
             "for admissible f (f' invertible, 0 not in dom f')",
             r"the objective of eq. 11 is strictly concave, its maximiser has full support "
             r"($\eta = 0$), $\lambda$ exists and is unique, and $\pi^*$ solves "
             r"$\beta f'(\pi^*/\pi_{\mathrm{ref}}) = \bar\Psi - \lambda$",
             r"for admissible $f$ ($f'$ invertible, $0 \notin \operatorname{dom} f'$)",
             name_latex=r"Theorem 3.1: $\pi^* = \pi_{\mathrm{ref}}\,(f')^{-1}"
             r"\big((\bar\Psi - \lambda)/\beta\big)$ is the unique maximiser"),
       needs=ADMISSIBLE)
@functools.lru_cache(maxsize=64)
def theorem_3_1(d: Derivation) -> ClaimResult:
    """Theorem 3.1 with a certificate that the KKT point is the unique maximiser of eq. (11).

    1. f'' ≥ 0 and f' strictly increasing (symbolic): f strictly convex, so the objective
       Σ π Ψ̄ − β Σ π_ref f(π/π_ref) is strictly concave on the simplex; with linear constraints
       the KKT conditions are sufficient and the maximiser is unique.
    2. f'(0+) = −∞ (symbolic limit): the objective's slope towards any y with π(y) = 0 is +∞, so
       the maximiser has full support and η ≡ 0 (eq. 15 → eq. 16).
    3. f' is a continuous increasing bijection (0, ∞) → (−∞, sup f'), so (f')⁻¹ exists;
       f'((f')⁻¹(y)) = y is checked symbolically where SymPy finds a closed form (a closed form
       that fails it refutes the claim as the paper writes it; one SymPy cannot simplify is
       reported as checked at test points only).
    4. λ exists and is unique: S(λ) = Σ π_ref (f')⁻¹((Ψ̄ − λ)/β) is continuous and strictly
       decreasing on (max Ψ̄ − β sup f', ∞), tends to 0 as λ → ∞ ((f')⁻¹(y) → 0 as y → −∞) and
       to ∞ as λ → max Ψ̄ − β sup f' ((f')⁻¹(y) → ∞ as y → sup f'); it crosses 1 once.

    The detail reports the instance :data:`~upo_theory.claim_terms.EXAMPLE`: λ and Σ π* − 1.
    """
    claim = theorem_3_1.about
    label = d.divergence.label
    steps = ["f'' >= 0 and f' strictly increasing: strictly concave objective, KKT sufficient, "
             "maximiser unique", "f'(0+) = -oo: full support, eta = 0"]
    steps.append("(f')^-1 exists: f' is a continuous increasing bijection onto (-oo, sup f')")
    tex = [r"$f'' \ge 0$ and $f'$ strictly increasing: strictly concave objective, KKT "
           "sufficient, maximiser unique", r"$f'(0^+) = -\infty$: full support, $\eta = 0$",
           r"$(f')^{-1}$ exists: $f'$ is a continuous increasing bijection onto "
           r"$(-\infty, \sup f')$"]
    if d.inverse is not None:
        y = d.sup_f1 - Z if d.sup_f1.is_finite else X
        composed = decide(claim, label, d.f1.subs(U, d.inverse.subs(Y, y)), y,
                          [{Z: _R(1, 2), X: _R(-1, 3)}], "")
        if composed.status == "REFUTED":
            return composed
        how = "(SymPy)" if composed.status == "PROVEN" else "(at test points)"
        steps.append("its closed form satisfies f'((f')^-1(y)) = y for y < sup f' " + how)
        tex.append(r"its closed form satisfies $f'\big((f')^{-1}(y)\big) = y$ for "
                   r"$y < \sup f'$ " + how)
    optimum = worked_optimum(d, EXAMPLE)
    pi, lam = optimum.policy[0], float(optimum.lam[0])
    steps.append("S(lambda) strictly decreasing from oo to 0: lambda unique")
    tex.append(r"$S(\lambda)$ strictly decreasing from $\infty$ to 0: $\lambda$ unique")
    return claim.result(label, "PROVEN", "; ".join(steps), witness={
        **EXAMPLE.describe(), "lambda": f"{lam:.12g}", "sum pi* - 1": f"{pi.sum() - 1:.1e}",
        "pi*": show(pi)}, detail_latex="; ".join(tex))


@about(Claim("logit-UPO optimum gives the f-DPO likelihood",
             "Proposition 3.2, eqs. (18)-(21)",
             "with p*(y > y') = sigma(r(y) - r(y')) and Psi = logit, the UPO optimum has "
             "sigma(beta f'(u*_w) - beta f'(u*_l)) = p*(y_w > y_l): its likelihood is "
             "eq. 5", "paper", "for admissible f, Psi = logit, Bradley-Terry p*",
             r"with $p^*(y \succ y') = \sigma\big(r(y) - r(y')\big)$ and "
             r"$\Psi = \operatorname{logit}$, the UPO optimum has "
             r"$\sigma\big(\beta f'(u^*_w) - \beta f'(u^*_l)\big) = p^*(y_w \succ y_l)$: its "
             "likelihood is eq. 5",
             r"for admissible $f$, $\Psi = \operatorname{logit}$, Bradley–Terry $p^*$",
             name_latex="logit-UPO optimum gives the $f$-DPO likelihood"),
       needs=ADMISSIBLE)
def fdpo_likelihood(d: Derivation) -> ClaimResult:
    """Proposition 3.2: Ψ = logit with Bradley–Terry p* gives the f-DPO likelihood (eq. 5/21)."""
    claim = fdpo_likelihood.about
    label = d.divergence.label
    bt, theorem = bradley_terry_reward_gaps(), theorem_3_1(d)
    if bt.status != "PROVEN" or theorem.status != "PROVEN":
        return claim.result(label, "UNDECIDED", "needs Theorem 3.1 and the Bradley-Terry step",
                            detail_latex="needs Theorem 3.1 and the Bradley–Terry step")
    pi = worked_optimum(d, BT_EXAMPLE).policy[0]
    gap = likelihood_gap(kernel_for(d.divergence), BT_EXAMPLE, pi)
    return claim.result(label, "PROVEN", "eq. 16 gives beta f'(u*_w) - beta f'(u*_l) = "
                        "Psibar(y_w) - Psibar(y_l) (Theorem 3.1), which is r_w - r_l under "
                        "Bradley-Terry; so the likelihood is sigma(r_w - r_l) = p*",
                        witness={"rewards": "0, 1/2, 2", **BT_EXAMPLE.describe(),
                                 "pi*": show(pi), "largest |likelihood - p*|": f"{gap:.1e}"},
                        detail_latex=r"eq. 16 gives $\beta f'(u^*_w) - \beta f'(u^*_l) = "
                        r"\bar\Psi(y_w) - \bar\Psi(y_l)$ (Theorem 3.1), which is $r_w - r_l$ "
                        r"under Bradley–Terry; so the likelihood is $\sigma(r_w - r_l) = p^*$")


@about(Claim("f-DPO (eq. 5) is DPO (eq. 4)", "eqs. (4), (5)",
             "-log sigma(beta f'(pi_w/piref_w) - beta f'(pi_l/piref_l)) = DPO's loss",
             "paper", "for reverse KL",
             rf"$-\log\sigma\big(\beta\,({statistic_latex(per_response_statistic)})\big)$ "
             rf"is DPO's loss $-\log\sigma\big(\beta\,({pair_latex(H)})\big)$",
             "for reverse KL",
             name_latex="$f$-DPO (eq. 5) is DPO (eq. 4)"), reverse_kl=True)
def fdpo_is_dpo(d: Derivation) -> ClaimResult | None:
    """eq. (5) → eq. (4): f-DPO's loss equals DPO's, for reverse KL (listed for it alone)."""
    return decide(fdpo_is_dpo.about, d.divergence.label, *fdpo_and_dpo(d),
                  "f'(u) = log u + 1: the constants cancel in the difference",
                  r"$f'(u) = \log u + 1$: the constants cancel in the difference")


@about(Claim("IUPO statistic (eq. 23) is IPO's h (eq. 9)", "Proposition 4.1",
             "f'(pi_w/pi_l) - f'(piref_w/piref_l) = log(pi_w/pi_l) - log(piref_w/piref_l)",
             "paper", "for reverse KL",
             f"${statistic_latex(paper_statistic)} = {pair_latex(H)}$", "for reverse KL",
             name_latex="IUPO statistic (eq. 23) is IPO's $h$ (eq. 9)"),
       reverse_kl=True)
def iupo_is_ipo(d: Derivation) -> ClaimResult | None:
    """Proposition 4.1: the IUPO statistic (eq. 23) is IPO's h (eq. 9), for reverse KL."""
    claim = iupo_is_ipo.about
    return decide(claim, d.divergence.label, paper_statistic(d), H, LOG_POINTS,
                  "f'(u) = log u + 1, so the statistic is h (eq. 25)",
                  r"$f'(u) = \log u + 1$, so the statistic is $h$ (eq. 25)")


@about(central_claim(CENTRAL_PAPER, "for admissible f, with the statistic as eq. 23 and "
                     "Algorithm 1 write it", "for admissible $f$, with the statistic as "
                     "eq. 23 and Algorithm 1 write it"), needs=ADMISSIBLE)
def paper_minimiser_is_optimum(d: Derivation) -> ClaimResult:
    """The central claim, paper statistic (eq. 23): refuted by a gradient that is not zero at π*.

    π* is interior and L(softmax(θ)) is smooth, so if π* minimised L its gradient would vanish
    there; a gradient norm far above rounding (≥ 1e-6 against ~1e-15) refutes the claim. The
    minimiser found by the engine and its total variation to π* are reported with it.
    """
    claim = paper_minimiser_is_optimum.about
    label = d.divergence.label
    spec = LossSpec("identity", d.divergence, "paper")
    pi, found, gradient = central_instance(d, spec)
    numbers = {**EXAMPLE.describe(), "pi* (eq. 22, Theorem 3.1)": show(pi),
               "minimiser of eq. 24": show(found),
               "|gradient of eq. 24 at pi*|": f"{gradient:.3g}",
               "total variation": f"{float(total_variation(found, pi)):.3g}"}
    if gradient > 1e-6:
        return claim.result(label, "REFUTED", f"the gradient of the loss at pi* is {gradient:.3g}, "
                            "not 0: pi* is not its minimiser (total variation "
                            f"{total_variation(found, pi):.3g})", counterexample=numbers,
                            detail_latex=rf"the gradient of the loss at $\pi^*$ is {gradient:.3g}, "
                            r"not 0: $\pi^*$ is not its minimiser (total variation "
                            f"{total_variation(found, pi):.3g})")
    forms = forms_equal(d)
    if forms.status == "PROVEN":
        return claim.result(label, "PROVEN", "the paper form equals the per-response form for "
                            "this f, whose minimiser is pi*", witness=numbers,
                            detail_latex="the paper form equals the per-response form for this "
                            r"$f$, whose minimiser is $\pi^*$")
    return claim.result(label, "UNDECIDED", "the gradient at pi* vanishes on the example, but "
                        "the two forms differ", witness=numbers,
                        detail_latex=r"the gradient at $\pi^*$ vanishes on the example, but the "
                        "two forms differ")
