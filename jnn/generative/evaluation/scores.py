r"""MNIST-FID and classifier scores: the yardstick of every generative model.

* :func:`mnist_fid`: the Fréchet distance (:func:`.frechet.frechet_distance`)
  between the statistics of the 128 penultimate features of the cached MNIST
  classifier (:mod:`.mnist_classifier`) on the samples and on real images
  (Heusel et al. 2017's FID with a small MNIST network in place of
  Inception-v3; scores are comparable only with the same classifier, i.e. the
  same recipe fingerprint, and the same number of samples).
* :func:`real_floor`: the FID of ``n`` real training images against the test
  images, the best a generator can expect with ``n`` samples.
* :func:`sample_quality`: the classifier's accuracy on the samples when their
  intended labels are known (conditional models), its mean confidence
  (max softmax probability; as in the Inception Score, Salimans et al. 2016,
  sharp digits give confident predictions), the histogram of predicted
  classes and the mode coverage.
* :func:`mode_coverage`: the number of classes that receive at least
  ``min_share`` of the samples (default 2%, a fifth of the uniform share of
  10%): a generator that collapses onto a few digits covers few modes. The
  threshold sits above the classifier's own error: on real digits of three
  classes, a classifier with 96.6% test accuracy sent 1.1% of them to a
  fourth class.

Anchors (default classifier, 10,000 images each, against the test images):
real training images 1.84 (the floor), the same binarised (Bernoulli pixels,
like RBM samples) 11.1, blurred (Gaussian, sigma 1 pixel) 165, one digit only
879 (mode coverage 1), pixels shuffled 907, uniform noise 918
(``examples/generative/mnist_fid.py``).

Images are ``(n, 28, 28)``, ``(n, 784)`` or ``(n, 28, 28, 1)`` arrays with
values in ``[0, 1]`` (float, int or bool), at least 2 for FID. Fewer samples
than features (``n <= 128``) give a singular covariance: the Fréchet
distance stays defined (it needs no inverse), but a ``UserWarning`` says that
the value is biased upwards (FID's bias grows as ``1/n``; compare models at
the same ``n``, ideally 10,000).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jnn._checks import check_array, check_fraction, check_positive_int, is_concrete
from jnn.generative.evaluation.classifier_cache import load_mnist_classifier
from jnn.generative.evaluation.frechet import feature_statistics, frechet_distance
from jnn.generative.evaluation.mnist_classifier import (
    IMAGE_SHAPES,
    MnistClassifier,
    features_and_logits,
    mnist_images,
)

N_CLASSES = 10
#: A class is covered when it gets at least this share of the samples.
DEFAULT_MIN_SHARE = 0.02
REFERENCES = ("test", "train")


def check_images(images, name: str = "samples", *, min_samples: int = 1):
    """Validate MNIST-shaped images in ``[0, 1]``; return ``(n, 28, 28, 1)`` float32.

    Raises:
      TypeError: not a concrete numeric (or bool) array.
      ValueError: wrong shape, fewer than ``min_samples`` images, NaN/inf, or
        values outside ``[0, 1]``.
    """
    if not hasattr(images, "shape") or not hasattr(images, "dtype"):
        raise TypeError(
            f"`{name}` must be an array of images; got {type(images).__name__}."
        )
    if not is_concrete(images):
        raise TypeError(f"`{name}` must be concrete (call this outside jit/vmap).")
    shape = tuple(images.shape)
    if len(shape) < 2 or shape[1:] not in IMAGE_SHAPES:
        raise ValueError(
            f"`{name}` must be MNIST images of shape (n, 28, 28), (n, 784) or "
            f"(n, 28, 28, 1); got {shape}."
        )
    if shape[0] < min_samples:
        raise ValueError(
            f"`{name}` must hold at least {min_samples} images; got {shape[0]}."
        )
    check_array(images, name)
    x = np.asarray(images, np.float32)
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"`{name}` must hold pixel values in [0, 1]; got values in "
            f"[{low:g}, {high:g}] (clip with np.clip(x, 0, 1), or divide 8-bit "
            "pixels by 255)."
        )
    return x.reshape(-1, 28, 28, 1)


def _classifier(classifier: MnistClassifier | None) -> MnistClassifier:
    if classifier is None:
        return load_mnist_classifier()
    if not isinstance(classifier, MnistClassifier):
        raise TypeError(
            "`classifier` must be an MnistClassifier from load_mnist_classifier() "
            f"or None; got {type(classifier).__name__}."
        )
    return classifier


def mnist_feature_statistics(
    images, classifier: MnistClassifier | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(128,)`` and covariance ``(128, 128)`` of the classifier features.

    Args:
      images: at least 2 MNIST images in ``[0, 1]`` (module docstring).
      classifier: None for :func:`load_mnist_classifier`'s default.
    """
    x = check_images(images, "images", min_samples=2)
    return _statistics(x, _classifier(classifier))


def _statistics(x: np.ndarray, classifier: MnistClassifier):
    features, _ = features_and_logits(classifier, x)
    return feature_statistics(features)


def reference_statistics(
    reference: str = "test", classifier: MnistClassifier | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Feature statistics of the ``"test"`` or ``"train"`` images.

    All 10,000 test or 55,000 training images; computed once per classifier
    and process.
    """
    if reference not in REFERENCES:
        raise ValueError(
            f"`reference` must be one of {REFERENCES} or an array; got {reference!r}."
        )
    classifier = _classifier(classifier)
    key = (classifier.fingerprint, reference)
    if key not in _STATISTICS:
        _STATISTICS[key] = _statistics(mnist_images(reference)["x"], classifier)
    return _STATISTICS[key]


def mnist_fid(
    samples, reference="test", classifier: MnistClassifier | None = None
) -> float:
    r"""MNIST-FID of ``samples`` against real images (module docstring).

    .. math:: \mathrm{FID} = \lVert \mu_s - \mu_r \rVert^2 + \operatorname{tr}
              (C_s + C_r - 2 (C_s C_r)^{1/2})

    with ``(mu, C)`` the mean and covariance of the classifier's 128 features
    on the samples (``s``) and the reference (``r``).

    Args:
      samples: ``(n, 28, 28)``, ``(n, 784)`` or ``(n, 28, 28, 1)`` images in
        ``[0, 1]``, ``n >= 2`` (``n > 128`` to avoid the singular-covariance
        warning; 10,000 to compare with :func:`real_floor`'s default).
      reference: ``"test"`` (the 10,000 test images), ``"train"`` (the 55,000
        training images) or an array of real images of the same layout.
      classifier: None for the cached default classifier.

    Returns:
      The FID, a float ``>= 0`` (0 for identical feature statistics).

    Raises:
      TypeError, ValueError: invalid images or reference (see
        :func:`check_images`).
    """
    classifier = _classifier(classifier)
    x = check_images(samples, "samples", min_samples=2)
    mu_r, cov_r = _reference(reference, classifier)
    mu, cov = _statistics(x, classifier)
    return frechet_distance(mu, cov, mu_r, cov_r)


def _reference(reference, classifier: MnistClassifier):
    """Statistics of a named reference split or of an array of real images."""
    if isinstance(reference, str):
        return reference_statistics(reference, classifier)
    real = check_images(reference, "reference", min_samples=2)
    return _statistics(real, classifier)


def real_floor(
    n: int = 10_000, classifier: MnistClassifier | None = None, *, seed: int = 0
) -> float:
    """FID of ``n`` real training images against the 10,000 test images.

    The floor of :func:`mnist_fid` with ``reference="test"`` at sample size
    ``n``: real digits of another split score this much (finite-sample noise
    plus the train/test difference), so a generator near it is as good as the
    yardstick can tell. The ``n`` images are a seeded random subset of the
    55,000 training images (``n <= 55,000``); cached per process.
    """
    check_positive_int(n, "n")
    train = mnist_images("train")["x"]
    if n < 2 or n > len(train):
        raise ValueError(f"`n` must be in [2, {len(train)}]; got {n}.")
    classifier = _classifier(classifier)
    key = (classifier.fingerprint, "floor", n, seed)
    if key not in _STATISTICS:
        rows = np.sort(np.random.default_rng(seed).permutation(len(train))[:n])
        _STATISTICS[key] = mnist_fid(train[rows], "test", classifier)
    return _STATISTICS[key]


def mode_coverage(
    predicted, n_classes: int = N_CLASSES, min_share: float = DEFAULT_MIN_SHARE
) -> int:
    """Number of classes predicted for at least ``min_share`` of the samples.

    Args:
      predicted: ``(n,)`` integer class predictions in ``[0, n_classes)``.
      n_classes: number of classes (10 digits).
      min_share: share of the ``n`` samples a class needs to count as
        covered, in ``(0, 1)`` (default 2%, a fifth of the uniform share).

    Returns:
      An int in ``[0, n_classes]``.
    """
    check_positive_int(n_classes, "n_classes")
    check_fraction(min_share, "min_share")
    if min_share == 0:
        raise ValueError("`min_share` must be > 0.")
    check_array(predicted, "predicted", ndim=1, kind="i")
    predicted = np.asarray(predicted)
    if predicted.min() < 0 or predicted.max() >= n_classes:
        raise ValueError(
            f"`predicted` must hold classes in [0, {n_classes}); got "
            f"[{predicted.min()}, {predicted.max()}]."
        )
    counts = np.bincount(predicted, minlength=n_classes)
    return int(np.sum(counts >= min_share * len(predicted)))


class SampleQuality(NamedTuple):
    """What the classifier says about a set of samples.

    Attributes:
      accuracy: share of samples classified as their intended label (None
        when no labels were given).
      confidence: mean max-softmax probability, in ``[0.1, 1]``.
      class_histogram: ``(10,)`` int counts of the predicted classes.
      mode_coverage: classes with at least ``min_share`` of the samples.
      n_samples: number of samples.
    """

    accuracy: float | None
    confidence: float
    class_histogram: np.ndarray
    mode_coverage: int
    n_samples: int


def sample_quality(
    samples,
    labels=None,
    classifier: MnistClassifier | None = None,
    *,
    min_share: float = DEFAULT_MIN_SHARE,
) -> SampleQuality:
    """Classifier accuracy, confidence, class histogram and mode coverage.

    Args:
      samples: ``(n, 28, 28)``, ``(n, 784)`` or ``(n, 28, 28, 1)`` images in
        ``[0, 1]``, ``n >= 1``.
      labels: optional ``(n,)`` intended classes in ``[0, 10)`` (a
        conditional generator's conditioning labels).
      classifier: None for the cached default classifier.
      min_share: share of samples a class needs to count as covered.

    Returns:
      A :class:`SampleQuality`.
    """
    x = check_images(samples, "samples")
    _check_labels(labels, len(x))
    check_fraction(min_share, "min_share")
    _, logits = features_and_logits(_classifier(classifier), x)
    return _quality(logits, labels, min_share)


def _check_labels(labels, n: int) -> None:
    if labels is None:
        return
    check_array(labels, "labels", ndim=1, kind="i")
    if len(labels) != n:
        raise ValueError(
            f"`labels` must hold one label per sample ({n}); got {len(labels)}."
        )
    low, high = int(np.min(labels)), int(np.max(labels))
    if low < 0 or high >= N_CLASSES:
        raise ValueError(
            f"`labels` must hold digit classes in [0, {N_CLASSES}); got "
            f"[{low}, {high}]."
        )


def _quality(logits: np.ndarray, labels, min_share: float) -> SampleQuality:
    logits = logits.astype(np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    predicted = np.argmax(logits, axis=1)
    accuracy = None
    if labels is not None:
        accuracy = float(np.mean(predicted == np.asarray(labels)))
    return SampleQuality(
        accuracy,
        float(probabilities.max(axis=1).mean()),
        np.bincount(predicted, minlength=N_CLASSES),
        mode_coverage(predicted, N_CLASSES, min_share),
        len(logits),
    )


class MnistScores(NamedTuple):
    """FID and classifier scores of one set of samples (:func:`mnist_scores`).

    Attributes:
      fid: :func:`mnist_fid` against the reference.
      quality: :func:`sample_quality`.
    """

    fid: float
    quality: SampleQuality


def mnist_scores(
    samples,
    labels=None,
    reference="test",
    classifier: MnistClassifier | None = None,
    *,
    min_share: float = DEFAULT_MIN_SHARE,
) -> MnistScores:
    """:func:`mnist_fid` and :func:`sample_quality` from one forward pass.

    Arguments as in those two functions (``n >= 2`` samples).
    """
    classifier = _classifier(classifier)
    x = check_images(samples, "samples", min_samples=2)
    _check_labels(labels, len(x))
    check_fraction(min_share, "min_share")
    mu_r, cov_r = _reference(reference, classifier)
    features, logits = features_and_logits(classifier, x)
    mu, cov = feature_statistics(features)
    fid = frechet_distance(mu, cov, mu_r, cov_r)
    return MnistScores(fid, _quality(logits, labels, min_share))


#: Feature statistics and floors computed in this process, by fingerprint.
_STATISTICS: dict[tuple, object] = {}
