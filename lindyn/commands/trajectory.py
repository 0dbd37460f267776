"""`lindyn trajectory`: the derived closed-form u(t) of each mode (JSON, LaTeX or a table).

Contract: `lindyn trajectory --rule R [--q Q] --depth L --s S1,... (--u0 U0 | --gains A1,...,AL)
[--lam LAM] [--tau TAU] --t T1,... [--dps D] [--json | --latex]`; with --json one object with
keys rule, q, depth, form, t, u (list over modes of lists over t), condition (κ = |t u̇/u| per value,
same shape as u), ode and solution (LaTeX).

Condition: κ(t) = |t u̇/u| (`Trajectory.condition`) is the relative change of u per relative change of
t; double precision resolves u(t) only to about κ·2.2e-16 relative. Where κ > 1e8 (double precision),
one line "lindyn: warning: ..." goes to stderr, pointing to --dps (the exact t in mpmath).
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

from ..cli import add_problem_arguments, check_int, decimal_items, fail, print_table, problem_arguments


def register(subparsers: Any) -> None:
    """Add the `trajectory` subcommand."""
    p = subparsers.add_parser("trajectory", help="derived closed-form mode trajectories u(t)")
    add_problem_arguments(p)
    p.add_argument("--dps", help="evaluate with mpmath at D decimal digits, 15 <= D <= 200 (default: double precision)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--latex", action="store_true", help="print the derivation as a LaTeX fragment")
    # --latex needs only the rule and the depth (and --gains/--lam to choose the derivation)
    for action in p._actions:
        if action.dest in ("s", "t"):
            action.required = False
    for group in p._mutually_exclusive_groups:
        if any(a.dest == "u0" for a in group._group_actions):
            group.required = False
    p.set_defaults(handler=run)


def derived_problem(args: argparse.Namespace) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """(parsed problem, derived Trajectory, per-mode keyword arguments) shared with learning-time."""
    from lindyn import derive, rule_from_name

    pa = problem_arguments(args)
    rule = rule_from_name(pa["rule_name"], pa["q"])
    n = len(pa["s"])
    if any(x <= 0 for x in pa["s"]):
        raise fail("s", "singular values > 0", args.s)
    lam = pa["lam"]
    if len(lam) not in (1, n):
        raise fail("lam", f"one value or one per mode ({n})", args.lam)
    if any(x <= 0 for x in lam):
        raise fail("lam", "input variances > 0", args.lam)
    white = all(x == 1.0 for x in lam)
    gains = "unbalanced" if pa["gains"] is not None else "balanced"
    # non-white input: derive with a symbolic λ, whose values are given at evaluation
    traj = derive(rule, pa["depth"], gains=gains, lam=1 if white else "symbolic")
    kw: dict[str, Any] = {"s": pa["s"], "tau": pa["tau"]}
    if not white:
        kw["lam"] = lam if len(lam) == n else lam * n
    if pa["gains"] is not None:
        if any(x <= 0 for x in pa["gains"]):
            raise fail("gains", "gains > 0", args.gains)
        kw["gains"] = pa["gains"]
    else:
        u0 = pa["u0"]
        if len(u0) not in (1, n):
            raise fail("u0", f"one value or one per mode ({n})", args.u0)
        if any(x <= 0 for x in u0):
            raise fail("u0", "initial strengths > 0", args.u0)
        kw["u0"] = u0 if len(u0) == n else u0 * n
    return pa, traj, kw


def mode_kw(kw: dict[str, Any], m: int) -> dict[str, Any]:
    """The keyword arguments of mode m alone (for `learning_time` and the mpmath evaluator)."""
    out = {"s": kw["s"][m], "tau": kw["tau"]}
    if "lam" in kw:
        out["lam"] = kw["lam"][m]
    if "gains" in kw:
        out["gains"] = kw["gains"]
    else:
        out["u0"] = kw["u0"][m]
    return out


def run(args: argparse.Namespace) -> int:
    """Derive, evaluate and print."""
    # === check arguments
    if args.depth.strip().isalpha():
        return _any_depth(args)
    if args.latex and args.s is None and args.t is None and args.u0 is None:
        from lindyn import derive, rule_from_name
        from ..cli import MAX_DEPTH, rule_power
        try:
            depth = int(args.depth)
        except ValueError:
            raise fail("depth", f"an integer in [1, {MAX_DEPTH}]", args.depth) from None
        check_int(depth, "depth", minimum=1, maximum=MAX_DEPTH)
        gains = "unbalanced" if args.gains is not None else "balanced"
        lam = 1 if args.lam == "1" else "symbolic"
        print(derive(rule_from_name(args.rule, rule_power(args.rule, args.q)), depth, gains=gains, lam=lam).latex(),
              end="")
        return 0
    for name in ("s", "t"):
        if getattr(args, name) is None:
            raise fail(name, "given (only --latex works from --rule and --depth alone)", None)
    if args.u0 is None and args.gains is None:
        raise fail("u0", "given, or --gains (only --latex works from --rule and --depth alone)", None)
    pa, traj, kw = derived_problem(args)
    t = pa["t"]
    from ..trajectory import MP_MAX_DPS, IllConditioned
    dps = None if args.dps is None else check_int(_int(args.dps, "dps"), "dps", minimum=15, maximum=MP_MAX_DPS)
    if args.latex:
        print(traj.latex(), end="")
        return 0
    if dps is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", IllConditioned)
            u = traj.evaluate(t, **kw)
        for w in caught:
            if issubclass(w.category, IllConditioned):
                print(f"lindyn: warning: {str(w.message).replace('evaluate(..., dps=30)', '--dps 30')}",
                      file=sys.stderr)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        rows = [[float(x) for x in row] for row in u.reshape(len(pa["s"]), len(t))]
        text = None
    else:
        import mpmath
        f = traj.lambdify("mpmath")
        # the numbers as typed: exact decimals at `dps` digits, not their nearest doubles
        exact = dict(kw)
        exact["s"] = decimal_items(args.s)
        exact["tau"] = args.tau.strip()
        if "u0" in kw:
            typed = decimal_items(args.u0)
            exact["u0"] = typed if len(typed) == len(pa["s"]) else typed * len(pa["s"])
        if "gains" in kw:
            exact["gains"] = decimal_items(args.gains)
        if "lam" in kw:
            typed = decimal_items(args.lam)
            exact["lam"] = typed if len(typed) == len(pa["s"]) else typed * len(pa["s"])
        t_typed = decimal_items(args.t)
        vals = [[f(tk, dps=dps, **mode_kw(exact, m)) for tk in t_typed] for m in range(len(pa["s"]))]
        rows = [[float(x) for x in row] for row in vals]
        text = [[mpmath.nstr(x, dps) for x in row] for row in vals]
    if args.json:
        kappa = traj.condition(t, **kw).reshape(len(pa["s"]), len(t))
        obj = {"rule": pa["rule_name"], "q": str(pa["q"]), "depth": pa["depth"], "form": traj.form,
               "t": t, "u": rows, "condition": [[float(x) for x in row] for row in kappa],
               "ode": traj.latex("ode"), "solution": traj.latex("solution")}
        if text is not None:
            obj["u_digits"] = text
            obj["dps"] = dps
        print(json.dumps(obj))
        return 0
    print(f"# {traj.rule.name}, L = {pa['depth']}, form: {traj.form}")
    print("# " + str(traj.ode.lhs) + " = " + str(traj.ode.rhs))
    header = ["t"] + [f"u_{m + 1}" for m in range(len(rows))]
    print_table(header, [[tk] + [(text[m][k] if text is not None else repr(rows[m][k])) for m in range(len(rows))]
                         for k, tk in enumerate(t)])
    return 0


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        from ..trajectory import MP_MAX_DPS
        raise fail(name, f"an integer in [15, {MP_MAX_DPS}]", text) from None


def _any_depth(args: argparse.Namespace) -> int:
    """`--depth L` (a letter): the balanced mode for every depth at once (formulas, no evaluation)."""
    import sympy

    from lindyn import derive_any_depth, rule_from_name
    from ..cli import rule_power
    for name in ("s", "t", "u0", "gains"):
        if getattr(args, name) is not None:
            raise fail(name, f"not given with a symbolic --depth {args.depth} (formulas for every depth; give a "
                             "number to evaluate)", getattr(args, name))
    if args.lam != "1" or args.dps is not None:
        raise fail("lam" if args.lam != "1" else "dps", f"not given with a symbolic --depth {args.depth}",
                   args.lam if args.lam != "1" else args.dps)
    fam = derive_any_depth(rule_from_name(args.rule, rule_power(args.rule, args.q)))
    L = sympy.Symbol(args.depth.strip(), integer=True, positive=True)
    sub = {fam.L: L}
    rhs = fam.rhs.xreplace(sub)
    c = None if fam.c is None else fam.c.xreplace(sub)
    g = None if fam.g is None else sympy.factor(fam.g.xreplace(sub))
    conserved = None if fam.conserved is None else fam.conserved.xreplace(sub)
    if args.latex:
        print(f"% lindyn: {fam.rule.name}, every depth {L}, balanced mode\n"
              f"\\begin{{equation}}\n\\tau \\frac{{d u}}{{d t}} = {sympy.latex(rhs)}\n\\end{{equation}}")
        if conserved is not None:
            print("% conserved on an unbalanced aligned mode, any layers i, j\n"
                  f"\\begin{{equation}}\n\\frac{{d}}{{dt}}\\left({sympy.latex(conserved)}\\right) = 0\n\\end{{equation}}")
        return 0
    if args.json:
        print(json.dumps({"rule": args.rule, "q": str(rule_power(args.rule, args.q)), "depth": str(L),
                          "c": str(c), "g": str(g), "ode": sympy.latex(rhs),
                          "solution": sympy.latex(fam.t_of_u.xreplace(sub)),
                          "limit_ode": str(fam.limit_ode()),
                          "conserved": None if conserved is None else str(conserved),
                          "conserved_reason": fam.conserved_reason}))
        return 0
    print(f"# {fam.rule.name}, every depth {L}, balanced mode")
    print(f"tau*du/dt = {rhs}")
    if c is not None:
        print(f"c = {c}, g = {g}")
    print(f"L -> oo: tau*du/dt / c -> {fam.limit_ode()}")
    print(f"conserved (unbalanced aligned mode, any layers i, j): {conserved}" if conserved is not None
          else f"conserved: none ({fam.conserved_reason})")
    return 0
