"""Batch plans: how one epoch walks the training data.

A plan is a small, hashable, pure description, chosen by the learner (a
full-batch rule declares :func:`full_batch`) or by the caller
(``fit(..., plan=sequence_windows(32, 64))``; ``batch_size=B`` is shorthand for
``shuffled(B)``). The engine asks it for one epoch's index table and
scans the learner's ``update`` over its rows, gathering each batch on the
device:

* :func:`shuffled` — a fresh permutation per epoch cut into ``n // B``
  mini-batches of ``B`` examples (the ``n % B`` left over are skipped for that
  epoch only: static shapes).
* :func:`full_batch` — one update on every example per epoch (k-means, EM,
  VB, PRBF, batch SOM, full-batch gradient descent).
* :func:`sequence_windows` — ordered windows of a long stream for truncated
  back-propagation through time. The stream (every array's leading axis is
  time, length ``T``) is cut into ``B`` contiguous streams of ``L = T // B``
  steps; step ``s`` of an epoch takes window ``[s k, (s + 1) k)`` of every
  stream, so batch ``s + 1`` continues batch ``s`` row by row and a learner may
  carry its hidden state from one to the next (Williams & Peng 1990; the
  batching of Zaremba et al. 2014). Every epoch walks the windows in the same
  order; the learner's ``start_epoch`` hook resets its carried state.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jnn._checks import check_positive_int

KINDS = ("shuffled", "full", "windows")


class BatchPlan(NamedTuple):
    """How an epoch walks the data (build it with the functions of this module).

    Attributes:
      kind: ``"shuffled"``, ``"full"`` or ``"windows"``.
      batch_size: examples per step (shuffled), or parallel streams ``B``
        (windows); None for the full batch.
      window: time steps per window ``k`` (windows only).
    """

    kind: str
    batch_size: int | None = None
    window: int | None = None

    def steps(self, n: int) -> int:
        """Updates per epoch on ``n`` examples (or time steps)."""
        if self.kind == "full":
            return 1
        if self.kind == "shuffled":
            return n // self.batch_size
        return (n // self.batch_size) // self.window

    def examples_per_epoch(self, n: int) -> int:
        """Examples (or time steps) that one epoch uses."""
        if self.kind == "full":
            return n
        if self.kind == "shuffled":
            return self.steps(n) * self.batch_size
        return self.steps(n) * self.batch_size * self.window

    def shard_size(self, n: int) -> int:
        """Size of the leading batch axis that data parallelism splits."""
        return n if self.kind == "full" else self.batch_size

    def check(self, n: int, name: str = "train") -> None:
        """Raise a ``ValueError`` when ``n`` rows cannot fill one step."""
        if self.kind == "shuffled" and self.batch_size > n:
            raise ValueError(
                f"`batch_size` ({self.batch_size}) must not exceed the number of "
                f"examples of `{name}` ({n})."
            )
        if self.kind == "windows" and n // self.batch_size < self.window:
            raise ValueError(
                f"`{name}` has {n} time steps: {self.batch_size} streams of "
                f"{n // self.batch_size} steps cannot fill one window of "
                f"{self.window}; use fewer streams or a shorter window."
            )

    def indices(self, key: jax.Array, n: int) -> jax.Array:
        """One epoch's index table: ``[S, B]`` (shuffled) or ``[S, B, k]`` (windows).

        Args:
          key: PRNG key of the epoch (unused by ordered plans).
          n: rows (examples or time steps) of the data.
        """
        steps = self.steps(n)
        if self.kind == "shuffled":
            perm = jax.random.permutation(key, n)[: steps * self.batch_size]
            return perm.reshape(steps, self.batch_size).astype(jnp.int32)
        if self.kind == "windows":
            length = n // self.batch_size  # L steps per stream
            s = jnp.arange(steps, dtype=jnp.int32)[:, None, None]
            b = jnp.arange(self.batch_size, dtype=jnp.int32)[None, :, None]
            j = jnp.arange(self.window, dtype=jnp.int32)[None, None, :]
            return b * length + s * self.window + j
        raise ValueError("a full-batch plan has no index table")


def check_plan(plan, name: str = "plan") -> None:
    """Raise unless ``plan`` is a well-formed :class:`BatchPlan`.

    Raises:
      TypeError: not a :class:`BatchPlan`, or a non-int size.
      ValueError: an unknown kind, or sizes that do not fit the kind.
    """
    if not isinstance(plan, BatchPlan):
        raise TypeError(
            f"`{name}` must be a jnn.train.BatchPlan (shuffled, full_batch or "
            f"sequence_windows); got {type(plan).__name__}."
        )
    if plan.kind not in KINDS:
        raise ValueError(
            f"`{name}` has an unknown kind {plan.kind!r}; build plans with "
            "shuffled(B), full_batch() or sequence_windows(B, k)."
        )
    sizes = {
        "shuffled": ("batch_size",),
        "full": (),
        "windows": ("batch_size", "window"),
    }[plan.kind]
    for field in ("batch_size", "window"):
        value = getattr(plan, field)
        if field in sizes:
            check_positive_int(value, f"{name}.{field}")
        elif value is not None:
            raise ValueError(
                f"`{name}`: a {plan.kind!r} plan has no {field}; got {value!r}."
            )


def shuffled(batch_size: int) -> BatchPlan:
    """Shuffled mini-batches of ``batch_size`` examples, a new permutation per epoch."""
    check_positive_int(batch_size, "batch_size")
    return BatchPlan("shuffled", int(batch_size))


def full_batch() -> BatchPlan:
    """One update per epoch on the whole training set."""
    return BatchPlan("full")


def sequence_windows(n_streams: int, window: int) -> BatchPlan:
    """Ordered windows of ``n_streams`` parallel streams, ``window`` steps each.

    Batches have shape ``(n_streams, window, ...)``: entry ``[b, j]`` of step
    ``s`` is row ``b L + s window + j`` of the data, ``L = T // n_streams``.

    Args:
      n_streams: ``B``, streams advanced in parallel (the batch size).
      window: ``k``, time steps per window (the truncation length of BPTT).

    Example:
      >>> import numpy as np
      >>> plan = sequence_windows(2, 3)
      >>> np.asarray(plan.indices(None, 13))[:, 1]   # stream 1: rows 6..11
      array([[ 6,  7,  8],
             [ 9, 10, 11]], dtype=int32)
    """
    check_positive_int(n_streams, "n_streams")
    check_positive_int(window, "window")
    return BatchPlan("windows", int(n_streams), int(window))


def resolve(
    declared: BatchPlan | None, plan: BatchPlan | None, batch_size: int | None
) -> BatchPlan:
    """The plan of one training from the learner's and the caller's choices.

    Args:
      declared: the learner's own plan (``Learner.plan``), or None.
      plan: the caller's ``plan=``, or None.
      batch_size: the caller's ``batch_size=``, or None.

    Raises:
      ValueError: ``plan`` and ``batch_size`` both given, or a batch size or
        plan given to a learner that declares another plan (full-batch rules).
      TypeError: ``plan`` is not a :class:`BatchPlan`.
    """
    if plan is not None:
        check_plan(plan)
    if plan is not None and batch_size is not None:
        raise ValueError(
            "pass either `batch_size` or `plan`, not both (`batch_size=B` means "
            "plan=shuffled(B))."
        )
    asked = (
        plan
        if plan is not None
        else (shuffled(batch_size) if batch_size is not None else None)
    )
    if declared is None:
        return asked if asked is not None else full_batch()
    if asked is not None and asked != declared:
        what = "full-batch" if declared.kind == "full" else declared.kind
        given = f"batch_size={batch_size}" if plan is None else f"plan={plan}"
        raise ValueError(
            f"this learner is a {what} rule (it declares {declared}); it cannot "
            f"train with {given}. Leave `batch_size` and `plan` unset."
        )
    return declared
