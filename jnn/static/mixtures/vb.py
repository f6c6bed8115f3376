r"""Variational Bayes Gaussian mixture (curriculum S7; Bishop, PRML 2006, §10.2).

Priors: :math:`\pi \sim \mathrm{Dir}(\alpha_0)`, :math:`\mu_k, \Lambda_k \sim
\mathcal N(\mu_k; m_0, (\beta_0\Lambda_k)^{-1})\,\mathcal W(\Lambda_k; W_0, \nu_0)`.
The factorised posterior :math:`q(Z)\,q(\pi)\prod_k q(\mu_k, \Lambda_k)` is
found by coordinate ascent; one iteration (one full-batch learner step) is

* E-step (PRML 10.46-10.49, 10.64-10.66): :math:`\log \rho_{nk} =
  \mathbb E[\log \pi_k] + \tfrac12 \mathbb E[\log|\Lambda_k|] - \tfrac d2 \log 2\pi
  - \tfrac12 (d/\beta_k + \nu_k (x_n - m_k)^T W_k (x_n - m_k))`,
  :math:`r_{nk} = \rho_{nk} / \sum_j \rho_{nj}`;
* M-step (10.58, 10.60-10.63): :math:`\alpha_k = \alpha_0 + N_k`,
  :math:`\beta_k = \beta_0 + N_k`, :math:`m_k = (\beta_0 m_0 + N_k \bar x_k)/\beta_k`,
  :math:`\nu_k = \nu_0 + N_k`, :math:`W_k^{-1} = W_0^{-1} + N_k S_k +
  \frac{\beta_0 N_k}{\beta_0 + N_k} (\bar x_k - m_0)(\cdot)^T`.

Covariances are stored as :math:`W_k^{-1}/\nu_k = \mathbb E[\Lambda_k]^{-1}` and
the ELBO after the M-step is computed exactly as scikit-learn's
``BayesianGaussianMixture`` (``weight_concentration_prior_type=
"dirichlet_distribution"``) does, i.e. up to an additive constant that does not
depend on ``q``, so the two can be compared number for number. The Dirichlet
prior with a small :math:`\alpha_0` drives the expected weight
:math:`\alpha_k / \sum_j \alpha_j` of surplus components towards zero:
they are reported as pruned.

This module holds the posterior's parameters (:class:`VBState`), the updates,
the ELBO and the learner :func:`vb_gmm` with its checks of the priors;
:mod:`jnn.static.mixtures.vb_fit` fits it in one call (:func:`vb_gmm_fit`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma, gammaln, logsumexp

from jnn._checks import check_fraction, check_positive_float, check_positive_int
from jnn.static.mixtures.mixture import (
    GMMParams,
    _log_gaussian_diag,
    _log_gaussian_full,
)
from jnn.static.mixtures.mixture_data import (
    check_choice,
    check_responsibilities,
    check_vb_priors,
    data_matrix,
    initial_resp,
)
from jnn.train import Learner, full_batch

VB_COVARIANCES = ("full", "diag")


class VBPrior(NamedTuple):
    """Hyper-parameters of the priors (scalars, ``(d,)`` and ``(d, d)``/``(d,)``)."""

    weight_concentration: jax.Array  # alpha_0
    mean_precision: jax.Array  # beta_0
    mean: jax.Array  # m_0, (d,)
    degrees_of_freedom: jax.Array  # nu_0
    covariance: jax.Array  # W_0^-1, (d, d) full or (d,) diag


class VBState(NamedTuple):
    """Parameters of the variational posterior (the VB learner's state).

    Attributes:
      weight_concentration: ``(K,)`` Dirichlet ``alpha_k``.
      mean_precision: ``(K,)`` ``beta_k``.
      means: ``(K, d)`` ``m_k``.
      degrees_of_freedom: ``(K,)`` Wishart ``nu_k``.
      covariances: ``(K, d, d)`` or ``(K, d)``: ``W_k^{-1} / nu_k``.
      prior: the :class:`VBPrior` (fixed during training).
    """

    weight_concentration: jax.Array
    mean_precision: jax.Array
    means: jax.Array
    degrees_of_freedom: jax.Array
    covariances: jax.Array
    prior: VBPrior


def expected_weights(state: VBState) -> jax.Array:
    """``(K,)`` posterior mean of the mixing weights, ``alpha_k / sum_j alpha_j``."""
    return state.weight_concentration / jnp.sum(state.weight_concentration)


def _log_gauss(x, state: VBState):
    params = GMMParams(None, state.means, state.covariances)
    if state.covariances.ndim == 3:
        return _log_gaussian_full(x, params)
    return _log_gaussian_diag(x, None, params)


def _log_det_cov(covariances):
    """``(K,)`` log-determinant of the (normalised) covariances."""
    if covariances.ndim == 2:
        return jnp.sum(jnp.log(covariances), axis=1)
    chol = jnp.linalg.cholesky(covariances)
    return 2 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), axis=1)


def _e_step(x, state: VBState):
    """``log r`` ``(n, K)`` under the current ``q`` (PRML 10.46, 10.64-10.66)."""
    d = x.shape[1]
    nu, alpha = state.degrees_of_freedom, state.weight_concentration
    dims = jnp.arange(d, dtype=x.dtype)
    # E[log|Lambda|] = sum_j psi((nu - j)/2) + d log 2 + log|W|; log|W| is in
    # the Gaussian term through covariances = W^-1 / nu.
    log_lambda = d * math.log(2.0) + jnp.sum(
        digamma(0.5 * (nu[:, None] - dims[None, :])), 1
    )
    log_prob = _log_gauss(x, state) - 0.5 * d * jnp.log(nu)[None, :]
    log_prob = log_prob + 0.5 * (log_lambda - d / state.mean_precision)[None, :]
    weighted = log_prob + (digamma(alpha) - digamma(jnp.sum(alpha)))[None, :]
    return weighted - logsumexp(weighted, axis=1)[:, None]


def _m_step(x, resp, prior: VBPrior, reg_covar: float) -> VBState:
    """``q(pi)``, ``q(mu, Lambda)`` from the responsibilities (PRML 10.58-10.63)."""
    nk = jnp.sum(resp, axis=0) + 10 * jnp.finfo(x.dtype).eps
    xk = resp.T @ x / nk[:, None]
    dev = x[:, None, :] - xk[None]  # (n, K, d); unused (dead code) on the fast path
    beta = prior.mean_precision + nk
    means = (prior.mean_precision * prior.mean[None] + nk[:, None] * xk) / beta[:, None]
    nu = prior.degrees_of_freedom + nk
    shrink = nk * prior.mean_precision / beta  # N_k beta_0 / beta_k
    diff = xk - prior.mean[None]
    if prior.covariance.ndim == 2:
        eye = jnp.eye(x.shape[1], dtype=x.dtype)[None]
        scatter = (
            jnp.einsum("nk,nki,nkj->kij", resp, dev, dev)
            + reg_covar * eye * nk[:, None, None]
        )
        outer = diff[:, :, None] * diff[:, None, :]
        cov = prior.covariance[None] + scatter + shrink[:, None, None] * outer
        cov = cov / nu[:, None, None]
    elif x.dtype == jnp.float64:
        # scikit-learn's expansion: sum_n r_nk (x_n - xk)^2 = r^T x^2 - N_k xk^2,
        # a matrix product instead of an (n, K, d) array; exact enough in float64.
        scatter = resp.T @ (x * x) - nk[:, None] * xk**2 + reg_covar * nk[:, None]
        cov = prior.covariance[None] + scatter + shrink[:, None] * diff**2
        cov = cov / nu[:, None]
    else:
        scatter = jnp.einsum("nk,nkd->kd", resp, dev**2) + reg_covar * nk[:, None]
        cov = prior.covariance[None] + scatter + shrink[:, None] * diff**2
        cov = cov / nu[:, None]
    alpha = prior.weight_concentration + nk
    return VBState(alpha, beta, means, nu, cov, prior)


def elbo(log_resp, state: VBState):
    """scikit-learn's lower bound: the ELBO after an M-step, up to a constant.

    ``-sum r log r - sum_k log B(W_k, nu_k) - log C(alpha) - d/2 sum log beta_k``
    with the Wishart and Dirichlet normalisers ``B`` (PRML B.79) and ``C``
    (B.23), the log pi terms of ``B`` omitted (they are constant).
    """
    d = state.means.shape[1]
    nu, alpha = state.degrees_of_freedom, state.weight_concentration
    dims = jnp.arange(d, dtype=nu.dtype)
    log_det_chol = -0.5 * _log_det_cov(state.covariances) - 0.5 * d * jnp.log(nu)
    log_wishart = -(
        nu * log_det_chol
        + nu * d * 0.5 * math.log(2.0)
        + jnp.sum(gammaln(0.5 * (nu[:, None] - dims[None, :])), axis=1)
    )
    log_dirichlet = gammaln(jnp.sum(alpha)) - jnp.sum(gammaln(alpha))
    entropy = -jnp.sum(jnp.exp(log_resp) * log_resp)
    return (
        entropy
        - jnp.sum(log_wishart)
        - log_dirichlet
        - 0.5 * d * jnp.sum(jnp.log(state.mean_precision))
    )


def _default_prior(x, covariance, n_components, given: dict) -> VBPrior:
    """scikit-learn's defaults: 1/K, 1, data mean, d, data (co)variance."""
    d = x.shape[1]
    if covariance == "full":
        centred = x - jnp.mean(x, axis=0)[None]
        cov0 = centred.T @ centred / (x.shape[0] - 1)
    else:
        cov0 = jnp.var(x, axis=0, ddof=1)
    values = {
        "weight_concentration": 1.0 / n_components,
        "mean_precision": 1.0,
        "mean": jnp.mean(x, axis=0),
        "degrees_of_freedom": float(d),
        "covariance": cov0,
    }
    values.update({k: v for k, v in given.items() if v is not None})
    return VBPrior(**{k: jnp.asarray(v, x.dtype) for k, v in values.items()})


def vb_gmm(
    n_components: int,
    *,
    covariance: str = "full",
    weight_concentration_prior: float | None = None,
    mean_precision_prior: float | None = None,
    mean_prior=None,
    degrees_of_freedom_prior: float | None = None,
    covariance_prior=None,
    reg_covar: float = 1e-6,
    init="points",
    prune_threshold: float = 0.01,
) -> Learner:
    """Variational Bayes for a Gaussian mixture as a full-batch learner.

    Priors default to scikit-learn's (``None``): ``alpha_0 = 1/K``,
    ``beta_0 = 1``, ``m_0`` the data mean, ``nu_0 = d``, ``W_0^{-1}`` the data
    covariance (``ddof=1``; the variances for ``"diag"``).

    Args:
      n_components: ``K``, an upper bound on the components used.
      covariance: ``"full"`` or ``"diag"``.
      weight_concentration_prior: ``alpha_0``; small values prune.
      mean_precision_prior: ``beta_0``.
      mean_prior: ``(d,)`` ``m_0``.
      degrees_of_freedom_prior: ``nu_0 > d - 1``.
      covariance_prior: ``(d, d)`` (full) or ``(d,)`` (diag) ``W_0^{-1}``.
      reg_covar: added to the diagonal of each ``S_k``.
      init: ``"points"``, ``"random"`` or an ``(n, K)`` array of starting
        responsibilities (then one M-step, as scikit-learn).
      prune_threshold: components with expected weight below it are pruned.

    Returns:
      A learner on ``{"x": (n, d)}`` with state :class:`VBState` and metrics
      ``elbo`` (total, up to a constant) and ``active_components``. Its
      ``check`` refuses priors and starting responsibilities that do not fit
      the training data (shapes, NaN, a covariance prior that is not positive
      definite, ``nu_0 <= d - 1``).
    """
    check_positive_int(n_components, "n_components")
    check_choice(covariance, VB_COVARIANCES, "covariance")
    check_positive_float(reg_covar, "reg_covar")
    check_fraction(prune_threshold, "prune_threshold")
    for name, value in (
        ("weight_concentration_prior", weight_concentration_prior),
        ("mean_precision_prior", mean_precision_prior),
        ("degrees_of_freedom_prior", degrees_of_freedom_prior),
    ):
        if value is not None:
            check_positive_float(value, name)
    _check_init(init)
    given = {
        "weight_concentration": weight_concentration_prior,
        "mean_precision": mean_precision_prior,
        "mean": mean_prior,
        "degrees_of_freedom": degrees_of_freedom_prior,
        "covariance": covariance_prior,
    }
    _check_array_priors(given, covariance)

    def init_fn(key, batch):
        x = batch["x"]
        prior = _default_prior(x, covariance, n_components, given)
        resp = initial_resp(init, key, x, None, n_components)
        return _m_step(x, resp, prior, reg_covar)

    def update(state, batch, key):
        x = batch["x"]
        log_resp = _e_step(x, state)
        new = _m_step(x, jnp.exp(log_resp), state.prior, reg_covar)
        active = jnp.sum(expected_weights(new) >= prune_threshold)
        return new, {"elbo": elbo(log_resp, new), "active_components": active}

    def check(data, name: str) -> None:
        x = data_matrix(data, name)
        check_vb_priors(given, covariance, x.shape[1])
        if name == "train":
            check_responsibilities(init, x.shape[0], n_components)

    return Learner(init_fn, update, plan=full_batch(), check=check)


def _check_array_priors(given: dict, covariance: str) -> None:
    """``m_0`` and ``W_0^{-1}`` before the data: the shapes must agree (``d``)."""
    for key in ("mean", "covariance"):
        value = given[key]
        if value is not None and not hasattr(value, "shape"):
            raise TypeError(
                f"`{key}_prior` must be an array; got {type(value).__name__}."
            )
    shape = np.shape(given["mean"]) or np.shape(given["covariance"])[-1:]
    if shape and len(shape) == 1:  # d is known: check against it
        check_vb_priors(given, covariance, shape[0])
    elif given["mean"] is not None:
        raise ValueError(
            f"`mean_prior` must have shape (d,); got {np.shape(given['mean'])}."
        )


def _check_init(init) -> None:
    if isinstance(init, str):
        check_choice(init, ("points", "random"), "init")
    elif not hasattr(init, "shape"):
        raise TypeError(
            "`init` must be 'points', 'random' or an (n, K) array of "
            f"responsibilities; got {type(init).__name__}."
        )
