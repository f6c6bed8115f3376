"""Specht's PNN (S5): Parzen references, sigma selection, digits, bad input."""

import jax
import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.neighbors import KernelDensity

from jnn.static import (
    pnn,
    pnn_fit,
    pnn_predict,
    pnn_predict_proba,
    pnn_select_sigma,
)
from jnn.train import fit
from tests.conftest import load


def numpy_parzen_posterior(x_train, y_train, x, sigma, priors):
    """Closed form: P(k) (1/N_k) sum_{i in k} N(x; x_i, sigma^2 I), normalised."""
    x_train, x = x_train.astype(np.float64), x.astype(np.float64)
    d = x.shape[1]
    sq = ((x[:, None, :] - x_train[None, :, :]) ** 2).sum(-1)
    log_window = -sq / (2 * sigma**2) - d / 2 * np.log(2 * np.pi * sigma**2)
    log_density = np.stack(
        [
            logsumexp(log_window[:, y_train == k], axis=1)
            - np.log(np.sum(y_train == k))
            for k in range(len(priors))
        ],
        axis=1,
    )
    joint = log_density + np.log(priors)[None, :]
    return np.exp(joint - logsumexp(joint, axis=1, keepdims=True))


@pytest.mark.parametrize("sigma", [0.3, 1.0])
@pytest.mark.parametrize("priors", ["empirical", "uniform", "array"])
def test_posterior_matches_closed_form_parzen(sigma, priors):
    data = load("wine")
    x_train, y_train = data.train["x"][::2], data.train["y"][::2]
    given = {
        "empirical": np.bincount(y_train, minlength=3) / len(y_train),
        "uniform": np.full(3, 1 / 3),
        "array": np.array([0.5, 0.3, 0.2]),
    }[priors]
    state = pnn_fit(
        x_train,
        y_train,
        sigma=sigma,
        priors=given.astype(np.float32) if priors == "array" else priors,
    )
    expected = numpy_parzen_posterior(x_train, y_train, data.val["x"], sigma, given)
    np.testing.assert_allclose(
        pnn_predict_proba(state, data.val["x"]), expected, atol=1e-5
    )


def test_class_densities_match_scikit_learn_kernel_density():
    data = load("iris")
    x, y, query = data.train["x"], data.train["y"], data.test["x"]
    sigma = 0.5
    log_density = np.stack(
        [
            KernelDensity(bandwidth=sigma).fit(x[y == k]).score_samples(query)
            for k in range(3)
        ],
        axis=1,
    )
    priors = np.bincount(y) / len(y)
    joint = log_density + np.log(priors)[None, :]
    expected = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    state = pnn_fit(x, y, sigma=sigma)
    np.testing.assert_allclose(pnn_predict_proba(state, query), expected, atol=1e-5)


def test_far_queries_and_tiny_sigma_stay_finite():
    data = load("iris")
    x, y = data.train["x"], data.train["y"]
    query = np.concatenate([data.test["x"][:5], data.test["x"][:5] + 50.0])
    state = pnn_fit(x, y, sigma=0.05)  # exp(-d^2 / 2 sigma^2) underflows naively
    probs = np.asarray(pnn_predict_proba(state, query))
    expected = numpy_parzen_posterior(x, y, query, 0.05, np.bincount(y) / len(y))
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_chunked_prediction_equals_one_block():
    data = load("wine")
    state = pnn_fit(data.train["x"], data.train["y"], sigma=0.8)
    whole = pnn_predict_proba(state, data.test["x"])
    chunked = pnn_predict_proba(state, data.test["x"], chunk_size=7)  # 36 = 5*7 + 1
    # two programs, two summation orders: up to 2e-6 apart in float32 (the
    # kernel exponents reach ~50, which scales a distance's rounding); a
    # misplaced chunk row would be off by O(1)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        pnn_predict(state, data.test["x"], chunk_size=7), np.argmax(whole, axis=1)
    )


def test_select_sigma_equals_one_model_per_sigma_and_learner_agrees():
    data = load("wine")
    sigmas = [0.2, 0.8, 1.5, 4.0]
    selection = pnn_select_sigma(data.train, data.val, sigmas, chunk_size=10)
    for sigma, accuracy, log_loss in zip(
        sigmas, selection.accuracy, selection.log_loss, strict=True
    ):
        result = fit(
            pnn(sigma, 3), data.train, key=jax.random.key(0), epochs=1, val=data.val
        )
        assert result.history["patterns"][0] == len(data.train["y"])
        assert result.history["val_accuracy"][0] == pytest.approx(accuracy)
        assert result.history["val_loss"][0] == pytest.approx(log_loss, rel=1e-5)
    best = np.lexsort((selection.log_loss, -selection.accuracy))[0]
    assert selection.sigma == sigmas[best]
    assert selection.accuracy.max() > selection.accuracy.min()


def test_digits_accuracy_with_sigma_chosen_on_validation():
    # One window width for all 64 inputs assumes they share a scale: the raw
    # 0-16 grey levels do, while z-scores blow up the near-constant border
    # pixels (standardised digits reach 0.972 with sigma chosen on val).
    data = load("digits", standardize=False)
    selection = pnn_select_sigma(data.train, data.val, np.geomspace(0.5, 30, 31))
    state = pnn_fit(data.train["x"], data.train["y"], sigma=selection.sigma)
    accuracy = np.mean(np.asarray(pnn_predict(state, data.test["x"])) == data.test["y"])
    assert accuracy >= 0.98, (selection.sigma, accuracy)


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_sigma(sigma):
    data = load("iris").train
    with pytest.raises(ValueError, match="sigma"):
        pnn(sigma, 3)
    with pytest.raises(ValueError, match="sigma"):
        pnn_fit(data["x"], data["y"], sigma=sigma)
    with pytest.raises(ValueError, match="sigmas"):
        pnn_select_sigma(data, data, [1.0, sigma])


def test_bad_input():
    data = load("iris")
    with pytest.raises(ValueError, match="priors"):
        pnn(1.0, 3, priors=np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="priors"):
        pnn(1.0, 3, priors="flat")
    with pytest.raises(ValueError, match=r"`n_classes` \(2\) must exceed every label"):
        pnn_fit(data.train["x"], data.train["y"], sigma=1.0, n_classes=2)
    with pytest.raises(ValueError, match="`y` must hold class labels >= 0"):
        pnn_fit(data.train["x"], data.train["y"] - 1, sigma=1.0)
    state = pnn_fit(data.train["x"], data.train["y"], sigma=1.0)
    with pytest.raises(ValueError, match="features"):
        pnn_predict_proba(state, data.train["x"][:, :2])
    with pytest.raises(TypeError, match="`x`"):
        pnn_predict(state, data.train["y"][:, None])


def test_bad_sigma_selection_input():
    data = load("iris")
    with pytest.raises(TypeError, match="`train` must be a dict"):
        pnn_select_sigma({"x": data.train["x"]}, data.val, [1.0])
    with pytest.raises(TypeError, match="`val` must be a dict"):
        pnn_select_sigma(data.train, data.val["x"], [1.0])
    with pytest.raises(ValueError, match=r"`val\['x'\]` must have 4 features"):
        pnn_select_sigma(data.train, {**data.val, "x": data.val["x"][:, :3]}, [1.0])
    with pytest.raises(ValueError, match=r"`val\['y'\]` must have"):
        pnn_select_sigma(data.train, {**data.val, "y": data.val["y"][:-1]}, [1.0])
    with pytest.raises(TypeError, match="`sigmas`"):
        pnn_select_sigma(data.train, data.val, ["wide"])


def test_class_without_patterns_is_refused_unless_priors_are_given():
    data = load("iris")
    x, y, query = data.train["x"], data.train["y"], data.test["x"]
    empty = r"no example of class \[3\] of n_classes=4"
    for priors in ("empirical", "uniform"):
        with pytest.raises(ValueError, match=empty):
            pnn_fit(x, y, sigma=0.5, n_classes=4, priors=priors)
    with pytest.raises(ValueError, match=empty):
        pnn_select_sigma(data.train, data.val, [0.5], n_classes=4)
    with pytest.raises(ValueError, match=r"`train\['y'\]` has no example of class"):
        fit(pnn(0.5, 4), data.train, key=jax.random.key(0), epochs=1)
    # Given priors: the class without patterns has Parzen density 0, so
    # posterior 0; the others follow Bayes' rule over the classes present.
    priors = np.array([0.3, 0.3, 0.2, 0.2], np.float32)
    state = pnn_fit(x, y, sigma=0.5, n_classes=4, priors=priors)
    probs = np.asarray(pnn_predict_proba(state, query))
    expected = numpy_parzen_posterior(x, y, query, 0.5, priors[:3] / priors[:3].sum())
    assert np.all(probs[:, 3] == 0.0)
    np.testing.assert_allclose(probs[:, :3], expected, atol=1e-5)
    np.testing.assert_array_equal(pnn_predict(state, query), expected.argmax(1))


def test_prediction_and_sigma_selection_compile_once(count_traces):
    data = load("wine")
    sigmas, x, y = [0.2, 0.8, 1.5, 4.0], data.train["x"], data.train["y"]
    state = pnn_fit(x, y, sigma=0.8)
    # The shapes and static settings of the tests above: compiled there.
    first = pnn_predict_proba(state, data.test["x"])
    pnn_predict(state, data.test["x"])
    pnn_select_sigma(data.train, data.val, sigmas, chunk_size=10)
    other = pnn_fit(x + 0.5, y, sigma=1.3)
    with count_traces() as traces:
        second = pnn_predict_proba(other, data.test["x"])
        pnn_predict(other, 2 * data.test["x"])
        moved = {"x": x + 0.5, "y": y}
        selection = pnn_select_sigma(moved, data.val, sigmas[::-1], chunk_size=10)
    assert traces() == 0
    assert not np.allclose(first, second) and selection.sigmas[0] == 4.0
