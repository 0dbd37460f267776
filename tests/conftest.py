"""Shared test settings: every tolerance is named here with the reason for its value."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

# === foundation (full-matrix integration)
# === symbolic engine
# === claims / report
# === Kerekes et al. 2021
