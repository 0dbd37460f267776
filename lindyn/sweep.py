"""Parameter sweeps: a declared grid of lindyn calls, run on Dask (or serially), one table row per point.

A grid is the Cartesian product of named axes, plus explicit points, over a set of fixed options:

    points = [fixed ∪ (a₁, …, a_k) for (a₁, …, a_k) ∈ A₁ × … × A_k] + [fixed ∪ p for p in explicit points]

(product order: the last axis varies fastest, as `itertools.product`; a point equal to an earlier one
is run once). Each point is one pure call on picklable arguments:

- a lindyn subcommand run in-process, `task` one of `TASKS` ("integrate", "trajectory",
  "learning-time", "discrete", "verify"): the point's keys are the subcommand's option names
  (`max_evaluations` or `max-evaluations` for `--max-evaluations`; lists are joined with commas,
  `true` sets a flag), and the point runs the same handler `lindyn TASK ... --json` runs, with its
  checks, defaults and JSON output;
- a Python function (`sweep(f, grid)`, called as f(**point)), or "module:function" in a grid file;
  it returns a mapping (or a dataclass, or one value) of JSON-able outputs.

Results: one record per point (parameters, outputs, the table's summary columns, status, error,
wall time, worker) in `OUT/points/<key>.json`, written by the client as each point finishes; the
table `OUT/results.csv` (one row per point: parameters, status, error, seconds, cpu_seconds, worker,
attempts, key, then the scalar outputs and per-task summaries) and its sidecar `OUT/results.json` (the grid
itself, the type and meaning of each column, versions and counts). CSV with a JSON sidecar rather
than Parquet: pyarrow is a large binary dependency for tables of thousands of rows and tens of
columns; CSV reads everywhere (pandas, R, numpy, a spreadsheet), the sidecar carries the types the
CSV cannot, and the full outputs (arrays over time, steps, modes) stay in the per-point JSON records.

Robustness: a point's key is a hash of the task, its parameters and `lindyn.__version__`; on a rerun
with the same OUT, points whose record says "done" are skipped (failed points run again). A point
that raises is recorded as failed (error type and message) and the sweep goes on; a point lost with
its worker is rescheduled by Dask, and resubmitted up to `retries` times if Dask gives up on it. Each
record is written atomically as it arrives, so Ctrl-C (or a killed client) leaves every finished
point on disk; the table is rewritten at the end, on interrupt, and on every rerun.

>>> def square(x):
...     return {"y": x * x}
>>> result = sweep(square, {"x": [1, 2, 3]}, scheduler="serial")
>>> [(row["x"], row["y"]) for row in result.rows]
[(1, 1), (2, 4), (3, 9)]
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime
import functools
import hashlib
import importlib
import io
import itertools
import json
import math
import os
import pathlib
import signal
import socket
import sys
import threading
import time
import tomllib
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

from ._checks import LindynError, LindynFailure, check_int, fail
from ._progress import Progress, reporting
from ._version import __version__
from .claims import Curve, Plot

__all__ = ["Grid", "SweepResult", "sweep", "load_grid", "run_point", "point_key", "read_table", "sweep_plot",
           "TASKS", "SETTLE_BAND"]

#: The lindyn subcommands a grid may name (each point runs `lindyn TASK ... --json` in-process).
TASKS = ("integrate", "trajectory", "learning-time", "discrete", "verify")
#: Band of the `discrete` summary columns settle_m: the first step k from which |u_j − s| <= 0.1·s for
#: every later step j (Saxe et al. 2014's "learned" criterion, `lindyn.papers.saxe2014_depth.BAND`).
SETTLE_BAND = 0.1
#: File names inside the output directory.
TABLE, SIDECAR, RECORDS = "results.csv", "results.json", "points"
#: Options of a subcommand that a grid may not set: the sweep sets them (its output is JSON, silent).
_RESERVED = {"json", "latex", "list", "report", "quiet", "help"}
#: Lists up to this length in a function task's output become indexed table columns (name_1, name_2, ...).
_SHORT_LIST = 16
#: Columns every row has after the parameters.
_META = ("status", "error", "seconds", "cpu_seconds", "worker", "attempts", "key")
_GRID_KEYS = {"task", "name", "description", "grid", "fixed", "points"}


# --- the grid --------------------------------------------------------------------------------------

def _name(key: object, where: str) -> str:
    """A parameter name as stored: option names with "-" read as "_" (max-evaluations = max_evaluations)."""
    if not isinstance(key, str) or not key.strip():
        raise fail(where, "a non-empty option name", key)
    return key.strip().replace("-", "_")


def _canonical(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Grid:
    """The points of a sweep: the product of named axes, plus explicit points, over fixed options.

        points = [fixed ∪ a for a ∈ A₁ × … × A_k] + [fixed ∪ p for p in points]

    Args:
        axes: name → non-empty sequence of values, in product order (the last axis varies fastest).
        fixed: name → value, shared by every point (an axis or an explicit point overrides it).
        points: explicit points (name → value), run after the product.
        name, description: free text stored in the table's sidecar.

    >>> g = Grid({"depth": [2, 3], "lr": [0.1, 0.2]}, fixed={"rule": "gd"})
    >>> g.shape, len(g.expand()), g.expand()[1]
    ((2, 2), 4, {'rule': 'gd', 'depth': 2, 'lr': 0.2})
    """

    axes: Mapping[str, Sequence[Any]] = dataclasses.field(default_factory=dict)
    fixed: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    points: Sequence[Mapping[str, Any]] = ()
    name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        # === check arguments
        if not isinstance(self.axes, Mapping):
            raise fail("grid", "a mapping of option name to a list of values", self.axes)
        axes: dict[str, tuple[Any, ...]] = {}
        for key, values in self.axes.items():
            name = _name(key, "grid")
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
                raise fail(f"grid.{name}", "a non-empty list of values (one per point along this axis)", values)
            if name in axes:
                raise fail(f"grid.{name}", "given once (as one spelling of the option)", key)
            axes[name] = tuple(values)
        if not isinstance(self.fixed, Mapping):
            raise fail("fixed", "a mapping of option name to one value", self.fixed)
        fixed = {_name(k, "fixed"): v for k, v in self.fixed.items()}
        if isinstance(self.points, (str, bytes, Mapping)) or not isinstance(self.points, Sequence):
            raise fail("points", "a list of mappings (option name to value)", self.points)
        points = []
        for p in self.points:
            if not isinstance(p, Mapping) or not p:
                raise fail("points", "a list of non-empty mappings (option name to value)", p)
            points.append({_name(k, "points"): v for k, v in p.items()})
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "fixed", fixed)
        object.__setattr__(self, "points", tuple(points))
        for name in ("name", "description"):
            if not isinstance(getattr(self, name), str):
                raise fail(name, "a string", getattr(self, name))

    @property
    def shape(self) -> tuple[int, ...]:
        """Length of each axis, in order (the product's shape)."""
        return tuple(len(v) for v in self.axes.values())

    def expand(self) -> list[dict[str, Any]]:
        """Every point as a dict (fixed options, then the point's own values), duplicates removed."""
        out, seen = [], set()
        names = list(self.axes)
        combos = itertools.product(*self.axes.values()) if names else iter(() if self.points else [()])
        candidates = [{**self.fixed, **dict(zip(names, c))} for c in combos]
        candidates += [{**self.fixed, **p} for p in self.points]
        for p in candidates:
            text = _canonical(p)
            if text not in seen:
                seen.add(text)
                out.append(p)
        return out

    def parameter_names(self) -> list[str]:
        """The table's parameter columns: axes, then fixed options, then keys only explicit points set."""
        names = list(self.axes) + [k for k in self.fixed if k not in self.axes]
        for p in self.points:
            names += [k for k in p if k not in names]
        return names

    def to_dict(self) -> dict[str, Any]:
        """The grid as JSON (the sidecar's "grid")."""
        return {"name": self.name, "description": self.description,
                "axes": {k: list(v) for k, v in self.axes.items()}, "fixed": dict(self.fixed),
                "points": [dict(p) for p in self.points]}


def load_grid(path: str | os.PathLike[str]) -> tuple[str, Grid]:
    """Read a grid file (TOML): `(task, grid)`, so that `sweep(*load_grid(path))` runs it.

    The file holds `task` (a subcommand in `TASKS`, or "module:function"), optional `name` and
    `description`, a `[grid]` table (option name → list of values: the sweep is their product), a
    `[fixed]` table (option name → value) and optional `[[points]]` (explicit points)::

        task = "discrete"
        [grid]
        depth = [2, 4, 9]
        lr = [0.01, 0.1]
        [fixed]
        rule = "gd"
        s = 1
        u0 = 0.01
        steps = 1000

    Args:
        path: the TOML file.

    Returns:
        (task, Grid).

    Raises:
        LindynError: the file is missing or not TOML, a key is unknown, `task` is missing, or a
            `[grid]` entry is not a non-empty list.
    """
    # === check arguments
    p = pathlib.Path(path)
    try:
        with open(p, "rb") as f:
            data = tomllib.load(f)
    except OSError as err:
        raise fail("grid", "a readable TOML file", str(p)) from err
    except tomllib.TOMLDecodeError as err:
        raise LindynError(f"Argument `grid` must be a valid TOML file, got {str(p)!r}: {err}.") from None
    unknown = sorted(set(data) - _GRID_KEYS)
    if unknown:
        raise fail(f"{p.name}: {unknown[0]}", f"one of the grid file's keys ({', '.join(sorted(_GRID_KEYS))})",
                   data[unknown[0]])
    task = data.get("task")
    if not isinstance(task, str) or not task:
        raise fail("task", f"a string naming the task of each point: {', '.join(TASKS)} or 'module:function'",
                   task)
    for table in ("grid", "fixed"):
        if not isinstance(data.get(table, {}), dict):
            raise fail(table, "a TOML table ([" + table + "])", data.get(table))
    return task, Grid(axes=data.get("grid", {}), fixed=data.get("fixed", {}), points=data.get("points", ()),
                      name=data.get("name", p.stem), description=data.get("description", ""))


# --- one point ---------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """A subcommand parser whose usage errors raise `LindynError` (a point fails; the sweep goes on)."""

    def error(self, message: str) -> Any:
        raise LindynError(f"{self.prog}: {message}.")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        raise LindynError(f"{self.prog}: {message or 'exited'}")


def _commands() -> tuple[str, ...]:
    from .cli import COMMANDS
    return tuple(c.replace("_", "-") for c in COMMANDS if c != "sweep")


@functools.lru_cache(maxsize=None)
def _command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of `lindyn NAME` (built once per process from the command's own `register`)."""
    module = importlib.import_module(f"lindyn.commands.{name.replace('-', '_')}")
    top = _Parser(prog="lindyn")
    sub = top.add_subparsers(dest="command")
    module.register(sub)
    return sub.choices[name]


def _text(value: Any) -> str:
    """A TOML/Python value as command-line text: lists joined by commas, floats in full precision."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    return str(value)


def _argv(name: str, params: Mapping[str, Any]) -> list[str]:
    """The arguments of `lindyn NAME` for one point (options as --key=value, flags, positionals; --json)."""
    parser = _command_parser(name)
    options: dict[str, tuple[str, argparse.Action]] = {}
    positionals: dict[str, argparse.Action] = {}
    for action in parser._actions:
        longs = [s for s in action.option_strings if s.startswith("--")]
        if longs:
            options[longs[0][2:].replace("-", "_")] = (longs[0], action)
        elif not action.option_strings:
            positionals[action.dest] = action
    argv: list[str] = []
    tail: list[str] = []
    for key, value in params.items():
        if key in _RESERVED:
            raise fail(f"grid.{key}", f"left to the sweep (it runs `lindyn {name} --json`)", value)
        if key in options:
            flag, action = options[key]
            if action.nargs == 0:          # a flag: true sets it, false leaves it out
                if not isinstance(value, bool):
                    raise fail(f"grid.{key}", f"true or false (the flag {flag} of `lindyn {name}`)", value)
                if value:
                    argv.append(flag)
            else:
                argv.append(f"{flag}={_text(value)}")   # "=": a negative number is not taken for an option
        elif key in positionals:
            tail += [_text(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
        else:
            allowed = sorted(set(options) - _RESERVED) + sorted(positionals)
            raise fail(f"grid.{key}", f"an option of `lindyn {name}` ({', '.join(allowed)})", value)
    if "json" in options:
        argv.append("--json")
    if "quiet" in options:
        argv.append("--quiet")
    return argv + tail


def _jsonable(x: Any) -> Any:
    """Outputs as JSON: mappings, dataclasses, arrays and numpy scalars converted; inf and NaN as null."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: _jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if hasattr(x, "tolist") and callable(x.tolist):          # numpy arrays and scalars
        return _jsonable(x.tolist())
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    return str(x)


def _scalar(x: Any) -> bool:
    return x is None or isinstance(x, (bool, int, float, str))


def _indexed(cols: dict[str, Any], name: str, values: Sequence[Any]) -> None:
    for m, v in enumerate(values):
        cols[f"{name}_{m + 1}"] = v


def _settle(u: Sequence[float | None], s: float, band: float = SETTLE_BAND) -> int | None:
    """The first k from which |u_j − s| <= band·s for every j >= k (None: the last iterate is outside)."""
    inside = [x is not None and abs(x - s) <= band * s for x in u]
    if not inside or not inside[-1]:
        return None
    outside = [k for k, ok in enumerate(inside) if not ok]
    return outside[-1] + 1 if outside else 0


def _summarise(task: str, outputs: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The table columns of one point: its scalar outputs (those that do not echo a parameter) and per task:

    integrate: t_final, loss_final, u_final_m (u at the last time, mode m);
    trajectory: u_final_m; learning-time: t (one mode) or t_m;
    discrete: u_final_m, u_matrix_final_m, eta_max_m, settle_m and settle_matrix_m (first step from
    which |u − s| <= SETTLE_BAND·s stays true, derived map and full matrices; empty when not settled);
    verify: passed, n_claims, failed_claims (names), agreement (worst over the claims);
    a function: scalars and lists of up to 16 scalars (name_1, name_2, ...).
    """
    cols = {k: v for k, v in outputs.items() if _scalar(v) and k not in params}
    if task == "integrate":
        cols["t_final"] = outputs["t"][-1] if outputs.get("t") else None
        cols["loss_final"] = outputs["loss"][-1] if outputs.get("loss") else None
        _indexed(cols, "u_final", [row[-1] if row else None for row in outputs.get("u", [])])
    elif task == "trajectory":
        _indexed(cols, "u_final", [row[-1] if row else None for row in outputs.get("u", [])])
    elif task == "learning-time":
        if isinstance(outputs.get("t"), list):
            _indexed(cols, "t", outputs["t"])
    elif task == "discrete":
        s = outputs.get("s", [])
        for route, name in (("u", "u_final"), ("u_matrix", "u_matrix_final")):
            _indexed(cols, name, [row[-1] if row else None for row in outputs.get(route, [])])
        _indexed(cols, "eta_max", outputs.get("eta_max", []))
        for route, name in (("u", "settle"), ("u_matrix", "settle_matrix")):
            _indexed(cols, name, [_settle(row, sm) for row, sm in zip(outputs.get(route, []), s)])
    elif task == "verify":
        claims = outputs.get("claims", [])
        cols["n_claims"] = len(claims)
        cols["failed_claims"] = ";".join(c["name"] for c in claims if not c.get("passed"))
        cols["agreement"] = max((c.get("agreement", 0.0) for c in claims), default=None)
    else:
        for k, v in outputs.items():
            if k not in params and isinstance(v, list) and len(v) <= _SHORT_LIST and all(_scalar(x) for x in v):
                _indexed(cols, k, v)
    return cols


def _resolve(task: Any) -> tuple[str, Any]:
    """(the task's id, what `_execute` needs): a subcommand name, "module:function", or a pickled callable."""
    if isinstance(task, str):
        if task in _commands():
            return task, task
        if ":" in task:
            module, _, attr = task.partition(":")
            if module and attr:
                return task, task
        raise fail("task", f"a lindyn subcommand ({', '.join(_commands())}), 'module:function' or a callable",
                   task)
    if callable(task):
        name = f"{getattr(task, '__module__', '?')}:{getattr(task, '__qualname__', type(task).__name__)}"
        return name, task
    raise fail("task", f"a lindyn subcommand ({', '.join(_commands())}), 'module:function' or a callable", task)


def _call(ref: Any, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Run one point; returns (task kind for the summary, outputs as JSON)."""
    if isinstance(ref, bytes):                       # a callable, pickled by the client (cloudpickle)
        import cloudpickle
        ref = cloudpickle.loads(ref)
    if callable(ref):
        out = ref(**params)
        kind = "function"
    elif ":" in ref:
        module, _, attr = ref.partition(":")
        out = getattr(importlib.import_module(module), attr)(**params)
        kind = "function"
    else:
        parser = _command_parser(ref)
        args = parser.parse_args(_argv(ref, params))
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args.handler(args)
        text = stdout.getvalue()
        try:
            return ref, json.loads(text)
        except json.JSONDecodeError:
            raise LindynFailure(f"lindyn {ref} printed no JSON object: {text[:200]!r}") from None
    out = _jsonable(out)
    return kind, out if isinstance(out, dict) else {"value": out}


def _worker() -> str:
    """The Dask worker's address, or host:pid outside Dask."""
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker
            return str(get_worker().address)
        except (ImportError, ValueError):
            pass
    return f"serial:{socket.gethostname()}:{os.getpid()}"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _execute(task_id: str, ref: Any, params: dict[str, Any], full: bool = True,
             version: str | None = None) -> dict[str, Any]:
    """One point's record (what a worker runs): never raises for a failing point, records it."""
    start, cpu = time.perf_counter(), time.process_time()
    record: dict[str, Any] = {"key": point_key(task_id, params, version or __version__), "task": task_id,
                              "params": params, "status": "done", "error": None, "traceback": None,
                              "summary": {}, "outputs": None, "seconds": None, "cpu_seconds": None,
                              "worker": _worker(), "attempts": 1, "lindyn_version": __version__, "finished": None}
    try:
        if version is not None and version != __version__:
            raise LindynFailure(f"the worker has lindyn {__version__}, the client {version}: install the same "
                                "version on both")
        with reporting(False):      # a point is silent: progress lines belong to the sweep
            kind, outputs = _call(ref, dict(params))
        record["summary"] = _jsonable(_summarise(kind, outputs, params))
        record["outputs"] = outputs if full else None
    except Exception as err:        # noqa: BLE001 - a failing point is a result; the sweep goes on
        record.update(status="failed", error=f"{type(err).__name__}: {err}".replace("\n", " "),
                      traceback="".join(traceback.format_exception(err)[-6:]))
    record["seconds"] = time.perf_counter() - start
    record["cpu_seconds"] = time.process_time() - cpu
    record["finished"] = _now()
    return record


def point_key(task: str, params: Mapping[str, Any], version: str = __version__) -> str:
    """The resume key of a point: the first 20 hex digits of SHA-256 over (task, parameters, lindyn version).

    Parameters are hashed as canonical JSON (sorted keys), so the order of the options does not matter;
    a new lindyn version gives new keys (results of an older version are not reused).

    >>> point_key("integrate", {"depth": 2, "rule": "gd"}) == point_key("integrate", {"rule": "gd", "depth": 2})
    True
    >>> point_key("integrate", {"depth": 2}) == point_key("integrate", {"depth": 2}, version="0.0.0")
    False
    """
    text = json.dumps({"task": task, "params": dict(params), "lindyn": version}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def run_point(task: str | Callable[..., Any], params: Mapping[str, Any], *, full: bool = True) -> dict[str, Any]:
    """Run one point in this process and return its record (what a sweep stores in points/<key>.json).

    Args:
        task: a subcommand in `TASKS`, "module:function", or a callable (called as task(**params)).
        params: the point's options (names as in the grid).
        full: keep the complete outputs (else only the table's summary columns).

    Returns:
        {"key", "task", "params", "status" ("done" | "failed"), "error", "traceback", "summary",
        "outputs", "seconds", "cpu_seconds", "worker", "attempts", "lindyn_version", "finished"}.

    >>> r = run_point("learning-time", {"rule": "gd", "depth": 1, "s": 1, "u0": 0.5, "until": 0.75})
    >>> r["status"], round(r["summary"]["t"], 12)          # one layer: u = s − (s − u0)e^{−t}, t = ln 2
    ('done', 0.69314718056)
    >>> run_point("integrate", {"rule": "gd", "depth": 0, "s": 1, "u0": 0.1, "t": 1})["error"][:31]
    'LindynError: Argument `depth` m'
    """
    task_id, ref = _resolve(task)
    params = {_name(k, "params"): v for k, v in params.items()}
    if isinstance(ref, str) and ":" not in ref:
        _argv(ref, params)      # an unknown option is bad input of the caller, not a failing point
    return _execute(task_id, ref, params, full)


# --- the sweep ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepResult:
    """What a sweep found: every finished point's record, in grid order, and the counts.

    Attributes:
        task: the task's id.
        grid: the Grid.
        records: one record per finished point (see `run_point`), grid order; points not reached
            (an interrupted sweep) are absent.
        points: number of grid points; done / failed: finished in this run; skipped: found done on disk.
        seconds: wall time of this run.
        table: path of results.csv (None without an output directory).
        interrupted: the sweep stopped early (Ctrl-C).
    """

    task: str
    grid: Grid
    records: tuple[dict[str, Any], ...]
    points: int
    done: int
    failed: int
    skipped: int
    seconds: float
    table: pathlib.Path | None = None
    interrupted: bool = False

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The table: one flat dict per finished point (parameters, status ..., summary columns)."""
        return _rows(self.grid, self.records)[1]

    def to_dict(self) -> dict[str, Any]:
        """{"points", "done", "failed", "skipped", "results"} (counts and the table's path; `lindyn sweep --json`)."""
        return {"points": self.points, "done": self.done, "failed": self.failed, "skipped": self.skipped,
                "results": None if self.table is None else str(self.table)}

    def dense(self, column: str) -> tuple[dict[str, tuple[Any, ...]], Any]:
        """The column as an array over the grid's axes (NaN where a point failed, is missing or empty).

        Returns ({axis: values}, ndarray of shape `grid.shape`). Only for a pure product (no explicit
        points); an xarray view is `xarray.DataArray(values, coords=axes, dims=list(axes))`.

        >>> def f(a, b):
        ...     return {"p": a * b}
        >>> axes, v = sweep(f, {"a": [1, 2], "b": [10, 20, 30]}, scheduler="serial").dense("p")
        >>> v.tolist()
        [[10.0, 20.0, 30.0], [20.0, 40.0, 60.0]]
        """
        import numpy as np
        if self.grid.points or not self.grid.axes:
            raise LindynError("Argument `grid` must be a pure product of axes (no explicit points) for a dense view.")
        names = list(self.grid.axes)
        index = [{_canonical(v): i for i, v in enumerate(vals)} for vals in self.grid.axes.values()]
        values = np.full(self.grid.shape, np.nan)
        for rec in self.records:
            row = {**rec["params"], **rec.get("summary", {})}
            v = row.get(column)
            if rec["status"] != "done" or v is None or isinstance(v, (str, list, dict)):
                continue
            values[tuple(index[a][_canonical(rec["params"][n])] for a, n in enumerate(names))] = float(v)
        return {k: tuple(v) for k, v in self.grid.axes.items()}, values


def _rows(grid: Grid, records: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of the table: parameters, status columns, then the union of summary columns."""
    params = grid.parameter_names()
    for rec in records:
        params += [k for k in rec["params"] if k not in params]
    taken = set(params) | set(_META)
    outputs: list[str] = []
    rows = []
    for rec in records:
        row = {k: rec["params"].get(k) for k in params}
        row.update({k: rec.get(k) for k in _META})
        for k, v in rec.get("summary", {}).items():
            name = k if k not in taken else f"output_{k}"
            if name not in outputs:
                outputs.append(name)
            row[name] = v
        rows.append(row)
    columns = params + list(_META) + outputs
    return columns, [{c: r.get(c) for c in columns} for r in rows]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def _kind(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "empty"
    if all(isinstance(v, bool) for v in present):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float"
    if all(isinstance(v, str) for v in present):
        return "str"
    return "json"


_DESCRIPTIONS = {
    "status": "done, or failed (see error)", "error": "the exception of a failed point: type: message",
    "seconds": "wall time of the point on its worker, s",
    "cpu_seconds": "CPU time of the worker process during the point, s (< seconds: it waited for a core)",
    "worker": "Dask worker address (serial: host:pid)",
    "attempts": "submissions by the client (> 1: Dask gave up on an earlier one, its workers died)",
    "key": "resume key: SHA-256 of task, parameters and lindyn version; the record is points/<key>.json",
    "t_final": "last requested time", "loss_final": "loss at the last time",
    "u_final": "mode strength u at the last time (mode m)", "u_matrix_final": "full-matrix u at the last step (mode m)",
    "eta_max": "derived largest stable step (mode m)",
    "settle": f"first step from which |u - s| <= {SETTLE_BAND} s (derived map, mode m); empty: not settled",
    "settle_matrix": f"first step from which |u - s| <= {SETTLE_BAND} s (full matrices, mode m); empty: not settled",
    "n_claims": "number of claims run", "failed_claims": "names of failed claims (;-separated)",
    "agreement": "worst agreement error over the claims", "passed": "every claim passed",
}


def _describe(name: str, params: Sequence[str]) -> str:
    if name in params:
        return "parameter"
    if name in _DESCRIPTIONS:
        return _DESCRIPTIONS[name]
    base = name.rsplit("_", 1)[0] if name.rsplit("_", 1)[-1].isdigit() else None
    return _DESCRIPTIONS.get(base or "", "output")


def _write_atomic(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_table(out: pathlib.Path, result: SweepResult, meta: dict[str, Any]) -> None:
    """results.csv and its sidecar results.json."""
    columns, rows = _rows(result.grid, result.records)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
    _write_atomic(out / TABLE, buf.getvalue())
    params = result.grid.parameter_names()
    sidecar = {
        "lindyn_version": __version__, "task": result.task, "grid": result.grid.to_dict(),
        "table": TABLE, "records": RECORDS + "/<key>.json",
        "format": "CSV (comma, header row, empty cell = null, bool true/false, lists/objects as JSON text); "
                  "this sidecar gives each column's type; full outputs are in the per-point records",
        "columns": [{"name": c, "type": _kind([r[c] for r in rows]), "role": "parameter" if c in params else
                     ("status" if c in _META else "output"), "description": _describe(c, params)} for c in columns],
        **result.to_dict(), "seconds": result.seconds, "interrupted": result.interrupted, **meta}
    _write_atomic(out / SIDECAR, json.dumps(sidecar, indent=1, default=str) + "\n")


def read_table(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a sweep's results.csv (or its directory) back with the column types of its sidecar.

    Returns one dict per row; empty cells are None; "json" columns are parsed.

    Raises:
        LindynError: no table at `path`.
    """
    # === check arguments
    p = pathlib.Path(path)
    table = p / TABLE if p.is_dir() else p
    if not table.is_file():
        raise fail("path", f"a sweep's {TABLE} or the directory holding it", str(path))
    side = table.with_name(SIDECAR)
    kinds = {c["name"]: c["type"] for c in json.loads(side.read_text())["columns"]} if side.is_file() else {}

    def parse(name: str, text: str) -> Any:
        if text == "":
            return None
        kind = kinds.get(name, "str")
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            return text == "true"
        if kind == "json":
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return text
        return text
    with open(table, newline="") as f:
        return [{k: parse(k, v) for k, v in row.items()} for row in csv.DictReader(f)]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:       # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Start worker processes with SIGINT ignored (inherited through exec), so that Ctrl-C reaches the
    client alone: it records what has finished, then closes the cluster (no tracebacks from the workers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _executor(scheduler: Any, workers: int | None, n: int) -> Iterator[tuple[str, Any]]:
    """("serial", None) or ("dask", Client); closes what it started."""
    if scheduler == "serial":
        yield "serial", None
        return
    try:
        import distributed
    except ImportError:
        if scheduler is not None:
            raise fail("scheduler", "used with Dask installed: pip install 'lindyn[sweep]' "
                                    "(or scheduler='serial')", scheduler) from None
        print(f"lindyn sweep: Dask is not installed (pip install 'lindyn[sweep]'); running {n} points serially "
              "in this process.", file=sys.stderr, flush=True)
        yield "serial", None
        return
    if isinstance(scheduler, distributed.Client):
        yield "dask", scheduler
        return
    if scheduler is None or scheduler == "local":
        import logging
        with _workers_ignore_ctrl_c():
            cluster = distributed.LocalCluster(n_workers=workers or _cores(), threads_per_worker=1, processes=True,
                                               dashboard_address=":0", silence_logs=logging.ERROR)
        client = distributed.Client(cluster)
        try:
            yield "dask", client
        finally:
            client.close()
            cluster.close()
        return
    if not isinstance(scheduler, str):
        raise fail("scheduler", "None (a local Dask cluster), 'serial', 'local', an address or a "
                                "distributed.Client", scheduler)
    try:
        client = distributed.Client(scheduler, timeout=10)
    except (OSError, TimeoutError) as err:
        raise fail("scheduler", "the address of a running Dask scheduler, e.g. tcp://host:8786", scheduler) from err
    try:
        yield "dask", client
    finally:
        client.close()


def _eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sweep(task: str | Callable[..., Any], grid: Grid | Mapping[str, Sequence[Any]], *,
          fixed: Mapping[str, Any] | None = None, points: Sequence[Mapping[str, Any]] | None = None,
          out: str | os.PathLike[str] | None = None, scheduler: Any = None, workers: int | None = None,
          retries: int = 2, full: bool = True, progress: bool | None = None,
          on_result: Callable[[dict[str, Any]], None] | None = None) -> SweepResult:
    """Run `task` at every point of `grid`, on Dask or serially; one record and table row per point.

    points = product of the axes (last fastest) + explicit points, each over `fixed` (see `Grid`).

    Args:
        task: a subcommand in `TASKS` (each point runs `lindyn TASK <options> --json` in-process, its
            keys being the command's option names), "module:function", or a picklable callable
            called as task(**point) returning a mapping (or dataclass, or one value) of outputs.
        grid: a `Grid`, or a mapping axis name → list of values (with `fixed` and `points`).
        fixed, points: with a mapping `grid`: options shared by every point; explicit extra points.
        out: directory for points/<key>.json, results.csv and results.json (created); a rerun with
            the same directory skips the points recorded as done. None: nothing is written.
        scheduler: None (a `dask.distributed.LocalCluster` of one single-threaded worker process per
            core; without Dask a serial run with a one-line note), "local", "serial" (this process),
            an address such as "tcp://host:8786" (an existing Dask cluster), or a `distributed.Client`.
        workers: worker processes of the local cluster, >= 1 (default: the number of cores).
        retries: resubmissions of a point Dask gave up on (its workers died), >= 0; a point whose
            call raises is recorded as failed at once (the computations are deterministic).
        full: keep each point's complete output in its record (else only the summary columns).
        progress: show "points done/total, rate, ETA" on stderr: None follows lindyn's reporting
            switch (on in the command line), True or False force it.
        on_result: called with each record as it arrives (after it is on disk).

    Returns:
        A `SweepResult` (`.rows`, `.records`, `.dense(column)`, `.to_dict()`).

    Raises:
        LindynError: an unknown task or option name, a bad grid, `scheduler` or `workers`.
        KeyboardInterrupt: passed on after the finished points and the table are on disk.

    >>> r = sweep("learning-time", {"u0": [0.25, 0.5]}, fixed={"rule": "gd", "depth": 1, "s": 1, "until": 0.75},
    ...           scheduler="serial")
    >>> [round(row["t"], 6) for row in r.rows], r.to_dict()["done"]      # L = 1: t = ln((s − u0)/(s − u))
    ([1.098612, 0.693147], 2)
    """
    # === check arguments
    task_id, ref = _resolve(task)
    if isinstance(grid, Grid):
        if fixed is not None or points is not None:
            raise fail("fixed", "given only with a mapping `grid` (a Grid holds its own)", fixed or points)
    else:
        grid = Grid(axes=grid, fixed=fixed or {}, points=points or ())
    todo_all = grid.expand()
    if not todo_all:
        raise fail("grid", "at least one point", grid.to_dict())
    command = isinstance(ref, str) and ":" not in ref
    if command:
        for p in todo_all:
            _argv(ref, p)          # bad option names fail here, before any work
    retries = check_int(retries, "retries", minimum=0)
    if workers is not None:
        workers = check_int(workers, "workers", minimum=1, maximum=4096)
        if scheduler not in (None, "local"):
            raise fail("workers", "given only for the local cluster (scheduler None or 'local')", workers)
    if on_result is not None and not callable(on_result):
        raise fail("on_result", "a callable taking one record", on_result)
    directory = None
    if out is not None:
        directory = pathlib.Path(out)
        if directory.exists() and not directory.is_dir():
            raise fail("out", "a directory (created if missing)", str(out))
        (directory / RECORDS).mkdir(parents=True, exist_ok=True)

    keys = [point_key(task_id, p) for p in todo_all]
    records: dict[str, dict[str, Any]] = {}
    if directory is not None:       # resume: a point recorded as done is not run again
        for k in keys:
            path = directory / RECORDS / f"{k}.json"
            if path.is_file():
                try:
                    rec = json.loads(path.read_text())
                except (OSError, json.JSONDecodeError):
                    continue
                if rec.get("status") == "done":
                    records[k] = rec
    skipped = len(records)
    todo = [(k, p) for k, p in zip(keys, todo_all) if k not in records]
    counts = {"done": 0, "failed": 0}
    start = time.perf_counter()
    started = _now()
    interrupted = False
    meta: dict[str, Any] = {"started": started}

    switch = reporting(progress) if progress is not None else contextlib.nullcontext()
    clock: dict[str, Any] = {}

    def accept(rec: dict[str, Any]) -> None:
        if directory is not None:
            _write_atomic(directory / RECORDS / f"{rec['key']}.json", json.dumps(rec, default=str) + "\n")
        records[rec["key"]] = rec
        counts[rec["status"]] += 1
        n = counts["done"] + counts["failed"]
        elapsed = time.perf_counter() - clock["t0"]      # from the first submission (cluster start excluded)
        rate = n / elapsed if elapsed > 0 else float("inf")
        clock["bar"].update(n, f"{counts['failed']} failed, {skipped} skipped, {rate:.3g} points/s, "
                               f"ETA {_eta((len(todo) - n) / rate if rate > 0 else float('inf'))}")
        if on_result is not None:
            on_result(rec)

    try:
        with _executor(scheduler if todo else "serial", workers, len(todo)) as (kind, client):
            meta["scheduler"] = "serial" if client is None else str(client.scheduler_info().get("address"))
            if client is not None:
                meta["workers"] = len(client.scheduler_info().get("workers", {}))
            with switch:
                clock["bar"] = Progress(f"lindyn sweep {task_id}", total=max(len(todo), 1), unit="points",
                                        after=2.0, every=2.0)
            clock["t0"] = time.perf_counter()
            if kind == "serial":
                for k, p in todo:
                    accept(_execute(task_id, ref, p, full))
            elif todo:
                _run_dask(client, task_id, ref, todo, full, retries, accept)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        result = SweepResult(task_id, grid, tuple(records[k] for k in keys if k in records), len(keys),
                             counts["done"], counts["failed"], skipped, time.perf_counter() - start,
                             None if directory is None else directory / TABLE, interrupted)
        if directory is not None:
            _write_table(directory, result, {**meta, "finished": _now()})
    return result


def _run_dask(client: Any, task_id: str, ref: Any, todo: Sequence[tuple[str, dict[str, Any]]], full: bool,
              retries: int, accept: Callable[[dict[str, Any]], None]) -> None:
    """Submit every point; accept each record as it completes; resubmit points whose future errored."""
    from distributed import as_completed
    if callable(ref):                # by value, so that functions defined in scripts and tests reach the workers
        import cloudpickle
        ref = cloudpickle.dumps(ref)
    nonce = uuid.uuid4().hex[:8]
    pending: dict[str, tuple[str, dict[str, Any], int]] = {}
    futures: dict[str, Any] = {}

    def submit(key: str, params: dict[str, Any], attempt: int) -> Any:
        fut = client.submit(_execute, task_id, ref, params, full, __version__,
                            key=f"lindyn-sweep-{nonce}-{key}-{attempt}", pure=False)
        pending[fut.key] = (key, params, attempt)
        futures[fut.key] = fut
        return fut

    n = len(todo)        # the first round in one call (client.map): a fraction of the per-task cost of submit
    first = client.map(_execute, [task_id] * n, [ref] * n, [p for _, p in todo], [full] * n, [__version__] * n,
                       key=[f"lindyn-sweep-{nonce}-{k}-1" for k, _ in todo], pure=False)
    for (k, p), fut in zip(todo, first):
        pending[fut.key] = (k, p, 1)
        futures[fut.key] = fut
    queue = as_completed(first)
    try:
        for batch in queue.batches():      # results gathered per batch: one round trip, not one per point
            values = _gather(client, [f for f in batch if f.status == "finished"])
            for fut in batch:
                key, params, attempt = pending.pop(fut.key)
                futures.pop(fut.key, None)
                value = values[fut.key] if fut.key in values else (fut.exception() if fut.status == "error" else None)
                if isinstance(value, dict):
                    rec = value
                    rec["attempts"] = attempt
                elif attempt <= retries:     # the scheduler gave up (KilledWorker) or the result was lost
                    queue.add(submit(key, params, attempt + 1))
                    fut.release()
                    continue
                else:
                    err = value if isinstance(value, BaseException) else f"future {fut.status}"
                    rec = {"key": key, "task": task_id, "params": params, "status": "failed",
                           "error": f"{type(err).__name__}: {err}" if isinstance(err, BaseException) else err,
                           "traceback": None, "summary": {}, "outputs": None, "seconds": None, "cpu_seconds": None,
                           "worker": None,
                           "attempts": attempt, "lindyn_version": __version__, "finished": _now()}
                fut.release()
                accept(rec)
    finally:
        if futures:
            client.cancel(list(futures.values()))


def _gather(client: Any, done: Sequence[Any]) -> dict[str, Any]:
    """{future key: record} of finished futures in one call; one by one (errors as values) if that fails."""
    if not done:
        return {}
    try:
        return dict(zip((f.key for f in done), client.gather(list(done))))
    except Exception:                # noqa: BLE001 - a result lost with its worker: sort them out one by one
        out: dict[str, Any] = {}
        for f in done:
            try:
                out[f.key] = f.result()
            except Exception as err:     # noqa: BLE001
                out[f.key] = err
        return out


# --- figures -----------------------------------------------------------------------------------------

def sweep_plot(rows: SweepResult | Sequence[Mapping[str, Any]], x: str, y: str, by: str | None = None, *,
               title: str = "", xlabel: str | None = None, ylabel: str | None = None, xscale: str = "linear",
               yscale: str = "linear", style: str = "-", name: str = "sweep", label: str = "") -> Plot:
    """One `Plot` panel from a sweep's table: y against x, one curve per value of `by`, x sorted.

    Rows that failed, or whose x or y is empty (or not a finite number, or <= 0 on a log axis), are left out.

    Args:
        rows: a `SweepResult`, or rows from `read_table`.
        x, y: column names; by: the column whose values split the curves (None: one curve).
        style: a matplotlib line ("-", "--", ":", "-.") or marker ("o", "s", ...); name, title, labels
            and scales as in `lindyn.claims.Plot`; label: prefix of each curve's legend.

    >>> p = sweep_plot([{"a": 1, "b": 2.0, "c": "x"}, {"a": 0, "b": 1.0, "c": "x"}], "a", "b", by="c")
    >>> p.curves[0].label, p.curves[0].x, p.curves[0].y
    ('c = x', (0.0, 1.0), (1.0, 2.0))
    """
    # === check arguments
    data = rows.rows if isinstance(rows, SweepResult) else list(rows)
    if data and (x not in data[0] or y not in data[0] or (by is not None and by not in data[0])):
        missing = [c for c in (x, y, by) if c is not None and c not in data[0]]
        raise fail("column", f"a column of the table ({', '.join(data[0])})", missing[0])

    def number(v: Any, scale: str) -> float | None:
        if v is None or isinstance(v, (bool, str, list, dict)):
            return None
        f = float(v)
        return f if math.isfinite(f) and (scale != "log" or f > 0) else None
    groups: dict[str, list[tuple[float, float]]] = {}
    for row in data:
        if row.get("status", "done") != "done":
            continue
        vx, vy = number(row[x], xscale), number(row[y], yscale)
        if vx is None or vy is None:
            continue
        g = "" if by is None else f"{by} = {_text(row[by])}"
        groups.setdefault(g, []).append((vx, vy))
    curves = []
    for i, (g, pts) in enumerate(groups.items()):
        pts.sort()
        text = ", ".join(t for t in (label, g) if t)
        curves.append(Curve(text or y, tuple(p[0] for p in pts), tuple(p[1] for p in pts), style, f"C{i % 10}"))
    return Plot(name, title or f"{y} vs {x}", xlabel or x, ylabel or y, tuple(curves), xscale, yscale)
