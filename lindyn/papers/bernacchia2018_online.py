"""Bernacchia, Lengyel & Hennequin 2018: online natural gradient on their linear teacher task (issue 11).

The algorithm (Sec. 5 and their published code, `lib/ngd.ml`, `linear.ml`), per layer i and
minibatch: the input second moment Ā_i (a 1 appended for the bias), G_i = E[g̃g̃ᵀ] with g̃
back-propagated from one ε ~ N(0, I) drawn at the output (the model's Fisher, `SampledFisher()`),

    ΔW_i = −(α/L) (G_i + √λ I)⁻¹ ∇_i (Ā_i + √λ I)⁻¹,

λ adapted from the reduction ratio ρ (×3/2 if ρ < 1/4, ×2/3 if ρ > 3/4, `LevenbergMarquardt(0.01)`).
In lindyn this is `bernacchia(LevenbergMarquardt(0.01), SampledFisher())` under
`Stochastic(lr=α, batch=1000)` with α = 1; SGD is `GD()` under `Stochastic(lr=α/20, batch=20)`:
their code divides the mean-loss gradient by the minibatch size once more, so their α is lindyn's
lr·batch (lr = α/batch), for α in 0.02..0.08.

Setting (Sec. 5, Fig. 2; `lindyn.bernacchia_linear_task`): 16 layers of width 20 with biases,
inputs x ~ N(0, C) with C's eigenvalues 1e-3 + e^{−i/4} rescaled to sum to 20 in a random basis,
a random teacher of the same shape, output noise N(0, 0.001²), 10,000 training and 1,000 test
samples, loss ½·mean‖y − ŷ‖², noise floor ½·20·0.001² = 1e-5, 40 epochs.

Seed policy (THEORY §8; the same for every arm): for seed s, data (covariance basis, teacher,
training and test set) from `bernacchia_linear_task(seed=s)`, the student's init from
`random_net(network, STUDENT_SEED_OFFSET + s)` (every arm starts from the same weights), and the
minibatch draws (and NG's ε draws) from `Stochastic(seed=s)`. Defaults: seed 0; thorough: 0, 1, 2.

The flow curve [derived]. With square invertible layers every Jacobian J_i of the end-to-end
affine map Ŵ = [W | b] (the top block of W̃_L⋯W̃_1, W̃_i = [[W_i, b_i], [0, 1]]) with respect to layer
i is a bijection, so blockdiag(F_ii⁻¹)/L is a generalized inverse of the Fisher (THEORY §3, no
bottleneck) and the exact flow of `bernacchia()` (exact factors, no damping) moves Ŵ as exact NGD,
dŴ/dt = −(Ŵ − Ŵ*), Ŵ* the least-squares affine fit of the training set: the straight line
Ŵ(t) = Ŵ* + e^{−t}(Ŵ(0) − Ŵ*). That is the depth-1 rule from Ŵ(0), which `flow_curve` integrates
(`integrate(..., bernacchia(), t, method=Flow())` on the training moments of x̃ = [x; 1]);
`flow_reduction_error` checks it against the depth-L flow on small well-conditioned nets with biases
(agreement ~1e-10). The curve is drawn at t = samples/batch·α (one NG step of α = 1 per 1000 samples).

From the paper's init the depth-16 flow itself cannot be integrated, and not for want of a solver:
the student's end-to-end linear map (a product of 16 random 20 x 20 matrices) has condition number
~1e17, and the straight segment to the least-squares fit meets a singular matrix at once
(s = 5.7e-6, 1.8e-13, 1.0e-15 on seeds 0, 1, 2; `FlowCurve.crossing`), where every per-layer flow
must stop (THEORY §3, singular crossing). DOP853 stalls near t = 2e-9 with layer speeds
1e4-1e8 times the layers' norms. The curve is therefore the function-space flow that the per-layer
rule follows while its layers stay invertible; the damped discrete algorithm steps past the
singular set. (DOP853's stall was measured on seed 0's task with another student init.)

Estimator check (`estimator_convergence`): on a deep linear net without biases (default depth 4,
width 8, so that B_i = W_L⋯W_{i+1} and A_i = W_{i−1}⋯W_1 exist), the sampled factors converge to
B_iᵀB_i and A_iCA_iᵀ (population input covariance C) with relative error ∝ 1/√samples, and the
update the stochastic solver applies with `SampledFisher(S)` on a fixed batch approaches the
engine's exact per-layer NG velocity `layer_velocities(problem, bernacchia())` like 1/√S.

Claims: `online-ng-linear` (outcome) and `online-ng-estimator` (two routes).

>>> [c.name for c in CLAIMS]
['online-ng-linear', 'online-ng-estimator']
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from lindyn import (GD, ExactFactors, Flow, GivenWeights, LevenbergMarquardt, LindynError, Network, Problem,
                    SampledFisher, Samples, Stochastic, Task, bernacchia, bernacchia_linear_task, estimated_factors,
                    geometry, integrate, layer_velocities, random_net, singular_crossing)
from lindyn.claims import Claim, Curve, Evidence, Measurement, Plot
from lindyn.papers import bad_argument, curve, integer_argument, positive_argument, rel_max

__all__ = ["CLAIMS", "Arm", "FlowCurve", "LinearExperiment", "EstimatorConvergence", "linear_experiment",
           "linear_panels", "flow_curve", "flow_reduction_error", "affine_map", "estimator_convergence",
           "estimator_panel", "exact_factor_errors", "SGD_ALPHAS", "SGD_BATCH", "NG_BATCH", "NG_LR", "NG_DAMPING",
           "SEEDS", "THOROUGH_SEEDS", "DEFAULT_EPOCHS", "PAPER_EPOCHS", "FLOOR_FACTOR", "NG_FLOOR_SAMPLES",
           "SGD_GAP", "STUDENT_SEED_OFFSET", "SLOPE_TOL"]

# --- the paper's settings (Sec. 5 and their code) ------------------------------------------------
#: SGD learning rates α of the paper's grid; lindyn lr = α/SGD_BATCH (their code divides by the batch again).
SGD_ALPHAS = (0.02, 0.04, 0.06, 0.08)
SGD_BATCH = 20
#: NG: minibatch 1000, α = 1 (the rule divides by L), initial Levenberg–Marquardt λ = 0.01.
NG_BATCH, NG_LR, NG_DAMPING = 1000, 1.0, 0.01
PAPER_EPOCHS = 40

# --- this module's choices -----------------------------------------------------------------------
#: Seeds (data, student init, minibatches; the same for every arm): default and thorough.
SEEDS, THOROUGH_SEEDS = (0,), (0, 1, 2)
#: The student's init seed is STUDENT_SEED_OFFSET + s (a stream apart from the task's SeedSequence(s)).
STUDENT_SEED_OFFSET = 1000
#: Default (reduced) run: 10 epochs of the full task (NG reaches the floor after 65 of its 100 steps on seed 0).
DEFAULT_EPOCHS = 10
#: "At the noise floor": test error <= FLOOR_FACTOR x ½·n_out·σ² [chosen threshold; the 1,000-sample test
#: set's own noise differs from its expectation by ~1% (relative std √(2/(n_test·n_out)) = 0.3%)].
FLOOR_FACTOR = 1.05
#: NG must reach the floor within 10 epochs [chosen threshold; measured 65,000, 67,000, 57,000 samples on seeds 0-2].
NG_FLOOR_SAMPLES = 100_000
#: The best SGD (its lowest test error over the whole run, any α) stays >= SGD_GAP x the noise floor
#: [chosen threshold; measured 2300, 680, 150 x the floor on seeds 0-2 over 40 epochs].
SGD_GAP = 10.0
#: Fitted log-log slope of an estimator's error against samples: |slope + 1/2| <= SLOPE_TOL [chosen; the
#: slope of an RMS over layers and repeats has a standard error of ~0.02-0.04 on these grids].
SLOPE_TOL = 0.1
#: The sampled factors at the largest sample size, relative Frobenius error [chosen; measured ~0.025 at 8192].
FACTOR_ERROR_MAX = 0.05
#: The estimated update at the largest number of draws per example (256 x 1024 draws), relative [chosen;
#: measured ~0.01].
UPDATE_ERROR_MAX = 0.03
#: Engine's exact factors vs chain products: a few roundings of matrix products.
EXACT_FACTOR_TOL = 1e-12
#: Engine's exact per-layer NG velocity vs the chain-product oracle: inverses of factors with condition
#: numbers up to ~3e7 (ESTIMATOR_CASES): rounding ~κ·1e-16, measured <= 5e-10.
EXACT_VELOCITY_TOL = 1e-8
#: (width, depth, seed) of the estimator claim: the first by default, all when thorough. Random deep products
#: grow ill-conditioned fast (depth 6, width 12, seed 2: factors with κ ~ 4e15, where the engine's
#: Moore–Penrose cutoff rcond 1e-12 and an exact inverse part ways): these have κ <= 3e7.
ESTIMATOR_CASES = ((8, 4, 0), (8, 4, 1), (8, 4, 2), (6, 5, 2))
#: Depth-L flow with biases vs the depth-1 reduction (DOP853 at rtol 1e-10 on both).
REDUCTION_TOL = 1e-7
#: Integrator settings of the flow curve and of the reduction check.
FLOW = Flow(rtol=1e-10, atol=1e-12)


def _seeds(seeds: Any, name: str = "seeds") -> tuple[int, ...]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = (seeds,)
    try:
        out = tuple(seeds)
    except TypeError:
        raise bad_argument(name, "a non-empty sequence of distinct integers >= 0", seeds) from None
    if not out or len(set(out)) != len(out):
        raise bad_argument(name, "a non-empty sequence of distinct integers >= 0", seeds)
    return tuple(integer_argument(s, name, 0) for s in out)


# --- the affine end-to-end map --------------------------------------------------------------------

def affine_map(layers: Sequence[np.ndarray]) -> np.ndarray:
    """The end-to-end affine map Ŵ = [W | b] of a linear net with biases (layers stored as [W_i b_i]).

    Ŵ is the top block of W̃_L⋯W̃_1 with W̃_i = [[W_i, b_i], [0, 1]], so that f(x) = Ŵ[x; 1].

    Args:
        layers: (W_1, …, W_L), layer i of shape (n_i, n_{i−1} + 1).

    Returns:
        Ŵ of shape (n_L, n_0 + 1).

    >>> affine_map([np.array([[2.0, 1.0]]), np.array([[3.0, -1.0]])]).tolist()   # 3(2x + 1) − 1
    [[6.0, 2.0]]
    """
    # === check arguments
    if not isinstance(layers, (list, tuple)) or not layers:
        raise bad_argument("layers", "a non-empty sequence of 2-d arrays [W_i b_i]", layers)
    mats = [np.asarray(w, dtype=float) for w in layers]
    if any(m.ndim != 2 for m in mats) or any(b.shape[1] != a.shape[0] + 1 for a, b in zip(mats, mats[1:])):
        raise bad_argument("layers", "arrays [W_i b_i] of shapes (n_i, n_{i-1} + 1) that chain",
                    [m.shape for m in mats])
    M = np.eye(mats[0].shape[1])
    for W in mats:
        tilde = np.zeros((W.shape[0] + 1, W.shape[1]))
        tilde[:-1], tilde[-1, -1] = W, 1.0
        M = tilde @ M
    return M[:-1]


def _augmented(samples: Samples) -> Samples:
    """Samples([x; 1], y): the inputs of the affine map as a linear map."""
    return Samples(np.vstack([samples.X, np.ones((1, samples.X.shape[1]))]), samples.Y)


# --- the flow curve --------------------------------------------------------------------------------

@dataclass(frozen=True)
class FlowCurve:
    """Test error of the exact per-layer NG flow (exact factors, no damping) on one seed's task.

    Attributes:
        seed: the task's seed.
        t: flow times.
        samples: the samples at which NG's clock reaches t (t·NG_BATCH/NG_LR).
        test_error: ½·mean‖y − Ŵ(t)[x; 1]‖² on the test set.
    """

    seed: int
    t: np.ndarray
    samples: np.ndarray
    test_error: np.ndarray
    crossing: float | None = None

    @property
    def crossing_t(self) -> float | None:
        """Flow time −ln(1 − s) at which the straight path of the linear part meets a singular matrix (None: never).

        Before it the depth-L per-layer flow follows this curve; there every layer-wise chain is singular
        and the depth-L flow cannot continue (THEORY §3, singular crossing); the depth-1 curve goes on.
        """
        return None if self.crossing is None else -math.log1p(-self.crossing)

    def samples_to(self, level: float) -> float | None:
        """First sample count on the grid with test error <= level (None if never)."""
        hit = np.nonzero(self.test_error <= level)[0]
        return float(self.samples[hit[0]]) if hit.size else None


def flow_curve(train: Samples, test: Samples, layers: Sequence[np.ndarray], t: Any, *, seed: int = 0,
               batch: int = NG_BATCH, lr: float = NG_LR) -> FlowCurve:
    """The exact flow τ dŴ/dt = −(Ŵ − Ŵ*) of the per-layer rule, integrated as the depth-1 rule.

    Per-layer NG with exact factors and no damping (`bernacchia()`), L square invertible layers
    with biases: the end-to-end affine map follows the depth-1 rule from Ŵ(0) = `affine_map(layers)`
    (module docstring, [derived]). Integrated by `integrate(Problem(Network((n_0 + 1, n_L)),
    Task(Σ_yx̃, Σ_x̃x̃), GivenWeights((Ŵ(0),))), bernacchia(), t, method=FLOW)` on the training
    moments of x̃ = [x; 1] (Σ_x̃x̃ = X̃X̃ᵀ/N, Σ_yx̃ = YX̃ᵀ/N), then ½·mean‖y − Ŵ(t)x̃‖² on the test
    set.

    Args:
        train, test: `Samples` of the task (inputs without the appended 1).
        layers: the student's initial layers [W_i b_i].
        t: flow times >= 0, increasing.
        seed: recorded in the result.
        batch, lr: NG's minibatch and α, for the clock samples = t·batch/lr.

    >>> task = bernacchia_linear_task(seed=0, width=3, depth=2, n_train=50, n_test=20)
    >>> fc = flow_curve(task.train, task.test, random_net(task.network, 1), [0.0, 30.0])
    >>> bool(fc.test_error[-1] < fc.test_error[0]), fc.samples.tolist()
    (True, [0.0, 30000.0])
    """
    # === check arguments
    if not isinstance(train, Samples) or not isinstance(test, Samples):
        raise bad_argument("train", "lindyn.Samples (and test too)", (type(train).__name__, type(test).__name__))
    batch, lr = integer_argument(batch, "batch", 1), positive_argument(lr, "lr")
    W0 = affine_map(layers)
    if W0.shape != (train.Y.shape[0], train.X.shape[0] + 1):
        raise bad_argument("layers", f"layers whose affine map has shape {(train.Y.shape[0], train.X.shape[0] + 1)}",
                    W0.shape)
    aug = _augmented(train)
    N = aug.X.shape[1]
    task = Task(Sigma_yx=aug.Y @ aug.X.T / N, Sigma_xx=aug.X @ aug.X.T / N)
    problem = Problem(Network((aug.X.shape[0], aug.Y.shape[0])), task, GivenWeights((W0,)))
    traj = integrate(problem, bernacchia(), t, method=FLOW)
    n_in, n_out = train.X.shape[0], train.Y.shape[0]
    crossing = None
    if n_in == n_out:
        W_star = task.Sigma_yx @ np.linalg.inv(task.Sigma_xx)
        crossing = singular_crossing(W_star[:, :n_in], np.ones((n_out, n_in)), W0[:, :n_in])
    return FlowCurve(seed, traj.t, traj.t * batch / lr, traj.loss_on(_augmented(test)), crossing)


def flow_reduction_error(width: int = 4, depth: int = 3, seed: int = 0, t: Any = (0.0, 0.5, 1.0, 2.0, 4.0)) -> float:
    """Check of the reduction: the depth-L flow with biases vs `flow_curve`'s depth-1 flow.

    A small teacher task (`bernacchia_linear_task(s, width, depth, 200, 100)`) and a well-conditioned
    student init W_i = [I + 0.2·N(0, 1)/√n, 0.1·N(0, 1)] (rng `STUDENT_SEED_OFFSET + s`), s the first
    seed from `seed` on whose straight path of the linear part meets no singular matrix (decided from
    the init and the data alone); `bernacchia()` integrated on the depth-L net (`FLOW`) and the depth-1
    reduction from the same affine map.

    Returns:
        max over t of |E_test(depth L) − E_test(depth 1)| / E_test(depth 1 at t = 0).

    >>> flow_reduction_error() < 1e-7
    True
    """
    # === check arguments
    width, depth, seed = integer_argument(width, "width", 1), integer_argument(depth, "depth", 1), integer_argument(seed, "seed", 0)
    for s in range(seed, seed + 100):      # the first seed whose straight path stays invertible (init only)
        task = bernacchia_linear_task(seed=s, width=width, depth=depth, n_train=200, n_test=100)
        rng = np.random.default_rng(STUDENT_SEED_OFFSET + s)
        layers = tuple(np.hstack([np.eye(width) + 0.2 * rng.normal(size=(width, width)) / np.sqrt(width),
                                  0.1 * rng.normal(size=(width, 1))]) for _ in range(depth))
        shallow = flow_curve(task.train, task.test, layers, t)
        if shallow.crossing is None:
            break
    else:
        raise LindynError(f"no seed in {seed}..{seed + 99} gives a straight path without a singular matrix")
    deep = integrate(Problem(task.network, task.train, GivenWeights(layers)), bernacchia(), t, method=FLOW)
    return rel_max(deep.loss_on(task.test), shallow.test_error, shallow.test_error[0])


# --- the linear experiment ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Arm:
    """One training run: a rule at one learning rate on one seed.

    Attributes:
        name: 'NG' or 'SGD α=…'.
        alpha: the paper's α (NG: lindyn lr; SGD: lindyn lr = α/batch).
        lr, batch: the `Stochastic` step size and minibatch.
        seed: the seed (data, student init, minibatches).
        samples: examples seen at each record.
        wall_time: seconds spent stepping up to each record (recording excluded).
        test_error: ½·mean‖y − ŷ‖² on the test set at each record.
        damping: NG's Levenberg–Marquardt λ after each record (NaN for SGD).
        diverged_at: None, or the step at which the iterates became non-finite (the records stop before).
    """

    name: str
    alpha: float
    lr: float
    batch: int
    seed: int
    samples: np.ndarray
    wall_time: np.ndarray
    test_error: np.ndarray
    damping: np.ndarray
    diverged_at: int | None

    @property
    def diverged(self) -> bool:
        """Whether the run diverged (on_failure='stop' ended it)."""
        return self.diverged_at is not None

    def final_test_error(self, window: int) -> float:
        """Median test error over the records of the last `window` samples (an epoch: n_train); +inf if diverged.

        The median, not the last record, because SGD's test error spikes by 100x between records.
        """
        if self.diverged:
            return math.inf
        last = self.samples[-1]
        return float(np.median(self.test_error[self.samples > last - window]))

    @property
    def min_test_error(self) -> float:
        """Lowest test error over all records."""
        return float(np.min(self.test_error))

    def samples_to(self, level: float) -> float | None:
        """Samples at the first record with test error <= level (None if never)."""
        hit = np.nonzero(self.test_error <= level)[0]
        return float(self.samples[hit[0]]) if hit.size else None

    def wall_to(self, level: float) -> float | None:
        """Stepping seconds up to the first record with test error <= level (None if never)."""
        hit = np.nonzero(self.test_error <= level)[0]
        return float(self.wall_time[hit[0]]) if hit.size else None


@dataclass(frozen=True)
class LinearExperiment:
    """The linear experiment: NG and SGD at each α on every seed, with the flow curves.

    Attributes:
        seeds, epochs, sgd_alphas, record_every, n_train, n_test, width, depth: the setting.
        arms: every run (NG first, then SGD by α, per seed); diverged runs included.
        flows: the exact-flow curve of each seed.
        noise_floor: ½·n_out·σ², the expected test error of the teacher.
        teacher_test_errors: the teacher's test error on each seed's test set (the realised floor).
        floor_factor: "at the floor" means test error <= floor_factor·noise_floor.
    """

    seeds: tuple[int, ...]
    epochs: int
    sgd_alphas: tuple[float, ...]
    record_every: int
    n_train: int
    n_test: int
    arms: tuple[Arm, ...]
    flows: tuple[FlowCurve, ...]
    noise_floor: float
    teacher_test_errors: tuple[float, ...]
    floor_factor: float = FLOOR_FACTOR
    width: int = 20
    depth: int = 16

    @property
    def floor_level(self) -> float:
        """floor_factor·noise_floor."""
        return self.floor_factor * self.noise_floor

    def ng(self, seed: int) -> Arm:
        """The NG run of `seed`."""
        return next(a for a in self.arms if a.seed == seed and a.name == "NG")

    def sgd(self, seed: int) -> tuple[Arm, ...]:
        """The SGD runs of `seed`, in the order of `sgd_alphas`."""
        return tuple(a for a in self.arms if a.seed == seed and a.name != "NG")

    def flow(self, seed: int) -> FlowCurve:
        """The flow curve of `seed`."""
        return next(f for f in self.flows if f.seed == seed)

    def best_sgd(self, seed: int) -> Arm:
        """The SGD arm with the lowest final test error (median over the last epoch; diverged = +inf)."""
        return min(self.sgd(seed), key=lambda a: a.final_test_error(self.n_train))

    def ng_steps_to_floor(self, seed: int) -> int | None:
        """NG steps (samples/batch) to the first record at the floor (None if never)."""
        arm = self.ng(seed)
        hit = arm.samples_to(self.floor_level)
        return None if hit is None else int(round(hit / arm.batch))


def _arm(name: str, alpha: float, method: Stochastic, problem: Problem, rule: Any, samples: np.ndarray,
         test: Samples, seed: int) -> Arm:
    traj = integrate(problem, rule, method.samples_to_t(samples), method=method)
    k = len(traj.t)
    diverged = None if traj.stopped_at is None else int(round(traj.stopped_at / method.lr))
    return Arm(name, alpha, method.lr, method.batch, seed, np.asarray(traj.samples[:k], dtype=float),
               np.asarray(traj.wall_time[:k], dtype=float), traj.loss_on(test), np.asarray(traj.damping[:k]),
               diverged)


def linear_experiment(seeds: Sequence[int] = SEEDS, epochs: int = PAPER_EPOCHS,
                      sgd_alphas: Sequence[float] = SGD_ALPHAS, record_every: int = 1000, *,
                      n_train: int = 10_000, n_test: int = 1_000, width: int = 20, depth: int = 16,
                      floor_factor: float = FLOOR_FACTOR) -> LinearExperiment:
    """Bernacchia et al. 2018's linear experiment (Sec. 5, Fig. 2): online NG against SGD at each α.

    For each seed s: the task `bernacchia_linear_task(seed=s, width, depth, n_train, n_test)`, the
    student `random_net(network, STUDENT_SEED_OFFSET + s)`, then

    * NG: `bernacchia(LevenbergMarquardt(0.01), SampledFisher())`, `Stochastic(lr=1, batch=1000, seed=s)`;
    * SGD at each α: `GD()`, `Stochastic(lr=α/20, batch=20, seed=s)` (their α = lr·batch);

    all with `on_failure="stop"` (a diverged run is kept and reported, never dropped), recorded
    every `record_every` samples up to epochs·n_train, and the test error ½·mean‖y − ŷ‖² of every
    record (`NumericTrajectory.loss_on`). The flow curve: `flow_curve` from the same init.

    Args:
        seeds: distinct integers >= 0.
        epochs: passes over the training set (>= 1).
        sgd_alphas: the SGD learning rates α > 0 (the paper's 0.02..0.08).
        record_every: samples between records, a multiple of both minibatches (1000 and 20).
        n_train, n_test, width, depth: the task (paper: 10,000, 1,000, 20, 16).
        floor_factor: "at the floor" is test error <= floor_factor·½·n_out·σ² (> 1).

    >>> r = linear_experiment(epochs=1, sgd_alphas=(0.02,), record_every=1000, n_train=2000, n_test=100,
    ...                       width=4, depth=2)
    >>> [a.name for a in r.arms], r.ng(0).samples.tolist()
    (['NG', 'SGD α=0.02'], [0.0, 1000.0, 2000.0])
    """
    # === check arguments
    seeds = _seeds(seeds)
    epochs = integer_argument(epochs, "epochs", 1)
    try:
        alphas = tuple(positive_argument(a, "sgd_alphas") for a in sgd_alphas)
    except TypeError:
        raise bad_argument("sgd_alphas", "a non-empty sequence of distinct numbers > 0", sgd_alphas) from None
    if not alphas or len(set(alphas)) != len(alphas):
        raise bad_argument("sgd_alphas", "a non-empty sequence of distinct numbers > 0", sgd_alphas)
    n_train, n_test = integer_argument(n_train, "n_train", NG_BATCH), integer_argument(n_test, "n_test", 1)
    record_every = integer_argument(record_every, "record_every", 1)
    if record_every % NG_BATCH or record_every % SGD_BATCH:
        raise bad_argument("record_every", f"a multiple of both minibatches ({NG_BATCH} and {SGD_BATCH})", record_every)
    if record_every > epochs * n_train:
        raise bad_argument("record_every", f"at most the {epochs * n_train} samples of the run", record_every)
    floor_factor = positive_argument(floor_factor, "floor_factor")
    if floor_factor <= 1:
        raise bad_argument("floor_factor", "a factor > 1", floor_factor)

    samples = np.arange(0, epochs * n_train + 1, record_every)
    arms, flows, floors, noise_floor = [], [], [], None
    ng_rule = bernacchia(LevenbergMarquardt(NG_DAMPING), SampledFisher())
    for s in seeds:
        task = bernacchia_linear_task(seed=s, width=width, depth=depth, n_train=n_train, n_test=n_test)
        noise_floor = task.noise_floor
        W0 = random_net(task.network, STUDENT_SEED_OFFSET + s)
        problem = Problem(task.network, task.train, GivenWeights(W0))
        arms.append(_arm("NG", NG_LR, Stochastic(lr=NG_LR, batch=NG_BATCH, seed=s, on_failure="stop"), problem,
                         ng_rule, samples, task.test, s))
        for a in alphas:
            arms.append(_arm(f"SGD α={a:g}", a, Stochastic(lr=a / SGD_BATCH, batch=SGD_BATCH, seed=s,
                                                           on_failure="stop"), problem, GD(), samples, task.test, s))
        t = np.union1d(np.linspace(0.0, min(samples[-1] / NG_BATCH * NG_LR, 40.0), 201),
                       samples / NG_BATCH * NG_LR)
        flows.append(flow_curve(task.train, task.test, W0, t, seed=s))
        Wt = affine_map(task.teacher)
        X = _augmented(task.test).X
        floors.append(float(0.5 * np.mean(np.sum((task.test.Y - Wt @ X) ** 2, axis=0))))
    return LinearExperiment(seeds, epochs, alphas, record_every, n_train, n_test, tuple(arms), tuple(flows),
                            float(noise_floor), tuple(floors), floor_factor, width, depth)


def _fmt(x: float | None, unit: str = "") -> str:
    return "never" if x is None else f"{x:,.0f}{unit}"


def linear_panels(result: LinearExperiment) -> tuple[Plot, Plot]:
    """Test error against samples seen and against wall-clock seconds (log-log), every arm.

    The first seed's arms are drawn with solid lines (NG C0, SGD by α C1..), the other seeds' NG and
    best SGD dashed; a diverged arm is one marker 'x' at the samples where it diverged; the noise
    floor and the exact flow (dotted, samples = t·1000/α) on the samples panel.

    >>> r = linear_experiment(epochs=1, sgd_alphas=(0.02,), n_train=2000, n_test=100, width=4, depth=2)
    >>> [p.name for p in linear_panels(r)]
    ['online_ng_linear_samples', 'online_ng_linear_wallclock']
    """
    # === check arguments
    if not isinstance(result, LinearExperiment):
        raise bad_argument("result", "a LinearExperiment (from linear_experiment)", type(result).__name__)
    by_samples, by_wall = [], []
    first = result.seeds[0]
    for s in result.seeds:
        shown = result.arms if s == first else (result.ng(s), result.best_sgd(s))
        for arm in (a for a in shown if a.seed == s):
            color = 0 if arm.name == "NG" else 1 + result.sgd_alphas.index(arm.alpha)
            tag = f"{arm.name} (seed {s})"
            if arm.diverged:
                if s == first:
                    by_samples.append(curve(f"{tag}: diverged at step {arm.diverged_at}",
                                            [arm.diverged_at * arm.batch], [arm.test_error[0]], "x", color))
                continue
            keep = arm.samples > 0
            style = "-" if s == first else "--"
            by_samples.append(curve(tag, arm.samples[keep], arm.test_error[keep], style, color))
            by_wall.append(curve(tag, arm.wall_time[keep], arm.test_error[keep], style, color))
    flow = result.flow(first)
    keep = flow.samples > 0
    meets = ("" if flow.crossing_t is None else
             f"; {result.depth}-layer flow singular at t = {flow.crossing_t:.1e}")
    by_samples.append(curve(f"exact NG flow of the affine map, samples = 1000·t (seed {first}{meets})",
                            flow.samples[keep], flow.test_error[keep], ":", 0))
    x_end = result.epochs * result.n_train
    floor = Curve(f"noise floor ½·n·σ² = {result.noise_floor:.3g}", (float(result.record_every), float(x_end)),
                  (result.noise_floor, result.noise_floor), "--", "k")
    by_samples.append(floor)
    title = f"Linear task, {result.depth} layers of width {result.width}: test error vs samples"
    return (Plot("online_ng_linear_samples", title, "samples seen", "test error ½·mean‖y − ŷ‖²",
                 tuple(by_samples), "log", "log"),
            Plot("online_ng_linear_wallclock", "The same runs vs seconds of stepping", "seconds (recording excluded)",
                 "test error", tuple(by_wall), "log", "log"))


# --- the estimator check ------------------------------------------------------------------------------

@dataclass(frozen=True)
class EstimatorConvergence:
    """Errors of Bernacchia's sampled factors and of the resulting update (deep linear net, no biases).

    Attributes:
        width, depth, seed, repeats: the setting.
        samples: examples m per estimate of the factors.
        factor_error_G, factor_error_A: RMS over layers and repeats of ‖Ĝ_i − B_iᵀB_i‖_F/‖B_iᵀB_i‖_F and
            ‖Â_i − A_iCA_iᵀ‖_F/‖A_iCA_iᵀ‖_F (C the population input covariance).
        draws: ε draws S per example of the update check.
        update_examples: the fixed batch n of the update check.
        update_error: RMS over repeats of ‖v̂ − v‖/‖v‖ (all layers), v̂ the applied update per unit α with
            `SampledFisher(S)`, v = `layer_velocities(problem, bernacchia())` on the same batch.
    """

    width: int
    depth: int
    seed: int
    repeats: int
    samples: np.ndarray
    factor_error_G: np.ndarray
    factor_error_A: np.ndarray
    draws: np.ndarray
    update_examples: int
    update_error: np.ndarray

    @staticmethod
    def _slope(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.polyfit(np.log(x), np.log(y), 1)[0])

    @property
    def slope_G(self) -> float:
        """Least-squares slope of log error_G against log m."""
        return self._slope(self.samples, self.factor_error_G)

    @property
    def slope_A(self) -> float:
        """Least-squares slope of log error_A against log m."""
        return self._slope(self.samples, self.factor_error_A)

    @property
    def slope_update(self) -> float:
        """Least-squares slope of log update_error against log S."""
        return self._slope(self.draws, self.update_error)


def _student(width: int, depth: int, seed: int, n: int) -> tuple[Any, Problem]:
    """A teacher task's data (n examples) and a student without biases, init `random_net(.., 1000 + seed)`."""
    task = bernacchia_linear_task(seed=seed, width=width, depth=1, n_train=n, n_test=1)
    net = Network((width,) * (depth + 1))
    return task, Problem(net, task.train, GivenWeights(random_net(net, STUDENT_SEED_OFFSET + seed)))


def estimator_convergence(width: int = 8, depth: int = 4, seed: int = 0, *,
                          samples: Sequence[int] = tuple(2 ** k for k in range(6, 14)), repeats: int = 8,
                          draws: Sequence[int] = (1, 4, 16, 64, 256),
                          update_examples: int = 1024) -> EstimatorConvergence:
    """How fast Bernacchia's sampled factors and update approach the exact ones.

    Data from `bernacchia_linear_task(seed, width, depth=1, ...)` (inputs x ~ N(0, C)), a student
    `Network((width,)*(depth + 1))` without biases at `random_net(net, 1000 + seed)`. Factors: for each
    m and repeat r, `estimated_factors(problem, SampledFisher(), seed=r, columns=block r of m examples)`
    (disjoint blocks) against B_iᵀB_i and A_iCA_iᵀ from the chain products (`geometry(problem).A`, `.B`);
    E[Ĝ_i] = B_iᵀB_i and E[Â_i] = A_iCA_iᵀ, with errors ∝ 1/√m. Update: one step of
    `integrate(p, bernacchia(estimator=SampledFisher(S)), [0, 1], Stochastic(lr=1, batch=n, seed=r))` on
    a fixed batch of n = `update_examples` (the whole batch every step, so only the ε draws are random)
    against `layer_velocities(p, bernacchia())`; the error of Ĝ_i falls like 1/√(nS), so does the update's.

    Args:
        width, depth: the student (>= 1); seed: data and init (>= 0).
        samples: increasing example counts m >= 2 (at least two).
        repeats: independent estimates per point (>= 1).
        draws: increasing draws S >= 1 per example (at least two).
        update_examples: the batch n of the update check (>= 1).

    >>> r = estimator_convergence(samples=(64, 256), repeats=2, draws=(1, 4))
    >>> r.samples.tolist(), bool(r.factor_error_G[1] < r.factor_error_G[0])
    ([64, 256], True)
    """
    # === check arguments
    width, depth, seed = integer_argument(width, "width", 1), integer_argument(depth, "depth", 1), integer_argument(seed, "seed", 0)
    repeats, update_examples = integer_argument(repeats, "repeats", 1), integer_argument(update_examples, "update_examples", 1)
    ms = np.array([integer_argument(m, "samples", 2) for m in samples], dtype=int)
    Ss = np.array([integer_argument(S, "draws", 1) for S in draws], dtype=int)
    for name, grid in (("samples", ms), ("draws", Ss)):
        if grid.size < 2 or np.any(np.diff(grid) <= 0):
            raise bad_argument(name, "at least two increasing integers", tuple(grid.tolist()))

    task, problem = _student(width, depth, seed, max(int(ms[-1]) * repeats, update_examples))
    geo = geometry(problem)
    C = task.input_covariance
    G_exact = [B.T @ B for B in geo.B]
    A_exact = [A @ C @ A.T for A in geo.A]
    eG, eA = [], []
    for m in ms:
        g2, a2 = [], []
        for r in range(repeats):
            est = estimated_factors(problem, SampledFisher(), seed=r, columns=np.arange(r * m, (r + 1) * m))
            for (G, A), Ge, Ae in zip(est, G_exact, A_exact):
                g2.append((np.linalg.norm(G - Ge) / np.linalg.norm(Ge)) ** 2)
                a2.append((np.linalg.norm(A - Ae) / np.linalg.norm(Ae)) ** 2)
        eG.append(math.sqrt(np.mean(g2)))
        eA.append(math.sqrt(np.mean(a2)))

    n = update_examples
    batch = Samples(task.train.X[:, :n], task.train.Y[:, :n])
    p = Problem(problem.network, batch, problem.init)
    v = np.concatenate([x.ravel() for x in layer_velocities(p, bernacchia())])
    eU = []
    for S in Ss:
        e2 = []
        for r in range(repeats):
            traj = integrate(p, bernacchia(estimator=SampledFisher(samples=int(S))), [0.0, 1.0],
                             method=Stochastic(lr=1.0, batch=n, seed=r))
            v_hat = np.concatenate([(w[1] - w[0]).ravel() for w in traj.W])
            e2.append((np.linalg.norm(v_hat - v) / np.linalg.norm(v)) ** 2)
        eU.append(math.sqrt(np.mean(e2)))
    return EstimatorConvergence(width, depth, seed, repeats, ms, np.array(eG), np.array(eA), Ss, n, np.array(eU))


def exact_factor_errors(width: int = 8, depth: int = 4, seed: int = 0, n: int = 2048) -> tuple[float, float, float]:
    """The engine's exact factors and exact per-layer NG against chain products (THEORY §0, §1).

    On n examples (Σ̂ = XXᵀ/n, Σ̂_yx = YXᵀ/n) of the `estimator_convergence` student: G_i = B_iᵀB_i and
    Ā_i = A_iΣ̂A_iᵀ against `estimated_factors(problem, ExactFactors())`, and the per-layer rule
    (Bernacchia et al. 2018 Eq. 10 with exact factors)
    v_i = −(1/L)(B_iᵀB_i)⁻¹ B_iᵀ(WΣ̂ − Σ̂_yx)A_iᵀ (A_iΣ̂A_iᵀ)⁻¹
    (typed here as the oracle) against `layer_velocities(problem, bernacchia())`.

    Returns:
        (worst relative error of G_i, of Ā_i, of the velocity over all layers).

    >>> [e < 1e-8 for e in exact_factor_errors(n=256)]
    [True, True, True]
    """
    # === check arguments
    width, depth, seed, n = integer_argument(width, "width", 1), integer_argument(depth, "depth", 1), integer_argument(seed, "seed", 0), integer_argument(n, "n", 1)
    _, problem = _student(width, depth, seed, n)
    geo = geometry(problem)
    X, Y = problem.task.X, problem.task.Y
    Sigma, Syx = X @ X.T / n, Y @ X.T / n
    engine = estimated_factors(problem, ExactFactors())
    eG = max(rel_max(G, B.T @ B) for (G, _), B in zip(engine, geo.B))
    eA = max(rel_max(Ab, A @ Sigma @ A.T) for (_, Ab), A in zip(engine, geo.A))
    W_end = geo.W_end
    oracle = [-np.linalg.solve(B.T @ B, B.T @ (W_end @ Sigma - Syx) @ A.T) @ np.linalg.inv(A @ Sigma @ A.T) / depth
              for A, B in zip(geo.A, geo.B)]
    v = layer_velocities(problem, bernacchia())
    eV = max(rel_max(a, b) for a, b in zip(v, oracle))
    return eG, eA, eV


def estimator_panel(result: EstimatorConvergence) -> Plot:
    """Log-log errors of the sampled factors (vs examples m) and of the update (vs draws n·S), fitted slopes.

    >>> p = estimator_panel(estimator_convergence(samples=(64, 256), repeats=2, draws=(1, 4)))
    >>> p.xscale, p.yscale
    ('log', 'log')
    """
    # === check arguments
    if not isinstance(result, EstimatorConvergence):
        raise bad_argument("result", "an EstimatorConvergence (from estimator_convergence)", type(result).__name__)
    curves = []
    n = result.update_examples
    for k, (label, x, y, slope) in enumerate((
            ("Ĝ_i vs B_iᵀB_i (examples m)", result.samples, result.factor_error_G, result.slope_G),
            ("Â_i vs A_iCA_iᵀ (examples m)", result.samples, result.factor_error_A, result.slope_A),
            (f"update vs exact per-layer NG (draws n·S, n = {n})", result.draws * n, result.update_error,
             result.slope_update))):
        x = np.asarray(x, dtype=float)
        curves.append(curve(f"{label}: slope {slope:.3f}", x, y, "os^"[k], k))
        fit = np.polyfit(np.log(x), np.log(y), 1)
        curves.append(curve(f"fit {label.split(' ')[0]}", x, np.exp(np.polyval(fit, np.log(x))), "--", k))
    return Plot("online_ng_estimator", f"Sampled Fisher factors and update, depth {result.depth}, width "
                f"{result.width}, no biases: error ∝ samples^(−1/2)\nRMS over layers and {result.repeats} repeats",
                "examples m / draws n·S", "relative Frobenius error", tuple(curves), "log", "log")


# --- the claims -----------------------------------------------------------------------------------------

def _linear_route(thorough: bool) -> Evidence:
    seeds = THOROUGH_SEEDS if thorough else SEEDS
    epochs = PAPER_EPOCHS if thorough else DEFAULT_EPOCHS
    r = linear_experiment(seeds, epochs, SGD_ALPHAS)
    level, floor = r.floor_level, r.noise_floor
    ms, parts = [], []
    for s in seeds:
        ng, best, flow = r.ng(s), r.best_sgd(s), r.flow(s)
        hit = ng.samples_to(level)
        ms.append(Measurement(f"seed {s}: samples until NG's test error <= {r.floor_factor:g} x noise floor "
                              f"(inf: never in {epochs} epochs)", math.inf if hit is None else hit,
                              float(NG_FLOOR_SAMPLES), "at_most"))
        ms.append(Measurement(f"seed {s}: NG final test error / noise floor (median over the last epoch)",
                              ng.final_test_error(r.n_train) / floor, r.floor_factor, "at_most"))
        sgd_min = min((a.min_test_error for a in r.sgd(s) if not a.diverged), default=math.inf)
        ms.append(Measurement(f"seed {s}: lowest SGD test error over every record of every α / noise floor "
                              f"({epochs} epochs)", sgd_min / floor, SGD_GAP, "at_least"))
        fhit = flow.samples_to(level)
        ms.append(Measurement(f"seed {s}: exact flow's test error at the end / noise floor (the flow reaches the "
                              "least-squares fit)", float(flow.test_error[-1]) / floor, r.floor_factor, "at_most"))
        diverged = [f"α={a.alpha:g} at step {a.diverged_at}" for a in r.sgd(s) if a.diverged]
        lam = math.nan if hit is None else float(ng.damping[np.nonzero(ng.samples == hit)[0][0]])
        parts.append(f"seed {s}: NG at the floor after {_fmt(hit)} samples ({r.ng_steps_to_floor(s)} steps, "
                     f"{ng.wall_to(level) or math.nan:.2f} s of {ng.wall_time[-1]:.2f} s, λ = {lam:.1g} there), exact "
                     f"flow of the affine map after {_fmt(fhit)} (the {r.depth}-layer flow "
                     f"meets a singular matrix at t = {flow.crossing_t or math.nan:.1g}); best {best.name} "
                     f"ends at {best.final_test_error(r.n_train):.3g} (min {best.min_test_error:.3g}); "
                     f"diverged: {', '.join(diverged) or 'none'}")
    err = flow_reduction_error()
    ms.append(Measurement("depth-3 flow with biases vs its depth-1 reduction (the flow curve's route), test error, "
                          "relative", err, REDUCTION_TOL, "at_most"))
    setting = ("paper's setting (40 epochs, 4 α, 3 seeds)" if thorough else
               f"reduced: {epochs} epochs instead of 40, seed 0 only (full task, 4 α)")
    return Evidence(f"{setting}; noise floor {floor:.3g}; " + "; ".join(parts), tuple(ms), plots=linear_panels(r))


def _estimator_exact(thorough: bool) -> Evidence:
    ms = []
    for width, depth, seed in ESTIMATOR_CASES[:None if thorough else 1]:
        eG, eA, eV = exact_factor_errors(width, depth, seed)
        tag = f"depth {depth}, width {width}, seed {seed}"
        ms += [Measurement(f"{tag}: engine's exact G_i vs B_iᵀB_i (chain products), relative", eG, EXACT_FACTOR_TOL),
               Measurement(f"{tag}: engine's exact Ā_i vs A_iΣ̂A_iᵀ, relative", eA, EXACT_FACTOR_TOL),
               Measurement(f"{tag}: layer_velocities(bernacchia()) vs −(1/L)(B_iᵀB_i)⁻¹∇_i(A_iΣ̂A_iᵀ)⁻¹, "
                           "relative",
                           eV, EXACT_VELOCITY_TOL)]
    return Evidence("exact factors and per-layer NG from the chain products agree with the engine to "
                    f"{max(m.value for m in ms):.1g}", tuple(ms))


def _estimator_sampled(thorough: bool) -> Evidence:
    ms, plots, parts = [], [], []
    for width, depth, seed in ESTIMATOR_CASES[:None if thorough else 1]:
        kw = dict(samples=tuple(2 ** k for k in range(6, 16)), repeats=16) if thorough else {}
        r = estimator_convergence(width, depth, seed, **kw)
        tag = f"depth {depth}, width {width}, seed {seed}"
        ms += [Measurement(f"{tag}: |fitted slope of the Ĝ_i error + 1/2|", abs(r.slope_G + 0.5), SLOPE_TOL),
               Measurement(f"{tag}: |fitted slope of the Â_i error + 1/2|", abs(r.slope_A + 0.5), SLOPE_TOL),
               Measurement(f"{tag}: |fitted slope of the update error + 1/2|", abs(r.slope_update + 0.5), SLOPE_TOL),
               Measurement(f"{tag}: Ĝ_i error vs B_iᵀB_i at m = {r.samples[-1]}", float(r.factor_error_G[-1]), FACTOR_ERROR_MAX),
               Measurement(f"{tag}: update vs the engine's exact per-layer NG at S = {r.draws[-1]} "
                           f"(n = {r.update_examples})", float(r.update_error[-1]), UPDATE_ERROR_MAX)]
        parts.append(f"{tag}: slopes Ĝ {r.slope_G:.3f}, Â {r.slope_A:.3f}, update {r.slope_update:.3f}; "
                     f"update error {r.update_error[-1]:.2g} at {r.draws[-1]} draws per example")
        if not plots:
            plots.append(estimator_panel(r))
    return Evidence("; ".join(parts), tuple(ms), plots=tuple(plots))


CLAIMS: tuple[Claim, ...] = (
    Claim("online-ng-linear",
          "On the linear teacher task (16 layers of width 20 with biases, 10,000 training samples, output noise "
          "0.001), online natural gradient (minibatch 1000, α = 1, sampled Fisher, adaptive damping from 0.01) "
          f"reaches the noise floor (test error <= {FLOOR_FACTOR} x ½·n·σ²) within {NG_FLOOR_SAMPLES:,} samples "
          f"and stays there, while SGD (minibatch 20, α = 0.02..0.08) stays >= {SGD_GAP:g} x the floor at every "
          "record of every α in the same run (seed 0, 10 epochs; thorough: seeds 0, 1, 2 and 40 epochs); the exact "
          "NG flow of the end-to-end affine map (the rule's flow while its layers stay invertible) reaches the same "
          "floor.",
          r"\mathrm{NG}:\ E_{\text{test}} \le 1.05\,\tfrac12 n\sigma^2 \text{ within } 10^5 \text{ samples};\quad "
          r"\min_{\alpha,\,k} E^{\mathrm{SGD}}_{\text{test}} \ge 10\,\tfrac12 n\sigma^2",
          "Bernacchia et al. 2018, Sec. 5 and Fig. 2 (linear network); thresholds and seeds: [chosen example]; "
          "flow reduction: [derived] (THEORY §3)",
          None, _linear_route, REDUCTION_TOL,
          f"the flow-reduction check agrees to ~1e-10 ({REDUCTION_TOL:g}); outcome thresholds with margin over what "
          f"seeds 0-2 show (NG 57,000-67,000 samples vs {NG_FLOOR_SAMPLES:,}; SGD >= 150 x the floor vs {SGD_GAP:g}); "
          "the 1.05 floor factor leaves room for the test set's own noise (~1%)",
          kind="outcome"),
    Claim("online-ng-estimator",
          "Bernacchia's sampled Kronecker factors converge to the exact ones, B_iᵀB_i and A_iΣA_iᵀ from the chain "
          "products, with error falling like samples^(−1/2), and the update they give approaches the engine's "
          "exact per-layer NG velocity at the same rate (deep linear net without biases, depth 4, width 8).",
          r"\|\hat G_i - B_i^\top B_i\|,\ \|\hat A_i - A_i\Sigma A_i^\top\|,\ \|\hat v - v_{\mathrm{NG}}\| "
          r"\propto \text{samples}^{-1/2}",
          "Bernacchia et al. 2018, Sec. 5 (sampled Fisher); exact factors: THEORY §1; the rate: [derived]",
          _estimator_exact, _estimator_sampled, EXACT_FACTOR_TOL,
          f"exact route: roundings of products and of inverses of factors with κ <= ~3e7 ({EXACT_VELOCITY_TOL:g}); "
          f"sampled route: fitted slopes within {SLOPE_TOL} of −1/2 (standard error ~0.03 over 8 repeats) and "
          "errors at the largest sample size below stated bounds [chosen]"),
)
