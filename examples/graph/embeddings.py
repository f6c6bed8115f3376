"""Node embeddings without node features: DeepWalk, node2vec, Laplacian eigenmap.

Curriculum G1. Every method sees only the graph; the labels are used only by
the classifier read on top of the frozen embeddings.

1. **Cora** (Planetoid public split, ``jnn.data.load_planetoid("cora")``):
   128-dimensional embeddings from DeepWalk (uniform walks + skip-gram with
   negative sampling), node2vec (``--p``, ``--q`` biased walks, the same
   skip-gram) and the Laplacian eigenmap; a logistic regression
   (scikit-learn) trained on the 140 labelled nodes and scored on the 1,000
   test nodes, for every seed of ``--seeds`` (the eigenmap is deterministic:
   one run). Skip-gram vectors are read as they are (as PyTorch Geometric's
   ``Node2Vec`` example does); the eigenmap's columns are standardised (their
   scale, unit ``D``-norm, is arbitrary: raw, the classifier reaches 0.515).
   Cora has 78 connected components, so the eigenmap's first 77 columns are
   indicators of small components: 32 dimensions (the smoke run) hold little
   else. Kipf & Welling (2017, Table 2) report DeepWalk at 67.2 % on this
   split (and GCN, which also reads the node features, at 81.5 %).
2. **Karate club**: 16-dimensional DeepWalk and node2vec embeddings (20 walks
   of 20 nodes per member, window 5, 3 epochs) and the 2-dimensional
   eigenmap; faction accuracy of the 32 other members from a logistic
   regression on the two leaders (nodes 0 and 33), and the agreement of
   2-means clusters with the factions.

Skip-gram settings on Cora are node2vec's (Grover & Leskovec 2016): 10 walks
of 80 nodes per node, window 10, 5 negatives, one epoch (Adam, 0.01, 16 walks
per step). The default ``p = 4, q = 0.25`` was picked on the *validation* nodes
with seed 100 among (1, 1), (0.25, 4), (4, 0.25), (1, 0.5), (1, 2) (validation
accuracy 0.678, 0.604, 0.692, 0.660, 0.660).

Run:  python examples/graph/embeddings.py [--seeds 0 1 2] [--p 4] [--q 0.25]
      [--out DIR] [--smoke]
Expected (seeds 0, 1, 2, each run as ``--seeds S``; one core of a 2-core AMD
EPYC shared with other jobs; CPU seconds per embedding): Cora test accuracy
(mean +- population std) DeepWalk 0.690 +- 0.003 (23-27 s), node2vec (p = 4,
q = 0.25) 0.697 +- 0.002 (26 s), Laplacian eigenmap 0.687 (2 s). Karate
club, leaders' classifier / 2-means: DeepWalk 0.969 / 0.94-0.97, node2vec
(4, 0.25) 0.88-0.94 / 0.79-0.85, eigenmap (2-D) 0.969 / 0.647. Writes
embeddings.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from jnn.data import load_karate_club, load_planetoid
from jnn.graph.embeddings import deepwalk, laplacian_eigenmap, node2vec


def linear_probe(z, labels, train, test, *, standardise=False) -> float:
    """Test accuracy of a logistic regression trained on the ``train`` rows."""
    z = np.asarray(z, np.float64)
    if standardise:
        z = StandardScaler().fit_transform(z)
    clf = LogisticRegression(max_iter=3000).fit(z[train], labels[train])
    return float(clf.score(z[test], labels[test]))


def kmeans_agreement(z, labels) -> float:
    """Agreement of 2-means clusters with two factions (best of the 2 matchings)."""
    clusters = KMeans(2, n_init=10, random_state=0).fit_predict(np.asarray(z))
    return float(max(np.mean(clusters == labels), np.mean(clusters != labels)))


def timed(fn, *args):
    """``(fn(*args) as NumPy, wall seconds, CPU seconds of this process)``."""
    start, cpu = time.perf_counter(), time.process_time()
    z = np.asarray(fn(*args))
    return z, time.perf_counter() - start, time.process_time() - cpu


def methods(settings, p, q, dimensions, names):
    """``{name: embed(key, graph)}`` for the ``names`` asked for."""
    every = {
        "deepwalk": lambda key, g: deepwalk(key, g, **settings),
        "node2vec": lambda key, g: node2vec(key, g, p=p, q=q, **settings),
        "eigenmap": lambda key, g: laplacian_eigenmap(g, dimensions),
    }
    return {name: every[name] for name in names}


def cora_table(args, settings, names) -> dict:
    """Test accuracy of every method and seed on Cora's public split."""
    cora = load_planetoid("cora")
    labels = np.asarray(cora.labels)
    train, test = np.asarray(cora.train_mask), np.asarray(cora.test_mask)
    table = {}
    embeds = methods(settings, args.p, args.q, settings["features"], names)
    for name, embed in embeds.items():
        runs = []
        for seed in args.seeds[:1] if name == "eigenmap" else args.seeds:
            z, wall, cpu = timed(embed, jax.random.key(seed), cora.graph)
            accuracy = linear_probe(
                z, labels, train, test, standardise=name == "eigenmap"
            )
            runs.append({"seed": seed, "accuracy": accuracy, "wall_s": wall})
            runs[-1]["cpu_s"] = cpu
        accuracy = [r["accuracy"] for r in runs]
        table[name] = {"runs": runs, "mean": float(np.mean(accuracy))}
        table[name]["std"] = float(np.std(accuracy))
    return table


def karate_table(args, settings, names) -> dict:
    """Faction accuracy from the two leaders and 2-means agreement."""
    karate = load_karate_club()
    factions = np.asarray(karate.labels)
    leaders, others = np.asarray(karate.train_mask), np.asarray(karate.test_mask)
    table = {}
    embeds = methods(settings, args.p, args.q, 2, names)
    for name, embed in embeds.items():
        z, wall, cpu = timed(embed, jax.random.key(args.seeds[0]), karate.graph)
        table[name] = {
            "leaders": linear_probe(z, factions, leaders, others),
            "kmeans": kmeans_agreement(z, factions),
            "wall_s": wall,
            "cpu_s": cpu,
        }
    return table


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--p", type=float, default=4.0)
    parser.add_argument("--q", type=float, default=0.25)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (seconds)")
    args = parser.parse_args(argv)
    names = karate_names = ("deepwalk", "node2vec", "eigenmap")
    cora_settings = {"features": 128}
    if args.smoke:  # DeepWalk on Cora (short walks), node2vec on the karate club
        args.seeds, names = args.seeds[:1], ("deepwalk", "eigenmap")
        karate_names = ("node2vec", "eigenmap")
        cora_settings = {"walk_length": 10, "walks_per_node": 2, "window": 3}
        cora_settings["features"] = 32
    karate_settings = {"features": 16, "walk_length": 20, "walks_per_node": 20}
    karate_settings |= {"window": 5, "epochs": 3}
    results = {
        "cora": cora_table(args, cora_settings, names),
        "karate": karate_table(args, karate_settings, karate_names),
        "settings": {**vars(args), "out": str(args.out)},
    }

    print(f"Cora, public split (140 train / 1000 test), seeds {args.seeds}:")
    print("| method | test accuracy | wall s / run | cpu s / run |")
    print("|---|---|---|---|")
    for name, r in results["cora"].items():
        label = f"node2vec (p={args.p:g}, q={args.q:g})" if name == "node2vec" else name
        wall = np.mean([run["wall_s"] for run in r["runs"]])
        cpu = np.mean([run["cpu_s"] for run in r["runs"]])
        row = (
            f"| {label} | {r['mean']:.3f} +- {r['std']:.3f} | {wall:.1f} | {cpu:.1f} |"
        )
        print(row)
    print("| DeepWalk, Kipf & Welling 2017 Table 2 | 0.672 | | |")
    print("\nKarate club (factions of the 32 other members; 2-means agreement):")
    print("| method | 2 leaders labelled | 2-means | wall s |")
    print("|---|---|---|---|")
    for name, r in results["karate"].items():
        print(
            f"| {name} | {r['leaders']:.3f} | {r['kmeans']:.3f} | {r['wall_s']:.1f} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "embeddings.json").write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
