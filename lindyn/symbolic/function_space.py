"""Function-space natural gradient flow, derived with sympy from the loss and output model.

Kerekes, Mészáros & Huszár 2021 (THEORY §4). Training outputs f = (f_1..f_n) depend on the
parameters θ through the output Jacobian J = ∂f/∂θ (n x P). The Fisher of the output model is
F = JᵀDJ, D = diag(D_1..D_n) the Fisher of each output's distribution. Natural gradient flow
θ̇ = −G∇_θℓ = −G Jᵀ∇_fℓ moves the outputs at ḟ = Jθ̇ = −(J G Jᵀ)∇_fℓ.

Reduction. If J has full row rank and G is ANY generalized inverse of F (FGF = F), then
J G Jᵀ = D⁻¹: take a right inverse R (JR = I) and sandwich FGF = F as Rᵀ(·)R, which gives
D(JGJᵀ)D = D. So ḟ = −D⁻¹∇_fℓ whatever the architecture, depth or initialisation.
`derive_reduction` checks this symbolically for the Moore–Penrose choice
G = J⁺D⁻¹J⁺ᵀ, J⁺ = Jᵀ(JJᵀ)⁻¹, with a generic symbolic J: FGF = F, FG and GF symmetric, and
JGJᵀ = D⁻¹ hold as polynomial identities (cleared of the denominator det(JJᵀ)² ∏D_i).

Per-output flows (`derive_output_flow`): D is derived from the likelihood, not typed in:
- Gaussian, log p = −½(y − f)²: D = −∂²_f log p = 1, ḟ = −(f − y), f = y + e^{−t}(f(0) − y).
- Masked Gaussian (matrix completion, model Fisher): ℓ = ½ m (f − y)² with the mask bit m ∈ {0, 1},
  D = 1 from the Gaussian model of every entry: ḟ = −m(f − y), f = y + e^{−mt}(f(0) − y), which is
  the squared flow on an observed entry (m = 1) and f = f(0) on an unobserved one (m = 0).
- Bernoulli with logit f, labels ±1, p(y|f) = 1/(1 + e^{−yf}): D = Σ_{y=±1} p(y|f)(∂_f log p(y|f))²,
  ℓ = −log p(y|f); with the margin m = yf the flow is ṁ = 1 + e^{−m} for both labels, solved by
  `sympy.dsolve` to m(t) = ln[(e^{m(0)} + 1)e^t − 1].

Floating-point form (`OutputFlow.stable`). The dsolve result overflows for large t or m(0)
(e^t, e^{m0}). `_stable_form` rewrites it with sympy: pull the growth e^t out of the logarithm,
m = t + ln(e^{m0} + 1 − e^{−t}), split the argument into the term that carries m0 and the rest,
m = t + logaddexp(m0, ln(1 − e^{−t})), and write 1 − e^{−t} as −expm1(−t) (sympy's
`expm1_opt`). The rewrite is checked equal to the dsolve result with `sympy.simplify` before it is
returned; lambdified with numpy it stays finite and accurate for any t >= 0 and finite m0.
This module imports sympy, never numpy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sympy
from sympy.codegen.cfunctions import expm1
from sympy.codegen.numpy_nodes import logaddexp
from sympy.codegen.rewriting import expm1_opt, optimize

from .._checks import check_int, fail

__all__ = ["OutputFlow", "derive_output_flow", "derive_reduction", "ReductionCheck", "LOSS_NAMES"]

LOSS_NAMES = ("logistic", "squared", "masked")


@dataclass(frozen=True)
class OutputFlow:
    """The derived function-space flow of one training output.

    Attributes:
        loss: "logistic" or "squared".
        variable: the state (margin m for logistic, output f for squared), a sympy Function of t.
        fisher: the output Fisher D as a function of f.
        loss_expr: ℓ as a function of f (and the label y for squared loss).
        ode: sympy.Eq(d variable/dt, rhs) after the reduction ḟ = −D⁻¹∇_fℓ.
        solution: sympy.Eq(variable(t), closed form) with initial value m0 / f0.
        symbols: name -> sympy Symbol (t, f, y, m, m0 / f0).
        stable: the right side of `solution` rewritten for floating point (no overflow for
            t >= 0; see the module docstring), checked equal to it by `sympy.simplify`.
    """

    loss: str
    variable: sympy.Expr
    fisher: sympy.Expr
    loss_expr: sympy.Expr
    ode: sympy.Eq
    solution: sympy.Eq
    symbols: dict
    stable: sympy.Expr


def _stable_form(solution: sympy.Expr, t: sympy.Symbol, x0: sympy.Symbol) -> sympy.Expr:
    """Rewrite a solution ln(g(t, x0)) that grows like t into t + logaddexp(·, ·) with expm1.

    ln g = t + ln(g e^{−t}); g e^{−t} = (terms with x0) + (rest) = e^{a} + b gives
    t + logaddexp(a, ln b), and b = 1 − e^{−t} becomes −expm1(−t). A solution that is not a
    logarithm (squared loss: y + e^{−t}(f0 − y), bounded for t >= 0) is returned unchanged.
    """
    if not isinstance(solution, sympy.log):
        return solution
    inner = sympy.expand(solution.args[0] * sympy.exp(-t))
    rest, grow = inner.as_independent(x0, as_Add=True)
    stable = t + logaddexp(sympy.expand_log(sympy.log(grow), force=True), sympy.log(optimize(rest, [expm1_opt])))
    # Back to elementary functions, then compare with the dsolve result exactly.
    elementary = stable.rewrite(sympy.log).replace(expm1, lambda z: sympy.exp(z) - 1)
    if sympy.simplify(elementary - solution) != 0:      # pragma: no cover - a derivation check
        raise AssertionError(f"stable rewrite {stable} differs from the solution {solution}")
    return stable


def _logistic() -> OutputFlow:
    f, m, t, m0 = sympy.symbols("f m t m_0", real=True)

    def log_p(label: int) -> sympy.Expr:
        return -sympy.log(1 + sympy.exp(-label * f))

    # Fisher of the Bernoulli output: E_y[(∂_f log p(y|f))²], the expectation a sum over y = ±1.
    D = sympy.simplify(sum(sympy.exp(log_p(label)) * sympy.diff(log_p(label), f) ** 2 for label in (1, -1)))
    rates = []
    for label in (1, -1):
        ell = -log_p(label)
        f_dot = -sympy.diff(ell, f) / D                     # ḟ = −D⁻¹ ∂ℓ/∂f
        m_dot = (label * f_dot).subs(f, label * m)          # m = y f, ṁ = y ḟ
        rates.append(sympy.simplify(sympy.expand(m_dot.rewrite(sympy.exp))))
    if sympy.simplify(rates[0] - rates[1]) != 0:            # pragma: no cover - a derivation check
        raise AssertionError(f"margin rates differ between labels: {rates}")
    m_fn = sympy.Function("m")
    ode = sympy.Eq(m_fn(t).diff(t), rates[0].subs(m, m_fn(t)))
    solution = sympy.dsolve(ode, m_fn(t), ics={m_fn(0): m0})
    y = sympy.Symbol("y", real=True)
    return OutputFlow("logistic", m_fn(t), D, sympy.log(1 + sympy.exp(-y * f)), ode, solution,
                      {"t": t, "f": f, "m": m, "m0": m0, "y": y}, _stable_form(solution.rhs, t, m0))


def _squared() -> OutputFlow:
    f, y, t, f0 = sympy.symbols("f y t f_0", real=True)
    log_p = -(y - f) ** 2 / 2
    D = sympy.simplify(-sympy.diff(log_p, f, 2))            # Gaussian: −∂²log p is free of y
    ell = (f - y) ** 2 / 2
    f_fn = sympy.Function("f")
    ode = sympy.Eq(f_fn(t).diff(t), (-sympy.diff(ell, f) / D).subs(f, f_fn(t)))
    solution = sympy.dsolve(ode, f_fn(t), ics={f_fn(0): f0})
    return OutputFlow("squared", f_fn(t), D, ell, ode, solution, {"t": t, "f": f, "y": y, "f0": f0},
                      _stable_form(solution.rhs, t, f0))


def _masked() -> OutputFlow:
    f, y, t, f0 = sympy.symbols("f y t f_0", real=True)
    mk = sympy.Symbol("m", nonnegative=True)
    log_p = -(y - f) ** 2 / 2                                # the model: a unit Gaussian on every entry
    D = sympy.simplify(-sympy.diff(log_p, f, 2))
    ell = mk * (f - y) ** 2 / 2                              # the loss sees the entry only when observed
    f_fn = sympy.Function("f")
    ode = sympy.Eq(f_fn(t).diff(t), sympy.factor((-sympy.diff(ell, f) / D).subs(f, f_fn(t))))
    solution = sympy.dsolve(ode, f_fn(t), ics={f_fn(0): f0})
    rhs = solution.rhs
    if rhs.has(sympy.Piecewise):                            # dsolve may split off m = 0; the general branch holds
        rhs = sympy.piecewise_fold(rhs).args[-1][0] if rhs.args[-1][1] == sympy.true else rhs.args[0][0]
    solution = sympy.Eq(f_fn(t), sympy.collect(sympy.expand(rhs), sympy.exp(-mk * t)))
    return OutputFlow("masked", f_fn(t), D, ell, ode, solution, {"t": t, "f": f, "y": y, "f0": f0, "mask": mk},
                      _stable_form(solution.rhs, t, f0))


def derive_output_flow(loss: Literal["logistic", "squared", "masked"]) -> OutputFlow:
    """Derive ḟ = −D⁻¹∇_fℓ for one output and solve it with `sympy.dsolve`.

    logistic: ṁ = 1 + e^{−m}, m(t) = ln[(e^{m0} + 1)e^t − 1] (m = yf, D = σ(f)σ(−f));
    squared: ḟ = y − f, f(t) = y + e^{−t}(f0 − y) (D = 1);
    masked: ḟ = −m(f − y), f(t) = y + e^{−mt}(f0 − y) (mask bit m, model Fisher D = 1).

    Args:
        loss: "logistic", "squared" or "masked".

    Returns:
        The `OutputFlow` with the ODE and its solution.

    >>> derive_output_flow("logistic").ode
    Eq(Derivative(m(t), t), 1 + exp(-m(t)))
    >>> derive_output_flow("squared").solution
    Eq(f(t), y + (f_0 - y)*exp(-t))
    >>> derive_output_flow("masked").solution
    Eq(f(t), y + (f_0 - y)*exp(-m*t))
    >>> derive_output_flow("logistic").stable
    t + logaddexp(m_0, log(-expm1(-t)))
    """
    # === check arguments
    if loss not in LOSS_NAMES:
        raise fail("loss", "one of " + ", ".join(repr(x) for x in LOSS_NAMES), loss)
    return {"logistic": _logistic, "squared": _squared, "masked": _masked}[loss]()


@dataclass(frozen=True)
class ReductionCheck:
    """Symbolic check of J G Jᵀ = D⁻¹ for the Moore–Penrose G and a generic full-row-rank J.

    Attributes:
        n_outputs, n_params: shape of J.
        generalized_inverse: FGF = F holds identically.
        symmetric: FG and GF are symmetric (with FGF = F: the Moore–Penrose conditions that
            involve F once).
        reduces: JGJᵀ = D⁻¹ holds identically.
    """

    n_outputs: int
    n_params: int
    generalized_inverse: bool
    symmetric: bool
    reduces: bool

    @property
    def holds(self) -> bool:
        """All three identities hold."""
        return self.generalized_inverse and self.symmetric and self.reduces


def derive_reduction(n_outputs: int = 2, n_params: int = 3) -> ReductionCheck:
    """Check symbolically that NGF moves full-row-rank outputs by ḟ = −D⁻¹∇_fℓ.

    With J (n x P, entries independent symbols, so full row rank generically), D = diag(d_i > 0),
    F = JᵀDJ and G = J⁺D⁻¹J⁺ᵀ with J⁺ = Jᵀ adj(JJᵀ)/det(JJᵀ), verify as polynomial identities
    FGF = F, (FG)ᵀ = FG, (GF)ᵀ = GF and JGJᵀ = D⁻¹.

    Args:
        n_outputs: n >= 1 (rows of J).
        n_params: P >= n (columns of J); cost grows fast, (2, 3) takes about 3 s.

    Returns:
        A `ReductionCheck`.

    >>> derive_reduction(1, 2).holds
    True
    """
    # === check arguments
    n = check_int(n_outputs, "n_outputs", minimum=1, maximum=3)
    P = check_int(n_params, "n_params", minimum=n, maximum=4)
    J = sympy.Matrix(n, P, lambda a, b: sympy.Symbol(f"j_{a}{b}", real=True))
    d = sympy.symbols(f"d_0:{n}", positive=True)
    S = J * J.T
    adj = S.adjugate()
    det = sympy.expand(S.det())
    prod_d = sympy.Mul(*d)
    # D⁻¹ scaled by ∏d and J⁺ by det: G_num = det² ∏d · G is a polynomial matrix.
    D_inv_num = sympy.diag(*[sympy.Mul(*[d[k] for k in range(n) if k != i]) for i in range(n)])
    G_num = J.T * adj * D_inv_num * adj * J
    F = J.T * sympy.diag(*d) * J

    def is_zero(M: sympy.Matrix) -> bool:
        return all(sympy.expand(e) == 0 for e in M)

    reduces = is_zero(J * G_num * J.T - det ** 2 * D_inv_num)
    FG, GF = F * G_num, G_num * F
    symmetric = is_zero(FG.T - FG) and is_zero(GF.T - GF)
    generalized = is_zero(FG * F - det ** 2 * prod_d * F)
    return ReductionCheck(n, P, generalized, symmetric, reduces)
