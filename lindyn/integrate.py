"""`integrate(problem, rule, t, method=Flow())`: the full matrix dynamics of any problem.

What to integrate (a `Problem`: model x loss x data, and a learning rule) is kept apart from how
(`Flow`, `Discrete`, `HighPrecision`: solver objects with a `solve` method, as in diffrax's
`diffeqsolve(terms, solver, ...)`). Every rule and every problem run through the same code: the
rule's `velocity` is evaluated on the problem's geometry (`lindyn.numeric.geometry`) at each
step, so a user rule made with `lindyn.rule(fn)`, a logistic loss or a tanh net is integrated
exactly like GD on a deep linear net. Diagnostics (mode strengths, balance, conserved quantities)
are lazy properties of the result, computed when first read.

>>> from lindyn import GD, aligned_problem
>>> traj = integrate(aligned_problem(s=[2.0], depth=2, u0=0.01), GD(), [0.5, 1.0, 2.0])
>>> [round(float(x), 8) for x in traj.u[0]]          # Saxe et al. 2014 Eq. 12
[0.07160318, 0.43058792, 1.87484111]
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Sequence

import numpy as np

from ._chain import chain_products, end_to_end, end_to_end_velocity
from ._checks import LindynError, SingularCrossing, check_int, check_times, fail, failure
from .numeric._ops import unvec_layers, vec_layers
from .numeric.geometry import MatrixGeometry, Moments, VelocityField, forward
from .numeric.singular import first_singular_point
from .numeric.solvers import Discrete, Flow, HighPrecision, Method, Stochastic
from .problem import Aligned, Problem, Samples
from .rules import GD, LearningRule

__all__ = ["Flow", "Discrete", "HighPrecision", "Stochastic", "NumericTrajectory", "estimated_factors", "integrate", "layer_velocities", "geometry"]

#: A candidate invariant enters `NumericTrajectory.conserved` when its rate of change at the probe
#: weights, relative to the size of the terms that make it, is below this (rounding is ~1e-15).
CONSERVATION_PROBE_RTOL = 1e-8

#: The rule is taken to move W(t) along the straight line to W* when its end-to-end velocity at
#: t = 0 is parallel to W* − W(0) within this relative residual (exact NGD, block NGD q = 1).
STRAIGHT_PATH_RTOL = 1e-8

#: A straight-line rule has the same rate r at W(0) and at the generic probe weights; the rates are
#: taken to match within this relative difference (each is accurate to ~1e-8, `STRAIGHT_PATH_RTOL`;
#: a rule straight only at a special W(0), GD at W_i = I, has an O(1) different rate, or none).
STRAIGHT_RATE_MATCH_RTOL = 1e-6

#: A terminal event: g(t, (W_1, …, W_L)) -> float; the run stops where g changes sign.
Event = Callable[[float, tuple[np.ndarray, ...]], float]


@dataclass(frozen=True)
class NumericTrajectory:
    """Full-matrix trajectory of `problem` under `rule`, integrated by `method`.

    Stored: what made it, the times and the layer weights. Everything else is computed from them
    when first read (and cached).

    Attributes:
        problem, rule, method: what made it.
        t: times (T,) actually served (for `Discrete`, the grid times k·lr; with an event, the
            times reached plus the event time).
        W: per layer, an array (T, n_i, n_{i-1}) of W_i(t).
        stopped_at: None, or where the run stopped early (terminal event, or a failure under
            `Flow(on_failure="stop")`); `stop_reason` says why.
        evaluations: velocity evaluations used.
        interpolant: θ(t) over the run when `Flow(dense=True)`, else None.
        clipped: steps whose norm `Discrete(max_update=c)` cut to c (update-speed clipping; 0 otherwise).
        step_norms: with `Discrete(record_updates=True)`, ‖lr·θ̇(θ_k)‖₂ of every step k = 0, 1, …
            taken (Euclidean over all layers, before clipping), else None.
        samples, wall_time, damping: with `Stochastic`, the examples seen, the seconds spent
            stepping and the Levenberg–Marquardt λ at each returned state (else None).

    For `HighPrecision`, `W`, `W_end`, `u` and `loss` are object arrays of `mpmath.mpf` (so that
    25-digit comparisons are possible); `leakage`, `balance`, `gains` and `conserved` are float64.
    """

    problem: Problem
    rule: LearningRule
    method: Method
    t: np.ndarray
    W: tuple[np.ndarray, ...]
    stopped_at: float | None = None
    stop_reason: str | None = None
    evaluations: int = 0
    interpolant: Callable[[Any], np.ndarray] | None = field(default=None, repr=False, compare=False)
    clipped: int = 0
    step_norms: np.ndarray | None = field(default=None, repr=False, compare=False)
    samples: np.ndarray | None = field(default=None, repr=False, compare=False)
    wall_time: np.ndarray | None = field(default=None, repr=False, compare=False)
    damping: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def _high(self) -> bool:
        return isinstance(self.method, HighPrecision)

    @cached_property
    def _floats(self) -> tuple[np.ndarray, ...]:
        return tuple(np.asarray(x, dtype=float) for x in self.W)

    @cached_property
    def W_end(self) -> np.ndarray:
        """(T, n_L, n_0): the end-to-end map W = W_L⋯W_1 (deep linear networks; wᵀ of a diagonal network)."""
        if self.problem.network.kind == "diagonal":
            return self.problem.network.end_to_end(self._floats)
        self._linear("W_end")
        if self._high:
            return np.stack([end_to_end([w[k] for w in self.W]) for k in range(len(self.t))])
        return end_to_end(self.W)

    @cached_property
    def outputs(self) -> np.ndarray:
        """(T, n_L, n): the network's outputs f(t) on the training inputs (sample data)."""
        if self.problem.moments:
            raise fail("outputs", "read from a problem with sample data (moment data have no examples)", "Task")
        data = self.problem.data()
        from .numeric.geometry import MatrixGeometry
        net = self.problem.network
        return np.stack([MatrixGeometry(tuple(w[k] for w in self._floats), data, loss=self.problem.loss,
                                        **net.geometry_options()).outputs
                         for k in range(len(self.t))])

    def loss_on(self, data: Samples) -> np.ndarray:
        """(T,): the loss ℓ(f(x; W(t)); y) of every stored state on other samples (a test set), one forward pass each."""
        if not isinstance(data, Samples):
            raise fail("data", "a lindyn.Samples(X, Y) with the network's input and output widths", data)
        net = self.problem.network
        if net.kind != "chain" or (data.X.shape[0], data.Y.shape[0]) != (net.widths[0], net.widths[-1]):
            raise fail("data", f"samples with {net.widths[0]} inputs and {net.widths[-1]} outputs (a chain network)",
                       f"X of shape {data.X.shape}, Y of shape {data.Y.shape}")
        return np.array([self.problem.loss.value(forward(tuple(w[k] for w in self._floats), data.X, net.activation,
                                                         net.bias), data.Y) for k in range(len(self.t))])

    @cached_property
    def loss(self) -> np.ndarray:
        """(T,): excess loss ½ tr[(W − W*)Σ(W − W*)ᵀ] on moments (mpf for `HighPrecision`); ℓ(f(t); Y) on samples."""
        if not self.problem.moments:
            Y = self.problem.task.Y
            return np.array([self.problem.loss.value(f, Y) for f in self.outputs])
        if self._high:
            import mpmath
            from .numeric.highprec import to_mpf_array
            with mpmath.workdps(self.method.dps):
                S, W_star = to_mpf_array(self.problem.task.Sigma_xx), _mp_w_star(self.problem)
                out = np.empty(len(self.t), dtype=object)
                for k in range(len(self.t)):
                    R = self.W_end[k] - W_star
                    out[k] = sum(np.diag(R @ S @ R.T)) / 2
                return out
        R = self.W_end - self.problem.task.W_star
        return 0.5 * np.einsum("kij,jl,kil->k", R, self.problem.task.Sigma_xx, R)

    @cached_property
    def _mode_matrix(self) -> np.ndarray:
        U, V = self.problem.bases()
        if self._high:
            import mpmath
            from .numeric.highprec import to_mpf_array
            with mpmath.workdps(self.method.dps):
                U, V = to_mpf_array(U), to_mpf_array(V)
                return np.stack([U.T @ self.W_end[k] @ V for k in range(len(self.t))])
        return U.T @ self.W_end @ V

    @cached_property
    def u(self) -> np.ndarray:
        """(modes, T): mode strengths diag(Uᵀ W V), (U, V) = problem.bases(), modes = min(n_0, n_L)."""
        M = self._mode_matrix
        return np.stack([M[:, a, a] for a in range(min(M.shape[1:]))])

    @cached_property
    def leakage(self) -> np.ndarray:
        """(T,): max |off-diagonal entry of Uᵀ W V| (0 while the modes stay decoupled)."""
        off = np.asarray(self._mode_matrix, dtype=float).copy()
        m = min(off.shape[1:])
        off[:, np.arange(m), np.arange(m)] = 0.0
        return np.abs(off).reshape(len(self.t), -1).max(axis=1) if off[0].size else np.zeros(len(self.t))

    @cached_property
    def balance(self) -> tuple[np.ndarray, ...]:
        """Per i = 1..L−1, (T, n_i, n_i): C_i = W_{i+1}ᵀW_{i+1} − W_iW_iᵀ (none for a diagonal network: no chain)."""
        if self.problem.network.kind == "diagonal":
            return ()
        W = self._floats
        return tuple(np.swapaxes(W[i + 1], 1, 2) @ W[i + 1] - W[i] @ np.swapaxes(W[i], 1, 2)
                     for i in range(len(W) - 1))

    @cached_property
    def gains(self) -> np.ndarray | None:
        """(modes, L, T): per-layer mode gains a_{i,α} = (R_{i+1}ᵀ W_i R_i)_αα for an `Aligned` init, else None."""
        if not isinstance(self.problem.init, Aligned):
            return None
        R = self.problem.init.bases(self.problem.network, self.problem.task)
        n_modes = min(self.problem.network.widths)
        W = self._floats
        return np.stack([np.stack([np.diagonal(R[i + 1].T @ W[i][k] @ R[i])[:n_modes] for k in range(len(self.t))],
                                  axis=-1) for i in range(len(W))], axis=1)

    @cached_property
    def conserved(self) -> dict[str, np.ndarray]:
        """name -> values over t of each candidate invariant the rule conserves for every init.

        Decided by probing the rule's velocity at two fixed random generic weights of the same
        shapes (rate of change below `CONSERVATION_PROBE_RTOL` relative): 'C_i' (the balance,
        conserved by GD and every full-Fisher power NGD^q, Huh 2020) and on nets of equal widths
        'logdet_W{i+1}/W{i}' = log|det W_{i+1}| − log|det W_i| (block NGD q = 1, K-FAC, Bernacchia's
        rule). Block NGD with q < 1 breaks both; its invariant a_i^{2−2q} − a_j^{2−2q} lives on
        the mode gains (`gains`).
        """
        probes = _generic_probes(self.rule, self.problem, self.method)
        out = {}
        for name, value in _candidate_invariants(self._floats, self.balance).items():
            if probes and all(_rate_vanishes(name, W, V) for W, V in probes):   # no probes: claim nothing
                out[name] = value
        return out

    def drift(self, name: str) -> np.ndarray:
        """max |Q(t) − Q(0)| over the entries of the conserved quantity `name`, shape (T,).

        >>> from lindyn import GD, aligned_problem
        >>> traj = integrate(aligned_problem(s=[1.0], depth=2, u0=0.1), GD(), [0.0, 1.0])
        >>> bool(traj.drift("C_1")[-1] < 1e-9)
        True
        """
        # === check arguments
        if name not in self.conserved:
            raise fail("name", "one of " + ", ".join(sorted(self.conserved)) if self.conserved
                       else "a conserved quantity (this rule conserves none of the candidates)", name)
        Q = np.asarray(self.conserved[name], dtype=float)
        return np.abs(Q - Q[0]).reshape(len(Q), -1).max(axis=1)

    def _linear(self, what: str) -> None:
        if not self.problem.network.linear:
            raise fail(what, "read from a deep linear network without biases (use `outputs`)", self.problem.network)


def _field(problem: Problem, rule: Any, method: Any) -> VelocityField:
    """The velocity field of `problem` under `rule` on the backend of `method`."""
    data, tau = problem.data(), problem.tau
    ops = method.ops()
    if isinstance(method, HighPrecision):
        import mpmath
        from .numeric.highprec import to_mpf_array
        if not isinstance(data, Moments):
            raise fail("method", "Flow() or Discrete(lr) for sample data (HighPrecision takes moment data)", method)
        with mpmath.workdps(method.dps):
            data = Moments(to_mpf_array(data.Sigma), to_mpf_array(data.Sigma_yx))
            tau = mpmath.mpf(float(tau))
    net = problem.network
    return VelocityField(rule, net.shapes, data, tau=tau, ops=ops, fisher_route=method.fisher_route,
                         loss=problem.loss, **net.geometry_options())


def _initial_velocity(rule: Any, f: VelocityField, theta0: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rule's velocities at t = 0, checked for count, shapes and finiteness (a clear error, not a solver's)."""
    try:
        V = f.layer_velocities(theta0)
    except LindynError:
        raise
    except (ValueError, TypeError, IndexError, AttributeError) as err:
        raise fail("rule", "a rule whose velocity(grads, geo, ops) returns one array per layer, shaped like "
                           f"that layer ({type(err).__name__}: {err})", getattr(rule, "name", rule)) from None
    V = tuple(np.asarray(v, dtype=float) for v in V)
    if not all(np.all(np.isfinite(v)) for v in V):
        raise fail("rule", "a rule with a finite velocity at the initial weights (got NaN or inf)",
                   getattr(rule, "name", rule))
    return V


def layer_velocities(problem: Problem, rule: LearningRule, W: Sequence[Any] | None = None) -> tuple[np.ndarray, ...]:
    """The rule's layer velocities dW_i/dt = v_i(W)/τ at weights W (default: the initial weights).

    Args:
        problem: the problem (model x loss x data, τ).
        rule: a learning rule.
        W: layer weights of the network's shapes (default `problem.initial_weights()`).

    Returns:
        One array per layer, shaped like W_i.

    >>> from lindyn import GD, aligned_problem
    >>> v = layer_velocities(aligned_problem(s=[1.0], depth=2, u0=0.25), GD())
    >>> round(float(abs(v[0]).max()), 6)              # |ȧ| = a(s − a²) = 0.5 · 0.75
    0.375
    """
    # === check arguments
    if not isinstance(problem, Problem):
        raise fail("problem", "a lindyn.Problem", problem)
    if not callable(getattr(rule, "velocity", None)):
        raise fail("rule", "a learning rule with velocity(grads, geo, ops) (see lindyn.rule)", rule)
    W0 = problem.initial_weights() if W is None else tuple(np.asarray(w, dtype=float) for w in W)
    if len(W0) != len(problem.network.shapes) or any(w.shape != s for w, s in zip(W0, problem.network.shapes)):
        raise fail("W", f"weights of shapes {list(problem.network.shapes)}", [np.shape(w) for w in W0])
    f = _field(problem, rule, Flow())
    return tuple(v / problem.tau for v in _initial_velocity(rule, f, vec_layers(W0)))


def geometry(problem: Problem, W: Sequence[Any] | None = None, *, fisher_route: str = "efficient") -> MatrixGeometry:
    """The geometry the rules read at weights W (default: the initial weights) of `problem`.

    Gives the layer gradients (`grads`), the chain products `A`, `B` and `W_end` (deep linear nets),
    the network's `outputs` (sample data), the K-FAC factors `input_factor(i)`, `output_factor(i)`,
    the Fisher `fisher()` (structured, or dense with fisher_route="explicit"), `jacobian()` and
    `end_to_end_velocity(V)` (Σ_i B_i V_i A_i).

    Args:
        problem: the problem.
        W: layer weights of the network's shapes (default `problem.initial_weights()`).
        fisher_route: 'efficient' or 'explicit'.

    >>> from lindyn import aligned_problem
    >>> geo = geometry(aligned_problem(s=[1.0], depth=2, u0=0.25))
    >>> round(float(abs(geo.grads[0]).max()), 6)      # |∂ℓ/∂a_1| = a_2 (s − a_1 a_2) = 0.5 · 0.75
    0.375
    """
    # === check arguments
    if not isinstance(problem, Problem):
        raise fail("problem", "a lindyn.Problem", problem)
    if fisher_route not in ("efficient", "explicit"):
        raise fail("fisher_route", "'efficient' or 'explicit'", fisher_route)
    W0 = problem.initial_weights() if W is None else tuple(np.asarray(w, dtype=float) for w in W)
    if len(W0) != len(problem.network.shapes) or any(w.shape != s for w, s in zip(W0, problem.network.shapes)):
        raise fail("W", f"weights of shapes {list(problem.network.shapes)}", [np.shape(w) for w in W0])
    net = problem.network
    return MatrixGeometry(W0, problem.data(), fisher_route=fisher_route, loss=problem.loss,
                          **net.geometry_options())


def estimated_factors(problem: Problem, estimator: Any, W: Sequence[Any] | None = None, *, seed: int = 0,
                      columns: Any = None) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """K-FAC's factors (G_i, Ā_i) of every layer as `estimator` computes them at weights W.

    `ExactFactors()` gives the geometry's exact factors (B_iᵀB_i, A_iΣA_iᵀ on a deep linear net with
    the squared loss); `SampledFisher(S)` / `EmpiricalFisher()` the estimates of `Stochastic` runs
    (`lindyn.numeric.curvature`), drawn with `seed`, from the examples `columns` (default all).

    Args:
        problem: a problem with sample data (a chain network).
        estimator: `ExactFactors()`, `SampledFisher(...)`, `EmpiricalFisher()` (a `MovingAverage` needs a run).
        W: layer weights (default the initial weights).
        seed: seed of the estimator's draws (>= 0).
        columns: indices of the examples to use (default all).
    """
    from .numeric.curvature import CurvatureState
    from .rules import MovingAverage
    if not isinstance(problem, Problem) or problem.moments:
        raise fail("problem", "a lindyn.Problem with sample data (Samples(X, Y))", problem)
    if isinstance(estimator, MovingAverage):
        raise fail("estimator", "a per-batch estimator (a MovingAverage needs a Stochastic run)", estimator.name)
    seed = check_int(seed, "seed", minimum=0)
    W0 = problem.initial_weights() if W is None else tuple(np.asarray(w, dtype=float) for w in W)
    f = _field(problem, GD(), Flow())
    n = problem.task.n
    if columns is None:
        cols = np.arange(n)
    else:
        cols = np.ravel(np.asarray(columns))
        if cols.size == 0 or not np.issubdtype(cols.dtype, np.integer) or cols.min() < 0 or cols.max() >= n:
            raise fail("columns", f"a non-empty sequence of example indices in [0, {n - 1}]", columns)
    geo = f.batch_geometry(vec_layers(W0), cols, CurvatureState(np.random.default_rng(seed)))
    return tuple(geo.estimated_factors(i, estimator) for i in range(geo.depth))


def integrate(problem: Problem, rule: LearningRule, t: Sequence[float], method: Method = Flow(), *,
              event: Event | None = None) -> NumericTrajectory:
    """Integrate the full matrix dynamics τ dW_i/dt = v_i, v = rule.velocity(∂ℓ/∂W, geometry).

    Any problem: deep linear nets on moments (ℓ = ½ tr[(W − W*)Σ(W − W*)ᵀ], ∂ℓ/∂W_i =
    B_iᵀ(WΣ − Σ_yx)A_iᵀ, Saxe et al. 2014 Eq. 6), and any network, loss and samples.
    On a square deep linear net, rules whose end-to-end path is the straight line
    W(t) = W* + e^{−rt/τ}(W(0) − W*) (exact NGD, r = 1; block NGD q = 1, r = L; Bernacchia et al.
    2018) with det W(0)·det W* < 0 must pass a singular W at a computable time (the largest root
    x ∈ (0, 1) of det(W* + x(W(0) − W*)) = 0 gives t = −(τ/r) ln x); asking for a time at or beyond
    it raises `SingularCrossing` instead of integrating into the singularity.

    Args:
        problem: model x loss x data, initialisation and τ.
        rule: a learning rule (any object with `velocity(grads, geo, ops)`; see `lindyn.rules`).
        t: times >= 0 in increasing order.
        method: `Flow(...)` (default), `Discrete(lr)`, `Stochastic(lr, batch)` (minibatches of sample
            data, estimated curvature) or `HighPrecision(dps)`.
        event: optional terminal event g(t, (W_1, …, W_L)); the run stops where g changes sign
            and the state there is the last one returned (`stopped_at`).

    Returns:
        A `NumericTrajectory` at the requested times (those reached, with an event).

    Raises:
        LindynError: bad arguments, or a rule whose velocities do not fit the layer shapes.
        SingularCrossing: the straight NGD-type path meets det W = 0 within the requested times.
        IntegrationFailed: the integrator stopped or diverged (with `Flow(on_failure="stop")` or
            `Discrete(lr, on_failure="stop")` the run returns what it reached instead).

    >>> from lindyn import NGD, aligned_problem
    >>> traj = integrate(aligned_problem(s=[1.0], depth=3, u0=0.5), NGD(), [1.0])
    >>> round(float(traj.u[0, 0]), 10) == round(1 - 0.5 * math.exp(-1), 10)   # u = s − (s − u0)e^{−t}
    True
    """
    # === check arguments
    if not isinstance(problem, Problem):
        raise fail("problem", "a lindyn.Problem (e.g. from aligned_problem)", problem)
    if not callable(getattr(rule, "velocity", None)):
        raise fail("rule", "a learning rule with velocity(grads, geo, ops) (see lindyn.rule)", rule)
    if not isinstance(method, (Flow, Discrete, HighPrecision, Stochastic)):
        raise fail("method", "Flow(...), Discrete(lr), Stochastic(lr, batch) or HighPrecision(dps)", method)
    if event is not None and not callable(event):
        raise fail("event", "a callable g(t, layers) -> float, or None", event)
    times = np.asarray(check_times(np.ravel(t) if np.ndim(t) else [t], "t"), dtype=float)

    W0 = problem.initial_weights()
    shapes = problem.network.shapes
    f = _field(problem, rule, method)
    theta0 = vec_layers(W0)
    probe = _field(problem, rule, Flow()) if isinstance(method, HighPrecision) else f
    if isinstance(method, Stochastic):
        if problem.moments:
            raise fail("method", "Flow(), Discrete(lr) or HighPrecision() for moment data (Stochastic draws minibatches "
                                 "from Samples(X, Y))", method)
        from .numeric.curvature import CurvatureState
        probe = _field(problem, rule, method)
        probe.state = CurvatureState(np.random.default_rng(0))   # a throwaway state: estimators may draw
    V0 = _initial_velocity(rule, probe, theta0)
    if problem.moments:
        _check_singular_crossing(problem, rule, W0, V0, times, method)
    g = None if event is None else (lambda time, theta: float(event(time, unvec_layers(theta, shapes))))
    if isinstance(method, HighPrecision):
        import mpmath
        from .numeric.highprec import to_mpf_array
        with mpmath.workdps(method.dps):
            theta0 = to_mpf_array(theta0)
    solved = method.solve(f, theta0, times, g)
    layers = tuple(np.ascontiguousarray(x) for x in unvec_layers(solved.theta, shapes))
    return NumericTrajectory(problem=problem, rule=rule, method=method, t=np.asarray(solved.t, dtype=float),
                             W=layers, stopped_at=solved.stopped_at, stop_reason=solved.reason,
                             evaluations=solved.evaluations, interpolant=solved.interpolant,
                             clipped=solved.clipped, step_norms=solved.step_norms, samples=solved.samples,
                             wall_time=solved.wall_time, damping=solved.damping)


# --- helpers -------------------------------------------------------------------------------------

def _straight_rate(W: Sequence[np.ndarray], V: Sequence[np.ndarray], W_star: np.ndarray) -> float | None:
    """r if the end-to-end velocity at W is −r(W − W*) with r > 0 (relative residual), else None."""
    A, B, W_end = chain_products(W, np.eye)
    E = W_end - W_star
    Wdot = end_to_end_velocity(A, B, V)
    norm_e = float(np.sum(E * E))
    if norm_e == 0.0:
        return None
    rate = -float(np.sum(Wdot * E)) / norm_e
    residual = np.linalg.norm(Wdot + rate * E)
    if rate <= 0 or residual > STRAIGHT_PATH_RTOL * max(np.linalg.norm(Wdot), np.finfo(float).tiny):
        return None
    return rate


def _check_singular_crossing(problem: Problem, rule: Any, W0: Sequence[np.ndarray], V0: Sequence[np.ndarray],
                             times: np.ndarray, method: Any) -> None:
    """Raise `SingularCrossing` when a straight-line rule must pass det W = 0 by max(t).

    Always the case when det W(0)·det W* < 0 (the determinant changes sign along the segment);
    two roots are possible even when the signs agree. A rule counts as straight-line when its
    end-to-end velocity is −r(W − W*) with the same r at W(0) and at two generic random weights
    (GD can be momentarily straight at a special W(0), e.g. W_i = I, without staying on the line).
    """
    W_star = problem.task.W_star
    if W_star.shape[0] != W_star.shape[1]:
        return
    W_end = end_to_end(W0)
    s0, _ = np.linalg.slogdet(W_end)
    s1, _ = np.linalg.slogdet(W_star)
    if s1 == 0:
        return
    rate = _straight_rate(W0, V0, W_star)
    if rate is None:
        return
    # W(t) = W(0) + s(W* − W(0)) with s = 1 − e^{−rate·t}, so the first singular s gives t = −ln(1 − s)/rate
    s_cross = first_singular_point(W_end, W_star)
    if s_cross is None:
        return
    t_cross = -math.log1p(-s_cross) / rate
    if times[-1] >= t_cross:
        probes = _generic_probes(rule, problem, method)
        rates = [_straight_rate(W, V, W_star) for W, V in probes]
        if not probes or any(r is None or abs(r - rate) > STRAIGHT_RATE_MATCH_RTOL * rate for r in rates):
            return  # straight only at this W(0): not a straight-line rule
        name = getattr(rule, "name", type(rule).__name__)
        why = "det W(0)·det W* < 0, so" if s0 * s1 < 0 else "the segment meets det W = 0:"
        err = failure(f"integrate({name})", f"t = {t_cross:.10g}",
                      f"the end-to-end map moves on the straight line W(t) = W* + exp(-{rate:.6g} t)(W(0) - W*) and "
                      f"{why} W(t) is singular at t = {t_cross:.10g} (singular crossing), before the requested "
                      f"t = {float(times[-1]):.6g}; the rule cannot be integrated through it", SingularCrossing, t_cross)
        raise err


def _mp_w_star(problem: Problem) -> np.ndarray:
    """W* = Σ_yx Σ_xx⁻¹ in mpf at the current precision."""
    import mpmath
    from .numeric.highprec import to_mpf_array
    Syx, S = problem.task.Sigma_yx, problem.task.Sigma_xx
    inv = mpmath.inverse(mpmath.matrix(to_mpf_array(S).tolist()))
    S_inv = np.array([[inv[i, j] for j in range(S.shape[0])] for i in range(S.shape[0])], dtype=object)
    return to_mpf_array(Syx) @ S_inv


def _square_chain(W: Sequence[np.ndarray]) -> bool:
    return all(w.shape[-1] == w.shape[-2] for w in W)


def _candidate_invariants(floats: Sequence[np.ndarray], balance: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Candidate invariants over t: the balance C_i, and log-determinant ratios on square chains."""
    out = {f"C_{i + 1}": C for i, C in enumerate(balance)}
    if _square_chain([w[0] for w in floats]):
        logdet = [np.linalg.slogdet(w)[1] for w in floats]
        for i in range(len(floats) - 1):
            # a singular layer (e.g. u0 = 0) has log|det| = −inf: the ratio is undefined, not a candidate
            if np.all(np.isfinite(logdet[i + 1])) and np.all(np.isfinite(logdet[i])):
                out[f"logdet_W{i + 2}/W{i + 1}"] = logdet[i + 1] - logdet[i]
    return out


def _generic_probes(rule: Any, problem: Problem, method: Any) -> list[tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]]:
    """The rule's velocities at two fixed random (generic, non-aligned, unbalanced) weights.

    A quantity whose rate vanishes there is an invariant of the rule for every init; probing the
    initial weights alone would also accept quantities that are only stationary there (e.g.
    C_i = 0 from a balanced init under block rules, which then drifts at second order).
    """
    shapes = problem.network.shapes
    f = _field(problem, rule, Flow(fisher_route=getattr(method, "fisher_route", "efficient")
                                   if not isinstance(method, HighPrecision) else "efficient"))
    rng = np.random.default_rng(20140101)
    out = []
    for _ in range(2):
        W = tuple(np.eye(m, n) + 0.3 * rng.normal(size=(m, n)) / math.sqrt(n) for m, n in shapes)
        try:
            V = _initial_velocity(rule, f, vec_layers(W))
        except Exception:  # a rule undefined at generic weights: claim no invariant rather than fail
            return []
        out.append((W, V))
    return out


def _rate_vanishes(name: str, W: Sequence[np.ndarray], V: Sequence[np.ndarray]) -> bool:
    """Whether the candidate `name` has zero rate of change at W under velocities V (relative)."""
    if name.startswith("C_"):
        i = int(name[2:]) - 1
        Wa, Wb, Va, Vb = W[i], W[i + 1], V[i], V[i + 1]
        rate = Vb.T @ Wb + Wb.T @ Vb - Va @ Wa.T - Wa @ Va.T
        scale = 2 * (np.linalg.norm(Wb) * np.linalg.norm(Vb) + np.linalg.norm(Wa) * np.linalg.norm(Va))
        return bool(np.linalg.norm(rate) <= CONSERVATION_PROBE_RTOL * scale)
    i = int(name.split("/W")[1]) - 1
    try:
        Ia, Ib = np.linalg.inv(W[i]), np.linalg.inv(W[i + 1])
    except np.linalg.LinAlgError:
        return False
    if not (np.all(np.isfinite(Ia)) and np.all(np.isfinite(Ib))):
        return False
    # d/dt log|det W_i| = tr(W_i⁻¹ dW_i/dt)
    ra, rb = np.trace(Ia @ V[i]), np.trace(Ib @ V[i + 1])
    scale = np.linalg.norm(Ia) * np.linalg.norm(V[i]) + np.linalg.norm(Ib) * np.linalg.norm(V[i + 1])
    return bool(abs(rb - ra) <= CONSERVATION_PROBE_RTOL * scale)
