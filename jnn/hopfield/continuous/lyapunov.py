r"""Lyapunov checks of a dynamical system against an energy (curriculum D2).

A function ``V`` is a Lyapunov function of ``dx/dt = f(x)`` when it never
increases along trajectories:

.. math:: \dot V(x) = \nabla V(x) \cdot f(x) \le 0,

and it certifies a (strict, local) asymptotically stable equilibrium ``x*``
when, in addition, ``x*`` is a strict local minimum of ``V`` (Lyapunov 1892;
Khalil, *Nonlinear Systems*, Thm. 4.1). :func:`lyapunov_check` evaluates
``dV/dt`` by automatic differentiation at a batch of states (sampled, or along
a trajectory from :func:`jnn.hopfield.simulate`), flags where it is positive,
and tests V's definiteness at an equilibrium through its Hessian eigenvalues.

For the continuous Hopfield network, the energy in internal-state coordinates
``V(u) = E(g(gain u))`` gives ``dV/dt = -sum_i g'(u_i) (du_i/dt)^2 <= 0`` when W
is symmetric (Hopfield 1984); :func:`chnn_lyapunov` returns that pair, so an
asymmetric W (``chnn(..., check=False)``) can be shown to break it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_interval
from jnn.hopfield.continuous.checks import check_network
from jnn.hopfield.continuous.chnn import _output as output
from jnn.hopfield.continuous.chnn import vector_field as chnn_vector_field


class LyapunovReport(NamedTuple):
    """What :func:`lyapunov_check` found.

    Attributes:
      energies: (K,) V at each state.
      rates: (K,) ``dV/dt = grad V . f`` at each state.
      max_rate: [] the largest rate (> 0 means V increases somewhere).
      argmax: [] int, index of the state with the largest rate.
      violations: (K,) bool, ``rate > tol + rtol |grad V| |f|``.
      fraction_violated: [] fraction of states that violate.
      hessian_eigenvalues: (D,) eigenvalues (ascending) of V's Hessian at the
        equilibrium (D = state size), or None without an equilibrium.
      is_local_minimum: [] bool, the Hessian is positive definite there (a
        strict local minimum; semi-definite counts as False), or None.
      equilibrium_residual: [] ``||f(x*)||`` (~0 at a true equilibrium), or
        None.
    """

    energies: jax.Array
    rates: jax.Array
    max_rate: jax.Array
    argmax: jax.Array
    violations: jax.Array
    fraction_violated: jax.Array
    hessian_eigenvalues: jax.Array | None = None
    is_local_minimum: jax.Array | None = None
    equilibrium_residual: jax.Array | None = None


def lyapunov_check(
    energy: Callable[[jax.Array], jax.Array],
    vector_field: Callable[[jax.Array], jax.Array],
    states: Any,
    *,
    equilibrium: Any = None,
    tol: float = 1e-6,
    rtol: float = 1e-5,
    hessian_tol: float = 1e-6,
) -> LyapunovReport:
    r"""Check that ``energy`` never increases under ``vector_field`` at ``states``.

    ``dV/dt(x) = \nabla V(x) \cdot f(x)`` is computed with ``jax.grad`` and
    vmapped over the K states. A state violates when
    ``dV/dt > tol + rtol ||grad V|| ||f||``: the relative term forgives the
    rounding of a rate that is exactly zero in exact arithmetic (near an
    equilibrium both factors are small). With an ``equilibrium`` x*, the
    Hessian of V there is symmetrised and diagonalised: x* is reported a strict
    local minimum when its smallest eigenvalue exceeds
    ``hessian_tol * max(1, max |eigenvalue|)``.

    Args:
      energy: ``V(x) -> []``, a scalar function of one state (jax-traceable).
      vector_field: ``f(x) -> dx/dt``, same shape as ``x`` (no time argument;
        wrap a Diffrax field as ``lambda x: f(0.0, x, args)``).
      states: (K, *S) float, the states to test (S is the state shape, e.g.
        (N,)).
      equilibrium: optional (*S) state at which to test V's definiteness.
      tol: absolute tolerance on dV/dt, >= 0.
      rtol: tolerance relative to ``||grad V|| ||f||``, >= 0.
      hessian_tol: relative threshold for a positive Hessian eigenvalue, >= 0.

    Returns:
      A :class:`LyapunovReport`.

    Raises:
      TypeError: ``energy`` or ``vector_field`` is not callable.
      ValueError: ``states`` not (K, ...) finite floats, ``energy`` not
        scalar-valued, ``vector_field`` of the wrong output shape, an
        ``equilibrium`` of the wrong shape, a negative tolerance.
    """
    for name, fn in (("energy", energy), ("vector_field", vector_field)):
        if not callable(fn):
            raise TypeError(f"`{name}` must be callable; got {type(fn).__name__}.")
    states = _as_float(states, "states")
    if states.ndim < 2:
        raise ValueError(
            f"`states` must have shape (K, *state_shape); got shape {states.shape}."
        )
    _check_functions(energy, vector_field, states[0])
    for name, value in (("tol", tol), ("rtol", rtol), ("hessian_tol", hessian_tol)):
        check_interval(value, name, 0.0)
    if equilibrium is not None:
        equilibrium = _as_float(equilibrium, "equilibrium")
        if equilibrium.shape != states.shape[1:]:
            raise ValueError(
                f"`equilibrium` must have the state shape {states.shape[1:]}; "
                f"got {equilibrium.shape}."
            )
    report = _rates(energy, vector_field, states, tol, rtol)
    if equilibrium is None:
        return report
    eigenvalues, is_min, residual = _definiteness(
        energy, vector_field, equilibrium.astype(states.dtype), hessian_tol
    )
    return report._replace(
        hessian_eigenvalues=eigenvalues,
        is_local_minimum=is_min,
        equilibrium_residual=residual,
    )


def chnn_lyapunov(params: Any) -> tuple[Callable, Callable]:
    """The CHNN energy and vector field as functions of the internal state u.

    Args:
      params: a :class:`jnn.hopfield.CHNN` (or any network of its protocol).

    Returns:
      ``(V, f)`` with ``V(u) = E(g(gain u))`` (:func:`jnn.hopfield.
      energy_continuous`, its integral term rewritten in u so that the
      gradient stays finite at saturated outputs) and ``f(u) = du/dt``
      (:func:`jnn.hopfield.vector_field`), ready for :func:`lyapunov_check`.

    Raises:
      TypeError: ``params`` is not a network.
    """
    check_network(params)

    def energy(u: jax.Array) -> jax.Array:
        v = output(params, u)
        return params.interaction_energy(v) + _leak_of_state(params, u) / params.tau

    def vector_field(u: jax.Array) -> jax.Array:
        return chnn_vector_field(0.0, u, params)

    return energy, vector_field


def _leak_of_state(params: Any, u: jax.Array) -> jax.Array:
    """:func:`jnn.hopfield.leak_integral` of ``g(gain u)``, written in u.

    With ``x = gain u`` and ``log_sigmoid``, the logs stay finite where float32
    saturates ``g(x)`` to exactly 0 or ±1, so ``grad V`` has no ``0 * inf``.
    sigmoid: ``v ls(x) + (1-v) ls(-x) + ln 2``; tanh (``1 ± v = 2 s(±2x)``):
    ``ln 2 + ((1+v) ls(2x) + (1-v) ls(-2x)) / 2``.
    """
    x = params.gain * u
    v = output(params, u)
    ls = jax.nn.log_sigmoid
    if params.activation == "sigmoid":
        per_unit = v * ls(x) + (1 - v) * ls(-x) + math.log(2.0)
    else:
        per_unit = math.log(2.0) + 0.5 * ((1 + v) * ls(2 * x) + (1 - v) * ls(-2 * x))
    return jnp.sum(per_unit) / params.gain


def _as_float(x: Any, name: str) -> jax.Array:
    """``x`` as a finite float JAX array (float32 unless already floating)."""
    if isinstance(x, list | tuple):
        x = np.asarray(x)
    if hasattr(x, "shape") and len(x.shape) == 0:
        raise ValueError(f"`{name}` must be an array of states; got a scalar.")
    check_array(x, name, kind="n")
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def _check_functions(energy: Callable, vector_field: Callable, x: jax.Array) -> None:
    """Shape-check V and f on one state, without running them (eval_shape)."""
    v_shape = jax.eval_shape(energy, x).shape
    if v_shape != ():
        raise ValueError(
            f"`energy` must return a scalar for one state of shape {x.shape}; "
            f"got shape {v_shape}."
        )
    f_shape = jax.eval_shape(vector_field, x).shape
    if f_shape != x.shape:
        raise ValueError(
            f"`vector_field` must return dx/dt of the state shape {x.shape}; "
            f"got shape {f_shape}."
        )


@partial(jax.jit, static_argnums=(0, 1))
def _rates(energy, vector_field, states, tol, rtol) -> LyapunovReport:
    def one(x):
        value, grad = jax.value_and_grad(energy)(x)
        fx = vector_field(x)
        rate = jnp.vdot(grad, fx)
        scale = jnp.linalg.norm(grad.ravel()) * jnp.linalg.norm(fx.ravel())
        return value, rate, rate > tol + rtol * scale

    energies, rates, violations = jax.vmap(one)(states)
    return LyapunovReport(
        energies=energies,
        rates=rates,
        max_rate=jnp.max(rates),
        argmax=jnp.argmax(rates),
        violations=violations,
        fraction_violated=jnp.mean(violations.astype(rates.dtype)),
    )


@partial(jax.jit, static_argnums=(0, 1))
def _definiteness(energy, vector_field, equilibrium, hessian_tol):
    shape = equilibrium.shape

    def flat_energy(x):
        return energy(x.reshape(shape))

    hessian = jax.hessian(flat_energy)(equilibrium.ravel())
    eigenvalues = jnp.linalg.eigvalsh(0.5 * (hessian + hessian.T))
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(eigenvalues)))
    residual = jnp.linalg.norm(vector_field(equilibrium).ravel())
    return eigenvalues, eigenvalues[0] > hessian_tol * scale, residual
