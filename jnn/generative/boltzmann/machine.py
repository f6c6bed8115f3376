r"""The Boltzmann machine: an energy over binary units and its Gibbs samplers.

A Boltzmann machine (Ackley, Hinton & Sejnowski 1985) has ``N`` binary units
``s`` in {0, 1}, the first ``V`` visible and the other ``H = N - V`` hidden,
every pair joined by a symmetric weight, no unit by itself:

.. math:: E(s) = -\tfrac12\, s^\top W s - b^\top s,\qquad
          W = W^\top,\ W_{ii} = 0,\qquad p(s) = e^{-E(s)} / Z .

It is an energy function first (as the Hopfield network is). Everything else
derives from it: the energy gap of unit ``i`` is its local field
``E(s|s_i=0) - E(s|s_i=1) = b_i + (W s)_i``, so Gibbs sampling sets
``s_i = 1`` with probability ``sigmoid(b_i + (W s)_i)``; the learning rule
(:mod:`.machine_learning`) and the exact sums (:mod:`.machine_exact`) follow
from ``p(s)``.

* :func:`sequential_gibbs`: unit after unit (a ``lax.fori_loop`` over the
  units inside a ``lax.fori_loop`` over sweeps), the visible units optionally
  clamped; valid for any ``W``.
* :func:`block_gibbs`: the units of a block updated at once, valid when no
  two units of a block are connected (a colouring of the graph: the layers of
  a restricted or deep Boltzmann machine).

Every function works on one state ``(N,)`` or a batch ``(..., N)`` of
independent chains.

Reference: D. H. Ackley, G. E. Hinton and T. J. Sejnowski, "A learning
algorithm for Boltzmann machines", Cognitive Science 9 (1985).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key, check_positive_int, is_concrete
from jnn.generative.boltzmann.rbm import _rows


class BoltzmannMachine(NamedTuple):
    """A Boltzmann machine's parameters (visible units first).

    Attributes:
      weights: ``W``, ``(N, N)`` float32, symmetric with a zero diagonal.
      bias: ``b``, ``(N,)`` float32.
    """

    weights: jax.Array
    bias: jax.Array


# --- construction and checks ---------------------------------------------------


def check_boltzmann_machine(bm: Any, name: str = "bm") -> None:
    """Raise unless ``bm`` is a :class:`BoltzmannMachine` (symmetric, zero diagonal)."""
    if not isinstance(bm, BoltzmannMachine):
        raise TypeError(
            f"`{name}` must be a jnn.generative.BoltzmannMachine (see "
            f"init_boltzmann_machine); got {type(bm).__name__}."
        )
    check_array(bm.weights, f"{name}.weights", ndim=2, kind="f")
    check_array(bm.bias, f"{name}.bias", ndim=1, kind="f")
    n = bm.bias.shape[0]
    if tuple(bm.weights.shape) != (n, n):
        raise ValueError(
            f"`{name}.weights` must have shape ({n}, {n}) to match `{name}.bias`; "
            f"got {tuple(bm.weights.shape)}."
        )
    if is_concrete(bm.weights):
        w = np.asarray(bm.weights, np.float64)
        scale = max(1.0, float(np.abs(w).max()))
        if np.abs(w - w.T).max() > 1e-5 * scale or np.abs(np.diag(w)).max() > 0:
            raise ValueError(
                f"`{name}.weights` must be symmetric with a zero diagonal; got "
                f"max |W - W^T| = {np.abs(w - w.T).max():.3g}, max |W_ii| = "
                f"{np.abs(np.diag(w)).max():.3g}."
            )


def init_boltzmann_machine(
    key: jax.Array,
    n_visible: int,
    n_hidden: int,
    *,
    scale: float = 0.01,
    visible_bias: Any = None,
) -> BoltzmannMachine:
    """A new machine: symmetric ``N(0, scale^2)`` weights, zero diagonal.

    Args:
      key: PRNG key of the weights.
      n_visible: ``V``, >= 1.
      n_hidden: ``H``, >= 0 (0: a fully visible machine).
      scale: standard deviation of the weights.
      visible_bias: ``(V,)`` initial visible biases (zeros if None); the
        hidden biases start at zero.
    """
    check_key(key)
    check_positive_int(n_visible, "n_visible")
    _check_hidden_count(n_hidden)
    if not (isinstance(scale, int | float) and np.isfinite(scale) and scale >= 0):
        raise ValueError(f"`scale` must be a finite number >= 0; got {scale!r}.")
    n = n_visible + n_hidden
    upper = jnp.triu(scale * jax.random.normal(key, (n, n), jnp.float32), 1)
    bias = jnp.zeros((n,), jnp.float32)
    if visible_bias is not None:
        check_array(visible_bias, "visible_bias", ndim=1, kind="f")
        if visible_bias.shape != (n_visible,):
            raise ValueError(
                f"`visible_bias` must have shape ({n_visible},); got "
                f"{tuple(visible_bias.shape)}."
            )
        bias = bias.at[:n_visible].set(jnp.asarray(visible_bias, jnp.float32))
    return BoltzmannMachine(upper + upper.T, bias)


def _check_hidden_count(n_hidden: Any) -> None:
    if isinstance(n_hidden, bool) or not isinstance(n_hidden, int | np.integer):
        raise TypeError(f"`n_hidden` must be an int >= 0; got {n_hidden!r}.")
    if n_hidden < 0:
        raise ValueError(f"`n_hidden` must be an int >= 0; got {n_hidden}.")


def check_binary(x: Any, name: str, *, units: int | None = None) -> jax.Array:
    """Check binary states ``(..., units)`` (values checked when concrete): float32.

    Raises:
      ValueError: a last axis other than ``units``, values other than 0 and 1.
    """
    check_array(x, name, kind="n")
    if units is not None and tuple(x.shape)[-1:] != (units,):
        raise ValueError(
            f"`{name}` must have {units} units in its last axis; got shape "
            f"{tuple(x.shape)}."
        )
    if is_concrete(x):
        values = np.asarray(x)
        bad = (values != 0) & (values != 1)
        if bad.any():
            raise ValueError(
                f"`{name}` must be binary (0/1); got {values[bad].ravel()[:3].tolist()}"
                " (binarise the data, e.g. jnn.generative.binarize)."
            )
    return jnp.asarray(x, jnp.float32)


# --- the energy and what derives from it --------------------------------------


def boltzmann_energy(bm: BoltzmannMachine, s: jax.Array) -> jax.Array:
    """``E(s) = -1/2 s^T W s - b^T s`` of states ``(..., N)``: ``(...)``."""
    return -0.5 * jnp.sum((s @ bm.weights) * s, -1) - s @ bm.bias


def local_field(bm: BoltzmannMachine, s: jax.Array) -> jax.Array:
    """Energy gaps ``b + W s = E(s_i = 0) - E(s_i = 1)``: ``(..., N)``."""
    field = s @ bm.weights
    return field + _rows(bm.bias, field)


# --- Gibbs sampling ------------------------------------------------------------


def gibbs_sweeps(
    bm: BoltzmannMachine,
    s: jax.Array,
    key: jax.Array,
    sweeps: int,
    *,
    n_clamped: int = 0,
    random_order: bool = False,
) -> jax.Array:
    """``sweeps`` sequential Gibbs sweeps over units ``n_clamped .. N-1`` (traceable).

    Unit ``i`` is set to 1 with probability ``sigmoid(b_i + (W s)_i)`` given the
    current values of all the others, one unit after the other; the first
    ``n_clamped`` units keep their values. Works on ``(..., N)`` states
    (independent chains); the unchecked core of :func:`sequential_gibbs`.
    """
    n = s.shape[-1]
    free = n - n_clamped
    if free == 0 or sweeps == 0:
        return s

    def sweep(t, s):
        k_order, k_unit = jax.random.split(jax.random.fold_in(key, t))
        units = n_clamped + (
            jax.random.permutation(k_order, free) if random_order else jnp.arange(free)
        )
        uniform = jax.random.uniform(k_unit, s.shape[:-1] + (free,))

        def update(u, s):
            i = units[u]
            field = s @ bm.weights[:, i] + bm.bias[i]
            on = (uniform[..., u] < jax.nn.sigmoid(field)).astype(s.dtype)
            return s.at[..., i].set(on)

        return jax.lax.fori_loop(0, free, update, s)

    return jax.lax.fori_loop(0, sweeps, sweep, s)


def sequential_gibbs(
    bm: BoltzmannMachine,
    key: jax.Array,
    start: Any,
    sweeps: int,
    *,
    n_clamped: int = 0,
    random_order: bool = False,
) -> jax.Array:
    """Sequential Gibbs sampling from ``start`` (checked, compiled).

    Args:
      bm: the machine.
      key: PRNG key; sweep ``t`` uses ``fold_in(key, t)``.
      start: ``(..., N)`` binary start states (one chain per row).
      sweeps: number of sweeps, >= 1.
      n_clamped: the first ``n_clamped`` units (the visible ones, for the
        positive phase) are held at their values of ``start``.
      random_order: visit the free units in a fresh random order every sweep
        (random-scan Gibbs) instead of in index order.

    Returns:
      ``(..., N)`` float32 states after the last sweep.
    """
    check_boltzmann_machine(bm)
    check_key(key)
    check_positive_int(sweeps, "sweeps")
    n = bm.bias.shape[0]
    start = check_binary(start, "start", units=n)
    if isinstance(n_clamped, bool) or not isinstance(n_clamped, int):
        raise TypeError(f"`n_clamped` must be an int; got {n_clamped!r}.")
    if not 0 <= n_clamped <= n:
        raise ValueError(f"`n_clamped` must be in [0, {n}]; got {n_clamped}.")
    return _sequential(bm, start, key, sweeps, n_clamped, bool(random_order))


@functools.partial(jax.jit, static_argnums=(3, 4, 5))
def _sequential(bm, start, key, sweeps, n_clamped, random_order):
    return gibbs_sweeps(
        bm, start, key, sweeps, n_clamped=n_clamped, random_order=random_order
    )


def block_gibbs(
    bm: BoltzmannMachine,
    key: jax.Array,
    start: Any,
    sweeps: int,
    blocks: Sequence[Sequence[int]],
) -> jax.Array:
    """Block Gibbs sampling: the units of each block updated at once (compiled).

    Updating the units of a block in parallel samples their exact joint
    conditional only when they are conditionally independent, i.e. when no
    weight joins two units of a block (checked when ``W`` is concrete). The
    blocks are visited in order once per sweep; units in no block are clamped.

    Args:
      bm: the machine.
      key: PRNG key.
      start: ``(..., N)`` binary start states.
      sweeps: number of sweeps, >= 1.
      blocks: disjoint lists of unit indices, e.g. ``[range(V), range(V, N)]``
        for a machine without lateral connections (an RBM).

    Returns:
      ``(..., N)`` float32 states after the last sweep.

    Raises:
      ValueError: a block holding connected units, overlapping blocks,
        indices out of range.
    """
    check_boltzmann_machine(bm)
    check_key(key)
    check_positive_int(sweeps, "sweeps")
    n = bm.bias.shape[0]
    start = check_binary(start, "start", units=n)
    masks = np.zeros((len(blocks), n), bool)
    for b, block in enumerate(blocks):
        units = np.asarray(list(block), int)
        if units.size == 0 or units.min() < 0 or units.max() >= n:
            raise ValueError(
                f"`blocks[{b}]` must hold unit indices in [0, {n}); got "
                f"{units.tolist()}."
            )
        masks[b, units] = True
        if is_concrete(bm.weights):
            inner = np.asarray(bm.weights)[np.ix_(units, units)]
            if np.any(inner != 0):
                raise ValueError(
                    f"`blocks[{b}]` joins connected units: block Gibbs needs "
                    "blocks without internal weights (use sequential_gibbs)."
                )
    if np.any(masks.sum(0) > 1):
        raise ValueError("`blocks` must be disjoint: a unit appears twice.")
    return _block(bm, start, key, sweeps, jnp.asarray(masks))


@functools.partial(jax.jit, static_argnums=3)
def _block(bm, s, key, sweeps, masks):
    def sweep(t, s):
        def update(b, s):
            k = jax.random.fold_in(jax.random.fold_in(key, t), b)
            on = jax.random.uniform(k, s.shape) < jax.nn.sigmoid(local_field(bm, s))
            return jnp.where(_rows(masks[b], s), on.astype(s.dtype), s)

        return jax.lax.fori_loop(0, masks.shape[0], update, s)

    return jax.lax.fori_loop(0, sweeps, sweep, s)
