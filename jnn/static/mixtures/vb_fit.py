"""Fitting a variational Bayes Gaussian mixture in one call (S7).

:func:`vb_gmm_fit` checks the data, settings and priors, runs the
:func:`jnn.static.vb_gmm` learner (updates and ELBO in
:mod:`jnn.static.mixtures.vb`) with :func:`jnn.train.fit` until the ELBO
settles, and returns a :class:`VBResult`; the learner and its stopping rule are
cached per setting so that repeated fits reuse one compilation.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import numpy as np

from jnn._checks import (
    check_fraction,
    check_key,
    check_positive_float,
    check_positive_int,
)
from jnn.static._api import deprecated_alias
from jnn.static.mixtures.mixture_data import (
    as_data,
    check_choice,
    check_responsibilities,
    check_vb_priors,
)
from jnn.static.mixtures.vb import (
    VB_COVARIANCES,
    VBState,
    _check_init,
    expected_weights,
    vb_gmm,
)
from jnn.train import TrainingDiverged, absolute_change_below, fit


class VBResult(NamedTuple):
    """Output of :func:`vb_gmm_fit`.

    Attributes:
      weights: ``(K,)`` expected weights ``alpha_k / sum(alpha)``.
      means: ``(K, d)`` posterior means ``m_k``.
      covariances: ``E[Lambda_k]^{-1}``, ``(K, d, d)`` or ``(K, d)``.
      active: ``(K,)`` bool, expected weight >= ``prune_threshold``.
      elbo: the last lower bound (scikit-learn's ``lower_bound_``).
      iterations: iterations run (``n_iter`` is its deprecated name).
      converged: whether ``tol`` was reached before ``max_iter``.
      history: per iteration ``elbo`` and ``active_components``.
      state: the final :class:`VBState` (also ``params``, what
        :func:`vb_gmm_predict` takes).
    """

    weights: jax.Array
    means: jax.Array
    covariances: jax.Array
    active: np.ndarray
    elbo: float
    iterations: int
    converged: bool
    history: dict[str, np.ndarray]
    state: VBState

    @property
    def params(self) -> VBState:
        """The variational posterior, :class:`VBState` (same as ``state``)."""
        return self.state

    n_iter = deprecated_alias("n_iter", "iterations")


def vb_gmm_fit(
    x,
    n_components: int,
    *,
    key: jax.Array,
    covariance: str = "full",
    tol: float = 1e-3,
    max_iter: int = 100,
    prune_threshold: float = 0.01,
    init="points",
    **priors,
) -> VBResult:
    """Fit a variational Bayes Gaussian mixture; see :func:`vb_gmm`.

    ``tol`` applies to the change of the total ELBO, as in scikit-learn. In
    float32 the total of ``n`` per-sample terms carries a rounding error of
    about ``1e-7 n`` times their size: for large ``n`` raise ``tol`` or enable
    x64 (``with jax.enable_x64(True): ...``).

    Args:
      x: ``(n, d)`` complete data (no NaN).
      n_components: ``K``.
      key: PRNG key of the initialisation.
      covariance: ``"full"`` or ``"diag"``.
      tol: stop when the ELBO changes by less than ``tol``.
      max_iter: most iterations.
      prune_threshold: expected weight below which a component is pruned.
      init: ``"points"``, ``"random"`` or ``(n, K)`` responsibilities.
      **priors: ``weight_concentration_prior``, ``mean_precision_prior``,
        ``mean_prior``, ``degrees_of_freedom_prior``, ``covariance_prior``,
        ``reg_covar`` (see :func:`vb_gmm`).

    Returns:
      A :class:`VBResult`; :func:`vb_gmm_predict` and
      :func:`vb_gmm_predict_proba` take it (or its ``state``).

    Raises:
      ValueError, TypeError: bad ``x`` (NaN, inf), settings or ``key``;
        priors of the wrong shape, with NaN or out of range (``nu_0 <= d - 1``,
        a covariance prior that is not positive definite); ``init``
        responsibilities of the wrong shape, negative, NaN or whose rows do
        not sum to 1.
      TrainingDiverged: the ELBO became non-finite; ``.result`` holds the last
        good state.
    """
    data = as_data(x, allow_missing=False)
    n, d = data["x"].shape
    check_positive_int(n_components, "n_components")
    check_key(key)
    check_positive_int(max_iter, "max_iter")
    check_positive_float(tol, "tol")
    check_choice(covariance, VB_COVARIANCES, "covariance")
    check_fraction(prune_threshold, "prune_threshold")
    _check_init(init)
    if n_components > n:
        raise ValueError(f"`n_components` ({n_components}) must be <= n ({n}).")
    given = {k.removesuffix("_prior"): v for k, v in priors.items()}
    check_vb_priors(given, covariance, d)
    check_responsibilities(init, n, n_components)
    learner = _learner(n_components, covariance, prune_threshold, init, priors)
    result = fit(
        learner,
        data,
        key=key,
        epochs=max_iter,
        stop=_convergence(float(tol)),
        progress=False,
        throw=False,
    )
    if result.reason == "diverged":
        raise TrainingDiverged(
            f"variational Bayes diverged in iteration {result.epochs}: the ELBO "
            "became non-finite. Raise `reg_covar` or the covariance prior; "
            "`.result` holds the last finite state.",
            result,
        )
    state = result.state
    weights = expected_weights(state)
    return VBResult(
        weights,
        state.means,
        state.covariances,
        np.asarray(weights >= prune_threshold),
        float(result.history["elbo"][-1]),
        result.epochs,
        result.reason != "epochs",
        result.history,
        state,
    )


def _learner(n_components, covariance, prune_threshold, init, priors):
    if isinstance(init, str) and all(np.ndim(v) == 0 for v in priors.values()):
        return _cached(n_components, covariance, prune_threshold, init, **priors)
    return vb_gmm(
        n_components,
        covariance=covariance,
        init=init,
        prune_threshold=prune_threshold,
        **priors,
    )


@functools.lru_cache(maxsize=32)
def _cached(n_components, covariance, prune_threshold, init, **priors):
    # One learner object per setting, so that the engine reuses its compilation.
    return vb_gmm(
        n_components,
        covariance=covariance,
        init=init,
        prune_threshold=prune_threshold,
        **priors,
    )


@functools.lru_cache(maxsize=32)
def _convergence(tol: float):
    # One stop object per tolerance, so that the engine reuses its compilation.
    return absolute_change_below(tol, metric="elbo")
