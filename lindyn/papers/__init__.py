"""The papers whose claims lindyn checks, one module each, and the registry that collects them.

Each module `lindyn.papers.<paper>` holds that paper's oracles (its formulas, used only to compare
with what the engine derives or integrates), its claims (`CLAIMS: tuple[Claim, ...]`), and the
experiments and figure data of `derivations/<paper>.py`; `derived` holds results derived here.
The modules use only lindyn's public API; the helpers their routes share (`curve`,
`sample_points`, `expr_difference`, `rel_max`) are defined here.

>>> PAPERS[0], PAPERS[-1]
('saxe2014', 'derived')
"""
from __future__ import annotations

import importlib
import math
from types import ModuleType
from typing import Any, Sequence

import numpy as np
import sympy

from lindyn import LindynError
from lindyn.claims import Claim, Curve

__all__ = ["PAPERS", "SECTIONS", "paper_module", "paper_claims", "collect_claims", "curve", "sample_points", "expr_difference", "rel_max",
           "bad_argument", "integer_argument", "positive_argument"]

PAPERS = ("saxe2014", "bernacchia2018", "huh2020", "kerekes2021", "derived")

#: Further modules whose `CLAIMS` belong to a paper (experiments too large for the paper's own module).
SECTIONS: dict[str, tuple[str, ...]] = {
    "saxe2014": ("saxe2014_depth", "saxe2014_random"),
    "bernacchia2018": ("bernacchia2018_online", "bernacchia2018_autoencoder"),
    "huh2020": ("huh2020_generalisation", "huh2020_stability"),
    "kerekes2021": ("kerekes2021_sparse",),
    "derived": ("discrete_steps", "any_depth", "whole_matrix", "end_to_end", "alignment"),
}


def paper_module(paper: str) -> ModuleType:
    """The module `lindyn.papers.<paper>` (an import error propagates: no paper is dropped silently)."""
    if paper not in PAPERS:
        raise LindynError(f"Argument `paper` must be one of {', '.join(PAPERS)}, got paper={paper!r}.")
    return importlib.import_module(f"{__name__}.{paper}")


def paper_claims(paper: str) -> tuple[Claim, ...]:
    """The claims of one paper: its module's `CLAIMS`, then those of its `SECTIONS` (an import error propagates)."""
    claims = list(paper_module(paper).CLAIMS)
    for section in SECTIONS.get(paper, ()):
        claims += importlib.import_module(f"{__name__}.{section}").CLAIMS
    return tuple(claims)


def collect_claims() -> tuple[Claim, ...]:
    """Every paper's claims (`paper_claims`), in the order of `PAPERS`; duplicate names are an error."""
    out, seen = [], {}
    for paper in PAPERS:
        for claim in paper_claims(paper):
            if claim.name in seen:
                raise ValueError(f"claim {claim.name!r} is registered by both {seen[claim.name]} and {paper}")
            seen[claim.name] = paper
            out.append(claim)
    return tuple(out)


# --- helpers shared by the papers' routes -------------------------------------------------------

def curve(label: str, x: Any, y: Any, style: str = "-", color: int | None = None) -> Curve:
    """A `Curve` from array-likes; `color` k becomes matplotlib's 'Ck'."""
    return Curve(label, tuple(float(v) for v in np.ravel(x)), tuple(float(v) for v in np.ravel(y)), style,
                 None if color is None else f"C{color}")


def sample_points(sym: Any, n: int = 3, lam: Any = None) -> list[dict[Any, Any]]:
    """Rational values of a mode's symbols (`Trajectory.symbols`) inside 0 < u0 < u < s/λ.

    λ = 1 unless `lam` names the λ symbol of the expressions, which then takes 1, 3/2, 1/2.
    """
    R = sympy.Rational
    s_v, w_v, w0_v = [R(3, 2), R(5, 2), R(7, 10)], [R(1, 3), R(1, 2), R(3, 4)], [R(1, 100), R(1, 20), R(1, 7)]
    lam_v = [1, 1, 1] if lam is None else [1, R(3, 2), R(1, 2)]
    tau_v, t_v = [1, R(3, 2), 2], [R(1, 2), 1, 3]
    rows = []
    for k in range(n):
        s, lk = s_v[k], lam_v[k]
        p = {sym.s: s, sym.lam: lk, sym.u: s / lk * w_v[k], sym.u0: s / lk * w0_v[k], sym.tau: tau_v[k], sym.t: t_v[k]}
        if lam is not None:
            p[lam] = lk
        for i, (a, a0) in enumerate(zip(sym.gains, sym.gains0)):
            p[a], p[a0] = R(3 + i, 4 + 2 * k), R(2 + i, 5 + k)
        rows.append(p)
    return rows


def expr_difference(expr: Any, oracle: Any, points: Sequence[dict[Any, Any]]) -> float:
    """0 when sympy proves expr == oracle; else the worst relative difference at `points` (40 digits).

    >>> import sympy; x = sympy.Symbol("x")
    >>> expr_difference(sympy.sin(x)**2 + sympy.cos(x)**2, 1, [{x: 1}])
    0.0
    """
    if expr is None:
        return 1.0
    diff = sympy.sympify(expr) - sympy.sympify(oracle)
    try:
        if sympy.count_ops(diff) < 300 and sympy.simplify(diff) == 0:
            return 0.0
    except (TypeError, ValueError, NotImplementedError):
        pass
    worst = 0.0
    for p in points:
        d = complex(sympy.N(diff.subs(p), 40))
        o = complex(sympy.N(sympy.sympify(oracle).subs(p), 40))
        worst = max(worst, abs(d) / max(abs(o), 1e-30))
    return float(worst)


def rel_max(a: Any, b: Any, scale: Any = None) -> float:
    """max |a − b| / scale (scale defaults to max |b|, at least 1e-300).

    >>> rel_max([1.0, 2.0], [1.0, 2.5])
    0.2
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    sc = float(np.max(np.abs(b))) if scale is None else float(scale)
    return float(np.max(np.abs(a - b)) / max(sc, 1e-300))


def bad_argument(name: str, allowed: str, got: Any) -> LindynError:
    """The error of an experiment's bad argument, in lindyn's one format (to be raised by the caller)."""
    return LindynError(f"Argument `{name}` must be {allowed}, got {name}={got!r}.")


def integer_argument(x: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    """`x` as an int in [minimum, maximum] (numpy integers count, bools do not), else `bad_argument`."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < minimum \
            or (maximum is not None and x > maximum):
        allowed = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
        raise bad_argument(name, allowed, x)
    return int(x)


def positive_argument(x: Any, name: str) -> float:
    """`x` as a finite float > 0, else `bad_argument`."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(x) and x > 0):
        raise bad_argument(name, "a finite number > 0", x)
    return float(x)
