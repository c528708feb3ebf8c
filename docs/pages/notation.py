"""The paper's notation as SymPy objects, so that hand-written pages print equations as MathML.

Undefined functions carry their display names (``π_ref`` prints as π with subscript ref).
"""

from __future__ import annotations

import sympy as sp

y, y2 = sp.symbols("y y′")
y_w, y_l = sp.symbols("y_w y_l")
t_w, t_l = sp.symbols("t_w t_l", real=True)
beta, lam = sp.symbols("β λ", positive=True)
u = sp.Symbol("u", positive=True)
h = sp.Symbol("h")
K = sp.Symbol("K", integer=True)

pi = sp.Function("π")
pi_ref = sp.Function("π_ref")
pi_star = sp.Function("π^*")
mu = sp.Function("μ")
f = sp.Function("f")
f1 = sp.Function("f′")
f1_inv = sp.Function("(f′)⁻¹")
psi = sp.Function("Ψ")
psi_bar = sp.Function("Ψ̄")
p_star = sp.Function("p^*")
eta = sp.Function("η")
sigma = sp.Function("σ")
r = sp.Function("r")


def ratio(policy: sp.FunctionClass, arg: sp.Expr) -> sp.Expr:
    """π(arg)/π_ref(arg) for a policy function ``policy``."""
    return policy(arg) / pi_ref(arg)


def sum_y(expr: sp.Expr) -> sp.Expr:
    """Σ over the actions y = 1 … K."""
    return sp.Sum(expr, (y, 1, K))


IUPO_TARGET = 1 / (2 * beta)
"""The IPO / IUPO regression target 1/(2β) (eqs. 10, 24)."""


def add(*terms: sp.Expr) -> sp.Expr:
    """A sum kept in the written order."""
    return sp.Add(*terms, evaluate=False)


def sub(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """a − b, kept as written."""
    return sp.Add(a, sp.Mul(-1, b, evaluate=False), evaluate=False)


def mul(*factors: sp.Expr) -> sp.Expr:
    """A product kept in the written order."""
    return sp.Mul(*factors, evaluate=False)
