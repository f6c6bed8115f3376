"""Demos of the probabilistic networks (S5): PRBF posteriors and PNN widths.

Registered for ``jnn run`` and ``jnn tour``; each runs in well under 30 s on
two CPU cores and writes PNG plots into the output folder.
"""

from __future__ import annotations

import jax
import numpy as np

from jnn import data as jdata
from jnn import plotting
from jnn.demos import DemoConfig, DemoResult, register
from jnn.static.backprop.calibration import (
    expected_calibration_error,
    reliability_diagram,
)
from jnn.static.radial.pnn import pnn_fit, pnn_predict, pnn_select_sigma
from jnn.static.radial.prbf import prbf
from jnn.static.radial.prbf_fit import prbf_predict_proba
from jnn.train import absolute_change_below, fit


def _reliability_figure(probs, labels, history, path, title):
    """Reliability diagram, confidence histogram and the EM log-likelihood."""
    import matplotlib.pyplot as plt

    diagram = reliability_diagram(probs, labels)
    edges, width = np.asarray(diagram.edges), 1 / (len(diagram.edges) - 1)
    conf = np.asarray(probs).max(axis=1)
    hit = np.asarray(probs).argmax(axis=1) == np.asarray(labels)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    axes[0].bar(edges[:-1], np.nan_to_num(diagram.accuracy), width, align="edge",
                edgecolor="k", label="accuracy")  # fmt: skip
    axes[0].plot([0, 1], [0, 1], "--", color="gray", label="calibrated")
    axes[0].set(xlabel="confidence", ylabel="accuracy", title=title)
    axes[0].legend()
    axes[1].hist([conf[hit], conf[~hit]], bins=edges, stacked=True,
                 label=["correct", "wrong"])  # fmt: skip
    axes[1].set(xlabel="max_k P(k|x)", ylabel="test examples", yscale="log",
                title="Posterior confidence")  # fmt: skip
    axes[1].legend()
    axes[2].plot(np.arange(1, len(history) + 1), history)
    axes[2].set(xlabel="EM iteration", ylabel="mean log p(x, y)",
                title="Log-likelihood (never decreases)")  # fmt: skip
    return plotting.save(fig, path)


@register("prbf-posteriors", "S5", "PRBF on digits: posteriors, reliability, ECE")
def prbf_posteriors(config: DemoConfig) -> DemoResult:
    """A probabilistic RBF network (Titsias & Likas 2001) on digits.

    400 spherical kernels shared by the 10 classes, variance floor 1.0 (both
    chosen on the validation split), trained by EM until the mean
    log-likelihood changes by less than 1e-4. The class posteriors are
    checked for calibration on the test split (ECE, 15 bins).
    """
    ds = jdata.load("digits", seed=config.seed)
    n_kernels = 50 if config.smoke else 400
    learner = prbf(n_kernels, 10, covariance="spherical", variance_floor=1.0)
    result = fit(
        learner,
        ds.train,
        key=jax.random.key(config.seed),
        epochs=config.epochs_or(200, smoke=5),
        stop=absolute_change_below(1e-4, metric="log_likelihood"),
    )
    probs = prbf_predict_proba(result.state, ds.test["x"])
    accuracy = float(np.mean(np.argmax(probs, axis=1) == ds.test["y"]))
    ece = float(expected_calibration_error(probs, ds.test["y"]))
    val = jax.jit(learner.evaluate)(result.state, ds.val)
    path = _reliability_figure(
        probs,
        ds.test["y"],
        result.history["log_likelihood"],
        config.out / "prbf_posteriors.png",
        f"PRBF, {n_kernels} shared kernels: ECE {ece:.3f}",
    )
    return DemoResult(
        "digits",
        "test accuracy",
        accuracy,
        (path,),
        f"test ECE {ece:.4f} (15 bins); val accuracy {float(val['accuracy']):.4f}; "
        f"{result.epochs} EM iterations ({result.reason})",
    )


def _test_accuracy(ds, sigma: float) -> float:
    state = pnn_fit(ds.train["x"], ds.train["y"], sigma=sigma)
    return float(np.mean(np.asarray(pnn_predict(state, ds.test["x"])) == ds.test["y"]))


@register("pnn-digits", "S5", "Specht's PNN on digits: accuracy against sigma")
def pnn_digits(config: DemoConfig) -> DemoResult:
    """Specht's (1990) PNN on digits, the window width chosen on validation.

    All widths are scored in one vmapped call. The raw 0-16 grey levels share
    one scale, which a single Parzen width assumes; the same search on
    z-scored pixels is reported for comparison.
    """
    import matplotlib.pyplot as plt

    raw = jdata.load("digits", seed=config.seed, standardize=False)
    scaled = jdata.load("digits", seed=config.seed)
    sigmas = np.geomspace(0.5, 30, 7 if config.smoke else 31)
    chosen = pnn_select_sigma(raw.train, raw.val, sigmas)
    on_test = pnn_select_sigma(raw.train, raw.test, sigmas)  # drawn, not used
    accuracy = _test_accuracy(raw, chosen.sigma)
    z_chosen = pnn_select_sigma(scaled.train, scaled.val, sigmas / 4)
    z_accuracy = _test_accuracy(scaled, z_chosen.sigma)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sigmas, chosen.accuracy, "o-", label="validation")
    ax.plot(sigmas, on_test.accuracy, ".--", label="test")
    ax.axvline(chosen.sigma, color="gray", linestyle=":", label="chosen on val")
    ax.set(xscale="log", xlabel="Parzen width sigma (grey levels)",
           ylabel="accuracy", title="PNN on digits (raw pixels)")  # fmt: skip
    ax.legend()
    path = plotting.save(fig, config.out / "pnn_digits_sigma.png")
    return DemoResult(
        "digits",
        "test accuracy",
        accuracy,
        (path,),
        f"sigma {chosen.sigma:.3g} (val accuracy {chosen.accuracy.max():.4f}); "
        f"z-scored pixels: sigma {z_chosen.sigma:.3g}, test accuracy "
        f"{z_accuracy:.4f}",
    )
