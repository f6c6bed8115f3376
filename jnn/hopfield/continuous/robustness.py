"""Fault tolerance of continuous Hopfield attractors (curriculum D4).

A memory stored as an attractor is fault tolerant when starts near it,
corrupted by noise, still flow to it (Hopfield 1984, Fig. 3: the analogue
network keeps the recall of its discrete counterpart). :func:`fault_tolerance`
measures it: from a clean start u it integrates the CHNN once, then from
``trials`` corrupted copies of u at each noise level (all in ONE vmapped,
compiled Diffrax call) and reports the fraction that end at the clean run's
attractor.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_key,
    check_positive_float,
    check_positive_int,
)
from jnn.hopfield.continuous.checks import (
    _state_shape,
    check_diffrax_objects,
    check_network,
)
from jnn.hopfield.continuous.chnn import _output
from jnn.hopfield.continuous.simulation import final_state, reached_steady_state
from jnn.hopfield.continuous.simulation import simulate as chnn_simulate
from jnn.hopfield.discrete.trials import flip_bits

NOISES = ("flip", "gaussian")
CRITERIA = ("sign", "state")


class FaultTolerance(NamedTuple):
    """Result of :func:`fault_tolerance`.

    Attributes:
      noise_levels: (L,) the noise levels tested.
      starts: (L, T, *S) the noisy initial states u0.
      fraction: (L,) fraction of noisy starts that reached the clean attractor.
      reached: (L, T) bool, per trial.
      clean_final: (N,) outputs v at the end of the clean run (the attractor).
      finals: (L, T, *S) outputs v at the end of each noisy run.
      steady: (L, T) bool, the noisy run stopped at a steady state before t1.
    """

    noise_levels: jax.Array
    starts: jax.Array
    fraction: jax.Array
    reached: jax.Array
    clean_final: jax.Array
    finals: jax.Array
    steady: jax.Array


def fault_tolerance(
    params: Any,
    u_clean: Any,
    noise_levels: Any,
    *,
    key: jax.Array,
    trials: int = 32,
    t1: float = 50.0,
    noise: str = "flip",
    criterion: str = "sign",
    atol: float = 1e-2,
    solver: diffrax.AbstractSolver | None = None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    max_steps: int = 4096,
) -> FaultTolerance:
    """Fraction of noisy starts that reach the clean start's attractor.

    Noise models (per trial, drawn from ``key``):

    * ``"flip"``: level p in [0, 1] flips the sign of exactly ``round(p N)``
      randomly chosen components of ``u_clean`` (the CHNN analogue of the
      bit flips of discrete recall, so both can run on the same probes);
    * ``"gaussian"``: level sigma adds ``sigma * std(u_clean) * eps``,
      eps ~ N(0, I) (``std`` is replaced by 1 when u_clean is constant).

    Attractor match: ``"sign"`` compares the sign pattern of ``v - c``
    (c = 1/2 for sigmoid, 0 for tanh) with the clean run's, i.e. the decoded
    binary memory; ``"state"`` requires ``max |v - v_clean| <= atol``. Every
    run integrates to ``t1`` or to a steady state (:func:`jnn.hopfield.
    simulate`, ``until_steady=True``).

    Args:
      params: the network (:class:`jnn.hopfield.CHNN` or its protocol).
      u_clean: (*S) clean internal state, e.g. ``pattern * 0.1``.
      noise_levels: (L,) non-negative levels (flip fractions <= 1 or sigmas).
      key: PRNG key of the noise.
      trials: noisy starts per level.
      t1: integration horizon, > 0.
      noise: ``"flip"`` or ``"gaussian"``.
      criterion: ``"sign"`` or ``"state"``.
      atol: tolerance of the ``"state"`` criterion, > 0.
      solver: Diffrax solver (default Tsit5).
      stepsize_controller: default ``PIDController(rtol=1e-3, atol=1e-6)``.
      max_steps: Diffrax's step budget per run.

    Returns:
      A :class:`FaultTolerance`.

    Raises:
      ValueError: ``u_clean`` of the wrong shape or non-finite, bad noise
        levels, an unknown ``noise`` or ``criterion``, non-positive ``t1``,
        ``atol`` or ``trials``.
      TypeError: ``key`` is not a PRNG key.
    """
    check_network(params)
    shape = _state_shape(params)
    if isinstance(u_clean, list | tuple):
        u_clean = np.asarray(u_clean)
    check_array(u_clean, "u_clean", ndim=len(shape), kind="n")
    if tuple(u_clean.shape) != shape:
        raise ValueError(
            f"`u_clean` must have the network's state shape {shape}; "
            f"got {tuple(u_clean.shape)}."
        )
    levels = _noise_levels(noise_levels, noise)
    if criterion not in CRITERIA:
        raise ValueError(f"`criterion` must be one of {CRITERIA}; got {criterion!r}.")
    check_positive_int(trials, "trials")
    check_positive_float(t1, "t1")
    check_positive_float(atol, "atol")
    check_positive_int(max_steps, "max_steps")
    check_key(key)
    check_diffrax_objects(solver=solver, stepsize_controller=stepsize_controller)
    dtype = jnp.result_type(params.tau)
    settings = _Settings(
        trials=trials,
        t1=float(t1),
        noise=noise,
        criterion=criterion,
        atol=float(atol),
        solver=solver,
        stepsize_controller=stepsize_controller,
        max_steps=max_steps,
    )
    return _study(
        params, jnp.asarray(u_clean, dtype), levels.astype(dtype), key, settings
    )


class _Settings(NamedTuple):
    """The static (hashable) settings of one compiled study."""

    trials: int
    t1: float
    noise: str
    criterion: str
    atol: float
    solver: Any
    stepsize_controller: Any
    max_steps: int


def _run(params, u0, s: _Settings):
    """Outputs v at the end of one solve, and whether a steady state ended it."""
    sol = chnn_simulate(
        params,
        u0,
        t1=s.t1,
        solver=s.solver,
        stepsize_controller=s.stepsize_controller,
        max_steps=s.max_steps,
    )
    return _output(params, final_state(sol)), reached_steady_state(sol)


@partial(jax.jit, static_argnums=4)
def _study(params, u_clean, levels, key, s: _Settings) -> FaultTolerance:
    starts = _noisy_starts(u_clean, levels, key, s.trials, s.noise)
    clean, _ = _run(params, u_clean, s)
    flat = starts.reshape(-1, *u_clean.shape)
    finals, steady = jax.vmap(lambda u: _run(params, u, s))(flat)
    finals = finals.reshape(*starts.shape)
    reached = _same_attractor(params, finals, clean, s.criterion, s.atol)
    return FaultTolerance(
        noise_levels=levels,
        starts=starts,
        fraction=jnp.mean(reached.astype(levels.dtype), axis=1),
        reached=reached,
        clean_final=clean,
        finals=finals,
        steady=steady.reshape(starts.shape[:2]),
    )


def _noise_levels(noise_levels: Any, noise: str) -> jax.Array:
    if noise not in NOISES:
        raise ValueError(f"`noise` must be one of {NOISES}; got {noise!r}.")
    if noise_levels is None:
        raise TypeError("`noise_levels` must be a 1-D list of levels; got None.")
    levels = np.asarray(noise_levels)
    check_array(levels, "noise_levels", ndim=1, kind="n")
    levels = levels.astype(np.float64)
    high = 1.0 if noise == "flip" else np.inf
    if np.any(levels < 0) or np.any(levels > high):
        raise ValueError(
            f"`noise_levels` must lie in [0, {high}] for noise={noise!r}; "
            f"got {levels.tolist()}."
        )
    return jnp.asarray(levels, jnp.float32)


def _noisy_starts(u_clean, levels, key, trials: int, noise: str) -> jax.Array:
    """(L, T, *S) corrupted copies of ``u_clean``."""
    keys = jax.random.split(key, (levels.shape[0], trials))
    flat = u_clean.ravel()
    if noise == "flip":
        counts = jnp.round(levels * flat.shape[0]).astype(jnp.int32)
        flips = jax.vmap(jax.vmap(flip_bits, (0, None, None)), (0, None, 0))
        out = flips(keys, flat, counts)
    else:
        spread = jnp.std(flat)
        spread = jnp.where(spread > 0, spread, 1.0)

        def gaussian(k, sigma):
            eps = jax.random.normal(k, flat.shape, flat.dtype)
            return flat + sigma * spread * eps

        out = jax.vmap(jax.vmap(gaussian, (0, None)), (0, 0))(keys, levels)
    return out.reshape(levels.shape[0], trials, *u_clean.shape)


def _same_attractor(params, finals, clean, criterion: str, atol: float):
    """(L, T) bool: each final state matches the clean one."""
    axes = tuple(range(2, finals.ndim))
    if criterion == "state":
        return jnp.max(jnp.abs(finals - clean[None, None]), axis=axes) <= atol
    centre = 0.5 if params.activation == "sigmoid" else 0.0
    signs = jnp.sign(finals - centre) == jnp.sign(clean - centre)[None, None]
    return jnp.all(signs, axis=axes)
