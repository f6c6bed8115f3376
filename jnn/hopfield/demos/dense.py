"""Demo of the dense associative memory (D11 and beyond), for ``jnn run``.

``hopfield-dense``: at N = 100 neurons, the classical Hebbian network forgets
everything beyond about 0.14 N patterns, while the dense memory of Krotov &
Hopfield (2016) with F(x) = x^3 or x^4 still recalls M = 2 N patterns.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt

from jnn import plotting
from jnn.demos import DemoConfig, DemoResult, register
from jnn.hopfield.discrete.dense import dense_recall
from jnn.hopfield.discrete.dhnn import recall
from jnn.hopfield.discrete.rules import hebbian

UNITS, FLIPS = 100, 10


def _trial_data(key, m: int, trials: int):
    """Random patterns (m, N), probes with FLIPS flipped bits, and their targets."""
    k_patterns, k_flips = jax.random.split(key)
    patterns = jnp.where(jax.random.bernoulli(k_patterns, 0.5, (m, UNITS)), 1.0, -1.0)
    targets = patterns[jnp.arange(trials) % m]
    ranks = jax.vmap(lambda k: jax.random.permutation(k, UNITS))(
        jax.random.split(k_flips, trials)
    )
    return patterns, jnp.where(ranks < FLIPS, -targets, targets), targets


@functools.partial(jax.jit, static_argnames="n")
def _batch_recall(memory, probes, keys, n: int):
    """Recall all probes in one call: Hebbian W (N, N) for n = 2, else patterns."""
    if n == 2:
        return jax.vmap(lambda s, k: recall(memory, s, order="random", key=k))(
            probes, keys
        )
    return jax.vmap(lambda s, k: dense_recall(memory, s, n=n, order="random", key=k))(
        probes, keys
    )


def _final_overlap(key, m: int, trials: int, n: int) -> float:
    """Mean final overlap with the stored pattern; n = 2 is the Hebbian network."""
    patterns, probes, targets = _trial_data(key, m, trials)
    keys = jax.random.split(jax.random.fold_in(key, 1), trials)
    memory = hebbian(patterns) if n == 2 else patterns
    out = _batch_recall(memory, probes, keys, n)
    return float(jnp.mean(jnp.sum(out.state * targets, axis=1)) / UNITS)


@register("hopfield-dense", "D11", "dense memory x^3, x^4 stores M >> 0.14 N")
def hopfield_dense(config: DemoConfig) -> DemoResult:
    """Final overlap vs number of patterns: Hebbian vs dense n = 3, 4 at N = 100.

    Each point: ``trials`` probes at Hamming distance 10 from a stored pattern,
    asynchronous recall in random order until a sweep changes nothing.
    """
    loads = [5, 20, 60] if config.smoke else [5, 10, 14, 20, 40, 100, 200]
    trials = 4 if config.smoke else 20
    key = jax.random.key(config.seed)
    curves = {
        n: [_final_overlap(jax.random.fold_in(key, m), m, trials, n) for m in loads]
        for n in (2, 3, 4)
    }
    fig, ax = plt.subplots(figsize=(6, 4))
    styles = {2: ("o", "-"), 3: ("s", "-"), 4: ("^", "--")}
    names = {2: "classical Hebbian (n = 2)", 3: "dense x^3", 4: "dense x^4"}
    for n, (marker, line) in styles.items():
        ax.plot(loads, curves[n], marker=marker, linestyle=line, label=names[n])
    ax.axvline(0.138 * UNITS, linestyle="--", color="gray", label="0.138 N")
    ax.set(
        xlabel="stored patterns M (N = 100)",
        ylabel="final overlap",
        title="Dense associative memory (Krotov & Hopfield 2016)",
        xscale="log",
    )
    ax.legend()
    path = plotting.save(fig, config.out / "hopfield_dense_capacity.png")
    stored = [m for m, o in zip(loads, curves[3], strict=True) if o >= 0.99]
    largest = max(stored, default=0)
    hebb = [m for m, o in zip(loads, curves[2], strict=True) if o >= 0.99]
    return DemoResult(
        "random patterns, N = 100",
        "largest M/N recalled with overlap >= 0.99 (dense x^3)",
        largest / UNITS,
        (path,),
        f"Hebbian holds overlap >= 0.99 up to M = {max(hebb, default=0)}; "
        f"x^3 up to M = {largest}; x^4 overlap at M = {loads[-1]}: "
        f"{curves[4][-1]:.3f}",
    )
