"""Using a fitted k-means or mixture: likelihoods, responsibilities, labels.

* k-means (:func:`jnn.static.kmeans_fit`): :func:`kmeans_predict`, the
  nearest centre;
* EM's Gaussian mixture (:func:`jnn.static.gmm_fit`):
  :func:`gmm_log_likelihood`, :func:`gmm_predict_proba` (the responsibilities
  ``P(k | x_o)``, missing cells marginalised out) and :func:`gmm_predict`;
* the variational posterior (:func:`jnn.static.vb_gmm_fit`):
  :func:`vb_gmm_predict_proba` (the E-step's responsibilities, as
  scikit-learn's ``BayesianGaussianMixture.predict_proba``) and
  :func:`vb_gmm_predict`.

Each takes the fit's result or its ``params`` first, the data second.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_bool
from jnn.static._api import fitted
from jnn.static.mixtures.kmeans import KMeansResult, squared_distances
from jnn.static.mixtures.mixture import (
    KINDS,
    GMMParams,
    GMMResult,
    _unpack,
    e_step,
)
from jnn.static.mixtures.mixture_data import as_data, check_params
from jnn.static.mixtures.vb import VBState, _e_step
from jnn.static.mixtures.vb_fit import VBResult


def _model_and_data(params, x):
    """Checked :class:`GMMParams` (or a :class:`GMMResult`'s) and data dict."""
    params = fitted(params, GMMParams, GMMResult)
    shapes = [np.shape(p) for p in params]
    if len(shapes[1]) != 2 or len(shapes[2]) not in KINDS:
        raise ValueError(
            "`params.means` must be (K, d) and `params.covariances` (K, d, d), "
            f"(K, d) or (K,); got shapes {shapes[1]} and {shapes[2]}."
        )
    n_components, d = shapes[1]
    check_params(params, KINDS[len(shapes[2])], n_components, d, name="params")
    data = as_data(x)
    if data["x"].shape[1] != d:
        raise ValueError(f"`x` must have {d} columns; got {data['x'].shape[1]}.")
    return params, data


def gmm_log_likelihood(params, x, *, per_sample: bool = False):
    """Mean (or per-row) log-likelihood of ``x``; NaN cells are marginalised out.

    Args:
      params: a fitted :class:`GMMParams` (or the :class:`GMMResult`).
      x: ``(n, d)`` data, NaN for missing values.
      per_sample: return the ``(n,)`` per-row values instead of their mean.

    Returns:
      ``log p(x_o)`` averaged over rows (a float), or per row.
    """
    check_bool(per_sample, "per_sample")
    params, data = _model_and_data(params, x)
    values = _per_sample(KINDS[np.ndim(params.covariances)], params, data)[1]
    return values if per_sample else float(jnp.mean(values))


def gmm_predict_proba(params, x) -> jax.Array:
    """Responsibilities ``P(component k | x_o)``: ``(n, d) -> (n, K)``.

    NaN cells of ``x`` are missing: each row is scored by the marginal density
    of its observed coordinates (as in :func:`gmm_log_likelihood`).

    Args:
      params: :class:`GMMParams` or the :class:`GMMResult` of :func:`gmm_fit`.
      x: ``(n, d)`` float data; every row needs one observed value.

    Returns:
      ``(n, K)`` probabilities, rows summing to 1.

    Raises:
      TypeError, ValueError: ``params`` not GMMParams (or with NaN, weights
        not summing to 1, covariances not positive definite); ``x`` not
        ``(n, d)`` with the model's ``d``, infinite values or an all-NaN row.
    """
    params, data = _model_and_data(params, x)
    return _per_sample(KINDS[np.ndim(params.covariances)], params, data)[0]


def gmm_predict(params, x) -> jax.Array:
    """The most probable component of each row: ``(n, d) -> (n,)`` int32.

    Args and errors as :func:`gmm_predict_proba`.
    """
    return jnp.argmax(gmm_predict_proba(params, x), axis=1).astype(jnp.int32)


@functools.partial(jax.jit, static_argnums=0)
def _per_sample(kind, params, data):
    """Responsibilities ``(n, K)`` and per-row log-likelihood ``(n,)``."""
    x, observed = _unpack(data)
    params = GMMParams(*(jnp.asarray(p, x.dtype) for p in params))
    resp, norm, _ = e_step(x, observed, params, kind)
    return resp, norm


def vb_gmm_predict_proba(params, x) -> jax.Array:
    """Responsibilities ``r_nk`` under the variational posterior: ``(n, K)``.

    The E-step of :func:`vb_gmm` (PRML 10.46-10.49), as scikit-learn's
    ``BayesianGaussianMixture.predict_proba``.

    Args:
      params: the :class:`VBResult` of :func:`vb_gmm_fit` or its
        :class:`VBState`.
      x: ``(n, d)`` complete float data (no NaN).

    Returns:
      ``(n, K)`` probabilities, rows summing to 1 (pruned components get ~0).

    Raises:
      TypeError, ValueError: ``params`` neither; ``x`` not ``(n, d)`` with
        the model's ``d``, or with NaN or inf.
    """
    state = fitted(params, VBState, VBResult)
    data = as_data(x, allow_missing=False)
    d = np.shape(state.means)[-1]
    if data["x"].shape[1] != d:
        raise ValueError(f"`x` must have {d} columns; got {data['x'].shape[1]}.")
    return _responsibilities(state, data["x"])


def vb_gmm_predict(params, x) -> jax.Array:
    """The most responsible component of each row: ``(n, d) -> (n,)`` int32.

    Args and errors as :func:`vb_gmm_predict_proba`.
    """
    return jnp.argmax(vb_gmm_predict_proba(params, x), axis=1).astype(jnp.int32)


@jax.jit
def _responsibilities(state: VBState, x):
    state = jax.tree.map(lambda leaf: jnp.asarray(leaf, x.dtype), state)
    return jnp.exp(_e_step(x, state))


def kmeans_predict(params, x) -> jax.Array:
    """Index of the nearest centre of each row of ``x``: ``(n, d) -> (n,)`` int32.

    Args:
      params: a :class:`KMeansResult` or its ``(k, d)`` ``centers``.
      x: ``(n, d)`` float examples.

    Raises:
      TypeError, ValueError: ``params`` neither; ``x`` not ``(n, d)`` float
        with the centres' ``d`` (or, when concrete, holding NaN or inf).
    """
    centers = params.centers if isinstance(params, KMeansResult) else params
    if not hasattr(centers, "shape"):
        raise TypeError(
            "`params` must be a KMeansResult or its (k, d) centres; got "
            f"{type(params).__name__}."
        )
    check_array(centers, "params", ndim=2, kind="f")
    check_array(x, "x", ndim=2, kind="f")
    if x.shape[1] != centers.shape[1]:
        raise ValueError(
            f"`x` must have {centers.shape[1]} features (as the centres); got "
            f"shape {tuple(x.shape)}."
        )
    return _predict(jnp.asarray(centers), jnp.asarray(x))


@jax.jit
def _predict(centers, x):
    return jnp.argmin(squared_distances(x, centers), axis=1).astype(jnp.int32)
