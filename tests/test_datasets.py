"""lindyn.datasets: IDX/MNIST reading, digits, the autoencoder preprocessing and Bernacchia's teacher task.

Oracles: IDX files written here byte by byte with `struct` (the format of LeCun et al.'s MNIST page);
the spectrum λ_i = ε + exp(−i r/N), Σλ = N typed from Bernacchia et al.'s `util.ml` (`cor_noise`);
the sampling error of a Gaussian covariance, E‖Ĉ − C‖²_F = (‖C‖²_F + (tr C)²)/n; the χ² spread of
the noise floor, sd(ℓ/ℓ_floor) = √(2/(n·n_out)); the teacher's forward map through lindyn's own
geometry (`lindyn.geometry(...).outputs`), an independent implementation.
"""
import gzip
import os
import struct

import numpy as np
import pytest

from lindyn import DiagonalNetwork, GivenWeights, LindynError, Network, Problem, Samples, SquaredLoss, geometry
from lindyn.datasets import (TeacherTask, autoencoder_samples, bernacchia_linear_task, digits, mnist, random_net,
                             read_idx)

TYPE_BYTES = {np.dtype("uint8"): 0x08, np.dtype("int8"): 0x09, np.dtype("int16"): 0x0B, np.dtype("int32"): 0x0C,
              np.dtype("float32"): 0x0D, np.dtype("float64"): 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX encoding of `arr`, written independently of lindyn: 00 00 type ndim, sizes, big-endian data."""
    header = bytes([0, 0, TYPE_BYTES[arr.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes(order="C")


def write(path, data: bytes, gz: bool = False) -> str:
    path = str(path) + (".gz" if gz else "")
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if gz else data)
    return path


# ------------------------------------------------------------------------------------------ IDX

rng0 = np.random.default_rng(123)
ARRAYS = {
    "uint8-images-3d": rng0.integers(0, 256, size=(4, 5, 3)).astype(np.uint8),
    "uint8-labels-1d": rng0.integers(0, 10, size=7).astype(np.uint8),
    "int8": rng0.integers(-128, 128, size=(3, 2)).astype(np.int8),
    "int16": rng0.integers(-30000, 30000, size=(2, 3, 2)).astype(np.int16),
    "int32": rng0.integers(-2**31, 2**31 - 1, size=5).astype(np.int32),
    "float32": rng0.normal(size=(3, 4)).astype(np.float32),
    "float64": rng0.normal(size=(2, 3)) * 1e100,
}


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_idx_round_trip(tmp_path, name, gz):
    arr = ARRAYS[name]
    got = read_idx(write(tmp_path / name, idx_bytes(arr), gz))
    assert got.dtype == arr.dtype and got.dtype.isnative
    assert got.shape == arr.shape
    np.testing.assert_array_equal(got, arr)
    got[...] = 0                                   # a writable copy


def test_idx_gzip_detected_by_content_and_pathlike(tmp_path):
    arr = ARRAYS["float64"]
    path = tmp_path / "no-suffix"
    path.write_bytes(gzip.compress(idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(path), arr)


@pytest.mark.parametrize("data, why", [
    (b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"ab", "bad magic"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"ab", "unknown type byte"),
    (b"\x00\x00\x08\x00", "ndim 0"),
    (b"\x00\x00", "short magic"),
    (b"\x00\x00\x08\x02" + struct.pack(">I", 2), "header truncated"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 3) + b"ab", "data truncated"),
    (b"\x00\x00\x0e\x01" + struct.pack(">I", 1) + b"abcdefg", "float64 truncated"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"ab", "trailing bytes"),
])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_idx_bad_files_name_the_path(tmp_path, data, why, gz):
    path = write(tmp_path / "broken-file", data, gz)
    with pytest.raises(LindynError, match="path") as info:
        read_idx(path)
    assert "broken-file" in str(info.value), why


def test_idx_truncated_gzip_and_missing_file(tmp_path):
    path = write(tmp_path / "cut", gzip.compress(idx_bytes(ARRAYS["int32"]))[:-6])
    with pytest.raises(LindynError, match="cut"):
        read_idx(path)
    with pytest.raises(LindynError, match="does-not-exist"):
        read_idx(tmp_path / "does-not-exist")
    with pytest.raises(LindynError, match="path"):
        read_idx(3)


# ------------------------------------------------------------------------------------------ MNIST

def mnist_dir(tmp_path, n_train=3, n_test=2, gz_test=True):
    rng = np.random.default_rng(5)
    images = {"train": rng.integers(0, 256, size=(n_train, 28, 28)).astype(np.uint8),
              "test": rng.integers(0, 256, size=(n_test, 28, 28)).astype(np.uint8)}
    labels = {"train": rng.integers(0, 10, size=n_train).astype(np.uint8),
              "test": rng.integers(0, 10, size=n_test).astype(np.uint8)}
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images["train"]))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels["train"]))
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(images["test"]), gz=gz_test)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(labels["test"]), gz=gz_test)
    return images, labels


@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_shape_and_orientation(tmp_path, split):
    images, labels = mnist_dir(tmp_path)
    X, y = mnist(tmp_path, split=split)
    n = images[split].shape[0]
    assert X.shape == (784, n) and X.dtype == np.float64 and y.shape == (n,)
    for k in range(n):                              # column k is image k, flattened row-major
        for r, c in [(0, 0), (0, 27), (1, 0), (13, 7), (27, 27)]:
            assert X[28 * r + c, k] == images[split][k, r, c]
        np.testing.assert_array_equal(X[:, k], images[split][k].reshape(-1).astype(float))
    np.testing.assert_array_equal(y, labels[split])
    assert 0 <= X.min() and X.max() <= 255


def test_mnist_errors(tmp_path):
    with pytest.raises(LindynError, match="directory"):
        mnist(tmp_path / "nowhere")
    with pytest.raises(LindynError, match="train-images-idx3-ubyte"):
        mnist(tmp_path)                             # empty directory: names the missing file
    mnist_dir(tmp_path)
    with pytest.raises(LindynError, match="split"):
        mnist(tmp_path, split="validation")
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(4, np.uint8)))   # 4 labels, 3 images
    with pytest.raises(LindynError, match="train-labels"):
        mnist(tmp_path, split="train")


# ------------------------------------------------------------------------------------------ digits

def test_digits_split_and_preprocessing():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    X_train, X_test = digits(test_size=297, seed=0)
    assert X_train.shape == (64, 1500) and X_test.shape == (64, 297)
    # the split is a permutation of the whole data set: no image lost or duplicated
    full = np.asarray(load_digits().data)
    both = np.hstack([X_train, X_test]).T
    def rows_sorted(A):
        return A[np.lexsort(A.T[::-1])]
    np.testing.assert_array_equal(rows_sorted(both), rows_sorted(full))
    # seeds: reproducible, and another seed another split
    again = digits(test_size=297, seed=0)
    np.testing.assert_array_equal(again[0], X_train)
    assert not np.array_equal(digits(test_size=297, seed=1)[1], X_test)
    assert digits(test_size=1, seed=3)[0].shape == (64, 1796)

    train, test = autoencoder_samples(X_train, X_test)
    assert isinstance(train, Samples) and isinstance(test, Samples)
    assert np.abs(train.X.mean(axis=1)).max() < 1e-12          # training mean 0 per pixel
    assert abs(train.X.std() - 1.0) < 1e-12                    # global std 1
    np.testing.assert_array_equal(train.Y, train.X)
    np.testing.assert_array_equal(test.Y, test.X)
    # the test set uses the TRAINING statistics: x̃ σ + μ recovers the raw test images
    mu, sigma = X_train.mean(axis=1, keepdims=True), (X_train - X_train.mean(axis=1, keepdims=True)).std()
    np.testing.assert_allclose(test.X * sigma + mu, X_test, atol=1e-10)
    assert abs(test.X.mean()) > 1e-6 or abs(test.X.std() - 1) > 1e-6   # not re-standardised on its own


def test_digits_and_autoencoder_errors():
    with pytest.raises(LindynError, match="test_size"):
        digits(test_size=0)
    with pytest.raises(LindynError, match="test_size"):
        digits(test_size=1797)
    with pytest.raises(LindynError, match="seed"):
        digits(seed=-1)
    with pytest.raises(LindynError, match="X_test"):
        autoencoder_samples(np.ones((3, 4)) + np.eye(3, 4), np.ones((2, 4)))
    with pytest.raises(LindynError, match="X_train"):
        autoencoder_samples(np.ones((3, 4)), np.ones((3, 4)))
    with pytest.raises(LindynError, match="X_train"):
        autoencoder_samples(np.array([[1.0, np.nan]]), np.ones((1, 1)))


# ------------------------------------------------------------------------------------------ teacher task

def spectrum_oracle(N, epsilon, rank):
    """Bernacchia et al.'s util.ml `cor_noise` (σ = 1): λ_i = ε + exp(−i/(N/rank)), rescaled to Σλ = N."""
    lam = np.array([epsilon + np.exp(-i / (N / rank)) for i in range(N)])
    return lam * N / lam.sum()


@pytest.mark.parametrize("width, epsilon, rank", [(6, 1e-3, 5.0), (10, 0.1, 2.0)])
def test_input_covariance(width, epsilon, rank):
    n = 200_000
    task = bernacchia_linear_task(seed=3, width=width, depth=2, n_train=n, n_test=10, epsilon=epsilon, rank=rank)
    C = task.input_covariance
    np.testing.assert_allclose(C, C.T, atol=0)
    # C's eigenvalues are λ (and so tr C = N)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(C))[::-1], spectrum_oracle(width, epsilon, rank),
                               rtol=1e-10, atol=1e-12)
    # empirical covariance -> C: E‖Ĉ − C‖²_F = (‖C‖²_F + (tr C)²)/n for Gaussian x; accept 4x the rms
    X = task.train.X
    C_hat = X @ X.T / n
    rms = np.sqrt((np.sum(C ** 2) + np.trace(C) ** 2) / n)
    err = np.linalg.norm(C_hat - C)
    assert err <= 4 * rms, (err, rms)
    assert err / np.linalg.norm(C) < 0.05           # stated relative bound at n = 2·10⁵
    assert np.abs(X.mean(axis=1)).max() < 5 * np.sqrt(np.diag(C).max() / n)   # zero mean


def teacher_outputs(task: TeacherTask, X: np.ndarray) -> np.ndarray:
    """The teacher's forward map by an independent implementation: lindyn's own geometry."""
    problem = Problem(task.network, Samples(X, np.zeros((task.network.widths[-1], X.shape[1]))),
                      GivenWeights(task.teacher))
    return geometry(problem).outputs


def test_teacher_reproduces_noiseless_targets():
    clean = bernacchia_linear_task(seed=4, width=5, depth=4, n_train=300, n_test=50, noise=0.0)
    assert clean.noise_floor == 0.0
    for data in (clean.train, clean.test):
        np.testing.assert_allclose(data.Y, teacher_outputs(clean, data.X), rtol=1e-12, atol=1e-12)
    # teacher: Network((N,)*(L+1), bias=True), biases zero, weights N(0, 1/fan_in)
    assert clean.network == Network((5,) * 5, bias=True)
    assert all(np.all(W[:, -1] == 0) for W in clean.teacher)


def test_teacher_loss_is_the_noise_floor():
    # the published sizes (N = 20, L = 16, 10 000 / 1 000 examples, noise 1e-3)
    task = bernacchia_linear_task(seed=0)
    assert task.network.widths == (20,) * 17 and task.train.n == 10_000 and task.test.n == 1_000
    assert task.noise_floor == pytest.approx(0.5 * 20 * 1e-6, rel=1e-15)
    # ℓ_teacher/ℓ_floor = χ²_{n·n_out}/(n·n_out): sd √(2/(n n_out)); accept 5 sd
    for data in (task.train, task.test):
        f = teacher_outputs(task, data.X)
        ratio = SquaredLoss().value(f, data.Y) / task.noise_floor
        assert abs(ratio - 1) <= 5 * np.sqrt(2 / (data.n * 20)), ratio
    # weights N(0, 1/fan_in): mean of fan_in·W² over 16·400 entries is 1 ± √(2/6400)
    second = np.mean([np.mean(20 * W[:, :-1] ** 2) for W in task.teacher])
    assert abs(second - 1) < 5 * np.sqrt(2 / 6400)


def test_seeds_reproduce_and_streams_are_separate():
    a = bernacchia_linear_task(seed=7, width=4, depth=3, n_train=40, n_test=8)
    b = bernacchia_linear_task(seed=7, width=4, depth=3, n_train=40, n_test=8)
    for x, y in [(a.train.X, b.train.X), (a.train.Y, b.train.Y), (a.test.X, b.test.X), (a.test.Y, b.test.Y),
                 (a.input_covariance, b.input_covariance)] + list(zip(a.teacher, b.teacher)):
        np.testing.assert_array_equal(x, y)
    c = bernacchia_linear_task(seed=8, width=4, depth=3, n_train=40, n_test=8)
    assert not np.allclose(a.train.X, c.train.X) and not np.allclose(a.teacher[0], c.teacher[0])
    # changing the test-set size leaves the teacher and the training set unchanged
    d = bernacchia_linear_task(seed=7, width=4, depth=3, n_train=40, n_test=30)
    np.testing.assert_array_equal(a.train.X, d.train.X)
    np.testing.assert_array_equal(a.train.Y, d.train.Y)
    np.testing.assert_array_equal(a.teacher[-1], d.teacher[-1])


def test_random_net():
    net = Network((30, 40, 3), activation="tanh")
    W = random_net(net, np.random.default_rng(0), scale=2.0)
    assert [w.shape for w in W] == list(net.shapes)
    # N(0, scale²/fan_in): fan_in·W²/scale² averages 1 (1200 and 120 entries; 5 sd)
    for w, fan_in in zip(W, (30, 40)):
        assert abs(np.mean(fan_in * w ** 2 / 4.0) - 1) < 5 * np.sqrt(2 / w.size)
    np.testing.assert_array_equal(random_net(net, 5)[1], random_net(net, np.random.default_rng(5))[1])
    assert all(np.all(w == 0) for w in random_net(Network((3, 2), bias=True), 0, scale=0.0))
    with pytest.raises(LindynError, match="network"):
        random_net(DiagonalNetwork(3), 0)
    with pytest.raises(LindynError, match="scale"):
        random_net(net, 0, scale=-1.0)
    with pytest.raises(LindynError, match="rng"):
        random_net(net, "seed")


@pytest.mark.parametrize("kwargs, name", [
    (dict(width=0), "width"), (dict(depth=0), "depth"), (dict(depth=101), "depth"), (dict(n_train=0), "n_train"),
    (dict(n_test=0), "n_test"), (dict(noise=-1e-3), "noise"), (dict(epsilon=float("nan")), "epsilon"),
    (dict(rank=0.0), "rank"), (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"),
])
def test_teacher_task_errors(kwargs, name):
    with pytest.raises(LindynError, match=name):
        bernacchia_linear_task(**kwargs)
