"""Training a self-organising map in one compiled call, and using it (S1).

:func:`som_fit` runs the :func:`jnn.static.som` or :func:`jnn.static.som_batch`
learner with :func:`jnn.train.run` under ``jit`` (compiled once per setting);
:func:`som_fit_seeds` vmaps it over seeds; :func:`som_predict` maps samples
to their best matching units.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_key,
    check_positive_int,
    is_concrete,
)
from jnn.static.maps.som import SOMState, som, som_batch
from jnn.static.maps.som_metrics import (
    INITS,
    best_matching_unit,
    check_grid,
    initial_weights,
)
from jnn.train import FitResult, RunResult, TrainingDiverged, run


class SOMResult(NamedTuple):
    """Output of :func:`som_fit`.

    Attributes:
      weights, step: as in :class:`SOMState` (``state`` and ``params`` bundle
        them; :func:`som_predict` takes either).
      iterations: schedule steps that updated the map, ``min(step, T)``
        (online samples or batch iterations).
      converged: True when the whole schedule ran (``iterations == T``): a
        SOM has no convergence test, its learning rate and width decay over
        the ``T`` steps.
      history: epoch means of the step metrics (``quantization_error``,
        ``learning_rate``, ``sigma``), ``(epochs,)`` arrays.
      epochs: engine epochs run (passes over the data for online training).
    """

    weights: jax.Array
    step: jax.Array
    iterations: int
    converged: bool
    history: dict[str, np.ndarray]
    epochs: int

    @property
    def state(self) -> SOMState:
        """The trained map as :class:`SOMState`."""
        return SOMState(self.weights, self.step)

    @property
    def params(self) -> SOMState:
        """The trained map as :class:`SOMState` (same as ``state``)."""
        return self.state


def _setup(x, grid, algorithm, n_iterations, batch_size, init, settings, key, *,
           seeds=False, ordered=False, init_weights=None):  # fmt: skip
    """Validate everything before tracing; return the compiled trainer."""
    check_array(x, "x", ndim=2, kind="f")
    check_key(key)
    if algorithm not in ("online", "batch") or (ordered and algorithm != "online"):
        raise ValueError(f"`algorithm` must be 'online' (or 'batch' without `order`); "
                         f"got {algorithm!r}.")  # fmt: skip
    if init not in INITS:
        raise ValueError(f"`init` must be one of {INITS}; got {init!r}.")
    check_positive_int(n_iterations, "n_iterations")
    check_positive_int(batch_size, "batch_size")
    learner = som if algorithm == "online" else som_batch
    # Check the settings (and the initial weights' rows, values) as the learner.
    learner(grid, n_iterations=n_iterations, init_weights=init_weights, **settings)
    if init_weights is not None and init_weights.shape[1] != x.shape[1]:
        raise ValueError(
            f"`init_weights` must have the {x.shape[1]} features of `x`; got "
            f"shape {tuple(init_weights.shape)}."
        )
    epochs, batch = n_iterations, None  # batch map: full-batch epochs
    if algorithm == "online" and not ordered:
        n_per_epoch = x.shape[0] // batch_size * batch_size
        if n_per_epoch == 0:
            raise ValueError(f"`batch_size` ({batch_size}) must not exceed the "
                             f"number of samples ({x.shape[0]}).")  # fmt: skip
        epochs, batch = math.ceil(n_iterations / n_per_epoch), batch_size
    elif ordered:
        epochs = 1  # one update scans the given sequence
    settings = tuple(sorted(settings.items()))
    return _trainer(learner, check_grid(grid), n_iterations, epochs, batch, init,
                    settings, seeds)  # fmt: skip


@functools.lru_cache(maxsize=32)
def _trainer(learner, grid, n_iterations, epochs, batch, init, settings, seeds):
    """Jitted ``train(x, key, init_weights)`` (vmapped over keys for ``seeds``).

    Cached on the static settings, so that repeated fits compile once.
    """

    def one(x, key, w0):
        init_key, key = jax.random.split(key)
        if w0 is None:
            w0 = initial_weights(init_key, x, grid, init)
        rule = learner(grid, n_iterations=n_iterations, init_weights=w0,
                       **dict(settings))  # fmt: skip
        return run(rule, {"x": x}, key=key, epochs=epochs, batch_size=batch)

    return jax.jit(jax.vmap(one, in_axes=(None, 0, None)) if seeds else one)


def som_fit(
    x: jax.Array,
    grid: tuple[int, int],
    *,
    key: jax.Array,
    n_iterations: int,
    algorithm: str = "online",
    init: str = "random",
    init_weights: jax.Array | None = None,
    order: jax.Array | None = None,
    batch_size: int = 1,
    **settings,
) -> SOMResult:
    """Train a SOM on ``x``: a jitted :func:`jnn.train.run`, compiled once per setting.

    Online, ``order=None``: ``ceil(T / n)`` epochs, each a fresh random pass
    over the samples, one at a time (``batch_size`` consecutive samples per
    engine step); the schedules reach ``t = T`` after exactly ``T`` samples and
    the rest of the last pass leaves the map unchanged. Online with ``order``:
    the samples ``x[order]`` in exactly that order, as one full-batch engine
    epoch whose update scans them (how a run reproduces MiniSom's
    ``train_random`` given its index sequence). Batch: ``T`` full-batch epochs.

    Args:
      x: ``(n, d)`` float samples (standardise them first).
      grid: ``(rows, cols)``.
      key: PRNG key (initialisation and sample order).
      n_iterations: ``T``: online samples, or batch iterations.
      algorithm: ``online`` (:func:`som`) or ``batch`` (:func:`som_batch`).
      init: ``random``, ``samples`` or ``pca`` (:func:`initial_weights`).
      init_weights: ``(rows * cols, d)`` initial weights (overrides ``init``).
      order: optional ``(T,)`` int sample indices for the online steps.
      batch_size: online samples per engine step (the rule stays sequential).
      **settings: ``topology``, ``neighborhood``, ``learning_rate``, ``sigma``,
        ``decay``, ``sigma_decay`` of :func:`som`.

    Returns:
      A :class:`SOMResult`; ``weights`` is the codebook and the history
      holds the epoch means of the step metrics; :func:`som_predict` takes it.

    Raises:
      ValueError, TypeError: bad data or settings, ``init_weights`` of the
        wrong shape or with NaN/inf, ``order`` indices outside ``[0, n)``,
        a ``key`` that is not a PRNG key.
      TrainingDiverged: the map became non-finite (``learning_rate`` too
        large); ``.result`` holds the run.
    """
    train = _setup(x, grid, algorithm, n_iterations, batch_size, init, settings,
                   key, ordered=order is not None,
                   init_weights=init_weights)  # fmt: skip
    data = jnp.asarray(x)
    if order is not None:
        _check_order(order, x.shape[0])
        data = data[jnp.asarray(order)]
    result = train(data, key, init_weights)
    n = int(result.n_epochs)
    history = {k: np.asarray(v[:n]) for k, v in result.history.items() if k != "fired"}
    if bool(result.diverged):
        raise TrainingDiverged(
            f"the SOM diverged in epoch {n}: its metrics became non-finite. "
            "Lower `learning_rate` (at most 1 keeps every unit between its old "
            "weights and the samples).",
            FitResult(result.state, history, "diverged", n),
        )
    iterations = min(int(result.state.step), n_iterations)
    return SOMResult(*result.state, iterations, iterations == n_iterations, history, n)


def som_predict(params, x: jax.Array) -> jax.Array:
    """The best matching unit of each row of ``x``: ``(n, d) -> (n,)`` int32.

    Unit ``u = i * cols + j`` sits at map position ``(i, j)``; this is
    :func:`best_matching_unit` of the codebook.

    Args:
      params: a :class:`SOMResult`, a :class:`SOMState` or a ``(units, d)``
        codebook.
      x: ``(n, d)`` float samples.

    Raises:
      TypeError, ValueError: ``params`` none of these; ``x`` not ``(n, d)``
        with the codebook's ``d`` (or, when concrete, with NaN or inf).
    """
    if isinstance(params, SOMResult | SOMState):
        params = params.weights
    if not hasattr(params, "shape"):
        raise TypeError(
            "`params` must be a SOMResult, a SOMState or a (units, d) codebook; "
            f"got {type(params).__name__}."
        )
    check_array(params, "params", ndim=2, kind="f")
    check_array(x, "x", ndim=2, kind="f")
    if x.shape[1] != params.shape[1]:
        raise ValueError(
            f"`x` must have the {params.shape[1]} features of the codebook "
            f"`params`; got shape {tuple(x.shape)}."
        )
    return best_matching_unit(params, x)


def _check_order(order, n: int) -> None:
    """``order``: ``(T,)`` int sample indices in ``[0, n)``."""
    check_array(order, "order", ndim=1, kind="i")
    if is_concrete(order):
        index = np.asarray(order)
        bad = np.flatnonzero((index < 0) | (index >= n))
        if bad.size:
            raise ValueError(
                f"`order` must hold sample indices in [0, {n}) (rows of `x`); "
                f"got {index[bad[0]]} at position {bad[0]} ({bad.size} out of range)."
            )


def som_fit_seeds(
    x: jax.Array,
    grid: tuple[int, int],
    *,
    key: jax.Array,
    n_seeds: int,
    n_iterations: int,
    algorithm: str = "online",
    init: str = "random",
    batch_size: int = 1,
    **settings,
) -> RunResult:
    """Train ``n_seeds`` SOMs (own initialisation and sample order each) in one call.

    ``jax.jit(jax.vmap(...))`` of :func:`jnn.train.run` over the seeds' keys.

    Args:
      x: ``(n, d)`` float samples.
      grid: ``(rows, cols)``.
      key: PRNG key, split into one key per seed.
      n_seeds: number of independent trainings.
      n_iterations: as in :func:`som_fit`.
      algorithm: as in :func:`som_fit`.
      init: as in :func:`som_fit`, drawn per seed.
      batch_size: as in :func:`som_fit`.
      **settings: as in :func:`som_fit`.

    Returns:
      A :class:`jnn.train.RunResult` with a leading seed axis: ``state.weights``
      is ``(n_seeds, rows * cols, d)``.
    """
    check_positive_int(n_seeds, "n_seeds")
    train = _setup(x, grid, algorithm, n_iterations, batch_size, init, settings,
                   key, seeds=True)  # fmt: skip
    return train(jnp.asarray(x), jax.random.split(key, n_seeds), None)
