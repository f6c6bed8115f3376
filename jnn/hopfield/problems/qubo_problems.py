r"""Worked problem -> energy -> weights mappings (D5): max-cut and the A/D converter.

Both are QUBOs mapped to sigmoid CHNNs by :func:`jnn.hopfield.problems.qubo.qubo`.

**Max-cut.** For a graph with symmetric non-negative weights ``A`` and a
partition ``x in {0,1}^N`` (side of each node), the cut is
``cut(x) = sum_{i<j} A_ij [x_i != x_j] = sum_ij A_ij x_i (1 - x_j)``.
Maximising it is minimising ``-cut(x) = x^T A x - d^T x`` with degrees
``d = A 1``: ``Q = A``, ``c = -d``, hence ``W = -2 A`` and ``I = d``
(connected neurons inhibit each other: they want opposite sides).

**A/D converter** (Tank & Hopfield 1986). An n-bit code ``V`` of an analogue
input ``x`` minimises ``(x - sum_i 2^i V_i)^2 / 2``; the paper adds
``-sum_i 2^{2i-1} V_i (V_i - 1)`` (zero on binary V) to cancel the diagonal:

.. math:: E = \tfrac12\Big(x - \sum_i 2^i V_i\Big)^2
          - \sum_i 2^{2i-1} V_i (V_i - 1),

i.e. ``T_ij = -2^{i+j}`` (i != j) and ``I_i = -2^{2i-1} + 2^i x``, which is
the QUBO ``Q = outer(2^i, 2^j) / 2``, ``c = -x 2^i`` up to the constant
``x^2 / 2``. The paper notes the energy has spurious local minima; started
from ``u = 0`` the circuit nevertheless settles on the right code for most
inputs (the fraction is measured in ``tests/hopfield/test_qubo.py`` and the
``adc`` demo).

References:
  D. W. Tank & J. J. Hopfield, "Simple 'neural' optimization networks: an
  A/D converter, signal decision circuit, and a linear programming circuit",
  IEEE Trans. Circuits and Systems 33(5):533-541 (1986).
  M. X. Goemans & D. P. Williamson, "Improved approximation algorithms for
  maximum cut and satisfiability problems using semidefinite programming",
  J. ACM 42(6):1115-1145 (1995) (max-cut background).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, is_concrete
from jnn.hopfield.continuous.checks import _check_rate
from jnn.hopfield.continuous.chnn import CHNN, chnn
from jnn.hopfield.problems.qubo import qubo

MAX_ADC_BITS = 16  # 2^(2i-1) stays exactly representable in float32


def validate_adjacency(adjacency: Any, name: str = "adjacency") -> jax.Array:
    """A symmetric, non-negative, finite (N, N) weight matrix; diagonal ignored.

    Self-loops never cross a cut, so the diagonal is set to zero.

    Raises:
      ValueError: not square, asymmetric, negative or non-finite entries.
    """
    if isinstance(adjacency, list | tuple):
        adjacency = np.asarray(adjacency)
    check_array(adjacency, name, ndim=2, kind="n")
    a = jnp.asarray(adjacency)
    a = a.astype(jnp.promote_types(a.dtype, jnp.float32))
    n = a.shape[0]
    if a.shape != (n, n):
        raise ValueError(f"`{name}` must be a square (N, N) matrix; got {a.shape}.")
    if is_concrete(a):
        an = np.asarray(a, np.float64)
        if np.any(an < 0):
            raise ValueError(
                f"`{name}` must have non-negative edge weights; got min {an.min()}."
            )
        if not np.allclose(an, an.T, rtol=1e-6, atol=1e-6 * max(an.max(), 1.0)):
            raise ValueError(f"`{name}` must be symmetric (an undirected graph).")
    return a * (1.0 - jnp.eye(n, dtype=a.dtype))


def max_cut_qubo(adjacency: Any) -> tuple[jax.Array, jax.Array]:
    """``(Q, c) = (A, -A 1)``: ``x^T Q x + c^T x = -cut(x)`` on {0,1}^N.

    Args:
      adjacency: (N, N) symmetric non-negative edge weights.

    Returns:
      ``(Q (N, N), c (N,))``.
    """
    a = validate_adjacency(adjacency)
    return a, -jnp.sum(a, axis=1)


def max_cut(adjacency: Any, *, gain: float | None = None, tau: float = 1.0) -> CHNN:
    """The max-cut CHNN: ``W = -2 A``, ``I = A 1`` (its energy is ``-cut``).

    Args:
      adjacency: (N, N) symmetric non-negative edge weights (networkx:
        ``nx.to_numpy_array(graph)``).
      gain: amplifier gain; None as in :func:`jnn.hopfield.problems.qubo.qubo`.
      tau: time constant.

    Returns:
      A sigmoid :class:`CHNN`; solve it with :func:`jnn.hopfield.solve_qubo`
      and score partitions with :func:`cut_value`.
    """
    q, c = max_cut_qubo(adjacency)
    return qubo(q, c, gain=gain, tau=tau)


def cut_value(adjacency: Any, x: Any) -> jax.Array:
    """Total weight of the edges crossing partition ``x``.

    Args:
      adjacency: (N, N) symmetric non-negative edge weights.
      x: (..., N) 0/1 side of each node (batched over leading axes).

    Returns:
      (...) ``sum_ij A_ij x_i (1 - x_j)``.
    """
    a = validate_adjacency(adjacency)
    x = np.asarray(x) if isinstance(x, list | tuple) else x
    check_array(x, "x", kind="n")
    x = jnp.asarray(x, a.dtype)
    if x.shape[-1:] != (a.shape[0],):
        raise ValueError(f"`x` must have shape (..., {a.shape[0]}); got {x.shape}.")
    return jnp.sum((x @ a) * (1.0 - x), axis=-1)


def _check_bits(n_bits: Any) -> None:
    if isinstance(n_bits, bool) or not isinstance(n_bits, int | np.integer):
        raise TypeError(f"`n_bits` must be an int; got {n_bits!r}.")
    if not 1 <= n_bits <= MAX_ADC_BITS:
        raise ValueError(f"`n_bits` must be in [1, {MAX_ADC_BITS}]; got {n_bits}.")


def _analog_array(analog: Any) -> jax.Array:
    """``analog`` as a JAX array: a real number (or array of them)."""
    if analog is None or isinstance(analog, str | bool):
        raise TypeError(f"`analog` must be a real number; got {analog!r}.")
    x = jnp.asarray(analog)
    if not (
        jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.floating)
    ):
        raise TypeError(f"`analog` must be a real number; got dtype {x.dtype}.")
    if is_concrete(x) and not np.all(np.isfinite(np.asarray(x, np.float64))):
        raise ValueError(f"`analog` must be finite; got {np.asarray(x)}.")
    return x


def _analog(analog: Any) -> jax.Array:
    x = _analog_array(analog)
    if x.ndim != 0:
        raise ValueError(f"`analog` must be a scalar; got shape {x.shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def adc_qubo(analog: Any, n_bits: int = 4) -> tuple[jax.Array, jax.Array]:
    """``(Q, c)`` with ``x^T Q x + c^T x = (analog - code)^2 / 2 - analog^2 / 2``.

    Args:
      analog: [] float input (jittable, vmappable).
      n_bits: number of bits, 1..16.

    Returns:
      ``(Q (n, n) = outer(2^i, 2^j) / 2, c (n,) = -analog 2^i)``.
    """
    _check_bits(n_bits)
    x = _analog(analog)
    powers = 2.0 ** jnp.arange(n_bits, dtype=x.dtype)
    return 0.5 * powers[:, None] * powers[None, :], -x * powers


def adc(analog: Any, n_bits: int = 4, *, gain: float = 10.0, tau: float = 1.0) -> CHNN:
    """The Tank & Hopfield (1986) n-bit A/D converter for input ``analog``.

    ``T_ij = -2^{i+j}`` (i != j), ``I_i = -2^{2i-1} + 2^i analog``, sigmoid
    amplifiers ``V_i = g(gain u_i)``; bit i is ``V_i > 1/2`` (bit 0 least
    significant). Jittable and vmappable over ``analog``.

    Args:
      analog: [] float input, normally in [0, 2^n_bits - 1].
      n_bits: number of bits, 1..16.
      gain: amplifier gain, > 0 (the paper's amplifiers are high-gain).
      tau: time constant, > 0.

    Returns:
      The :class:`CHNN`; run it with :func:`jnn.hopfield.simulate` from
      ``u0 = 0`` and read the code with :func:`adc_decode`.

    Raises:
      ValueError: n_bits out of range, non-scalar or non-finite analog,
        gain or tau not positive.
    """
    _check_rate(gain, "gain")
    _check_rate(tau, "tau")
    q, c = adc_qubo(analog, n_bits)
    off_diagonal = 1.0 - jnp.eye(n_bits, dtype=q.dtype)
    # Built directly, not via qubo(): chnn's symmetry check needs concrete W,
    # and W does not depend on the (possibly traced) analog input.
    return chnn(-2.0 * q * off_diagonal, -(c + jnp.diagonal(q)), tau=tau, gain=gain)


def adc_decode(v: Any) -> jax.Array:
    """The integer code ``sum_i 2^i [v_i > 1/2]`` of outputs ``v`` (..., n_bits).

    Returns:
      (...) int32.

    Raises:
      TypeError: ``v`` not a numeric array.
      ValueError: ``v`` a scalar, more than :data:`MAX_ADC_BITS` bits, or
        (when concrete) not finite.
    """
    check_array(v, "v", kind="n")
    if not 1 <= v.shape[-1] <= MAX_ADC_BITS:
        raise ValueError(
            f"`v` must hold (..., n_bits) outputs with 1 <= n_bits <= "
            f"{MAX_ADC_BITS}; got shape {tuple(v.shape)}."
        )
    v = jnp.asarray(v)
    powers = 2 ** jnp.arange(v.shape[-1], dtype=jnp.int32)
    powers = jnp.reshape(powers, (1,) * (v.ndim - 1) + powers.shape)
    return jnp.sum(jnp.where(v > 0.5, powers, 0), axis=-1)


def adc_target(analog: Any, n_bits: int = 4) -> jax.Array:
    """The ideal code: the integer nearest ``analog`` clipped to [0, 2^n - 1].

    This is the minimiser of ``(analog - code)^2`` (ties round half to even).

    Returns:
      [] or (...) int32, same shape as ``analog``.
    """
    _check_bits(n_bits)
    x = _analog_array(analog).astype(jnp.float32)
    return jnp.clip(jnp.round(x), 0, 2**n_bits - 1).astype(jnp.int32)
