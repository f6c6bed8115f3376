"""What the memory analyses share: perturbed starts, one recall, checks (D9, D11).

Every measurement of :mod:`~jnn.hopfield.discrete.basins`,
:mod:`~jnn.hopfield.discrete.capacity` and :mod:`~jnn.hopfield.discrete.spurious`
is a batch of independent recalls of one state each
(:func:`jnn.hopfield.discrete.dhnn.recall`), ``vmap``-ped over trials (and
distances), compiled once per shape. This module holds their common parts:
:func:`flip_bits` (a start at Hamming distance ``d`` from a state), the
one-state recall they ``vmap``, and the checks of weights, patterns and update
modes at their public boundary.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key, is_concrete
from jnn.hopfield.discrete.dhnn import recall


def _check_bipolar(x, name: str) -> None:
    check_array(x, name, kind="n")
    if is_concrete(x) and not bool(np.all(np.abs(np.asarray(x)) == 1)):
        values = np.unique(np.asarray(x))[:5]
        raise ValueError(f"`{name}` must hold only -1 and +1; got values {values}.")


def _check_weights(w, n: int | None = None, against: str = "patterns") -> None:
    check_array(w, "W", ndim=2, kind="f")
    if w.shape[0] != w.shape[1]:
        raise ValueError(f"`W` must be square (N, N); got shape {tuple(w.shape)}.")
    if n is not None and w.shape[0] != n:
        raise ValueError(
            f"`W` is ({w.shape[0]}, {w.shape[0]}) but `{against}` has N = {n} "
            "units: they must agree."
        )
    gap = _asymmetry(w)
    if gap is not None:
        raise ValueError(
            "`W` must be symmetric (the recalls run compiled, where recall's own "
            f"check cannot raise); got max |W - W^T| = {gap:.3g}."
        )


def _asymmetry(w) -> float | None:
    """``max |W - W^T|`` of concrete (..., N, N) weights, None if symmetric.

    Symmetric means within float32 rounding: recall's tolerance, ``1e-5``
    relative to ``max(1, max |W|)``. Traced weights give None (not checked).
    """
    if not is_concrete(w):
        return None
    w = np.asarray(w, np.float64)
    gap = float(np.max(np.abs(w - np.swapaxes(w, -1, -2)), initial=0.0))
    scale = max(1.0, float(np.max(np.abs(w), initial=0.0)))
    return gap if gap > 1e-5 * scale else None


def _check_modes(mode: str, order: str) -> None:
    if mode not in ("async", "sync"):
        raise ValueError(f"`mode` must be 'async' or 'sync'; got {mode!r}.")
    if order not in ("sequential", "random"):
        raise ValueError(f"`order` must be 'sequential' or 'random'; got {order!r}.")


def flip_bits(key: jax.Array, state: jax.Array, d) -> jax.Array:
    """Flip exactly ``d`` distinct, uniformly chosen units of ``state``.

    Args:
      key: PRNG key.
      state: (N,) array of ±1.
      d: [] int number of units to flip (may be traced), 0 <= d <= N.

    Returns:
      (N,) the state with ``d`` signs reversed: Hamming distance ``d`` from it.
    """
    check_key(key)
    check_array(state, "state", ndim=1, kind="n")
    _check_flips(d, state.shape[0])
    # The rank of each unit in a random permutation: the d lowest ranks flip.
    ranks = jnp.argsort(jnp.argsort(jax.random.uniform(key, state.shape)))
    return jnp.where(ranks < d, -state, state)


def _check_flips(d, n: int) -> None:
    """``d`` an integer in [0, n] (its value only when concrete)."""
    if not is_concrete(d):
        return
    kind = np.asarray(d).dtype if hasattr(d, "dtype") else None
    integer = (
        isinstance(d, int | np.integer)
        if kind is None
        else np.issubdtype(kind, np.integer) and np.ndim(d) == 0
    )
    if isinstance(d, bool) or not integer:
        raise TypeError(f"`d` must be an int in [0, N={n}]; got {d!r}.")
    if not 0 <= int(d) <= n:
        raise ValueError(f"`d` must be in [0, N={n}]; got {int(d)}.")


def _recall_from(w, start, key, mode, order, max_sweeps):
    return recall(w, start, mode=mode, order=order, key=key, max_sweeps=max_sweeps)
