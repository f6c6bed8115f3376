"""Sequence tasks (adding problem, copy task, MNIST rows): layout, baselines, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.data import (
    ADDING_BASELINE_MSE,
    adding_problem,
    copy_task,
    copy_task_baseline,
    mnist_rows,
)
from tests.conftest import load


@pytest.mark.parametrize("length", [2, 11])
def test_adding_problem_layout_one_marker_per_half(length):
    data = adding_problem(jax.random.key(1), 3000, length)
    x, y = np.asarray(data["x"]), np.asarray(data["y"])
    assert x.shape == (3000, length, 2) and y.shape == (3000,)
    assert x.dtype == np.float32 and y.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(np.unique(markers)) <= {0.0, 1.0}
    half = length // 2
    np.testing.assert_array_equal(markers[:, :half].sum(axis=1), 1)
    np.testing.assert_array_equal(markers[:, half:].sum(axis=1), 1)
    np.testing.assert_allclose(y, (values * markers).sum(axis=1), rtol=1e-6)
    # Each marker is uniform over its half: every position gets its share.
    for part, size in ((markers[:, :half], half), (markers[:, half:], length - half)):
        counts = part.sum(axis=0)
        expected = 3000 / size
        assert np.abs(counts - expected).max() < 5 * math.sqrt(expected)


def test_adding_problem_baseline_mse_is_one_sixth():
    y = np.asarray(adding_problem(jax.random.key(2), 100_000, 20)["y"])
    assert ADDING_BASELINE_MSE == pytest.approx(1 / 6)
    # (y - 1)^2 has sd ~0.197: the standard error of the mean is ~6e-4.
    assert np.mean((y - 1.0) ** 2) == pytest.approx(1 / 6, abs=3e-3)
    assert y.mean() == pytest.approx(1.0, abs=3e-3)  # 1.0 is the best constant


def test_adding_problem_is_deterministic_and_jittable():
    key = jax.random.key(3)
    a = adding_problem(key, 5, 8)
    b = jax.jit(adding_problem, static_argnums=(1, 2))(key, 5, 8)
    c = adding_problem(jax.random.key(4), 5, 8)
    np.testing.assert_array_equal(a["x"], b["x"])
    np.testing.assert_array_equal(a["y"], b["y"])
    assert not np.array_equal(a["x"], c["x"])
    legacy = adding_problem(jax.random.PRNGKey(0), 2, 4)  # raw keys work too
    assert legacy["x"].shape == (2, 4, 2)


@pytest.mark.parametrize(
    ("delay", "n_symbols", "n_copy"), [(1, 8, 10), (20, 8, 10), (5, 3, 4)]
)
def test_copy_task_layout(delay, n_symbols, n_copy):
    data = copy_task(jax.random.key(5), 500, delay, n_symbols=n_symbols, n_copy=n_copy)
    x, y = np.asarray(data["x"]), np.asarray(data["y"])
    total = delay + 2 * n_copy
    assert x.shape == y.shape == (500, total)
    assert x.dtype == y.dtype == np.int32
    symbols = x[:, :n_copy]
    assert ((symbols >= 1) & (symbols <= n_symbols)).all()
    assert set(np.unique(symbols)) == set(range(1, n_symbols + 1))
    np.testing.assert_array_equal(x[:, n_copy : n_copy + delay - 1], 0)
    np.testing.assert_array_equal(x[:, n_copy + delay - 1], n_symbols + 1)
    np.testing.assert_array_equal(x[:, n_copy + delay :], 0)
    np.testing.assert_array_equal(y[:, : delay + n_copy], 0)
    np.testing.assert_array_equal(y[:, delay + n_copy :], symbols)


def test_copy_task_baseline_is_the_best_memoryless_cross_entropy():
    delay, n_copy, n_symbols = 30, 10, 8
    expected = n_copy * math.log(n_symbols) / (delay + 2 * n_copy)
    assert copy_task_baseline(delay) == pytest.approx(expected)
    assert copy_task_baseline(100) == pytest.approx(10 * math.log(8) / 120)
    n_classes = n_symbols + 2
    fit = np.asarray(copy_task(jax.random.key(6), 4000, delay)["y"])
    held = np.asarray(copy_task(jax.random.key(7), 4000, delay)["y"])
    # The best predictor without memory is each step's marginal of y; fit it on
    # one sample, score it on another.
    counts = np.stack([(fit == c).sum(axis=0) for c in range(n_classes)], axis=-1)
    marginal = (counts + 1e-9) / counts.sum(axis=-1, keepdims=True)
    nll = -np.log(np.take_along_axis(marginal[None], held[..., None], axis=-1))
    assert nll.mean() == pytest.approx(expected, rel=0.01)
    # A sequence model that copies reaches 0: the targets are all in the inputs.
    data = copy_task(jax.random.key(7), 4000, delay)
    np.testing.assert_array_equal(data["y"][:, -n_copy:], data["x"][:, :n_copy])


def test_mnist_rows_are_the_image_rows():
    rows = mnist_rows()
    flat = load("mnist")
    for split, ref in ((rows.train, flat.train), (rows.val, flat.val)):
        assert split["x"].shape == (len(ref["x"]), 28, 28)
        assert split["x"].dtype == np.float32
        np.testing.assert_array_equal(split["y"], ref["y"])
    assert rows.train["x"].shape == (55000, 28, 28)
    assert rows.test["x"].shape == (10000, 28, 28)
    i = 123
    for t in (0, 14, 27):
        np.testing.assert_array_equal(
            rows.train["x"][i, t], flat.train["x"][i, 28 * t : 28 * (t + 1)]
        )
    np.testing.assert_array_equal(rows.test["x"].reshape(-1, 784), flat.test["x"])
    assert rows.info["sequence_length"] == 28 and rows.info["n_features"] == 28
    assert rows.info["n_classes"] == 10 and rows.info["order"] == "rows"


def test_mnist_rows_passes_its_arguments_to_load(tmp_path):
    with pytest.raises(ValueError, match="MNIST file not found"):
        mnist_rows(mnist_dir=tmp_path)


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: adding_problem(0, 4, 10), TypeError, "`key`"),
        (lambda: adding_problem(jnp.zeros(3), 4, 10), TypeError, "`key`"),
        (lambda: adding_problem(jax.random.key(0), 0, 10), ValueError, "`n`"),
        (lambda: adding_problem(jax.random.key(0), 2.0, 10), TypeError, "`n`"),
        (lambda: adding_problem(jax.random.key(0), 4, 0), ValueError, "`length`"),
        (lambda: adding_problem(jax.random.key(0), 4, 1), ValueError, "`length`"),
        (lambda: copy_task(None, 4, 10), TypeError, "`key`"),
        (lambda: copy_task(jax.random.key(0), -1, 10), ValueError, "`n`"),
        (lambda: copy_task(jax.random.key(0), 4, 0), ValueError, "`delay`"),
        (
            lambda: copy_task(jax.random.key(0), 4, 5, n_symbols=0),
            ValueError,
            "`n_symbols`",
        ),
        (lambda: copy_task(jax.random.key(0), 4, 5, n_copy=0), ValueError, "`n_copy`"),
        (lambda: copy_task_baseline(0), ValueError, "`delay`"),
    ],
)
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()
