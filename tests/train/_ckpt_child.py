"""Child process for the checkpoint test: train digits, save the state to a file.

The model has BatchNorm, so the state holds model state (running statistics)
besides parameters and optimiser state: all of it must resume bit for bit.

Usage: python _ckpt_child.py CHECKPOINT_DIR OUT.npz
"""

import sys

import flax.linen as nn
import jax
import numpy as np
import optax

import jnn

EPOCHS = 60


class BatchNormMLP(nn.Module):
    """64 -> 256 -> 256 -> 10 with BatchNorm before each ReLU."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        for width in (256, 256):
            x = nn.Dense(width, use_bias=False)(x)
            x = nn.relu(nn.BatchNorm(use_running_average=not train)(x))
        return nn.Dense(10)(x)


def main(checkpoint_dir: str, out: str) -> None:
    data = jnn.data.load("digits")
    model = BatchNormMLP()
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
    n_stats = len(jax.tree.leaves(result.state.model_state))
    np.savez(
        out,
        epochs=result.epochs,
        n_stats=n_stats,
        val_loss=result.history["val_loss"],
        **arrays,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
