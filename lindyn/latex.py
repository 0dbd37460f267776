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
    """The derived ODE, τ du/dt = f(u) (or τ da_1/dt on conserved curves), as LaTeX (no environment).

    >>> from lindyn.rules import GD
    >>> from lindyn.trajectory import derive
    >>> print(ode_latex(derive(GD(), 3, gains="unbalanced"))[:26])
    \\tau \\frac{d a_{1}}{d t} =
    """
    # === check arguments
    return rf"\tau \frac{{d {_variable(traj)}}}{{d t}} = {sympy.latex(traj.ode.rhs)}"


def _variable(traj: Any) -> str:
    """LaTeX name of the function differentiated on the ODE's left-hand side (u, or a_1)."""
    funcs = traj.ode.lhs.atoms(sympy.Derivative)
    expr = next(iter(funcs)).expr if funcs else traj.symbols.u
    return sympy.latex(sympy.Symbol(expr.func.__name__) if isinstance(expr, sympy.core.function.AppliedUndef)
                       else expr)


def _integral_variable(expr: sympy.Expr) -> str:
    """LaTeX of the upper limit of the (first) Integral in `expr`: the quadrature's own variable."""
    integral = next(iter(expr.atoms(sympy.Integral)))
    return sympy.latex(integral.limits[0][2])


def solution_latex(traj: Any) -> str:
    """u(t) when explicit, else t(u) (closed form or quadrature), as a LaTeX string.

    >>> from lindyn.rules import GD
    >>> from lindyn.trajectory import derive
    >>> solution_latex(derive(GD(), 3, gains="unbalanced"))[:9]
    't(a_{1}) '
    """
    # === check arguments
    if traj.u is not None:
        return rf"u(t) = {sympy.latex(traj.u)}"
    if traj.t_of_u is not None:
        # a quadrature runs over its own variable (a_1 on the conserved curves), whatever the ODE shown
        var = _integral_variable(traj.t_of_u) if traj.t_of_u.has(sympy.Integral) else "u"
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
