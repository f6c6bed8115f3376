"""Solving the continuous Hopfield network with Diffrax (D3).

:func:`simulate` integrates ``du/dt``
(:func:`~jnn.hopfield.continuous.chnn.vector_field`) from one internal state
with any Diffrax solver and step-size controller, optionally stopped at
equilibrium by Diffrax's steady-state event (cached per tolerance setting, so
repeated solves reuse their compilation);
:func:`reached_steady_state` and :func:`final_state` read the solution. Works
for every network of the protocol of :mod:`jnn.hopfield.continuous.chnn`.
"""

from __future__ import annotations

import functools
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import optimistix as optx

from jnn.hopfield.continuous.checks import (
    _check_number,
    _check_solve_args,
    _float_array,
    _state_shape,
    check_network,
)
from jnn.hopfield.continuous.chnn import vector_field


def simulate(
    params: Any,
    u0: Any,
    *,
    t1: float,
    t0: float = 0.0,
    dt0: float | None = None,
    solver: diffrax.AbstractSolver | None = None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    saveat: diffrax.SaveAt | None = None,
    until_steady: bool = True,
    steady_rtol: float | None = None,
    steady_atol: float | None = None,
    max_steps: int | None = 4096,
    throw: bool = False,
) -> diffrax.Solution:
    """Integrate the CHNN from internal state ``u0`` with Diffrax.

    One state in, one solution out: ``jax.vmap(lambda u: simulate(p, u,
    t1=10.0))(u0s)`` runs many starts in one compiled call, and vmapping over
    ``params`` as well runs many networks.

    Args:
      params: the network (:class:`~jnn.hopfield.continuous.chnn.CHNN` or any
        object following the protocol of :mod:`jnn.hopfield.continuous.chnn`).
      u0: (N,) initial internal states.
      t1: end time; the solve stops earlier at a steady state when
        ``until_steady``.
      t0: start time.
      dt0: initial (adaptive) or fixed (constant step size) step; required for
        a non-adaptive controller, e.g. Euler with ``dt0=0.01`` is the
        textbook's discrete-time network ``u <- u + dt f(u)``.
      solver: any Diffrax solver, passed through unchanged; default
        ``diffrax.Tsit5()``. Use ``diffrax.Kvaerno5()`` for stiff, high-gain
        networks.
      stepsize_controller: default ``diffrax.PIDController(rtol=1e-3,
        atol=1e-6)``; ``diffrax.ConstantStepSize()`` for fixed steps.
      saveat: what to save; default the final state only (``SaveAt(t1=True)``).
        ``SaveAt(ts=...)`` or ``SaveAt(steps=True)`` give trajectories.
      until_steady: stop at equilibrium with Diffrax's steady-state event,
        ``||du/dt|| < atol + rtol ||u||``.
      steady_rtol: relative tolerance of that event; default the adaptive
        controller's, else 1e-3.
      steady_atol: its absolute tolerance; default the controller's, else 1e-6.
      max_steps: Diffrax's step budget.
      throw: raise when the solve fails (max_steps reached) instead of
        reporting it in ``solution.result``; keep False under ``vmap``.

    Returns:
      The ``diffrax.Solution``: ``ts``, ``ys`` (internal states u),
      ``stats["num_steps"]``, ``result``; ``event_mask`` is True when a steady
      state stopped the solve (see :func:`reached_steady_state`).

    Raises:
      ValueError: ``u0`` of the wrong shape or non-finite, ``t1 <= t0`` or a
        non-finite time, ``dt0 <= 0``, ``max_steps <= 0``, negative steady
        tolerances, a constant step size without ``dt0``, and (when concrete)
        a network whose ``tau`` or ``gain`` is not finite and > 0 (e.g. set
        with ``.replace``).
      TypeError: a ``solver``, ``stepsize_controller`` or ``saveat`` that is
        not the Diffrax object it names.

    Example:
      Two mutually exciting tanh neurons settle with both outputs at +1:

      >>> import jax.numpy as jnp
      >>> from jnn.hopfield import chnn, output
      >>> p = chnn(jnp.array([[0.0, 2.0], [2.0, 0.0]]), activation="tanh", gain=2.0)
      >>> sol = simulate(p, jnp.array([0.3, -0.1]), t1=100.0)
      >>> output(p, final_state(sol)).round(2).tolist(), bool(reached_steady_state(sol))
      ([1.0, 1.0], True)
    """
    check_network(params)
    shape = _state_shape(params)
    u0 = _float_array(u0, "u0", ndim=len(shape))
    if u0.shape != shape:
        raise ValueError(f"u0 must have shape {shape} (the network's), got {u0.shape}")
    _check_solve_args(
        params,
        t0=t0,
        t1=t1,
        solver=solver,
        saveat=saveat,
        max_steps=max_steps,
        stepsize_controller=stepsize_controller,
    )
    if dt0 is not None:
        _check_number(dt0, "dt0", low=0.0, strict=True)
    for name, value in (("steady_rtol", steady_rtol), ("steady_atol", steady_atol)):
        if value is not None:
            _check_number(value, name, low=0.0, strict=False)
    solver = diffrax.Tsit5() if solver is None else solver
    if stepsize_controller is None:
        stepsize_controller = diffrax.PIDController(rtol=1e-3, atol=1e-6)
    adaptive = isinstance(
        stepsize_controller, diffrax.AbstractAdaptiveStepSizeController
    )
    if not adaptive and dt0 is None:
        raise ValueError("dt0 is required with a non-adaptive stepsize_controller")
    event = None
    if until_steady:
        norm = None
        if not adaptive:
            steady_rtol = 1e-3 if steady_rtol is None else steady_rtol
            steady_atol = 1e-6 if steady_atol is None else steady_atol
            norm = optx.rms_norm
        event = _steady_event(steady_rtol, steady_atol, norm)
    return diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field),
        solver,
        t0=t0,
        t1=t1,
        dt0=dt0,
        y0=u0.astype(jnp.result_type(params.tau)),
        args=params,
        saveat=diffrax.SaveAt(t1=True) if saveat is None else saveat,
        stepsize_controller=stepsize_controller,
        event=event,
        max_steps=max_steps,
        throw=throw,
    )


@functools.lru_cache(maxsize=64)
def _cached_steady_event(rtol, atol, norm) -> diffrax.Event:
    return diffrax.Event(diffrax.steady_state_event(rtol, atol, norm=norm))


def _steady_event(rtol: Any, atol: Any, norm: Any) -> diffrax.Event:
    """Diffrax's steady-state event, one object per tolerance setting.

    ``steady_state_event`` returns a new closure on every call, and Diffrax's
    compiled solve is cached on the event's identity: reusing the object lets
    repeated (un-jitted) ``simulate`` calls skip recompilation.
    """
    try:
        return _cached_steady_event(rtol, atol, norm)
    except TypeError:  # unhashable (array) tolerances: build a fresh event
        return diffrax.Event(diffrax.steady_state_event(rtol, atol, norm=norm))


def _check_solution(solution: Any) -> None:
    if not isinstance(solution, diffrax.Solution):
        raise TypeError(
            "`solution` must be a diffrax.Solution (from simulate or "
            f"simulate_ensemble); got {type(solution).__name__}."
        )


def reached_steady_state(solution: diffrax.Solution) -> jax.Array:
    """True where the steady-state event ended the solve ([] or batched)."""
    _check_solution(solution)
    mask = solution.event_mask
    if mask is None:
        return jnp.zeros(jnp.shape(solution.result._value), bool)
    return jnp.asarray(mask)


def final_state(solution: diffrax.Solution) -> jax.Array:
    """The internal state at the end of the solve: the last saved ``ys``.

    Works for any state shape ((N,) for :class:`~jnn.hopfield.CHNN`, (n, n) for the TSP
    network) and for batched solutions: the save axis is the last axis of
    ``solution.ts``, so a ``vmap``-ped solution ``(B, saves, *S)`` gives
    ``(B, *S)`` and a :func:`jnn.hopfield.simulate_ensemble` solution
    ``(saves, B, *S)`` gives ``(B, *S)``. Slots that a solve stopped early
    left unfilled (``ts = inf``, e.g. ``SaveAt(ts=...)`` or
    ``SaveAt(steps=True)`` with a steady-state event) are skipped.

    Raises:
      ValueError: the solution saved no states (``ys`` is None).
    """
    _check_solution(solution)
    ys, ts = solution.ys, solution.ts
    if ys is None or ts is None:
        raise ValueError(
            "`solution` saved no states (ys is None); solve with a saveat that "
            "saves t1, ts or steps."
        )
    axis = ts.ndim - 1
    last = jnp.maximum(jnp.sum(jnp.isfinite(ts), axis=-1) - 1, 0)  # ts.shape[:-1]
    index = jnp.reshape(last, (*ts.shape[:-1], 1) + (1,) * (ys.ndim - ts.ndim))
    return jnp.squeeze(jnp.take_along_axis(ys, index, axis=axis), axis=axis)
