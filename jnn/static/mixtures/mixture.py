r"""Gaussian mixtures by expectation-maximisation, with missing data (curriculum S6).

The model is :math:`p(x) = \sum_k \pi_k \mathcal N(x; \mu_k, \Sigma_k)` with a
full, diagonal or spherical :math:`\Sigma_k`. One EM iteration (Dempster, Laird
& Rubin 1977) is one full-batch step of a :class:`jnn.train.Learner`:

* E-step: :math:`r_{ik} \propto \pi_k \mathcal N(x_i; \mu_k, \Sigma_k)` and the
  mean log-likelihood :math:`\frac1n \sum_i \log \sum_k \pi_k \mathcal N(\cdot)`
  at the parameters *before* the M-step (scikit-learn's ``lower_bound_``).
* M-step: :math:`N_k = \sum_i r_{ik}`, :math:`\pi_k = N_k / n`,
  :math:`\mu_k = \sum_i r_{ik} \hat x_{ik} / N_k`,
  :math:`\Sigma_k = \sum_i r_{ik} [(\hat x_{ik} - \mu_k)(\cdot)^T + C_{ik}] / N_k
  + \epsilon I`.

Missing values (ML estimation with missing data: Ghahramani & Jordan 1994;
Little & Rubin 2002, ch. 8): with ``o`` the observed and ``m`` the missing
coordinates of a row, the E-step uses the marginal density
:math:`\mathcal N(x_o; \mu_o, \Sigma_{oo})` and the M-step the conditional moments
:math:`\hat x_m = \mu_m + \Sigma_{mo}\Sigma_{oo}^{-1}(x_o - \mu_o)`,
:math:`C_{mm} = \Sigma_{mm} - \Sigma_{mo}\Sigma_{oo}^{-1}\Sigma_{om}` (zero
elsewhere). The sub-block is handled by masking: with :math:`M = \mathrm{diag}(o)`,
:math:`\Sigma' = M\Sigma M + (I - M)` is block diagonal, so
:math:`|\Sigma'| = |\Sigma_{oo}|`, :math:`\Sigma'^{-1}` holds
:math:`\Sigma_{oo}^{-1}` and an identity block, and with
:math:`P = M\Sigma'^{-1}M`: :math:`\hat x = \mu + \Sigma P (x - \mu)` and
:math:`C = \Sigma - \Sigma P \Sigma` exactly. That costs one Cholesky factor
per row and component (``O(n K d^3)``) for full covariances; diagonal and
spherical ones just skip the missing coordinates.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from jnn._checks import (
    check_key,
    check_positive_float,
    check_positive_int,
)
from jnn.static._api import deprecated_alias
from jnn.static.mixtures.mixture_data import (
    as_data,
    check_choice,
    check_params,
    em_data_check,
    initial_resp,
    mean_filled,
)
from jnn.train import (
    Learner,
    TrainingDiverged,
    absolute_change_below,
    fit,
    full_batch,
)

COVARIANCES = ("full", "diag", "spherical")
INITS = ("points", "random")
KINDS = {3: "full", 2: "diag", 1: "spherical"}  # covariance rank -> type
LOG_2PI = math.log(2 * math.pi)


class GMMParams(NamedTuple):
    """Parameters of a Gaussian mixture (the EM learner's state).

    Attributes:
      weights: ``(K,)`` mixing proportions, summing to one.
      means: ``(K, d)`` component means.
      covariances: ``(K, d, d)`` full, ``(K, d)`` diagonal or ``(K,)``
        spherical covariances.
    """

    weights: jax.Array
    means: jax.Array
    covariances: jax.Array


class GMMResult(NamedTuple):
    """Output of :func:`gmm_fit`.

    Attributes:
      weights: ``(K,)`` mixing proportions.
      means: ``(K, d)`` means.
      covariances: covariances as in :class:`GMMParams`.
      log_likelihood: mean per-sample log-likelihood of the last E-step (at
        the parameters before the last M-step, as scikit-learn's
        ``lower_bound_``).
      iterations: EM iterations run (``n_iter`` is its deprecated name).
      converged: whether the tolerance was reached before ``max_iter``.
      history: per-iteration ``{"log_likelihood": (iterations,) array}``.
    """

    weights: jax.Array
    means: jax.Array
    covariances: jax.Array
    log_likelihood: float
    iterations: int
    converged: bool
    history: dict[str, np.ndarray]

    @property
    def params(self) -> GMMParams:
        """The fitted parameters as :class:`GMMParams`."""
        return GMMParams(self.weights, self.means, self.covariances)

    n_iter = deprecated_alias("n_iter", "iterations")


# --- densities -----------------------------------------------------------------


def _variances(params: GMMParams) -> jax.Array:
    """``(K, d)`` per-coordinate variances of a diagonal or spherical model."""
    cov = params.covariances
    if cov.ndim == 1:
        return jnp.broadcast_to(cov[:, None], params.means.shape)
    return cov


def _log_gaussian_diag(x, observed, params):
    """``(n, K)`` log N(x_o; mu_o, diag(var)_oo) summed over observed coordinates."""
    var = _variances(params)
    if observed is None and x.dtype == jnp.float64:
        # scikit-learn's expansion, three (n, d) x (d, K) products: fast, and in
        # float64 its cancellation is harmless (in float32 it is not, below).
        precision = 1.0 / var
        quad = (
            jnp.sum(params.means**2 * precision, axis=1)[None, :]
            - 2.0 * x @ (params.means * precision).T
            + (x * x) @ precision.T
        )
        log_det = jnp.sum(jnp.log(var), axis=1)[None, :]
        return -0.5 * (x.shape[1] * LOG_2PI + log_det + quad)
    terms = (x[:, None, :] - params.means[None]) ** 2 / var[None] + jnp.log(var)[None]
    if observed is not None:
        terms = terms * observed[:, None, :]
        n_obs = jnp.sum(observed, axis=1)[:, None]
    else:
        n_obs = x.shape[1]
    return -0.5 * (n_obs * LOG_2PI + jnp.sum(terms, axis=2))


def _log_gaussian_full(x, params):
    """``(n, K)`` log N(x; mu_k, Sigma_k) through one Cholesky factor per component."""
    chol = jnp.linalg.cholesky(params.covariances)  # (K, d, d)
    diff = x[None, :, :] - params.means[:, None, :]  # (K, n, d)
    z = solve_triangular(chol, jnp.swapaxes(diff, 1, 2), lower=True)  # (K, d, n)
    log_det = 2 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), axis=1)
    quad = jnp.sum(z**2, axis=1).T  # (n, K)
    return -0.5 * (x.shape[1] * LOG_2PI + log_det[None, :] + quad)


class _Masked(NamedTuple):
    """E-step terms of full covariances with missing data (per row and component)."""

    log_prob: jax.Array  # (n, K)
    x_hat: jax.Array  # (n, K, d) E[x | x_o, component k]
    inverse: jax.Array  # (n, K, d, d) P = M Sigma'^-1 M


def _masked_full(x, observed, params) -> _Masked:
    """Marginal densities and conditional moments by the masked Cholesky factor."""
    d = x.shape[1]
    cov = params.covariances[None]  # (1, K, d, d)
    outer = observed[:, None, :, None] * observed[:, None, None, :]  # (n, 1, d, d)
    eye = jnp.eye(d, dtype=x.dtype)[None, None]
    masked = outer * cov + eye * (1 - observed)[:, None, None, :]
    chol = jnp.linalg.cholesky(masked)  # (n, K, d, d)
    diff = observed[:, None, :] * (x[:, None, :] - params.means[None])  # (n, K, d)
    z = solve_triangular(chol, diff[..., None], lower=True)[..., 0]
    log_det = 2 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=2, axis2=3)), axis=2)
    n_obs = jnp.sum(observed, axis=1)[:, None]
    log_prob = -0.5 * (n_obs * LOG_2PI + log_det + jnp.sum(z**2, axis=2))
    inv_chol = solve_triangular(chol, jnp.broadcast_to(eye, chol.shape), lower=True)
    inverse = outer * jnp.einsum("nkji,nkjl->nkil", inv_chol, inv_chol)
    shift = jnp.einsum("kij,nkjl,nkl->nki", params.covariances, inverse, diff)
    x_hat = jnp.where(
        observed[:, None, :] > 0, x[:, None, :], params.means[None] + shift
    )
    return _Masked(log_prob, x_hat, inverse)


def _component_log_prob(x, observed, params, kind: str):
    """``(n, K)`` log N and, for full covariances with missing data, the moments."""
    if kind != "full":
        return _log_gaussian_diag(x, observed, params), None
    if observed is None:
        return _log_gaussian_full(x, params), None
    masked = _masked_full(x, observed, params)
    return masked.log_prob, masked


# --- EM steps ------------------------------------------------------------------


def _counts(resp):
    # scikit-learn's 10 eps keeps empty components finite.
    return jnp.sum(resp, axis=0) + 10 * jnp.finfo(resp.dtype).eps


def _m_step_full(x, resp, reg_covar, masked: _Masked | None, old: GMMParams):
    nk = _counts(resp)
    if masked is None:
        x_hat, means = x[:, None, :], resp.T @ x / nk[:, None]
    else:
        x_hat = masked.x_hat
        means = jnp.einsum("nk,nkd->kd", resp, x_hat) / nk[:, None]
    dev = x_hat - means[None]
    scatter = jnp.einsum("nk,nki,nkj->kij", resp, dev, dev)
    if masked is not None:  # sum_i r_ik C_ik = N_k Sigma_k - Sigma_k R_k Sigma_k
        weighted = jnp.einsum("nk,nkij->kij", resp, masked.inverse)
        cov = old.covariances
        scatter = scatter + nk[:, None, None] * cov - cov @ weighted @ cov
    # Exactly symmetric: ``cov @ weighted @ cov`` is not in float rounding
    # (5e-6 on the digits with 20 % missing, float32), and the covariances
    # are checked for symmetry wherever they are passed back in.
    scatter = 0.5 * (scatter + jnp.swapaxes(scatter, -1, -2))
    eye = jnp.eye(x.shape[1], dtype=x.dtype)[None]
    return means, scatter / nk[:, None, None] + reg_covar * eye


def _m_step_diag(x, observed, resp, reg_covar, old: GMMParams):
    nk = _counts(resp)
    if observed is None and x.dtype == jnp.float64:  # scikit-learn's expansion
        means = resp.T @ x / nk[:, None]
        second = resp.T @ (x * x) / nk[:, None]
        var = second - 2.0 * means * (resp.T @ x) / nk[:, None] + means**2
        return means, var + reg_covar
    if observed is None:
        means = resp.T @ x / nk[:, None]
        sq = (x[:, None, :] - means[None]) ** 2
        return means, jnp.einsum("nk,nkd->kd", resp, sq) / nk[:, None] + reg_covar
    missing = resp.T @ (1 - observed)  # (K, d) responsibility mass of missing cells
    means = (resp.T @ x + old.means * missing) / nk[:, None]
    sq = observed[:, None, :] * (x[:, None, :] - means[None]) ** 2
    fill = ((old.means - means) ** 2 + _variances(old)) * missing
    return means, (jnp.einsum("nk,nkd->kd", resp, sq) + fill) / nk[:, None] + reg_covar


def m_step(x, observed, resp, params: GMMParams, kind: str, reg_covar: float, masked):
    """New parameters from responsibilities ``resp`` ``(n, K)`` (see module doc)."""
    nk = _counts(resp)
    if kind == "full":
        means, cov = _m_step_full(x, resp, reg_covar, masked, params)
    else:
        means, cov = _m_step_diag(x, observed, resp, reg_covar, params)
        cov = jnp.mean(cov, axis=1) if kind == "spherical" else cov
    return GMMParams(nk / jnp.sum(nk), means, cov)


def e_step(x, observed, params: GMMParams, kind: str):
    """Responsibilities ``(n, K)``, per-row log-likelihood ``(n,)``, moments."""
    log_prob, masked = _component_log_prob(x, observed, params, kind)
    weighted = log_prob + jnp.log(params.weights)[None, :]
    # One pass of exp serves both the normaliser and the responsibilities
    # (logsumexp followed by exp(weighted - norm) would take two).
    top = jnp.max(weighted, axis=1)
    scaled = jnp.exp(weighted - top[:, None])
    total = jnp.sum(scaled, axis=1)
    return scaled / total[:, None], top + jnp.log(total), masked


def _unpack(batch):
    """``x`` and the observed mask as floats (None when the data are complete)."""
    x = batch["x"]
    observed = batch.get("observed")
    return x, None if observed is None else observed.astype(x.dtype)


# --- the learner and the public functions --------------------------------------


def gmm_em(
    n_components: int,
    covariance: str = "full",
    *,
    reg_covar: float = 1e-6,
    init: str | GMMParams = "points",
) -> Learner:
    """EM for a Gaussian mixture as a full-batch :class:`jnn.train.Learner`.

    Train with ``jnn.train.fit(learner, data, key=..., epochs=max_iter,
    stop=absolute_change_below(tol, metric="log_likelihood"))`` (one epoch is
    one EM iteration; this is scikit-learn's stopping rule and count).

    Args:
      n_components: ``K``.
      covariance: ``"full"``, ``"diag"`` or ``"spherical"``.
      reg_covar: ``epsilon`` added to the covariances' diagonal.
      init: ``"points"``, ``"random"`` (responsibilities, then one M-step) or
        initial :class:`GMMParams`.

    Returns:
      A learner on ``{"x": (n, d) float}`` or ``{"x": (n, d) float with missing
      cells set to 0, "observed": (n, d) bool}``; state :class:`GMMParams`,
      metrics ``{"log_likelihood"}``, evaluate gives the held-out
      ``log_likelihood`` (marginal over missing cells). Its ``check`` refuses
      initial :class:`GMMParams` that do not fit the data (shapes, NaN,
      covariances that are not positive definite) and training data with a
      column that is never observed.
    """
    check_positive_int(n_components, "n_components")
    check_positive_float(reg_covar, "reg_covar")
    check_choice(covariance, COVARIANCES, "covariance")
    if isinstance(init, GMMParams):
        # Everything but the data's d: the means' columns stand in for it.
        d = np.shape(init.means)[-1] if np.ndim(init.means) == 2 else 0
        check_params(init, covariance, n_components, d)
        learner = _em_learner(n_components, covariance, reg_covar, "given", init)
        return learner._replace(check=em_data_check(n_components, covariance, init))
    check_choice(init, INITS, "init")
    return _cached_learner(n_components, covariance, reg_covar, init)


@functools.lru_cache(maxsize=32)
def _cached_learner(n_components, covariance, reg_covar, init):
    # One learner object per setting, so that the engine reuses its compilation.
    learner = _em_learner(n_components, covariance, reg_covar, init, None)
    return learner._replace(check=em_data_check(n_components, covariance, None))


def _em_learner(n_components, kind, reg_covar, init, given) -> Learner:
    def init_fn(key, batch):
        x, observed = _unpack(batch)
        if given is not None:
            return GMMParams(*(jnp.asarray(p, x.dtype) for p in given))
        resp = initial_resp(init, key, x, observed, n_components)
        d = x.shape[1]
        shape = {"full": (n_components, d, d), "diag": (n_components, d)}
        dummy = GMMParams(
            resp[0],
            jnp.zeros((n_components, d), x.dtype),
            jnp.ones(shape.get(kind, (n_components,)), x.dtype),
        )
        return m_step(
            mean_filled(x, observed), None, resp, dummy, kind, reg_covar, None
        )

    def update(params, batch, key):
        x, observed = _unpack(batch)
        resp, norm, masked = e_step(x, observed, params, kind)
        new = m_step(x, observed, resp, params, kind, reg_covar, masked)
        return new, {"log_likelihood": jnp.mean(norm)}

    def evaluate(params, data):
        x, observed = _unpack(data)
        return {"log_likelihood": jnp.mean(e_step(x, observed, params, kind)[1])}

    return Learner(init_fn, update, evaluate, plan=full_batch())


def gmm_fit(
    x,
    n_components: int,
    *,
    key: jax.Array,
    covariance: str = "full",
    tol: float = 1e-3,
    max_iter: int = 100,
    reg_covar: float = 1e-6,
    init: str | GMMParams = "points",
) -> GMMResult:
    """Fit a Gaussian mixture by EM; NaN cells are missing (marginalised out).

    Args:
      x: ``(n, d)`` float data; NaN marks a missing value.
      n_components: ``K``.
      key: PRNG key of the initialisation.
      covariance: ``"full"``, ``"diag"`` or ``"spherical"``.
      tol: stop when the mean log-likelihood changes by less than ``tol``.
      max_iter: most EM iterations.
      reg_covar: ``epsilon`` added to the covariances' diagonal.
      init: ``"points"``, ``"random"`` or initial :class:`GMMParams` (e.g.
        scikit-learn's ``weights_init``, ``means_init`` and the inverse of its
        ``precisions_init``).

    Returns:
      A :class:`GMMResult`; :func:`gmm_predict` and :func:`gmm_predict_proba`
      take it (or its ``params``).

    Raises:
      ValueError, TypeError: bad ``x`` (infinite values, an all-NaN row or
        column), settings or ``key``; initial :class:`GMMParams` of the wrong
        shape, with NaN, non-positive weights or covariances that are not
        positive definite.
      TrainingDiverged: EM produced a non-finite log-likelihood (a component
        collapsed: raise ``reg_covar``); ``.result`` holds the last good state.

    Example:
      >>> result = gmm_fit(x, 3, key=jax.random.key(0), covariance="diag")
    """
    data = as_data(x, observed_columns=True)
    check_positive_int(n_components, "n_components")
    check_key(key)
    check_positive_int(max_iter, "max_iter")
    check_positive_float(tol, "tol")
    check_positive_float(reg_covar, "reg_covar")
    n, d = data["x"].shape
    if n_components > n:
        raise ValueError(f"`n_components` ({n_components}) must be <= n ({n}).")
    check_choice(covariance, COVARIANCES, "covariance")
    if isinstance(init, GMMParams):
        check_params(init, covariance, n_components, d)
    elif not isinstance(init, str):
        raise TypeError(
            f"`init` must be one of {INITS} or GMMParams; got {type(init).__name__}."
        )
    learner = gmm_em(n_components, covariance, reg_covar=reg_covar, init=init)
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
            f"EM diverged in iteration {result.epochs}: the log-likelihood "
            "became non-finite (a component collapsed onto a few points). Raise "
            f"`reg_covar` (now {reg_covar:g}), use fewer `n_components` or "
            "another `init`; `.result` holds the last finite parameters.",
            result,
        )
    ll = result.history["log_likelihood"]
    return GMMResult(
        *result.state,
        float(ll[-1]),
        result.epochs,
        result.reason != "epochs",
        result.history,
    )


@functools.lru_cache(maxsize=32)
def _convergence(tol: float):
    # One stop object per tolerance, so that the engine reuses its compilation.
    return absolute_change_below(tol, metric="log_likelihood")
