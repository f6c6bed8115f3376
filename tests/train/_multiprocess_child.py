"""One process of the multi-process data-parallel test.

Usage: ``_multiprocess_child.py COORDINATOR NUM_PROCESSES PROCESS_ID OUT``.
It joins the other processes with ``jax.distributed`` (CPU collectives over
gloo) and trains the digits MLP over the devices of all of them; process 0
writes the parameters, the validation loss and the process and device counts
to the ``.npz`` file ``OUT``.
"""

import sys

import jax
import numpy as np
import optax

import jnn


def main(coordinator: str, num_processes: int, process_id: int, out: str) -> None:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        initialization_timeout=30,
    )
    data = jnn.data.load("digits")
    model = jnn.static.MLP(features=(64, 10), activation="relu")
    learner = jnn.train.gradient_learner(
        model, jnn.train.classification_loss(model), optax.adam(1e-3)
    )
    result = jnn.train.fit(
        learner,
        data.train,
        key=jax.random.key(0),
        epochs=5,
        batch_size=32,
        val=data.val,
        progress=False,
    )
    leaves = jax.tree.leaves(result.state.params)
    params = {f"param_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    if process_id == 0:
        np.savez(
            out,
            val_loss=result.history["val_loss"][-1],
            process_count=jax.process_count(),
            device_count=jax.device_count(),
            state_devices=len(leaves[0].sharding.device_set),
            **params,
        )
    jax.distributed.shutdown()


if __name__ == "__main__":
    coordinator, num_processes, process_id, out = sys.argv[1:]
    main(coordinator, int(num_processes), int(process_id), out)
