"""TSP demos (D5) and the studies the TSP examples share, for ``jnn run``.

``tsp``: mean-field annealing of the Potts network (softassign, the default of
:func:`jnn.hopfield.problems.tsp_softassign.anneal`) on berlin52, tour plot
and the soft tour length along the anneal.
``tsp-sweep``: Hopfield-Tank (1985) on random 10-city instances, the paper's
parameters against a small sweep and the Potts network (both annealers):
valid-tour rate and gap to the Held-Karp optimum.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

from jnn.data import load_tsplib
from jnn.demos import DemoConfig, DemoResult, register
from jnn.hopfield.problems.tsp import gaps, hopfield_tank, solve
from jnn.hopfield.problems.tsp_exact import held_karp, random_tsp, two_opt
from jnn.hopfield.problems.tsp_potts import potts_tsp
from jnn.hopfield.problems.tsp_softassign import anneal

# Hopfield-Tank settings: the paper's and a sweep of D and n_target.
HT_SETTINGS = {
    "paper A=B=500 C=200 D=500 n=15": {},
    "D=250": {"D": 250.0},
    "D=100": {"D": 100.0},
    "D=250 n=12": {"D": 250.0, "n_target": 12.0},
    "D=100 n=12": {"D": 100.0, "n_target": 12.0},
}
POTTS = "Potts mean-field annealing"
# Potts on 10 cities: the default annealer (softassign) with its defaults; the
# serial form of Peterson & Soderberg is the row SERIAL with slower cooling
# than its default 0.98.
POTTS_SMALL = {"network": {}, "anneal": {}}
SERIAL = "Potts serial (Peterson-Soderberg)"
SERIAL_SMALL = {"network": {}, "anneal": {"method": "serial", "cooling": 0.99}}


def ten_city_study(
    seed: int, instances: int, restarts: int, settings: dict, n: int = 10
) -> list[dict]:
    """Valid rate and gaps to Held-Karp on random ``n``-city instances.

    Args:
      seed: seed of the instances and of the restarts.
      instances: number of random instances in the unit square.
      restarts: vmapped restarts per instance and setting.
      settings: name -> keyword arguments of :func:`hopfield_tank`; the name
        :data:`POTTS` (or :data:`SERIAL`) runs :func:`anneal` on
        :func:`potts_tsp` instead, with ``{"network": kwargs, "anneal":
        kwargs}`` (e.g. :data:`POTTS_SMALL`).
      n: cities per instance.

    Returns:
      One row per setting: valid rate over all restarts, mean gap of the
      valid restarts, mean over instances of the best gap, instances with no
      valid tour, seconds per instance.
    """
    key = jax.random.key(seed)
    problems = []
    for i in range(instances):
        _, d = random_tsp(jax.random.fold_in(key, i), n)
        problems.append((np.asarray(d), held_karp(np.asarray(d))[0]))
    rows = []
    for name, kwargs in settings.items():
        valid, all_gaps, best, start = [], [], [], time.perf_counter()
        for i, (d, optimum) in enumerate(problems):
            k = jax.random.fold_in(key, 1000 + i)
            if name in (POTTS, SERIAL):
                network = potts_tsp(d, **kwargs.get("network", {}))
                result = anneal(
                    network, k, restarts=restarts, **kwargs.get("anneal", {})
                )
            else:
                result = solve(hopfield_tank(d, **kwargs), k, restarts=restarts)
            g = gaps(result.lengths, optimum)
            valid.append(float(np.mean(result.valid)))
            all_gaps.extend(g)
            best.append(g.min() if g.size else np.nan)
        rows.append(
            {
                "setting": name,
                "valid": float(np.mean(valid)),
                "mean_gap": float(np.mean(all_gaps)) if all_gaps else float("nan"),
                "best_gap": float(np.nanmean(best)) if all_gaps else float("nan"),
                "no_valid": int(np.sum(np.isnan(best))),
                "seconds": (time.perf_counter() - start) / instances,
            }
        )
    return rows


def tsplib_study(name: str, restarts: int, seed: int = 0, **anneal_kwargs) -> dict:
    """Potts annealing on one TSPLIB instance, then the separate 2-opt polish.

    Returns:
      A row: instance, n, valid rate, best and median neural gap, the best
      gap after the separate 2-opt polish of every valid restart
      (``polished_gap``), the seconds of the neural run and of the vmapped
      polish (compile excluded: a second identical call is timed), and the
      best tours (``tour``, ``polished``, ``coordinates``).
    """
    instance = load_tsplib(name)
    network = potts_tsp(instance.distances)
    key = jax.random.key(seed)
    jax.block_until_ready(anneal(network, key, restarts=restarts, **anneal_kwargs))
    start = time.perf_counter()
    result = jax.block_until_ready(
        anneal(network, key, restarts=restarts, **anneal_kwargs)
    )
    neural_s = time.perf_counter() - start
    tour, length = result.best
    d, optimum = instance.distances, instance.optimum
    polish = jax.jit(jax.vmap(lambda t: two_opt(d, t)))
    jax.block_until_ready(polish(result.tours))
    start = time.perf_counter()
    polished_all = np.asarray(jax.block_until_ready(polish(result.tours)))
    polish_s = time.perf_counter() - start
    polished_lengths = np.where(
        np.asarray(result.valid),
        d[polished_all, np.roll(polished_all, -1, axis=1)].sum(axis=1),
        np.inf,
    )
    polished = polished_all[int(np.argmin(polished_lengths))]
    polished_length = polished_lengths.min()
    return {
        "instance": name,
        "n": instance.dimension,
        "restarts": restarts,
        "valid": float(np.mean(result.valid)),
        "best_gap": float(length) / optimum - 1.0,
        "median_gap": float(np.median(result.lengths)) / optimum - 1.0,
        "polished_gap": float(polished_length) / optimum - 1.0,
        "neural_s": neural_s,
        "polish_s": polish_s,
        "tour": np.asarray(tour),
        "polished": polished,
        "coordinates": instance.coordinates,
        "trace": np.asarray(result.trace[int(np.argmin(result.lengths))]),
    }


def format_rows(rows: list[dict], columns: list[str]) -> str:
    """A plain-text table of ``rows`` (floats as %.3g, gaps in percent)."""

    def cell(key, value):
        if "gap" in key:
            return f"{100 * value:.1f}%"
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    table = [columns] + [[cell(c, r[c]) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in table
    )


def plot_tsplib(row: dict, path: Path) -> Path:
    """Best neural tour (and its 2-opt polish) and the anneal's soft length."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    xy = row["coordinates"]
    for tour, style, label in (
        (
            row["polished"],
            ":",
            f"best after 2-opt of all restarts ({100 * row['polished_gap']:.1f}%)",
        ),
        (row["tour"], "-", f"neural, softassign ({100 * row['best_gap']:.1f}%)"),
    ):
        closed = np.append(tour, tour[0])
        left.plot(xy[closed, 0], xy[closed, 1], style, marker="o", ms=3, label=label)
    left.set(title=f"{row['instance']}: best of {row['restarts']} restarts")
    left.legend(fontsize=8)
    right.plot(row["trace"])
    right.set(
        xlabel="annealing step (geometric cooling)",
        ylabel="soft tour length sum d V V",
        title="Mean-field annealing",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@register("tsp", "D5", "Potts mean-field TSP on berlin52: tour plot, annealing curve")
def tsp_demo(config: DemoConfig) -> DemoResult:
    """Best-of-R softassign annealing on berlin52 (R = 256; 16 in smoke mode)."""
    restarts = 16 if config.smoke else 256
    row = tsplib_study("berlin52", restarts, config.seed)
    config.out.mkdir(parents=True, exist_ok=True)
    figure = plot_tsplib(row, Path(config.out) / "tsp_berlin52.png")
    summary = (
        f"berlin52, {restarts} restarts: {100 * row['valid']:.0f}% valid, best gap "
        f"{100 * row['best_gap']:.1f}% (neural alone), {100 * row['polished_gap']:.1f}%"
        f" after 2-opt; {row['neural_s']:.1f} s"
    )
    return DemoResult(
        "berlin52", "best gap (neural)", row["best_gap"], (figure,), summary
    )


@register("tsp-sweep", "D5", "Hopfield-Tank 10-city sweep vs Potts: valid rate, gap")
def tsp_sweep_demo(config: DemoConfig) -> DemoResult:
    """The paper's parameters, a D / n_target sweep and Potts on 10 cities."""
    instances, restarts = (2, 8) if config.smoke else (4, 32)
    settings = dict(list(HT_SETTINGS.items())[: 2 if config.smoke else None])
    settings[SERIAL] = SERIAL_SMALL
    settings[POTTS] = POTTS_SMALL
    rows = ten_city_study(config.seed, instances, restarts, settings)
    table = format_rows(rows, ["setting", "valid", "mean_gap", "best_gap", "seconds"])
    config.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4))
    names = [r["setting"] for r in rows]
    ax.barh(names, [r["valid"] for r in rows], label="valid-tour rate")
    ax.barh(names, [r["mean_gap"] for r in rows], height=0.3, label="mean gap")
    ax.set(xlabel="fraction", title=f"10 cities, {instances} instances x {restarts}")
    ax.legend()
    fig.tight_layout()
    path = Path(config.out) / "tsp_sweep.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    (Path(config.out) / "tsp_sweep.txt").write_text(table + "\n")
    potts = rows[-1]
    return DemoResult(
        "random 10-city", "Potts valid rate", potts["valid"], (path,), table
    )
