"""The command line's output as a researcher reads it (issue 10): exact decimals at --dps, one table style,
--latex from the rule and depth alone."""
import json

import mpmath

from lindyn.cli import main


def test_dps_reads_the_typed_decimals_exactly(capsys):
    # oracle: an independent 50-digit quadrature of t(u) = ∫ du / (3 u^{4/3}(1 − u)) from the decimal u0 = 0.001
    assert main(["trajectory", "--rule", "gd", "--depth", "3", "--s", "1", "--u0", "1e-3", "--t", "10",
                 "--dps", "40", "--json"]) == 0
    text = json.loads(capsys.readouterr().out)["u_digits"][0][0]
    with mpmath.workdps(50):
        u = mpmath.mpf(text)
        f = lambda x: 1 / (3 * x ** (mpmath.mpf(4) / 3) * (1 - x))  # noqa: E731
        t = mpmath.quad(f, [mpmath.mpf("1e-3"), mpmath.mpf("0.01"), mpmath.mpf("0.1"), mpmath.mpf("0.5"), u])
        assert abs(t - 10) < mpmath.mpf(10) ** -36      # the double 1e-3 would be off by ~7e-17


def test_one_table_style(capsys):
    assert main(["trajectory", "--rule", "gd", "--depth", "2", "--s", "1,2", "--u0", "0.1", "--t", "1,2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split() == ["t", "u_1", "u_2"]
    assert main(["integrate", "--rule", "gd", "--depth", "2", "--s", "1,2", "--u0", "0.1", "--t", "1,2"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["t", "u_1", "u_2", "loss"]


def test_learning_time_of_several_modes_is_a_table_and_a_json_list(capsys):
    argv = ["learning-time", "--rule", "gd", "--depth", "2", "--s", "1,2", "--u0", "1e-4", "--until", "0.5"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["mode", "s", "until", "t"] and lines[1].split()[0] == "1" and len(lines) == 3
    assert main(argv + ["--json"]) == 0
    t = json.loads(capsys.readouterr().out)["t"]
    assert isinstance(t, list) and len(t) == 2 and abs(t[0] - 0.5 * mpmath.log(0.5 * (1 - 1e-4) / (1e-4 * 0.5))) < 1e-12


def test_latex_needs_only_the_rule_and_the_depth(capsys):
    assert main(["trajectory", "--rule", "ngd", "--q", "1/2", "--depth", "3", "--latex"]) == 0
    assert r"\begin{equation}" in capsys.readouterr().out
    assert main(["trajectory", "--rule", "gd", "--depth", "3", "--u0", "0.1", "--t", "1"]) == 2
    assert "--s" in capsys.readouterr().err
