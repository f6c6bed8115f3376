"""Demos of the MLP chapter (S1-S3), registered for ``jnn run`` and ``jnn tour``.

Each demo trains on real data and writes PNG plots; the defaults run in
seconds to a minute on two CPU cores.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import data as jdata
from jnn import plotting
from jnn.demos import DemoConfig, DemoResult, register
from jnn.static.backprop.diagnostics import layer_gradient_norms, seed_spread
from jnn.static.backprop.mlp import MLP
from jnn.train import (
    any_of,
    classification_loss,
    fit,
    gradient_learner,
    max_epochs,
    regression_loss,
    relative_loss_change_below,
    run,
    validation_patience,
)


def _merge(*splits: dict) -> dict:
    return {k: np.concatenate([s[k] for s in splits]) for k in splits[0]}


@register("mlp-digits", "S1", "64 hidden units on digits: patience on val, refit")
def mlp_digits(config: DemoConfig) -> DemoResult:
    """One hidden layer of 64 ReLU units on scikit-learn's digits.

    The number of epochs is chosen on the validation split (patience 20,
    best weights restored); the net is then retrained on train + val for that
    many epochs from 8 initialisations at once (one vmapped call) and the
    mean test accuracy is reported.
    """
    ds = jdata.load("digits", seed=config.seed)
    model = MLP(features=(64, 10), activation="relu", kernel_init="he")
    learner = gradient_learner(
        model, classification_loss(model), optax.adamw(3e-3, weight_decay=0.1)
    )
    key = jax.random.key(config.seed)
    epochs = config.epochs_or(300, smoke=3)
    chosen = fit(
        learner,
        ds.train,
        key=key,
        epochs=epochs,
        batch_size=32,
        val=ds.val,
        stop=validation_patience(20),
    )
    best = int(np.argmin(chosen.history["val_loss"]))
    fig = plotting.loss_history(
        chosen.history,
        config.out / "mlp_digits_loss.png",
        title="MLP 64-64-10 on digits",
        marks={"best (restored)": best},
    )
    refit_epochs = max(best + 1, 1) if config.smoke else max(best + 1, 100)
    states = jax.jit(
        jax.vmap(
            lambda k: (
                run(
                    learner,
                    _merge(ds.train, ds.val),
                    key=k,
                    epochs=refit_epochs,
                    batch_size=32,
                ).state
            )
        )
    )(jax.random.split(key, 8))
    acc = jax.vmap(lambda s: learner.evaluate(s, ds.test)["accuracy"])(states)
    return DemoResult(
        "digits",
        "test accuracy (mean of 8 seeds)",
        float(acc.mean()),
        (fig,),
        f"best val epoch {best + 1}; refit {refit_epochs} "
        f"epochs; seeds min {float(acc.min()):.4f} max "
        f"{float(acc.max()):.4f}",
    )


@register("mlp-mnist", "S1", "LeCun et al. 1998's 784-300-100-10 MLP on MNIST")
def mlp_mnist(config: DemoConfig) -> DemoResult:
    """The 784-300-100-10 network of LeCun et al. (1998) on the full MNIST.

    LeCun et al. report 3.05% test error for this net without distortions;
    ReLU, He initialisation and Adam with a cosine schedule beat it.
    """
    ds = jdata.load("mnist", seed=config.seed)
    train = ds.train
    if config.smoke:
        train = {k: v[:2000] for k, v in ds.train.items()}
    epochs = config.epochs_or(10, smoke=1)
    steps = epochs * (len(train["y"]) // 128)
    model = MLP(features=(300, 100, 10), activation="relu", kernel_init="he")
    learner = gradient_learner(
        model,
        classification_loss(model),
        optax.adam(optax.cosine_decay_schedule(1e-3, steps)),
    )
    result = fit(
        learner,
        train,
        key=jax.random.key(config.seed),
        epochs=epochs,
        batch_size=128,
        val=ds.val,
    )
    test = learner.evaluate(result.state, ds.test)
    fig = plotting.loss_history(
        result.history,
        config.out / "mlp_mnist_loss.png",
        title="MLP 784-300-100-10 on MNIST",
    )
    error = 100 * (1 - float(test["accuracy"]))
    return DemoResult(
        "mnist",
        "test accuracy",
        float(test["accuracy"]),
        (fig,),
        f"test error {error:.2f}% vs 3.05% (LeCun et al. 1998)",
    )


@register("stopping-diabetes", "S2", "relative change of the MSE stops regression")
def stopping_diabetes(config: DemoConfig) -> DemoResult:
    """Full-batch regression on diabetes until |E(n)-E(n-1)|/E(n-1) < 1e-3."""
    ds = jdata.load("diabetes", seed=config.seed)
    model = MLP(features=(8, 1), activation="tanh")
    learner = gradient_learner(model, regression_loss(model), optax.sgd(0.1))
    epochs = config.epochs_or(2000, smoke=20)
    result = fit(
        learner,
        ds.train,
        key=jax.random.key(config.seed),
        epochs=epochs,
        val=ds.val,
        stop=any_of(relative_loss_change_below(1e-3), max_epochs(epochs)),
    )
    fig = plotting.curves(
        {"train MSE": result.history["loss"], "val MSE": result.history["val_loss"]},
        config.out / "stopping_diabetes.png",
        title="Stopping on the relative MSE",
        ylabel="MSE (standardised)",
        marks={result.reason: result.epochs - 1},
    )
    test = float(learner.evaluate(result.state, ds.test)["loss"])
    return DemoResult(
        "diabetes",
        "test MSE (standardised)",
        test,
        (fig,),
        f"stopped by {result.reason} after {result.epochs} epochs",
    )


@register("patience-breast-cancer", "S2", "validation patience restores the best")
def patience_breast_cancer(config: DemoConfig) -> DemoResult:
    """An over-sized net overfits breast_cancer; patience restores the best epoch."""
    ds = jdata.load("breast_cancer", seed=config.seed)
    model = MLP(features=(256, 256, 2), activation="relu")
    learner = gradient_learner(model, classification_loss(model), optax.adam(1e-4))
    result = fit(
        learner,
        ds.train,
        key=jax.random.key(config.seed),
        epochs=config.epochs_or(300, smoke=3),
        batch_size=32,
        val=ds.val,
        stop=validation_patience(10),
    )
    best = int(np.argmin(result.history["val_loss"]))
    fig = plotting.loss_history(
        result.history,
        config.out / "patience_breast_cancer.png",
        title="Validation patience (10) on breast_cancer",
        marks={"restored": best, result.reason: result.epochs - 1},
    )
    test = float(learner.evaluate(result.state, ds.test)["accuracy"])
    return DemoResult(
        "breast_cancer",
        "test accuracy",
        test,
        (fig,),
        f"{result.reason} after {result.epochs} epochs, weights of "
        f"epoch {best + 1} restored",
    )


@register("gradients-by-layer", "S3", "vanishing/exploding gradients per layer")
def gradients_by_layer(config: DemoConfig) -> DemoResult:
    """Per-layer gradient norms of 10-layer nets over training on digits.

    Sigmoid (Xavier) vanishes towards the input, ReLU with He initialisation
    keeps the scale, ReLU with N(0, 1) weights explodes (and diverges).
    """
    import matplotlib.pyplot as plt

    ds = jdata.load("digits", seed=config.seed)
    depth = (32,) * 9 + (10,)
    # (activation, initialisation, SGD step): the N(0, 1) net needs a tiny step
    # to stay finite at all, which is the point.
    setups = {
        "sigmoid, Xavier": ("sigmoid", "xavier", 0.1),
        "ReLU, He": ("relu", "he", 0.01),
        "ReLU, N(0,1)": ("relu", 1.0, 1e-9),
    }
    epochs = config.epochs_or(20, smoke=2)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    ratios = {}
    for ax, (label, (act, init, lr)) in zip(axes, setups.items(), strict=True):
        model = MLP(features=depth, activation=act, kernel_init=init)
        learner = gradient_learner(
            model,
            classification_loss(model),
            optax.sgd(lr),
            grad_metrics=layer_gradient_norms,
        )
        result = fit(
            learner,
            ds.train,
            key=jax.random.key(config.seed),
            epochs=epochs,
            batch_size=64,
            throw=False,
        )
        norms = result.history["layer_grad_norm"]  # (epochs, layers)
        for layer in range(norms.shape[1]):
            ax.plot(
                np.arange(1, len(norms) + 1),
                norms[:, layer],
                color=plt.cm.viridis(layer / (norms.shape[1] - 1)),
                label=f"layer {layer + 1}" if layer in (0, 9) else None,
            )
        ax.set(title=label, xlabel="epoch", yscale="log")
        ratios[label] = float(norms[0, 0] / norms[0, -1])
    axes[0].set_ylabel("||dE/dW_l|| (epoch mean)")
    axes[0].legend()
    path = plotting.save(fig, config.out / "gradients_by_layer.png")
    summary = "; ".join(f"{k}: first/last {v:.2g}" for k, v in ratios.items())
    return DemoResult(
        "digits",
        "sigmoid first/last layer grad ratio",
        ratios["sigmoid, Xavier"],
        (path,),
        summary,
    )


@register("local-minima", "S3", "64 seeds in one vmap: spread of final errors")
def local_minima(config: DemoConfig) -> DemoResult:
    """64 initialisations of a small sigmoid net on digits, trained in one call."""
    import matplotlib.pyplot as plt

    ds = jdata.load("digits", seed=config.seed)
    model = MLP(features=(6, 10), activation="sigmoid")
    learner = gradient_learner(model, classification_loss(model), optax.sgd(0.5))
    n_seeds = 8 if config.smoke else 64
    spread = seed_spread(
        learner,
        ds.train,
        key=jax.random.key(config.seed),
        n_seeds=n_seeds,
        epochs=config.epochs_or(60, smoke=3),
        batch_size=64,
        val=ds.val,
    )
    final = np.asarray(spread.final_loss)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(final, bins=20)
    ax.set(
        xlabel="final training cross-entropy",
        ylabel="seeds",
        title=f"{n_seeds} initialisations, one vmapped run",
    )
    path = plotting.save(fig, config.out / "local_minima.png")
    return DemoResult(
        "digits",
        "spread of final loss (max/min)",
        float(final.max() / final.min()),
        (path,),
        f"final loss min {final.min():.3f} median "
        f"{np.median(final):.3f} max {final.max():.3f}",
    )


@register("remedies", "S3", "deep sigmoid SGD vs momentum, Adam, ReLU/He, LN, residual")
def remedies(config: DemoConfig) -> DemoResult:
    """The S3 remedies on a 6-layer net on digits: validation accuracy each."""
    ds = jdata.load("digits", seed=config.seed)
    depth = (32,) * 5 + (10,)
    setups = {
        "sigmoid + SGD": ({"activation": "sigmoid"}, optax.sgd(0.1)),
        "+ momentum": ({"activation": "sigmoid"}, optax.sgd(0.1, momentum=0.9)),
        "+ Adam": ({"activation": "sigmoid"}, optax.adam(1e-3)),
        "ReLU + He": ({"activation": "relu", "kernel_init": "he"}, optax.sgd(0.1)),
        "sigmoid + LayerNorm": (
            {"activation": "sigmoid", "layer_norm": True},
            optax.sgd(0.1),
        ),
        "sigmoid + residual": (
            {"activation": "sigmoid", "residual": True},
            optax.sgd(0.1),
        ),
    }
    epochs = config.epochs_or(30, smoke=2)
    accuracy = {}
    for label, (kwargs, opt) in setups.items():
        model = MLP(features=depth, **kwargs)
        learner = gradient_learner(model, classification_loss(model), opt)
        result = fit(
            learner,
            ds.train,
            key=jax.random.key(config.seed),
            epochs=epochs,
            batch_size=64,
            val=ds.val,
            throw=False,
        )
        accuracy[label] = float(result.history["val_accuracy"][-1])
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.barh(list(accuracy), list(accuracy.values()))
    ax.set(
        xlabel=f"validation accuracy after {epochs} epochs",
        xlim=(0, 1),
        title="6-layer net on digits: remedies for BP's weaknesses",
    )
    path = plotting.save(fig, config.out / "remedies.png")
    summary = "; ".join(f"{k} {v:.3f}" for k, v in accuracy.items())
    gain = max(accuracy.values()) - accuracy["sigmoid + SGD"]
    return DemoResult(
        "digits",
        "best remedy - plain sigmoid SGD (val acc)",
        float(jnp.round(gain, 4)),
        (path,),
        summary,
    )
