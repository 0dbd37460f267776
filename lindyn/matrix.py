"""Whole-matrix closed forms beyond aligned modes: two-layer λ-balanced networks (any alignment, any widths).

`derive_matrix(rule, problem)` derives the rule's matrix Riccati form symbolically
(`lindyn.symbolic.riccati`: for GD, Q = [W₁ᵀ; W₂] obeys τQ̇ = FQ − ½Q(QᵀQ) on W₂ᵀW₂ − W₁W₁ᵀ = λI,
F = [[−(λ/2)I, Sᵀ], [S, (λ/2)I]], so P = QQᵀ solves τṖ = FP + PF − P²), turns F into numbers for
the problem's task and evaluates

    P(t) = e^{Ft/τ}Q₀ [I + Q₀ᵀ(∫₀^{t/τ} e^{2Fs}ds)Q₀]⁻¹ Q₀ᵀe^{Ft/τ}

(Fukumizu 1998; Braun, Dominé, Fitzgerald & Saxe 2022; Dominé et al. 2024) without overflow at any t
(`lindyn.numeric.riccati`). Its blocks are the representations and the network map:

    P = [[W₁ᵀW₁, W₁ᵀW₂ᵀ], [W₂W₁, W₂W₂ᵀ]].

The neural tangent kernel of f(x) = W₂W₁x is Θ(x, x') = (xᵀx') W₂W₂ᵀ + (xᵀW₁ᵀW₁x') I, i.e. on the
end-to-end map (whitened input) the operator K(G) = W₂W₂ᵀG + GW₁ᵀW₁ = JJᵀ, read off P as well.

>>> import numpy as np
>>> from lindyn import GD, LambdaBalanced, Network, Problem, Task
>>> p = Problem(Network((3, 3, 3)), Task(np.diag([3.0, 2.0, 1.0])), LambdaBalanced(lam=0.5, scale=0.1))
>>> sol = derive_matrix(GD(), p)
>>> bool(np.allclose(sol.network_map([1e6])[0], np.diag([3.0, 2.0, 1.0])))
True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ._checks import NoModeDecomposition, fail
from .problem import Network, Problem, Task
from .numeric.riccati import RiccatiSolution, riccati_solution
from .symbolic.riccati import RiccatiForm, derive_riccati

__all__ = ["MatrixSolution", "derive_matrix", "balance_lambda", "riccati_matrix", "BALANCE_RTOL"]

#: Relative tolerance of the λ-balance check ‖W₂ᵀW₂ − W₁W₁ᵀ − λI‖ <= BALANCE_RTOL · max(1, ‖W₁‖², ‖W₂‖²).
BALANCE_RTOL = 1e-10


def balance_lambda(W1: Any, W2: Any) -> float:
    """λ with W₂ᵀW₂ − W₁W₁ᵀ = λI, or a `LindynError` naming `init` if the weights are not λ-balanced."""
    W1 = np.asarray(W1, dtype=float)
    W2 = np.asarray(W2, dtype=float)
    C = W2.T @ W2 - W1 @ W1.T
    h = C.shape[0]
    lam = float(np.trace(C)) / h
    size = max(1.0, float(np.abs(W1).max()) ** 2, float(np.abs(W2).max()) ** 2)
    off = float(np.abs(C - lam * np.eye(h)).max())
    if off > BALANCE_RTOL * size * max(1, h):
        raise fail("init", "λ-balanced weights, W₂ᵀW₂ − W₁W₁ᵀ = λI (e.g. LambdaBalanced(lam)); the closed form "
                           "needs it", f"weights whose W₂ᵀW₂ − W₁W₁ᵀ is {off:.3g} away from a multiple of I")
    return lam


def riccati_matrix(form: RiccatiForm, Sigma_yx: Any, lam: float) -> np.ndarray:
    """F of a derived `RiccatiForm` as numbers ((n₀ + n₂) square) for S = Σ_yx (n₂ x n₀) and balance λ."""
    import sympy
    from .symbolic.riccati import LAM, S, ST
    S_ = np.asarray(Sigma_yx, dtype=float)
    n2, n0 = S_.shape
    values = {S: S_, ST: S_.T}
    sizes = ((n0, n0), (n0, n2)), ((n2, n0), (n2, n2))

    def block(expr: Any, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape)
        for term in sympy.Add.make_args(sympy.expand(sympy.sympify(expr).subs(LAM, lam))):
            coeff, mats = term.args_cnc()
            c = float(sympy.Mul(*coeff))
            if not mats:
                out += c * np.eye(*shape)
            elif len(mats) == 1 and mats[0] in values:
                out += c * values[mats[0]]
            else:
                raise NoModeDecomposition(f"F block {expr} is not linear in S")
        return out

    return np.block([[block(form.F[i][j], sizes[i][j]) for j in range(2)] for i in range(2)])


def _times(t: Any) -> np.ndarray:
    try:
        arr = np.asarray(t, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise fail("t", "a sequence of times >= 0", t) from None
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise fail("t", "a non-empty sequence of finite times >= 0", t)
    return arr


@dataclass(frozen=True)
class MatrixSolution:
    """The closed-form whole-matrix trajectory of a two-layer λ-balanced net under `rule`.

    Attributes:
        problem, rule: what it solves.
        form: the derived `RiccatiForm` (symbolic F, the balance rate, LaTeX).
        lam: the init's balance λ (W₂ᵀW₂ − W₁W₁ᵀ = λI, conserved).
        F: F as numbers ((n₀ + n₂) square).
        kappa: κ of the derived form (τQ̇ = FQ − κQ(QᵀQ); ½ for GD): P = P̃/(2κ), P̃ the standard Riccati solution.
    """

    problem: Problem
    rule: Any
    form: RiccatiForm
    lam: float
    F: np.ndarray = field(repr=False)
    solution: RiccatiSolution = field(repr=False)
    kappa: float = 0.5

    @property
    def widths(self) -> tuple[int, int, int]:
        """(n₀, h, n₂)."""
        return tuple(self.problem.network.widths)  # type: ignore[return-value]

    def P(self, t: Sequence[float]) -> np.ndarray:
        """(T, n₀ + n₂, n₀ + n₂): P(t) = QQᵀ, Q = [W₁ᵀ; W₂]."""
        return self.solution.P(_times(t) / self.problem.tau) / (2 * self.kappa)

    def factor(self, t: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """(W̃₁ (T, h, n₀), W̃₂ (T, n₂, h)): weights with the same P(t) as W₁(t), W₂(t) (W̃₁ = RW₁, W̃₂ = W₂Rᵀ for an orthogonal h x h R)."""
        X = self.solution.factor(_times(t) / self.problem.tau) / np.sqrt(2 * self.kappa)
        n0 = self.widths[0]
        return np.swapaxes(X[:, :n0], 1, 2), X[:, n0:]

    def network_map(self, t: Sequence[float]) -> np.ndarray:
        """(T, n₂, n₀): W(t) = W₂W₁, the lower-left block of P."""
        W1, W2 = self.factor(t)
        return W2 @ W1

    def representations(self, t: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """(W₁ᵀW₁ (T, n₀, n₀), W₂W₂ᵀ (T, n₂, n₂)): the input- and output-side Gram matrices of the hidden layer."""
        W1, W2 = self.factor(t)
        return np.swapaxes(W1, 1, 2) @ W1, W2 @ np.swapaxes(W2, 1, 2)

    def ntk(self, t: Sequence[float]) -> np.ndarray:
        """(T, n₀n₂, n₀n₂): the tangent kernel on vec(W) (column-major), K = I ⊗ W₂W₂ᵀ + W₁ᵀW₁ ⊗ I."""
        K1, K2 = self.representations(t)
        n0, _, n2 = self.widths
        I0, I2 = np.eye(n0), np.eye(n2)
        return np.stack([np.kron(I0, b) + np.kron(a, I2) for a, b in zip(K1, K2)])

    def kernel_distance(self, t: Sequence[float]) -> np.ndarray:
        """(T,): 1 − ⟨K(0), K(t)⟩_F / (‖K(0)‖_F ‖K(t)‖_F), how far the tangent kernel has moved (0: lazy).

        Computed from the blocks without forming K: ⟨I⊗B + A⊗I, I⊗B' + A'⊗I⟩ =
        n₀ tr(BB') + tr(A)tr(B') + tr(B)tr(A') + n₂ tr(AA').
        """
        K1, K2 = self.representations(np.concatenate([[0.0], _times(t)]))
        n0, _, n2 = self.widths

        def inner(i: int, j: int) -> np.ndarray:
            return (n0 * np.einsum("ab,ab->", K2[i], K2[j]) + np.trace(K1[i]) * np.trace(K2[j])
                    + np.trace(K2[i]) * np.trace(K1[j]) + n2 * np.einsum("ab,ab->", K1[i], K1[j]))

        norm0 = np.sqrt(inner(0, 0))
        out = np.array([1.0 - inner(0, k) / (norm0 * np.sqrt(inner(k, k))) for k in range(1, len(K1))])
        return np.clip(out, 0.0, 1.0)

    def representation_distance(self, t: Sequence[float]) -> np.ndarray:
        """(T,): 1 − cos∠(W₁ᵀW₁(0), W₁ᵀW₁(t)) in the Frobenius inner product (how far the hidden representation moves)."""
        K1, _ = self.representations(np.concatenate([[0.0], _times(t)]))
        a = K1[0].ravel()
        out = [1.0 - float(a @ b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b)) for b in K1[1:]]
        return np.clip(np.array(out), 0.0, 1.0)

    def loss(self, t: Sequence[float]) -> np.ndarray:
        """(T,): excess loss ½‖W(t) − W*‖²_F."""
        return np.array([self.problem.task.loss(W) for W in self.network_map(t)])

    def latex(self) -> str:
        """The derived Riccati equation, F and the solution, as LaTeX."""
        return (self.form.latex()[:-len(r"\end{aligned}")] + r",\\ &P(t) = e^{Ft/\tau}Q_0\Big[I + Q_0^{\top}"
                r"\Big(\int_0^{t/\tau}e^{2Fs}\,ds\Big)Q_0\Big]^{-1}Q_0^{\top}e^{Ft/\tau}\end{aligned}")


def derive_matrix(rule: Any, problem: Problem) -> MatrixSolution:
    """Closed-form whole-matrix dynamics of a two-layer λ-balanced linear network (whitened input).

    The rule's Riccati form is derived from its definition (`derive_riccati`); the problem supplies
    S = Σ_yx, τ and the initial weights, whose balance λ is read off (`balance_lambda`).

    Args:
        rule: a learning rule with a Riccati form (GD, or GD scaled by a constant).
        problem: `Network((n₀, h, n₂))` (linear, no bias) on a `Task` with Σ_xx = I and a λ-balanced
            init (e.g. `LambdaBalanced(lam)`; aligned or not, any widths).

    Raises:
        LindynError: the problem is not a two-layer linear net on whitened moments, or its init is
            not λ-balanced.
        NoModeDecomposition: the rule has no Riccati form (it reads the curvature or breaks balance).
    """
    if not isinstance(problem, Problem):
        raise fail("problem", "a lindyn.Problem", problem)
    net = problem.network
    if not isinstance(net, Network) or net.depth != 2 or not net.linear:
        raise fail("problem", "a two-layer linear network without biases, Network((n0, h, n2))", net)
    if not isinstance(problem.task, Task):
        raise fail("problem", "moment data (a lindyn.Task)", problem.task)
    Sxx = problem.task.Sigma_xx
    if not np.allclose(Sxx, np.eye(len(Sxx)), rtol=0, atol=1e-12):
        raise fail("problem", "whitened input, Task(Sigma_yx) with Sigma_xx = I (the Riccati form needs Σ_xx = I)",
                   "a task with Sigma_xx != I")
    form = derive_riccati(rule)
    W1, W2 = problem.initial_weights()
    lam = balance_lambda(W1, W2)
    F = riccati_matrix(form, problem.task.Sigma_yx, lam)
    kappa = float(form.kappa)
    Q0 = np.sqrt(2 * kappa) * np.vstack([W1.T, W2])     # P̃ = 2κP solves Ṗ̃ = FP̃ + P̃F − P̃²
    return MatrixSolution(problem=problem, rule=rule, form=form, lam=lam, F=F,
                          solution=riccati_solution(F, Q0), kappa=kappa)



