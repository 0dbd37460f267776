"""Saxe et al. 2014, Sec. 2 and Fig. 4: discrete steps keep deep learning time finite.

The flow's learning time goes to 0 with depth, but "any implementation will operate in discrete
time": the largest stable rate of GD falls as O(1/(N_l s²)) (N_l layers of neurons, L = N_l − 1
weight matrices), and the iterations to learn a mode at the optimal rate saturate as depth grows,
with t_∞ − t_3 ~ O(s/ε) iterations from a start u0 = ε (their Supp. B). Checked two ways:

- the derived map a ← a + ηφ(a) of a balanced GD mode (`lindyn.discrete.derive_discrete`);
- full weight matrices trained by discrete GD on a real task, scikit-learn's digits (the optional
  extra `lindyn[digits]`), from a scaled random orthogonal init with end-to-end singular values ε.

Per depth, 20 log-spaced rates are tried (Saxe's protocol) and the fastest is kept; "learned" means
the mode (or the training loss) entered the target band and stayed there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from lindyn import GD, Discrete, LindynError, LindynFailure, Network, Problem, RandomOrthogonal, Task, integrate
from lindyn.claims import Claim, Evidence, Measurement, Plot
from lindyn.discrete import derive_discrete
from lindyn.papers import curve

#: Saxe's protocol: 20 log-spaced learning rates per depth [Saxe et al. 2014, Fig. 4]; range [chosen example].
RATES = np.geomspace(1e-3, 2.0, 20)
#: A mode counts as learned when |u − s| <= BAND·s from then on [chosen example].
BAND = 0.1
#: Depths in layers of neurons N_l (L = N_l − 1 weight matrices).
DEPTHS = (3, 5, 10, 20, 50, 100)
DEPTHS_THOROUGH = (3, 4, 5, 7, 10, 15, 20, 30, 50, 70, 100)


@dataclass(frozen=True)
class RateScan:
    """Iterations to learn at each tried rate (None: not learned within the budget, or skipped) and the best."""

    depth: int                    # N_l
    rates: tuple[float, ...]
    steps: tuple[int | None, ...]
    best_rate: float
    best_steps: int


def _scan(run: Any, rates: Sequence[float], depth: int) -> RateScan:
    """Try rates from the largest down; stop once two successive smaller rates are slower than the best.

    Below the optimal rate the iterations grow monotonically as the rate falls (the map is slower at
    every point), so the rates after two slower ones are not run (recorded as None).
    """
    steps: list[int | None] = [None] * len(rates)
    best, worse = None, 0
    for j in range(len(rates) - 1, -1, -1):
        cap = None if best is None else 3 * best
        n = run(float(rates[j]), cap)
        steps[j] = n
        if n is not None and (best is None or n < best):
            best, worse = n, 0
        elif best is not None:
            worse += 1
            if worse >= 2:
                break
    if best is None:
        raise LindynError(f"Argument `rates` must contain a rate at which depth N_l = {depth} learns; none did.")
    j_best = min((j for j in range(len(rates)) if steps[j] == best), key=lambda j: -rates[j])
    return RateScan(depth, tuple(float(r) for r in rates), tuple(steps), float(rates[j_best]), int(best))


def scan_map(depth: int, s: float = 1.0, eps: float = 1e-2, rates: Sequence[float] = RATES) -> RateScan:
    """The derived GD map at N_l = `depth` layers of neurons from u0 = ε: iterations to settle per rate."""
    dmap = derive_discrete(GD(), depth - 1)
    budget = int(20 * s / eps) + 1000

    def run(lr: float, cap: int | None) -> int | None:
        return dmap.steps_to_settle(BAND, s, eps, lr, max_steps=budget if cap is None else min(cap, budget))
    return _scan(run, rates, depth)


# --- full matrices on scikit-learn's digits -------------------------------------------------------

def digits_task(components: int = 16) -> Task:
    """scikit-learn's digits (1797 8x8 images, 10 classes) as a regression task with whitened inputs.

    Inputs: centred pixels projected on their top `components` principal directions and whitened
    (Σ_xx = I); targets: centred one-hot labels, scaled so that the largest singular value of Σ_yx is 1.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise LindynError("The digits task needs scikit-learn: pip install 'lindyn[digits]' "
                          "(or pip install scikit-learn).") from None
    data = load_digits()
    X = data.data - data.data.mean(axis=0)
    Y = np.eye(10)[data.target]
    Y = Y - Y.mean(axis=0)
    P = X.shape[0]
    evals, evecs = np.linalg.eigh(X.T @ X / P)
    top = np.argsort(evals)[::-1][:components]
    Z = (X @ evecs[:, top]) / np.sqrt(evals[top])          # whitened: ZᵀZ/P = I
    task = Task.from_data(Z.T, Y.T)
    s_max = np.linalg.svd(task.Sigma_yx, compute_uv=False)[0]
    return Task(Sigma_yx=task.Sigma_yx / s_max, Sigma_xx=np.eye(components))


def _digits_problem(task: Task, depth: int, eps: float, width: int, seed: int) -> Problem:
    """N_l = depth layers of neurons, hidden width `width`, W_i = ε^{1/L}·Q_i (Haar), so W(0) has singular values ε."""
    L = depth - 1
    n_in, n_out = task.Sigma_yx.shape[1], task.Sigma_yx.shape[0]
    network = Network((n_in,) + (width,) * (L - 1) + (n_out,))
    return Problem(network, task, RandomOrthogonal(scale=eps ** (1.0 / L), seed=seed))


def digits_steps(task: Task, depth: int, lr: float, eps: float = 1e-2, width: int = 16, seed: int = 0,
                 fraction: float = 0.1, cap: int = 4000) -> int | None:
    """Discrete GD on the full matrices: iterations until the excess loss is <= fraction × its initial value
    and stays there for as many steps again; None if not within `cap` (or diverged)."""
    problem = _digits_problem(task, depth, eps, width, seed)
    loss0 = task.loss(_end_to_end(problem.initial_weights()))
    target = fraction * loss0

    def below(_t: float, layers: Sequence[np.ndarray]) -> float:
        return task.loss(_end_to_end(layers)) - target
    try:
        first = integrate(problem, GD(), [cap * lr], method=Discrete(lr=lr), event=below)
        if first.stopped_at is None:
            return None
        k1 = int(round(first.stopped_at / lr))
        check = integrate(problem, GD(), np.arange(2 * k1 + 1) * lr, method=Discrete(lr=lr))
    except LindynFailure:
        return None
    above = np.flatnonzero(~(check.loss <= target))
    return int(above[-1]) + 1 if above.size else 0


def _end_to_end(layers: Sequence[np.ndarray]) -> np.ndarray:
    W = layers[0]
    for w in layers[1:]:
        W = w @ W
    return W


def scan_digits(task: Task, depth: int, eps: float = 1e-2, rates: Sequence[float] = RATES, seed: int = 0) -> RateScan:
    """`digits_steps` over the rate grid at N_l = `depth` (same pruning as `scan_map`)."""
    def run(lr: float, cap: int | None) -> int | None:
        return digits_steps(task, depth, lr, eps=eps, seed=seed, cap=4000 if cap is None else min(cap, 4000))
    return _scan(run, rates, depth)


# --- the claim ------------------------------------------------------------------------------------

def _slope(depths: Sequence[int], rates: Sequence[float]) -> float:
    return float(np.polyfit(np.log(depths), np.log(rates), 1)[0])


def depth_numeric(thorough: bool) -> Evidence:
    """Both routes of Saxe's depth claim, measured against stated thresholds."""
    depths = DEPTHS_THOROUGH if thorough else DEPTHS
    ms, plots = [], []
    maps = [scan_map(d) for d in depths]
    deep = [m for m in maps if m.depth >= 10]
    slope = _slope([m.depth for m in deep], [m.best_rate for m in deep])
    ms.append(Measurement("derived map: fitted exponent of the optimal rate in N_l (N_l >= 10; −1 is 1/N_l)",
                          abs(slope + 1.0), 0.25, "at_most"))
    n = {m.depth: m.best_steps for m in maps}
    ms.append(Measurement("derived map: iterations at the optimal rate, N_l = 100 over N_l = 50 (saturation)",
                          n[100] / n[50], 1.3, "at_most"))
    # t_∞ − t_3 ~ O(s/ε): the gap between the deepest and the three-layer net, against 1/ε
    eps_grid = (1e-1, 3e-2, 1e-2) if not thorough else (1e-1, 3e-2, 1e-2, 3e-3)
    gaps = [scan_map(100, eps=e).best_steps - scan_map(3, eps=e).best_steps for e in eps_grid]
    gap_slope = _slope(1.0 / np.array(eps_grid), gaps)
    ms.append(Measurement("derived map: fitted exponent of the gap n(N_l=100) − n(3) in s/ε (1 is O(s/ε))",
                          abs(gap_slope - 1.0), 0.25, "at_most"))
    curves = [curve("derived map, ε = 1e-2: fastest of 20 rates", [m.depth for m in maps],
                    [m.best_rate for m in maps], "o", 0),
              curve("derived η_max = 2/(L s^(2−2/L)), s = 1", [m.depth for m in maps],
                    [float(derive_discrete(GD(), m.depth - 1).eta_max([1.0])[0]) for m in maps], "-", 0)]
    steps_curves = [curve("derived map, ε = 1e-2", [m.depth for m in maps], [m.best_steps for m in maps], "o", 0)]

    task = digits_task()
    digit_depths = (3, 5, 10, 20, 50) if not thorough else (3, 5, 10, 20, 50, 100)
    scans = [scan_digits(task, d) for d in digit_depths]
    deep = [m for m in scans if m.depth >= 10]
    slope_d = _slope([m.depth for m in deep], [m.best_rate for m in deep])
    ms.append(Measurement("digits, full matrices: fitted exponent of the optimal rate in N_l (N_l >= 10)",
                          abs(slope_d + 1.0), 0.35, "at_most"))
    nd = [m.best_steps for m in scans]
    ms.append(Measurement(f"digits, full matrices: iterations at the optimal rate, N_l = {digit_depths[-1]} over "
                          f"N_l = {digit_depths[-2]} (saturation)", nd[-1] / nd[-2], 1.5, "at_most"))
    curves.append(curve("digits (16-16-…-10), ε = 1e-2: fastest of 20 rates", [m.depth for m in scans],
                        [m.best_rate for m in scans], "s", 1))
    steps_curves.append(curve("digits, full matrices, loss to 10%", [m.depth for m in scans], nd, "s", 1))
    plots = (Plot("saxe2014_optimal_rate", "The optimal rate falls as 1/N_l (Saxe et al. 2014, Fig. 4)\nfastest of "
                  "20 log-spaced rates per depth: derived balanced-mode map (circles, with its exact η_max) and full "
                  "matrices on the digits data (squares)",
                  "layers of neurons N_l", "fastest rate of the grid", tuple(curves), "log", "log"),
             Plot("saxe2014_depth_iterations", "Iterations at the optimal rate saturate with depth\niterations to learn at "
                  "the fastest rate: derived map (ε = 1e-2) and full matrices on digits (loss to 10%)",
                  "layers of neurons N_l", "iterations", tuple(steps_curves), "log", "log"))
    return Evidence(f"optimal rate ∝ N_l^{slope:.2f} (map), N_l^{slope_d:.2f} (digits); iterations at N_l = 100: "
                    f"{n[100]} (map, ε = 1e-2); gap exponent in s/ε {gap_slope:.2f}", tuple(ms), plots=plots)


CLAIMS: tuple[Claim, ...] = (
    Claim("saxe-depth-discrete",
          "With discrete steps, GD's optimal learning rate falls as 1/N_l and the iterations to learn at that rate "
          "saturate as the depth grows (N_l = 3..100), with a depth gap of O(s/ε) iterations from u0 = ε; both "
          "for the derived balanced-mode map and for full matrices trained on the digits data.",
          r"\eta_{\mathrm{opt}} \propto N_l^{-1},\quad n_{\mathrm{opt}}(N_l) \to n_\infty,\quad "
          r"n_\infty - n_3 = O(s/\varepsilon)",
          "Saxe et al. 2014, Sec. 2, Fig. 4 and Supp. B; rate grid, band and thresholds: [chosen example]",
          None, depth_numeric, 0.25,
          "outcome thresholds: exponents within 0.25 of −1 and +1 (map; 0.35 on digits, a 20-point grid spaces rates "
          "by a factor 1.49); saturation: iterations at N_l = 100 at most 1.3x (map) / 1.5x (digits) those at N_l = 50",
          kind="outcome"),
)
