"""Demo of curriculum G1: how node2vec's p and q shape a walk and its embedding.

``node2vec-walks``: 20 walks of 40 nodes from every member of Zachary's
karate club (34 nodes, 78 friendships), for ``(p, q) = (1, 1)`` (DeepWalk's
uniform walk), ``(0.25, 4)`` (returns often, stays near its start:
breadth-first-like) and ``(4, 0.25)`` (rarely returns, moves outward:
depth-first-like), drawn by :func:`jnn.graph.embeddings.node2vec_walks` (one
compilation for the three). For each setting: the share of steps
``t -> v -> x`` that return (``x = t``), stay near (``x`` a neighbour of
``t``) or move outward, the distinct nodes per walk and the mean shortest-path
distance from the start after each step; then 16-dimensional skip-gram
embeddings of those walks (window 5, 5 negatives, 3 epochs; one learner and
one compilation for the three, with the noise distribution degree^(3/4), a
uniform walk's unigram^(3/4)), drawn by their first two principal components
and coloured by faction, with the faction accuracy of a logistic regression on
the two leaders (nodes 0 and 33) for the 32 other members. Headline: the
return rate of the breadth-first setting over that of the depth-first one
(11.2 at seed 0; about 11 s on one CPU core, 3.5 s of it imports).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from scipy.sparse.csgraph import shortest_path
from sklearn.linear_model import LogisticRegression

from jnn import plotting
from jnn.data import load_karate_club
from jnn.demos import DemoConfig, DemoResult, register
from jnn.graph.adjacency import adjacency_lists
from jnn.graph.embeddings import SkipGram, node2vec_walks, skipgram_loss, walk_starts
from jnn.train import fit, gradient_learner

SETTINGS = {
    "p=1, q=1 (DeepWalk)": (1.0, 1.0),
    "p=0.25, q=4 (BFS-like)": (0.25, 4.0),
    "p=4, q=0.25 (DFS-like)": (4.0, 0.25),
}
COLOURS = ("tab:gray", "tab:blue", "tab:red")


def walk_statistics(walks: np.ndarray, a: np.ndarray, distance: np.ndarray) -> dict:
    """Step types (return / common neighbour / outward), reach, distinct nodes."""
    t, x = walks[:, :-2], walks[:, 2:]
    returned = x == t
    common = (a[t, x] > 0) & ~returned
    return {
        "return_rate": float(returned.mean()),
        "common_rate": float(common.mean()),
        "outward_rate": float((~returned & ~common).mean()),
        "distinct": float(np.mean([len(set(w)) for w in walks])),
        "distance": distance[walks[:, :1], walks].mean(axis=0),
    }


def leader_accuracy(z: np.ndarray, labels: np.ndarray) -> float:
    """Faction accuracy of the 32 members from a classifier on nodes 0 and 33."""
    leaders = np.array([0, len(labels) - 1])
    others = np.setdiff1d(np.arange(len(labels)), leaders)
    clf = LogisticRegression().fit(z[leaders], labels[leaders])
    return float(clf.score(z[others], labels[others]))


def principal_components(z: np.ndarray) -> np.ndarray:
    """``(N, 2)`` projection of ``z`` on its first two principal components."""
    centred = z - z.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


@register("node2vec-walks", "G1", "node2vec's p, q: return rate, reach, embeddings")
def node2vec_walks_demo(config: DemoConfig) -> DemoResult:
    """Walk statistics and faction-coloured embeddings for three (p, q)."""
    data = load_karate_club()
    labels = np.asarray(data.labels)
    adjacency = adjacency_lists(data.graph)
    n = adjacency.n_nodes
    a = np.zeros((n, n))
    a[np.asarray(data.graph.senders), np.asarray(data.graph.receivers)] = 1
    distance = shortest_path(a, unweighted=True)
    walks_per_node, length = (4, 12) if config.smoke else (20, 40)
    epochs = config.epochs_or(3, smoke=1)
    starts = jnp.asarray(walk_starts(n, walks_per_node))
    # One learner (one compilation) for the three settings: the noise of
    # negative sampling is degree^(3/4), the unigram^(3/4) of a uniform walk.
    degree = a.sum(1)
    model = SkipGram(n, 16)
    noise = (degree**0.75 / (degree**0.75).sum()).astype(np.float32)
    learner = gradient_learner(
        model,
        skipgram_loss(model, noise, window=5),
        optax.adam(0.01),
        input_key="walks",
    )
    key = jax.random.key(config.seed)
    stats, embeddings, accuracy = {}, {}, {}
    for name, (p, q) in SETTINGS.items():
        k_walk, k_embed = jax.random.split(jax.random.fold_in(key, len(stats)))
        walks = node2vec_walks(k_walk, adjacency, starts, length, p, q)
        stats[name] = walk_statistics(np.asarray(walks), a, distance)
        result = fit(
            learner,
            {"walks": walks},
            key=k_embed,
            epochs=epochs,
            batch_size=16,
            progress=False,
        )
        embeddings[name] = np.asarray(result.state.params["node"]["embedding"])
        accuracy[name] = leader_accuracy(embeddings[name], labels)

    fig = plt.figure(figsize=(15, 9))
    names = list(SETTINGS)
    ax = fig.add_subplot(2, 3, 1)
    x = np.arange(len(names))
    ax.bar(x - 0.2, [stats[s]["return_rate"] for s in names], 0.4, label="return rate")
    ax.bar(
        x + 0.2,
        [stats[s]["distinct"] / length for s in names],
        0.4,
        label="distinct nodes / walk length",
    )
    ax.set_xticks(x, [s.split(" (")[0] for s in names])
    ax.set(title="(a) returning vs exploring", ylim=(0, 1))
    ax.legend(fontsize=8)
    ax = fig.add_subplot(2, 3, 2)
    for name, colour in zip(names, COLOURS, strict=True):
        ax.plot(stats[name]["distance"], color=colour, label=name)
    ax.set(
        title="(b) mean hops from the start node",
        xlabel="step",
        ylabel="shortest-path distance",
    )
    ax.legend(fontsize=8)
    ax = fig.add_subplot(2, 3, 3)
    bottom = np.zeros(len(names))
    for kind, colour in (
        ("return", "tab:blue"),
        ("common", "tab:olive"),
        ("outward", "tab:red"),
    ):
        share = np.array([stats[s][f"{kind}_rate"] for s in names])
        ax.bar(x, share, 0.6, bottom=bottom, color=colour, label=kind)
        bottom += share
    ax.set_xticks(x, [s.split(" (")[0] for s in names])
    ax.set(
        title="(c) steps t -> v -> x: x = t, x in N(t), or farther",
        ylabel="share of steps",
    )
    ax.legend(fontsize=8)
    for i, (name, colour) in enumerate(zip(names, COLOURS, strict=True)):
        ax = fig.add_subplot(2, 3, 4 + i)
        xy = principal_components(embeddings[name])
        for faction, marker in ((0, "o"), (1, "s")):
            at = labels == faction
            ax.scatter(
                xy[at, 0],
                xy[at, 1],
                marker=marker,
                s=30,
                c="tab:orange" if faction else "tab:purple",
                label="Mr. Hi" if faction == 0 else "Officer",
            )
        ax.scatter(
            xy[[0, n - 1], 0],
            xy[[0, n - 1], 1],
            s=160,
            facecolors="none",
            edgecolors="k",
            label="leaders (labelled)",
        )
        ax.set(
            title=f"({'def'[i]}) {name}: leaders' classifier {accuracy[name]:.0%}",
            xlabel="PC 1",
            ylabel="PC 2",
        )
        ax.title.set_color(colour)
        ax.legend(fontsize=7)
    path = plotting.save(fig, config.out / "node2vec_walks.png")

    bfs, dfs = stats[names[1]]["return_rate"], stats[names[2]]["return_rate"]
    ratio = bfs / max(dfs, 1e-12)
    hop = min(5, length - 1)

    def listed(entry, fmt):
        return ", ".join(format(stats[s][entry], fmt) for s in names)

    at_hop = ", ".join(f"{stats[s]['distance'][hop]:.2f}" for s in names)
    faction = ", ".join(f"{accuracy[s]:.0%}" for s in names)
    return DemoResult(
        f"Zachary's karate club, {n * walks_per_node} walks of {length} nodes "
        "per setting",
        "return rate, p=0.25/q=4 over p=4/q=0.25",
        float(ratio),
        (path,),
        f"For (p, q) = (1, 1), (0.25, 4), (4, 0.25): return rate "
        f"{listed('return_rate', '.2f')}; outward steps "
        f"{listed('outward_rate', '.2f')}; distinct nodes per walk "
        f"{listed('distinct', '.1f')}; hops from the start after {hop} steps "
        f"{at_hop}. Faction accuracy of the 32 members from the two leaders: "
        f"{faction}.",
    )
