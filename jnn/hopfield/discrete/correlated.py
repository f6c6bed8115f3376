"""Random and correlated pattern sets, and orthogonalising correlated patterns.

Correlated patterns (e.g. images sharing a background) crowd the Hebbian
memory: the cross-talk of a pattern with the others no longer averages out.
Orthogonalising them before storage (:func:`orthogonalize`) restores the
capacity; stored in the weights Hebbian fashion (:func:`orthogonal_hebbian`)
it is the projection rule of Personnaz, Guyon & Dreyfus (1986), "Collective
computational properties of neural networks: new learning mechanisms",
Phys. Rev. A 34, 4217. Hierarchically correlated patterns: Parga & Virasoro
(1986), J. Physique 47, 1857.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnn._checks import check_array, check_fraction, check_key, check_positive_int


def random_patterns(key: jax.Array, m: int, n: int) -> jax.Array:
    """(m, n) float32 array of independent, uniform ±1 patterns."""
    check_key(key)
    check_positive_int(m, "m")
    check_positive_int(n, "n")
    return jax.random.rademacher(key, (m, n), dtype=jnp.float32)


def correlated_patterns(
    key: jax.Array, m: int, n: int, *, correlation: float
) -> jax.Array:
    """Patterns correlated through a common random parent (hierarchical patterns).

    ``xi^mu_i = eta_i`` with probability ``(1 + c) / 2`` and ``-eta_i``
    otherwise, for one uniform ±1 parent ``eta``: each pattern has overlap
    ``c`` with the parent and two patterns have expected overlap ``c^2``. With
    the Hebbian rule the parent's pull ``~ M c^3`` soon exceeds the unit signal
    and every pattern collapses onto the parent.

    Args:
      key: PRNG key.
      m: number of patterns.
      n: number of units.
      correlation: c in [0, 1).

    Returns:
      (m, n) float32 array of ±1.
    """
    check_key(key)
    check_positive_int(m, "m")
    check_positive_int(n, "n")
    check_fraction(correlation, "correlation")
    parent_key, child_key = jax.random.split(key)
    parent = jax.random.rademacher(parent_key, (1, n), dtype=jnp.float32)
    keep = jax.random.bernoulli(child_key, (1 + correlation) / 2, (m, n))
    return jnp.where(keep, parent, -parent)


def orthogonalize(patterns: jax.Array) -> jax.Array:
    """Symmetric (Loewdin) whitening of correlated patterns: ``Y = sqrt(N) G^-1/2 X``.

    ``G = X X^T`` is the (M, M) Gram matrix of the patterns; the rows of ``Y``
    span the same space as the patterns, are mutually orthogonal with
    ``Y Y^T = N I`` (what random ±1 patterns only have on average), and are the
    orthonormal set closest to the patterns in the least-squares sense (unlike
    Gram-Schmidt, the result does not depend on the patterns' order).

    How recall maps back: the orthogonalised vectors are real valued, so they
    are never states of the network. They are stored, Hebbian fashion, in the
    weights, ``W = Y^T Y / N`` (:func:`orthogonal_hebbian`), and this matrix
    equals ``X^T G^-1 X``, the projection onto the patterns' span. Every
    original pattern is therefore a fixed point (``W xi = xi``), recall runs
    on ±1 states in the original space, starts from the noisy original and
    ends on the original pattern: no decoding step is needed. (Storing
    binarised codes ``sign(Y)`` instead would need a separate decoder back to
    the patterns.) Hebbian storage of whitened patterns is thus the projection
    (pseudo-inverse) rule of Personnaz, Guyon & Dreyfus (1986).

    Args:
      patterns: (M, N) array of ±1 (any real values work), linearly independent
        (M <= N).

    Returns:
      (M, N) float32 orthogonalised patterns, ``Y Y^T = N I``.
    """
    check_array(patterns, "patterns", ndim=2, kind="n")
    if patterns.shape[0] > patterns.shape[1]:
        raise ValueError(
            "`patterns` (M, N) must have M <= N to be linearly independent; "
            f"got shape {tuple(patterns.shape)}."
        )
    x = jnp.asarray(patterns, jnp.float32)
    gram = x @ x.T
    values, vectors = jnp.linalg.eigh(gram)
    # Guard the inverse square root against round-off on a rank-deficient set.
    inv_sqrt = jax.lax.rsqrt(jnp.maximum(values, 1e-6 * jnp.max(values)))
    whiten = (vectors * inv_sqrt[None, :]) @ vectors.T
    return jnp.sqrt(jnp.float32(x.shape[1])) * (whiten @ x)


def orthogonal_hebbian(patterns: jax.Array) -> jax.Array:
    """Hebbian storage of the orthogonalised patterns, ``W = Y^T Y / N``, diag 0.

    Args:
      patterns: (M, N) array of ±1, linearly independent.

    Returns:
      (N, N) float32 weights with zero diagonal (see :func:`orthogonalize`).
    """
    y = orthogonalize(patterns)
    w = y.T @ y / y.shape[1]
    return w * (1.0 - jnp.eye(w.shape[0], dtype=w.dtype))
