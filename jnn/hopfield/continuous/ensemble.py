"""Many CHNN starts as one ODE system with a shared adaptive step.

``jax.vmap(simulate)`` gives every start its own step-size controller; under
``vmap`` the batch nevertheless runs in lock-step until its slowest member is
done, and the controller's bookkeeping (error norms, accept/reject selects)
is repeated per member. :func:`simulate_ensemble` integrates the stacked
states ``U (B, N)`` as one system instead: the field is one matrix product
``g(U) W^T``, and the step is accepted only when *every* member's scaled
error norm is <= 1 (the norm is the maximum over members of each member's RMS
norm), so each trajectory meets the same rtol/atol as alone. The price is the
same as under ``vmap``: all members take the slowest member's steps.
"""

from __future__ import annotations

import functools
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import optimistix as optx

from jnn._checks import check_array
from jnn.hopfield.continuous.checks import (
    _check_number,
    _check_solve_args,
    _float_array,
    _state_shape,
    check_network,
)
from jnn.hopfield.continuous.chnn import _output


def member_max_norm(y: jax.Array) -> jax.Array:
    """Max over the leading axis of each member's RMS norm: ``(B, ...) -> []``."""
    return jnp.max(jax.vmap(optx.rms_norm)(y))


def ensemble_vector_field(t: Any, u: jax.Array, params: Any) -> jax.Array:
    """:func:`jnn.hopfield.vector_field` for a stack of states ``(B, *shape)``.

    Raises:
      TypeError: ``params`` is not a network, ``u`` not a numeric array.
      ValueError: ``u`` not of shape ``(B, *state_shape)``, or (when concrete)
        not finite.
    """
    del t
    check_network(params)
    shape = _state_shape(params)
    check_array(u, "u", ndim=len(shape) + 1, kind="n")
    if tuple(u.shape[1:]) != shape:
        raise ValueError(
            f"`u` must have shape (B, {', '.join(map(str, shape))}): a stack of "
            f"the network's states; got {tuple(u.shape)}."
        )
    return -u / params.tau + jax.vmap(params.synaptic_input)(_output(params, u))


@functools.lru_cache(maxsize=64)
def _all_steady(rtol: float, atol: float) -> diffrax.Event:
    """Event: every member has ``||f|| < atol + rtol ||u||``.

    One object per setting, so that repeated calls reuse Diffrax's compiled
    solve.
    """

    def cond(t, y, args, *, terms, solver, **kwargs):
        del kwargs
        f = solver.func(terms, t, y, args)
        f_norm = jax.vmap(optx.rms_norm)(f)
        return jnp.all(f_norm < atol + rtol * jax.vmap(optx.rms_norm)(y))

    return diffrax.Event(cond)


def simulate_ensemble(
    params: Any,
    u0s: Any,
    *,
    t1: float,
    t0: float = 0.0,
    solver: diffrax.AbstractSolver | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-6,
    saveat: diffrax.SaveAt | None = None,
    until_steady: bool = True,
    max_steps: int | None = 4096,
    throw: bool = False,
) -> diffrax.Solution:
    """Integrate B starts of one network as one Diffrax solve.

    Args:
      params: the network (:class:`jnn.hopfield.CHNN` or any network of the
        :mod:`jnn.hopfield.continuous.chnn` protocol).
      u0s: (B, *state_shape) initial internal states.
      t1: end time (earlier when all members are steady and ``until_steady``).
      t0: start time.
      solver: an explicit or implicit Diffrax solver; default ``Tsit5()``.
      rtol: relative tolerance every member must meet.
      atol: absolute tolerance every member must meet.
      saveat: default the final states only.
      until_steady: stop when every member is at a steady state.
      max_steps: Diffrax's step budget.
      throw: raise when the solve fails.

    Returns:
      The ``diffrax.Solution``; ``ys`` has shape ``(saves, B, *state_shape)``
      (``ys[-1]`` holds the final states with the default ``saveat``).

    Raises:
      ValueError: ``u0s`` not of shape ``(B, *state_shape)`` or non-finite,
        ``t1 <= t0`` or a non-finite time, ``rtol < 0``, ``atol <= 0``,
        ``max_steps <= 0``, and (when concrete) a network whose ``tau`` or
        ``gain`` is not finite and > 0.
      TypeError: a ``solver`` or ``saveat`` that is not a Diffrax one.
    """
    check_network(params)
    shape = _state_shape(params)
    u0s = _float_array(u0s, "u0s", ndim=len(shape) + 1)
    if u0s.shape[1:] != shape:
        raise ValueError(
            f"u0s must have shape (B, {', '.join(map(str, shape))}), got {u0s.shape}"
        )
    _check_solve_args(
        params, t0=t0, t1=t1, solver=solver, saveat=saveat, max_steps=max_steps
    )
    _check_number(rtol, "rtol", low=0.0, strict=False)
    _check_number(atol, "atol", low=0.0, strict=True)
    controller = diffrax.PIDController(rtol=rtol, atol=atol, norm=member_max_norm)
    event = _all_steady(rtol, atol) if until_steady else None
    return diffrax.diffeqsolve(
        diffrax.ODETerm(ensemble_vector_field),
        diffrax.Tsit5() if solver is None else solver,
        t0=t0,
        t1=t1,
        dt0=None,
        y0=u0s.astype(jnp.result_type(params.tau)),
        args=params,
        saveat=diffrax.SaveAt(t1=True) if saveat is None else saveat,
        stepsize_controller=controller,
        event=event,
        max_steps=max_steps,
        throw=throw,
    )
