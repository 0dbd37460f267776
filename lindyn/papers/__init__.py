"""The papers whose claims lindyn checks, one module each, and the registry that collects them.

Each module `lindyn.papers.<paper>` holds that paper's oracles (its formulas, used only to compare
with what the engine derives or integrates), its claims (`CLAIMS: tuple[Claim, ...]`), and the
experiments and figure data of `derivations/<paper>.py`; `derived` holds results derived here.
The modules use only lindyn's public API.

>>> PAPERS[0], PAPERS[-1]
('saxe2014', 'derived')
"""
from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["PAPERS", "paper_module", "collect_claims"]

PAPERS = ("saxe2014", "bernacchia2018", "huh2020", "kerekes2021", "derived")


def paper_module(paper: str) -> ModuleType | None:
    """The module `lindyn.papers.<paper>`, or None when that module does not exist (yet).

    Only the module's own absence is tolerated: an import error raised inside it propagates.
    """
    full = f"{__name__}.{paper}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as err:
        if err.name == full:
            return None
        raise


def collect_claims() -> tuple:
    """Every paper's `CLAIMS`, in the order of `PAPERS`; duplicate names are an error."""
    out, seen = [], {}
    for paper in PAPERS:
        module = paper_module(paper)
        if module is None:
            continue
        for claim in module.CLAIMS:
            if claim.name in seen:
                raise ValueError(f"claim {claim.name!r} is registered by both {seen[claim.name]} and {paper}")
            seen[claim.name] = paper
            out.append(claim)
    return tuple(out)
