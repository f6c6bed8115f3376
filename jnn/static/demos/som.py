"""Demo of the self-organising map (S1), registered for ``jnn run`` and ``jnn tour``."""

from __future__ import annotations

import jax
import numpy as np

from jnn import data as jdata
from jnn import plotting
from jnn.demos import DemoConfig, DemoResult, register
from jnn.static.maps.som_fit import som_fit, som_fit_seeds
from jnn.static.maps.som_metrics import (
    best_matching_unit,
    hit_map,
    quantization_error,
    topographic_error,
    u_matrix,
)

GRID = (10, 10)


def _plot(umatrix, hits, labels, path, title):
    """U-matrix with each unit's majority digit, sized by its hits."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    image = ax.imshow(umatrix.T, origin="lower", cmap="bone_r")
    fig.colorbar(image, ax=ax, label="U-matrix (distance to neighbours)")
    colors = plt.cm.tab10(np.arange(10))
    for (i, j), count in np.ndenumerate(hits):
        if count > 0:
            ax.text(
                i,
                j,
                str(labels[i, j]),
                ha="center",
                va="center",
                color=colors[labels[i, j]],
                fontsize=7 + 7 * count / hits.max(),
                fontweight="bold",
            )
    ax.set(title=title, xlabel="map row i", ylabel="map column j")
    return plotting.save(fig, path)


@register("som-digits", "S1", "10x10 Kohonen map of digits: U-matrix, labels, seeds")
def som_digits(config: DemoConfig) -> DemoResult:
    """A 10x10 online SOM on the standardised digits (MiniSom's schedules).

    The U-matrix shows cluster borders as bright ridges; each unit is labelled
    with the majority digit of the training samples it wins, drawn larger the
    more samples it wins. Then 64 seeds are trained in one vmapped call and
    the spread of their quantization errors is reported.
    """
    ds = jdata.load("digits", seed=config.seed)
    x, y = ds.train["x"], ds.train["y"]
    n_iterations = 500 if config.smoke else 10_000
    settings = dict(sigma=1.5, learning_rate=0.5)
    key = jax.random.key(config.seed)
    result = som_fit(x, GRID, key=key, n_iterations=n_iterations, **settings)
    w = result.state.weights
    bmu = np.asarray(best_matching_unit(w, x))
    votes = np.zeros((GRID[0] * GRID[1], 10), int)
    np.add.at(votes, (bmu, y), 1)
    labels = votes.argmax(axis=1).reshape(GRID)
    purity = votes.max(axis=1).sum() / len(y)
    hits = np.asarray(hit_map(w, x, GRID))
    qe = float(quantization_error(w, ds.test["x"]))
    te = float(topographic_error(w, ds.test["x"], GRID))
    fig = _plot(
        np.asarray(u_matrix(w, GRID)),
        hits,
        labels,
        config.out / "som_digits_umatrix.png",
        f"SOM {GRID[0]}x{GRID[1]} on digits, {n_iterations} steps",
    )
    n_seeds = 4 if config.smoke else 64
    seeds = som_fit_seeds(
        x, GRID, key=key, n_seeds=n_seeds, n_iterations=n_iterations, **settings
    )
    spread = np.asarray(
        jax.vmap(lambda w: quantization_error(w, ds.test["x"]))(seeds.state.weights)
    )
    return DemoResult(
        "digits",
        "test quantization error",
        qe,
        (fig,),
        f"topographic error {te:.3f}; unit-label purity {purity:.3f}; "
        f"{n_seeds} seeds in one vmap: QE min {spread.min():.3f} median "
        f"{np.median(spread):.3f} max {spread.max():.3f}",
    )
