"""The yardstick shared by every generative model: MNIST-FID and classifier scores.

FID (Heusel et al. 2017) with the features of a small MNIST CNN trained once
through :mod:`jnn.train` and shipped with jnn (or, for another recipe, cached
on disk: ``$JNN_CACHE`` or ``~/.cache/jnn``, keyed by a fingerprint of the
training recipe), the
classifier's accuracy and confidence on samples, and mode coverage over the
10 digit classes. The real-vs-real FID (training images against test images)
is the floor.

Public API:
  frechet_distance(mu1, cov1, mu2, cov2), feature_statistics(features),
  trace_sqrt_product(cov1, cov2)          the Fréchet distance between two
                                          Gaussians (float64, symmetric eigh)
  MnistCNN, PatchConv, ClassifierRecipe, DEFAULT_RECIPE, MnistClassifier,
  load_mnist_classifier(cache_dir, recipe), train_mnist_classifier(recipe),
  recipe_fingerprint(recipe), cache_directory(cache_dir),
  bundled_fingerprints(),
  features_and_logits(classifier, images)
                                          the classifier and its cache
  mnist_fid(samples, reference, classifier), real_floor(n, classifier),
  mnist_feature_statistics(images), reference_statistics(reference),
  sample_quality(samples, labels, classifier) -> SampleQuality,
  mnist_scores(samples, labels, reference, classifier) -> MnistScores
                                          (both from one forward pass),
  mode_coverage(predicted, n_classes, min_share), check_images(images)
                                          the scores
"""

from jnn.generative.evaluation.classifier_cache import (
    bundled_fingerprints,
    cache_directory,
    load_mnist_classifier,
)
from jnn.generative.evaluation.frechet import (
    feature_statistics,
    frechet_distance,
    trace_sqrt_product,
)
from jnn.generative.evaluation.mnist_classifier import (
    DEFAULT_RECIPE,
    ClassifierRecipe,
    MnistClassifier,
    MnistCNN,
    PatchConv,
    features_and_logits,
    recipe_fingerprint,
    train_mnist_classifier,
)
from jnn.generative.evaluation.scores import (
    DEFAULT_MIN_SHARE,
    MnistScores,
    SampleQuality,
    check_images,
    mnist_feature_statistics,
    mnist_fid,
    mnist_scores,
    mode_coverage,
    real_floor,
    reference_statistics,
    sample_quality,
)

__all__ = [
    "DEFAULT_MIN_SHARE",
    "DEFAULT_RECIPE",
    "ClassifierRecipe",
    "MnistCNN",
    "MnistClassifier",
    "MnistScores",
    "PatchConv",
    "SampleQuality",
    "bundled_fingerprints",
    "cache_directory",
    "check_images",
    "feature_statistics",
    "features_and_logits",
    "frechet_distance",
    "load_mnist_classifier",
    "mnist_feature_statistics",
    "mnist_fid",
    "mnist_scores",
    "mode_coverage",
    "real_floor",
    "recipe_fingerprint",
    "reference_statistics",
    "sample_quality",
    "trace_sqrt_product",
    "train_mnist_classifier",
]
