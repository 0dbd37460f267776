"""Citations checked against the papers' text (issue 10): Saxe's layer count and the numbers that
follow from it, section and equation numbers, authors, provenance tags, and a theory document in
which every "THEORY §n" a reader meets resolves. Static: no claim is run (fast)."""
import pathlib
import re

import pytest

from lindyn import GD, derive
from lindyn.claims import all_claims, get_claim
from lindyn.papers import saxe2014
from lindyn.report import REFERENCES

ROOT = pathlib.Path(__file__).resolve().parents[1]
THEORY = (ROOT / "docs" / "theory.md").read_text()


def claim_texts():
    return [(c.name, text) for c in all_claims() for text in (c.statement, c.source, c.reason)]


def test_saxe_layer_count_and_numbers():
    """Saxe et al. count N_l layers of neurons, L = N_l − 1 weight matrices; Eq. 17 divides by N_l."""
    exact = derive(GD(), 3).learning_time(0.5, s=1.0, u0=1e-3)
    eq17 = saxe2014.eq17_time(3, 1.0, 1e-3, 0.5)
    assert round(exact, 4) == 9.1447 and round(eq17, 4) == 251.2267
    assert round(eq17 / exact, 2) == 27.47                      # not 36.6 (dividing by L instead of N_l)
    claim = get_claim("deep-mode-eq15-eq17")
    assert "N_l − 1" in claim.statement and "27" in claim.statement and "N_l = L + 1" in claim.source
    for text in [t for _, t in claim_texts()] + [THEORY, (ROOT / "README.md").read_text()]:
        assert "36.6" not in text
    assert "251.2267" in THEORY and "27.47" in THEORY and "9.1447" in THEORY


def test_saxe_sections_and_equations():
    """The 1/s learning time is Sec. 1.3 (after Eq. 11), never Sec. 2; Eq. 14 is the energy."""
    scaling = get_claim("learning-time-scaling").source
    assert "Sec. 1.3" in scaling and "after Eq. 11" in scaling
    for name, text in claim_texts():
        if "1/s" in text and "Saxe" in text:
            assert "Sec. 2" not in text.split("1/s")[0][-40:], (name, text)
        if "Eq. 14" in text:
            assert "energy" in text, (name, text)
    assert "Sec. 1.3, after Eq. 11" in THEORY and "Eq. 14 is the energy" in THEORY


def test_kerekes_first_author_is_anna_kerekes():
    assert REFERENCES["kerekes2021"][1].startswith("Anna Kerekes, Anna Mészáros, Ferenc Huszár")
    assert "Anna Kerekes" in THEORY and "2111.11542" in THEORY


def test_every_source_names_where_or_says_derived():
    """A published result carries its equation/section/figure (or the abstract); one derived here says
    [derived]; a chosen example says so in the source and the statement."""
    where = re.compile(r"Eq\. \d|Sec\. \d|Sec\. on|Fig\. \d|abstract|Supp\.|experiments|THEORY §\d|\('|\[derived\]")
    for c in all_claims():
        assert where.search(c.source), (c.name, c.source)
        if "[chosen example]" in c.source and c.kind == "outcome":
            assert re.search(r"chosen|seeds?|fixed|\(", c.statement), c.name
        assert "chosen here" not in c.source, (c.name, c.source)


def test_every_cited_work_is_in_the_bibliography():
    """Remove every citation the report links to a reference; no author-year citation may remain."""
    pattern = re.compile("|".join(p for p, _ in REFERENCES.values()))
    for name, text in claim_texts():
        rest = pattern.sub("", text)
        assert not re.search(r"\b[A-Z][a-zé]+(?: et al\.?|,? [&A-Z][^;()]{0,40})? (19|20)\d\d\b", rest), (name, rest)


def test_completion_outcome_says_which_ngd_and_shows_the_other():
    c = get_claim("kerekes-completion-outcome")
    assert "function-space flow" in c.statement and "Ẇ = −P_Ω(W − M)" in c.statement
    assert "data Fisher" in c.statement and re.search(r"0\.\d+ on seed 0", c.statement)
    assert "[chosen example]" in c.source


@pytest.mark.parametrize("section", sorted({int(n) for _, t in claim_texts() for n in re.findall(r"THEORY §(\d)", t)}
                                           | {int(n) for n in re.findall(r"§(\d)", " ".join(
                                               p.read_text() for p in (ROOT / "lindyn").rglob("*.py")))}))
def test_every_theory_section_cited_resolves(section):
    assert re.search(rf"^## §{section} ", THEORY, re.MULTILINE), f"docs/theory.md has no §{section}"


def test_theory_items_and_new_results_are_documented():
    numbers = THEORY.split("## §5 ")[1].split("## §6")[0]
    assert re.search(r"^5\. Logistic NGF from m0 = 0: m\(1\) = 1\.489880125645", numbers, re.MULTILINE)
    for phrase in ("η_max = 2/(−φ'(a*))", "modified equation", "Barrett & Dherin", "teacher-student",
                   "damping_mode", "same seeds for every compared arm"):
        assert phrase in THEORY, phrase
