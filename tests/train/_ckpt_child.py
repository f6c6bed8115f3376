"""Child process for the checkpoint test: train digits, save params to a file.

Usage: python _ckpt_child.py CHECKPOINT_DIR OUT.npz
"""

import sys

import jax
import numpy as np
import optax

import jnn

EPOCHS = 400


def main(checkpoint_dir: str, out: str) -> None:
    data = jnn.data.load("digits")
    model = jnn.static.MLP(features=(256, 256, 10), activation="relu")
    learner = jnn.train.gradient_learner(
        model, jnn.train.classification_loss(model), optax.adam(1e-3)
    )
    result = jnn.train.fit(
        learner,
        data.train,
        key=jax.random.key(42),
        epochs=EPOCHS,
        batch_size=16,
        val=data.val,
        stop=jnn.train.validation_patience(10_000),
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=5,
        progress=False,
    )
    leaves = jax.tree.leaves(result.state)
    arrays = {f"leaf_{i}": np.asarray(x) for i, x in enumerate(leaves)}
    np.savez(out, epochs=result.epochs, val_loss=result.history["val_loss"], **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
