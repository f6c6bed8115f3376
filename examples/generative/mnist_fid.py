"""MNIST-FID: the yardstick of the generative chapter, with its floor and anchors.

Reads (from the user's cache, else the copy shipped with jnn, else trains) the
small MNIST classifier of
:mod:`jnn.generative.evaluation`, prints its test accuracy, the real-vs-real
floor (``n`` training images against the 10,000 test images) and the FID,
confidence and mode coverage of corrupted versions of the same ``n`` training
images, as anchors for reading a generator's score:

* binarised: each pixel drawn as Bernoulli(intensity), what an RBM's samples
  look like;
* blurred: Gaussian blur of width ``sigma = 1`` pixel;
* one digit only: ``n`` images of the digit 1 (mode collapse);
* shuffled pixels: every image's pixels randomly permuted (the pixel
  histogram stays, the strokes go);
* uniform noise: pixels drawn from U[0, 1].

Run: ``python examples/generative/mnist_fid.py [--n 10000] [--cache-dir DIR]``
(the classifier is read, not trained; ``--no-bundled`` trains and caches this
machine's own copy instead, ~1 min on one CPU core).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.ndimage

from jnn.data import load
from jnn.generative.evaluation import (
    cache_directory,
    load_mnist_classifier,
    mnist_scores,
    real_floor,
)


def anchors(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """Corrupted versions of ``images`` ``(n, 28, 28)`` in [0, 1] (docstring)."""
    rng = np.random.default_rng(seed)
    n = len(images)
    ones = images[labels == 1]
    return {
        "binarised": (rng.random(images.shape) < images).astype(np.float32),
        "blurred (sigma 1)": scipy.ndimage.gaussian_filter(images, (0, 1, 1)),
        "one digit only": ones[rng.integers(0, len(ones), n)],
        "shuffled pixels": rng.permuted(images.reshape(n, -1), axis=1),
        "uniform noise": rng.random(images.shape, np.float32),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="images per set")
    parser.add_argument("--smoke", action="store_true", help="500 images per set")
    parser.add_argument("--cache-dir", default=None, help="classifier cache folder")
    parser.add_argument(
        "--no-bundled",
        action="store_true",
        help="do not read jnn's shipped classifier: use (or train) the cache's own",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.n = 500

    start = time.perf_counter()
    classifier = load_mnist_classifier(
        args.cache_dir, progress=None, bundled=not args.no_bundled
    )
    seconds = time.perf_counter() - start
    how = "read from a file" if classifier.from_cache else "trained"
    print(f"classifier {classifier.fingerprint} {how} in {seconds:.1f} s")
    print(f"  cache folder: {cache_directory(args.cache_dir)}")
    print(f"  recipe: {classifier.recipe}")
    print(f"  training time when trained: {classifier.train_seconds:.1f} s")
    print(f"  test accuracy: {classifier.test_accuracy:.4f}")

    start = time.perf_counter()
    floor = real_floor(args.n, classifier)
    print(
        f"\nreal floor, {args.n} train vs 10,000 test images: FID {floor:.3f} "
        f"({time.perf_counter() - start:.1f} s)"
    )
    train = load("mnist", standardize=False, flatten=False).train
    rows = np.sort(np.random.default_rng(0).permutation(len(train["x"]))[: args.n])
    images, labels = train["x"][rows, ..., 0], train["y"][rows]
    sets = {"real (train)": images, **anchors(images, labels)}

    print(f"\n{'set':<20}{'FID':>10}{'confidence':>12}{'modes':>7}{'seconds':>9}")
    scores = {"floor": floor}
    for name, x in sets.items():
        start = time.perf_counter()
        fid, quality = mnist_scores(x, reference="test", classifier=classifier)
        seconds = time.perf_counter() - start
        print(
            f"{name:<20}{fid:>10.3f}{quality.confidence:>12.3f}"
            f"{quality.mode_coverage:>7d}{seconds:>9.2f}"
        )
        scores[name] = (fid, quality.mode_coverage)
    return scores


if __name__ == "__main__":
    main()
