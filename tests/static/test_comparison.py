"""S0 model comparison: Occam's choice, No Free Lunch flag, the MLP adapter."""

import jax
import numpy as np
import pytest

from jnn.static import Fitted, compare, mlp_model
from tests.conftest import load


def oracle(wrong_val: int, wrong_test: int, n_params: int):
    """A fake model: predicts the labels with a fixed number of mistakes."""

    def factory(dataset):
        def fit(train, val, key):
            xs, ys = [], []
            for split, wrong in (
                (dataset.train, 0),
                (dataset.val, wrong_val),
                (dataset.test, wrong_test),
            ):
                y = split["y"].copy()
                y[:wrong] = (y[:wrong] + 1) % dataset.info["n_classes"]
                xs.append(np.asarray(split["x"]))
                ys.append(y)
            # compare() predicts the three splits in one call, in this order.
            lookup = {np.concatenate(xs).tobytes(): np.concatenate(ys)}
            return Fitted(lambda x: lookup[np.asarray(x).tobytes()], n_params)

        return fit

    return factory


def test_occam_picks_the_simplest_model_within_tolerance():
    data = {"iris": load("iris")}
    models = {"big": oracle(0, 0, 1000), "small": oracle(1, 2, 10)}
    one_error = 1 / len(load("iris").val["y"])
    loose = compare(models, data, key=jax.random.key(0), tolerance=1.5 * one_error)
    tight = compare(models, data, key=jax.random.key(0), tolerance=0.5 * one_error)
    assert loose.occam["iris"] == "small" and tight.occam["iris"] == "big"
    row = next(r for r in loose.rows if r.model == "small")
    assert row.val_error == pytest.approx(one_error) and row.train_error == 0.0
    assert row.test_error == pytest.approx(2 / len(load("iris").test["y"]))


def test_no_free_lunch_flag():
    data = {"iris": load("iris"), "wine": load("wine")}
    same = compare(
        {"a": oracle(0, 0, 5), "b": oracle(0, 3, 5)}, data, key=jax.random.key(0)
    )
    assert not same.no_free_lunch and set(same.best.values()) == {"a"}

    def switch(dataset):
        wrong = 0 if dataset.info["name"] == "iris" else 3
        return oracle(0, wrong, 5)(dataset)

    mixed = compare({"a": oracle(0, 1, 5), "b": switch}, data, key=jax.random.key(0))
    assert mixed.no_free_lunch and mixed.best == {"iris": "b", "wine": "a"}
    assert "| wine | a" in mixed.markdown()


def test_mlp_adapter_learns_and_counts_parameters():
    data = {"wine": load("wine")}
    result = compare({"mlp": mlp_model((8,), epochs=60)}, data, key=jax.random.key(0))
    (row,) = result.rows
    assert row.n_params == 13 * 8 + 8 + 8 * 3 + 3
    assert row.test_error <= 0.1  # chance is ~0.6


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        compare({}, {"iris": load("iris")}, key=jax.random.key(0))
    with pytest.raises(ValueError, match="`tolerance`"):
        compare(
            {"a": oracle(0, 0, 1)},
            {"iris": load("iris")},
            key=jax.random.key(0),
            tolerance=2.0,
        )
    with pytest.raises(TypeError, match="jnn.data.Dataset"):
        compare({"a": oracle(0, 0, 1)}, {"iris": {"x": 1}}, key=jax.random.key(0))


def test_rbf_pnn_prbf_adapters_learn_wine():
    from jnn.static import pnn_model, prbf_model, rbf_model

    data = {"wine": load("wine")}
    models = {"rbf": rbf_model(), "pnn": pnn_model(), "prbf": prbf_model()}
    result = compare(models, data, key=jax.random.key(0))
    n_train, d = load("wine").train["x"].shape
    for row in result.rows:
        assert row.test_error <= 0.1, row  # chance is ~0.6
    pnn_row = next(r for r in result.rows if r.model == "pnn")
    assert pnn_row.n_params == n_train * d  # a PNN stores its training set
