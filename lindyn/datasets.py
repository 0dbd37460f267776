"""Data for the online natural-gradient experiments (Bernacchia et al. 2018; issue 11).

Four sources, each returned in lindyn's layout (one column per example):

* `read_idx` / `mnist`: the IDX files of MNIST (LeCun et al. 1998), read from a directory the user
  gives; lindyn never downloads.
* `digits`: scikit-learn's bundled 8x8 digits (1797 images, shipped with scikit-learn), split by a seed.
* `autoencoder_samples`: Bernacchia et al. 2018's preprocessing of images for their autoencoder,
  x ↦ (x − μ_train)/σ_train with targets = inputs.
* `bernacchia_linear_task`: their linear teacher–student experiment (published code, `linear.ml`
  and `util.ml`'s `cor_noise`): correlated Gaussian inputs, a random deep linear teacher with biases,
  Gaussian label noise; `random_net` gives the teacher's (and the student's) initialisation.

>>> task = bernacchia_linear_task(seed=0, width=4, depth=2, n_train=50, n_test=10)
>>> task.train.X.shape, task.test.Y.shape, task.network.shapes
((4, 50), (4, 10), ((4, 5), (4, 5)))
>>> task.noise_floor          # ½ · n_out · noise² = ½ · 4 · 1e-6
2e-06
"""
from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import MAX_DEPTH, MAX_WIDTH, LindynError, check_int, check_real, fail
from .problem import Network, Samples, random_orthogonal

__all__ = ["read_idx", "mnist", "digits", "autoencoder_samples", "TeacherTask", "bernacchia_linear_task",
           "random_net"]

#: IDX type byte -> big-endian numpy dtype (LeCun et al.'s format description of the MNIST files).
IDX_TYPES: dict[int, str] = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

#: The MNIST file names of each split (each read with or without a `.gz` suffix).
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: Number of images in scikit-learn's digits data.
DIGITS_SIZE = 1797

#: Largest number of examples `bernacchia_linear_task` draws per set (10**7 x width floats is already GBs).
MAX_SAMPLES = 10_000_000


# --------------------------------------------------------------------------------------- IDX / MNIST

def _read_bytes(path: str) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic 1f 8b."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise fail("path", f"a readable gzip file (decompression failed: {err})", path) from None
    return raw


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (the format of the MNIST files), plain or gzipped, as a numpy array.

    Layout (all integers big-endian):

        bytes 0–1: 0x00 0x00 (magic);  byte 2: type (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
        0x0D float32, 0x0E float64);  byte 3: ndim;  then ndim uint32 sizes d_1..d_ndim;
        then d_1·…·d_ndim values of the type, last index fastest (C order).

    A file whose first two bytes are the gzip magic 1f 8b is decompressed first (whatever its name).

    Args:
        path: an existing IDX file.

    Returns:
        An array of shape (d_1, …, d_ndim) in the type's native-endian dtype.

    Raises:
        LindynError: naming `path`, for a missing file, bad magic or type byte, or a header or data
            section shorter (or longer) than the header says.

    >>> import os, struct, tempfile
    >>> f = os.path.join(tempfile.mkdtemp(), "tiny-idx1-ubyte")
    >>> _ = open(f, "wb").write(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 3) + bytes([7, 8, 9]))
    >>> read_idx(f)
    array([7, 8, 9], dtype=uint8)
    """
    # === check arguments
    if not isinstance(path, (str, os.PathLike)):
        raise fail("path", "a file path (str or os.PathLike)", path)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise fail("path", "an existing IDX file", path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise fail("path", f"an IDX file with a 4-byte magic number (file has {len(data)} bytes: truncated)", path)
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise fail("path", "an IDX file: magic 00 00, a type byte in {08, 09, 0B, 0C, 0D, 0E}, ndim "
                           f"(found {data[:4].hex(' ')})", path)
    ndim = data[3]
    if ndim < 1:
        raise fail("path", "an IDX file with at least one dimension (ndim byte is 0)", path)
    header = 4 + 4 * ndim
    if len(data) < header:
        raise fail("path", f"an IDX file with {ndim} 4-byte sizes after the magic (header truncated at "
                           f"{len(data)} bytes)", path)
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[data[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        what = "truncated" if found < expected else "longer than its header says"
        raise fail("path", f"an IDX file with {expected} data bytes for shape {shape} (found {found}: {what})", path)
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))       # native byte order, a writable copy


def _find(directory: str, name: str) -> str:
    for candidate in (name, name + ".gz"):
        full = os.path.join(directory, candidate)
        if os.path.isfile(full):
            return full
    raise fail("directory", f"a directory holding {name} or {name}.gz (lindyn never downloads MNIST: fetch the "
                            "four IDX files yourself)", directory)


def mnist(directory: str | os.PathLike[str], split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST from `directory`: X (784 x n, one column per image) and the labels (n,).

    Files (each plain or `.gz`): train-images-idx3-ubyte / train-labels-idx1-ubyte (n = 60000) and
    t10k-images-idx3-ubyte / t10k-labels-idx1-ubyte (n = 10000). Column k of X is image k flattened
    row-major, X[r·28 + c, k] = image_k[r, c], as float64 pixel values in [0, 255] (not rescaled).
    Never downloads.

    Args:
        directory: a directory holding the split's two files.
        split: "train" or "test".

    Returns:
        (X, labels): X of shape (rows·cols, n) float64 (784 for MNIST); labels (n,) int64.

    >>> import os, struct, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, "t10k-images-idx3-ubyte"), "wb").write(
    ...     bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 28, 28) + bytes(range(256)) * 6 + bytes(32))
    >>> _ = open(os.path.join(d, "t10k-labels-idx1-ubyte"), "wb").write(
    ...     bytes([0, 0, 8, 1]) + struct.pack(">I", 2) + bytes([3, 9]))
    >>> X, labels = mnist(d, split="test")
    >>> X.shape, X[:3, 0].tolist(), labels.tolist()
    ((784, 2), [0.0, 1.0, 2.0], [3, 9])
    """
    # === check arguments
    if split not in MNIST_FILES:
        raise fail("split", "'train' or 'test'", split)
    if not isinstance(directory, (str, os.PathLike)):
        raise fail("directory", "a directory path (str or os.PathLike)", directory)
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise fail("directory", "an existing directory holding the MNIST IDX files", directory)
    images_file, labels_file = (_find(directory, name) for name in MNIST_FILES[split])
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim != 3:
        raise fail("path", f"an image file of 3 dimensions (n, rows, cols), found shape {images.shape}", images_file)
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise fail("path", f"a label file of shape ({images.shape[0]},) (one label per image), found shape "
                           f"{labels.shape}", labels_file)
    X = images.reshape(images.shape[0], -1).T.astype(np.float64)     # column k = image k, row-major
    return np.ascontiguousarray(X), labels.astype(np.int64)


# --------------------------------------------------------------------------------------- digits

def digits(test_size: int = 297, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits, shuffled by `seed` and split into training and test inputs.

    The 1797 images (pixel values 0..16, `sklearn.datasets.load_digits`, no download) are permuted
    by `numpy.random.default_rng(seed).permutation(1797)`; the first 1797 − test_size of the
    permutation are the training set, the rest the test set. Column k is image k flattened
    row-major (64 pixels).

    Args:
        test_size: number of test images, an integer in [1, 1796] (default 297: 1500 for training).
        seed: shuffling seed, an integer >= 0.

    Returns:
        (X_train, X_test) of shapes (64, 1797 − test_size) and (64, test_size), float64.

    Raises:
        LindynError: bad arguments, or scikit-learn missing (`pip install lindyn[digits]`).

    >>> X_train, X_test = digits(test_size=297, seed=0)
    >>> X_train.shape, X_test.shape, float(X_train.max())
    ((64, 1500), (64, 297), 16.0)
    """
    # === check arguments
    test_size = check_int(test_size, "test_size", minimum=1, maximum=DIGITS_SIZE - 1)
    seed = check_int(seed, "seed", minimum=0)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise LindynError("The digits data need scikit-learn: pip install 'lindyn[digits]' "
                          "(or pip install scikit-learn).") from None
    pixels = np.asarray(load_digits().data, dtype=np.float64)       # (1797, 64), rows are images
    order = np.random.default_rng(seed).permutation(pixels.shape[0])
    n_train = pixels.shape[0] - test_size
    return (np.ascontiguousarray(pixels[order[:n_train]].T), np.ascontiguousarray(pixels[order[n_train:]].T))


def _images(X: Any, name: str) -> np.ndarray:
    try:
        arr = np.array(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise fail(name, "a real 2-d array (pixels x examples)", X) from None
    if arr.ndim != 2 or arr.shape[1] < 1 or arr.shape[0] < 1:
        raise fail(name, "a non-empty 2-d array (pixels x examples)", f"array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise fail(name, "finite (no NaN or inf)", f"array with {int(np.sum(~np.isfinite(arr)))} non-finite entries")
    return arr


def autoencoder_samples(X_train: Any, X_test: Any) -> tuple[Samples, Samples]:
    """Bernacchia et al. 2018's autoencoder data: standardised images, targets = inputs.

    With μ_j = mean over training examples of pixel j and σ the standard deviation of all entries
    of the centred training images (one global number, population form),

        x̃ = (x − μ)/σ  for training and test images alike (the TRAINING μ and σ),

    so the training inputs have mean 0 per pixel and global standard deviation 1 (their published
    `autoencoder.ml`: `mu = mean ~axis:0 x`, `scaling = 1 / std' (x − mu)`).

    Args:
        X_train: training images, pixels x examples (finite; not all equal).
        X_test: test images, with as many pixels (rows) as X_train.

    Returns:
        (train, test): `lindyn.Samples(X̃, X̃)` each (an autoencoder: targets are the inputs).

    >>> train, test = autoencoder_samples(np.array([[0.0, 2.0], [1.0, 1.0]]), np.array([[2.0], [1.0]]))
    >>> np.round(train.X, 4).tolist(), np.round(test.Y, 4).tolist()      # μ = (1, 1), σ = 1/√2
    ([[-1.4142, 1.4142], [0.0, 0.0]], [[1.4142], [0.0]])
    """
    # === check arguments
    X_train, X_test = _images(X_train, "X_train"), _images(X_test, "X_test")
    if X_test.shape[0] != X_train.shape[0]:
        raise fail("X_test", f"{X_train.shape[0]} rows (pixels, as X_train)", f"array of shape {X_test.shape}")
    mu = X_train.mean(axis=1, keepdims=True)                 # per-pixel training mean
    sigma = float((X_train - mu).std())                      # one global scale (ddof = 0)
    if not sigma > 0:
        raise fail("X_train", "images that are not all identical (the centred training pixels have std 0)",
                   f"array of shape {X_train.shape}")
    train = (X_train - mu) / sigma
    test = (X_test - mu) / sigma
    return Samples(train, train), Samples(test, test)


# --------------------------------------------------------------------------------------- teacher task

def random_net(network: Network, rng: np.random.Generator | int, scale: float = 1.0) -> tuple[np.ndarray, ...]:
    """Random layers for `network`: weights N(0, scale²/fan_in), biases 0 (Bernacchia et al. 2018).

    Layer i (input width n_{i−1} = fan_in) gets W_i ~ N(0, scale²/n_{i−1}) entrywise; with
    `network.bias` it is stored as [W_i  b_i] with b_i = 0 (their `Network.make_random`, sigma = scale).

    Args:
        network: a `lindyn.Network` (any widths, activation, bias).
        rng: a `numpy.random.Generator`, or an integer seed >= 0.
        scale: the weight scale, finite and >= 0.

    Returns:
        (W_1, …, W_L) of `network.shapes`.

    >>> W = random_net(Network((3, 2, 1), bias=True), np.random.default_rng(0))
    >>> [w.shape for w in W], W[0][:, -1].tolist()
    ([(2, 4), (1, 3)], [0.0, 0.0])
    """
    # === check arguments
    if not isinstance(network, Network):
        raise fail("network", "a lindyn.Network (a chain of weight matrices)", network)
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(check_int(rng, "rng", minimum=0))
    scale = check_real(scale, "scale", nonnegative=True)
    layers = []
    for (rows, cols), fan_in in zip(network.shapes, network.widths[:-1]):
        W = np.zeros((rows, cols))
        W[:, :fan_in] = rng.normal(scale=scale / np.sqrt(fan_in), size=(rows, fan_in))
        layers.append(W)
    return tuple(layers)


def _forward(layers: tuple[np.ndarray, ...], X: np.ndarray) -> np.ndarray:
    """Linear net with biases: a_0 = x, a_i = W_i [a_{i−1}; 1] (lindyn's [W_i b_i] storage)."""
    a = X
    for W in layers:
        a = W @ np.vstack([a, np.ones((1, a.shape[1]))])
    return a


@dataclass(frozen=True)
class TeacherTask:
    """A teacher–student regression task: data drawn from a random teacher network plus noise.

    Attributes:
        train, test: `Samples(X, Y)` with y = teacher(x) + N(0, noise²) per output entry.
        network: the teacher's `Network` (the student uses the same architecture).
        teacher: the teacher's layers (W_1, …, W_L), each stored as [W_i b_i].
        input_covariance: C = E[xxᵀ] of the inputs.
        noise: the label-noise standard deviation.
    """

    train: Samples
    test: Samples
    network: Network
    teacher: tuple[np.ndarray, ...]
    input_covariance: np.ndarray
    noise: float

    @property
    def noise_floor(self) -> float:
        """Expected loss of the teacher itself under `SquaredLoss()`: E[½·mean_n ‖y_n − ŷ_n‖²] = ½·n_out·noise²."""
        return 0.5 * self.network.widths[-1] * self.noise ** 2


def bernacchia_linear_task(seed: int = 0, width: int = 20, depth: int = 16, n_train: int = 10_000,
                           n_test: int = 1_000, noise: float = 1e-3, epsilon: float = 1e-3,
                           rank: float = 5.0) -> TeacherTask:
    """The linear experiment of Bernacchia et al. 2018 (§5, Fig. 2; their `linear.ml`, `util.ml`).

    Inputs x ~ N(0, C), C = Qᵀ diag(λ) Q with Q Haar-random orthogonal and

        λ_i ∝ ε + exp(−i / (N/r)),  i = 0..N−1,  rescaled so that Σ_i λ_i = N  (N = width, r = rank),

    (drawn as x = Qᵀ diag(√λ) g, g ~ N(0, I)). The teacher is a random
    `Network((N,)*(L+1), bias=True)` (linear, L = depth layers [W_i b_i]) with W_i ~ N(0, 1/N) and
    b_i = 0 (`random_net`); targets y = W_L[⋯W_1[x; 1]⋯; 1] + ξ, ξ ~ N(0, noise² I), for the
    training and the test set alike.

    Seed policy: `numpy.random.SeedSequence(seed)` is split into four independent streams, for Q,
    the teacher, the training set and the test set, so changing n_test leaves the training set
    (and the teacher) unchanged.

    Args:
        seed: integer >= 0.
        width: N, input, hidden and output width, in [1, 2048].
        depth: L, number of layers, in [1, 100].
        n_train, n_test: examples per set, in [1, 10**7].
        noise: label-noise standard deviation >= 0 (their 1e-3).
        epsilon: ε >= 0, the floor of the spectrum (their 1e-3).
        rank: r > 0, the spectrum's decay: λ_i falls by e every N/r indices (their 5).

    Returns:
        A `TeacherTask`; its `noise_floor` (½·N·noise²) is the teacher's expected test loss.

    >>> task = bernacchia_linear_task(seed=1, width=5, depth=3, n_train=20, n_test=4)
    >>> bool(np.isclose(np.trace(task.input_covariance), 5.0)), len(task.teacher)
    (True, 3)
    """
    # === check arguments
    seed = check_int(seed, "seed", minimum=0)
    width = check_int(width, "width", minimum=1, maximum=MAX_WIDTH)
    depth = check_int(depth, "depth", minimum=1, maximum=MAX_DEPTH)
    n_train = check_int(n_train, "n_train", minimum=1, maximum=MAX_SAMPLES)
    n_test = check_int(n_test, "n_test", minimum=1, maximum=MAX_SAMPLES)
    noise = check_real(noise, "noise", nonnegative=True)
    epsilon = check_real(epsilon, "epsilon", nonnegative=True)
    rank = check_real(rank, "rank", positive=True)

    cov_rng, teacher_rng, train_rng, test_rng = (np.random.default_rng(s)
                                                 for s in np.random.SeedSequence(seed).spawn(4))
    # util.ml `cor_noise`: λ_i = ε + exp(−i/(n/rank)), scaled to Σλ = σ²·n with σ = 1
    lam = epsilon + np.exp(-np.arange(width) / (width / rank))
    lam *= width / lam.sum()
    Q = random_orthogonal(width, cov_rng)
    factor = Q.T * np.sqrt(lam)                  # Qᵀ diag(√λ): x = factor @ g has E[xxᵀ] = Qᵀ diag(λ) Q
    C = factor @ factor.T
    C = 0.5 * (C + C.T)
    network = Network((width,) * (depth + 1), bias=True)
    teacher = random_net(network, teacher_rng)

    def draw(rng: np.random.Generator, n: int) -> Samples:
        X = factor @ rng.normal(size=(width, n))
        Y = _forward(teacher, X) + noise * rng.normal(size=(width, n))
        return Samples(X, Y)

    return TeacherTask(train=draw(train_rng, n_train), test=draw(test_rng, n_test), network=network,
                       teacher=teacher, input_covariance=C, noise=noise)
