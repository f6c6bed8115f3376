"""Demos of problem -> energy -> weights (D5) for ``jnn run``: ``adc`` and ``max-cut``.

``adc``: the Tank & Hopfield (1986) 4-bit A/D converter, started from rest
(``u = 0``) for inputs on a fine grid of [0, 15]: the staircase it draws and
the fraction of inputs that reach a nearest code, vs the amplifier gain.
``max-cut``: a CHNN per graph (Petersen, random G(16, 1/2), Zachary's karate
club), vmapped restarts, compared with the brute-force optimum (for the
34-node karate club, too big for brute force, with the best of 20 runs of
networkx's one-exchange local search); three settings: the default gain, a
near-discrete gain 100x the critical one, and the same gain reached by
annealing.
``examples/hopfield/adc.py`` runs the A/D study from the command line.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

from jnn import plotting
from jnn.demos import DemoConfig, DemoResult, register
from jnn.hopfield.continuous.chnn import output
from jnn.hopfield.continuous.simulation import final_state, simulate
from jnn.hopfield.problems.qubo import (
    brute_force_qubo,
    critical_gain,
    gain_schedule,
    solve_qubo,
)
from jnn.hopfield.problems.qubo_problems import (
    adc,
    adc_decode,
    adc_target,
    cut_value,
    max_cut,
    max_cut_qubo,
)


def adc_codes(grid, gains, n_bits: int = 4, t1: float = 100.0) -> np.ndarray:
    """Codes read from the converter started at rest, (len(gains), len(grid)) int.

    One compiled call: vmapped over the gains and the analogue inputs.
    """

    def convert(x, gain):
        net = adc(x, n_bits, gain=gain)
        sol = simulate(net, jnp.zeros(n_bits), t1=t1)
        return adc_decode(output(net, final_state(sol)))

    batched = jax.jit(jax.vmap(jax.vmap(convert, (0, None)), (None, 0)))
    return np.asarray(batched(jnp.asarray(grid), jnp.asarray(gains, jnp.float32)))


def nearest_code(grid, codes, n_bits: int = 4) -> np.ndarray:
    """True where a code is a nearest one (either side of a tie counts)."""
    grid = np.asarray(grid)
    best = np.abs(grid - np.asarray(adc_target(grid, n_bits)))
    return np.abs(grid - codes) <= best + 1e-5


def adc_study(points: int, gains, n_bits: int = 4) -> dict:
    """The grid, codes and fraction of nearest codes per gain."""
    top = 2**n_bits - 1
    grid = np.linspace(0.0, top, points, dtype=np.float32)
    codes = adc_codes(grid, gains, n_bits)
    correct = nearest_code(grid, codes, n_bits)
    return {
        "grid": grid,
        "gains": np.asarray(gains),
        "codes": codes,
        "fraction": correct.mean(axis=1),
        "wrong": [grid[~c] for c in correct],
    }


def plot_adc(study: dict, index: int, path, n_bits: int = 4):
    """Staircase at ``gains[index]`` (left) and fraction correct vs gain (right)."""
    grid, gains = study["grid"], study["gains"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.step(grid, np.asarray(adc_target(grid, n_bits)), where="mid", label="ideal")
    left.plot(grid, study["codes"][index], ".", ms=3, label="network from u = 0")
    left.set(
        xlabel="analogue input x",
        ylabel="code",
        title=f"Tank-Hopfield {n_bits}-bit A/D, gain {gains[index]:g}",
    )
    left.legend()
    right.plot(gains, study["fraction"], "o-")
    right.set(
        xscale="log",
        xlabel="amplifier gain",
        ylabel="fraction reaching a nearest code",
        title=f"{len(grid)} inputs on [0, {2**n_bits - 1}]",
    )
    return plotting.save(fig, path)


def intervals(values: np.ndarray, step: float) -> str:
    """Compress sorted grid values into ``a-b`` runs (for the summary)."""
    if len(values) == 0:
        return "none"
    runs, start = [], values[0]
    for prev, cur in zip(values[:-1], values[1:], strict=True):
        if cur - prev > 1.5 * step:
            runs.append((start, prev))
            start = cur
    runs.append((start, values[-1]))
    return ", ".join(f"{a:.2f}" if a == b else f"{a:.2f}-{b:.2f}" for a, b in runs)


@register("adc", "D5", "Tank-Hopfield 4-bit A/D converter vs the nearest code")
def adc_demo(config: DemoConfig) -> DemoResult:
    """Fraction of a fine input grid converted to a nearest code, per gain."""
    gains = [10.0] if config.smoke else [0.5, 1.0, 2.0, 3.0, 10.0, 100.0]
    study = adc_study(61 if config.smoke else 601, gains)
    index = gains.index(10.0)
    path = plot_adc(study, index, config.out / "adc_staircase.png")
    step = float(study["grid"][1] - study["grid"][0])
    table = ", ".join(
        f"{g:g}: {f:.3f}" for g, f in zip(gains, study["fraction"], strict=True)
    )
    return DemoResult(
        f"{len(study['grid'])} inputs on [0, 15], u0 = 0",
        "fraction reaching a nearest code (gain 10)",
        float(study["fraction"][index]),
        (path,),
        f"fraction by gain {{{table}}}; wrong at gain 10 (spurious minima): "
        f"{intervals(study['wrong'][index], step)}",
    )


def demo_graphs(smoke: bool) -> dict[str, nx.Graph]:
    """Petersen, random G(n, 1/2) and (full size) Zachary's karate club."""
    graphs = {"Petersen": nx.petersen_graph()}
    n, count = (10, 1) if smoke else (16, 3)
    for seed in range(count):
        graphs[f"G({n}, 0.5) #{seed}"] = nx.gnp_random_graph(n, 0.5, seed=seed)
    if not smoke:
        graphs["karate club"] = nx.karate_club_graph()
    return graphs


def max_cut_study(graph: nx.Graph, key, restarts: int) -> dict:
    """Cuts of every restart in three settings, plus the reference cut."""
    a = nx.to_numpy_array(graph, weight=None, dtype=np.float32)
    net = max_cut(a)
    sharp = max_cut(a, gain=100.0 * critical_gain(net))
    runs = {
        "gain 10 g_c": solve_qubo(net, key, restarts=restarts),
        "gain 100 g_c": solve_qubo(sharp, key, restarts=restarts),
        "annealed to 100 g_c": solve_qubo(
            sharp, key, restarts=restarts, anneal=gain_schedule(sharp, 8)
        ),
    }
    cuts = {name: np.asarray(cut_value(a, r.states)) for name, r in runs.items()}
    exact = len(a) <= 20
    if exact:
        reference = -float(brute_force_qubo(*max_cut_qubo(a))[1])
    else:  # a peer heuristic: best of 20 seeded one-exchange local searches
        unweighted = nx.from_numpy_array(a)
        reference = max(
            nx.approximation.one_exchange(unweighted, seed=s)[0] for s in range(20)
        )
    return {"cuts": cuts, "reference": reference, "exact": exact}


@register("max-cut", "D5", "max-cut by CHNN restarts vs brute force")
def max_cut_demo(config: DemoConfig) -> DemoResult:
    """Share of restarts reaching the optimum (or reference) per graph, setting."""
    restarts = 16 if config.smoke else 64
    key = jax.random.key(config.seed)
    graphs = demo_graphs(config.smoke)
    studies = {name: max_cut_study(g, key, restarts) for name, g in graphs.items()}
    fig, ax = plt.subplots(figsize=(9, 4))
    settings = list(next(iter(studies.values()))["cuts"])
    width = 0.8 / len(settings)
    for k, setting in enumerate(settings):
        shares = [
            np.mean(s["cuts"][setting] >= s["reference"]) for s in studies.values()
        ]
        ax.bar(np.arange(len(studies)) + k * width, shares, width, label=setting)
    ax.set_xticks(np.arange(len(studies)) + 0.4 - width / 2, list(studies), fontsize=8)
    ax.set(
        ylabel="share of restarts reaching the reference",
        ylim=(0.0, 1.05),
        title=f"Max-cut with the CHNN, {restarts} restarts",
    )
    ax.legend(fontsize=8, loc="lower left")
    path = plotting.save(fig, config.out / "max_cut.png")
    lines, gaps = [], []
    for name, s in studies.items():
        best = s["cuts"][settings[0]].max()
        label = "optimum" if s["exact"] else "local-search best"
        hit = {k: float(np.mean(v >= s["reference"])) for k, v in s["cuts"].items()}
        lines.append(
            f"{name}: best {best:g} vs {label} {s['reference']:.4g}, "
            + "share of restarts reaching it "
            + "/".join(f"{v:.2f}" for v in hit.values())
        )
        if s["exact"]:
            gaps.append(1.0 - best / s["reference"])
    return DemoResult(
        f"{len(graphs)} graphs (brute force for N <= 20)",
        "mean gap of the best restart to the optimum (gain 10 g_c)",
        float(np.mean(gaps)),
        (path,),
        "; ".join(lines) + f" (settings: {', '.join(settings)})",
    )
