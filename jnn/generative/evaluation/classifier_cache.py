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
) -> MnistClassifier:
    """The MNIST classifier of ``recipe``: read from the cache, else trained.

    Looks for ``<cache>/mnist_classifier-<fingerprint>.npz`` (module
    docstring); when it is missing, unreadable or of another recipe, trains
    with :func:`train_mnist_classifier` (``DEFAULT_RECIPE``: 3 epochs on the
    55,000 training images) and writes it. Read files are kept in memory for
    the rest of the process.

    Args:
      cache_dir: folder of the cache; None: ``$JNN_CACHE`` or ``~/.cache/jnn``.
      recipe: the training recipe (a smaller one for quick tests).
      progress: show the training progress bar.

    Returns:
      A :class:`MnistClassifier` (``from_cache`` tells which path was taken).
    """
    check_recipe(recipe)
    fingerprint = recipe_fingerprint(recipe)
    path = cache_directory(cache_dir) / f"mnist_classifier-{fingerprint}.npz"
    key = (str(path.resolve()), fingerprint)
    if key in _LOADED and path.exists():
        return _LOADED[key]._replace(from_cache=True)
    classifier = _restore(path, recipe) if path.exists() else None
    if classifier is None:
        classifier = train_mnist_classifier(recipe, progress=progress)
        _save(path, classifier)
    _LOADED[key] = classifier
    return classifier


#: Classifiers read or trained in this process, by (cache file, fingerprint).
_LOADED: dict[tuple[str, str], MnistClassifier] = {}
