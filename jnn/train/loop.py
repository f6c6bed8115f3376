"""The training engine: ``run`` (pure, jittable, vmappable) and ``fit`` (driver).

One epoch is one compiled function: run the learner's ``start_epoch`` hook,
ask the batch plan (:mod:`jnn.train.plans`) for the epoch's index table
(shuffled mini-batches, ordered sequence windows, or none for the full batch),
``lax.scan`` the learner's ``update`` over the batches (gathered on the
device), average the step metrics, evaluate on the validation data (with a
key of its own), update the stopping criteria and write the epoch's record
into a fixed-size history. Both drivers
share that function:

* :func:`run` loops over epochs in a ``lax.while_loop`` with the stopping
  criteria evaluated on the device, so a whole training is one pure function:
  ``jax.vmap(lambda k: run(learner, data, key=k, epochs=50))(keys)`` trains 64
  seeds in one call.
* :func:`fit` calls the compiled epoch from Python, which adds a progress bar,
  Orbax checkpoints with exact resume, data parallelism over devices and a
  readable :class:`FitResult`.

Keys: ``key`` is split into an init key and a training key; epoch ``e`` uses
``fold_in(training_key, e)``, so results do not depend on how the epochs were
driven (run, fit, or fit resumed from a checkpoint).

Divergence: an epoch whose metrics are not finite ends training; the state
from before that epoch is kept (and, in ``fit``, not checkpointed).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_dataset, check_key, check_positive_int
from jnn.data.batching import _take as take
from jnn.train.learner import Batch, Learner, PyTree, evaluate_with_key
from jnn.train.plans import BatchPlan, check_plan, resolve
from jnn.train.stopping import Stop, never


class Carry(NamedTuple):
    """Everything that passes from one epoch to the next."""

    state: PyTree  # learner state
    stop_state: PyTree  # stopping criteria state
    epoch: jax.Array  # [] int32, epochs completed
    done: jax.Array  # [] bool
    diverged: jax.Array  # [] bool
    history: dict[str, jax.Array]  # [epochs, ...] per record entry


class RunResult(NamedTuple):
    """Output of :func:`run` (all arrays; vmapped runs stack them).

    Attributes:
      state: final learner state (after the criteria's ``finalize``, e.g. the
        best state of ``validation_patience``).
      history: ``{name: [epochs, ...]}``; rows past ``n_epochs`` are NaN (or
        -1 for ``epoch``); ``"fired"`` is ``[epochs, n_criteria]`` bool.
      n_epochs: ``[]`` int32, epochs run.
      diverged: ``[]`` bool, whether the last epoch had non-finite metrics.
    """

    state: PyTree
    history: dict[str, jax.Array]
    n_epochs: jax.Array
    diverged: jax.Array


class FitResult(NamedTuple):
    """Output of :func:`fit`.

    Attributes:
      state: final learner state (best state when ``validation_patience``
        restores it; last finite state when training diverged).
      history: ``{name: (epochs_run, ...) np.ndarray}``: ``epoch``, the mean
        training metrics (``loss``, ``grad_norm``, ...), ``val_*`` metrics, and
        ``stop:<criterion>`` bool arrays saying when each criterion fired.
      reason: names of the criteria that fired (joined by ``+``), ``"epochs"``
        when the epoch budget ran out, or ``"diverged"``.
      epochs: epochs run.
    """

    state: PyTree
    history: dict[str, np.ndarray]
    reason: str
    epochs: int


class TrainingDiverged(FloatingPointError):
    """Training produced non-finite metrics; ``.result`` holds the last good state."""

    def __init__(self, message: str, result: FitResult):
        super().__init__(message)
        self.result = result


class _Plan(NamedTuple):
    """Static settings of one training: everything the compiled code closes over."""

    learner: Learner
    stop: Stop
    n_examples: int
    batches: BatchPlan
    epochs: int
    constrain: Any


def _train_epoch(plan: _Plan, state: PyTree, train: Batch, key: jax.Array):
    """One pass over the data: scan ``update`` over the plan's batches."""
    perm_key, step_key = jax.random.split(key)
    if plan.learner.start_epoch is not None:
        state = plan.learner.start_epoch(state)
    if plan.batches.kind == "full":
        return plan.learner.update(state, plan.constrain(dict(train)), step_key)
    rows = plan.batches.indices(perm_key, plan.n_examples)  # [S, B, ...]

    # Each step gathers its own rows (no shuffled copy of the data set); step
    # keys are folded in inside the step, so that learners that ignore their
    # key pay nothing for it (XLA removes the dead computation).
    def step(state, inputs):
        batch_rows, i = inputs
        key = jax.random.fold_in(step_key, i)
        batch = plan.constrain(take(train, batch_rows))
        return plan.learner.update(state, batch, key)

    steps = jnp.arange(rows.shape[0], dtype=jnp.int32)
    state, metrics = jax.lax.scan(step, state, (rows, steps))
    return state, jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)


#: ``fold_in`` constant of the evaluation key of an epoch (distinct from the
#: data of ``split``).
_EVAL_STREAM = 0x6576616C


def _record(plan: _Plan, state, train, val, key, epoch):
    """Train one epoch and build its record (a flat dict of arrays)."""
    state, metrics = _train_epoch(plan, state, train, key)
    record = {"epoch": epoch, **metrics}
    if val is not None:
        eval_key = jax.random.fold_in(key, _EVAL_STREAM)
        val_metrics = evaluate_with_key(plan.learner.evaluate, state, val, eval_key)
        record.update({f"val_{k}": v for k, v in val_metrics.items()})
    return state, record


def _epoch(plan: _Plan, carry: Carry, train, val, key, rollback: bool = True) -> Carry:
    """Advance ``carry`` by one epoch (pure; shared by ``run`` and ``fit``).

    With ``rollback`` an epoch with non-finite metrics keeps the state from
    before it (in the graph: XLA then keeps the old state alive across the
    epoch, a copy of every leaf). ``fit`` passes False and restores the last
    good state on the host by replaying the epochs of the failed call.
    """
    epoch_key = jax.random.fold_in(key, carry.epoch)
    state, record = _record(plan, carry.state, train, val, epoch_key, carry.epoch)
    finite = jnp.all(
        jnp.array(
            [
                jnp.all(jnp.isfinite(v))
                for v in record.values()
                if jnp.issubdtype(v.dtype, jnp.floating)
            ]
            or [True]
        )
    )
    stop_state, fired = plan.stop.update(carry.stop_state, record, state)
    fired = fired & finite
    history = {
        k: h.at[carry.epoch].set(record[k])
        for k, h in carry.history.items()
        if k != "fired"
    }
    history["fired"] = carry.history["fired"].at[carry.epoch].set(fired)

    def keep_if_finite(new, old):
        if not rollback:
            return new
        return jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, old)

    return Carry(
        state=keep_if_finite(state, carry.state),
        stop_state=keep_if_finite(stop_state, carry.stop_state),
        epoch=carry.epoch + 1,
        done=~finite | jnp.any(fired) | (carry.epoch + 1 >= plan.epochs),
        diverged=~finite,
        history=history,
    )


def _first_state(plan: _Plan, train, init_key) -> PyTree:
    """``learner.init`` on an example batch (its shapes fix the state's)."""
    first = train
    if plan.batches.kind == "shuffled":
        first = take(train, jnp.arange(plan.batches.batch_size))
    elif plan.batches.kind == "windows":
        first = take(train, plan.batches.indices(None, plan.n_examples)[0])
    return plan.learner.init(init_key, first)


def check_init_state(plan: _Plan, train, key, init_state) -> None:
    """Raise unless ``init_state`` is shaped like the state ``learner.init`` makes.

    Structure, shapes and kinds of dtype are compared abstractly
    (``jax.eval_shape``: nothing is computed).
    """
    if init_state is None:
        return
    expected = jax.eval_shape(
        lambda: _first_state(plan, train, jax.random.split(key)[0])
    )
    got_leaves, got_tree = jax.tree.flatten(init_state)
    want_leaves, want_tree = jax.tree.flatten(expected)
    if got_tree != want_tree:
        raise ValueError(
            "`init_state` must have the structure of the learner's state "
            f"(learner.init(key, batch)): {want_tree}; got {got_tree}."
        )
    for i, (got, want) in enumerate(zip(got_leaves, want_leaves, strict=True)):
        shape = tuple(getattr(got, "shape", np.shape(got)))
        dtype = getattr(got, "dtype", None)
        if shape != tuple(want.shape) or (
            dtype is not None and jnp.dtype(dtype).kind != jnp.dtype(want.dtype).kind
        ):
            raise ValueError(
                f"`init_state` leaf {i} must have shape {tuple(want.shape)} and a "
                f"{want.dtype} kind of dtype (as learner.init makes it); got shape "
                f"{shape}, dtype {dtype}."
            )


def _init_carry(plan: _Plan, train, val, key, init_state=None) -> Carry:
    """Initial learner state, criteria state and an empty (NaN) history."""
    init_key, train_key = jax.random.split(key)
    if init_state is None:
        state = _first_state(plan, train, init_key)
    else:
        state = init_state
    zero = jnp.zeros((), jnp.int32)
    _, record = jax.eval_shape(
        functools.partial(_record, plan), state, train, val, train_key, zero
    )

    def empty(spec):
        fill = jnp.nan if jnp.issubdtype(spec.dtype, jnp.floating) else -1
        return jnp.full((plan.epochs, *spec.shape), fill, spec.dtype)

    history = {k: empty(spec) for k, spec in record.items()}
    history["fired"] = jnp.zeros((plan.epochs, len(plan.stop.names)), bool)
    return Carry(
        state, plan.stop.init(state), zero, jnp.array(False), jnp.array(False), history
    )


def _check_inputs(learner, train, val, epochs, batch_size, stop, plan=None):
    """Validate structure and values before anything is traced.

    Returns:
      ``(n, batch_plan)``: the rows of ``train`` and the resolved batch plan.
    """
    check_learner(learner)
    n = check_dataset(train, "train")
    if learner.check is not None:
        learner.check(train, "train")
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size", allow_none=True)
    batches = resolve(learner.plan, plan, batch_size)
    batches.check(n, "train")
    if val is not None:
        check_dataset(val, "val")
        if learner.evaluate is None:
            raise ValueError("`val` was given but the learner has no `evaluate`.")
        check_like(val, train, "val", streams=batches.kind == "windows")
        if learner.check is not None:
            learner.check(val, "val")
    if stop is not None and not isinstance(stop, Stop):
        raise TypeError(
            f"`stop` must be a jnn.train.stopping.Stop; got {type(stop).__name__}."
        )
    return n, batches


def check_learner(learner: Any) -> None:
    """Raise a ``TypeError`` unless ``learner`` is a well-formed :class:`Learner`."""
    if not isinstance(learner, Learner):
        raise TypeError(
            f"`learner` must be a jnn.train.Learner; got {type(learner).__name__}."
        )
    for field in (
        "init",
        "update",
        "evaluate",
        "start_epoch",
        "check",
        "compiler_options",
    ):
        fn = getattr(learner, field)
        if not callable(fn) and (fn is not None or field in ("init", "update")):
            raise TypeError(
                f"`learner`: its `{field}` must be a function"
                f"{'' if field in ('init', 'update') else ' or None'}; got {fn!r}."
            )
    if learner.plan is not None:
        check_plan(learner.plan, "learner.plan")


def check_like(
    data: Batch, reference: Batch, name: str, *, streams: bool = False
) -> None:
    """Raise unless ``data`` has ``reference``'s entries, trailing shapes and dtypes.

    Args:
      data: e.g. the validation set.
      reference: the training set.
      name: the argument's name, used in the messages.
      streams: ``reference`` is one stream walked in ordered windows
        (``sequence_windows``); ``data`` may then also be ``B`` parallel
        streams, ``(B, L, ...)`` for a ``(T, ...)`` reference, which the
        learner's ``evaluate`` reads in one call (e.g. a long validation text
        cut into streams scored side by side).

    Raises:
      TypeError: ``data`` or ``reference`` not a dict of arrays, a different
        kind of dtype, a non-string ``name``.
      ValueError: other entries or trailing shapes.
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a string; got {name!r}.")
    for arg, value in ((name, data), ("reference", reference)):
        if not isinstance(value, Mapping) or not all(
            hasattr(v, "shape") and hasattr(v, "dtype") for v in value.values()
        ):
            raise TypeError(
                f"`{arg}` must be a dict of arrays such as {{'x': ..., 'y': ...}}; "
                f"got {type(value).__name__}."
            )
    if set(data) != set(reference):
        raise ValueError(
            f"`{name}` must have the same entries as `train` "
            f"{sorted(reference)}; got {sorted(data)}."
        )
    ranks = {data[entry].ndim - reference[entry].ndim for entry in reference}
    axes = 2 if streams and ranks == {1} else 1
    for entry, ref in reference.items():
        got = data[entry]
        if tuple(got.shape[axes:]) != tuple(ref.shape[1:]):
            raise ValueError(
                f"`{name}[{entry!r}]` must have the shape of `train[{entry!r}]` "
                f"after the example axis, (n, {', '.join(map(str, ref.shape[1:]))})"
                f"; got {tuple(got.shape)}."
            )
        if jnp.dtype(got.dtype).kind != jnp.dtype(ref.dtype).kind:
            raise TypeError(
                f"`{name}[{entry!r}]` must have the kind of dtype of "
                f"`train[{entry!r}]` ({jnp.dtype(ref.dtype)}); got "
                f"{jnp.dtype(got.dtype)}."
            )


def _check_requires(stop: Stop, history: dict) -> None:
    missing = [r for r in stop.requires if r not in history]
    if missing:
        raise ValueError(
            f"`stop`: the stopping criteria {stop.names} need {missing}, but each "
            f"epoch records only {sorted(k for k in history if k != 'fired')}; pass "
            "`val=` for validation metrics."
        )


def _identity(batch):
    return batch


def run(
    learner: Learner,
    train: Batch,
    *,
    key: jax.Array,
    epochs: int,
    batch_size: int | None = None,
    val: Batch | None = None,
    stop: Stop | None = None,
    init_state: PyTree | None = None,
    plan: BatchPlan | None = None,
) -> RunResult:
    """Train on the device from start to stop, as one pure function.

    Jit it with the static settings fixed, vmap it over keys or over
    hyper-parameters (build the learner inside the vmapped function)::

        train_seeds = jax.jit(jax.vmap(
            lambda k: run(learner, data, key=k, epochs=100, batch_size=32)))
        results = train_seeds(jax.random.split(key, 64))

    Under ``vmap`` every run stops at its own epoch: finished runs are frozen
    while the others go on.

    Args:
      learner: the learning rule.
      train: dict of arrays ``(n, ...)`` with a common leading axis.
      key: PRNG key (initialisation and shuffling).
      epochs: maximum number of epochs (and the history's length).
      batch_size: examples per shuffled mini-batch (``plan=shuffled(B)``);
        None for full-batch updates (or the learner's own plan).
      val: optional validation data (same entries, trailing shapes and dtypes
        as ``train``).
      stop: optional stopping criterion (see :mod:`jnn.train.stopping`).
      init_state: start from this learner state instead of ``learner.init``
        (warm starts, given initial centres or weights); being an argument,
        not a closure, it does not cause recompilation.
      plan: how an epoch walks the data (:func:`jnn.train.shuffled`,
        :func:`jnn.train.full_batch`, :func:`jnn.train.sequence_windows`);
        exclusive with ``batch_size``.

    Returns:
      A :class:`RunResult`.
    """
    n, batches = _check_inputs(learner, train, val, epochs, batch_size, stop, plan)
    check_key(key)
    settings = _Plan(learner, stop or never(), n, batches, epochs, _identity)
    check_init_state(settings, train, key, init_state)
    carry = _init_carry(settings, train, val, key, init_state)
    _check_requires(settings.stop, carry.history)
    _, train_key = jax.random.split(key)
    carry = jax.lax.while_loop(
        lambda c: ~c.done, lambda c: _epoch(settings, c, train, val, train_key), carry
    )
    state = settings.stop.finalize(carry.stop_state, carry.state)
    return RunResult(state, carry.history, carry.epoch, carry.diverged)
