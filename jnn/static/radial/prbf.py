r"""The probabilistic RBF network (curriculum S5): shared kernels trained by EM.

Titsias & Likas (2001), "Shared kernel models for class-conditional density
estimation", IEEE Transactions on Neural Networks 12(5), 987-997. ``M``
Gaussian kernels are shared by all ``K`` classes; each class mixes them with
its own weights:

.. math:: p(x \mid k) = \sum_{j=1}^{M} \pi_{jk}\, \mathcal N(x; \mu_j, \Sigma_j),
          \qquad \pi_{jk} \ge 0,\ \sum_j \pi_{jk} = 1,

and the network outputs the class posteriors by Bayes' rule,

.. math:: P(k \mid x) = \frac{P(k)\, p(x \mid k)}{\sum_{k'} P(k')\, p(x \mid k')},

with the priors ``P(k)`` the class frequencies of the training set. Training
maximises the likelihood of the labelled data, ``sum_n log P(y_n) p(x_n|y_n)``,
by EM: the E-step's responsibility of kernel ``j`` for example ``n`` uses the
example's own class, ``r_nj ∝ π_{j,y_n} N(x_n; μ_j, Σ_j)``; the M-step sets
``π_jk = sum_{n: y_n=k} r_nj / N_k`` class by class and re-estimates every
kernel's mean and covariance from the examples of all classes.

Covariances are ``"spherical"`` (``σ_j² I``), ``"diag"`` or ``"full"``. A
variance floor keeps kernels from collapsing onto single points: variances
(eigenvalues for ``"full"``) below it are raised to it. That is the exact
maximiser of the M-step under the constraint ``Σ_j ⪰ floor·I``, so the
log-likelihood still never decreases.

This module holds the model (:class:`PRBFParams`, the kernel and class
densities, :func:`log_posterior`) and its EM learner :func:`prbf`;
:mod:`jnn.static.radial.prbf_fit` fits it with restarts in one compiled call
and predicts with the result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import logsumexp

from jnn._checks import check_array, check_positive_float, check_positive_int
from jnn.static.backprop.calibration import calibration_error, check_labels
from jnn.static.mixtures.kmeans import kmeans
from jnn.train import Learner, full_batch, run

COVARIANCES = ("spherical", "diag", "full")
INITIALISATIONS = ("kmeans", "random")
_LOG_2PI = math.log(2 * math.pi)


class PRBFParams(NamedTuple):
    """Parameters of a probabilistic RBF network (also the learner's state).

    Attributes:
      means: ``(M, d)`` kernel centres ``μ_j``.
      covariances: ``(M,)`` variances (spherical), ``(M, d)`` (diagonal) or
        ``(M, d, d)`` matrices (full); the rank says which.
      mixing: ``(M, K)`` class-specific weights ``π_jk``; each column sums to 1.
      log_priors: ``(K,)`` log class priors ``log P(k)``.
    """

    means: jax.Array
    covariances: jax.Array
    mixing: jax.Array
    log_priors: jax.Array


def _covariance_type(covariances: jax.Array) -> str:
    return COVARIANCES[covariances.ndim - 1]


def kernel_log_density(params: PRBFParams, x: jax.Array) -> jax.Array:
    """``log N(x_n; μ_j, Σ_j)`` of every example under every kernel.

    Args:
      params: the network.
      x: ``(n, d)`` inputs.

    Returns:
      ``(n, M)`` log densities.
    """
    means, cov = params.means, params.covariances
    d = means.shape[1]
    diff = x[:, None, :] - means[None, :, :]  # (n, M, d)
    kind = _covariance_type(cov)
    if kind == "spherical":
        maha = jnp.sum(diff**2, axis=-1) / cov[None, :]
        log_det = d * jnp.log(cov)
    elif kind == "diag":
        maha = jnp.sum(diff**2 / cov[None, :, :], axis=-1)
        log_det = jnp.sum(jnp.log(cov), axis=-1)
    else:
        chol = jnp.linalg.cholesky(cov)  # (M, d, d)

        def whiten(chol_j, diff_j):  # (d, d), (n, d) -> (n,)
            z = solve_triangular(chol_j, diff_j.T, lower=True)
            return jnp.sum(z**2, axis=0)

        maha = jax.vmap(whiten, in_axes=(0, 1), out_axes=1)(chol, diff)
        log_det = 2 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), -1)
    return -0.5 * (maha + log_det[None, :] + d * _LOG_2PI)


def class_log_density(params: PRBFParams, x: jax.Array) -> jax.Array:
    """``log p(x_n | k) = log sum_j π_jk N(x_n; μ_j, Σ_j)``: ``(n, d) -> (n, K)``."""
    log_kernel = kernel_log_density(params, x)
    return logsumexp(
        log_kernel[:, :, None] + jnp.log(params.mixing)[None, :, :], axis=1
    )


def log_posterior(params: PRBFParams, x: jax.Array) -> jax.Array:
    """``log P(k | x_n)`` by Bayes' rule, without input checks: ``(n, K)``."""
    joint = class_log_density(params, x) + params.log_priors[None, :]
    return joint - logsumexp(joint, axis=1, keepdims=True)


def _e_step(params: PRBFParams, x: jax.Array, y: jax.Array):
    """Responsibilities ``r_nj`` given each example's class, and ``log p(x_n|y_n)``."""
    joint = kernel_log_density(params, x) + jnp.log(params.mixing).T[y]  # (n, M)
    log_px_y = logsumexp(joint, axis=1)
    return jnp.exp(joint - log_px_y[:, None]), log_px_y


def _floor_eigenvalues(cov: jax.Array, floor: float) -> jax.Array:
    """The nearest-in-likelihood covariance with eigenvalues >= ``floor``."""
    values, vectors = jnp.linalg.eigh(0.5 * (cov + jnp.swapaxes(cov, -1, -2)))
    values = jnp.maximum(values, floor)
    return jnp.einsum("mij,mj,mkj->mik", vectors, values, vectors)


def _update_kernels(x, resp, means, covariances, floor: float):
    """M-step for the shared kernels: weighted means and floored covariances."""
    kind = _covariance_type(covariances)
    weight = jnp.sum(resp, axis=0)  # (M,)
    alive = weight > 1e-6  # a kernel no example uses keeps its parameters
    safe = jnp.where(alive, weight, 1.0)
    new_means = (resp.T @ x) / safe[:, None]
    diff = x[:, None, :] - new_means[None, :, :]  # (n, M, d)
    if kind == "full":
        scatter = jnp.einsum("nm,nmi,nmj->mij", resp, diff, diff)
        new_cov = _floor_eigenvalues(scatter / safe[:, None, None], floor)
    else:
        diag = jnp.einsum("nm,nmi->mi", resp, diff**2) / safe[:, None]
        if kind == "spherical":
            diag = jnp.mean(diag, axis=1)
        new_cov = jnp.maximum(diag, floor)
    keep = alive.reshape((-1,) + (1,) * (covariances.ndim - 1))
    return (
        jnp.where(alive[:, None], new_means, means),
        jnp.where(keep, new_cov, covariances),
    )


def _m_step(params: PRBFParams, x, y_onehot, resp, floor: float) -> PRBFParams:
    """Class-wise mixing weights and shared kernels from the responsibilities."""
    n_k = jnp.sum(y_onehot, axis=0)  # (K,)
    mixing = (resp.T @ y_onehot) / jnp.maximum(n_k, 1.0)[None, :]
    mixing = jnp.where(n_k[None, :] > 0, mixing, params.mixing)
    means, cov = _update_kernels(x, resp, params.means, params.covariances, floor)
    return PRBFParams(means, cov, mixing, params.log_priors)


def _sq_distances(x: jax.Array, centres: jax.Array) -> jax.Array:
    return jnp.sum((x[:, None, :] - centres[None, :, :]) ** 2, axis=-1)


def _kmeans_centres(key, x, n_kernels: int, iterations: int) -> jax.Array:
    """``iterations`` epochs of the :func:`kmeans` learner (k-means++ seeding)."""
    result = run(kmeans(n_kernels), {"x": x}, key=key, epochs=iterations)
    return result.state.centers


def _initial_params(key, x, y, n_kernels, n_classes, covariance, floor, init, iters):
    """Centres by k-means or a random subset; covariances of the hard clusters."""
    n, d = x.shape
    if init == "kmeans":
        centres = _kmeans_centres(key, x, n_kernels, iters)
    else:
        centres = x[jax.random.choice(key, n, (n_kernels,), replace=False)]
    spread = jnp.maximum(jnp.var(x, axis=0), floor)  # fallback for empty clusters
    start = {
        "spherical": jnp.full((n_kernels,), jnp.mean(spread)),
        "diag": jnp.broadcast_to(spread[None, :], (n_kernels, d)),
        "full": jnp.broadcast_to(jnp.diag(spread)[None], (n_kernels, d, d)),
    }[covariance]
    member = jax.nn.one_hot(jnp.argmin(_sq_distances(x, centres), 1), n_kernels)
    means, cov = _update_kernels(x, member, centres, start, floor)
    counts = jnp.sum(jax.nn.one_hot(y, n_classes), axis=0)
    mixing = jnp.full((n_kernels, n_classes), 1.0 / n_kernels, jnp.float32)
    return PRBFParams(means, cov, mixing, jnp.log(counts / n))


def _evaluate(params: PRBFParams, data) -> dict:
    y = data["y"]
    joint = class_log_density(params, data["x"]) + params.log_priors[None, :]
    log_post = joint - logsumexp(joint, axis=1, keepdims=True)
    rows = jnp.arange(y.shape[0])
    return {
        "log_likelihood": jnp.mean(joint[rows, y]),
        "loss": -jnp.mean(log_post[rows, y]),
        "accuracy": jnp.mean(jnp.argmax(log_post, axis=1) == y),
        "ece": calibration_error(jnp.exp(log_post), y),
    }


def _check_settings(n_kernels, n_classes, covariance, variance_floor, init, iters):
    check_positive_int(n_kernels, "n_kernels")
    check_positive_int(n_classes, "n_classes")
    check_positive_float(variance_floor, "variance_floor")
    check_positive_int(iters, "kmeans_iterations")
    if covariance not in COVARIANCES:
        raise ValueError(
            f"`covariance` must be one of {COVARIANCES}; got {covariance!r}."
        )
    if init not in INITIALISATIONS:
        raise ValueError(f"`init` must be one of {INITIALISATIONS}; got {init!r}.")


def prbf(
    n_kernels: int,
    n_classes: int,
    *,
    covariance: str = "diag",
    variance_floor: float = 1e-2,
    init: str = "kmeans",
    kmeans_iterations: int = 10,
) -> Learner:
    """The PRBF network's EM as a learner: one full-batch epoch = one EM step.

    Train with ``jnn.train.fit(learner, {"x": x, "y": y}, key=key, epochs=...,
    stop=absolute_change_below(1e-4, metric="log_likelihood"))`` (``batch_size``
    must stay None: EM needs the whole training set). See the module docstring
    for the model and Titsias & Likas (2001) for the derivation.

    Args:
      n_kernels: ``M``, Gaussian kernels shared by all classes.
      n_classes: ``K``; labels ``y`` must lie in ``[0, K)``.
      covariance: ``"spherical"``, ``"diag"`` or ``"full"``.
      variance_floor: lower bound on every variance (eigenvalue for full).
      init: kernel centres from ``"kmeans"`` (k-means++ and Lloyd) or a
        ``"random"`` subset of the training inputs; initial covariances are
        those of the hard clusters, mixing weights uniform ``1/M``.
      kmeans_iterations: Lloyd iterations of the k-means initialisation.

    Returns:
      A :class:`jnn.train.Learner` whose state is a :class:`PRBFParams`. Its
      update reports ``log_likelihood`` (mean ``log P(y_n) p(x_n|y_n)`` of the
      parameters before the step, never decreasing) and ``accuracy``;
      ``evaluate`` reports ``log_likelihood``, ``loss`` (``-mean log
      P(y|x)``), ``accuracy`` and ``ece`` (15 bins). Its ``check`` refuses
      labels outside ``[0, K)`` and training data without an example of
      some class (its prior would be 0 and its mixing weights undefined).
    """
    _check_settings(
        n_kernels, n_classes, covariance, variance_floor, init, kmeans_iterations
    )

    def init_fn(key: jax.Array, batch) -> PRBFParams:
        x = jnp.asarray(batch["x"], jnp.float32)
        if x.ndim != 2 or x.shape[0] < n_kernels:
            raise ValueError(
                f"`n_kernels` ({n_kernels}) must not exceed the number of training "
                f"examples; got x of shape {x.shape} (use batch_size=None)."
            )
        return _initial_params(
            key, x, batch["y"], n_kernels, n_classes, covariance, variance_floor,
            init, kmeans_iterations,
        )  # fmt: skip

    def update(params: PRBFParams, batch, key: jax.Array):
        x, y = jnp.asarray(batch["x"], jnp.float32), batch["y"]
        resp, log_px_y = _e_step(params, x, y)
        accuracy = jnp.mean(jnp.argmax(log_posterior(params, x), axis=1) == y)
        new = _m_step(params, x, jax.nn.one_hot(y, n_classes), resp, variance_floor)
        log_likelihood = jnp.mean(log_px_y + params.log_priors[y])
        return new, {"log_likelihood": log_likelihood, "accuracy": accuracy}

    def check(data, name: str) -> None:
        if not isinstance(data, Mapping) or not {"x", "y"} <= set(data):
            raise ValueError(f"`{name}` must hold 'x' and 'y'.")
        names = (f"{name}['x']", f"{name}['y']")
        _check_xy(data["x"], data["y"], n_classes, names, train=name == "train")

    return Learner(init_fn, update, _evaluate, plan=full_batch(), check=check)


def _check_xy(x, y, n_classes, names=("x", "y"), *, train=True):
    """Inputs and labels; training labels must cover every class."""
    check_array(x, names[0], ndim=2, kind="f")
    return check_labels(y, names[1], x.shape[0], n_classes, require_all=train)
