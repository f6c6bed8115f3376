"""Input checks and starting points shared by the mixture models (S6, S7).

``as_data`` turns an array with NaN for missing cells into the engine's
``{"x": filled, "observed": mask}``; ``initial_resp`` gives the starting
responsibilities of EM and variational Bayes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import is_concrete


def check_choice(value, choices, name):
    """Raise a ValueError unless ``value`` is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}; got {value!r}.")


def as_data(
    x, name: str = "x", *, allow_missing: bool = True, observed_columns: bool = False
) -> dict:
    """``x`` with NaN for missing cells -> ``{"x": filled with 0[, "observed"]}``.

    Raises:
      ValueError: not a 2-D float array, infinite values, a row with no
        observed value, NaN when ``allow_missing`` is False, or (with
        ``observed_columns``, for fitting) a column with no observed value.
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
    unseen = np.flatnonzero(missing.all(axis=0))
    if observed_columns and unseen.size:
        raise ValueError(
            f"`{name}` has {unseen.size} all-NaN columns (first: "
            f"{unseen[:5].tolist()}); a model cannot be fitted to a variable "
            "with no observed value: drop those columns."
        )
    return {"x": np.where(missing, 0, arr).astype(arr.dtype), "observed": ~missing}


def check_params(
    params, kind: str, n_components: int, d: int, name: str = "init"
) -> None:
    """Raise unless ``params`` (GMMParams) fit ``K`` ``kind`` components in ``d``.

    Checks the shapes and, for concrete values, that every entry is finite,
    the weights are positive and sum to one, and the covariances are positive
    (definite, by a Cholesky factorisation, for ``"full"``): EM's first E-step
    evaluates the densities at exactly these parameters. ``name`` is the
    argument the messages blame (``init.weights``, ...).
    """
    prefix = name
    shapes = {"full": (n_components, d, d), "diag": (n_components, d)}
    expected = (
        (n_components,),
        (n_components, d),
        shapes.get(kind, (n_components,)),
    )
    for field, value, shape in zip(params._fields, params, expected, strict=True):
        if np.shape(value) != shape:
            raise ValueError(
                f"`{prefix}.{field}` must have shape {shape} for {n_components} "
                f"{kind} components in {d} dimensions; got {np.shape(value)}."
            )
    if not all(is_concrete(value) for value in params):
        return
    for field, value in zip(params._fields, params, strict=True):
        try:
            finite = np.all(np.isfinite(np.asarray(value, np.float64)))
        except (TypeError, ValueError):
            raise TypeError(
                f"`{prefix}.{field}` must be a float array; got {type(value).__name__}."
            ) from None
        if not finite:
            raise ValueError(f"`{prefix}.{field}` contains NaN or infinite values.")
    weights = np.asarray(params.weights, np.float64)
    if not np.isclose(np.sum(weights), 1.0, atol=1e-4) or np.any(weights <= 0):
        raise ValueError(
            f"`{prefix}.weights` must be positive and sum to one; got "
            f"{weights.tolist()}."
        )
    check_covariances(params.covariances, kind, f"{prefix}.covariances")


def check_covariances(cov, kind: str, name: str) -> None:
    """Raise unless the concrete ``cov`` holds positive (definite) covariances.

    ``kind`` ``"full"``: ``(..., d, d)`` symmetric matrices with a Cholesky
    factor; otherwise positive variances of any shape.
    """
    cov = np.asarray(cov, np.float64)
    advice = (
        "EM and VB evaluate Gaussian densities with them from the first "
        "iteration: start from e.g. the data covariance (np.cov(x.T)) plus a "
        "small multiple of the identity"
    )
    if name.startswith("params"):
        advice = "pass the parameters of a fitted mixture (`gmm_fit(...).params`)"
    if kind != "full":
        if cov.size and cov.min() <= 0:
            raise ValueError(
                f"`{name}` must hold variances > 0; got minimum {cov.min():.3g}. "
                f"{advice}."
            )
        return
    matrices = cov.reshape(-1, *cov.shape[-2:])
    gap = np.abs(matrices - np.swapaxes(matrices, -1, -2)).max()
    if gap > 1e-6 * max(1.0, np.abs(matrices).max()):
        raise ValueError(f"`{name}` must be symmetric; got an asymmetry of {gap:.3g}.")
    for k, matrix in enumerate(matrices):
        try:
            np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            where = f"`{name}[{k}]`" if cov.ndim == 3 else f"`{name}`"
            raise ValueError(
                f"{where} is not positive definite (its Cholesky factorisation "
                f"fails; smallest eigenvalue {np.linalg.eigvalsh(matrix)[0]:.3g}). "
                f"{advice}."
            ) from None


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


def data_matrix(data, name: str):
    """``data['x']``, refused unless present and ``(n, d)`` (a mixture's input)."""
    x = data.get("x")
    if x is None or np.ndim(x) != 2:
        raise ValueError(
            f"`{name}` must hold 'x', an (n, d) array; got "
            f"{None if x is None else np.shape(x)}."
        )
    return x


def em_data_check(n_components: int, kind: str, given=None):
    """The learner's ``check(data, name)``: data against the initial parameters."""

    def check(data, name: str) -> None:
        x = data_matrix(data, name)
        if given is not None:
            check_params(given, kind, n_components, x.shape[1])
        observed = data.get("observed")
        if name == "train" and observed is not None and is_concrete(observed):
            unseen = np.flatnonzero(~np.asarray(observed).any(axis=0))
            if unseen.size:
                raise ValueError(
                    f"`{name}['observed']` has {unseen.size} columns never "
                    f"observed (first: {unseen[:5].tolist()}); drop them."
                )

    return check


def check_vb_priors(given: dict, covariance: str, d: int) -> None:
    """The data-dependent priors: ``m_0`` ``(d,)``, ``W_0^{-1}``, ``nu_0 > d - 1``."""
    dof = given.get("degrees_of_freedom")
    if dof is not None and not dof > d - 1:
        raise ValueError(
            f"`degrees_of_freedom_prior` must be > d - 1 = {d - 1}; got {dof}."
        )
    shapes = {"mean": (d,), "covariance": (d, d) if covariance == "full" else (d,)}
    for key, shape in shapes.items():
        value, name = given.get(key), f"{key}_prior"
        if value is None:
            continue
        if np.shape(value) != shape:
            raise ValueError(
                f"`{name}` must have shape {shape} for {d} features"
                f"{' (covariance=' + repr(covariance) + ')' if key != 'mean' else ''}"
                f"; got {np.shape(value)}."
            )
        if not is_concrete(value):
            continue
        if not np.all(np.isfinite(np.asarray(value, np.float64))):
            raise ValueError(f"`{name}` contains NaN or infinite values.")
        if key == "covariance":
            check_covariances(value, covariance, name)


def check_responsibilities(init, n: int, n_components: int) -> None:
    """Starting responsibilities: ``(n, K)``, finite, >= 0, rows summing to 1."""
    if isinstance(init, str):
        return
    if np.shape(init) != (n, n_components):
        raise ValueError(
            f"`init` must have shape {(n, n_components)}; got {np.shape(init)}."
        )
    if not is_concrete(init):
        return
    resp = np.asarray(init, np.float64)
    finite = np.isfinite(resp)
    negative = finite & (resp < 0)
    if not finite.all() or negative.any():
        raise ValueError(
            "`init` must hold responsibilities (finite, >= 0, rows summing to 1); "
            f"got {int((~finite).sum())} NaN/inf and {int(negative.sum())} "
            "negative entries."
        )
    sums = resp.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-4):
        raise ValueError(
            "`init` must hold responsibilities whose rows sum to 1; got row sums "
            f"in [{sums.min():.4g}, {sums.max():.4g}]."
        )
