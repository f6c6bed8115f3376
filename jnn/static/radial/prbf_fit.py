"""Fitting a probabilistic RBF network in one compiled call, and using it (S5).

:func:`prbf_fit` runs the :func:`jnn.static.prbf` EM learner (model and
updates in :mod:`jnn.static.radial.prbf`) from ``n_init`` initialisations in
one vmapped, jitted :func:`jnn.train.run` (compiled once per setting) and
keeps the best as a :class:`PRBFResult`; :func:`prbf_predict_proba` and
:func:`prbf_predict` check a fitted network and its inputs, then give the class
posteriors and the Bayes decision.
"""

from __future__ import annotations

import functools
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
from jnn.static._api import fitted, trimmed_history
from jnn.static.radial.prbf import (
    PRBFParams,
    _check_settings,
    _check_xy,
    _evaluate,
    log_posterior,
    prbf,
)
from jnn.train import absolute_change_below, run


class PRBFResult(NamedTuple):
    """Output of :func:`prbf_fit` (the best of the restarts).

    Attributes:
      means, covariances, mixing, log_priors: as in :class:`PRBFParams`
        (``params`` bundles them; the predictors take either).
      log_likelihood: mean training ``log P(y_n) p(x_n | y_n)`` of the result.
      iterations: EM iterations run by the best restart.
      converged: whether the best restart met ``tol`` within ``max_iter``.
      history: the best restart's per-iteration ``log_likelihood`` and
        ``accuracy`` (``(iterations,)`` arrays, before each M-step).
    """

    means: jax.Array
    covariances: jax.Array
    mixing: jax.Array
    log_priors: jax.Array
    log_likelihood: float
    iterations: int
    converged: bool
    history: dict[str, np.ndarray]

    @property
    def params(self) -> PRBFParams:
        """The fitted network as :class:`PRBFParams`."""
        return PRBFParams(self.means, self.covariances, self.mixing, self.log_priors)


_log_posterior_jit = jax.jit(log_posterior)


def prbf_fit(
    x: jax.Array,
    y: jax.Array,
    n_kernels: int,
    *,
    key: jax.Array,
    n_classes: int | None = None,
    covariance: str = "diag",
    variance_floor: float = 1e-2,
    init: str = "kmeans",
    max_iter: int = 200,
    tol: float = 1e-4,
    n_init: int = 1,
) -> PRBFResult:
    """Fit a PRBF network by EM; keep the best of ``n_init`` restarts.

    The restarts train in one vmapped :func:`jnn.train.run`; each stops when the
    mean log-likelihood changes by less than ``tol`` or after ``max_iter`` EM
    steps, and the one with the highest training log-likelihood is returned.

    Args:
      x: ``(n, d)`` float inputs.
      y: ``(n,)`` int labels in ``[0, n_classes)``.
      n_kernels: ``M`` shared kernels, at most ``n`` (the model size: the
        third positional argument of a supervised fit).
      key: PRNG key of the initialisations.
      n_classes: ``K`` (default ``max(y) + 1``).
      covariance: ``"spherical"``, ``"diag"`` or ``"full"``.
      variance_floor: lower bound on the variances.
      init: ``"kmeans"`` or ``"random"`` kernel centres.
      max_iter: maximum EM iterations.
      tol: convergence threshold on the change of the mean log-likelihood.
      n_init: number of restarts.

    Returns:
      A :class:`PRBFResult`; :func:`prbf_predict` and
      :func:`prbf_predict_proba` take it (or its ``params``).

    Raises:
      ValueError, TypeError: invalid data or settings (before any tracing),
        e.g. a class in ``[0, n_classes)`` without any example in ``y``.
    """
    n_classes = _check_xy(x, y, n_classes)
    check_positive_int(n_kernels, "n_kernels")
    check_key(key)
    check_positive_int(max_iter, "max_iter")
    check_positive_int(n_init, "n_init")
    check_positive_float(tol, "tol")
    if n_kernels > x.shape[0]:
        raise ValueError(
            f"`n_kernels` must be at most the number of examples ({x.shape[0]}); "
            f"got {n_kernels}."
        )
    _check_settings(n_kernels, n_classes, covariance, variance_floor, init, 10)
    restarts = _restarts(
        n_kernels, n_classes, covariance, float(variance_floor), init, max_iter,
        float(tol),
    )  # fmt: skip
    data = {"x": jnp.asarray(x, jnp.float32), "y": jnp.asarray(y, jnp.int32)}
    params, log_likelihood, n_iter, converged, history = restarts(
        data, jax.random.split(key, n_init)
    )
    if is_concrete(n_iter):  # outside jit: host values, history cut to its length
        n_iter, converged = int(n_iter), bool(converged)
        log_likelihood = float(log_likelihood)
        history = trimmed_history(history, n_iter)
    return PRBFResult(*params, log_likelihood, n_iter, converged, history)


@functools.lru_cache(maxsize=16)
def _restarts(n_kernels, n_classes, covariance, floor, init, max_iter, tol):
    """Jitted ``(data, keys) -> best restart``, one per setting (compiled once)."""
    learner = prbf(
        n_kernels, n_classes, covariance=covariance, variance_floor=floor, init=init
    )
    stop = absolute_change_below(tol, metric="log_likelihood")

    def restarts(data, keys):
        def one(k):
            result = run(learner, data, key=k, epochs=max_iter, stop=stop)
            params = result.state
            converged = jnp.any(result.history["fired"][result.n_epochs - 1])
            history = {k: v for k, v in result.history.items() if k != "fired"}
            log_likelihood = _evaluate(params, data)["log_likelihood"]
            return params, log_likelihood, result.n_epochs, converged, history

        out = jax.vmap(one)(keys)
        log_likelihood = out[1]
        finite = jnp.where(jnp.isfinite(log_likelihood), log_likelihood, -jnp.inf)
        best = jnp.argmax(finite)
        return jax.tree.map(lambda leaf: leaf[best], out)

    return jax.jit(restarts)


def _model(params) -> PRBFParams:
    """``params`` (or a :class:`PRBFResult`'s) checked: shapes, finite values."""
    params = fitted(params, PRBFParams, PRBFResult)
    for field, value in zip(params._fields, params, strict=True):
        check_array(value, f"params.{field}", kind="f")
    m, d = params.means.shape if params.means.ndim == 2 else (-1, -1)
    k = params.log_priors.shape[0] if params.log_priors.ndim == 1 else -1
    cov = {1: (m,), 2: (m, d), 3: (m, d, d)}.get(params.covariances.ndim)
    if (
        m < 0
        or k < 0
        or params.covariances.shape != cov
        or (params.mixing.shape != (m, k))
    ):
        raise ValueError(
            "`params` must hold means (M, d), covariances (M,), (M, d) or "
            "(M, d, d), mixing (M, K) and log_priors (K,); got shapes "
            f"{[tuple(p.shape) for p in params]}."
        )
    return params


def _check_params_x(params, x) -> PRBFParams:
    params = _model(params)
    check_array(x, "x", ndim=2, kind="f")
    if x.shape[1] != params.means.shape[1]:
        raise ValueError(
            f"`x` must have {params.means.shape[1]} features (as the kernel "
            f"means); got {x.shape[1]}."
        )
    return params


def prbf_predict_proba(params, x: jax.Array) -> jax.Array:
    """Class posteriors ``P(k | x)`` of a PRBF network.

    Args:
      params: :class:`PRBFParams` or the :class:`PRBFResult` of
        :func:`prbf_fit`.
      x: ``(n, d)`` float inputs.

    Returns:
      ``(n, K)`` probabilities (rows sum to 1).

    Raises:
      TypeError, ValueError: ``params`` neither (or inconsistent shapes,
        NaN); ``x`` not ``(n, d)`` float with the kernels' ``d``, NaN or inf.
    """
    params = _check_params_x(params, x)
    return jnp.exp(_log_posterior_jit(params, jnp.asarray(x, jnp.float32)))


def prbf_predict(params, x: jax.Array) -> jax.Array:
    """The Bayes decision ``argmax_k P(k | x)``: ``(n, d) -> (n,)`` int.

    Args and errors as :func:`prbf_predict_proba`.
    """
    params = _check_params_x(params, x)
    return jnp.argmax(_log_posterior_jit(params, jnp.asarray(x, jnp.float32)), 1)
