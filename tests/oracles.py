"""Paper formulas used as test oracles (test-only: the engine never sees these).

Each function is a formula from THEORY.md §2 / §5 with its source; tests compare the engine's
derived expressions and numbers against them (see tests/README.md, "Symbolic engine oracles").
"""
import math

import sympy

# THEORY.md §2 table: balanced aligned mode, whitened: τ u̇ = c u^g (s − u).
def table_c_g(rule: str, L: int, q=1):
    """(c, g) of the §2 table for rule in {gd, ngd, bernacchia, block, kfac} (power q)."""
    q = sympy.nsimplify(q)
    L = sympy.Integer(L)
    if rule == "gd":
        return L, 2 - 2 / L
    if rule == "ngd":                                     # full MP power q
        return L ** (1 - q), (1 - q) * (2 - 2 / L)
    if rule == "bernacchia":
        return sympy.Integer(1), sympy.Integer(0)
    if rule in ("block", "kfac"):                         # block NGD power q
        return L, (1 - q) * (2 - 2 / L)
    raise KeyError(rule)


def table_conserved_power(rule: str, q=1):
    """Exponent n of the conserved a_i^n − a_j^n (0 means a_i/a_j), THEORY.md §2 table."""
    q = sympy.nsimplify(q)
    if rule in ("gd", "ngd"):
        return 2
    if rule == "bernacchia":
        return 0
    return 2 - 2 * q                                      # block power q (q = 1: a_i/a_j)


def saxe_eq11_time(s, u0, uf, tau=1.0):
    """Saxe et al. 2014 Eq. 11 (L = 2 GD): t = (τ/2s) ln[uf(s − u0)/(u0(s − uf))]."""
    return tau / (2 * s) * math.log(uf * (s - u0) / (u0 * (s - uf)))


def saxe_eq12_u(t, s, u0, tau=1.0):
    """Saxe et al. 2014 Eq. 12 (L = 2 GD logistic): u = s/(1 + (s/u0 − 1) e^{−2st/τ})."""
    return s / (1 + (s / u0 - 1) * math.exp(-2 * s * t / tau))


def implicit_time_2f1(g, s, u0, u, c, tau=1):
    """THEORY §2: t = (τ/c)[I_g(u) − I_g(u0)], I_g(v) = v^{1−g}/((1−g)s) ₂F₁(1, 1−g; 2−g; v/s) (mpmath)."""
    import mpmath

    def I(v):
        return v ** (1 - g) / ((1 - g) * s) * mpmath.hyp2f1(1, 1 - g, 2 - g, v / s)

    return tau / c * (I(u) - I(u0))


def two_layer_unbalanced_time(c, s, u0, u, tau=1.0):
    """THEORY §2 (derived): two-layer GD, c = a² − b²: t = (τ/E){ln[(E R(u) + c² + 4su)/(s − u)] − (same at u0)}."""
    E = math.sqrt(c * c + 4 * s * s)

    def R(v):
        return math.sqrt(c * c + 4 * v * v)

    def F(v):
        return math.log((E * R(v) + c * c + 4 * s * v) / (s - v))

    return tau / E * (F(u) - F(u0))


def exponential_u(t, s, u0, rate):
    """THEORY §5.4: u = s − (s − u0) e^{−rate·t} (NGD rate 1; block NGD q = 1 rate L)."""
    return s - (s - u0) * math.exp(-rate * t)


#: THEORY §5: published numbers.
SAXE_T = [0.5, 1.0, 2.0]
SAXE_U = [0.0716031774029, 0.4305879205034, 1.874841113744]        # s = 2, u0 = 0.01, L = 2
LN9999 = 9.210240366975849                                          # s = 1, u0 = 1e-4 → 1 − 1e-4
BALANCED_GD_TIMES = {3: 9.144747306608, 4: 15.529151651237}         # s = 1, u0 = 1e-3 → 0.5


# === Kerekes et al. 2021 (THEORY §4): the function-space NGF solutions, typed in from the paper.
# The package derives them (lindyn.symbolic.function_space: sympy.dsolve, then a sympy rewrite for
# floating point); these are the only copies of the formulas and are used only as test oracles.
def kerekes_margin_expr(t, m0):
    """Logistic NGF margin m(t) = ln[(e^{m0} + 1)e^t − 1] as a sympy expression (Kerekes et al. 2021)."""
    return sympy.log((sympy.exp(m0) + 1) * sympy.exp(t) - 1)


def kerekes_margin(t, m0):
    """m(t) = ln[(e^{m0} + 1)e^t − 1] in numpy, direct formula (broadcasts; fine for t, m0 <= ~700)."""
    import numpy as np
    return np.log((np.exp(np.asarray(m0, dtype=float)) + 1) * np.exp(np.asarray(t, dtype=float)) - 1)


def kerekes_squared_expr(t, f0, y):
    """Squared-loss NGF output f(t) = y + e^{−t}(f0 − y) as a sympy expression (Kerekes et al. 2021)."""
    return y + sympy.exp(-t) * (f0 - y)


def kerekes_squared(t, f0, y):
    """f(t) = y + e^{−t}(f0 − y) in numpy (broadcasts)."""
    import numpy as np
    return y + np.exp(-np.asarray(t, dtype=float)) * (np.asarray(f0, dtype=float) - y)


#: THEORY §5 item 5: logistic NGF, m0 = 0: m(1), m(5) (13 significant digits).
KEREKES_MARGIN_T = [1.0, 5.0]
KEREKES_MARGIN_M = [1.489880125645, 5.689772519291]


# === Saxe et al. 2014, Eq. 17 (THEORY §2): N_l = L + 1 layers of neurons; the N_l → ∞ asymptote, divided by N_l.
def saxe_eq17_time(L, s, u0, uf):
    """t = (1/N_l)[1/(s u0) − 1/(s u_f) + ln(u_f(s − u0)/(u0(s − u_f)))/s²], N_l = L + 1 (τ = 1)."""
    return (1 / (s * u0) - 1 / (s * uf) + math.log(uf * (s - u0) / (u0 * (s - uf))) / s ** 2) / (L + 1)


#: THEORY §2: L = 3 (N_l = 4), s = 1, u0 = 1e-3 → 0.5: Eq. 17 gives 251.2267, 27.47x the exact 9.1447.
SAXE_EQ17_L3, SAXE_EQ17_RATIO_L3 = 251.2267, 27.47
