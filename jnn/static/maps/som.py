r"""Kohonen's self-organising map (curriculum S1), online and batch.

The map is a grid of units, each with a weight vector in the input space.
Online training (Kohonen 1982) picks one sample ``x`` at step ``t``, finds its
best matching unit ``c = argmin_u ||x - w_u||`` and pulls every unit towards
the sample, weighted by its neighbourhood to ``c`` on the grid:

.. math:: w_u \leftarrow w_u + \eta(t)\, h_{cu}(\sigma(t))\, (x - w_u)

The batch map (Kohonen 2001, sec. 3.14; MiniSom's ``train_batch_offline``)
updates all units at once from the whole data set:

.. math:: \bar w_u = \frac{\sum_i h_{c(x_i)u}\, x_i}{\sum_i h_{c(x_i)u}},
          \qquad w_u \leftarrow (1 - \eta(t))\, w_u + \eta(t)\, \bar w_u

for the units with a positive denominator (``learning_rate=1`` with
``decay="constant"`` is Kohonen's pure batch map). Both are
:class:`jnn.train.Learner` s; ``eta`` and ``sigma`` decay with ``t /
n_iterations`` exactly as in MiniSom 2.3.6, so that with the same initial
weights and sample order a run reproduces MiniSom's ``train_random`` step for
step (see ``tests/static/test_som.py``).

References:
  T. Kohonen, "Self-organized formation of topologically correct feature
  maps", Biological Cybernetics 43, 1982. T. Kohonen, "Self-Organizing Maps",
  3rd ed., Springer 2001. G. Vettigli, MiniSom (2018-), github.com/JustGlowing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jnn._checks import (
    check_array,
    check_positive_float,
    check_positive_int,
)
from jnn.static.maps.som_metrics import (
    check_grid,
    decay_schedule,
    neighborhood,
    quantization_error,
    random_weights,
    squared_distances,
    topographic_error,
)
from jnn.train import Learner, full_batch


class SOMState(NamedTuple):
    """State of a self-organising map.

    Attributes:
      weights: ``(rows * cols, d)`` codebook, unit ``i * cols + j`` at map
        position ``(i, j)``.
      step: ``[]`` int32, the decay time ``t``: samples seen (online) or
        batch iterations done (batch).
    """

    weights: jax.Array
    step: jax.Array


class _Rule(NamedTuple):
    """Static settings shared by the online and batch learners."""

    n_units: int
    h: Callable
    rate: Callable  # t -> eta(t)
    width: Callable  # t -> sigma(t)
    evaluate: Callable
    init: Callable


def _rule(grid, topology, neighborhood_name, learning_rate, sigma, decay,
          sigma_decay, n_iterations, init_weights) -> _Rule:  # fmt: skip
    grid = check_grid(grid, topology)
    h = neighborhood(neighborhood_name, grid, topology)
    check_positive_float(learning_rate, "learning_rate")
    check_positive_float(sigma, "sigma")
    check_positive_int(n_iterations, "n_iterations")
    lr_decay, sigma_fn = (
        decay_schedule(decay),
        decay_schedule(sigma_decay, "sigma_decay"),
    )
    n_units = grid[0] * grid[1]
    if init_weights is not None:
        check_array(init_weights, "init_weights", ndim=2, kind="f")
        if init_weights.shape[0] != n_units:
            raise ValueError(
                f"`init_weights` must have {n_units} rows (one per unit of grid "
                f"{grid}); got shape {tuple(init_weights.shape)}."
            )

    def init(key, batch):
        x = batch["x"]
        if init_weights is not None:
            if init_weights.shape[1] != x.shape[-1]:
                raise ValueError(
                    f"`init_weights` has {init_weights.shape[1]} features but the "
                    f"data have {x.shape[-1]}."
                )
            weights = jnp.asarray(init_weights, x.dtype)
        else:
            weights = random_weights(key, n_units, x.shape[-1], x.dtype)
        return SOMState(weights, jnp.zeros((), jnp.int32))

    def evaluate(state, data):
        out = {"quantization_error": quantization_error(state.weights, data["x"])}
        if n_units > 1:
            te = topographic_error(state.weights, data["x"], grid, topology)
            out["topographic_error"] = te
        return out

    return _Rule(
        n_units,
        h,
        lambda t: lr_decay(learning_rate, t, n_iterations),
        lambda t: sigma_fn(sigma, t, n_iterations),
        evaluate,
        init,
    )


def som(
    grid: tuple[int, int],
    *,
    n_iterations: int,
    topology: str = "rectangular",
    neighborhood: str = "gaussian",
    learning_rate: float = 0.5,
    sigma: float = 1.0,
    decay: str | Callable = "asymptotic_decay",
    sigma_decay: str | Callable = "asymptotic_decay",
    init_weights: jax.Array | None = None,
) -> Learner:
    """Online SOM (Kohonen 1982) as a learner: one sample per step, in order.

    ``update`` applies the rows of its batch one after another (a batch of
    ``B`` rows is ``B`` online steps), so ``batch_size=1`` in the engine is the
    textbook rule and a larger batch runs the same rule with less per-step
    engine work. Steps with ``t >= n_iterations`` leave the map unchanged.

    Args:
      grid: ``(rows, cols)`` units.
      n_iterations: ``T``, the number of online steps the schedules span.
      topology: ``rectangular`` or ``hexagonal``.
      neighborhood: ``gaussian``, ``bubble``, ``mexican_hat`` or ``triangle``
        (:func:`jnn.static.neighborhood`).
      learning_rate: ``eta_0``.
      sigma: ``sigma_0``, neighbourhood width in grid units.
      decay: schedule of ``eta``: a name in :data:`DECAYS` (MiniSom's, default
        ``eta_0 / (1 + 2t / T)``) or ``f(eta_0, t, T)``.
      sigma_decay: schedule of ``sigma``, likewise.
      init_weights: optional ``(rows * cols, d)`` initial weights; default
        :func:`random_weights` from the init key.

    Returns:
      A :class:`jnn.train.Learner` with :class:`SOMState` state; ``update``
      records ``quantization_error`` (mean distance of the batch's samples to
      their winners before the step), ``learning_rate`` and ``sigma``;
      ``evaluate`` gives the quantization and topographic errors.
    """
    rule = _rule(grid, topology, neighborhood, learning_rate, sigma, decay,
                 sigma_decay, n_iterations, init_weights)  # fmt: skip

    def step(carry, x: jax.Array):
        (w, t), qe_sum = carry
        # ||x - w_u||^2 - ||x||^2: one mat-vec instead of an (n_units, d) square
        d = jnp.sum(w * w, axis=1) - 2.0 * (w @ x)
        winner = jnp.argmin(d)
        time = t.astype(w.dtype)
        eta = jnp.where(t < n_iterations, rule.rate(time), 0.0).astype(w.dtype)
        g = rule.h(winner, jnp.asarray(rule.width(time), w.dtype)) * eta
        w = w + g[:, None] * (x[None, :] - w)
        qe = jnp.sqrt(jnp.maximum(d[winner] + x @ x, 0.0))
        return (SOMState(w, t + 1), qe_sum + qe), None

    def update(state: SOMState, batch, key):
        x = batch["x"]
        carry = (state, jnp.zeros((), x.dtype))
        if x.shape[0] == 1:  # no inner loop for the textbook batch_size=1
            (state, qe_sum), _ = step(carry, x[0])
        else:  # metrics summed in the carry: no per-step outputs to store
            (state, qe_sum), _ = jax.lax.scan(step, carry, x)
        last = (state.step - 1).astype(x.dtype)  # the batch's last step
        return state, {
            "quantization_error": qe_sum / x.shape[0],
            "learning_rate": jnp.where(
                state.step <= n_iterations, rule.rate(last), 0.0
            ).astype(x.dtype),
            "sigma": jnp.asarray(rule.width(last), x.dtype),
        }

    return Learner(rule.init, update, rule.evaluate)


def som_batch(
    grid: tuple[int, int],
    *,
    n_iterations: int,
    topology: str = "rectangular",
    neighborhood: str = "gaussian",
    learning_rate: float = 0.5,
    sigma: float = 1.0,
    decay: str | Callable = "asymptotic_decay",
    sigma_decay: str | Callable = "asymptotic_decay",
    init_weights: jax.Array | None = None,
) -> Learner:
    """Batch SOM (Kohonen 2001; MiniSom's ``train_batch_offline``) as a learner.

    It is a full-batch learner (``epochs=n_iterations``; a ``batch_size`` is refused):
    each update finds the winners of all samples, forms the neighbourhood-
    weighted means ``w_bar_u`` and moves ``w_u`` by ``eta(t)`` towards them.

    ``learning_rate=1.0, decay="constant"`` is Kohonen's batch map; the
    defaults are MiniSom's.

    Args:
      grid: ``(rows, cols)`` units.
      n_iterations: ``T``, the number of batch iterations the schedules span.
      topology: as in :func:`som`.
      neighborhood: as in :func:`som`.
      learning_rate: ``eta_0``.
      sigma: ``sigma_0``.
      decay: schedule of ``eta`` (``t`` counts batch iterations).
      sigma_decay: schedule of ``sigma``.
      init_weights: optional ``(rows * cols, d)`` initial weights.

    Returns:
      A :class:`jnn.train.Learner`; ``update`` records ``quantization_error``
      of the map before the update, ``learning_rate`` and ``sigma``.
    """
    rule = _rule(grid, topology, neighborhood, learning_rate, sigma, decay,
                 sigma_decay, n_iterations, init_weights)  # fmt: skip

    def update(state: SOMState, batch, key):
        w, t = state
        x = batch["x"]
        d2 = squared_distances(w, x)
        winners = jnp.argmin(d2, axis=1)
        time = t.astype(w.dtype)
        eta = jnp.asarray(rule.rate(time), w.dtype)
        sig = jnp.asarray(rule.width(time), w.dtype)
        h = rule.h(jnp.arange(rule.n_units), sig)  # h[c, u]
        # sum_i h[c_i, u] x_i = sum_c h[c, u] (sum of the samples won by c)
        sums = jnp.zeros_like(w).at[winners].add(x)
        counts = jnp.zeros(rule.n_units, w.dtype).at[winners].add(1.0)
        numerator, denominator = h.T @ sums, h.T @ counts
        moved = denominator > 0
        mean = numerator / jnp.where(moved, denominator, 1.0)[:, None]
        w = jnp.where(moved[:, None], (1 - eta) * w + eta * mean, w)
        qe = jnp.mean(jnp.sqrt(jnp.take_along_axis(d2, winners[:, None], axis=1)))
        metrics = {"quantization_error": qe, "learning_rate": eta, "sigma": sig}
        return SOMState(w, t + 1), metrics

    return Learner(rule.init, update, rule.evaluate, plan=full_batch())
