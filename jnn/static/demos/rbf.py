"""Demo of the RBF chapter (S4, S8): RBF network against MLP.

``rbf-vs-mlp`` measures what the curriculum claims about RBF networks:

* fast learning: the two-stage RBF (k-means centres, heuristic widths, ridge
  output layer) reaches a target accuracy on digits, and a target error on a
  2-D function, in a fraction of the time back-propagation needs for the MLP
  (both timed warm, compilation excluded);
* local approximation: after the training targets are raised in one small
  region and both networks are retrained, the RBF network's function changes
  only near that region, the MLP's changes everywhere (a global fit).
"""

from __future__ import annotations

import time

import jax
import numpy as np
import optax

from jnn import data as jdata
from jnn import plotting
from jnn.demos import DemoConfig, DemoResult, register
from jnn.static.backprop.mlp import MLP
from jnn.static.radial.rbf import rbf_classify, rbf_fit, rbf_predict
from jnn.train import (
    Stop,
    any_of,
    classification_loss,
    fit,
    gradient_learner,
    max_epochs,
    metric_below,
    regression_loss,
)

REGION = (1.5, 1.5, 0.75)  # centre x1, centre x2, radius of the perturbed disc


def _timed(fn):
    """``(result, seconds)`` of the second call of ``fn`` (the first compiles)."""
    jax.block_until_ready(fn())
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - start


def accuracy_reached(target: float) -> Stop:
    """Stop as soon as the validation accuracy reaches ``target``."""

    def update(stop_state, record, learner_state):
        return stop_state, (record["val_accuracy"] >= target)[None]

    return Stop(
        ("val_accuracy_reached",),
        ("val_accuracy",),
        lambda s: (),
        update,
        lambda s, learner_state: learner_state,
    )


def digits_race(config: DemoConfig, target: float) -> dict:
    """Seconds and accuracy of RBF (two-stage) and MLP (Adam) on digits."""
    ds = jdata.load("digits", seed=config.seed)
    key = jax.random.key(config.seed)
    n_centers = 40 if config.smoke else 300

    def train_rbf():
        return rbf_fit(
            ds.train["x"], ds.train["y"], n_centers, key=key, width_factor=2.0,
            ridge=1e-2,
        )  # fmt: skip

    rbf, rbf_s = _timed(train_rbf)
    model = MLP(features=(64, 10), activation="relu", kernel_init="he")
    learner = gradient_learner(model, classification_loss(model), optax.adam(3e-3))
    epochs = config.epochs_or(200, smoke=3)
    stop = any_of(accuracy_reached(target), max_epochs(epochs))

    def train_mlp():
        kw = dict(key=key, epochs=epochs, batch_size=32, progress=False)
        return fit(learner, ds.train, val=ds.val, stop=stop, **kw)

    mlp, mlp_s = _timed(train_mlp)
    return {
        "rbf_seconds": rbf_s,
        "rbf_val_accuracy": _accuracy(rbf_classify(rbf, ds.val["x"]), ds.val["y"]),
        "rbf_test_accuracy": _accuracy(rbf_classify(rbf, ds.test["x"]), ds.test["y"]),
        "mlp_seconds": mlp_s,
        "mlp_epochs": mlp.epochs,
        "mlp_val_accuracy": float(mlp.history["val_accuracy"][-1]),
        "mlp_test_accuracy": float(learner.evaluate(mlp.state, ds.test)["accuracy"]),
        "mlp_history": mlp.history["val_accuracy"],
    }


def _accuracy(labels, y) -> float:
    return float(np.mean(np.asarray(labels) == np.asarray(y)))


def surface(x: np.ndarray) -> np.ndarray:
    """The 2-D target ``sin(x1) cos(x2)``."""
    return np.sin(x[:, 0]) * np.cos(x[:, 1])


def _in_region(x: np.ndarray) -> np.ndarray:
    c1, c2, r = REGION
    return (x[:, 0] - c1) ** 2 + (x[:, 1] - c2) ** 2 <= r**2


def function_race(config: DemoConfig, target_mse: float) -> dict:
    """Fit sin(x1) cos(x2) on [-3, 3]^2; then raise the targets in one disc."""
    rng = np.random.default_rng(config.seed)
    n = 300 if config.smoke else 1000
    x = rng.uniform(-3, 3, (n, 2)).astype(np.float32)
    y = (surface(x) + 0.02 * rng.normal(size=n)).astype(np.float32)
    bumped = (y + 1.0 * _in_region(x)).astype(np.float32)
    key = jax.random.key(config.seed)
    n_centers = 30 if config.smoke else 100

    def train_rbf(targets):
        return rbf_fit(x, targets, n_centers, key=key, ridge=1e-3)

    model = MLP(features=(64, 64, 1), activation="tanh")
    learner = gradient_learner(model, regression_loss(model), optax.adam(1e-2))
    epochs = config.epochs_or(400, smoke=5)

    def train_mlp(targets, stop=None):
        data = {"x": x, "y": targets}
        kw = dict(key=key, epochs=epochs, batch_size=100, progress=False)
        return fit(learner, data, stop=stop, **kw)

    rbf, rbf_s = _timed(lambda: train_rbf(y))
    stop = metric_below(target_mse, metric="loss")
    mlp_to_target, mlp_s = _timed(lambda: train_mlp(y, stop))
    mlp, mlp_bumped = train_mlp(y), train_mlp(bumped)
    grid = np.stack(
        np.meshgrid(np.linspace(-3, 3, 90), np.linspace(-3, 3, 90)), -1
    ).reshape(-1, 2)
    grid = grid.astype(np.float32)

    def mlp_out(state):
        return np.asarray(model.apply({"params": state.params}, grid))[:, 0]

    rbf_change = np.abs(
        np.asarray(rbf_predict(train_rbf(bumped), grid) - rbf_predict(rbf, grid))
    )[:, 0]
    mlp_change = np.abs(mlp_out(mlp_bumped.state) - mlp_out(mlp.state))
    truth = surface(grid)
    c1, c2, r = REGION
    far = np.hypot(grid[:, 0] - c1, grid[:, 1] - c2) > 2 * r
    return {
        "rbf_seconds": rbf_s,
        "rbf_test_mse": float(np.mean((rbf_predict(rbf, grid)[:, 0] - truth) ** 2)),
        "mlp_seconds": mlp_s,
        "mlp_epochs": mlp_to_target.epochs,
        "mlp_reached": mlp_to_target.reason != "epochs",
        "mlp_test_mse": float(np.mean((mlp_out(mlp.state) - truth) ** 2)),
        "rbf_change_far": float(rbf_change[far].mean()),
        "mlp_change_far": float(mlp_change[far].mean()),
        "grid": grid,
        "rbf_change": rbf_change,
        "mlp_change": mlp_change,
    }


def _plot_race(digits: dict, target: float, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    acc = digits["mlp_history"]
    seconds = digits["mlp_seconds"] * np.arange(1, len(acc) + 1) / len(acc)
    ax.plot(seconds, acc, marker=".", label="MLP 64-64-10, Adam (per epoch)")
    ax.scatter(
        [digits["rbf_seconds"]], [digits["rbf_val_accuracy"]], color="C3",
        zorder=3, s=60, label="RBF two-stage (k-means + ridge)",
    )  # fmt: skip
    ax.axhline(target, linestyle="--", color="gray", label=f"target {target:.0%}")
    ax.set(
        xlabel="seconds (warm, compilation excluded)",
        ylabel="validation accuracy",
        title="digits: time to reach the target",
        ylim=(max(0.0, min(acc.min(), target) - 0.05), 1.0),
    )
    ax.legend(loc="lower right", fontsize=8)
    return plotting.save(fig, path)


def _plot_change(study: dict, path):
    import matplotlib.pyplot as plt

    side = int(np.sqrt(len(study["grid"])))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    top = max(study["rbf_change"].max(), study["mlp_change"].max())
    for ax, name in zip(axes, ("rbf", "mlp"), strict=True):
        image = ax.imshow(
            study[f"{name}_change"].reshape(side, side), origin="lower",
            extent=(-3, 3, -3, 3), vmin=0, vmax=top, cmap="magma",
        )  # fmt: skip
        c1, c2, r = REGION
        ax.add_patch(plt.Circle((c1, c2), r, fill=False, color="cyan", lw=1.5))
        far = study[f"{name}_change_far"]
        label = "RBF network" if name == "rbf" else "MLP"
        ax.set(title=f"{label}: |change of f|, far mean {far:.3f}", xlabel="x1")
        fig.colorbar(image, ax=ax, shrink=0.85)
    axes[0].set_ylabel("x2")
    fig.suptitle("targets raised by 1 inside the circle; both retrained")
    return plotting.save(fig, path)


def rbf_vs_mlp_study(config: DemoConfig) -> dict:
    """Both races and the locality study; writes two PNGs into ``config.out``."""
    target = 0.8 if config.smoke else 0.97
    digits = digits_race(config, target)
    study = function_race(config, target_mse=0.05 if config.smoke else 0.005)
    figures = (
        _plot_race(digits, target, config.out / "rbf_vs_mlp_digits.png"),
        _plot_change(study, config.out / "rbf_vs_mlp_locality.png"),
    )
    return {"digits": digits, "function": study, "figures": figures}


@register("rbf-vs-mlp", "S8", "two-stage RBF vs MLP: time to target, local fit")
def rbf_vs_mlp(config: DemoConfig) -> DemoResult:
    """Time to a target on digits and a 2-D function; local vs global change."""
    out = rbf_vs_mlp_study(config)
    d, f = out["digits"], out["function"]
    ratio = f["mlp_change_far"] / max(f["rbf_change_far"], 1e-12)
    summary = (
        f"digits: RBF {d['rbf_seconds']:.2f} s test {d['rbf_test_accuracy']:.4f}, "
        f"MLP {d['mlp_seconds']:.2f} s ({d['mlp_epochs']} epochs) test "
        f"{d['mlp_test_accuracy']:.4f}; sin*cos: RBF {f['rbf_seconds']:.2f} s, "
        f"MLP {f['mlp_seconds']:.2f} s to MSE target; far change RBF "
        f"{f['rbf_change_far']:.4f} vs MLP {f['mlp_change_far']:.4f}"
    )
    return DemoResult(
        "digits + sin(x1)cos(x2)",
        "far-field change MLP / RBF",
        float(ratio),
        out["figures"],
        summary,
    )
