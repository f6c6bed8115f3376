"""Real data sets with fixed, seeded train/validation/test splits.

Tabular sets come from scikit-learn's bundled files (no download): ``digits``,
``iris``, ``wine``, ``breast_cancer`` (classification) and ``diabetes``
(regression). ``mnist`` is read from the IDX files shipped in
``jnn/data/files/mnist`` (see the README there for provenance).

Splits are stratified for classification and drawn with NumPy's PCG64 generator
from ``seed``, so the same seed gives the same split on every machine.
Standardisation (z-scores) is fitted on the training split only and applied to
all three; the fitted mean and scale are kept in ``Dataset.info`` so that
predictions can be mapped back.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jnn._checks import check_array, check_fraction, check_positive_int

MNIST_DIR = Path(__file__).parent / "files" / "mnist"

_SKLEARN = {
    "digits": "load_digits",
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
}
DATASETS = (*_SKLEARN, "mnist")


class Dataset(NamedTuple):
    """Three splits of one data set, each a dict of NumPy arrays.

    Attributes:
      train: ``{"x": (n_train, d) float32, "y": (n_train,) int32 | float32}``.
      val: same layout, the validation split (for stopping and model choice).
      test: same layout, touched only for the final number.
      info: name, task (``"classification"``/``"regression"``), ``n_classes``,
        and the standardisation statistics fitted on ``train``.
    """

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    info: dict[str, Any]


def stratified_split(
    y: np.ndarray, fractions: tuple[float, float], seed: int, *, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split example indices into train/val/test, class by class.

    Args:
      y: ``(n,)`` labels (used for stratification) or targets.
      fractions: ``(val_fraction, test_fraction)`` of the examples.
      seed: seed of NumPy's PCG64 generator.
      stratify: keep class proportions in every split (classification).

    Returns:
      Sorted index arrays ``(train, val, test)``.
    """
    y = _check_split_args(y, fractions, seed)
    val_fraction, test_fraction = fractions
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [None]
    parts: tuple[list, list, list] = ([], [], [])
    for group in groups:
        idx = rng.permutation(len(y)) if group is None else rng.permutation(group)
        n_test = int(round(test_fraction * len(idx)))
        n_val = int(round(val_fraction * len(idx)))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test : n_test + n_val])
        parts[0].append(idx[n_test + n_val :])
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) for p in parts)


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"`seed` must be a non-negative int; got {seed!r}.")
    if seed < 0:
        raise ValueError(f"`seed` must be a non-negative int; got {seed!r}.")


def _check_split_args(y, fractions, seed) -> np.ndarray:
    """``y`` as a non-empty (n,) array; fractions two numbers summing below 1."""
    if y is None or not hasattr(y, "shape"):
        raise TypeError(f"`y` must be an (n,) array of labels; got {y!r:.60}.")
    y = np.asarray(y)
    check_array(y, "y", ndim=1)
    if not isinstance(fractions, tuple | list):
        raise TypeError(
            f"`fractions` must be a pair (val_fraction, test_fraction); got "
            f"{fractions!r}."
        )
    if len(fractions) != 2:
        raise ValueError(
            f"`fractions` must be a pair (val_fraction, test_fraction); got "
            f"{fractions!r}."
        )
    for value in fractions:
        check_fraction(value, "fractions")
    if sum(fractions) >= 1:
        raise ValueError(
            f"`fractions` must leave examples for training (sum < 1); got {fractions}."
        )
    _check_seed(seed)
    return y


def _standardize(splits: list[np.ndarray]) -> tuple[list[np.ndarray], dict]:
    """Z-score every split with the mean and scale of the first (train) split."""
    mean = splits[0].mean(axis=0)
    scale = splits[0].std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)  # constant columns stay constant
    out = [((s - mean) / scale).astype(np.float32) for s in splits]
    return out, {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32)}


def _tabular(
    name: str, seed: int, val_fraction: float, test_fraction: float, standardize: bool
) -> Dataset:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, _SKLEARN[name])()
    x = np.asarray(bunch.data, np.float64)
    y = np.asarray(bunch.target)
    regression = name == "diabetes"
    idx = stratified_split(
        y, (val_fraction, test_fraction), seed, stratify=not regression
    )
    xs = [x[i] for i in idx]
    ys = [y[i] for i in idx]
    info: dict[str, Any] = {"name": name, "seed": seed}
    if standardize:
        xs, info["x_stats"] = _standardize(xs)
    else:
        xs = [s.astype(np.float32) for s in xs]
    if regression:
        info.update(task="regression", n_outputs=1)
        if standardize:
            ys, info["y_stats"] = _standardize(ys)
        ys = [s.astype(np.float32) for s in ys]
    else:
        info.update(task="classification", n_classes=int(y.max()) + 1)
        ys = [s.astype(np.int32) for s in ys]
    splits = [{"x": a, "y": b} for a, b in zip(xs, ys, strict=True)]
    return Dataset(*splits, info)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) as a uint8 array.

    The format (LeCun's MNIST page): a big-endian header with magic
    ``0x0000 08 D`` (unsigned bytes, ``D`` dimensions), then ``D`` int32 sizes,
    then the data.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"`path` must be a file path (str or Path); got {path!r}.")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path`: no such file {str(path)!r}.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except gzip.BadGzipFile:
        raise ValueError(f"`path` {path} is not a gzip-compressed IDX file.") from None
    magic = int.from_bytes(raw[:4], "big")
    if magic >> 8 != 0x08:
        raise ValueError(
            f"`path` {path} is not an unsigned-byte IDX file (magic {magic:#010x})."
        )
    ndim = magic & 0xFF
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(
            f"`path` {path}: header says {shape}, found {data.size} bytes."
        )
    return data.reshape(shape)


def _mnist(
    seed: int, val_size: int, standardize: bool, flatten: bool, directory: Path
) -> Dataset:
    files = {
        split: (
            directory / f"{prefix}-images-idx3-ubyte.gz",
            directory / f"{prefix}-labels-idx1-ubyte.gz",
        )
        for split, prefix in (("train", "train"), ("test", "t10k"))
    }
    for images, labels in files.values():
        for path in (images, labels):
            if not path.exists():
                raise ValueError(
                    f"MNIST file not found: {path} (`mnist_dir` must be the folder "
                    "of the four IDX .gz files)."
                )
    (x_all, y_all), (x_test, y_test) = (
        (read_idx(i), read_idx(lab).astype(np.int32)) for i, lab in files.values()
    )
    if val_size >= len(x_all):
        raise ValueError(f"`val_size` must be < {len(x_all)}; got {val_size}.")
    perm = np.random.default_rng(seed).permutation(len(x_all))
    val_idx, train_idx = np.sort(perm[:val_size]), np.sort(perm[val_size:])
    raw = [x_all[train_idx], x_all[val_idx], x_test]  # uint8 pixels
    ys = [y_all[train_idx], y_all[val_idx], y_test]
    info: dict[str, Any] = {
        "name": "mnist",
        "seed": seed,
        "task": "classification",
        "n_classes": 10,
        "image_shape": (28, 28),
    }
    # Pixels take 256 values: map them through a float32 table (the same
    # float32 operations per value as on the whole array, without converting
    # and scaling 55 million pixels one array operation at a time).
    table = np.arange(256, dtype=np.float32) / 255.0
    if standardize:
        # One global mean/scale (not per pixel): border pixels are constant zero.
        # Exact (float64) statistics of the training pixels from their counts.
        counts = np.bincount(raw[0].ravel(), minlength=256)
        levels = table.astype(np.float64)
        mean = float(counts @ levels / counts.sum())
        scale = float(np.sqrt(counts @ (levels - mean) ** 2 / counts.sum()))
        table = (table - mean) / scale
        info["x_stats"] = {"mean": mean, "scale": scale}
    xs = [table[x] for x in raw]
    shape = (-1, 784) if flatten else (-1, 28, 28, 1)
    splits = [{"x": x.reshape(shape), "y": y} for x, y in zip(xs, ys, strict=True)]
    return Dataset(*splits, info)


def load(
    name: str,
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    standardize: bool = True,
    val_size: int = 5000,
    flatten: bool = True,
    mnist_dir: str | Path | None = None,
) -> Dataset:
    """Load a real data set with a fixed, seeded train/val/test split.

    Args:
      name: one of ``digits``, ``iris``, ``wine``, ``breast_cancer``,
        ``diabetes`` (scikit-learn's bundled files) or ``mnist``.
      seed: seed of the split (the same seed gives the same split everywhere).
      val_fraction: fraction of examples in the validation split (tabular).
      test_fraction: fraction of examples in the test split (tabular; MNIST
        uses its official 10,000-image test set).
      standardize: z-score the features with statistics of the training split
        (and the targets, for regression). MNIST is scaled to [0, 1] first and
        then standardised with the global train mean and deviation.
      val_size: MNIST only, images held out of the 60,000 for validation.
      flatten: MNIST only, ``(n, 784)`` if True else ``(n, 28, 28, 1)``.
      mnist_dir: MNIST only, folder of the four IDX ``.gz`` files (default: the
        copy shipped with jnn).

    Returns:
      A :class:`Dataset` of NumPy arrays; ``x`` float32, ``y`` int32 class
      labels or float32 regression targets.

    Raises:
      ValueError: unknown name or invalid split sizes.

    Example:
      >>> ds = load("iris", seed=0)
      >>> ds.train["x"].shape, ds.info["n_classes"]
      ((96, 4), 3)
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be one of {DATASETS}; got {name!r}.")
    if name not in DATASETS:
        raise ValueError(f"`name` must be one of {DATASETS}; got {name!r}.")
    _check_seed(seed)
    if name == "mnist":
        check_positive_int(val_size, "val_size")
        if mnist_dir is not None and not isinstance(mnist_dir, str | os.PathLike):
            raise TypeError(
                f"`mnist_dir` must be a folder path (str or Path); got {mnist_dir!r}."
            )
        directory = MNIST_DIR if mnist_dir is None else Path(mnist_dir)
        return _mnist(int(seed), val_size, standardize, flatten, directory)
    check_fraction(val_fraction, "val_fraction")
    check_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 0.9:
        raise ValueError(
            "`val_fraction + test_fraction` must leave at least 10% "
            f"for training; got {val_fraction} + {test_fraction}."
        )
    return _tabular(name, int(seed), val_fraction, test_fraction, standardize)
