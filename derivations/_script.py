"""The command line shared by the derivation scripts: `python derivations/NAME.py OUTDIR`."""
from __future__ import annotations

import pathlib
import sys
from typing import Callable


def run(name: str, write: Callable[[pathlib.Path], str], argv: list[str] | None = None) -> int:
    """Create OUTDIR, call `write(OUTDIR)` and print the summary it returns; usage error: exit 2.

    Args:
        name: the script's name (for the usage line).
        write: writes the .tex file and figures into the directory; returns a summary line.
        argv: the arguments after the script name (default: sys.argv[1:]).
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python derivations/{name}.py OUTDIR", file=sys.stderr)
        return 2
    out = pathlib.Path(args[0])
    out.mkdir(parents=True, exist_ok=True)
    print(write(out))
    return 0
