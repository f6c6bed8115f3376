"""Sequence tasks for recurrent networks: long-range memory problems and MNIST rows.

Two synthetic problems of Hochreiter & Schmidhuber (1997, "Long short-term
memory", Neural Computation 9(8)), in the variants of Arjovsky, Shah & Bengio
(2016, "Unitary evolution recurrent neural networks", ICML, section 4), are
drawn fresh from a key:

* :func:`adding_problem` - add the two marked numbers of a long sequence.
* :func:`copy_task` - repeat a few symbols after a long run of blanks.

Each comes with the loss of the best predictor that remembers nothing, the line
a recurrent network must beat to show memory: ``ADDING_BASELINE_MSE`` and
:func:`copy_task_baseline`.

:func:`mnist_rows` reads each MNIST image as a sequence of its 28 rows, the
sequential-MNIST task of Le, Jaitly & Hinton (2015) at row granularity.

Both generators return a dict ``{"x": ..., "y": ...}`` of JAX arrays with one
row per example. The dict can go straight to the training engine. The sizes
are static, so a generator can also run inside ``jit`` to draw fresh batches
every step.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp

from jnn._checks import check_key, check_positive_int
from jnn.data.datasets import Dataset, load

__all__ = [
    "ADDING_BASELINE_MSE",
    "adding_problem",
    "copy_task",
    "copy_task_baseline",
    "mnist_rows",
]

# Var(u1 + u2) for independent u1, u2 ~ U[0, 1]: 2 * 1/12. This is the MSE of
# always predicting the mean, 1.0.
ADDING_BASELINE_MSE = 1.0 / 6.0


def adding_problem(key: jax.Array, n: int, length: int) -> dict[str, jax.Array]:
    """Draw ``n`` examples of the adding problem with sequences of ``length`` steps.

    Each input step carries two channels. Channel 0 holds a value drawn from
    ``U[0, 1]``. Channel 1 is a marker: it is 1 at exactly two steps and 0
    elsewhere. The target is the sum of the two marked values. The first marker
    is uniform over the first half of the steps, ``[0, length // 2)``, and the
    second is uniform over the second half, ``[length // 2, length)``. This is
    the variant of Arjovsky et al. (2016, section 4.2), which follows Le et al.
    (2015). Hochreiter & Schmidhuber (1997, experiment 4) instead drew values
    from ``[-1, 1]`` and put the first marker among the first ten steps.

    Predicting the constant 1.0, the mean target, gives an MSE of
    ``ADDING_BASELINE_MSE = 1/6``. A model does better only if it remembers the
    first marked value across at least ``length // 2`` steps.

    Args:
      key: PRNG key.
      n: number of examples, ``N >= 1``.
      length: steps per sequence, ``T >= 2``.

    Returns:
      ``{"x": (N, T, 2) float32, "y": (N,) float32}``.

    Raises:
      TypeError: ``key`` is not a PRNG key, or ``n``/``length`` is not an int.
      ValueError: ``n < 1`` or ``length < 2``.

    Example:
      >>> data = adding_problem(jax.random.key(0), 4, 10)
      >>> data["x"].shape, data["y"].shape
      ((4, 10, 2), (4,))
      >>> [int(m) for m in data["x"][:, :, 1].sum(axis=1)]
      [2, 2, 2, 2]
    """
    check_key(key)
    check_positive_int(n, "n")
    check_positive_int(length, "length")
    if length < 2:
        raise ValueError(f"`length` must be at least 2 (two markers); got {length}.")
    key_values, key_first, key_second = jax.random.split(key, 3)
    half = length // 2
    values = jax.random.uniform(key_values, (n, length), jnp.float32)
    first = jax.random.randint(key_first, (n, 1), 0, half)
    second = jax.random.randint(key_second, (n, 1), half, length)
    steps = jnp.arange(length)[None, :]
    markers = ((steps == first) | (steps == second)).astype(jnp.float32)
    return {
        "x": jnp.stack([values, markers], axis=-1),
        "y": jnp.sum(values * markers, axis=1),
    }


def copy_task(
    key: jax.Array, n: int, delay: int, *, n_symbols: int = 8, n_copy: int = 10
) -> dict[str, jax.Array]:
    """Draw ``n`` examples of the copy task: recall ``S`` symbols after ``T`` steps.

    This is the variant of Arjovsky et al. (2016, section 4.1), after the
    task of Hochreiter & Schmidhuber (1997). Token 0 is the blank, tokens
    ``1..K`` are the data symbols and token ``K + 1`` is the delimiter.
    Write ``T = delay``, ``S = n_copy`` and ``K = n_symbols``. The input has
    ``T + 2S`` steps: ``S`` symbols drawn uniformly from ``1..K``, then
    ``T - 1`` blanks, then the delimiter, then ``S`` blanks. The target is
    blank for the first ``T + S`` steps and repeats the ``S`` symbols in its
    last ``S`` steps. The delimiter therefore comes ``T`` steps after the last
    symbol.

    The best memoryless predictor outputs the blank for the first ``T + S``
    steps and a uniform guess over the ``K`` symbols for the last ``S``. Its
    per-step cross-entropy is ``S log(K) / (T + 2S)`` (see
    :func:`copy_task_baseline`).

    Args:
      key: PRNG key.
      n: number of examples, ``N >= 1``.
      delay: ``T >= 1``, the steps from the last symbol to the delimiter.
      n_symbols: ``K >= 1``, the size of the data alphabet (8 in the paper).
      n_copy: ``S >= 1``, the number of symbols to copy (10 in the paper).

    Returns:
      ``{"x": (N, T + 2S) int32, "y": (N, T + 2S) int32}``, token ids in
      ``[0, K + 2)``. One-hot encode ``x`` with ``jax.nn.one_hot(x, K + 2)``.

    Raises:
      TypeError: ``key`` is not a PRNG key, or a size is not an int.
      ValueError: a size is below 1.

    Example:
      >>> data = copy_task(jax.random.key(0), 2, 3, n_copy=2)
      >>> data["x"].shape
      (2, 7)
      >>> [int(t) for t in data["x"][0, 2:]], [int(t) for t in data["y"][0, :5]]
      ([0, 0, 9, 0, 0], [0, 0, 0, 0, 0])
      >>> bool((data["y"][:, 5:] == data["x"][:, :2]).all())
      True
    """
    check_key(key)
    for value, name in ((n, "n"), (delay, "delay"), (n_symbols, "n_symbols")):
        check_positive_int(value, name)
    check_positive_int(n_copy, "n_copy")
    symbols = jax.random.randint(key, (n, n_copy), 1, n_symbols + 1, jnp.int32)
    delimiter = jnp.full((n, 1), n_symbols + 1, jnp.int32)
    x = jnp.concatenate(
        [
            symbols,
            jnp.zeros((n, delay - 1), jnp.int32),
            delimiter,
            jnp.zeros((n, n_copy), jnp.int32),
        ],
        axis=1,
    )
    y = jnp.concatenate([jnp.zeros((n, delay + n_copy), jnp.int32), symbols], axis=1)
    return {"x": x, "y": y}


def copy_task_baseline(delay: int, *, n_symbols: int = 8, n_copy: int = 10) -> float:
    """Per-step cross-entropy, in nats, of the memoryless copy-task baseline.

    The baseline outputs the blank for ``T + S`` steps and ``1/K`` for each
    symbol in the last ``S`` steps. Its loss is ``S log(K) / (T + 2S)``
    (Arjovsky et al. 2016, section 4.1). A model that copies scores 0.

    Example:
      >>> round(copy_task_baseline(100), 4)   # T = 100, S = 10, K = 8
      0.1733
    """
    for value, name in ((delay, "delay"), (n_symbols, "n_symbols")):
        check_positive_int(value, name)
    check_positive_int(n_copy, "n_copy")
    return n_copy * math.log(n_symbols) / (delay + 2 * n_copy)


def mnist_rows(
    *,
    seed: int = 0,
    val_size: int = 5000,
    standardize: bool = True,
    mnist_dir: str | Path | None = None,
) -> Dataset:
    """MNIST as sequences: each image is read as 28 steps of 28 pixels, top to bottom.

    This is row-by-row sequential MNIST. Le, Jaitly & Hinton (2015, "A simple
    way to initialize recurrent networks of rectified linear units") read the
    images one pixel at a time. Rows make a shorter task of 28 steps. A
    recurrent classifier reads the 28 rows and predicts the digit from its last
    state. The splits, the standardisation and the arguments are those of
    ``jnn.data.load("mnist", ...)``: 55,000 training images, ``val_size``
    validation images drawn from the official 60,000 with ``seed``, and the
    official 10,000 test images.

    Args:
      seed: seed of the validation split.
      val_size: images held out of the official training set for validation.
      standardize: z-score pixels with the global training mean and deviation.
      mnist_dir: folder of the IDX files (default: the copy shipped with jnn).

    Returns:
      A :class:`~jnn.data.Dataset` whose ``x`` are ``(n, 28, 28)`` float32 and
      whose ``y`` are ``(n,)`` int32 labels. Entry ``x[i, t]`` is row ``t`` of
      image ``i``. ``info`` adds ``sequence_length = 28``, ``n_features = 28``
      and ``order = "rows"``.
    """
    data = load(
        "mnist",
        seed=seed,
        val_size=val_size,
        standardize=standardize,
        flatten=False,
        mnist_dir=mnist_dir,
    )
    splits = [
        {"x": split["x"].reshape(-1, 28, 28), "y": split["y"]}
        for split in (data.train, data.val, data.test)
    ]
    info = {**data.info, "sequence_length": 28, "n_features": 28, "order": "rows"}
    return Dataset(*splits, info)
