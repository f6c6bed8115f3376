r"""Specht's probabilistic neural network (curriculum S5): Parzen windows + Bayes.

Specht (1990), "Probabilistic neural networks", Neural Networks 3(1), 109-118.
Every training example ``x_i`` becomes a pattern unit with a Gaussian window
of width ``σ``; a class's summation unit averages its ``N_k`` pattern units,
which is the Parzen (1962) estimate of the class-conditional density,

.. math:: p(x \mid k) = \frac{1}{N_k} \sum_{i: y_i = k}
          (2\pi\sigma^2)^{-d/2} \exp\Bigl(-\frac{\lVert x - x_i\rVert^2}
          {2\sigma^2}\Bigr),

and the output is the Bayes posterior ``P(k|x) = P(k) p(x|k) / sum_k' P(k')
p(x|k')``. Priors (Specht's ``h_k``): by default the class frequencies of the
training set, ``P(k) = N_k / N``, under which the posterior is the kernel-
weighted vote of all training examples (``sum_{i in k} K_i / sum_i K_i``, the
Nadaraya-Watson classifier); ``priors="uniform"`` gives ``P(k) = 1/K``, and an
array gives any other priors (e.g. those of the deployment population).

Sums of exponentials are computed as log-sum-exp with a per-class maximum, so
distant queries lose no class to underflow; queries are processed in chunks of
``chunk_size`` rows to bound the ``(chunk, N)`` distance matrix.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_positive_float,
    check_positive_int,
    is_concrete,
)
from jnn.static._api import fitted
from jnn.static.backprop.calibration import check_labels
from jnn.train import Learner, full_batch


class PNNState(NamedTuple):
    """A trained PNN: the stored patterns (the network's first layer).

    Attributes:
      patterns: ``(N, d)`` training inputs ``x_i``.
      labels: ``(N,)`` int32 their classes.
      log_priors: ``(K,)`` log class priors ``log P(k)``.
      sigma: ``[]`` float, the Parzen window width ``σ``.
    """

    patterns: jax.Array
    labels: jax.Array
    log_priors: jax.Array
    sigma: jax.Array


class PNNResult(NamedTuple):
    """Output of :func:`pnn_fit`.

    Attributes:
      patterns, labels, log_priors, sigma: as in :class:`PNNState`
        (``params`` bundles them; the predictors take either).
      iterations: always 1: building a PNN is one pass that stores the data.
      converged: always True (there is nothing to converge).
      history: ``{}`` (no per-iteration metrics).
    """

    patterns: jax.Array
    labels: jax.Array
    log_priors: jax.Array
    sigma: jax.Array
    iterations: int
    converged: bool
    history: dict[str, np.ndarray]

    @property
    def params(self) -> PNNState:
        """The network as :class:`PNNState`."""
        return PNNState(self.patterns, self.labels, self.log_priors, self.sigma)


class SigmaSelection(NamedTuple):
    """Result of :func:`pnn_select_sigma`.

    Attributes:
      sigma: the chosen width (highest validation accuracy, ties broken by the
        lower validation log-loss).
      sigmas: ``(S,)`` the candidates.
      accuracy: ``(S,)`` validation accuracy of each.
      log_loss: ``(S,)`` validation ``-mean log P(y|x)`` of each.
    """

    sigma: float
    sigmas: np.ndarray
    accuracy: np.ndarray
    log_loss: np.ndarray


def _class_log_density(sq_dist, labels, n_classes: int, sigma, dim: int):
    """``log p(x|k)`` from the ``(m, N)`` squared distances: ``(m, K)``."""
    logits = -sq_dist / (2 * sigma**2)
    # Shift each class by its own largest logit: every class keeps >= 1 term.
    peak = jax.ops.segment_max(logits.T, labels, num_segments=n_classes).T  # (m, K)
    peak = jnp.where(jnp.isfinite(peak), peak, 0.0)  # classes without patterns
    sums = jnp.exp(logits - peak[:, labels]) @ jax.nn.one_hot(labels, n_classes)
    counts = jnp.sum(jax.nn.one_hot(labels, n_classes), axis=0)
    norm = dim * (math.log(2 * math.pi) / 2 + jnp.log(sigma))
    log_density = jnp.log(sums) + peak - jnp.log(jnp.maximum(counts, 1.0))[None] - norm
    # A class without patterns has an empty Parzen sum: density 0, not 0/0.
    return jnp.where(counts[None, :] > 0, log_density, -jnp.inf)


def _sq_distances(x, patterns):
    cross = jnp.matmul(x, patterns.T, precision=jax.lax.Precision.HIGHEST)
    sq = jnp.sum(x**2, 1)[:, None] - 2 * cross + jnp.sum(patterns**2, 1)[None, :]
    return jnp.maximum(sq, 0.0)


def _chunked(fn, inputs, chunk_size: int):
    """``fn`` over row blocks of the arrays ``inputs`` (zero-padded), stacked."""
    n = jax.tree.leaves(inputs)[0].shape[0]
    if n <= chunk_size:
        return fn(inputs)
    blocks = -(-n // chunk_size)

    def split(a):
        a = jnp.pad(a, [(0, blocks * chunk_size - n)] + [(0, 0)] * (a.ndim - 1))
        return a.reshape(blocks, chunk_size, *a.shape[1:])

    out = jax.lax.map(fn, jax.tree.map(split, inputs))
    return jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:])[:n], out)


def _log_posterior(state: PNNState, x, n_classes: int, chunk_size: int):
    """Bayes' rule over the Parzen class densities, queries in chunks."""

    def block(rows):
        log_density = _class_log_density(
            _sq_distances(rows, state.patterns),
            state.labels,
            n_classes,
            state.sigma,
            rows.shape[-1],
        )
        joint = log_density + state.log_priors[None, :]
        return joint - jax.nn.logsumexp(joint, axis=1, keepdims=True)

    return _chunked(block, x, chunk_size)


_log_posterior_jit = jax.jit(_log_posterior, static_argnums=(2, 3))


def _log_priors(labels, n_classes: int, priors) -> jax.Array:
    if isinstance(priors, str):
        if priors == "uniform":
            return jnp.full((n_classes,), -math.log(n_classes))
        counts = jnp.sum(jax.nn.one_hot(labels, n_classes), axis=0)
        return jnp.log(counts / labels.shape[0])
    return jnp.log(jnp.asarray(priors, jnp.float32))


def _check_priors(priors, n_classes: int) -> None:
    if isinstance(priors, str):
        if priors not in ("empirical", "uniform"):
            raise ValueError(
                f"`priors` must be 'empirical', 'uniform' or an array; got {priors!r}."
            )
        return
    p = np.asarray(priors, np.float64)
    if (
        p.shape != (n_classes,)
        or not np.all(np.isfinite(p))
        or p.min() <= 0
        or abs(p.sum() - 1) > 1e-5
    ):
        raise ValueError(
            f"`priors` must be {n_classes} positive probabilities summing to 1; "
            f"got {p.tolist()}."
        )


def pnn(
    sigma: float,
    n_classes: int,
    *,
    priors: str | jax.Array = "empirical",
    chunk_size: int = 1024,
) -> Learner:
    """Specht's PNN as a learner: training stores the patterns (one epoch).

    ``fit(pnn(0.5, 10), train, key=key, epochs=1, val=val)`` builds the
    network (``init``); ``update`` changes nothing and reports the number of
    patterns; ``evaluate`` reports ``accuracy`` and ``loss`` (``-mean log
    P(y|x)``). Use :func:`pnn_fit` to build one without the engine.

    Every class needs at least one training pattern, unless ``priors`` is an
    array: then a class without patterns has density 0, so posterior 0.

    Args:
      sigma: Parzen window width ``σ > 0`` (in the units of standardised x).
      n_classes: ``K``; labels lie in ``[0, K)``.
      priors: ``"empirical"`` (training frequencies, the default),
        ``"uniform"``, or a ``(K,)`` array of priors.
      chunk_size: query rows per distance matrix in prediction.

    Returns:
      A :class:`jnn.train.Learner` whose state is a :class:`PNNState`; its
      ``check`` refuses labels outside ``[0, K)`` and (``priors`` a string)
      training data without an example of some class.

    Raises:
      ValueError: ``sigma`` non-finite or <= 0, bad ``priors`` or sizes.
    """
    check_positive_float(sigma, "sigma")
    check_positive_int(n_classes, "n_classes")
    check_positive_int(chunk_size, "chunk_size")
    _check_priors(priors, n_classes)

    def init(key: jax.Array, batch) -> PNNState:
        labels = jnp.asarray(batch["y"], jnp.int32)
        return PNNState(
            jnp.asarray(batch["x"], jnp.float32),
            labels,
            _log_priors(labels, n_classes, priors),
            jnp.asarray(sigma, jnp.float32),
        )

    def update(state: PNNState, batch, key: jax.Array):
        return state, {"patterns": jnp.asarray(state.labels.shape[0], jnp.float32)}

    def evaluate(state: PNNState, data) -> dict:
        log_post = _log_posterior(state, data["x"], n_classes, chunk_size)
        y = data["y"]
        return {
            "accuracy": jnp.mean(jnp.argmax(log_post, axis=1) == y),
            "loss": -jnp.mean(log_post[jnp.arange(y.shape[0]), y]),
        }

    def check(data, name: str) -> None:
        _check_split(data, name, n_classes, priors, train=name == "train")

    return Learner(init, update, evaluate, plan=full_batch(), check=check)


def _check_xy(x, y, n_classes, priors=None, names=("x", "y")):
    """``x``, ``y`` and ``K``; with string ``priors`` every class must occur."""
    check_array(x, names[0], ndim=2, kind="f")
    return check_labels(
        y, names[1], x.shape[0], n_classes, require_all=isinstance(priors, str)
    )


def _check_split(data, name: str, n_classes, priors, *, train: bool) -> int:
    """A ``{"x", "y"}`` data set: training data (``train``) or held-out data."""
    if not isinstance(data, Mapping) or not {"x", "y"} <= set(data):
        got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        raise TypeError(f"`{name}` must be a dict with entries 'x' and 'y'; got {got}.")
    return _check_xy(
        data["x"],
        data["y"],
        n_classes,
        priors if train else None,
        (f"{name}['x']", f"{name}['y']"),
    )


def pnn_fit(
    x: jax.Array,
    y: jax.Array,
    *,
    sigma: float,
    n_classes: int | None = None,
    priors: str | jax.Array = "empirical",
) -> PNNState:
    """Build a PNN from training data (one pattern unit per example).

    Args:
      x: ``(N, d)`` float training inputs.
      y: ``(N,)`` int labels.
      sigma: window width ``σ > 0``.
      n_classes: ``K`` (default ``max(y) + 1``).
      priors: ``"empirical"``, ``"uniform"`` or a ``(K,)`` array.

    Returns:
      A :class:`PNNResult` (``iterations=1``, ``converged=True``: the fit is
      one pass); :func:`pnn_predict` takes it (or its ``params``).

    Raises:
      ValueError: a class in ``[0, K)`` without any example in ``y`` (its
        Parzen density is undefined) unless ``priors`` is an array, in which
        case that class gets posterior 0; labels outside ``[0, K)``; bad
        shapes, NaN or settings.
    """
    n_classes = _check_xy(x, y, n_classes, priors)
    learner = pnn(sigma, n_classes, priors=priors)
    state = learner.init(jax.random.key(0), {"x": x, "y": y})
    return PNNResult(*state, 1, True, {})


def _check_state_x(params, x, chunk_size) -> tuple[PNNState, int]:
    state = fitted(params, PNNState, PNNResult)
    check_array(state.patterns, "params.patterns", ndim=2, kind="f")
    check_array(state.labels, "params.labels", ndim=1, kind="i")
    check_array(state.log_priors, "params.log_priors", ndim=1, kind="f")
    check_array(x, "x", ndim=2, kind="f")
    check_positive_int(chunk_size, "chunk_size")
    if is_concrete(state.sigma):
        check_positive_float(float(state.sigma), "params.sigma")
    if x.shape[1] != state.patterns.shape[1]:
        raise ValueError(
            f"`x` must have {state.patterns.shape[1]} features (as the patterns); "
            f"got {x.shape[1]}."
        )
    return state, state.log_priors.shape[0]


def pnn_predict_proba(params, x: jax.Array, *, chunk_size: int = 1024) -> jax.Array:
    """Posteriors ``P(k | x)``: ``(m, d) -> (m, K)``, rows summing to 1.

    Args:
      params: :class:`PNNState` or the :class:`PNNResult` of :func:`pnn_fit`.
      x: ``(m, d)`` float queries.
      chunk_size: query rows per distance matrix.

    Raises:
      TypeError, ValueError: ``params`` neither; ``x`` not ``(m, d)`` float
        with the patterns' ``d`` (NaN, inf); a bad ``chunk_size``.
    """
    state, n_classes = _check_state_x(params, x, chunk_size)
    return jnp.exp(_log_posterior_jit(state, jnp.asarray(x), n_classes, chunk_size))


def pnn_predict(params, x: jax.Array, *, chunk_size: int = 1024) -> jax.Array:
    """The Bayes decision ``argmax_k P(k) p(x|k)``: ``(m, d) -> (m,)`` int.

    Args and errors as :func:`pnn_predict_proba`.
    """
    state, n_classes = _check_state_x(params, x, chunk_size)
    log_post = _log_posterior_jit(state, jnp.asarray(x), n_classes, chunk_size)
    return jnp.argmax(log_post, axis=1)


def pnn_select_sigma(
    train: dict,
    val: dict,
    sigmas,
    *,
    n_classes: int | None = None,
    priors: str | jax.Array = "empirical",
    chunk_size: int = 1024,
) -> SigmaSelection:
    """Choose ``σ`` on validation data, all candidates in one vmapped call.

    The ``(m, N)`` distances between validation and training inputs are computed
    once and shared by every ``σ``.

    Args:
      train: ``{"x": (N, d), "y": (N,)}`` the patterns.
      val: ``{"x": (m, d), "y": (m,)}`` held-out data.
      sigmas: ``(S,)`` candidate widths, each finite and > 0.
      n_classes: ``K`` (default ``max(train y) + 1``).
      priors: as in :func:`pnn`.
      chunk_size: validation rows per distance matrix.

    Returns:
      A :class:`SigmaSelection`.

    Raises:
      TypeError, ValueError: ``train`` or ``val`` not ``{"x", "y"}`` dicts of
        matching features, bad labels (as in :func:`pnn_fit`), ``sigmas`` not
        finite positive numbers, bad ``priors`` or ``chunk_size``.
    """
    n_classes = _check_split(train, "train", n_classes, priors, train=True)
    _check_split(val, "val", n_classes, priors, train=False)
    if val["x"].shape[1] != train["x"].shape[1]:
        raise ValueError(
            f"`val['x']` must have {train['x'].shape[1]} features (as "
            f"`train['x']`); got {val['x'].shape[1]}."
        )
    _check_priors(priors, n_classes)
    check_positive_int(chunk_size, "chunk_size")
    try:
        grid = np.asarray(sigmas, np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(
            f"`sigmas` must be a sequence of numbers; got {sigmas!r}."
        ) from None

    if grid.size == 0 or not np.all(np.isfinite(grid)) or grid.min() <= 0:
        raise ValueError(f"`sigmas` must be finite numbers > 0; got {grid.tolist()}.")
    state = pnn_fit(
        train["x"], train["y"], sigma=1.0, n_classes=n_classes, priors=priors
    ).params
    accuracy, log_loss = _score_sigmas(
        state,
        jnp.asarray(val["x"], jnp.float32),
        jnp.asarray(val["y"]),
        jnp.asarray(grid, jnp.float32),
        chunk_size,
    )
    accuracy, log_loss = np.asarray(accuracy), np.asarray(log_loss)
    best = np.lexsort((log_loss, -accuracy))[0]
    return SigmaSelection(float(grid[best]), grid, accuracy, log_loss)


@functools.partial(jax.jit, static_argnames="chunk_size")
def _score_sigmas(state: PNNState, x, y, sigmas, chunk_size: int):
    """Validation accuracy and log-loss of every ``σ``: ``(S,)`` each."""
    n_classes = state.log_priors.shape[0]

    def block(rows):  # (B, d), (B,) -> (B, S) hits and -log P(y|x)
        rows, labels = rows
        sq_dist = _sq_distances(rows, state.patterns)  # shared by every σ

        def score(sigma):
            joint = (
                _class_log_density(sq_dist, state.labels, n_classes, sigma, x.shape[1])
                + state.log_priors[None, :]
            )
            log_post = joint - jax.nn.logsumexp(joint, axis=1, keepdims=True)
            hit = jnp.argmax(log_post, axis=1) == labels
            return hit, -log_post[jnp.arange(labels.shape[0]), labels]

        return jax.vmap(score, out_axes=1)(sigmas)

    hits, losses = _chunked(block, (x, y), chunk_size)
    return jnp.mean(hits, axis=0), jnp.mean(losses, axis=0)
