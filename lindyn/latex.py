"""LaTeX rendering of a derived `Trajectory`: equation environments that compile as they are.

>>> from lindyn.rules import GD
>>> from lindyn.trajectory import derive
>>> print(ode_latex(derive(GD(), depth=2)))
\\tau \\frac{d u}{d t} = 2 u \\left(s - u\\right)
"""
from __future__ import annotations

from typing import Any

import sympy

__all__ = ["ode_latex", "solution_latex", "conserved_latex", "trajectory_latex"]


def ode_latex(traj: Any) -> str:
    """The derived ODE, τ du/dt = f(u), as a LaTeX string (no environment)."""
    # === check arguments
    lhs = traj.ode.lhs
    var = "u" if "u" in str(lhs) else "a_{1}"
    return rf"\tau \frac{{d {var}}}{{d t}} = {sympy.latex(traj.ode.rhs)}"


def solution_latex(traj: Any) -> str:
    """u(t) when explicit, else t(u) (closed form or quadrature), as a LaTeX string."""
    # === check arguments
    if traj.u is not None:
        return rf"u(t) = {sympy.latex(traj.u)}"
    if traj.t_of_u is not None:
        var = "u" if traj.form != "quadrature" or traj.problem.gains == "balanced" else "a_{1}"
        return rf"t({var}) = {sympy.latex(traj.t_of_u)}"
    return r"\text{no closed form}"


def conserved_latex(traj: Any) -> list[str]:
    """Each conserved quantity as 'expr = \\text{const}'."""
    # === check arguments
    return [rf"{sympy.latex(c)} = \mathrm{{const}}" for c in traj.conserved]


def trajectory_latex(traj: Any) -> str:
    """The mode ODE, its solution and conserved quantities as `equation` environments.

    The string is a LaTeX fragment (needs amsmath only for long lines); wrap it in a document
    to compile.
    """
    # === check arguments
    name = getattr(traj.rule, "name", "rule")
    lines = [f"% lindyn: {name}, depth L = {traj.problem.depth}, {traj.problem.gains} mode, form: {traj.form}",
             r"\begin{equation}", ode_latex(traj), r"\end{equation}",
             r"\begin{equation}", solution_latex(traj), r"\end{equation}"]
    for c in conserved_latex(traj):
        lines += [r"\begin{equation}", c, r"\end{equation}"]
    return "\n".join(lines) + "\n"
