r"""The linear output layer of an RBF network: ridge regression or LMS (S8).

With the hidden layer fixed, ``f(x) = W^T phi(x) + b`` is linear in ``W, b``:
the third stage of two-stage training solves it in closed form
(:func:`ridge_weights`, Broomhead & Lowe 1988) or online by the LMS rule
(:func:`lms_learner`, Widrow & Hoff 1960).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jnn._checks import (
    check_array,
    check_bool,
    check_interval,
    check_positive_float,
    check_positive_int,
)
from jnn.static.radial.units import _check_centers_widths, _gaussian
from jnn.train import Learner


def ridge_weights(h: jax.Array, y: jax.Array, ridge: float):
    r"""Output layer by regularised least squares, in closed form.

    Minimises ``||H W + 1 b^T - Y||^2 + ridge ||W||_F^2`` (the bias is not
    penalised, as in scikit-learn's ``Ridge(alpha=ridge)``): with the centred
    ``H_c = H - mean(H)`` and ``Y_c = Y - mean(Y)``,

    .. math:: W = (H_c^\top H_c + \lambda I)^{-1} H_c^\top Y_c,\quad
              b = \bar y - W^\top \bar h .

    ``ridge = 0`` is the least-squares (pseudo-inverse) solution of
    Broomhead & Lowe (1988), computed by ``jnp.linalg.lstsq``.

    Args:
      h: ``(n, M)`` hidden activations.
      y: ``(n, c)`` targets.
      ridge: ``lambda >= 0``.

    Returns:
      ``(W (M, c), b (c,))``.

    Raises:
      TypeError, ValueError: ``h``, ``y`` not 2-D float arrays with the same
        rows (NaN, inf), ``ridge`` not a finite number >= 0.
    """
    check_array(h, "h", ndim=2, kind="f")
    check_array(y, "y", ndim=2, kind="f")
    if y.shape[0] != h.shape[0]:
        raise ValueError(
            f"`y` must have the {h.shape[0]} rows of `h`; got shape {tuple(y.shape)}."
        )
    check_interval(ridge, "ridge", 0.0)
    return _ridge(h, y, float(ridge))


@functools.partial(jax.jit, static_argnums=2)
def _ridge(h, y, ridge: float):
    h_mean, y_mean = jnp.mean(h, axis=0), jnp.mean(y, axis=0)
    hc, yc = h - h_mean[None, :], y - y_mean[None, :]
    if ridge == 0:
        weights = jnp.linalg.lstsq(hc, yc)[0]
    else:
        hi, eye = jax.lax.Precision.HIGHEST, jnp.eye(h.shape[1], dtype=h.dtype)
        gram = jnp.dot(hc.T, hc, precision=hi) + ridge * eye
        weights = jnp.linalg.solve(gram, jnp.dot(hc.T, yc, precision=hi))
    return weights, y_mean - jnp.dot(h_mean, weights)


class LMSState(NamedTuple):
    """State of :func:`lms_learner`: the output layer ``W (M, c)``, ``b (c,)``."""

    weights: jax.Array
    bias: jax.Array


def lms_learner(
    centers: jax.Array,
    widths: jax.Array,
    n_outputs: int,
    *,
    learning_rate: float = 0.5,
    normalized: bool = True,
) -> Learner:
    r"""Output weights by the LMS rule (Widrow & Hoff 1960), hidden layer fixed.

    For each example (train with ``batch_size=1`` for the online rule),

    .. math:: e = y - f(x),\quad W \leftarrow W + \eta\, \phi(x) e^\top,
              \quad b \leftarrow b + \eta\, e,

    with ``eta = learning_rate / (1 + ||phi(x)||^2)`` when ``normalized``
    (normalised LMS: stable for ``0 < learning_rate < 2`` whatever ``M``), else
    ``eta = learning_rate``. A batch of ``B`` examples averages the ``B``
    updates. Weights start at zero.

    Args:
      centers: ``(M, d)`` fixed centres.
      widths: ``(M,)`` fixed widths.
      n_outputs: ``c``, the number of outputs.
      learning_rate: step size ``eta``, in ``(0, 2)`` when ``normalized``.
      normalized: divide the step by ``1 + ||phi(x)||^2``.

    Returns:
      A :class:`jnn.train.Learner` on batches ``{"x": (B, d), "y": (B, c)}``
      with state :class:`LMSState`; metric ``loss`` is the mean squared error
      before the step (the a-priori error), ``evaluate`` the MSE on data.
    """
    _check_centers_widths(centers, widths)
    check_positive_int(n_outputs, "n_outputs")
    check_bool(normalized, "normalized")
    if normalized:  # the normalised rule is stable exactly for 0 < eta < 2
        check_interval(learning_rate, "learning_rate", 0.0, 2.0, closed=False)
    else:
        check_positive_float(learning_rate, "learning_rate")

    def init(key, batch) -> LMSState:
        zeros = jnp.zeros((centers.shape[0] + 1, n_outputs), centers.dtype)
        return LMSState(zeros[:-1], zeros[-1])

    def outputs(state: LMSState, x):  # (hidden, f(x))
        h = _gaussian(x, centers, widths)
        return h, jnp.dot(h, state.weights) + state.bias[None, :]

    def update(state: LMSState, batch, key):
        h, pred = outputs(state, batch["x"])
        error = batch["y"] - pred  # (B, c)
        step = jnp.full((h.shape[0], 1), learning_rate, h.dtype)
        if normalized:
            step = step / (1.0 + jnp.sum(h * h, axis=1, keepdims=True))
        scaled = step * error / h.shape[0]
        new = LMSState(state.weights + h.T @ scaled, state.bias + scaled.sum(0))
        return new, {"loss": jnp.mean(error**2)}

    def evaluate(state: LMSState, data):
        return {"loss": jnp.mean((data["y"] - outputs(state, data["x"])[1]) ** 2)}

    return Learner(init, update, evaluate)
