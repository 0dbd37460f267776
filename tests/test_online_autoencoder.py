"""Online natural gradient on the digits autoencoder (Bernacchia et al. 2018 Sec. 5, issue 11 items 4 and 6).

Oracles: the test error at a record is the loss of an independent numpy forward pass of the tanh net
(½ mean ‖f(x) − x‖²); the sampled Fisher's output factor is unbiased, so its error falls as 1/√S
(a fitted rate, with the input factor exact); the claim's measurements are recomputed from the
recorded curves. scikit-learn is optional (the digits ship with it): skipped without it.
"""
import math
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from lindyn import (GD, ExactFactors, GivenWeights, LindynError, Problem, SampledFisher, estimated_factors,  # noqa: E402
                    random_net)
from lindyn.claims import Evidence, Plot  # noqa: E402
from lindyn.papers import bernacchia2018_autoencoder as ae  # noqa: E402

SMALL = (64, 16, 8, 16, 64)          # the autoencoder's shape, fewer layers: keeps the file fast
#: Sampled-Fisher rate: the fitted slope of log error vs log S must be −1/2 within this (Monte Carlo
#: scatter of three seeds at S = 1..64 is ~0.05).
RATE_TOL = 0.12
#: Input factors Ā_i do not depend on the draws: equal to the exact ones up to rounding.
INPUT_FACTOR_RTOL = 1e-12


@pytest.fixture(scope="module")
def data():
    return ae.autoencoder_data()


def forward_loss(W, X):
    """Independent oracle: tanh hidden layers, linear output, biases as the last column; ½ mean ‖f − x‖²."""
    a = X
    for i, w in enumerate(W):
        z = w[:, :-1] @ a + w[:, -1:]
        a = np.tanh(z) if i < len(W) - 1 else z
    return 0.5 * float(np.sum((a - X) ** 2)) / X.shape[1]


def test_records_have_the_samples_and_increasing_wall_clock(data):
    train, test = data
    net = ae.autoencoder_network(SMALL)
    W0 = random_net(net, 3)
    problem = Problem(net, train, GivenWeights(W0))
    ng = ae.train_arm("NG", problem, test, ae.ng_rule(), ae.ng_method(100, seed=3), 1000, 200)
    sgd = ae.train_arm("SGD", problem, test, GD(), ae.sgd_method(0.08, seed=3), 1000, 200)
    for run in (ng, sgd):
        assert run.samples.tolist() == [0, 200, 400, 600, 800, 1000]
        assert run.wall_time[0] == 0 and np.all(np.diff(run.wall_time) > 0)
        assert run.test_error[0] == pytest.approx(forward_loss(W0, test.X), rel=1e-12)
        assert run.test_error[-1] < run.test_error[0] and not run.diverged
    assert np.all(np.isnan(sgd.damping))
    assert np.all(np.isfinite(ng.damping[1:])) and np.all(ng.damping[1:] > 0)
    with pytest.raises(LindynError, match="record_every"):
        ae.train_arm("NG", problem, test, ae.ng_rule(), ae.ng_method(300, seed=0), 1000, 200)


def test_sampled_factors_approach_the_exact_ones_as_S_grows(data):
    train, _ = data
    net = ae.autoencoder_network(SMALL)
    problem = Problem(net, train, GivenWeights(random_net(net, 0)))
    W = problem.initial_weights()
    columns = np.arange(300)
    exact = estimated_factors(problem, ExactFactors(), W, columns=columns)
    draws = (1, 4, 16, 64)
    errors = []
    for S in draws:
        per_seed = []
        for seed in range(3):
            est = estimated_factors(problem, SampledFisher(samples=S), W, seed=seed, columns=columns)
            for (G, A), (G0, A0) in zip(est, exact):
                assert np.max(np.abs(A - A0)) <= INPUT_FACTOR_RTOL * np.max(np.abs(A0))
            per_seed.append(np.mean([np.linalg.norm(G - G0) / np.linalg.norm(G0) for (G, _), (G0, _) in zip(est, exact)]))
        errors.append(np.mean(per_seed))
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    slope = np.polyfit(np.log(draws), np.log(errors), 1)[0]
    assert abs(slope + 0.5) <= RATE_TOL, (slope, errors)
    assert errors[-1] < 0.1


def tiny_experiment(ng_batch):
    return ae.autoencoder_experiment(seeds=(0, 1), sgd_alphas=(0.04, 0.08), sgd_passes=2, ng_passes=1,
                                     ng_batch=ng_batch, record_every=500, other_ng_batches=(), widths=SMALL)


@pytest.mark.parametrize("ng_batch, reached", [(100, True), (500, False)])
def test_claim_measurements_on_a_tiny_setting_have_the_stated_thresholds(ng_batch, reached):
    """Batch 100 reaches SGD's final error within one pass (finite ratios); batch 500 takes 3 steps and does not (∞)."""
    result = tiny_experiment(ng_batch)
    ng_arm = f"NG batch {ng_batch}"
    assert [r.arm for r in result.runs] == ["SGD α=0.04", "SGD α=0.08", ng_arm] * 2
    finals = {a: np.mean([result.run(a, s).test_error[-1] for s in (0, 1)]) for a in ("SGD α=0.04", "SGD α=0.08")}
    assert result.best_sgd == min(finals, key=finals.get)
    ev = ae.autoencoder_evidence(result)
    assert isinstance(ev, Evidence) and len(ev.measurements) == 4
    for k, s in enumerate((0, 1)):
        sgd, ng = result.run(result.best_sgd, s), result.run(ng_arm, s)
        target = sgd.test_error[-1]
        first = [int(np.argmax(r.test_error <= target)) if np.any(r.test_error <= target) else None for r in (sgd, ng)]
        want_n = math.inf if first[1] is None else ng.samples[first[1]] / sgd.samples[first[0]]
        want_t = math.inf if first[1] is None else ng.wall_time[first[1]] / sgd.wall_time[first[0]]
        m_n, m_t = ev.measurements[2 * k], ev.measurements[2 * k + 1]
        assert f"seed {s}" in m_n.label and "examples" in m_n.label and "wall-clock" in m_t.label
        for m, want in ((m_n, want_n), (m_t, want_t)):
            assert m.bound == 1.0 and m.kind == "at_most"
            assert m.value == pytest.approx(want, rel=1e-12) if math.isfinite(want) else m.value == math.inf
            assert m.passed == (m.value < 1.0)
            assert math.isfinite(m.value) == reached
    plots = ae.autoencoder_panels(result)
    assert len(plots) == 2 and all(isinstance(p, Plot) for p in plots)
    labelled = [c.label for c in plots[0].curves if c.label]
    assert labelled == ["SGD α=0.04", "SGD α=0.08", ng_arm, "target"]
    mean_ng = np.mean([result.run(ng_arm, s).test_error for s in (0, 1)], axis=0)
    assert np.allclose(plots[0].curves[6].y, mean_ng)


def test_probe_steps_outside_the_grid_are_reported_but_never_the_best_sgd():
    result = ae.autoencoder_experiment(seeds=(0,), sgd_alphas=(0.04,), probe_alphas=(0.32,), sgd_passes=2,
                                       ng_passes=1, ng_batch=100, record_every=500, other_ng_batches=(), widths=SMALL)
    assert result.arms == ("SGD α=0.04", "NG batch 100", "SGD α=0.32")
    assert result.run("SGD α=0.32", 0).final_error < result.run("SGD α=0.04", 0).final_error   # the probe trains further
    assert result.best_sgd == "SGD α=0.04" and result.target(0) == result.run("SGD α=0.04", 0).final_error
    ev = ae.autoencoder_evidence(result)
    assert len(ev.measurements) == 2 and "SGD α=0.32 (outside the grid)" in ev.summary
    assert "SGD α=0.32 (outside the grid)" in [c.label for c in ev.plots[1].curves]


def test_the_claim_is_an_outcome_citing_the_paper():
    (claim,) = ae.CLAIMS
    assert claim.name == "online-ng-autoencoder" and claim.kind == "outcome" and claim.symbolic is None
    assert "Bernacchia et al. 2018" in claim.source and "Sec. 5" in claim.source
    assert "[chosen example]" in claim.source and "seeds 0, 1, 2" in claim.statement


def test_bad_arguments_and_missing_scikit_learn(monkeypatch):
    with pytest.raises(LindynError, match="seeds"):
        ae.autoencoder_experiment(seeds=())
    with pytest.raises(LindynError, match="sgd_alphas"):
        ae.autoencoder_experiment(sgd_alphas=(0.04, -1.0))
    with pytest.raises(LindynError, match="record_every"):
        ae.autoencoder_experiment(record_every=700)
    with pytest.raises(LindynError, match="ng_batch"):
        ae.autoencoder_experiment(ng_batch=2000)
    with pytest.raises(LindynError, match="widths"):
        ae.autoencoder_network((64, 8, 32))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)       # import fails as if not installed
    with pytest.raises(LindynError, match="scikit-learn"):
        ae.autoencoder_experiment(seeds=(0,), sgd_passes=1, ng_passes=1, widths=SMALL)


def test_the_experiment_runs_on_mnist_files_from_a_path(tmp_path):
    """The paper's MNIST route: IDX files written here (tiny 4x4 'images'), read by lindyn.mnist, same experiment."""
    import struct
    from lindyn import autoencoder_samples, mnist
    rng = np.random.default_rng(0)

    def write(name, array):
        code = 0x08
        header = struct.pack(">BBBB", 0, 0, code, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
        (tmp_path / name).write_bytes(header + array.astype(">u1").tobytes())

    for prefix, n in (("train", 200), ("t10k", 60)):
        write(f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, size=(n, 4, 4)))
        write(f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=n))
    train, test = autoencoder_samples(mnist(tmp_path, "train")[0], mnist(tmp_path, "test")[0])
    r = ae.autoencoder_experiment(seeds=(0,), sgd_alphas=(0.04,), sgd_passes=2, ng_passes=2, ng_batch=100,
                                  record_every=100, other_ng_batches=(), widths=(16, 8, 16), data=(train, test))
    assert {run.arm for run in r.runs} == {r.sgd_arm(0.04), r.ng_arm(100)}
    for run in r.runs:
        assert run.samples[-1] == 400 and np.all(np.isfinite(run.test_error))
        assert run.test_error[-1] < run.test_error[0]          # both learn something on the test images
    with pytest.raises(LindynError, match="widths"):
        ae.autoencoder_experiment(seeds=(0,), widths=(64, 8, 64), data=(train, test))
