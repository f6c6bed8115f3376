r"""The hidden layer of an RBF network: Gaussian units and their widths (S8).

.. math:: \phi_j(x) = \exp\!\Big(-\frac{\lVert x - c_j \rVert^2}
          {2\sigma_j^2}\Big)

The widths come from a heuristic on the centres (:func:`rbf_widths`), the
second stage of two-stage training (:func:`jnn.static.rbf_fit`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_positive_float, is_concrete
from jnn.static.mixtures.kmeans import squared_distances

WIDTHS = ("global", "nearest")


def _check_centers_widths(centers, widths) -> None:
    check_array(centers, "centers", ndim=2, kind="f")
    check_array(widths, "widths", ndim=1, kind="f")
    if widths.shape[0] != centers.shape[0]:
        raise ValueError(
            f"`widths` must have one entry per centre ({centers.shape[0]}); got "
            f"shape {tuple(widths.shape)}."
        )
    if is_concrete(widths) and not bool(np.all(np.asarray(widths) > 0)):
        raise ValueError(f"`widths` must be > 0; got minimum {np.min(widths):.3g}.")


def gaussian_activations(
    x: jax.Array, centers: jax.Array, widths: jax.Array
) -> jax.Array:
    """Hidden layer ``phi_j(x) = exp(-||x - c_j||^2 / (2 sigma_j^2))``.

    Args:
      x: ``(n, d)`` inputs.
      centers: ``(M, d)`` centres.
      widths: ``(M,)`` widths ``sigma_j``.

    Returns:
      ``(n, M)`` activations in ``(0, 1]``.

    Raises:
      TypeError, ValueError: not float arrays of these shapes (``x`` with the
        centres' ``d``), NaN or inf, or (when concrete) widths <= 0.
    """
    _check_centers_widths(centers, widths)
    check_array(x, "x", ndim=2, kind="f")
    if x.shape[1] != centers.shape[1]:
        raise ValueError(
            f"`x` must have {centers.shape[1]} features (as `centers`); got shape "
            f"{tuple(x.shape)}."
        )
    return _gaussian(x, centers, widths)


@jax.jit
def _gaussian(x, centers, widths):
    scale = (2.0 * widths * widths)[None, :]
    return jnp.exp(-squared_distances(x, centers) / scale)


def rbf_widths(centers: jax.Array, method="global", factor: float = 1.0):
    """Widths of the Gaussian units from the centres (step 2 of two-stage).

    Args:
      centers: ``(M, d)`` centres, ``M >= 2`` for the heuristics.
      method: ``"global"``: every ``sigma_j = factor * d_max / sqrt(2M)`` with
        ``d_max`` the largest distance between two centres (Haykin 2009),
        so that the units neither peak too sharply nor flatten out;
        ``"nearest"``: ``sigma_j = factor * min_{i != j} ||c_i - c_j||``
        (Moody & Darken 1989's nearest-neighbour heuristic);
        a positive number: ``sigma_j = factor * method`` for every unit.
      factor: multiplier of the heuristic, tuned on validation data.

    Returns:
      ``(M,)`` widths.

    Raises:
      TypeError, ValueError: ``centers`` not a 2-D float array (NaN, inf),
        an unknown ``method`` or one needing ``M >= 2``, ``factor`` <= 0.
    """
    check_array(centers, "centers", ndim=2, kind="f")
    m = centers.shape[0]
    _check_width(method, m, "method", f"{m} row in `centers`")
    check_positive_float(factor, "factor")
    return _rbf_widths(centers, method, float(factor))


def _check_width(width, n_centers: int, name: str, size: str) -> None:
    """``width``: a heuristic of :data:`WIDTHS` (2 or more centres) or a number."""
    if not isinstance(width, str):
        check_positive_float(width, name)
    elif width not in WIDTHS:
        raise ValueError(
            f"`{name}` must be one of {WIDTHS} or a positive number; got {width!r}."
        )
    elif n_centers < 2:
        raise ValueError(
            f"`{name}`={width!r} needs at least 2 centres (it measures distances "
            f"between them); got {size}. Give a numeric `{name}`."
        )


@functools.partial(jax.jit, static_argnums=(1, 2))
def _rbf_widths(centers, method, factor):
    m = centers.shape[0]
    if not isinstance(method, str):
        return jnp.full((m,), float(method) * factor, centers.dtype)
    distance = jnp.sqrt(squared_distances(centers, centers))
    if method == "global":
        sigma = jnp.max(distance) / jnp.sqrt(2.0 * m)
        return jnp.full((m,), factor, centers.dtype) * sigma
    others = jnp.where(jnp.eye(m, dtype=bool), jnp.inf, distance)
    return factor * jnp.min(others, axis=1)
