"""Numeric side of lindyn: imports numpy, scipy and mpmath, never sympy; returns arrays."""
