"""Data sets: fixed splits, train-only standardisation, MNIST integrity, graphs."""

import gzip

import jax
import numpy as np
import pytest
import sklearn.datasets

import jnn
from tests.conftest import load

TABULAR = {
    "digits": (1797, 64),
    "iris": (150, 4),
    "wine": (178, 13),
    "breast_cancer": (569, 30),
    "diabetes": (442, 10),
}


@pytest.mark.parametrize("name", sorted(TABULAR))
def test_tabular_split_is_a_partition_of_the_original_rows(name):
    ds = load(name)
    n, d = TABULAR[name]
    sizes = [len(s["y"]) for s in (ds.train, ds.val, ds.test)]
    assert sum(sizes) == n and ds.train["x"].shape[1] == d
    assert abs(sizes[2] - 0.2 * n) <= 10 and abs(sizes[1] - 0.15 * n) <= 10
    # Undo the standardisation: every split's rows are original rows, each
    # original row appears exactly once (checked against scikit-learn directly).
    raw = getattr(sklearn.datasets, f"load_{name}")().data
    stats = ds.info["x_stats"]
    rows = np.concatenate(
        [s["x"] * stats["scale"] + stats["mean"] for s in (ds.train, ds.val, ds.test)]
    )
    order = np.lexsort(rows.T[::-1])
    np.testing.assert_allclose(
        rows[order], raw[np.lexsort(raw.T[::-1])], rtol=1e-4, atol=1e-3
    )


@pytest.mark.parametrize("name", sorted(TABULAR))
def test_standardised_on_train_only(name):
    ds = load(name)
    x = ds.train["x"]
    varying = x.std(axis=0) > 0
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=0)[varying], 1.0, atol=1e-4)
    # The val/test statistics are not forced to 0/1: fitted on train only.
    assert not np.allclose(ds.test["x"].mean(axis=0), 0.0, atol=1e-3)
    assert ds.train["x"].dtype == np.float32


def test_classification_splits_are_stratified_and_seeded():
    ds = load("iris")
    for split in (ds.train, ds.val, ds.test):
        counts = np.bincount(split["y"])
        assert counts.max() - counts.min() == 0  # 50 per class -> equal shares
    assert ds.train["y"].dtype == np.int32 and ds.info["n_classes"] == 3
    again = jnn.data.load("iris", seed=0)
    other = jnn.data.load("iris", seed=1)
    np.testing.assert_array_equal(again.test["x"], ds.test["x"])
    assert not np.array_equal(other.test["x"], ds.test["x"])


def test_regression_targets_are_standardised_and_invertible():
    ds = load("diabetes")
    assert ds.info["task"] == "regression" and ds.train["y"].dtype == np.float32
    np.testing.assert_allclose(ds.train["y"].mean(), 0.0, atol=1e-5)
    stats = ds.info["y_stats"]
    y = np.concatenate([s["y"] for s in (ds.train, ds.val, ds.test)])
    raw = sklearn.datasets.load_diabetes().target
    np.testing.assert_allclose(
        np.sort(y * stats["scale"] + stats["mean"]), np.sort(raw), rtol=1e-5
    )


def test_mnist_matches_published_counts_and_statistics():
    ds = load("mnist", standardize=False)
    assert ds.train["x"].shape == (55000, 784) and ds.test["x"].shape == (10000, 784)
    train_all = np.concatenate([ds.train["y"], ds.val["y"]])
    np.testing.assert_array_equal(
        np.bincount(train_all),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    )
    np.testing.assert_array_equal(
        np.bincount(ds.test["y"]),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    )
    pixels = np.concatenate([ds.train["x"], ds.val["x"]])
    assert abs(pixels.mean() - 0.130660) < 1e-5 and abs(pixels.std() - 0.308108) < 1e-5
    images = jnn.data.load("mnist", flatten=False, standardize=False)
    assert images.test["x"].shape == (10000, 28, 28, 1)


def test_read_idx_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x00\x00\x0c\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        jnn.data.read_idx(bad)
    with pytest.raises(ValueError, match="MNIST file not found"):
        jnn.data.load("mnist", mnist_dir=tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "cifar10"}, ValueError, "`name` must be one of"),
        ({"name": "iris", "seed": -1}, ValueError, "`seed`"),
        ({"name": "iris", "val_fraction": 1.5}, ValueError, "`val_fraction`"),
        ({"name": "iris", "test_fraction": "0.2"}, TypeError, "`test_fraction`"),
        (
            {"name": "iris", "val_fraction": 0.5, "test_fraction": 0.45},
            ValueError,
            "at least 10%",
        ),
        ({"name": "mnist", "val_size": 60000}, ValueError, "`val_size`"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        jnn.data.load(**kwargs)


def test_karate_club_graph():
    data = jnn.data.load_karate_club()
    g = data.graph
    assert int(g.n_node[0]) == 34 and int(g.n_edge[0]) == 156
    edges = set(zip(g.senders.tolist(), g.receivers.tolist(), strict=True))
    assert all((r, s) in edges for s, r in edges)  # both directions stored
    assert len({frozenset(e) for e in edges}) == 78
    assert data.labels.sum() == 17 and data.labels[0] == 0 and data.labels[33] == 1
    assert data.train_mask.sum() == 2 and not (data.train_mask & data.test_mask).any()


def test_epoch_indices_are_a_shuffled_partial_permutation():
    rows = jnn.data.epoch_indices(jax.random.key(0), 103, 10)
    assert rows.shape == (10, 10) and rows.dtype == np.int32
    flat = np.asarray(rows).ravel()
    assert len(set(flat.tolist())) == 100 and flat.max() < 103
    assert not np.array_equal(flat, np.sort(flat))
    other = jnn.data.epoch_indices(jax.random.key(1), 103, 10)
    assert not np.array_equal(rows, other)


def test_batches_iterates_one_epoch():
    data = {
        "x": np.arange(20.0, dtype=np.float32)[:, None],
        "y": np.arange(20, dtype=np.int32),
    }
    seen = [b for b in jnn.data.batches(jax.random.key(0), data, 6)]
    assert len(seen) == 3 and all(b["x"].shape == (6, 1) for b in seen)
    for b in seen:
        np.testing.assert_array_equal(b["x"][:, 0], b["y"])  # rows stay aligned
    with pytest.raises(ValueError, match="must not exceed"):
        next(jnn.data.batches(jax.random.key(0), data, 21))
