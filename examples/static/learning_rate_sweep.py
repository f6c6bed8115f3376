"""Train 4 learning rates x 16 seeds of an MLP on digits in ONE compiled call.

`jnn.train.run` is a pure function of the key and the hyper-parameters, so
`jax.vmap` over both trains all 64 networks at once, each with its own
validation-patience stop. The table shows mean and spread of the test accuracy
per learning rate: too small is slow, too large is unstable.

Run:  python examples/static/learning_rate_sweep.py [--seeds 16] [--epochs 100]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import optax

import jnn


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds, args.epochs = 2, 3

    data = jnn.data.load("digits", seed=0)
    model = jnn.static.MLP(features=(64, 10), activation="relu", kernel_init="he")
    loss = jnn.train.classification_loss(model)

    def train_one(learning_rate, key):
        learner = jnn.train.gradient_learner(model, loss, optax.sgd(learning_rate, 0.9))
        result = jnn.train.run(
            learner,
            data.train,
            key=key,
            epochs=args.epochs,
            batch_size=32,
            val=data.val,
            stop=jnn.train.validation_patience(10),
        )
        test = learner.evaluate(result.state, data.test)
        return test["accuracy"], result.n_epochs

    rates = jnp.array([1e-3, 1e-2, 1e-1, 1.0])
    keys = jax.random.split(jax.random.key(0), args.seeds)
    sweep = jax.jit(jax.vmap(jax.vmap(train_one, in_axes=(None, 0)), in_axes=(0, None)))
    start = time.perf_counter()
    accuracy, epochs = jax.block_until_ready(sweep(rates, keys))  # [rates, seeds]
    seconds = time.perf_counter() - start
    print(f"{rates.size * args.seeds} trainings in one call: {seconds:.1f} s")
    print("learning rate | test accuracy mean (min..max) | epochs (mean)")
    for i, rate in enumerate(rates.tolist()):
        acc = accuracy[i]
        print(
            f"{rate:>13g} | {float(acc.mean()):.4f} ({float(acc.min()):.4f}.."
            f"{float(acc.max()):.4f}) | {float(epochs[i].mean()):.0f}"
        )
    return {"accuracy": accuracy, "epochs": epochs}


if __name__ == "__main__":
    main()
