"""Vanishing and exploding gradients of an Elman recurrence, measured against theory.

The Elman recurrence (Elman 1990, "Finding structure in time") is

    h_t = f(W_hh h_{t-1} + W_xh x_t + b),    t = 1..T,

and a loss read at the last step, ``L = v . h_T``, has the hidden-state gradient

    dL/dh_s = (dh_T/dh_s)^T v,
    dh_T/dh_s = prod_{t=s+1}^{T} diag(f'(a_t)) W_hh,
    a_t = W_hh h_{t-1} + W_xh x_t + b.

Back-propagation through time multiplies by ``W_hh^T diag(f'(a_t))`` once per
step, so (Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013,
"On the difficulty of training recurrent neural networks", ICML, section 2)

    ||dL/dh_s|| <= (gamma sigma_max(W_hh))^(T - s) ||v||,    gamma = max |f'|,

with ``gamma = 1`` for tanh, ReLU and the identity (1/4 for the logistic
sigmoid). When ``gamma sigma_max < 1`` the gradient from distant steps vanishes
geometrically. When ``sigma_max > 1`` it may explode (necessary, not
sufficient). The linear recurrence gives ``dL/dh_s = (W_hh^T)^(T - s) v``
exactly, and a scaled orthogonal ``W_hh = sigma Q`` then gives
``||dL/dh_s|| = sigma^(T - s) ||v||``: the bound is attained and the gradient
explodes for ``sigma > 1``.

:func:`hidden_state_gradients` computes every ``dL/dh_s`` with one reverse-mode
pass through a ``lax.scan``. It adds a zero perturbation ``e_t`` to each hidden
state and differentiates with respect to the perturbations, since
``dL/de_t = dL/dh_t``. :func:`spectral_bound` is the theory line and
:func:`scaled_orthogonal` builds a ``W_hh`` with a chosen ``sigma_max``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from jnn._checks import check_array, check_key, check_positive_float, check_positive_int

__all__ = [
    "DERIVATIVE_BOUNDS",
    "gradient_norms_by_lag",
    "hidden_state_gradients",
    "largest_singular_value",
    "scaled_orthogonal",
    "spectral_bound",
]

_ACTIVATIONS = {
    "tanh": jnp.tanh,
    "linear": lambda z: z,
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
}
# gamma = sup |f'(z)|, the factor of the bound for each activation.
DERIVATIVE_BOUNDS = {"tanh": 1.0, "linear": 1.0, "relu": 1.0, "sigmoid": 0.25}


def _check_activation(activation: Any) -> None:
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"`activation` must be one of {tuple(_ACTIVATIONS)}; got {activation!r}."
        )


def _check_shape(x: Any, name: str, shape: tuple[int, ...]) -> None:
    if tuple(x.shape) != shape:
        raise ValueError(f"`{name}` must have shape {shape}; got {tuple(x.shape)}.")


@functools.partial(jax.jit, static_argnames="activation")
def _hidden_state_gradients(w_hh, w_xh, b, x, h0, cotangent, activation):
    f = _ACTIVATIONS[activation]

    def last_state(h_start, perturbations):
        def step(h, inputs):
            x_t, e_t = inputs
            return f(w_hh @ h + w_xh @ x_t + b) + e_t, None

        h_last, _ = jax.lax.scan(step, h_start, (x, perturbations))
        return h_last

    _, pullback = jax.vjp(
        last_state, h0, jnp.zeros((x.shape[0], h0.shape[0]), h0.dtype)
    )
    grad_h0, grad_states = pullback(cotangent)  # dL/dh_0 and dL/dh_1..dL/dh_T
    by_step = jnp.concatenate([grad_h0[None], grad_states], axis=0)
    return by_step[::-1]  # row k is dL/dh_{T-k}


def hidden_state_gradients(
    w_hh: jax.Array,
    w_xh: jax.Array,
    b: jax.Array,
    x: jax.Array,
    h0: jax.Array,
    *,
    activation: str = "tanh",
    cotangent: jax.Array | None = None,
) -> jax.Array:
    """Gradients ``dL/dh_s`` of a last-step loss for every state, ordered by lag.

    Runs ``h_t = f(W_hh h_{t-1} + W_xh x_t + b)`` for ``t = 1..T`` from ``h0``.
    With the loss ``L = v . h_T``, row ``k`` of the result is ``dL/dh_{T-k}``,
    for lags ``k = 0..T``. Row 0 is ``v`` itself and row ``T`` is ``dL/dh_0``.
    It takes one sequence; ``vmap`` it over sequences or over ``W_hh``.

    Args:
      w_hh: ``(H, H)`` recurrent weights.
      w_xh: ``(H, D)`` input weights.
      b: ``(H,)`` bias.
      x: ``(T, D)`` inputs, ``T >= 1``.
      h0: ``(H,)`` initial state.
      activation: ``"tanh"``, ``"linear"`` (identity), ``"relu"`` or
        ``"sigmoid"``.
      cotangent: ``(H,)`` ``v = dL/dh_T``. Default: the unit vector
        ``(1, ..., 1) / sqrt(H)``.

    Returns:
      ``(T + 1, H)`` array, row ``k`` = ``dL/dh_{T-k}``.

    Raises:
      TypeError: an array is not floating point.
      ValueError: a shape disagrees with ``H``, ``D`` or ``T`` above, a
        concrete array holds NaN/inf, or ``activation`` is unknown.
    """
    _check_activation(activation)
    check_array(w_hh, "w_hh", ndim=2, kind="f")
    hidden = w_hh.shape[0]
    _check_shape(w_hh, "w_hh", (hidden, hidden))
    check_array(x, "x", ndim=2, kind="f")
    steps, features = x.shape
    check_array(w_xh, "w_xh", ndim=2, kind="f")
    _check_shape(w_xh, "w_xh", (hidden, features))
    for array, name in ((b, "b"), (h0, "h0")):
        check_array(array, name, ndim=1, kind="f")
        _check_shape(array, name, (hidden,))
    if cotangent is None:
        cotangent = jnp.full((hidden,), hidden**-0.5, jnp.result_type(h0))
    check_array(cotangent, "cotangent", ndim=1, kind="f")
    _check_shape(cotangent, "cotangent", (hidden,))
    return _hidden_state_gradients(w_hh, w_xh, b, x, h0, cotangent, activation)


def gradient_norms_by_lag(
    w_hh: jax.Array,
    w_xh: jax.Array,
    b: jax.Array,
    x: jax.Array,
    h0: jax.Array,
    *,
    activation: str = "tanh",
    cotangent: jax.Array | None = None,
) -> jax.Array:
    """Norms ``||dL/dh_{T-k}||`` for lags ``k = 0..T`` of a last-step loss.

    This is R1's measurement, to plot against ``k`` on a log axis next to
    :func:`spectral_bound`. It takes the same arguments as
    :func:`hidden_state_gradients`.

    Returns:
      ``(T + 1,)`` array. Entry ``k`` is the Euclidean norm of ``dL/dh_{T-k}``,
      and entry 0 is ``||v||`` (1 for the default cotangent).

    Example:
      >>> w = scaled_orthogonal(jax.random.key(0), 4, 0.5)
      >>> x = jnp.zeros((3, 1))
      >>> norms = gradient_norms_by_lag(w, jnp.zeros((4, 1)), jnp.zeros(4), x,
      ...                               jnp.zeros(4), activation="linear")
      >>> [round(float(v), 4) for v in norms]
      [1.0, 0.5, 0.25, 0.125]
    """
    grads = hidden_state_gradients(
        w_hh, w_xh, b, x, h0, activation=activation, cotangent=cotangent
    )
    return jnp.linalg.norm(grads, axis=-1)


def largest_singular_value(w: jax.Array) -> jax.Array:
    """``sigma_max(W)``, the spectral norm of a ``(H, H)`` or ``(H, D)`` matrix."""
    check_array(w, "w", ndim=2, kind="f")
    return jnp.linalg.norm(w, ord=2)


def spectral_bound(
    w_hh: jax.Array, lags: Any, *, activation: str = "tanh"
) -> jax.Array:
    """The theory line ``(gamma sigma_max(W_hh))^k`` bounding ``||dh_T/dh_{T-k}||``.

    Multiplied by ``||v||`` this bounds ``||dL/dh_{T-k}||`` for any inputs
    (Pascanu et al. 2013, section 2). ``gamma = DERIVATIVE_BOUNDS[activation]`` is
    ``sup |f'|``. With a unit cotangent the line is directly comparable with
    :func:`gradient_norms_by_lag`.

    Args:
      w_hh: ``(H, H)`` recurrent weights.
      lags: integer lags ``k >= 0``, any shape, e.g. ``jnp.arange(T + 1)``.
      activation: the activation ``f`` of the recurrence (sets ``gamma``).

    Returns:
      Array of the shape of ``lags``.

    Example:
      >>> w = 1.5 * jnp.eye(3)
      >>> [float(v) for v in spectral_bound(w, jnp.arange(4))]
      [1.0, 1.5, 2.25, 3.375]
    """
    _check_activation(activation)
    check_array(w_hh, "w_hh", ndim=2, kind="f")
    _check_shape(w_hh, "w_hh", (w_hh.shape[0], w_hh.shape[0]))
    lags = jnp.asarray(lags)
    if not jnp.issubdtype(lags.dtype, jnp.integer):
        raise TypeError(f"`lags` must be integers; got dtype {lags.dtype}.")
    if not isinstance(lags, jax.core.Tracer) and bool((lags < 0).any()):
        raise ValueError("`lags` must be non-negative.")
    rate = DERIVATIVE_BOUNDS[activation] * largest_singular_value(w_hh)
    return rate ** lags.astype(rate.dtype)


def scaled_orthogonal(key: jax.Array, n: int, sigma: float) -> jax.Array:
    """A random ``(n, n)`` matrix ``sigma Q``, ``Q`` Haar-orthogonal.

    Every singular value, and every eigenvalue's modulus, equals ``sigma``, so
    ``sigma_max = spectral radius = sigma``. The gradient of a linear
    recurrence with these weights then scales by exactly ``sigma`` per step
    back (compare the orthogonal initialisation of Saxe, McClelland & Ganguli
    2014).

    Args:
      key: PRNG key.
      n: hidden size ``H``.
      sigma: the common singular value, ``> 0``.

    Returns:
      ``(n, n)`` float32 array.

    Example:
      >>> w = scaled_orthogonal(jax.random.key(0), 5, 1.2)
      >>> round(float(largest_singular_value(w)), 4)
      1.2
    """
    check_key(key)
    check_positive_int(n, "n")
    check_positive_float(sigma, "sigma")
    return sigma * jax.random.orthogonal(key, n, dtype=jnp.float32)
