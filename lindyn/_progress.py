"""Progress of long computations on stderr, for the command line (the library itself stays silent).

A computation that may run for more than a few seconds asks for a `Progress` and updates it; it
prints only when reporting is switched on (`reporting(True)`, which `lindyn.cli.main` does) and only
once the work has run for `after` seconds, then at most every `every` seconds, on one line.

>>> with reporting(False):
...     p = Progress("demo", total=10.0)
...     p.update(5.0)
"""
from __future__ import annotations

import contextlib
import sys
import time
from contextvars import ContextVar
from typing import Iterator, TextIO

__all__ = ["Progress", "reporting"]

_ENABLED: ContextVar[bool] = ContextVar("lindyn_progress", default=False)


@contextlib.contextmanager
def reporting(enabled: bool = True) -> Iterator[None]:
    """Switch progress lines on (or off) inside the block."""
    token = _ENABLED.set(enabled)
    try:
        yield
    finally:
        _ENABLED.reset(token)


class Progress:
    """One long computation: `update(done)` with `done` out of `total` (time, steps, points).

    Args:
        label: what is running (e.g. "integrate: DOP853").
        total: the amount of work (> 0), in the unit `update` counts.
        unit: text after the numbers ("t", "steps", "points").
        after: seconds before the first line; every: seconds between lines.
        stream: where to print (default stderr).
    """

    def __init__(self, label: str, total: float, unit: str = "", after: float = 3.0, every: float = 3.0,
                 stream: TextIO | None = None) -> None:
        self.label, self.total, self.unit = label, float(total), unit
        self.after, self.every = after, every
        self.stream = stream
        self.start = time.monotonic()
        self.last = self.start
        self.enabled = _ENABLED.get()
        self.printed = False

    def update(self, done: float, extra: str = "") -> None:
        """Report `done` of `total` if it is time to (cheap when not)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.after or (self.printed and now - self.last < self.every):
            return
        self.last, self.printed = now, True
        frac = done / self.total if self.total > 0 else 0.0
        unit = f" {self.unit}" if self.unit else ""
        line = f"{self.label}: {done:.4g} of {self.total:.4g}{unit} ({100 * frac:.0f}%), {now - self.start:.0f} s"
        print(line + (f", {extra}" if extra else ""), file=self.stream or sys.stderr, flush=True)
