"""Demo of curriculum R2-R3: the adding problem, where gates beat the Elman net.

``adding-problem`` (Hochreiter & Schmidhuber 1997; the variant of Arjovsky et
al. 2016): each input step holds a value in [0, 1] and a marker; exactly two
steps are marked, one in each half of the sequence, and the target is the sum
of the two marked values. Predicting 1 gives the baseline MSE 1/6 ~ 0.167. The
demo trains an LSTM, a GRU and an Elman net of the same width on the same
sequences of length T (30, so that it runs in seconds) through ``jnn.train``
(Adam 1e-2, clipping by global norm 1) and plots their validation MSE per epoch.
``examples/rnn/adding_problem.py`` runs the full table up to T = 200.
"""

from __future__ import annotations

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax

from jnn import plotting
from jnn.data.sequences import ADDING_BASELINE_MSE, adding_problem
from jnn.demos import DemoConfig, DemoResult, register
from jnn.rnn import RecurrentNet
from jnn.train import fit, gradient_learner, regression_loss

CELLS = ("lstm", "gru", "elman")


def train_adding(
    cell: str,
    length: int,
    *,
    key: jax.Array,
    epochs: int,
    n_train: int = 4096,
    n_val: int = 1024,
    features: int = 32,
    learning_rate: float = 1e-2,
    batch_size: int = 64,
):
    """Train a many-to-one ``RecurrentNet`` on the adding problem of length T.

    Returns:
      The :class:`jnn.train.FitResult`; ``history["val_loss"]`` is the
      validation MSE of every epoch.
    """
    k_train, k_val, k_fit = jax.random.split(key, 3)
    train = adding_problem(k_train, n_train, length)
    val = adding_problem(k_val, n_val, length)
    model = RecurrentNet(cell=cell, features=features, out_features=1)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(learning_rate))
    learner = gradient_learner(model, regression_loss(model), optimizer)
    return fit(
        learner,
        train,
        key=k_fit,
        epochs=epochs,
        batch_size=batch_size,
        val=val,
        progress=False,
    )


@register("adding-problem", "R2", "LSTM and GRU solve the adding problem, Elman not")
def adding_demo(config: DemoConfig) -> DemoResult:
    """Validation MSE per epoch of LSTM, GRU and Elman nets at T = 30."""
    length = 10 if config.smoke else 30
    epochs = config.epochs_or(6, smoke=1)
    n_train = 256 if config.smoke else 4096
    key = jax.random.key(config.seed)
    curves = {
        cell: np.asarray(
            train_adding(cell, length, key=key, epochs=epochs, n_train=n_train).history[
                "val_loss"
            ]
        )
        for cell in CELLS
    }
    fig, ax = plt.subplots(figsize=(6, 4))
    for cell, curve in curves.items():
        ax.semilogy(np.arange(1, len(curve) + 1), curve, marker="o", label=cell)
    ax.axhline(ADDING_BASELINE_MSE, linestyle="--", color="gray", label="predict 1")
    ax.set(
        xlabel="epoch",
        ylabel="validation MSE",
        title=f"Adding problem, T = {length}",
    )
    ax.legend()
    path = plotting.save(fig, config.out / "adding_problem.png")
    final = {cell: float(curve[-1]) for cell, curve in curves.items()}
    return DemoResult(
        f"adding problem, T = {length}, {n_train} training sequences",
        "LSTM validation MSE",
        final["lstm"],
        (path,),
        "Final validation MSE: "
        + ", ".join(f"{cell} {value:.4f}" for cell, value in final.items())
        + f" (baseline {ADDING_BASELINE_MSE:.3f}).",
    )
