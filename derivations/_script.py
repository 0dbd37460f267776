"""The command line and the figure drawing shared by the derivation scripts (`python derivations/NAME.py OUTDIR`).

Each script is thin: the experiments and figure data live in `lindyn.papers.<paper>`; the script
parses its arguments, asks the paper module for `Plot` panels and LaTeX, and writes them here.
Figures are drawn by `lindyn.report.plot_panels`, the report's own figure style (coinciding curves
kept visible, mathtext labels, decade ticks on log axes, titles fitted to their panel), at a fixed
size in pixels.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Callable, Sequence

import matplotlib

matplotlib.use("Agg")

from lindyn.claims import Plot  # noqa: E402
from lindyn.report import plot_panels  # noqa: E402

#: Figure size in inches and resolution: every PNG is 1080 x 600 pixels.
FIGSIZE, DPI = (9.0, 5.0), 120


def draw(panels: Sequence[Plot], path: pathlib.Path, legend_outside: bool = False) -> pathlib.Path:
    """Draw one or more `Plot` panels side by side into a PNG of FIGSIZE at DPI (`lindyn.report.plot_panels`)."""
    return plot_panels(panels, path, size=FIGSIZE, dpi=DPI, legend="outside" if legend_outside else "inside")


def run(name: str, write: Callable[..., str], argv: list[str] | None = None, *,
        description: str | None = None, thorough: str | None = None) -> int:
    """Parse `OUTDIR` (argparse: --help prints help, a missing argument is a usage error, exit 2), create it,
    call `write(OUTDIR)` and print the summary line it returns.

    Args:
        name: the script's name (prog in the usage line).
        write: writes the .tex file and figures into the directory; returns a summary line.
        argv: the arguments after the script name (default: sys.argv[1:]).
        description: the --help text (default: the running script's docstring).
        thorough: if given, the help text of a `--thorough` flag; `write(OUTDIR, thorough=bool)` is then called.
    """
    if description is None:
        description = getattr(sys.modules.get("__main__"), "__doc__", None)
    parser = argparse.ArgumentParser(prog=f"python derivations/{name}.py", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", metavar="OUTDIR", type=pathlib.Path,
                        help="directory to write the LaTeX and figures into (created if missing)")
    if thorough is not None:
        parser.add_argument("--thorough", action="store_true", help=thorough)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    out = args.outdir
    if out.exists() and not out.is_dir():
        parser.error(f"OUTDIR {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    print(write(out, thorough=args.thorough) if thorough is not None else write(out))
    return 0
