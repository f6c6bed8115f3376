r"""k-means clustering by Lloyd's algorithm, as a learner (curriculum S9).

Lloyd's algorithm (Lloyd 1982; MacQueen 1967) alternates two steps that each
lower the within-cluster sum of squares, the *inertia*

.. math:: J(c) = \sum_i \min_j \lVert x_i - c_j \rVert^2 .

1. Assignment: :math:`l_i = \arg\min_j \lVert x_i - c_j \rVert^2`.
2. Update: :math:`c_j \leftarrow \frac{1}{|S_j|}\sum_{i \in S_j} x_i`
   with :math:`S_j = \{i : l_i = j\}`.

:func:`kmeans` is that iteration as a :class:`jnn.train.Learner`: trained
full-batch by the engine (``batch_size=None``), every epoch is one Lloyd
iteration. :func:`kmeans_fit` runs ``n_init`` restarts as one vmapped
:func:`jnn.train.run` call and keeps the lowest inertia, like scikit-learn's
``KMeans(n_init=...)``. Convergence follows scikit-learn: stop when the
squared Frobenius shift of the centres is at most ``tol`` times the mean
per-feature variance of the data (the learner reports that ratio as
``relative_center_shift``).

The centres are also the first stage of the RBF network (:mod:`jnn.static.radial.rbf`).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_key,
    check_positive_float,
    check_positive_int,
    is_concrete,
)
from jnn.static._api import deprecated_alias, trimmed_history
from jnn.train import Learner, Stop, full_batch, metric_below, run

INITS = ("k-means++", "random")


class KMeansState(NamedTuple):
    """State of the :func:`kmeans` learner.

    Attributes:
      centers: ``(k, d)`` cluster centres.
      data_variance: ``[]`` mean per-feature variance of the training data,
        the scale of the convergence test (scikit-learn's ``tol`` scale).
    """

    centers: jax.Array
    data_variance: jax.Array


class KMeansResult(NamedTuple):
    """Output of :func:`kmeans_fit` (the best of the restarts).

    Attributes:
      centers: ``(k, d)`` final centres (also ``params``, what
        :func:`kmeans_predict` takes).
      labels: ``(n,)`` int32 index of each example's nearest centre.
      inertia: ``[]`` sum of squared distances of the examples to their centres.
      iterations: Lloyd iterations run by the best restart (``n_iter`` is its
        deprecated name).
      converged: whether the best restart met ``tol`` within ``max_iter``.
      history: the best restart's per-iteration ``inertia``, ``center_shift``
        and ``relative_center_shift`` (``(iterations,)`` arrays).
      restart_inertia: ``(n_init,)`` final inertia of every restart.
    """

    centers: jax.Array
    labels: jax.Array
    inertia: jax.Array
    iterations: int
    converged: bool
    history: dict[str, np.ndarray]
    restart_inertia: jax.Array

    @property
    def params(self) -> jax.Array:
        """The fitted ``(k, d)`` centres."""
        return self.centers

    n_iter = deprecated_alias("n_iter", "iterations")


def squared_distances(x: jax.Array, centers: jax.Array) -> jax.Array:
    """Squared Euclidean distances ``||x_i - c_j||^2`` by one matrix product.

    Args:
      x: ``(n, d)`` float examples.
      centers: ``(k, d)`` float centres.

    Returns:
      ``(n, k)`` distances, clipped at 0 (the expansion
      ``||x||^2 - 2 x.c + ||c||^2`` can round below zero).
    """
    cross = jnp.dot(x, centers.T, precision=jax.lax.Precision.HIGHEST)
    x_sq = jnp.sum(x * x, axis=1)[:, None]
    c_sq = jnp.sum(centers * centers, axis=1)[None, :]
    return jnp.maximum(x_sq - 2.0 * cross + c_sq, 0.0)


def _check_x_centers(x, centers) -> None:
    check_array(x, "x", ndim=2, kind="f")
    check_array(centers, "centers", ndim=2, kind="f")
    if centers.shape[1] != x.shape[1]:
        raise ValueError(
            f"`centers` must have the {x.shape[1]} features of `x`; got shape "
            f"{tuple(centers.shape)}."
        )


def assign_clusters(x: jax.Array, centers: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Nearest-centre labels and the inertia of that assignment.

    A building block of Lloyd's iteration (data first, as :func:`lloyd_step`);
    to label new data with a fitted model use :func:`kmeans_predict`.

    Args:
      x: ``(n, d)`` float examples.
      centers: ``(k, d)`` float centres.

    Returns:
      ``(labels, inertia)``: ``(n,)`` int32 labels and the scalar
      ``sum_i ||x_i - c_{l_i}||^2``, computed from the differences (not the
      expansion) so that it is exact to rounding.

    Raises:
      TypeError, ValueError: ``x`` or ``centers`` not 2-D float arrays with
        the same number of features (or, when concrete, holding NaN or inf).
    """
    _check_x_centers(x, centers)
    return _assign(x, centers)


@jax.jit
def _assign(x, centers):
    labels = jnp.argmin(squared_distances(x, centers), axis=1).astype(jnp.int32)
    inertia = jnp.sum((x - centers[labels]) ** 2)
    return labels, inertia


def lloyd_step(x: jax.Array, centers: jax.Array):
    """One Lloyd iteration: assign, then move each centre to its cluster's mean.

    Both steps are matrix products (the cross term ``x c^T`` and the one-hot
    cluster sums ``1[l_i = j]^T x``), which is what makes vmapped restarts
    cheap. An empty cluster keeps its centre (scikit-learn instead moves it to
    a far point; with k-means++ seeding empty clusters are rare).

    Args:
      x: ``(n, d)`` float examples.
      centers: ``(k, d)`` float centres.

    Returns:
      ``(new_centers (k, d), labels (n,), inertia, center_shift)`` where the
      inertia is that of ``centers`` (before the move; from the expansion
      ``||x||^2 - 2 x.c + ||c||^2``, so accurate to about 1e-6 relative) and
      ``center_shift`` is ``||new_centers - centers||_F^2``.

    Raises:
      TypeError, ValueError: as :func:`assign_clusters`.
    """
    _check_x_centers(x, centers)
    return _lloyd(x, centers)


@jax.jit
def _lloyd(x, centers):
    k = centers.shape[0]
    cross = jnp.dot(x, centers.T, precision=jax.lax.Precision.HIGHEST)
    # ||x||^2 does not change the argmin: add it once, to the sum.
    partial = jnp.sum(centers * centers, axis=1)[None, :] - 2.0 * cross
    labels = jnp.argmin(partial, axis=1).astype(jnp.int32)
    inertia = jnp.sum(jnp.min(partial, axis=1)) + jnp.sum(x * x)
    one_hot = jax.nn.one_hot(labels, k, dtype=x.dtype)  # (n, k)
    sums = jnp.dot(one_hot.T, x, precision=jax.lax.Precision.HIGHEST)
    counts = jnp.sum(one_hot, axis=0)[:, None]
    new = jnp.where(counts > 0, sums / jnp.maximum(counts, 1.0), centers)
    return new, labels, jnp.maximum(inertia, 0.0), jnp.sum((new - centers) ** 2)


def kmeans_plus_plus(key: jax.Array, x: jax.Array, n_clusters: int) -> jax.Array:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007), as scikit-learn.

    The first centre is a uniformly drawn example; each next one is the best
    (lowest resulting inertia) of ``2 + floor(ln k)`` candidates drawn with
    probability proportional to ``D(x)^2``, the squared distance of ``x`` to the
    nearest centre chosen so far.

    Args:
      key: PRNG key.
      x: ``(n, d)`` float examples.
      n_clusters: ``k``, at most ``n``.

    Returns:
      ``(k, d)`` initial centres, rows of ``x``.
    """
    check_key(key)
    check_array(x, "x", ndim=2, kind="f")
    check_positive_int(n_clusters, "n_clusters")
    _check_n_clusters(n_clusters, x.shape[0])
    return _plus_plus(key, jnp.asarray(x), n_clusters)


@functools.partial(jax.jit, static_argnums=2)
def _plus_plus(key, x, n_clusters: int):
    n = x.shape[0]
    n_trials = 2 + int(math.log(n_clusters))
    first_key, key = jax.random.split(key)
    first = x[jax.random.randint(first_key, (), 0, n)]
    centers = jnp.zeros((n_clusters, x.shape[1]), x.dtype).at[0].set(first)
    closest = squared_distances(x, first[None, :])[:, 0]

    def add_center(j, carry):
        centers, closest = carry
        cumulative = jnp.cumsum(closest)
        draws = jax.random.uniform(jax.random.fold_in(key, j), (n_trials,))
        ids = jnp.searchsorted(cumulative, draws * cumulative[-1])
        ids = jnp.minimum(ids, n - 1)
        to_candidates = jnp.minimum(closest[None, :], squared_distances(x[ids], x))
        best = jnp.argmin(jnp.sum(to_candidates, axis=1))
        return centers.at[j].set(x[ids[best]]), to_candidates[best]

    centers, _ = jax.lax.fori_loop(1, n_clusters, add_center, (centers, closest))
    return centers


def _initial_centers(init, key: jax.Array, x: jax.Array, n_clusters: int):
    if isinstance(init, str) and init == "k-means++":
        return _plus_plus(key, x, n_clusters)
    if isinstance(init, str):  # "random": k distinct examples
        rows = jax.random.choice(key, x.shape[0], (n_clusters,), replace=False)
        return x[rows]
    return jnp.asarray(init, x.dtype)


def _check_init(init, n_clusters: int, n_features: int | None = None) -> None:
    if isinstance(init, str):
        if init not in INITS:
            raise ValueError(
                f"`init` must be one of {INITS} or a (n_clusters, d) array; "
                f"got {init!r}."
            )
        return
    check_array(init, "init", ndim=2, kind="f")
    if init.shape[0] != n_clusters or (
        n_features is not None and init.shape[1] != n_features
    ):
        raise ValueError(
            f"`init` must have shape (n_clusters, d) = ({n_clusters}, "
            f"{n_features if n_features is not None else 'd'}); got {init.shape}."
        )


def _check_n_clusters(n_clusters: int, n_samples: int) -> None:
    if n_clusters > n_samples:
        raise ValueError(
            f"`n_clusters` must be at most the number of examples {n_samples}; "
            f"got n_clusters={n_clusters}."
        )


def kmeans(n_clusters: int, *, init="k-means++", input_key: str = "x") -> Learner:
    """Lloyd's k-means as a full-batch learner: one epoch, one iteration.

    Train it with ``batch_size=None`` (the update needs every example) and stop
    it with :func:`kmeans_convergence`::

        result = jnn.train.fit(kmeans(10), {"x": x}, key=key, epochs=300,
                               stop=kmeans_convergence(1e-4))

    Args:
      n_clusters: ``k``, the number of centres.
      init: ``"k-means++"`` (greedy, :func:`kmeans_plus_plus`), ``"random"``
        (``k`` distinct examples) or a ``(k, d)`` array of initial centres.
      input_key: the batch entry holding the ``(n, d)`` examples.

    Returns:
      A :class:`jnn.train.Learner` with state :class:`KMeansState`; per epoch
      it records ``inertia`` (of the centres before the update, so the
      sequence never increases), ``center_shift`` (``||C_new - C||_F^2``) and
      ``relative_center_shift`` (the shift over the data's mean per-feature
      variance). ``evaluate`` reports the inertia of held-out data.

    Raises:
      ValueError, TypeError: invalid ``n_clusters`` or ``init``; at ``init``
        time, ``n_clusters`` above the number of examples.
    """
    check_positive_int(n_clusters, "n_clusters")
    _check_init(init, n_clusters)
    if not isinstance(input_key, str):
        raise TypeError(f"`input_key` must be a str; got {input_key!r}.")

    def init_fn(key: jax.Array, batch) -> KMeansState:
        if input_key not in batch:
            raise ValueError(f"the batch has no entry {input_key!r} (`input_key`).")
        x = batch[input_key]
        _check_n_clusters(n_clusters, x.shape[0])
        _check_init(init, n_clusters, x.shape[1])
        variance = jnp.mean(jnp.var(x, axis=0))
        return KMeansState(_initial_centers(init, key, x, n_clusters), variance)

    def update(state: KMeansState, batch, key: jax.Array):
        centers, _, inertia, shift = _lloyd(batch[input_key], state.centers)
        metrics = {
            "inertia": inertia,
            "center_shift": shift,
            "relative_center_shift": shift / state.data_variance,
        }
        return state._replace(centers=centers), metrics

    def evaluate(state: KMeansState, data):
        return {"inertia": _assign(data[input_key], state.centers)[1]}

    return Learner(init_fn, update, evaluate, plan=full_batch())


def kmeans_convergence(tol: float = 1e-4) -> Stop:
    """scikit-learn's k-means stop: ``||C_new - C||_F^2 <= tol * mean(var(x))``."""
    check_positive_float(tol, "tol")
    return metric_below(float(tol), metric="relative_center_shift")


@functools.lru_cache(maxsize=32)
def _restarts(n_clusters: int, init, tol: float, max_iter: int):
    """Jitted ``(x, keys, init_centers) -> best restart`` over vmapped restarts."""
    stop = kmeans_convergence(tol)

    def one(x, key, given):
        learner = kmeans(n_clusters, init=init if init != "given" else given)
        result = run(learner, {"x": x}, key=key, epochs=max_iter, stop=stop)
        centers = result.state.centers
        labels, inertia = _assign(x, centers)
        converged = jnp.any(result.history["fired"][result.n_epochs - 1])
        history = {k: v for k, v in result.history.items() if k != "fired"}
        return centers, labels, inertia, result.n_epochs, converged, history

    def restarts(x, keys, given):
        out = jax.vmap(one, in_axes=(None, 0, None))(x, keys, given)
        best = jnp.argmin(out[2])
        return jax.tree.map(lambda leaf: leaf[best], out), out[2]

    return jax.jit(restarts)


def kmeans_fit(
    x,
    n_clusters: int,
    *,
    key: jax.Array,
    n_init: int = 10,
    init="k-means++",
    tol: float = 1e-4,
    max_iter: int = 300,
) -> KMeansResult:
    """k-means with ``n_init`` restarts trained in one vmapped engine call.

    Every restart is :func:`kmeans` run by :func:`jnn.train.run` until
    :func:`kmeans_convergence` fires or ``max_iter`` iterations; the restart
    with the lowest final inertia is returned (scikit-learn's
    ``KMeans(n_init=n_init, tol=tol, max_iter=max_iter)``).

    Args:
      x: ``(n, d)`` float examples (NumPy or JAX).
      n_clusters: ``k``, at most ``n``.
      key: PRNG key; restart ``r`` uses ``jax.random.split(key, n_init)[r]``.
      n_init: number of restarts (ignored, i.e. 1, when ``init`` is an array).
      init: ``"k-means++"``, ``"random"`` or a ``(k, d)`` array of initial
        centres (deterministic: one run).
      tol: relative tolerance on the squared centre shift.
      max_iter: maximum Lloyd iterations per restart.

    Returns:
      A :class:`KMeansResult`; ``labels`` and ``inertia`` are those of the
      final centres; :func:`kmeans_predict` labels new data.

    Raises:
      ValueError, TypeError: bad ``x`` (rank, NaN), ``n_clusters`` above the
        number of examples, unknown ``init`` or a wrongly shaped array.

    Example:
      >>> import jax, numpy as np
      >>> x = np.array([[0.0, 0], [0, 1], [10, 0], [10, 1]], np.float32)
      >>> r = kmeans_fit(x, 2, key=jax.random.key(0), n_init=2)
      >>> float(r.inertia), r.converged
      (1.0, True)
      >>> from jnn.static import kmeans_predict
      >>> kmeans_predict(r, np.array([[9.0, 0.5]], np.float32)).tolist() == [
      ...     int(r.labels[2])]
      True
    """
    check_array(x, "x", ndim=2, kind="f")
    check_positive_int(n_clusters, "n_clusters")
    check_key(key)
    check_positive_int(n_init, "n_init")
    check_positive_float(tol, "tol")
    check_positive_int(max_iter, "max_iter")
    _check_n_clusters(n_clusters, x.shape[0])
    _check_init(init, n_clusters, x.shape[1])
    x = jnp.asarray(x)
    if isinstance(init, str):
        given = jnp.zeros((n_clusters, x.shape[1]), x.dtype)
        fn = _restarts(n_clusters, init, float(tol), max_iter)
    else:
        given, n_init = jnp.asarray(init, x.dtype), 1
        fn = _restarts(n_clusters, "given", float(tol), max_iter)
    best, restart_inertia = fn(x, jax.random.split(key, n_init), given)
    centers, labels, inertia, n_iter, converged, history = best
    if is_concrete(n_iter):  # outside jit: host values, history cut to its length
        n_iter, converged = int(n_iter), bool(converged)
        history = trimmed_history(history, n_iter)
    return KMeansResult(
        centers, labels, inertia, n_iter, converged, history, restart_inertia
    )
