"""`lindyn integrate` as a researcher uses it (issue 10, the command line): a genuinely matrix network by
default, random inits, and the digits of the high-precision route."""
import json

import mpmath
import pytest

from lindyn.cli import main


def run(capsys, *args):
    assert main(["integrate", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_default_width_is_larger_than_the_number_of_modes(capsys):
    out = run(capsys, "--rule", "gd", "--depth", "3", "--s", "2,1", "--u0", "0.01", "--t", "1", "--json")
    assert out["width"] == 4


def test_mpmath_route_prints_its_digits_and_they_are_right(capsys):
    # oracle: Saxe Eq. 12 at 50 digits for the problem the route integrates: the float64 weights, converted
    # exactly (each layer gain is the double nearest √0.01, so u0 = fl(0.1)², not the decimal 0.01); width 1,
    # so that the bases are ±1 exactly and the float problem is exactly this mode
    out = run(capsys, "--rule", "gd", "--depth", "2", "--s", "2", "--u0", "0.01", "--t", "0.5,1", "--width", "1",
              "--method", "mpmath", "--dps", "30", "--json")
    assert len(out["u_digits"]) == 1 and len(out["u_digits"][0]) == 2
    with mpmath.workdps(50):
        s, u0 = mpmath.mpf(2.0), mpmath.mpf(float(mpmath.sqrt(0.01))) ** 2
        for t, text in zip((0.5, 1.0), out["u_digits"][0]):
            e = mpmath.exp(2 * s * mpmath.mpf(t))
            want = s * e / (e - 1 + s / u0)
            got = mpmath.mpf(text)
            assert abs(got - want) / want < mpmath.mpf(10) ** -27
            assert len(text.replace("0.", "", 1).lstrip("0").replace(".", "")) >= 28


def test_random_init_runs_and_reads_modes_in_the_task_bases(capsys):
    a = run(capsys, "--rule", "gd", "--depth", "2", "--s", "2,1", "--u0", "0.01", "--t", "0,40", "--json")
    r = run(capsys, "--rule", "gd", "--depth", "2", "--s", "2,1", "--u0", "0.01", "--t", "0,40", "--init", "random",
            "--seed", "3", "--json")
    assert r["init"] == "random" and r["u"][0][0] != a["u"][0][0]
    assert r["u"][0][1] == pytest.approx(2.0, rel=1e-6) and r["u"][1][1] == pytest.approx(1.0, rel=1e-6)


def test_scale_needs_random_init(capsys):
    assert main(["integrate", "--rule", "gd", "--depth", "2", "--s", "1", "--u0", "0.1", "--t", "1",
                 "--scale", "0.1"]) == 2
    assert "--scale" in capsys.readouterr().err


def test_singular_crossing_from_a_random_init_says_what_to_do(capsys):
    codes = []
    for seed in range(6):
        codes.append(main(["integrate", "--rule", "ngd", "--depth", "3", "--s", "2,1", "--u0", "0.01", "--t", "5",
                           "--init", "random", "--seed", str(seed)]))
    err = capsys.readouterr().err
    assert 1 in codes and 0 in codes
    assert "singular crossing" in err and "--seed" in err
