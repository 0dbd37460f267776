"""Whole-matrix closed forms (issue 13 part 2): the derived Riccati form and its stable solution.

Routes: (1) the closed form against full-matrix integration of the layer-wise GD flow (`integrate`,
DOP853 at rtol 1e-12) for widths (3,3,3), (4,3,5), (5,3,4), λ ∈ {−1, 0, 0.5, 2}, random and aligned
inits: <= 1e-8 (the issue's bound; we see <= 2e-10); (2) the stable evaluation against the unfactored
formula in 60-digit mpmath at stiff points (t up to 1e6, s over 1e-3..1e3, init 1e-12): <= 1e-12
relative to ‖P‖; (3) invariants: the conserved balance, P ⪰ 0 of rank h, the fixed point W = S.
"""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

from lindyn import (GD, NGD, BlockNGD, Flow, LambdaBalanced, LindynError, Network, NoModeDecomposition, Problem,
                    Scaled, Task, derive_matrix, integrate, kfac)
from lindyn.problem import random_orthogonal
from lindyn.symbolic.riccati import LAM, S, ST, derive_riccati

WIDTHS = [(3, 3, 3), (4, 3, 5), (5, 3, 4)]
LAMS = [-1.0, 0.0, 0.5, 2.0]


def _task(w: tuple[int, int, int], seed: int = 0) -> Task:
    rng = np.random.default_rng(seed)
    return Task(rng.normal(size=(w[2], w[0])))


def test_gd_riccati_form_is_derived() -> None:
    form = derive_riccati(GD())
    assert form.balance_rate == 0
    (f11, f12), (f21, f22) = form.F
    assert (f11, f12, f21, f22) == (-LAM / 2, ST, S, LAM / 2)     # Braun et al. 2022 / THEORY §2 oracle


def test_scaled_gd_is_gd_on_a_faster_clock() -> None:
    two = Scaled(GD(), by=lambda geo: 2, label="2gd")
    form = derive_riccati(two)
    assert form.kappa == 1 and form.F[0][1] == 2 * ST
    w = (4, 3, 5)
    p = Problem(Network(w), _task(w), LambdaBalanced(lam=0.5, scale=0.2))
    t = np.array([0.3, 1.0, 4.0])
    assert np.allclose(derive_matrix(two, p).network_map(t), derive_matrix(GD(), p).network_map(2 * t),
                       rtol=0, atol=1e-13)


@pytest.mark.parametrize("rule", [NGD(), BlockNGD(), kfac()], ids=["ngd", "block", "kfac"])
def test_curvature_rules_have_no_riccati_form(rule) -> None:
    with pytest.raises(NoModeDecomposition, match="curvature"):
        derive_riccati(rule)


@pytest.mark.parametrize("widths", WIDTHS)
@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize("kind", ["random", "aligned"])
def test_closed_form_matches_integration(widths, lam, kind) -> None:
    p = Problem(Network(widths), _task(widths), LambdaBalanced(lam=lam, scale=0.3, kind=kind, seed=1))
    sol = derive_matrix(GD(), p)
    assert sol.lam == pytest.approx(lam, abs=1e-12)
    t = np.linspace(0.0, 15.0, 16)
    tr = integrate(p, GD(), t, Flow(rtol=1e-12, atol=1e-14))
    assert np.abs(sol.network_map(t) - tr.W_end).max() <= 1e-8
    K1, K2 = sol.representations(t)
    W1, W2 = tr.W
    assert np.abs(K1 - np.swapaxes(W1, 1, 2) @ W1).max() <= 1e-8
    assert np.abs(K2 - W2 @ np.swapaxes(W2, 1, 2)).max() <= 1e-8


def test_tau_rescales_time() -> None:
    w = (4, 3, 5)
    p1 = Problem(Network(w), _task(w), LambdaBalanced(lam=0.5, scale=0.2))
    p2 = Problem(Network(w), _task(w), LambdaBalanced(lam=0.5, scale=0.2), tau=3.0)
    t = np.array([0.5, 2.0, 7.0])
    assert np.allclose(derive_matrix(GD(), p2).network_map(3 * t), derive_matrix(GD(), p1).network_map(t),
                       rtol=0, atol=1e-14)


def _mp_P(F: np.ndarray, Q0: np.ndarray, t: float) -> np.ndarray:
    """The unfactored formula e^{Ft}Q₀[I + Q₀ᵀ(∫e^{2Fs})Q₀]⁻¹Q₀ᵀe^{Ft} in mpmath (independent route).

    Entries span e^{±2 d_max t}: the working precision grows with t so that the cancellations stay exact.
    """
    d_max = float(np.abs(np.linalg.eigvalsh(F)).max())
    with mpmath.workdps(int(4 * d_max * t / 2.3) + 60):
        Fm = mpmath.matrix(F.tolist())
        d, O = mpmath.eigsy(Fm)
        n = F.shape[0]
        E = mpmath.matrix(n, n)
        Phi = mpmath.matrix(n, n)
        for k in range(n):
            tk = mpmath.mpf(t)
            e = mpmath.exp(d[k] * tk)
            phi = (mpmath.exp(2 * d[k] * tk) - 1) / (2 * d[k]) if d[k] != 0 else tk
            E[k, k], Phi[k, k] = e, phi
        Q = mpmath.matrix(Q0.tolist())
        X = O * E * O.T * Q
        G = mpmath.eye(Q0.shape[1]) + Q.T * O * Phi * O.T * Q
        P = X * mpmath.inverse(G) * X.T
        return np.array(P.tolist(), dtype=float)


@pytest.mark.parametrize("seed", [0, 1])
def test_stable_evaluation_against_mpmath(seed) -> None:
    rng = np.random.default_rng(seed)
    U, V = random_orthogonal(3, rng), random_orthogonal(4, rng)
    S_ = U @ np.diag([30.0, 1.0, 1e-3]) @ V[:, :3].T                 # (3 x 4), s over four decades
    for lam, scale in ((0.0, 1e-12), (0.7, 1e-6), (-2.0, 1e-3)):
        p = Problem(Network((4, 3, 3)), Task(S_), LambdaBalanced(lam=lam, scale=scale, seed=seed))
        sol = derive_matrix(GD(), p)
        Q0 = np.vstack([p.initial_weights()[0].T, p.initial_weights()[1]])
        for t in (1e-3, 0.05, 0.5, 3.0, 20.0):                      # d_max t up to 600: e^{1200} in G
            P = sol.P([t])[0]
            ref = _mp_P(sol.F, Q0, t)
            assert np.abs(P - ref).max() <= 1e-12 * max(1.0, np.abs(ref).max()), (lam, scale, t)


def test_no_overflow_and_limits() -> None:
    rng = np.random.default_rng(3)
    U, V = random_orthogonal(3, rng), random_orthogonal(3, rng)
    s = np.array([1e6, 1.0, 1e-6])
    S_ = U @ np.diag(s) @ V.T
    p = Problem(Network((3, 3, 3)), Task(S_), LambdaBalanced(lam=0.0, scale=1e-12, seed=2))
    sol = derive_matrix(GD(), p)
    t = np.array([0.0, 1e-9, 1.0, 1e3, 1e6, 1e9, 1e300])
    P = sol.P(t)
    assert np.isfinite(P).all()
    W = sol.network_map(t)
    assert np.abs(W[-1] - S_).max() <= 1e-9 * s.max()                   # the fixed point W = S
    assert np.abs(W[0] - p.initial_weights()[1] @ p.initial_weights()[0]).max() <= 1e-25


@pytest.mark.parametrize("lam", LAMS)
def test_invariants_along_the_solution(lam) -> None:
    w = (5, 3, 4)
    p = Problem(Network(w), _task(w, 2), LambdaBalanced(lam=lam, scale=0.5, kind="orthogonal", seed=4))
    P = derive_matrix(GD(), p).P(np.geomspace(1e-3, 1e3, 25))
    ev = np.linalg.eigvalsh(P)
    assert ev.min() >= -1e-12 * ev.max()                                # P = QQᵀ ⪰ 0
    assert (ev > 1e-9 * ev.max(axis=1, keepdims=True)).sum(axis=1).max() <= 3   # rank <= h


def test_kernel_distance_from_blocks() -> None:
    w = (3, 2, 2)
    p = Problem(Network(w), _task(w, 5), LambdaBalanced(lam=0.3, scale=0.2, seed=0))
    sol = derive_matrix(GD(), p)
    t = np.array([0.5, 5.0])
    K = sol.ntk(np.concatenate([[0.0], t]))
    ref = [1 - np.sum(K[0] * K[k]) / (np.linalg.norm(K[0]) * np.linalg.norm(K[k])) for k in (1, 2)]
    assert np.allclose(sol.kernel_distance(t), ref, rtol=1e-10, atol=1e-14)
    # the kernel equals JJᵀ of the network map: K vec(G) = vec(W₂W₂ᵀG + G W₁ᵀW₁)
    K1, K2 = sol.representations([5.0])
    G = np.random.default_rng(0).normal(size=(2, 3))
    assert np.allclose(K[2] @ G.ravel(order="F"), (K2[0] @ G + G @ K1[0]).ravel(order="F"))


@pytest.mark.parametrize("make, param", [
    (lambda: Problem(Network((3, 3, 3, 3)), Task(np.eye(3)), LambdaBalanced()), "network"),
    (lambda: Problem(Network((3, 3, 3)), Task(np.eye(3), 2 * np.eye(3)), LambdaBalanced()), "problem"),
    (lambda: Problem(Network((3, 3, 3)), Task(np.eye(3)), __import__("lindyn").SmallRandom(0.1)), "init"),
    (lambda: Problem(Network((2, 3, 4)), Task(np.ones((4, 2))), LambdaBalanced(lam=-1.0)), "lam"),
    (lambda: Problem(Network((4, 3, 2)), Task(np.ones((2, 4))), LambdaBalanced(lam=1.0)), "lam"),
])
def test_bad_problems_are_named(make, param) -> None:
    with pytest.raises(LindynError, match=param):
        derive_matrix(GD(), make())


def test_bad_times() -> None:
    p = Problem(Network((3, 3, 3)), Task(np.eye(3)), LambdaBalanced(lam=0.1))
    sol = derive_matrix(GD(), p)
    for bad in ([-1.0], [np.nan], []):
        with pytest.raises(LindynError, match="`t`"):
            sol.network_map(bad)


def _cli(*argv: str) -> tuple[int, str, str]:
    import contextlib
    import io

    from lindyn.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("init", ["random", "orthogonal"])
def test_cli_matrix_json_contract(init) -> None:
    import json
    code, out, _ = _cli("matrix", "--rule", "gd", "--depth", "2", "--lam", "-1", "--init", init, "--seed", "3",
                        "--widths", "5,3,4", "--t", "0,0.5,2,40", "--json")
    assert code == 0
    d = json.loads(out)
    W, Wi = np.array(d["W"]), np.array(d["W_integrated"])
    assert W.shape == Wi.shape == (4, 4, 5)                            # [t][row][col], n2 x n0
    assert d["t"] == [0.0, 0.5, 2.0, 40.0]
    assert d["max_abs_diff"] == pytest.approx(np.abs(W - Wi).max(), rel=1e-12)
    assert d["max_abs_diff"] <= 1e-8
    # the closed form converges to the target the command built (an invariant: W(∞) = Σ_yx)
    assert np.abs(W[-1] - np.array(d["Sigma_yx"])).max() < 1e-3


@pytest.mark.parametrize("argv, flag", [
    (("--rule", "ngd"), "curvature"), (("--depth", "3"), "--depth"), (("--lam", "1", "--widths", "3,3,2", "--s", "1"),
                                                                      "--lam"),
    (("--t", "1,0"), "--t"), (("--init", "wild"), "--init"), (("--s", "1,2,3,4", "--widths", "3,3,3"), "--s"), (("--scale", "-1"), "--scale"),
])
def test_cli_matrix_errors_are_one_line(argv, flag) -> None:
    code, out, err = _cli("matrix", *argv)
    assert code == 2 and flag in err and len(err.strip().splitlines()) == 1
