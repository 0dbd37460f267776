"""Symbolic side of lindyn: imports sympy, never numpy; returns sympy expressions."""
