"""``fit``: the friendly driver around the compiled epoch of :mod:`loop`."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_key, check_positive_int
from jnn.train.checkpoint import Checkpointer
from jnn.train.learner import Batch, Learner, PyTree, learner_compiler_options
from jnn.train.loop import (
    Carry,
    FitResult,
    TrainingDiverged,
    _check_inputs,
    _check_requires,
    _epoch,
    _init_carry,
    _Plan,
    check_init_state,
)
from jnn.train.modules import INIT_COMPILER_OPTIONS
from jnn.train.parallel import placement, put
from jnn.train.plans import BatchPlan
from jnn.train.progress import EpochProgress, progress_wanted
from jnn.train.stopping import Stop, never


@functools.lru_cache(maxsize=64)
def _compiled(plan: _Plan, replicated):
    """The jitted initialiser and multi-epoch step of ``plan`` (cached).

    ``epochs(carry, train, val, key, count)`` runs up to ``count`` epochs (a
    traced int: any count reuses the compiled code) in a ``while_loop`` that
    also ends when the carry is ``done``, so calling it on a finished carry is
    a no-op. Divergence is not rolled back inside (see :func:`_rolled_back`).
    """

    def epochs(carry: Carry, train, val, key, count) -> Carry:
        end = carry.epoch + count
        return jax.lax.while_loop(
            lambda c: ~c.done & (c.epoch < end),
            lambda c: _epoch(plan, c, train, val, key, rollback=False),
            carry,
        )

    init = jax.jit(
        functools.partial(_init_carry, plan),
        out_shardings=replicated,
        compiler_options=INIT_COMPILER_OPTIONS.get(jax.default_backend()),
    )
    options = learner_compiler_options(plan.learner)
    return init, jax.jit(epochs, out_shardings=replicated, compiler_options=options)


def fit(
    learner: Learner,
    train: Batch,
    *,
    key: jax.Array,
    epochs: int,
    batch_size: int | None = None,
    val: Batch | None = None,
    stop: Stop | None = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 10,
    progress: bool | None = None,
    devices: Sequence[jax.Device] | None = None,
    throw: bool = True,
    init_state: PyTree | None = None,
    plan: BatchPlan | None = None,
) -> FitResult:
    """Train ``learner`` on ``train``: compiled epochs driven from Python.

    Every epoch is compiled code (a ``lax.scan`` over the shuffled mini-batches
    on the device); Python runs between calls only, once per epoch when the
    progress bar is shown, once per ``checkpoint_every`` epochs when
    checkpointing, else once per 10 epochs.

    Args:
      learner: the learning rule, e.g. from :func:`gradient_learner`.
      train: dict of arrays ``(n, ...)`` sharing the leading axis, e.g.
        ``{"x": (n, d) float32, "y": (n,) int32}``.
      key: PRNG key; the same key gives the same result, however the run is
        driven (this function, :func:`run`, or resumed from a checkpoint).
      epochs: maximum number of epochs.
      batch_size: examples per shuffled mini-batch (the last ``n % batch_size``
        examples of each epoch's permutation are skipped), shorthand for
        ``plan=shuffled(batch_size)``; None for the full batch (or the
        learner's own plan). A full-batch learner (k-means, EM, ...) refuses
        it with a ``ValueError``.
      val: optional validation data; its metrics are recorded as ``val_*``.
      stop: optional stopping criterion, e.g.
        ``any_of(relative_loss_change_below(1e-4), validation_patience(10))``.
      checkpoint_dir: if given, save the training carry there every
        ``checkpoint_every`` epochs with Orbax, and resume from the newest
        checkpoint found there.
      checkpoint_every: epochs between checkpoints.
      progress: show a rich progress bar (None: only on a terminal).
      devices: devices for data parallelism (default: all devices, those of
        every process after ``jax.distributed.initialize()``; the batch is
        sharded over them and the state replicated).
      throw: raise :class:`TrainingDiverged` when the loss becomes non-finite
        (the exception's ``.result`` holds the last good state); if False,
        return that result with ``reason="diverged"``.
      init_state: start from this learner state instead of ``learner.init``
        (warm start; e.g. given initial centres or weights).
      plan: how an epoch walks the data: :func:`jnn.train.shuffled`,
        :func:`jnn.train.full_batch` or :func:`jnn.train.sequence_windows`
        (ordered windows of parallel streams for truncated BPTT); exclusive
        with ``batch_size``.

    Returns:
      A :class:`FitResult` ``(state, history, reason, epochs)``.

    Raises:
      TypeError, ValueError: invalid arguments (raised before any compilation).
      TrainingDiverged: the training loss became NaN or infinite.
    """
    n, batches = _check_inputs(learner, train, val, epochs, batch_size, stop, plan)
    check_key(key)
    check_positive_int(checkpoint_every, "checkpoint_every")
    if checkpoint_dir is not None and not isinstance(checkpoint_dir, str | os.PathLike):
        raise TypeError(
            "`checkpoint_dir` must be a path (str or Path) or None; "
            f"got {checkpoint_dir!r}."
        )
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"`progress` must be True, False or None; got {progress!r}.")
    _check_devices(devices)
    where = placement(_full_batch_devices(batches, n, devices), batches.shard_size(n))
    plan = _Plan(learner, stop or never(), n, batches, epochs, where.constrain)
    check_init_state(plan, train, key, init_state)
    train = put(dict(train), where.replicated)
    val = None if val is None else put(dict(val), where.replicated)
    key = put(key, where.replicated)
    show = progress_wanted(progress)
    # Epochs per compiled call: one when the bar shows every epoch, the
    # checkpoint interval when checkpointing, else all of them in one call.
    # The count is an argument of the compiled code, not a constant in it, so
    # a resumed run executes the same program as the uninterrupted one.
    chunk = checkpoint_every if checkpoint_dir else (1 if show else epochs)
    init_fn, epoch_fn = _compiled(plan, where.replicated)
    if init_state is not None:
        init_state = put(init_state, where.replicated)
    carry = init_fn(train, val, key, init_state)
    _check_requires(plan.stop, carry.history)
    _, train_key = jax.random.split(key)

    saver = (
        None
        if checkpoint_dir is None
        else Checkpointer(checkpoint_dir, checkpoint_every)
    )
    if saver is not None and saver.latest_epoch() is not None:
        carry = put(saver.restore(carry, key), where.replicated)
    per_epoch = batches.examples_per_epoch(n)

    def call(c: Carry, count: int) -> Carry:
        return epoch_fn(c, train, val, train_key, count)

    try:
        with EpochProgress(
            epochs, per_epoch * chunk, show, start=int(carry.epoch)
        ) as bar:
            # The next call is dispatched before this one is read back, so the
            # host's bookkeeping overlaps the device's work (until the calls
            # dispatched cover the epoch budget).
            dispatched = min(int(carry.epoch) + chunk, epochs)
            start, pending = carry, call(carry, chunk)
            while True:
                carry, started = pending, start
                if dispatched < epochs:
                    start, pending = carry, call(carry, chunk)
                    dispatched = min(dispatched + chunk, epochs)
                if bool(carry.diverged):
                    carry = _rolled_back(call, started, carry)
                epoch, done = int(carry.epoch), bool(carry.done)
                if bar.enabled:
                    bar.update(epoch, _last_record(carry))
                if saver is not None and not bool(carry.diverged):
                    saver.save(epoch, carry, key, force=done)
                if done:
                    break
    finally:
        if saver is not None:
            saver.close()
    return _result(plan, carry, throw)


def _check_devices(devices) -> None:
    """None, or a non-empty list of ``jax.Device``."""
    if devices is None:
        return
    if not isinstance(devices, Sequence) or isinstance(devices, str):
        raise TypeError(
            f"`devices` must be a list of jax devices (or None); got {devices!r}."
        )
    if not devices:
        raise ValueError("`devices` must hold at least one jax device; got [].")
    bad = [d for d in devices if not isinstance(d, jax.Device)]
    if bad:
        raise TypeError(f"`devices` must hold jax devices; got {bad[0]!r}.")


def _rolled_back(call, started: Carry, failed: Carry) -> Carry:
    """The carry of a diverged call with the state of its last finite epoch.

    ``failed`` ended at the first epoch with non-finite metrics; replaying the
    call from ``started`` up to the epoch before (same code, same keys: the
    same numbers) gives the last good learner and criteria states. The result
    keeps ``failed``'s epoch count, history (with the non-finite record) and
    ``diverged`` flag.
    """
    good_epochs = int(failed.epoch) - 1 - int(started.epoch)
    good = call(started, good_epochs)
    return failed._replace(state=good.state, stop_state=good.stop_state)


def _full_batch_devices(batches: BatchPlan, n: int, devices):
    """Devices of a full-batch training: one device when ``n`` cannot be split.

    A full-batch update on every device computes the same thing as on one, so
    when the number of examples is not a multiple of the device count the
    update runs on the first (local) device instead of refusing a batch size
    the caller never chose.
    """
    if batches.kind != "full":
        return devices
    count = jax.device_count() if devices is None else len(devices)
    if count > 1 and n % count:
        if devices is None:
            return jax.local_devices()[:1]
        # a device of this process: every process runs the same update
        return [d for d in devices if d.process_index == jax.process_index()][:1]
    return devices


def _last_record(carry: Carry) -> dict:
    i = int(carry.epoch) - 1
    return {k: v[i] for k, v in carry.history.items() if k != "fired"}


def _result(plan: _Plan, carry: Carry, throw: bool) -> FitResult:
    """Finalize the state and turn the history into trimmed NumPy arrays."""
    state = plan.stop.finalize(carry.stop_state, carry.state)
    epochs = int(carry.epoch)
    raw = jax.device_get(carry.history)
    history = {k: np.asarray(v[:epochs]) for k, v in raw.items() if k != "fired"}
    fired = np.asarray(raw["fired"][:epochs])
    for i, name in enumerate(plan.stop.names):
        history[f"stop:{name}"] = fired[:, i]
    last = fired[-1] if epochs else np.zeros(len(plan.stop.names), bool)
    if bool(carry.diverged):
        reason = "diverged"
    elif last.any():
        reason = "+".join(n for n, f in zip(plan.stop.names, last, strict=True) if f)
    else:
        reason = "epochs"
    result = FitResult(state, history, reason, epochs)
    if reason == "diverged" and throw:
        bad = {
            k: float(v[-1])
            for k, v in history.items()
            if v.ndim == 1
            and jnp.issubdtype(v.dtype, jnp.floating)
            and not np.isfinite(v[-1])
        }
        raise TrainingDiverged(
            f"training diverged in epoch {epochs}: non-finite {bad}. The state "
            f"from the end of epoch {epochs - 1} is kept in `.result` (and is the "
            "newest checkpoint, if checkpointing); lower the learning rate or clip "
            "gradients (optax.clip_by_global_norm).",
            result,
        )
    return result
