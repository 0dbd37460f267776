"""The command line and the figure drawing shared by the derivation scripts (`python derivations/NAME.py OUTDIR`).

Each script is thin: the experiments and figure data live in `lindyn.papers.<paper>`; the script
parses its arguments, asks the paper module for `Plot` panels and LaTeX, and writes them here.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Callable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from lindyn.claims import Plot  # noqa: E402

#: Figure size in inches and resolution: every PNG is 1080 x 600 pixels.
FIGSIZE, DPI = (9.0, 5.0), 120


def draw(panels: Sequence[Plot], path: pathlib.Path, legend_outside: bool = False) -> pathlib.Path:
    """Draw one or more `Plot` panels side by side into a PNG of FIGSIZE at DPI."""
    fig, axes = plt.subplots(1, len(panels), figsize=FIGSIZE, dpi=DPI, squeeze=False)
    for ax, plot in zip(axes[0], panels):
        for c in plot.curves:
            line = c.style if c.style in ("-", "--", ":", "-.") else "none"
            marker = None if line != "none" else c.style
            ax.plot(c.x, c.y, linestyle=line, marker=marker, ms=5, mfc="none", color=c.color, lw=1.8,
                    label=c.label or None)
        ax.set_xscale(plot.xscale)
        ax.set_yscale(plot.yscale)
        if plot.xlim is not None:
            ax.set_xlim(*plot.xlim)
        if plot.ylim is not None:
            ax.set_ylim(*plot.ylim)
        for axis, scale in ((ax.xaxis, plot.xscale), (ax.yaxis, plot.yscale)):
            if scale == "log":
                axis.set_minor_formatter(NullFormatter())   # labelled minor ticks overlap on short log ranges
        ax.set_xlabel(plot.xlabel)
        ax.set_ylabel(plot.ylabel)
        ax.set_title(plot.title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        if legend_outside:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        else:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def run(name: str, write: Callable[[pathlib.Path], str], argv: list[str] | None = None, *,
        description: str | None = None) -> int:
    """Parse `OUTDIR` (argparse: --help prints help, a missing argument is a usage error, exit 2), create it,
    call `write(OUTDIR)` and print the summary line it returns.

    Args:
        name: the script's name (prog in the usage line).
        write: writes the .tex file and figures into the directory; returns a summary line.
        argv: the arguments after the script name (default: sys.argv[1:]).
        description: the --help text (default: the running script's docstring).
    """
    if description is None:
        description = getattr(sys.modules.get("__main__"), "__doc__", None)
    parser = argparse.ArgumentParser(prog=f"python derivations/{name}.py", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", metavar="OUTDIR", type=pathlib.Path,
                        help="directory to write the LaTeX and figures into (created if missing)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    out = args.outdir
    if out.exists() and not out.is_dir():
        parser.error(f"OUTDIR {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    print(write(out))
    return 0
