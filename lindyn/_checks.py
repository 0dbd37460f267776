"""Argument checks at the public boundary: one error type, one message format.

Every public entry point validates its arguments here, before sympy, numpy or scipy see them,
so a user gets one readable line naming the argument and its allowed range.
"""
from __future__ import annotations

import math
import operator
from fractions import Fraction
from typing import Any, Iterable


#: Largest depth L accepted by `derive`, `aligned_problem` and the command line: the symbolic
#: derivation grows with L (NGD q = 1/2 takes ~12 s at L = 100 and ~60 s at L = 200), and a
#: depth like 10**6 would never finish.
MAX_DEPTH = 100

#: Largest hidden width of `aligned_problem` and `lindyn integrate`: random orthogonal bases are dense
#: N x N matrices (N = 10**8 would ask numpy for petabytes).
MAX_WIDTH = 2048

#: Largest number of decimal digits of the mpmath routes (`HighPrecision`, `Trajectory.lambdify("mpmath")`).
MAX_DPS = 200


class LindynError(ValueError):
    """Bad input: the message names the argument and its allowed range."""


class NoModeDecomposition(LindynError):
    """The rule does not reduce to one independent singular mode; use `lindyn.integrate` instead."""


class LindynFailure(RuntimeError):
    """A computation that could not be completed on valid input (a run-time failure, not bad input).

    Message form: "<what> failed at <where>: <why>." The command line prints it on one line and
    exits with status 1 (bad input exits with 2).
    """


class IntegrationFailed(LindynFailure):
    """The numerical integrator or evaluator stopped before the requested time.

    Attribute `time` holds where it got to (nan when unknown).
    """

    time: float = float("nan")


class SingularCrossing(IntegrationFailed):
    """The requested path must pass through a singular end-to-end map (NGD sign mismatch).

    Attribute `time` holds the first time t at which W(t) is singular.
    """


def failure(what: str, where: str, why: str, cls: type[LindynFailure] = IntegrationFailed,
            time: float | None = None) -> LindynFailure:
    """Build the run-time failure message: "<what> failed at <where>: <why>."

    >>> str(failure("DOP853", "t = 1.5", "step size underflow"))
    'DOP853 failed at t = 1.5: step size underflow.'
    """
    err = cls(f"{what} failed at {where}: {why.rstrip('.')}.")
    if time is not None:
        err.time = time  # type: ignore[attr-defined]
    return err


def fail(name: str, allowed: str, value: Any, cls: type[Exception] = LindynError) -> Any:
    """Build the one bad-input message: "Argument `name` must be <allowed>, got name=<value>.".

    `cls` picks a subclass callers may catch (e.g. `NoModeDecomposition`); run-time failures use
    `failure` instead.
    """
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return cls(f"Argument `{name}` must be {allowed}, got {name}={text}.")


def check_int(x: object, name: str, *, minimum: int, maximum: int | None = None) -> int:
    """Return `x` as a Python int if it is an integer in [minimum, maximum], else raise `LindynError`.

    Any integral type counts (int, numpy integers: anything with `__index__`), never bool.

    >>> import numpy as np; check_int(np.int64(3), "depth", minimum=1)
    3
    """
    if not isinstance(x, (bool, int)) and hasattr(type(x), "__index__") and not hasattr(x, "free_symbols"):
        try:
            x = operator.index(x)  # numpy integers are integers
        except TypeError:
            pass
    ok = not isinstance(x, bool) and isinstance(x, int) and x >= minimum
    if ok and maximum is not None:
        ok = x <= maximum
    if not ok:
        rng = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise fail(name, f"an integer {rng}", x)
    return x  # type: ignore[return-value]


def check_real(x: object, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    """Return `x` as a finite float (optionally > 0 or >= 0), else raise `LindynError`."""
    try:
        if isinstance(x, bool):
            raise TypeError
        value = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise fail(name, "a finite real number", x) from None
    if not math.isfinite(value):
        raise fail(name, "a finite real number (no NaN or inf)", x)
    if positive and value <= 0:
        raise fail(name, "a finite number > 0", x)
    if nonnegative and value < 0:
        raise fail(name, "a finite number >= 0", x)
    return value


def _is_symbolic(q: object) -> bool:
    # Duck-typed so that this module never imports sympy (see tests/test_layering.py).
    return hasattr(q, "free_symbols") and hasattr(q, "is_number")


def check_exponent(q: object, name: str = "q") -> Any:
    """Return the curvature power `q` as an exact number: int, Fraction or sympy expression.

    Allowed: an integer or `fractions.Fraction` in [0, 1], a string like "1/2", or a sympy
    expression (a symbol derives the whole family). Floats are refused: q enters exponents of
    the derived formulas, where 0.5 and 1/2 give different expressions.
    """
    given = q
    if isinstance(q, str):
        try:
            q = Fraction(q.strip())
        except (ValueError, ZeroDivisionError):
            raise fail(name, "an exact number in [0, 1] such as 1 or 1/2", q) from None
    if isinstance(q, bool) or isinstance(q, float):
        raise fail(name, "exact (int, Fraction or sympy expression, e.g. Fraction(1, 2)), not a float", q)
    if isinstance(q, int):
        q = Fraction(q)
    if hasattr(q, "dtype") and hasattr(q, "item") and not _is_symbolic(q):   # numpy scalar
        kind = getattr(q.dtype, "kind", "")
        if kind in "iu":
            q = Fraction(int(q.item()))
        elif kind == "f":
            raise fail(name, "exact (int, Fraction or sympy expression, e.g. Fraction(1, 2)), not a float", given)
    if isinstance(q, Fraction):
        if not 0 <= q <= 1:
            raise fail(name, "in [0, 1]", given)
        return q.numerator if q.denominator == 1 else q
    if _is_symbolic(q):
        if getattr(q, "is_number", False):
            if getattr(q, "is_Float", False) or any(getattr(a, "is_Float", False) for a in q.atoms()):
                raise fail(name, "exact, not a floating-point sympy number", q)
            if getattr(q, "is_extended_real", None) is not True or getattr(q, "is_finite", None) is not True:
                raise fail(name, "a real exact number in [0, 1]", q)
            if not (0 <= q <= 1):
                raise fail(name, "in [0, 1]", q)
        return q
    raise fail(name, "an int, a Fraction or a sympy expression in [0, 1]", q)


def check_times(t: Iterable[Any], name: str = "t") -> list[float]:
    """Return times as a list of floats: finite, >= 0 and non-decreasing."""
    try:
        values = [float(x) for x in t]
    except (TypeError, ValueError):
        raise fail(name, "a sequence of finite times >= 0", t) from None
    if not values:
        raise fail(name, "a non-empty sequence of times", t)
    if any(not math.isfinite(v) for v in values):
        raise fail(name, "finite times (no NaN or inf)", t)
    if any(v < 0 for v in values):
        raise fail(name, "times >= 0", t)
    if any(b < a for a, b in zip(values, values[1:])):
        raise fail(name, "sorted in increasing order", t)
    return values
