r"""The Fréchet distance between two Gaussians, the statistic behind FID.

The Fréchet (2-Wasserstein) distance between ``N(mu1, C1)`` and ``N(mu2, C2)``
(Dowson & Landau 1982) is

.. math:: d^2 = \lVert \mu_1 - \mu_2 \rVert^2 + \operatorname{tr} C_1
          + \operatorname{tr} C_2 - 2 \operatorname{tr} (C_1 C_2)^{1/2}.

Heusel et al. (2017) compare the feature statistics of generated and real
images with it: the Fréchet Inception Distance. The usual code takes the
matrix square root of the non-symmetric product ``C1 C2`` with
``scipy.linalg.sqrtm``, which returns complex values (and warns) when the
covariances are singular or badly conditioned. Here the trace comes from
symmetric matrices instead: with ``S_1 = C_1^{1/2}`` and ``S_2 = C_2^{1/2}``
(by ``eigh``, eigenvalues clipped at 0 against rounding),
``C1 C2 = S_1 (S_1 C_2 S_1) S_1^{-1}`` is similar to the positive
semi-definite ``S_1 C_2 S_1 = (S_2 S_1)^T (S_2 S_1)``, so

.. math:: \operatorname{tr} (C_1 C_2)^{1/2}
          = \sum_i \sqrt{\lambda_i(S_1 C_2 S_1)}
          = \sum_i \sigma_i(S_2 S_1),

the nuclear norm of ``S_2 S_1``. Taking singular values of ``S_2 S_1``
rather than square roots of the eigenvalues of ``S_1 C_2 S_1`` keeps
rounding in the null space at ``1e-16`` instead of ``sqrt(1e-16)``: a
singular covariance (fewer samples than features, dead ReLU features) loses
no accuracy. No inverse appears, so the result is defined (and continuous)
for singular covariances. Everything runs in float64 on the host: this is a
one-off statistic of a few hundred dimensions.
"""

from __future__ import annotations

import warnings

import numpy as np

from jnn._checks import check_array


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and covariance of a set of feature vectors, in float64.

    .. math:: \mu = \frac1n \sum_i f_i,\qquad
              C = \frac{1}{n - 1} \sum_i (f_i - \mu)(f_i - \mu)^\top

    Args:
      features: ``(n, d)`` array, one feature vector per row, ``n >= 2``.

    Returns:
      ``(mu, cov)``: ``(d,)`` and ``(d, d)`` float64 NumPy arrays.

    Raises:
      TypeError, ValueError: not a finite ``(n, d)`` array, or ``n < 2``.

    Warns:
      UserWarning: ``n <= d``: the covariance has rank at most ``n - 1 < d``
        (singular). :func:`frechet_distance` is still defined, but the
        estimate is strongly biased upwards; compare FIDs only at equal,
        large ``n``.
    """
    check_array(features, "features", ndim=2, kind="n")
    x = np.asarray(features, np.float64)
    n, d = x.shape
    if n < 2:
        raise ValueError(
            f"`features` must hold at least 2 rows to estimate a covariance; got {n}."
        )
    if n <= d:
        warnings.warn(
            f"feature_statistics: {n} samples of {d}-dimensional features give a "
            f"singular covariance (rank <= {n - 1}); the Fréchet distance stays "
            "defined but is biased upwards. Use more samples than features.",
            stacklevel=2,
        )
    mu = x.mean(axis=0)
    centred = x - mu
    cov = centred.T @ centred / (n - 1)
    return mu, cov


def _check_statistics(mu, cov, name: str) -> tuple[np.ndarray, np.ndarray]:
    check_array(mu, f"mu{name}", ndim=1, kind="n")
    check_array(cov, f"cov{name}", ndim=2, kind="n")
    mu = np.asarray(mu, np.float64)
    cov = np.asarray(cov, np.float64)
    d = mu.shape[0]
    if cov.shape != (d, d):
        raise ValueError(
            f"`cov{name}` must be ({d}, {d}) to match `mu{name}` ({d},); got "
            f"{cov.shape}."
        )
    scale = max(float(np.abs(cov).max()), 1e-300)
    if np.abs(cov - cov.T).max() > 1e-6 * scale:
        raise ValueError(f"`cov{name}` must be symmetric (a covariance matrix).")
    return mu, (cov + cov.T) / 2


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (``eigh``)."""
    values, vectors = np.linalg.eigh(cov)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(cov1, cov2) -> float:
    r"""``tr (C1 C2)^{1/2}`` for positive semi-definite ``C1, C2``.

    Computed as the sum of the singular values of ``C2^{1/2} C1^{1/2}`` (see
    the module docstring); float64 NumPy.
    """
    root1 = _psd_sqrt(np.asarray(cov1, np.float64))
    root2 = _psd_sqrt(np.asarray(cov2, np.float64))
    return float(np.linalg.svd(root2 @ root1, compute_uv=False).sum())


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    r"""Squared Fréchet distance between ``N(mu1, cov1)`` and ``N(mu2, cov2)``.

    .. math:: d^2 = \lVert \mu_1 - \mu_2 \rVert^2 + \operatorname{tr} C_1
              + \operatorname{tr} C_2 - 2 \operatorname{tr} (C_1 C_2)^{1/2}

    (Dowson & Landau 1982; the FID of Heusel et al. 2017 when the statistics
    are those of network features). Computed in float64 with two symmetric
    eigen-decompositions and one SVD, no complex ``sqrtm`` (module
    docstring); equals the usual ``scipy.linalg.sqrtm`` formula where that
    one is accurate.

    Args:
      mu1: ``(d,)`` mean of the first set.
      cov1: ``(d, d)`` symmetric positive semi-definite covariance.
      mu2: ``(d,)`` mean of the second set.
      cov2: ``(d, d)`` covariance of the second set.

    Returns:
      The distance ``d^2 >= 0`` as a Python float (rounding below zero is
      clipped to 0).

    Raises:
      TypeError: non-numeric inputs.
      ValueError: non-finite values, mismatched shapes or non-symmetric
        covariances.

    Example:
      >>> import numpy as np
      >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
      2.0
    """
    mu1, cov1 = _check_statistics(mu1, cov1, "1")
    mu2, cov2 = _check_statistics(mu2, cov2, "2")
    if mu1.shape != mu2.shape:
        raise ValueError(
            f"`mu1` and `mu2` must have the same dimension; got {mu1.shape} and "
            f"{mu2.shape}."
        )
    diff = mu1 - mu2
    value = (
        diff @ diff
        + np.trace(cov1)
        + np.trace(cov2)
        - 2.0 * trace_sqrt_product(cov1, cov2)
    )
    return max(float(value), 0.0)
