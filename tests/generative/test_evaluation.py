"""Tests of jnn.generative.evaluation: Fréchet distance, MNIST classifier, scores."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from jnn.data import load
from jnn.generative.demos.compare import DEMO_CLASSIFIER
from jnn.generative.evaluation import (
    DEFAULT_RECIPE,
    ClassifierRecipe,
    PatchConv,
    bundled_fingerprints,
    feature_statistics,
    frechet_distance,
    load_mnist_classifier,
    mnist_fid,
    mnist_scores,
    mode_coverage,
    recipe_fingerprint,
    sample_quality,
)

#: Small enough to train in a few seconds on one core (5,000 images, 3 epochs).
TINY = ClassifierRecipe(
    channels=(16, 32), features=64, epochs=3, batch_size=32, n_train=5000
)


def _covariance(rng, d, rank=None):
    a = rng.normal(size=(d, rank or d))
    return a @ a.T / d + (0 if rank else 0.1 * np.eye(d))


def _scipy_frechet(mu1, cov1, mu2, cov2):
    """The usual FID formula, with SciPy's general matrix square root."""
    root = scipy.linalg.sqrtm(cov1 @ cov2).real
    diff = mu1 - mu2
    return diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(root)


@pytest.mark.parametrize("d", [2, 8, 40])
def test_frechet_distance_equals_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    cov1, cov2 = _covariance(rng, d), _covariance(rng, d)
    expected = _scipy_frechet(mu1, cov1, mu2, cov2)
    assert frechet_distance(mu1, cov1, mu2, cov2) == pytest.approx(expected, rel=1e-9)
    # symmetric in its two arguments
    assert frechet_distance(mu2, cov2, mu1, cov1) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(1)
    d = 16
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    shift = float(np.sum((mu1 - mu2) ** 2))
    for cov in (_covariance(rng, d), _covariance(rng, d, rank=3)):  # also singular
        assert frechet_distance(mu1, cov, mu2, cov) == pytest.approx(shift, rel=1e-9)
    # commuting (diagonal) covariances: sum (sqrt(a) - sqrt(b))^2
    a, b = rng.uniform(0, 2, size=d), rng.uniform(0, 2, size=d)
    closed = shift + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    value = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert value == pytest.approx(closed, rel=1e-9)


def test_feature_statistics_and_distance_to_itself():
    x = np.random.default_rng(2).normal(size=(500, 16)).astype(np.float32)
    mu, cov = feature_statistics(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mu, x64.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x64, rowvar=False), rtol=1e-9, atol=1e-12)
    assert frechet_distance(mu, cov, mu, cov) < 1e-9 * np.trace(cov)
    # FID grows with a mean shift as ||delta||^2 (the covariance is unchanged)
    for step in (0.5, 1.0, 2.0):
        mu_s, cov_s = feature_statistics(x + step)
        value = frechet_distance(mu, cov, mu_s, cov_s)
        assert value == pytest.approx(16 * step**2, rel=1e-6)


def test_singular_covariance_warns():
    x = np.random.default_rng(3).normal(size=(10, 16))
    with pytest.warns(UserWarning, match="singular"):
        mu, cov = feature_statistics(x)
    assert np.isfinite(frechet_distance(mu, cov, np.zeros(16), np.eye(16)))


def test_frechet_bad_input():
    mu, cov = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="cov1"):
        frechet_distance(mu, np.eye(4), mu, cov)
    with pytest.raises(ValueError, match="symmetric"):
        frechet_distance(mu, np.triu(np.ones((3, 3))), mu, cov)
    with pytest.raises(ValueError, match="same dimension"):
        frechet_distance(mu, cov, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.array([0.0, np.nan, 0.0]), cov, mu, cov)
    with pytest.raises(ValueError, match="at least 2"):
        feature_statistics(np.ones((1, 3)))
    with pytest.raises(ValueError, match="rank 2"):
        feature_statistics(np.ones(3))


@pytest.mark.parametrize("path", ["patches", "xla"])
def test_patch_convolution_equals_flax_conv(path):
    x = jax.random.uniform(jax.random.key(0), (3, 14, 14, 4))
    conv = PatchConv(6, size=5, stride=2, path=path)
    params = conv.init(jax.random.key(1), x)
    params = jax.tree.map(lambda p: p + 0.1, params)  # a non-zero bias too
    reference = nn.Conv(6, (5, 5), strides=2, padding=2)
    np.testing.assert_allclose(
        conv.apply(params, x), reference.apply(params, x), rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="path"):
        PatchConv(6, path="fft").init(jax.random.key(1), x)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("jnn-cache")


@pytest.fixture(scope="module")
def classifier(cache):
    return load_mnist_classifier(cache, recipe=TINY)


@pytest.fixture(scope="module")
def mnist_test():
    ds = load("mnist", standardize=False, flatten=True)
    return ds.test["x"][:2000], ds.test["y"][:2000]


def test_classifier_learns_and_is_cached(classifier, cache, mnist_test, tmp_path):
    assert not classifier.from_cache
    # seeds 0-2: 0.964-0.969 on all 10,000 test images, 0.956-0.966 on these
    # 2,000, mean confidence 0.960-0.968
    assert classifier.test_accuracy > 0.96
    x, y = mnist_test
    quality = sample_quality(x, y, classifier)
    assert quality.accuracy > 0.95
    assert quality.confidence > 0.95
    assert quality.mode_coverage == 10
    # the file is reused: the same parameters, no training
    stored = cache / f"mnist_classifier-{classifier.fingerprint}.npz"
    assert stored.is_file()
    again = load_mnist_classifier(cache, recipe=TINY)
    assert again.from_cache
    copy = tmp_path / stored.name  # another folder: read from the file itself
    copy.write_bytes(stored.read_bytes())
    loaded = load_mnist_classifier(tmp_path, recipe=TINY)
    assert loaded.from_cache and loaded.test_accuracy == classifier.test_accuracy
    jax.tree.map(np.testing.assert_array_equal, loaded.params, classifier.params)
    # another recipe is another file
    assert recipe_fingerprint(TINY._replace(epochs=4)) != classifier.fingerprint


def test_mnist_fid(classifier, mnist_test):
    x, y = mnist_test
    assert mnist_fid(x[:1000], x[:1000], classifier) < 1e-6
    real = mnist_fid(x[:1000], x[1000:], classifier)
    noise = np.random.default_rng(0).uniform(size=(1000, 784)).astype(np.float32)
    # square layout, bool pixels: accepted like (n, 784) floats
    binary = x[:1000].reshape(-1, 28, 28) > 0.5
    assert (
        real
        < mnist_fid(binary, x[1000:], classifier)
        < mnist_fid(noise, x[1000:], classifier)
    )
    # one forward pass for both scores, the same numbers
    scores = mnist_scores(x[:1000], y[:1000], x[1000:], classifier)
    assert scores.fid == pytest.approx(real, rel=1e-9)
    quality = sample_quality(x[:1000], y[:1000], classifier)
    assert scores.quality.accuracy == quality.accuracy
    np.testing.assert_array_equal(
        scores.quality.class_histogram, quality.class_histogram
    )


def test_mode_coverage(classifier, mnist_test):
    x, y = mnist_test
    three = np.isin(y, (0, 1, 2))
    quality = sample_quality(x[three], classifier=classifier)
    assert quality.mode_coverage == 3
    assert quality.class_histogram.sum() == three.sum()
    predicted = np.array([0] * 50 + [1] * 45 + [2] * 5)
    assert mode_coverage(predicted) == 3
    assert mode_coverage(predicted, min_share=0.05) == 3
    assert mode_coverage(predicted, min_share=0.06) == 2


def test_scores_bad_input(classifier, mnist_test):
    x, y = mnist_test
    bad = {
        "shape": np.zeros((10, 27, 27)),
        "[0, 1]": x[:10] * 255,
        "NaN": np.full((10, 784), np.nan),
        "at least 2": x[:1],
    }
    for match, samples in bad.items():
        with pytest.raises(ValueError, match=match):
            mnist_fid(samples, "test", classifier)
    with pytest.raises(ValueError, match="reference"):
        mnist_fid(x[:10], "validation", classifier)
    with pytest.raises(TypeError, match="classifier"):
        mnist_fid(x[:10], "test", classifier="mine")
    with pytest.raises(ValueError, match="one label per sample"):
        sample_quality(x[:10], y[:9], classifier)
    with pytest.raises(ValueError, match="labels"):
        sample_quality(x[:10], y[:10] + 10, classifier)
    with pytest.raises(ValueError, match="classes"):
        mode_coverage(np.array([0, 11]))
    with pytest.raises(TypeError, match="recipe"):
        load_mnist_classifier(recipe={"epochs": 1})
    with pytest.raises(TypeError, match="cache_dir"):
        load_mnist_classifier(cache_dir=3, recipe=TINY)
    with pytest.raises(TypeError, match="bundled"):
        load_mnist_classifier(recipe=TINY, bundled="yes")
    with pytest.raises(TypeError, match="concrete"):
        jax.jit(lambda s: jnp.float32(mnist_fid(s, "test", classifier)))(x[:10])


def _no_training(recipe, progress=False):
    raise AssertionError("the bundled classifier should have been read")


@pytest.mark.parametrize(
    "recipe", [DEFAULT_RECIPE, DEMO_CLASSIFIER], ids=["default", "demo"]
)
def test_bundled_classifier_is_read_without_training_and_scores_as_recorded(
    recipe, tmp_path, monkeypatch
):
    import jnn.generative.evaluation.classifier_cache as cache_module

    monkeypatch.setattr(cache_module, "train_mnist_classifier", _no_training)
    classifier = load_mnist_classifier(tmp_path, recipe=recipe)
    assert classifier.from_cache and classifier.recipe == recipe
    assert classifier.fingerprint in bundled_fingerprints()
    assert not any(tmp_path.iterdir())  # read in place, nothing written
    # the recorded test accuracy is what the shipped network scores
    test = load("mnist", standardize=False, flatten=True).test
    quality = sample_quality(test["x"], test["y"], classifier)
    assert quality.accuracy == pytest.approx(classifier.test_accuracy, abs=1e-4)
    assert quality.accuracy > (0.99 if recipe == DEFAULT_RECIPE else 0.96)


def test_bundled_false_trains_and_caches_its_own(tmp_path, monkeypatch):
    import jnn.generative.evaluation.classifier_cache as cache_module

    shipped = load_mnist_classifier(tmp_path / "unused", recipe=DEMO_CLASSIFIER)
    calls = []

    def train(recipe, progress=False):
        calls.append(recipe)
        return shipped._replace(from_cache=False)

    monkeypatch.setattr(cache_module, "train_mnist_classifier", train)
    own = load_mnist_classifier(tmp_path, recipe=DEMO_CLASSIFIER, bundled=False)
    assert calls == [DEMO_CLASSIFIER] and not own.from_cache
    assert (tmp_path / f"mnist_classifier-{own.fingerprint}.npz").is_file()
    # the user's cache file wins over the bundled one afterwards
    again = load_mnist_classifier(tmp_path, recipe=DEMO_CLASSIFIER)
    assert again.from_cache and calls == [DEMO_CLASSIFIER]
