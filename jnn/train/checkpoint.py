"""Orbax checkpoints of the engine's whole training carry.

What is saved is everything the next epoch depends on: the learner state, the
stopping criteria's state, the epoch counter and the history so far (plus the
raw PRNG key, to refuse resuming with another seed). Epoch keys are derived
from the run's key and the epoch number, so a run resumed from a checkpoint
computes bit for bit what the uninterrupted run computes.

Leaves are stored as a flat dict; typed PRNG keys are stored as their raw data.
Orbax writes to a temporary folder and renames it when complete, so a process
killed while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp


def _is_key(leaf: Any) -> bool:
    return jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _to_saveable(tree: Any) -> dict[str, Any]:
    # Orbax refuses zero-size arrays; they carry no data and are rebuilt from
    # the template on restore.
    leaves = jax.tree.leaves(tree)
    return {
        f"{i:05d}": jax.random.key_data(leaf) if _is_key(leaf) else leaf
        for i, leaf in enumerate(leaves)
        if leaf.size
    }


class Checkpointer:
    """Save and restore the training carry every ``every`` epochs.

    Args:
      directory: folder of the checkpoints (created if missing).
      every: save after every ``every``-th epoch (and at the end).
      max_to_keep: number of recent checkpoints kept.
    """

    def __init__(self, directory: str | Path, every: int, max_to_keep: int = 2):
        self.directory = Path(directory).absolute()
        self.every = every
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
        )

    def latest_epoch(self) -> int | None:
        """Epochs completed in the newest checkpoint, or None when there is none."""
        return self.manager.latest_step()

    def save(self, epoch: int, carry: Any, key: jax.Array, *, force: bool = False):
        """Save ``carry`` after ``epoch`` epochs if due (or when ``force``)."""
        if not force and epoch % self.every:
            return
        if self.manager.latest_step() == epoch:
            return
        item = {"carry": _to_saveable(carry), "key": np.asarray(_raw(key))}
        self.manager.save(epoch, args=ocp.args.StandardSave(item), force=True)

    def restore(self, template: Any, key: jax.Array) -> Any:
        """Restore the newest carry into the structure of ``template``.

        Raises:
          ValueError: the checkpoint was written by a run with another ``key``,
            or for another model or data shape.
        """
        epoch = self.manager.latest_step()
        target = {"carry": _to_saveable(template), "key": np.asarray(_raw(key))}
        try:
            item = self.manager.restore(epoch, args=ocp.args.StandardRestore(target))
        except (ValueError, KeyError) as err:
            raise ValueError(
                f"the checkpoint in `checkpoint_dir` {self.directory} does not match "
                f"this learner and data: {err}"
            ) from err
        if not np.array_equal(item["key"], np.asarray(_raw(key))):
            raise ValueError(
                f"the checkpoint in `checkpoint_dir` {self.directory} was written by "
                "a run with another `key`; resume with the same key or use a new "
                "folder."
            )
        leaves, treedef = jax.tree.flatten(template)
        saved = item["carry"]
        restored = []
        for i, leaf in enumerate(leaves):
            if not leaf.size:
                restored.append(leaf)
            elif _is_key(leaf):
                impl = jax.random.key_impl(leaf)
                restored.append(jax.random.wrap_key_data(saved[f"{i:05d}"], impl=impl))
            else:
                restored.append(saved[f"{i:05d}"])
        return jax.tree.unflatten(treedef, restored)

    def close(self) -> None:
        """Wait for pending writes and release the manager."""
        self.manager.wait_until_finished()
        self.manager.close()


def _raw(key: jax.Array) -> jax.Array:
    return jax.random.key_data(key) if _is_key(key) else key
