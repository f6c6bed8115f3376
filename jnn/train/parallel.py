"""Data parallelism with ``jax.sharding``: batch sharded, parameters replicated.

The engine gathers each mini-batch from a replicated copy of the data and
constrains it to be split along its leading axis over a one-axis ``Mesh`` of
all (global) devices; the learner state stays replicated. XLA's SPMD
partitioner then runs each device on its slice and all-reduces the gradients,
so the result equals one-device training up to the order of floating-point
sums.

Multi-host training runs the same program in every process after
``jax.distributed.initialize()`` (on CPU the all-reduce goes over gloo):
``jax.devices()`` then lists the devices of all processes, and every process
passes the same full host data, which :func:`put` turns into global arrays of
which each process holds its own devices' shards.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec, Sharding

BATCH_AXIS = "batch"


class Placement(NamedTuple):
    """Where the engine puts data and state.

    Attributes:
      devices: the devices used.
      replicated: sharding of the state and the data (replicated).
      constrain: ``batch -> batch`` adding the batch-sharding constraint
        (identity on one device).
    """

    devices: tuple[jax.Device, ...]
    replicated: Sharding
    constrain: Callable[[Any], Any]


def placement(devices: Sequence[jax.Device] | None, batch_size: int) -> Placement:
    """Build the placement for ``devices`` (default: ``jax.devices()``).

    The default is every device of every process, so that after
    ``jax.distributed.initialize()`` the batch is split across hosts; on one
    process it is the local devices. Cached, so that the engine's compiled
    functions are reused across calls.

    Raises:
      ValueError: ``batch_size`` is not a multiple of the number of devices.
    """
    devices = tuple(jax.devices() if devices is None else devices)
    return _placement(devices, batch_size)


@functools.lru_cache(maxsize=16)
def _placement(devices: tuple, batch_size: int) -> Placement:
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(
            f"`devices` must be a non-empty list of jax devices; got {devices!r}."
        )
    if len(devices) == 1:
        single = jax.sharding.SingleDeviceSharding(devices[0])
        return Placement(devices, single, lambda batch: batch)
    if batch_size % len(devices):
        raise ValueError(
            f"`batch_size` ({batch_size}) must be a multiple of the number of "
            f"devices ({len(devices)}) for data-parallel training; change it or "
            "pass `devices=jax.local_devices()[:1]`."
        )
    mesh = Mesh(np.array(devices), (BATCH_AXIS,))
    sharded = NamedSharding(mesh, PartitionSpec(BATCH_AXIS))

    def constrain(batch):
        return jax.lax.with_sharding_constraint(batch, sharded)

    return Placement(devices, NamedSharding(mesh, PartitionSpec()), constrain)


def put(tree: Any, sharding: Sharding) -> Any:
    """Place the host or device arrays of ``tree`` with ``sharding``.

    On one process this is ``jax.device_put``. With several processes every
    process must pass the same full values; each leaf becomes a global array
    built from the slices of this process's devices (typed PRNG keys via their
    key data). Leaves that already are global arrays are only resharded.
    """
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)
    return jax.tree.map(lambda x: _global(x, sharding), tree)


def _global(x: Any, sharding: Sharding) -> jax.Array:
    if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        data = _global(jax.random.key_data(x), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return x if x.sharding == sharding else jax.device_put(x, sharding)
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda i: host[i])
