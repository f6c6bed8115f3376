"""Demo of curriculum G3: over-smoothing of deep GCNs and two remedies.

``oversmoothing``: GCNs of depth L = 2, 8 and 32 (:class:`jnn.graph.smoothing.
DeepGCN`, 16 hidden units) learn the factions of Zachary's karate club from
the two leaders' labels (nodes 0 and 33; one-hot node identities as features;
Adam 0.01, L2 5e-4, 100 full-batch epochs, no dropout), plainly, with
residual connections ``h_k = relu(P h_{k-1} W_k + b_k) + h_{k-1}`` and with
GCNII's initial residual and identity mapping (Chen et al. 2020, alpha = 0.1,
lambda = 0.5). The three depths of a variant share one compiled program
(``active_depth`` is an argument: layers past it pass their input on). For
each run: the faction accuracy of the 32 other members and the smoothness of
the last hidden layer at initialisation and after training (degree-normalised
Dirichlet energy, mean pairwise cosine). Headline: GCNII's accuracy at depth
32 minus the plain GCN's, mean of 2 seeds (0.47 at seed 0: plain 0.50, one
faction for everybody; residual 0.94; GCNII 0.97). About 17 s of CPU time on
one core, 3 compilations being most of it. ``examples/graph/oversmoothing.py``
runs the full sweep on Cora, where the residual sum fails beyond 8 layers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from jnn import plotting
from jnn.data import load_karate_club
from jnn.demos import DemoConfig, DemoResult, register
from jnn.graph.node_classification import (
    Settings,
    node_classification_data,
    node_learner,
)
from jnn.graph.smoothing import DeepGCN, hidden_representations, smoothness
from jnn.train import run

#: Backend optimisation level 1 instead of 2: about 25 % less compile time.
COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}
VARIANTS = {
    "plain": {},
    "residual": {"residual": "outside"},
    "GCNII": {"initial_residual": 0.1, "identity_lambda": 0.5},
}


def _trainer(graph, max_depth: int, variant: dict, epochs: int):
    """One compiled ``f(key, depth, train, test) -> dict`` for every depth."""

    def train_one(key, depth, train, test):
        model = DeepGCN(
            graph, 2, max_depth, dropout_rate=0.0, active_depth=depth, **variant
        )
        learner = node_learner(model, Settings(0.01, 5e-4, None, epochs, None))
        result = run(learner, train, key=key, epochs=epochs)
        init = learner.init(jax.random.split(key)[0], train)  # run's initial state
        # at initialisation and trained: one vmapped forward, one compilation
        both = jax.tree.map(
            lambda a, b: jnp.stack([a, b]), init.params, result.state.params
        )

        def measures(params):
            hidden = hidden_representations(model, params, test["x"])
            return smoothness(hidden[-1], graph)

        return {
            "accuracy": learner.evaluate(result.state, test)["accuracy"],
            **jax.vmap(measures)(both),
        }

    # Compile time is the demo's cost (the runs take milliseconds): LLVM's
    # most expensive passes buy nothing here.
    return jax.jit(train_one, compiler_options=COMPILER_OPTIONS)


@register("oversmoothing", "G3", "deep GCNs over-smooth; residual and GCNII remedies")
def oversmoothing_demo(config: DemoConfig) -> DemoResult:
    """Accuracy and smoothness vs depth, plain / residual / GCNII, karate club."""
    data = load_karate_club()
    graph = data.graph
    splits = node_classification_data(
        graph.nodes,
        data.labels,
        {"train": data.train_mask, "test": data.test_mask},
        sparse=False,
    )
    train, test = ({k: jnp.asarray(v) for k, v in splits[s].items()} for s in splits)
    depths = (2, 3) if config.smoke else (2, 8, 32)
    seeds = 1 if config.smoke else 2
    epochs = config.epochs_or(100, smoke=3)
    names = ("plain", "GCNII") if config.smoke else tuple(VARIANTS)
    results = {}
    for name in names:
        variant = VARIANTS[name]
        train_one = _trainer(graph, max(depths), variant, epochs)
        results[name] = {
            depth: [
                jax.device_get(
                    train_one(
                        jax.random.key(config.seed + seed),
                        jnp.int32(depth),
                        train,
                        test,
                    )
                )
                for seed in range(seeds)
            ]
            for depth in depths
        }

    def mean(name, depth, pick):
        return float(np.mean([pick(r) for r in results[name][depth]]))

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for name in names:
        accuracy = [mean(name, d, lambda r: r["accuracy"]) for d in depths]
        colour = axes[0].plot(depths, accuracy, "o-", label=name)[0].get_color()
        for ax, measure in zip(
            axes[1:], ("dirichlet_energy", "mean_cosine"), strict=True
        ):
            for i, (when, style) in enumerate((("init", "x--"), ("trained", "o-"))):
                values = [
                    mean(name, d, lambda r, m=measure, i=i: r[m][i]) for d in depths
                ]
                ax.plot(depths, values, style, color=colour, label=f"{name}, {when}")
    titles = (
        "faction accuracy (32 members)",
        "Dirichlet energy of the last hidden layer",
        "mean pairwise cosine of the last hidden layer",
    )
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.set(xlabel="depth L", title=title)
        ax.legend(fontsize=7)
    axes[1].set_yscale("log")
    fig.suptitle("Over-smoothing on the karate club (2 labelled nodes)")
    figure = plotting.save(fig, config.out / "oversmoothing.png")

    deepest = max(depths)
    gain = mean("GCNII", deepest, lambda r: r["accuracy"]) - mean(
        "plain", deepest, lambda r: r["accuracy"]
    )
    summary = "; ".join(
        f"{name} L={d}: acc {mean(name, d, lambda r: r['accuracy']):.2f}, cos "
        f"{mean(name, d, lambda r: r['mean_cosine'][1]):.3f}"
        for name in names
        for d in depths
    )
    return DemoResult(
        "karate club",
        f"accuracy gain of GCNII over plain at depth {deepest}",
        gain,
        (figure,),
        summary,
    )
