"""Demos of discrete Hopfield memories (D9, D11) for ``jnn run`` and ``jnn tour``.

``hopfield-memory`` stores ten MNIST digits and recalls them from 25% flipped
pixels; ``hopfield-capacity`` draws final overlap vs load for three storage
rules, plus correlated patterns before and after orthogonalisation, and the
basins at load 0.05. ``examples/hopfield/capacity.py`` runs the same study at
the full size (N = 1000, 20 trials per load).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jnn import data as jdata
from jnn import plotting
from jnn.demos import DemoConfig, DemoResult, register
from jnn.hopfield.discrete.basins import basin_size
from jnn.hopfield.discrete.capacity import capacity_curve
from jnn.hopfield.discrete.correlated import correlated_patterns, orthogonal_hebbian
from jnn.hopfield.discrete.dhnn import recall
from jnn.hopfield.discrete.rules import hebbian, pseudo_inverse, storkey
from jnn.hopfield.discrete.trials import flip_bits

RULES = {"Hebbian": hebbian, "Storkey": storkey, "pseudo-inverse": pseudo_inverse}


def mnist_patterns(seed: int = 0) -> np.ndarray:
    """(10, 784) ±1: the first test image of each digit, thresholded at 0.5."""
    test = jdata.load("mnist", seed=seed, standardize=False).test
    first = [int(np.flatnonzero(test["y"] == c)[0]) for c in range(10)]
    return np.where(test["x"][first] > 0.5, 1.0, -1.0).astype(np.float32)


def recall_images(
    patterns: np.ndarray, flipped: float, key: jax.Array, rules=RULES
) -> dict[str, np.ndarray]:
    """Noisy probes and their recalls (async, random order) under each rule.

    Returns:
      ``{"noisy": (M, N), rule name: (M, N), ...}`` final states.
    """
    x = jnp.asarray(patterns)
    flip_keys, order_keys = jax.random.split(key, (2, len(patterns)))
    d = int(round(flipped * x.shape[1]))
    noisy = jax.vmap(lambda k, p: flip_bits(k, p, d))(flip_keys, x)
    out = {"noisy": np.asarray(noisy)}
    for name, rule in rules.items():
        w = rule(x)
        states = jax.vmap(lambda s, k, w=w: recall(w, s, order="random", key=k).state)(
            noisy, order_keys
        )
        out[name] = np.asarray(states)
    return out


def image_grid(rows: dict[str, np.ndarray], path: Path, *, title: str) -> Path:
    """Plot one row of 28x28 ±1 images per entry of ``rows``."""
    import matplotlib.pyplot as plt

    names = list(rows)
    cols = len(rows[names[0]])
    fig, axes = plt.subplots(
        len(names), cols, figsize=(1.1 * cols, 1.2 * len(names)), squeeze=False
    )
    for r, name in enumerate(names):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(rows[name][c].reshape(28, 28), cmap="gray_r", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title)
    return plotting.save(fig, path)


@register("hopfield-memory", "D9", "10 MNIST digits recalled from 25% flipped pixels")
def hopfield_memory(config: DemoConfig) -> DemoResult:
    """Store ten binarised MNIST digits (N = 784) and recall them from noise.

    The digits share their background (pairwise overlaps 0.5-0.75), so the
    Hebbian cross-talk swamps the signal and recall falls into a mixture; the
    pseudo-inverse rule (Hebbian storage of the orthogonalised digits) recalls
    every digit exactly. Headline: digits recalled exactly by pseudo-inverse.
    """
    patterns = mnist_patterns(config.seed)
    if config.smoke:
        patterns = patterns[:4]
    key = jax.random.key(config.seed)
    rows = recall_images(patterns, 0.25, key)
    exact = {
        name: int(np.sum(np.all(rows[name] == patterns, axis=1))) for name in RULES
    }
    fig = image_grid(
        {"stored": patterns, "25% flipped": rows["noisy"]}
        | {name: rows[name] for name in RULES},
        config.out / "hopfield_memory.png",
        title="Hopfield recall of MNIST digits from 25% flipped pixels",
    )
    summary = ", ".join(f"{k}: {v}/{len(patterns)}" for k, v in exact.items())
    return DemoResult(
        "mnist",
        "digits recalled exactly (pseudo-inverse)",
        float(exact["pseudo-inverse"]),
        (fig,),
        f"exact recalls from 25% flipped pixels: {summary}",
    )


def capacity_study(
    n_units: int, trials: int, key: jax.Array, *, noise: float, loads: dict
) -> dict:
    """Capacity curves of each rule and of correlated patterns (D11).

    Args:
      n_units: N.
      trials: trials per load.
      key: PRNG key.
      noise: fraction of flipped units in each start.
      loads: ``{"Hebbian": [...], "Storkey": [...], "pseudo-inverse": [...],
        "correlated": [...]}``.

    Returns:
      ``{label: CapacityCurve}``; correlated labels end with ``(c=0.4)``.
    """
    run = partial(capacity_curve, n_units=n_units, trials=trials, noise=noise)
    curves = {
        name: run(rule, loads=loads[name], key=key) for name, rule in RULES.items()
    }
    correlated = partial(correlated_patterns, correlation=0.4)
    for name, rule in (("Hebbian", hebbian), ("orthogonalised", orthogonal_hebbian)):
        curves[f"{name} (c=0.4)"] = run(
            rule, loads=loads["correlated"], key=key, patterns=correlated
        )
    return curves


def basin_study(n_units: int, trials: int, key: jax.Array, distances) -> dict:
    """Basin size vs Hamming distance of pattern 0 under each rule, alpha = 0.05."""
    m = max(1, round(0.05 * n_units))
    x = jax.random.rademacher(key, (m, n_units), dtype=jnp.float32)
    return {
        name: np.asarray(
            basin_size(rule(x), x[0], distances=distances, key=key, trials=trials)
        )
        for name, rule in RULES.items()
    }


def plot_capacity(curves: dict, basins: dict, distances, path: Path, n: int) -> Path:
    """Three panels: random patterns, correlated patterns, basins at alpha 0.05."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, c in curves.items():
        ax = axes[1] if "(c=" in name else axes[0]
        ax.plot(c.alpha, c.mean_overlap, "o-", ms=3, label=name)
    axes[0].axvline(0.138, ls="--", color="gray", label="alpha_c = 0.138 (AGS 1985)")
    titles = ("random patterns", "correlated patterns (pair overlap 0.16)")
    for ax, title in zip(axes[:2], titles, strict=True):
        ax.set(xlabel="load alpha = M / N", ylabel="final overlap m", title=title)
        ax.legend(fontsize=8)
    for name, fraction in basins.items():
        axes[2].plot(np.asarray(distances) / n, fraction, "o-", ms=3, label=name)
    axes[2].set(
        xlabel="start distance d / N",
        ylabel="fraction recalled exactly",
        title="basins at alpha = 0.05",
    )
    axes[2].legend(fontsize=8)
    fig.suptitle(f"Hopfield capacity and basins, N = {n}")
    return plotting.save(fig, path)


@register("hopfield-capacity", "D11", "overlap vs load: Hebb, Storkey, pseudo-inverse")
def hopfield_capacity(config: DemoConfig) -> DemoResult:
    """Capacity curves at N = 200 (10 trials per load) and basins at alpha 0.05.

    Each trial starts on a stored pattern with 5% of its units flipped and
    reports the final overlap. The Hebbian curve collapses near alpha_c
    ~ 0.138 (Amit, Gutfreund & Sompolinsky 1985); finite N smooths the drop.
    Headline: the Hebbian mean overlap at alpha = 0.2 (collapsed: small).
    """
    n, trials = (64, 4) if config.smoke else (200, 10)
    key = jax.random.key(config.seed)
    # Few loads: each one compiles its storage step (about 0.5-1 s).
    loads = {
        "Hebbian": [0.05, 0.1, 0.14, 0.175, 0.2, 0.3],
        "Storkey": [0.15, 0.3, 0.45, 0.6],
        "pseudo-inverse": [0.3, 0.6, 0.9],
        "correlated": [0.01, 0.05, 0.2],
    }
    if config.smoke:
        loads = {"Hebbian": [0.05, 0.2], "Storkey": [0.3], "pseudo-inverse": [0.6]}
        loads["correlated"] = [0.05]
    curves = capacity_study(n, trials, key, noise=0.05, loads=loads)
    distances = np.arange(0, n // 2 + 1, n // 20)
    basins = basin_study(n, trials, key, distances)
    fig = plot_capacity(
        curves, basins, distances, config.out / "hopfield_capacity.png", n
    )
    hebb = curves["Hebbian"]
    at = int(np.argmin(np.abs(hebb.alpha - 0.2)))
    lines = [
        f"{name}: m = {np.round(c.mean_overlap, 2).tolist()} at alpha = "
        f"{np.round(c.alpha, 3).tolist()}"
        for name, c in curves.items()
    ]
    return DemoResult(
        "random ±1 patterns",
        f"Hebbian overlap at alpha = {hebb.alpha[at]:.3f}",
        float(hebb.mean_overlap[at]),
        (fig,),
        "\n".join(lines),
    )
