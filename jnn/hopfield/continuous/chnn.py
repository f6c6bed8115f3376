r"""The continuous Hopfield network (CHNN, curriculum D3): energy first.

Hopfield (1984) models N analogue neurons with internal states ``u`` and
outputs ``v = g(gain * u)``:

.. math:: \frac{du_i}{dt} = -\frac{u_i}{\tau} + \sum_j W_{ij} v_j + I_i

with W symmetric and ``W_ii = 0``. The energy

.. math:: E(v) = -\tfrac12 v^\top W v - I^\top v
          + \frac{1}{\tau}\sum_i \int_{g(0)}^{v_i} g_\lambda^{-1}(s)\,ds,
          \qquad g_\lambda^{-1}(s) = g^{-1}(s)/\lambda

satisfies ``dE/dv_i = -du_i/dt``, hence
``dE/dt = -sum_i g'(u_i) (du_i/dt)^2 <= 0``: E is a Lyapunov function and
every trajectory settles at an equilibrium (D2, D3). The integral term has a
closed form for both activations:

* sigmoid, ``v = 1 / (1 + exp(-gain u))``:
  ``(v ln v + (1-v) ln(1-v) + ln 2) / gain``;
* tanh, ``v = tanh(gain u)``:
  ``((1+v) ln(1+v) + (1-v) ln(1-v)) / (2 gain)``.

A *network* here is any pytree with fields ``tau``, ``gain``, ``activation``
and two methods, ``synaptic_input(v) -> W v + I`` and
``interaction_energy(v) -> -v^T W v / 2 - I^T v``. :class:`CHNN` stores a dense
W; structured networks (the TSP network of :mod:`jnn.hopfield.problems.tsp`) apply W
through its structure instead of materialising it. :func:`energy`,
:func:`vector_field` and :func:`~jnn.hopfield.continuous.simulation.simulate`
(Diffrax) work for all of them; :mod:`jnn.hopfield.continuous.checks` holds
the protocol's boundary checks.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jnn._checks import check_array, is_concrete
from jnn.hopfield.continuous.checks import (
    _check_outputs,
    _check_rate,
    _check_state,
    _float_array,
    check_activation,
    check_network,
)


@struct.dataclass
class CHNN:
    """Parameters of a continuous Hopfield network with a dense weight matrix.

    Attributes:
      weights: (N, N) float, symmetric with zero diagonal.
      bias: (N,) float, the external input currents I.
      tau: [] float > 0, the time constant (R C in the circuit).
      gain: [] float > 0, the amplifier gain lambda in ``v = g(gain u)``.
      activation: ``"sigmoid"`` (outputs in (0, 1)) or ``"tanh"`` ((-1, 1));
        static, not a pytree leaf.
    """

    weights: jax.Array
    bias: jax.Array
    tau: jax.Array
    gain: jax.Array
    activation: str = struct.field(pytree_node=False, default="sigmoid")

    def synaptic_input(self, v: jax.Array) -> jax.Array:
        """``W v + I``: (N,) outputs -> (N,) input currents."""
        return self.weights @ v + self.bias

    def interaction_energy(self, v: jax.Array) -> jax.Array:
        """``-v^T W v / 2 - I^T v`` for outputs ``v`` (N,)."""
        return -0.5 * v @ (self.weights @ v) - self.bias @ v


def chnn(
    weights: Any,
    bias: Any = None,
    *,
    tau: float = 1.0,
    gain: float = 1.0,
    activation: str = "sigmoid",
    check: bool = True,
) -> CHNN:
    """Build validated :class:`CHNN` parameters.

    Args:
      weights: (N, N) weight matrix.
      bias: (N,) external inputs; zeros when None.
      tau: time constant, > 0.
      gain: amplifier gain, > 0.
      activation: ``"sigmoid"`` or ``"tanh"``.
      check: require W symmetric with a zero diagonal (the conditions of the
        Lyapunov theorem); ``check=False`` allows any square W, e.g. to show
        with :func:`jnn.hopfield.lyapunov_check` that the energy can rise.

    Returns:
      The :class:`CHNN` (float32 unless x64 is enabled and inputs are float64).

    Raises:
      ValueError: W not square, asymmetric or with a non-zero diagonal (when
        ``check``), bias of the wrong shape, tau or gain not positive, an
        unknown activation.
    """
    w = _float_array(weights, "weights", ndim=2)
    n = w.shape[0]
    if w.shape != (n, n):
        raise ValueError(f"weights must be a square (N, N) matrix, got {w.shape}")
    if check and is_concrete(w):
        wn = np.asarray(w, dtype=np.float64)
        scale = max(float(np.max(np.abs(wn))), 1e-30)
        if np.max(np.abs(wn - wn.T)) > 1e-6 * scale:
            raise ValueError(
                "weights must be symmetric for the energy to be a Lyapunov function "
                "(pass check=False to study an asymmetric network)"
            )
        if np.max(np.abs(np.diag(wn))) > 1e-6 * scale:
            raise ValueError(
                "weights must have a zero diagonal (no self-feedback, W_ii = 0); "
                "pass check=False to allow it"
            )
    if bias is None:
        b = jnp.zeros((n,), w.dtype)
    else:
        b = _float_array(bias, "bias", ndim=1)
        if b.shape != (n,):
            raise ValueError(f"bias must have shape ({n},), got {b.shape}")
    for name, value in (("tau", tau), ("gain", gain)):
        _check_rate(value, name)
    check_activation(activation)
    dtype = w.dtype
    return CHNN(
        weights=w,
        bias=b.astype(dtype),
        tau=jnp.asarray(tau, dtype),
        gain=jnp.asarray(gain, dtype),
        activation=activation,
    )


def output(params: Any, u: jax.Array) -> jax.Array:
    """Neuron outputs ``v = g(gain u)``, same shape as ``u`` (any shape)."""
    check_network(params)
    check_array(u, "u", kind="n")
    return _output(params, u)


def _output(params: Any, u: jax.Array) -> jax.Array:
    x = params.gain * u
    return jax.nn.sigmoid(x) if params.activation == "sigmoid" else jnp.tanh(x)


def state_from_output(params: Any, v: jax.Array) -> jax.Array:
    """The inverse of :func:`output`: ``u = g^-1(v) / gain`` (any shape).

    Raises:
      ValueError: (when ``v`` is concrete) an output outside the activation's
        range, [0, 1] for sigmoid, [-1, 1] for tanh.
    """
    check_network(params)
    check_array(v, "v", kind="n")
    _check_outputs(params, v)
    if params.activation == "sigmoid":
        return (jnp.log(v) - jnp.log1p(-v)) / params.gain
    return jnp.arctanh(v) / params.gain


def leak_integral(params: Any, v: jax.Array) -> jax.Array:
    """``sum_i int_{g(0)}^{v_i} g^-1(s) / gain ds`` in closed form, a scalar.

    Finite on the closed range of g (0 log 0 = 0), so saturated outputs are
    fine.

    Raises:
      ValueError: (when ``v`` is concrete) an output outside the activation's
        range, [0, 1] for sigmoid, [-1, 1] for tanh, or of another shape
        than the network's state.
    """
    check_network(params)
    _check_state(params, v, "v")
    _check_outputs(params, v)
    return _leak_integral(params, v)


def _leak_integral(params: Any, v: jax.Array) -> jax.Array:
    if params.activation == "sigmoid":
        per_unit = jax.scipy.special.xlogy(v, v) + jax.scipy.special.xlogy(1 - v, 1 - v)
        per_unit = per_unit + math.log(2.0)
    else:
        per_unit = 0.5 * (
            jax.scipy.special.xlogy(1 + v, 1 + v)
            + jax.scipy.special.xlogy(1 - v, 1 - v)
        )
    return jnp.sum(per_unit) / params.gain


def energy(params: Any, v: jax.Array) -> jax.Array:
    """The Hopfield (1984) energy of outputs ``v`` (N,), a scalar.

    ``E(v) = -v^T W v / 2 - I^T v + leak_integral(v) / tau`` (module docstring).
    For internal states ``u`` use ``energy(params, output(params, u))``.

    Raises:
      ValueError: (when ``v`` is concrete) an output outside the activation's
        range, [0, 1] for sigmoid, [-1, 1] for tanh, where the leak integral
        is undefined; ``v`` of another shape than the network's state.
      TypeError: ``params`` is not a network, ``v`` not a numeric array.
    """
    check_network(params)
    _check_state(params, v, "v")
    _check_outputs(params, v)
    return params.interaction_energy(v) + _leak_integral(params, v) / params.tau


def vector_field(t: Any, u: jax.Array, params: Any) -> jax.Array:
    """``du/dt = -u / tau + W g(gain u) + I``; Diffrax's ``(t, y, args)`` order.

    Args:
      t: time (unused: the network is autonomous).
      u: (N,) internal states (or whatever shape the network uses).
      params: the network (:class:`CHNN` or a structured one).

    Returns:
      du/dt, same shape as ``u``.

    Raises:
      TypeError: ``params`` is not a network, ``u`` not a numeric array.
      ValueError: ``u`` not of the network's state shape, or (when concrete)
        not finite.
    """
    del t
    check_network(params)
    _check_state(params, u, "u")
    return -u / params.tau + params.synaptic_input(_output(params, u))
