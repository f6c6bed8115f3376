r"""Exact sums over every state of a small Boltzmann machine.

For ``N <=`` :data:`MAX_EXACT_UNITS` units the ``2^N`` states are enumerated
(in counting order, the first unit the most significant bit), so that

.. math:: Z = \sum_s e^{-E(s)},\qquad
          \log p(v) = \log \sum_h e^{-E(v, h)} - \log Z,

the expectations of the two phases of the learning rule, and the exact
log-likelihood gradient (Ackley, Hinton & Sejnowski 1985)

.. math:: \frac{\partial \langle\log p(v)\rangle_{\text{data}}}{\partial w_{ij}}
          = \langle s_i s_j\rangle^{+} - \langle s_i s_j\rangle^{-}

are computed without sampling: the references the samplers and the
sampled learning rule are tested against, and the ``boltzmann-exact`` demo.

Reference: D. H. Ackley, G. E. Hinton and T. J. Sejnowski, "A learning
algorithm for Boltzmann machines", Cognitive Science 9 (1985).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jnn._checks import check_array
from jnn.generative.boltzmann.machine import (
    BoltzmannMachine,
    boltzmann_energy,
    check_binary,
    check_boltzmann_machine,
)

#: Largest ``N`` that the exact functions enumerate (2^20 states).
MAX_EXACT_UNITS = 20


def _bits(n: int) -> jax.Array:
    """All ``2^n`` binary states in counting order: ``(2^n, n)`` float32."""
    index = jnp.arange(2**n, dtype=jnp.int32)
    shifts = jnp.arange(n - 1, -1, -1, dtype=jnp.int32)
    return ((index[:, None] >> shifts[None, :]) & 1).astype(jnp.float32)


class PhaseStatistics(NamedTuple):
    """The statistics the learning rule compares.

    Attributes:
      correlations: ``(N, N)`` ``<s_i s_j>`` (diagonal ``<s_i>``).
      means: ``(N,)`` ``<s_i>``.
    """

    correlations: jax.Array
    means: jax.Array


# --- exact sums over all states -------------------------------------------------


def _check_exact(bm: BoltzmannMachine) -> int:
    check_boltzmann_machine(bm)
    n = bm.bias.shape[0]
    if n > MAX_EXACT_UNITS:
        raise ValueError(
            f"`bm` has {n} units: exact sums enumerate 2^{n} states (at most "
            f"N = {MAX_EXACT_UNITS})."
        )
    return n


def exact_distribution(bm: BoltzmannMachine) -> jax.Array:
    """``p(s)`` of all ``2^N`` states, in counting order: ``(2^N,)``."""
    n = _check_exact(bm)
    return jax.nn.softmax(-boltzmann_energy(bm, _bits(n)))


def boltzmann_log_partition(bm: BoltzmannMachine) -> jax.Array:
    """Exact ``log Z = log sum_s exp(-E(s))`` over the ``2^N`` states: ``[]``."""
    n = _check_exact(bm)
    return jax.nn.logsumexp(-boltzmann_energy(bm, _bits(n)))


def _clamped(v: jax.Array, n: int) -> jax.Array:
    """Every completion ``[v, h]`` of visible states ``(B, V)``: ``(B, 2^H, N)``."""
    hidden = _bits(n - v.shape[-1])
    visible = jnp.broadcast_to(v[:, None, :], (v.shape[0], hidden.shape[0], v.shape[1]))
    return jnp.concatenate(
        [visible, jnp.broadcast_to(hidden[None], (v.shape[0],) + hidden.shape)], -1
    )


def _check_data(bm: BoltzmannMachine, v: Any, name: str = "v") -> jax.Array:
    """Binary ``(B, V)`` data with ``V <= N``."""
    n = _check_exact(bm)
    check_array(v, name, ndim=2, kind="n")
    if v.shape[1] > n:
        raise ValueError(
            f"`{name}` has {v.shape[1]} visible units; the machine has only {n} "
            "units (visible first)."
        )
    return check_binary(v, name)


def boltzmann_log_likelihood(bm: BoltzmannMachine, v: Any) -> jax.Array:
    r"""Exact ``log p(v) = log sum_h exp(-E(v, h)) - log Z`` per example (nats).

    Args:
      bm: the machine, ``N <=`` :data:`MAX_EXACT_UNITS`.
      v: ``(B, V)`` binary visible states (the first ``V`` units).

    Returns:
      ``(B,)`` float32.
    """
    v = _check_data(bm, v)
    return _log_likelihood(bm, v)


@jax.jit
def _log_likelihood(bm, v):
    n = bm.bias.shape[0]
    marginal = jax.nn.logsumexp(-boltzmann_energy(bm, _clamped(v, n)), -1)
    return marginal - jax.nn.logsumexp(-boltzmann_energy(bm, _bits(n)))


def exact_statistics(bm: BoltzmannMachine, v: Any = None) -> PhaseStatistics:
    r"""Exact ``<s_i s_j>`` and ``<s_i>``: free (negative) or clamped (positive) phase.

    Without ``v``: expectations under ``p(s)``. With ``v``: the mean over the
    examples of the expectations under ``p(h | v_n)``, the visible units
    clamped to ``v_n``.

    Args:
      bm: the machine, ``N <=`` :data:`MAX_EXACT_UNITS`.
      v: ``(B, V)`` binary visible data, or None for the free phase.
    """
    if v is None:
        _check_exact(bm)
        return _free_statistics(bm)
    return _clamped_statistics(bm, _check_data(bm, v))


@jax.jit
def _free_statistics(bm):
    states = _bits(bm.bias.shape[0])
    p = jax.nn.softmax(-boltzmann_energy(bm, states))
    return PhaseStatistics((states * p[:, None]).T @ states, p @ states)


@jax.jit
def _clamped_statistics(bm, v):
    states = _clamped(v, bm.bias.shape[0])  # (B, 2^H, N)
    q = jax.nn.softmax(-boltzmann_energy(bm, states), -1) / v.shape[0]
    correlations = jnp.einsum("bk,bki,bkj->ij", q, states, states)
    return PhaseStatistics(correlations, jnp.einsum("bk,bki->i", q, states))


def statistics_gradient(
    positive: PhaseStatistics, negative: PhaseStatistics
) -> BoltzmannMachine:
    r"""The log-likelihood gradient from the two phases (Ackley et al. 1985).

    .. math:: \frac{\partial \langle\log p(v)\rangle}{\partial w_{ij}}
              = \langle s_i s_j\rangle^{+} - \langle s_i s_j\rangle^{-},\qquad
              \frac{\partial \langle\log p(v)\rangle}{\partial b_i}
              = \langle s_i\rangle^{+} - \langle s_i\rangle^{-},

    ``w_ij = W_ij = W_ji`` being one shared weight; the diagonal is zero.
    """
    correlations = positive.correlations - negative.correlations
    n = correlations.shape[0]
    off_diagonal = 1.0 - jnp.eye(n, dtype=correlations.dtype)
    return BoltzmannMachine(
        correlations * off_diagonal, positive.means - negative.means
    )


def log_likelihood_gradient(bm: BoltzmannMachine, v: Any) -> BoltzmannMachine:
    """Exact gradient of the mean log-likelihood of ``v``, by enumeration.

    Args:
      bm: the machine, ``N <=`` :data:`MAX_EXACT_UNITS`.
      v: ``(B, V)`` binary visible data.

    Returns:
      A :class:`BoltzmannMachine` of gradients (ascent direction); the weight
      entry ``(i, j)`` is the derivative with respect to the shared weight
      ``w_ij`` (see :func:`statistics_gradient`).
    """
    v = _check_data(bm, v)
    return statistics_gradient(_clamped_statistics(bm, v), _free_statistics(bm))
