"""Input checks and starting points shared by the mixture models (S6, S7).

``as_data`` turns an array with NaN for missing cells into the engine's
``{"x": filled, "observed": mask}``; ``initial_resp`` gives the starting
responsibilities of EM and variational Bayes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def check_choice(value, choices, name):
    """Raise a ValueError unless ``value`` is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}; got {value!r}.")


def as_data(x, name: str = "x", *, allow_missing: bool = True) -> dict:
    """``x`` with NaN for missing cells -> ``{"x": filled with 0[, "observed"]}``.

    Raises:
      ValueError: not a 2-D float array, infinite values, a row with no
        observed value, or NaN when ``allow_missing`` is False.
    """
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"`{name}` must be an array; got {type(x).__name__}.")
    arr = np.asarray(x, dtype=jax.dtypes.canonicalize_dtype(np.float64))
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"`{name}` must be a non-empty (n, d) array; got {arr.shape}.")
    if np.isinf(arr).any():
        raise ValueError(f"`{name}` contains infinite values.")
    missing = np.isnan(arr)
    if not missing.any():
        return {"x": arr}
    if not allow_missing:
        raise ValueError(f"`{name}` contains NaN; this model needs complete data.")
    empty = np.flatnonzero(missing.all(axis=1))
    if empty.size:
        raise ValueError(
            f"`{name}` has {empty.size} all-NaN rows (first: {empty[:5].tolist()}); "
            "every row needs at least one observed value."
        )
    return {"x": np.where(missing, 0, arr).astype(arr.dtype), "observed": ~missing}


def check_params(params, kind: str, n_components: int, d: int) -> None:
    """Raise unless ``params`` (GMMParams) fit ``K`` ``kind`` components in ``d``."""
    shapes = {"full": (n_components, d, d), "diag": (n_components, d)}
    expected = (
        (n_components,),
        (n_components, d),
        shapes.get(kind, (n_components,)),
    )
    for name, value, shape in zip(params._fields, params, expected, strict=True):
        if np.shape(value) != shape:
            raise ValueError(
                f"`init.{name}` must have shape {shape} for {n_components} "
                f"{kind} components in {d} dimensions; got {np.shape(value)}."
            )
    if not np.isclose(np.sum(params.weights), 1.0, atol=1e-4) or np.any(
        np.asarray(params.weights) <= 0
    ):
        raise ValueError("`init.weights` must be positive and sum to one.")


def initial_resp(init, key, x, observed, n_components: int):
    """``(n, K)`` starting responsibilities: ``"random"`` or ``"points"``.

    ``"random"`` draws uniform responsibilities (scikit-learn's
    ``init_params="random"``); ``"points"`` picks ``K`` distinct rows as seeds
    and assigns every row to its nearest seed (one k-means assignment, distances
    over the coordinates both rows observe). An ``(n, K)`` array is used as is.
    """
    n = x.shape[0]
    if not isinstance(init, str):
        return jnp.asarray(init, x.dtype)
    if init == "random":
        resp = jax.random.uniform(key, (n, n_components), x.dtype)
        return resp / jnp.sum(resp, axis=1, keepdims=True)
    seeds = jax.random.choice(key, n, (n_components,), replace=False)
    o = jnp.ones_like(x) if observed is None else observed
    both = o[:, None, :] * o[seeds][None]
    dist = jnp.sum(both * (x[:, None, :] - x[seeds][None]) ** 2, axis=2)
    dist = dist / jnp.maximum(jnp.sum(both, axis=2), 1)
    return jax.nn.one_hot(jnp.argmin(dist, axis=1), n_components, dtype=x.dtype)


def mean_filled(x, observed):
    """Missing cells replaced by their column's observed mean (for initialisation)."""
    if observed is None:
        return x
    col = jnp.sum(x * observed, axis=0) / jnp.maximum(jnp.sum(observed, axis=0), 1)
    return jnp.where(observed > 0, x, col[None, :])
