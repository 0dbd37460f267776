"""Each derivations/<paper>.py runs alone, writes its .tex and PNGs into OUTDIR (the PNGs are images of
the stated size), and has a real argument parser: --help prints help and creates nothing."""
import pathlib
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import DERIVATION_PNG_SIZE

ROOT = pathlib.Path(__file__).resolve().parents[1] / "derivations"

SCRIPTS = {
    "saxe2014": ["saxe2014.tex", "saxe2014_fig3_modes.png", "saxe2014_learning_time.png",
                 "saxe2014_fig3_random.png"],
    "bernacchia2018": ["bernacchia2018.tex", "bernacchia2018_rules.png", "bernacchia2018_deep.png",
                       "bernacchia2018_bottleneck.png", "bernacchia2018_autoencoder.png",
                       "bernacchia2018_online_linear.png", "bernacchia2018_online_linear_wall.png",
                       "bernacchia2018_online_estimator.png"],
    "sweeps": ["saxe2014_depth_sweep.png", "integrate_rules_sweep.png"],
    "discrete": ["discrete.tex", "discrete_iterates.png", "discrete_eta_max.png", "discrete_modified.png",
                 "saxe2014_depth.png"],
    "end_to_end": ["end_to_end.tex", "end_to_end_agreement.png", "end_to_end_block.png"],
    "alignment": ["alignment.tex", "alignment_rho.png", "alignment_scale.png", "alignment_formula.png"],
    "whole_matrix": ["whole_matrix.tex", "whole_matrix_riccati.png", "whole_matrix_lazy_rich.png"],
    "huh2020": ["huh2020.tex", "huh2020_paths.png", "huh2020_balance.png", "huh2020_fractional.png",
                "huh2020_generalisation.png", "huh2020_stability.png"],
    "kerekes2021": ["kerekes2021.tex", "kerekes2021_classification.png", "kerekes2021_completion.png",
                    "kerekes2021_outside_span.png", "kerekes2021_singular_values.png", "kerekes2021_tanh.png",
                    "kerekes2021_sparse_scale.png", "kerekes2021_sparse_time.png",
                    "kerekes2021_sparse_classification.png"],
}

#: Figure sizes in pixels where a script states its own (Kerekes: panels of 1320 px width).
PNG_SIZES: dict[str, tuple[int, int]] = {}   # every figure is drawn at DERIVATION_PNG_SIZE


def png_size(path: pathlib.Path) -> tuple[int, int]:
    """(width, height) from the PNG header (IHDR chunk)."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_derivation_script_writes_its_files(name, tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / f"{name}.py"), str(tmp_path)], capture_output=True, text=True,
                          timeout=900, env={"MPLBACKEND": "Agg", **__import__("os").environ})
    assert proc.returncode == 0, proc.stderr
    for file in SCRIPTS[name]:
        path = tmp_path / file
        assert path.exists() and path.stat().st_size > 0, f"{file} missing"
        if file.endswith(".png"):
            assert png_size(path) == PNG_SIZES.get(file, DERIVATION_PNG_SIZE), file
            import matplotlib.image
            img = matplotlib.image.imread(path)
            assert img.std() > 0.01, f"{file} looks blank"
        else:
            tex = path.read_text()
            assert r"\begin{equation}" in tex or r"\begin{aligned}" in tex


def test_derivation_script_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "saxe2014.py")], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 2 and "usage" in proc.stderr and "OUTDIR" in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["saxe2014", "bernacchia2018", "huh2020"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_derivation_script_help_creates_no_folder(name, flag, tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / f"{name}.py"), flag], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: python derivations/{name}.py") and "OUTDIR" in proc.stdout
    assert list(tmp_path.iterdir()) == [], "--help must not create a folder"


def test_derivation_script_refuses_a_file_as_outdir(tmp_path):
    target = tmp_path / "a_file"
    target.write_text("x")
    proc = subprocess.run([sys.executable, str(ROOT / "saxe2014.py"), str(target)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "not a directory" in proc.stderr
