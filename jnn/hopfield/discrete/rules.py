"""Storage rules of the discrete Hopfield network (D7, D11): patterns -> weights.

Every rule maps ``patterns: (M, N) array of ±1`` (or 0/1 with
``convention="binary"``, converted with :func:`to_bipolar`) to symmetric
weights ``W: (N, N) float32`` with a zero diagonal, to be used with
:func:`jnn.hopfield.recall` and thresholds ``theta = 0``. A pattern ``xi`` is a
fixed point when its stabilities ``xi_i h_i = xi_i sum_j W_ij xi_j`` are all
positive.

For a network of 0/1 neurons built from these bipolar weights, see
:func:`binary_weights`.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_interval,
    check_positive_float,
    check_positive_int,
    is_concrete,
)
from jnn.hopfield.discrete.dhnn import _check_theta, _check_weights, check_states


def to_bipolar(x: Any) -> jax.Array:
    """Map 0/1 states to ±1: ``s = 2 x - 1``.

    Args:
      x: (..., N) array of 0/1.

    Returns:
      float32 array of ±1, same shape.
    """
    x = check_states(x, "x", "binary", ndim=np.ndim(x) or 1)
    return 2.0 * x - 1.0


def to_binary(s: Any) -> jax.Array:
    """Map ±1 states to 0/1: ``x = (s + 1) / 2``.

    Args:
      s: (..., N) array of ±1.

    Returns:
      float32 array of 0/1, same shape.
    """
    s = check_states(s, "s", "bipolar", ndim=np.ndim(s) or 1)
    return (s + 1.0) / 2.0


def binary_weights(W: Any, theta: Any = 0.0) -> tuple[jax.Array, jax.Array]:
    """The 0/1 network equivalent to a ±1 network (same updates, ``v = (s+1)/2``).

    With ``s = 2 v - 1``: ``W s - theta = 2 W v - (theta + W 1)``, so the 0/1
    network with ``W' = 2 W`` and ``theta' = theta + W 1`` makes the same
    decisions; its energy is ``E(s) / 2`` up to a constant.

    Args:
      W: (N, N) bipolar weights.
      theta: scalar or (N,) bipolar thresholds.

    Returns:
      ``(W', theta')``: (N, N) and (N,) float32, for ``convention="binary"``.

    Raises:
      ValueError: ``W`` not square or not finite, ``theta`` of the wrong shape
        or not finite.
    """
    W = _check_weights(W, symmetric=False, check=False)
    theta = _check_theta(theta, W.shape[0])
    return 2.0 * W, theta + W.sum(axis=1)


def _patterns(patterns: Any, convention: str) -> jax.Array:
    x = check_states(patterns, "patterns", convention, ndim=2)
    return 2.0 * x - 1.0 if convention == "binary" else x


def _zero_diagonal(W: jax.Array) -> jax.Array:
    return W * (1.0 - jnp.eye(W.shape[0], dtype=W.dtype))


def hebbian(patterns: Any, *, convention: str = "bipolar") -> jax.Array:
    """Hebb's outer-product rule: ``W = (sum_m xi_m xi_m^T - M I) / N``.

    Exactly the curriculum's formula (Hopfield 1982); the ``- M I`` term zeroes
    the diagonal. Capacity about 0.138 N random patterns (Amit, Gutfreund &
    Sompolinsky 1985).

    Args:
      patterns: (M, N) array of ±1 (0/1 with ``convention="binary"``).
      convention: "bipolar" or "binary".

    Returns:
      (N, N) float32 symmetric weights, zero diagonal.
    """
    x = _patterns(patterns, convention)
    m, n = x.shape
    return (x.T @ x - m * jnp.eye(n, dtype=x.dtype)) / n


@jax.jit
def _storkey(x: jax.Array) -> jax.Array:
    n = x.shape[1]

    def learn(W, xi):
        h = W @ xi  # h_i = sum_k w_ik xi_k (zero diagonal)
        # h_ij = sum_{k != i, j} w_ik xi_k = h_i - w_ij xi_j
        hij = h[:, None] - W * xi[None, :]
        outer = xi[:, None] * xi[None, :]
        delta = (outer - xi[:, None] * hij.T - hij * xi[None, :]) / n
        return _zero_diagonal(W + delta), None

    W, _ = jax.lax.scan(learn, jnp.zeros((n, n), x.dtype), x)
    return W


def storkey(patterns: Any, *, convention: str = "bipolar") -> jax.Array:
    """Storkey's incremental, local rule (Storkey 1997).

    Patterns are learned one after the other:
    ``w_ij <- w_ij + (xi_i xi_j - xi_i h_ji - h_ij xi_j) / N`` with the partial
    field ``h_ij = sum_{k != i, j} w_ik xi_k``. It stores about
    ``N / sqrt(2 ln N)`` random patterns, beyond Hebb's 0.138 N.

    Reference: A. Storkey, "Increasing the capacity of a Hopfield network
    without sacrificing functionality", ICANN 1997.

    Args:
      patterns: (M, N) array of ±1 (0/1 with ``convention="binary"``).
      convention: "bipolar" or "binary".

    Returns:
      (N, N) float32 symmetric weights, zero diagonal.
    """
    return _storkey(_patterns(patterns, convention))


def pseudo_inverse(
    patterns: Any, *, convention: str = "bipolar", zero_diagonal: bool = True
) -> jax.Array:
    """Projection (pseudo-inverse) rule: ``W = X^T (X X^T)^-1 X = X^+ X``.

    ``W`` projects onto the span of the patterns, so ``W xi = xi`` for every
    stored pattern, up to ``M = N - 1`` linearly independent ones (Personnaz,
    Guyon & Dreyfus 1985; Kanter & Sompolinsky 1987). The diagonal
    ``P_ii < 1`` is removed by default (``h_i = xi_i (1 - P_ii)`` keeps the
    sign, and a zero diagonal enlarges the basins); ``zero_diagonal=False``
    returns the projection itself. ``X^+`` also covers dependent patterns.

    Args:
      patterns: (M, N) array of ±1 (0/1 with ``convention="binary"``).
      convention: "bipolar" or "binary".
      zero_diagonal: remove the diagonal.

    Returns:
      (N, N) float32 symmetric weights.
    """
    x = _patterns(patterns, convention)
    W = jnp.linalg.pinv(x) @ x
    W = 0.5 * (W + W.T)  # symmetric up to rounding; make it exact
    return _zero_diagonal(W) if zero_diagonal else W


def _stabilities(W: jax.Array, x: jax.Array) -> jax.Array:
    return x * (x @ W.T)  # (M, N): xi_i h_i for every pattern and neuron


def _check_rule_args(margin, learning_rate, rounds, rounds_name):
    check_interval(margin, "margin", 0.0)
    check_positive_float(learning_rate, "learning_rate")
    check_positive_int(rounds, rounds_name)


def _iterate(step, W, x, margin, rounds):
    """Apply ``step`` until every stability exceeds ``margin`` (or ``rounds``)."""

    def unstable(W):
        return jnp.any(_stabilities(W, x) <= margin)

    def body(carry):
        W, k = carry
        return step(W), k + 1

    W, k = jax.lax.while_loop(
        lambda c: unstable(c[0]) & (c[1] < rounds), body, (W, jnp.int32(0))
    )
    return W, ~unstable(W)


def _warn_unstable(done: jax.Array, rule: str, rounds: int) -> None:
    if is_concrete(done) and not bool(done):
        warnings.warn(
            f"{rule}: some patterns are still unstable after {rounds} rounds.",
            RuntimeWarning,
            stacklevel=3,
        )


def error_correcting(
    patterns: Any,
    *,
    margin: float = 0.1,
    max_epochs: int = 200,
    learning_rate: float = 1.0,
    convention: str = "bipolar",
) -> jax.Array:
    """Error-correcting (perceptron) learning until every pattern has a margin.

    Starting from the Hebbian weights, each epoch presents the patterns one by
    one; wherever a stability ``xi_i h_i <= margin`` the weights move towards
    the pattern, symmetrically so that the energy theorem still holds:
    ``Delta w_ij = eta / N * xi_i xi_j * (e_i + e_j) / 2`` with ``e_i = 1`` for an
    unstable neuron, else 0. This is the perceptron rule on the linear
    constraints ``xi_i sum_j w_ij xi_j > margin`` in the symmetric weights,
    so it stops after finitely many epochs whenever they are feasible
    (Gardner 1988: well beyond Hebb's 0.138 N; tested up to M = N / 2).

    Args:
      patterns: (M, N) array of ±1 (0/1 with ``convention="binary"``).
      margin: required stability ``kappa >= 0`` (weights scale as 1/N).
      max_epochs: maximum number of passes over the patterns.
      learning_rate: step ``eta`` > 0.
      convention: "bipolar" or "binary".

    Returns:
      (N, N) float32 symmetric weights, zero diagonal. Warns (RuntimeWarning)
      when some pattern is still unstable after ``max_epochs``.
    """
    _check_rule_args(margin, learning_rate, max_epochs, "max_epochs")
    x = _patterns(patterns, convention)
    W, done = _error_correcting(hebbian(x), x, margin, max_epochs, learning_rate)
    _warn_unstable(done, "error_correcting", max_epochs)
    return W


@functools.partial(jax.jit, static_argnames=("rounds",))
def _error_correcting(W, x, margin, rounds, learning_rate):
    n = x.shape[1]

    def epoch(W):
        def present(W, xi):
            wrong = (xi * (W @ xi) <= margin).astype(W.dtype)
            outer = xi[:, None] * xi[None, :]
            delta = outer * (wrong[:, None] + wrong[None, :]) / 2
            return _zero_diagonal(W + learning_rate / n * delta), None

        return jax.lax.scan(present, W, x)[0]

    return _iterate(epoch, W, x, margin, rounds)


def repeated_learning(
    patterns: Any,
    *,
    margin: float = 0.0,
    max_rounds: int = 100,
    learning_rate: float = 1.0,
    convention: str = "bipolar",
) -> jax.Array:
    """Repeated learning: re-present the poorly stored patterns (Hebb again).

    Starting from the Hebbian weights, each round adds the Hebbian term of
    every pattern that is not stored with the margin, i.e. has some
    ``xi_i h_i <= margin``: ``W <- W + eta / N * sum_{m unstable}
    (xi_m xi_m^T - I)``. Weak patterns gain weight until all are fixed points
    (the curriculum's repeated learning); unlike :func:`error_correcting` the
    update reinforces whole patterns, so it needs not converge at high load.

    Args:
      patterns: (M, N) array of ±1 (0/1 with ``convention="binary"``).
      margin: required stability ``>= 0``.
      max_rounds: maximum number of re-presentations.
      learning_rate: weight ``eta`` > 0 of each re-presentation.
      convention: "bipolar" or "binary".

    Returns:
      (N, N) float32 symmetric weights, zero diagonal. Warns (RuntimeWarning)
      when some pattern is still unstable after ``max_rounds``.
    """
    _check_rule_args(margin, learning_rate, max_rounds, "max_rounds")
    x = _patterns(patterns, convention)
    W, done = _repeated(hebbian(x), x, margin, max_rounds, learning_rate)
    _warn_unstable(done, "repeated_learning", max_rounds)
    return W


@functools.partial(jax.jit, static_argnames=("rounds",))
def _repeated(W, x, margin, rounds, learning_rate):
    n = x.shape[1]

    def present(W):
        weak = jnp.any(_stabilities(W, x) <= margin, axis=1).astype(W.dtype)
        delta = (x * weak[:, None]).T @ x
        return _zero_diagonal(W + learning_rate / n * delta)

    return _iterate(present, W, x, margin, rounds)
