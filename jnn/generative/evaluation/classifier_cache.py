"""The on-disk cache of the MNIST classifier: train once, read afterwards.

:func:`load_mnist_classifier` looks for
``<cache>/mnist_classifier-<fingerprint>.npz``, ``<cache>`` being the
``cache_dir`` argument, else ``$JNN_CACHE``, else ``~/.cache/jnn``, and the
fingerprint :func:`~.mnist_classifier.recipe_fingerprint` a hash of the
training recipe and of :data:`~.mnist_classifier.RECIPE_VERSION`. The file
holds the flattened ``params`` (``"Dense_0/kernel"``, ...) and a JSON record
of the recipe, the test accuracy and the training time. A missing,
unreadable or mismatched file (another recipe, other shapes) is replaced by a
fresh training; delete it to retrain. Files are written to a temporary name
and renamed, so concurrent processes never read half a file.

jnn ships the trained files of :data:`~.mnist_classifier.DEFAULT_RECIPE` and of
the demos' small recipe in :data:`BUNDLED_DIR` (``weights/README.md`` gives
their provenance). When the cache has no file for a recipe, the bundled one
is read instead of training: every installation then scores with the same
network, as FID's Inception weights are fixed (a classifier retrained on
another CPU differs in float rounding, and so do its FIDs: the default
recipe gave 99.18% test accuracy on an AMD EPYC and 99.16% on an Intel Xeon).
``bundled=False`` skips them (train and cache your own).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from jnn.generative.evaluation.mnist_classifier import (
    DEFAULT_RECIPE,
    RECIPE_VERSION,
    ClassifierRecipe,
    MnistClassifier,
    MnistCNN,
    check_recipe,
    recipe_fingerprint,
    train_mnist_classifier,
)

#: Trained classifiers shipped with jnn (``mnist_classifier-<fingerprint>.npz``).
BUNDLED_DIR = Path(__file__).parent / "weights"


def bundled_fingerprints() -> tuple[str, ...]:
    """Fingerprints of the recipes whose trained classifier jnn ships."""
    return tuple(
        sorted(
            p.stem.split("-", 1)[1] for p in BUNDLED_DIR.glob("mnist_classifier-*.npz")
        )
    )


def cache_directory(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$JNN_CACHE``, else ``~/.cache/jnn``."""
    if cache_dir is not None and not isinstance(cache_dir, str | os.PathLike):
        raise TypeError(
            f"`cache_dir` must be a folder path (str or Path) or None; got "
            f"{cache_dir!r}."
        )
    if cache_dir is None:
        cache_dir = os.environ.get("JNN_CACHE") or Path.home() / ".cache" / "jnn"
    return Path(cache_dir).expanduser()


def _save(path: Path, classifier: MnistClassifier) -> None:
    flat = traverse_util.flatten_dict(jax.device_get(classifier.params), sep="/")
    meta = {
        "recipe": classifier.recipe._asdict(),
        "version": RECIPE_VERSION,
        "test_accuracy": classifier.test_accuracy,
        "train_seconds": classifier.train_seconds,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npz")
    np.savez(partial, __meta__=np.array(json.dumps(meta)), **flat)
    os.replace(partial, path)  # atomic: a reader never sees half a file


def _restore(path: Path, recipe: ClassifierRecipe) -> MnistClassifier | None:
    """The cached classifier, or None when the file is unusable or stale."""
    model = MnistCNN(recipe.channels, recipe.features)
    try:
        with np.load(path) as stored:
            meta = json.loads(str(stored["__meta__"]))
            flat = {k: np.asarray(stored[k]) for k in stored.files if k != "__meta__"}
    except (OSError, ValueError, KeyError):
        return None
    try:
        stored = dict(meta["recipe"])
        stored["channels"] = tuple(stored["channels"])
        if ClassifierRecipe(**stored) != recipe:
            return None
    except (KeyError, TypeError):
        return None
    params = traverse_util.unflatten_dict(flat, sep="/")
    expected = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 784)))
    shapes = jax.tree.map(lambda a: a.shape, expected["params"])
    try:
        if jax.tree.map(lambda a: a.shape, params) != shapes:
            return None
    except (TypeError, ValueError):
        return None
    params = jax.tree.map(jnp.asarray, params)
    return MnistClassifier(
        model,
        params,
        recipe,
        recipe_fingerprint(recipe),
        float(meta["test_accuracy"]),
        float(meta["train_seconds"]),
        True,
    )


def load_mnist_classifier(
    cache_dir: str | os.PathLike | None = None,
    *,
    recipe: ClassifierRecipe = DEFAULT_RECIPE,
    progress: bool | None = False,
    bundled: bool = True,
) -> MnistClassifier:
    """The MNIST classifier of ``recipe``: read from the cache, else trained.

    Looks for ``<cache>/mnist_classifier-<fingerprint>.npz`` (module
    docstring), then (``bundled``) for the copy shipped with jnn; when
    neither is usable, trains with :func:`train_mnist_classifier`
    (``DEFAULT_RECIPE``: 3 epochs on the 55,000 training images, ~1 min on one
    core) and writes it to the cache. Read files are kept in memory for the
    rest of the process.

    Args:
      cache_dir: folder of the cache; None: ``$JNN_CACHE`` or ``~/.cache/jnn``.
      recipe: the training recipe (a smaller one for quick tests).
      progress: show the training progress bar.
      bundled: read jnn's shipped classifier of ``recipe`` (when there is one,
        :func:`bundled_fingerprints`) before training one.

    Returns:
      A :class:`MnistClassifier` (``from_cache`` is True when it was read from
      a file, the cache's or the bundled one, False when just trained).
    """
    check_recipe(recipe)
    if not isinstance(bundled, bool):
        raise TypeError(f"`bundled` must be True or False; got {bundled!r}.")
    fingerprint = recipe_fingerprint(recipe)
    name = f"mnist_classifier-{fingerprint}.npz"
    paths = [cache_directory(cache_dir) / name]
    if bundled:
        paths.append(BUNDLED_DIR / name)
    for path in paths:
        key = (str(path.resolve()), fingerprint)
        if key in _LOADED and path.exists():
            return _LOADED[key]._replace(from_cache=True)
        classifier = _restore(path, recipe) if path.exists() else None
        if classifier is not None:
            _LOADED[key] = classifier
            return classifier
    classifier = train_mnist_classifier(recipe, progress=progress)
    _save(paths[0], classifier)
    _LOADED[(str(paths[0].resolve()), fingerprint)] = classifier
    return classifier


#: Classifiers read or trained in this process, by (cache file, fingerprint).
_LOADED: dict[tuple[str, str], MnistClassifier] = {}
