"""How to integrate dθ/dt = f(θ): solver objects with behaviour, diffrax-style (numpy/scipy/mpmath).

`integrate(problem, rule, t, method=...)` builds the field f once (`VelocityField`) and hands it
to `method.solve(field, θ0, ts, event=None)`; every solver returns a `Solved` (times reached,
states at those times, where and why it stopped). There is no other integrator in lindyn.

* `Flow`: an explicit or implicit `scipy.integrate` Runge–Kutta / BDF solver stepped here, with
  the requested times served by each step's local interpolant (memory O(P x T), never the dense
  output of the whole run unless `dense=True`), an optional terminal event g(θ) = 0 located by
  Brent's method on the step's interpolant, and a budget of field evaluations.
* `Discrete`: the algorithm a practitioner runs, θ_{k+1} = θ_k + lr·f(θ_k), t_k = k·lr, with
  optional update-speed clipping (`max_update`) and a record of every step's norm.
* `HighPrecision`: Gragg–Bulirsch–Stoer extrapolation at `dps` digits (mpmath; small nets).
* `Stochastic`: minibatch training (SGD, online natural gradient, K-FAC): the rule's gradients and
  curvature estimated on each minibatch, Levenberg–Marquardt damping adapted between steps.

Failures raise `lindyn.IntegrationFailed` (a run-time failure, not bad input) naming where the solver got to; with `Flow(on_failure="stop")`
the states reached so far are returned instead and `Solved.stopped_at` says where it stopped
(a measurement in its own right, e.g. a narrow net whose Fisher changes rank along the path).

>>> import numpy as np
>>> out = Flow().solve(lambda th: -th, np.array([1.0]), np.array([0.0, 1.0]))
>>> bool(round(float(out.theta[1, 0]), 10) == round(float(np.exp(-1.0)), 10))
True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np

from .._checks import check_int, check_real, fail, failure
from .._progress import Progress
from ._ops import MpmathOps, NumpyOps

__all__ = ["Solved", "Flow", "Discrete", "HighPrecision", "Stochastic", "Method", "MAX_FLOW_EVALUATIONS", "MAX_DISCRETE_STEPS"]

_SOLVERS = ("DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA")
_ROUTES = ("efficient", "explicit")

#: Default budget of field evaluations of `Flow`: an explicit solver near a stable fixed point keeps
#: a step of O(τ/rate), so a horizon like t = 1e308 would otherwise never finish.
MAX_FLOW_EVALUATIONS = 1_000_000

#: `Flow` stops early once a tenth of its budget is spent and the rate of evaluations per unit time,
#: projected to the last requested time, exceeds the budget by this factor (a run that cannot finish
#: fails in seconds, not after spending the whole budget).
PROJECTION_FACTOR = 3.0

#: Largest number of discrete steps `Discrete` takes in one call.
MAX_DISCRETE_STEPS = 50_000_000

Event = Callable[[float, np.ndarray], float]


@dataclass(frozen=True)
class Solved:
    """What a solver returns.

    Attributes:
        t: the times served (T,): the requested ones reached, plus the event time if one fired.
        theta: states at those times, (T, P) (float, or object arrays of mpf).
        stopped_at: None when every requested time was reached; else the time where the run
            stopped (a terminal event, or the failure of `Flow(on_failure="stop")`).
        reason: why it stopped early ("event", or the solver's message), else None.
        evaluations: field evaluations used.
        interpolant: θ(t) on [0, t_end] when `Flow(dense=True)`, else None.
        clipped: `Discrete(max_update=...)`: number of steps whose norm was cut to `max_update`.
        step_norms: `Discrete(record_updates=True)`: ‖lr·f(θ_k)‖₂ of every step taken, before
            clipping (k = 0, 1, …; the applied norm is min(step_norms, max_update)), else None.
        samples: `Stochastic`: examples seen at each returned state (k·batch), else None.
        wall_time: `Stochastic`: seconds spent stepping up to each returned state (recording excluded).
        damping: `Stochastic`: λ of the rule's `LevenbergMarquardt` schedule after each returned state
            (NaN when the rule has none).
    """

    t: np.ndarray
    theta: np.ndarray
    stopped_at: float | None = None
    reason: str | None = None
    evaluations: int = 0
    interpolant: Callable[[Any], np.ndarray] | None = field(default=None, repr=False)
    clipped: int = 0
    step_norms: np.ndarray | None = field(default=None, repr=False)
    samples: np.ndarray | None = field(default=None, repr=False)
    wall_time: np.ndarray | None = field(default=None, repr=False)
    damping: np.ndarray | None = field(default=None, repr=False)


def _check_route(route: Any) -> None:
    if route not in _ROUTES:
        raise fail("fisher_route", "'efficient' or 'explicit'", route)


class _Budget(Exception):
    pass


class _NonFinite(Exception):
    pass


@dataclass(frozen=True)
class Flow:
    """The gradient-flow ODE τ dW_i/dt = v_i(W), stepped by a `scipy.integrate` solver.

    Args:
        rtol, atol: solver tolerances (> 0).
        solver: 'DOP853' (default), 'RK45', 'RK23', 'Radau', 'BDF' or 'LSODA'.
        fisher_route: 'efficient' (structured Fisher powers, `lindyn.numeric.fisher`) or 'explicit'
            (dense J and F, the reference for small nets).
        dense: keep the whole run's interpolant (`Solved.interpolant`); memory grows with the steps.
        max_evaluations: budget of field evaluations (>= 1).
        on_failure: 'raise' (`IntegrationFailed`, default) or 'stop' (return what was reached).

    >>> Flow().solver
    'DOP853'
    """

    rtol: float = 1e-10
    atol: float = 1e-12
    solver: str = "DOP853"
    fisher_route: str = "efficient"
    dense: bool = False
    max_evaluations: int = MAX_FLOW_EVALUATIONS
    on_failure: Literal["raise", "stop"] = "raise"

    def __post_init__(self) -> None:
        check_real(self.rtol, "rtol", positive=True)
        check_real(self.atol, "atol", positive=True)
        if self.solver not in _SOLVERS:
            raise fail("solver", "one of " + ", ".join(_SOLVERS), self.solver)
        _check_route(self.fisher_route)
        check_int(self.max_evaluations, "max_evaluations", minimum=1)
        if self.on_failure not in ("raise", "stop"):
            raise fail("on_failure", "'raise' or 'stop'", self.on_failure)
        if not isinstance(self.dense, bool):
            raise fail("dense", "True or False", self.dense)

    @property
    def name(self) -> str:
        """'flow'."""
        return "flow"

    def ops(self) -> NumpyOps:
        """The backend the field runs on: `NumpyOps()`."""
        return NumpyOps()

    def solve(self, f: Callable[[np.ndarray], np.ndarray], theta0: np.ndarray, ts: np.ndarray,
              event: Event | None = None) -> Solved:
        """Integrate dθ/dt = f(θ) from θ(0) = θ0, returning θ at the times `ts` (sorted, >= 0).

        Args:
            f: the field.
            theta0: initial state (P,).
            ts: requested times, non-decreasing, >= 0.
            event: optional terminal event g(t, θ); the run stops where g changes sign.
        """
        from scipy.integrate import DOP853, LSODA, RK23, RK45, BDF, Radau
        classes = {"DOP853": DOP853, "RK45": RK45, "RK23": RK23, "Radau": Radau, "BDF": BDF, "LSODA": LSODA}
        ts = np.asarray(ts, dtype=float)
        T, P = len(ts), theta0.size
        out = np.empty((T, P))
        k = int(np.searchsorted(ts, 0.0, side="right"))
        out[:k] = theta0
        t_end = float(ts[-1])
        calls = [0]

        def rhs(_time: float, theta: np.ndarray) -> np.ndarray:
            calls[0] += 1
            if calls[0] > self.max_evaluations:
                raise _Budget
            value = f(theta)
            if not np.all(np.isfinite(value)):
                raise _NonFinite
            return value

        g_old = None if event is None else float(event(0.0, theta0))
        pieces: list[Any] = []
        stopped, reason = None, None
        progress = Progress(f"integrate ({self.solver})", t_end, "t")
        if k < T:
            stepper = classes[self.solver](rhs, 0.0, theta0, t_end, rtol=self.rtol, atol=self.atol)
            try:
                while k < T:
                    message = stepper.step()
                    if stepper.status == "failed":
                        raise IntegrationFailedHere(float(stepper.t), str(message))
                    t_old, t_new = float(stepper.t_old), float(stepper.t)
                    progress.update(t_new, f"{calls[0]} velocity evaluations")
                    if event is None and calls[0] > self.max_evaluations // 10 and t_new > 0 \
                            and calls[0] * t_end / t_new > PROJECTION_FACTOR * self.max_evaluations:
                        raise _Budget(calls[0] * t_end / t_new)     # fail fast: the budget cannot last
                    interp = None
                    if event is not None:
                        g_new = float(event(t_new, stepper.y))
                        if g_old is not None and np.sign(g_new) != np.sign(g_old) and g_new != g_old:
                            from scipy.optimize import brentq
                            interp = stepper.dense_output()
                            t_ev = brentq(lambda s: float(event(s, interp(s))), t_old, t_new, xtol=1e-14 * max(1, t_new))
                            j = int(np.searchsorted(ts, t_ev, side="right"))
                            if j > k:
                                out[k:j] = interp(ts[k:j]).T
                            out = np.vstack([out[:j], interp(t_ev)[None, :]])
                            ts = np.append(ts[:j], t_ev)
                            k, stopped, reason = j + 1, t_ev, "event"
                            break
                        g_old = g_new
                    j = int(np.searchsorted(ts, t_new, side="right"))
                    if j > k:
                        interp = interp or stepper.dense_output()
                        out[k:j] = interp(ts[k:j]).T
                        k = j
                    if self.dense:
                        pieces.append((t_old, t_new, interp or stepper.dense_output()))
            except (_Budget, _NonFinite, IntegrationFailedHere, np.linalg.LinAlgError, FloatingPointError,
                    OverflowError) as err:
                where = float(stepper.t)
                if isinstance(err, _Budget):
                    remedy = ("(ask for a smaller t, raise Flow(max_evaluations=...), or use a stiff solver such as "
                              "Flow(solver='LSODA'), --solver LSODA, for long horizons)")
                    if err.args:
                        why = (f"at this rate t = {t_end:.6g} needs ~{err.args[0]:.2g} velocity evaluations, more than "
                               f"the budget of {self.max_evaluations} {remedy}")
                    else:
                        why = f"the budget of {self.max_evaluations} velocity evaluations is spent before t = {t_end:.6g} {remedy}"
                elif isinstance(err, _NonFinite):
                    why = "the velocity became NaN or inf (the weights may have diverged or become singular)"
                elif isinstance(err, IntegrationFailedHere):
                    why = err.message
                else:
                    why = f"numerical failure ({type(err).__name__}: {err})"
                if self.on_failure == "raise":
                    raise failure(self.solver, f"t ≈ {where:.6g}", why, time=where) from None
                stopped, reason = where, why
        if stopped is not None and reason != "event":
            ts, out = ts[:k], out[:k]
        interpolant = _piecewise(pieces, theta0) if self.dense else None
        return Solved(ts, out, stopped, reason, calls[0], interpolant)


class IntegrationFailedHere(Exception):
    """A scipy stepper reported failure (internal; turned into `IntegrationFailed`)."""

    def __init__(self, time: float, message: str) -> None:
        super().__init__(message)
        self.time, self.message = time, message


def _piecewise(pieces: list[Any], theta0: np.ndarray) -> Callable[[Any], np.ndarray]:
    """θ(t) from the steps' local interpolants (t outside the run is refused)."""
    starts = np.array([p[0] for p in pieces]) if pieces else np.zeros(0)
    end = pieces[-1][1] if pieces else 0.0

    def theta(t: Any) -> np.ndarray:
        tt = np.atleast_1d(np.asarray(t, dtype=float))
        if np.any(tt < 0) or np.any(tt > end):
            raise fail("t", f"within the integrated interval [0, {end:.6g}]", t)
        res = np.empty((tt.size, theta0.size))
        for n, x in enumerate(tt):
            if not pieces:
                res[n] = theta0
                continue
            j = max(int(np.searchsorted(starts, x, side="right")) - 1, 0)
            res[n] = pieces[j][2](x)
        return res if np.ndim(t) else res[0]

    return theta


def _steps(ts: np.ndarray, lr: float) -> np.ndarray:
    """Step indices k = round(t / lr) serving the requested times t (t_k = k·lr), checked."""
    with np.errstate(over="ignore"):
        k = np.rint(np.asarray(ts, dtype=float) / lr)
    if k.size and not float(k[-1]) <= MAX_DISCRETE_STEPS:   # as floats: t/lr may exceed int64
        raise fail("lr", f"large enough that max(t)/lr <= {MAX_DISCRETE_STEPS} steps", lr)
    positive = np.asarray(ts, dtype=float) > 0
    if np.any(positive & (k == 0)):   # a requested time t > 0 would be served by the initial state
        t_min = float(np.min(np.asarray(ts, dtype=float)[positive]))
        raise fail("lr", f"at most 2·t = {2 * t_min:g} for the smallest requested time t > 0, so that every such "
                         "time takes at least one step", lr)
    return k.astype(np.int64)


@dataclass(frozen=True)
class Discrete:
    """The discrete algorithm a practitioner runs: W_i ← W_i + lr · v_i(W)/τ, at times t_k = k·lr.

    t counts iterations × η, so step k sits at t_k = k·lr (forward Euler on the flow with step lr).
    A requested time off the grid is served by the nearest iterate k = round(t/lr); the
    trajectory's `t` holds the grid times k·lr actually returned.

    Update-speed clipping (Huh 2020's experiments): with `max_update` = c, each step
    Δθ_k = lr·f(θ_k) is rescaled to Δθ_k · min(1, c/‖Δθ_k‖₂), where ‖·‖₂ is the Euclidean norm over
    all layers' parameters together, ‖Δθ‖₂² = Σ_i ‖ΔW_i‖_F². Every rescaled step counts as one
    clipping event (`Solved.clipped`, `NumericTrajectory.clipped`).

    Divergence: a step that makes an iterate NaN or inf raises `IntegrationFailed` (default), or
    with `on_failure="stop"` ends the run there: the requested times reached are returned and
    `stopped_at` / `reason` say where and why (as for `Flow`).

    Args:
        lr: learning rate (time step) > 0.
        fisher_route: as in `Flow`.
        max_update: None (no clipping) or the largest step norm c > 0.
        record_updates: keep ‖lr·f(θ_k)‖₂ of every step (before clipping) in `step_norms`
            (one float per step).
        on_failure: 'raise' (`IntegrationFailed`, default) or 'stop'.

    >>> Discrete(lr=0.01).lr
    0.01
    >>> out = Discrete(lr=1.0, max_update=0.5, record_updates=True).solve(lambda th: -th, np.array([2.0]),
    ...                                                                     np.array([3.0]))
    >>> float(out.theta[-1, 0]), out.clipped, out.step_norms.tolist()   # steps 2, 1.5, 1 clipped to 0.5
    (0.5, 3, [2.0, 1.5, 1.0])
    """

    lr: float = 1e-3
    fisher_route: str = "efficient"
    max_update: float | None = None
    record_updates: bool = False
    on_failure: Literal["raise", "stop"] = "raise"

    def __post_init__(self) -> None:
        check_real(self.lr, "lr", positive=True)
        _check_route(self.fisher_route)
        if self.max_update is not None:
            check_real(self.max_update, "max_update", positive=True)
        if not isinstance(self.record_updates, bool):
            raise fail("record_updates", "True or False", self.record_updates)
        if self.on_failure not in ("raise", "stop"):
            raise fail("on_failure", "'raise' or 'stop'", self.on_failure)

    @property
    def name(self) -> str:
        """'discrete'."""
        return "discrete"

    def ops(self) -> NumpyOps:
        """`NumpyOps()`."""
        return NumpyOps()

    def steps(self, ts: np.ndarray) -> np.ndarray:
        """Step indices k = round(t / lr) that serve the requested times."""
        return _steps(ts, self.lr)


    def solve(self, f: Callable[[np.ndarray], np.ndarray], theta0: np.ndarray, ts: np.ndarray,
              event: Event | None = None) -> Solved:
        """θ_{k+1} = θ_k + clip(lr·f(θ_k)); θ at the steps nearest to `ts` (times k·lr); an event stops at its step."""
        steps = self.steps(ts)
        out = np.empty((len(steps), theta0.size))
        theta = theta0.copy()
        k, calls, clipped = 0, 0, 0
        cap = None if self.max_update is None else float(self.max_update)
        norms = np.empty(int(steps[-1]) if steps.size else 0) if self.record_updates else None
        g_old = None if event is None else float(event(0.0, theta0))
        progress = Progress("integrate (discrete steps)", float(steps[-1]) if steps.size else 0.0, "steps")

        def result(times: np.ndarray, theta_out: np.ndarray, stopped: float | None, reason: str | None) -> Solved:
            return Solved(times, theta_out, stopped, reason, calls, None, clipped,
                          None if norms is None else norms[:k].copy())

        with np.errstate(over="ignore", invalid="ignore"):
            for j, target in enumerate(steps):
                while k < target:
                    step = self.lr * f(theta)
                    if cap is not None or norms is not None:
                        size = float(np.sqrt(np.dot(step, step)))
                        if norms is not None:
                            norms[k] = size
                        if cap is not None and size > cap:     # a NaN/inf size is not clipped: it diverges
                            step = step * (cap / size)
                            clipped += 1
                    theta = theta + step
                    k += 1
                    calls += 1
                    progress.update(k)
                    if not np.all(np.isfinite(theta)):
                        why = "the iterates diverged; a smaller lr keeps them finite"
                        if self.on_failure == "raise":
                            raise failure(f"Discrete(lr={self.lr:g})", f"step {k} (t = {k * self.lr:.6g})", why,
                                          time=k * self.lr)
                        return result(steps[:j] * self.lr, out[:j], k * self.lr, why)
                    if event is not None:
                        g_new = float(event(k * self.lr, theta))
                        if np.sign(g_new) != np.sign(g_old) and g_new != g_old:
                            out[j] = theta
                            times = np.append(steps[:j], k) * self.lr
                            return result(times, out[:j + 1], k * self.lr, "event")
                        g_old = g_new
                out[j] = theta
        return result(steps * self.lr, out, None, None)


@dataclass(frozen=True)
class HighPrecision:
    """The flow at `dps` decimal digits with mpmath: Gragg–Bulirsch–Stoer extrapolation, small nets.

    The rule runs unchanged on numpy object arrays of `mpmath.mpf` with `MpmathOps`; the Fisher
    is dense (at most ~20 parameters is practical). The float64 problem data are converted
    exactly to mpf (Hairer, Nørsett & Wanner, Solving ODEs I, §II.9; used instead of
    `mpmath.odefun`, whose derivatives by numerical differentiation lose about half the digits
    when the velocity contains an eigendecomposition).

    Args:
        dps: working precision in decimal digits, 15 <= dps <= 200.
        fisher_route: 'efficient' (default: F = KᵀK kept factored, powers through the smaller
            G = KKᵀ, `lindyn.numeric.highprec.MpGram`) or 'explicit' (the dense P x P Fisher, `eigsy`).

    >>> HighPrecision(dps=40).dps
    40
    """

    dps: int = 30
    fisher_route: str = "efficient"

    def __post_init__(self) -> None:
        check_int(self.dps, "dps", minimum=15, maximum=200)
        _check_route(self.fisher_route)

    @property
    def name(self) -> str:
        """'mpmath'."""
        return "mpmath"

    def ops(self) -> MpmathOps:
        """`MpmathOps(dps)`."""
        return MpmathOps(dps=self.dps)

    def solve(self, f: Callable[[np.ndarray], np.ndarray], theta0: np.ndarray, ts: np.ndarray,
              event: Event | None = None) -> Solved:
        """Integrate at `dps` digits (θ0 an object array of mpf); states at `ts` as object arrays."""
        import mpmath
        from .highprec import gbs_integrate
        if event is not None:
            raise fail("event", "None with HighPrecision (events need Flow or Discrete)", event)
        with mpmath.workdps(self.dps):
            try:
                states, calls = gbs_integrate(f, theta0, ts, self.dps)
            except (ZeroDivisionError, ValueError, OverflowError) as err:
                raise failure(f"HighPrecision(dps={self.dps})", f"t < {float(ts[-1]):.6g}", str(err)) from None
        return Solved(np.asarray(ts, dtype=float), np.array(states, dtype=object), None, None, calls)


_SAMPLINGS = ("independent", "epochs")
_QUADRATICS = ("rule", "gauss-newton")


@dataclass(frozen=True)
class Stochastic:
    """Minibatch training, the algorithm people run: θ_{k+1} = θ_k + lr·v(θ_k; B_k)/τ at t_k = k·lr.

    At every step a minibatch B_k of `batch` examples is drawn, the geometry is built on it alone
    (gradients ∂ℓ_B/∂W_i of the mean loss on B_k, and the rule's curvature from B_k), and the
    rule's own velocity is applied. `GD()` is SGD; `bernacchia(LevenbergMarquardt(0.01),
    SampledFisher())` is Bernacchia et al. 2018's online natural gradient; `kfac(
    LevenbergMarquardt(...), MovingAverage())` is K-FAC. The run owns a
    `lindyn.numeric.curvature.CurvatureState`: the estimators' random draws, running averages and
    the λ of a `LevenbergMarquardt` damping, which is adapted after each step from the reduction
    ratio ρ = [ℓ_B(θ + Δ) − ℓ_B(θ)] / m(Δ), with the quadratic model

    * quadratic="rule" (default; Bernacchia et al.'s code): m(Δ) = ⟨g, Δ⟩ + ½ Σ_i ⟨Δ_i, Ĝ_i Δ_i Â_i⟩
      with the damped factors the rule preconditioned with (for Δ = −α F̂⁻¹g this is
      (−α + α²/2)⟨g, F̂⁻¹g⟩);
    * quadratic="gauss-newton" (Martens & Grosse 2015 Sec. 6.5): m(Δ) = ⟨g, Δ⟩ + ½ (JΔ)ᵀ D (JΔ),
      the exact Gauss–Newton curvature of the minibatch (forward-mode J Δ).

    A rule that records no curvature is modelled by Gauss–Newton. The step is always taken.
    Wall-clock time of the stepping (recording excluded) and the examples seen are returned.

    Args:
        lr: step size α > 0 (t counts iterations × α, as `Discrete`).
        batch: minibatch size, 1 <= batch <= number of examples.
        seed: seed of the minibatch draws and of the estimators' draws (>= 0).
        sampling: 'independent' (default; each minibatch a fresh draw without replacement from all
            examples, as Bernacchia et al.'s code) or 'epochs' (reshuffle, then consecutive batches;
            a final partial batch is dropped).
        quadratic: 'rule' or 'gauss-newton' (see above).
        adapt_every: adapt λ after every k-th step only (1: every step, Bernacchia et al.'s code;
            Martens & Grosse 2015 adapt every 5 steps, which saves the extra forward pass on the others).
        fisher_route: as `Flow` (rules that read the full Fisher).
        on_failure: 'raise' (`IntegrationFailed`) or 'stop' (return what was reached).

    >>> Stochastic(lr=1.0, batch=1000).samples_to_t([0, 10_000])
    array([ 0., 10.])
    """

    lr: float = 1e-2
    batch: int = 20
    seed: int = 0
    sampling: str = "independent"
    quadratic: str = "rule"
    adapt_every: int = 1
    fisher_route: str = "efficient"
    on_failure: Literal["raise", "stop"] = "raise"

    def __post_init__(self) -> None:
        check_real(self.lr, "lr", positive=True)
        check_int(self.batch, "batch", minimum=1)
        check_int(self.adapt_every, "adapt_every", minimum=1)
        check_int(self.seed, "seed", minimum=0)
        if self.sampling not in _SAMPLINGS:
            raise fail("sampling", "'independent' or 'epochs'", self.sampling)
        if self.quadratic not in _QUADRATICS:
            raise fail("quadratic", "'rule' or 'gauss-newton'", self.quadratic)
        _check_route(self.fisher_route)
        if self.on_failure not in ("raise", "stop"):
            raise fail("on_failure", "'raise' or 'stop'", self.on_failure)

    @property
    def name(self) -> str:
        """'stochastic'."""
        return "stochastic"

    def ops(self) -> NumpyOps:
        """`NumpyOps()`."""
        return NumpyOps()

    def samples_to_t(self, samples: Any) -> np.ndarray:
        """Times t = k·lr at which `samples` examples have been seen (k = samples / batch, rounded)."""
        return np.rint(np.asarray(samples, dtype=float) / self.batch) * self.lr

    def _batches(self, n: int, rng: np.random.Generator) -> Any:
        if self.batch > n:
            raise fail("batch", f"at most the {n} examples of the data", self.batch)
        while True:
            if self.sampling == "independent":
                yield rng.choice(n, size=self.batch, replace=False)
            else:
                order = rng.permutation(n)
                for start in range(0, n - self.batch + 1, self.batch):
                    yield order[start:start + self.batch]

    def _predicted(self, geo: Any, delta: np.ndarray) -> float:
        """m(Δ) − m(0) of the quadratic model (see the class docstring)."""
        D = geo.unvec(delta)
        linear = sum(float(np.sum(g * d)) for g, d in zip(geo.grads, D))
        if self.quadratic == "rule" and len(geo.noted) == len(D):
            quad = sum(float(np.sum(d * (left @ d @ right))) for d, (left, right) in
                       zip(D, (geo.noted[i] for i in range(len(D)))))
        else:
            Jd = geo.output_jvp(D)
            quad = float(np.sum(np.asarray(geo.output_curvature) * Jd * Jd))
        return linear + 0.5 * quad

    def solve(self, f: Any, theta0: np.ndarray, ts: np.ndarray, event: Event | None = None) -> Solved:
        """Minibatch steps from θ0; θ at the steps nearest to `ts` (times k·lr), with samples, wall time, λ."""
        import time
        from .curvature import CurvatureState, update_damping
        if event is not None:
            raise fail("event", "None with Stochastic (events need Flow or Discrete)", event)
        n = getattr(f, "examples", None)
        if n is None or not callable(getattr(f, "batch_geometry", None)):
            raise fail("method", "Flow(), Discrete(lr) or HighPrecision() for moment data (Stochastic draws minibatches "
                                 "from Samples(X, Y))", self)
        steps = _steps(ts, self.lr)
        batch_seed, draw_seed = np.random.SeedSequence(self.seed).spawn(2)
        state = CurvatureState(np.random.default_rng(draw_seed))
        batches = self._batches(n, np.random.default_rng(batch_seed))
        T = len(steps)
        out, wall, lam = np.empty((T, theta0.size)), np.zeros(T), np.full(T, np.nan)
        theta, k, elapsed = theta0.copy(), 0, 0.0
        progress = Progress(f"train (minibatch {self.batch})", float(steps[-1]) if T else 0.0, "steps")
        with np.errstate(over="ignore", invalid="ignore"):
            for j, target in enumerate(steps):
                while k < target:
                    start = time.perf_counter()
                    columns = next(batches)
                    geo = f.batch_geometry(theta, columns, state)
                    delta = self.lr * f.batch_velocity(geo)
                    if state.read and (k + 1) % self.adapt_every == 0:   # a LevenbergMarquardt damping was used
                        after = f.batch_loss(theta + delta, columns)
                        update_damping(state, (after - geo.loss_value) / self._predicted(geo, delta))
                    state.read.clear()
                    theta = theta + delta
                    k += 1
                    state.step = k
                    elapsed += time.perf_counter() - start
                    progress.update(k)
                    if not np.all(np.isfinite(theta)):
                        why = "the iterates diverged; a smaller lr (or more damping) keeps them finite"
                        if self.on_failure == "raise":
                            raise failure(f"Stochastic(lr={self.lr:g}, batch={self.batch})",
                                          f"step {k} (t = {k * self.lr:.6g})", why, time=k * self.lr)
                        return Solved(steps[:j] * self.lr, out[:j], k * self.lr, why, k,
                                      samples=steps[:j] * self.batch, wall_time=wall[:j], damping=lam[:j])
                out[j], wall[j] = theta, elapsed
                if state.damping:
                    lam[j] = next(iter(state.damping.values()))
        return Solved(steps * self.lr, out, None, None, k, samples=steps * self.batch, wall_time=wall, damping=lam)


Method = Flow | Discrete | HighPrecision | Stochastic
