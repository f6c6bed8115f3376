"""Demo of curriculum G2: a GCN learns the karate club's split from two labels.

``karate-gcn``: Zachary's karate club (34 members, 78 friendships), no node
features (``X = I``, each member a one-hot identity, as Kipf & Welling's
karate example), only the two leaders labelled (node 0, "Mr. Hi", and node
33, "Officer"). A GCN of three graph convolutions (4, 4 and 2 units, tanh)
maps every member to a point of the plane, and a linear softmax layer reads
the faction off that point; training is the masked cross-entropy of the two
leaders through ``jnn.train.fit`` (Adam 0.01, 300 full-batch epochs, no
dropout). The 2-D embeddings of every member are recorded at every epoch (an
aux metric of the loss, so the whole training is one compiled call) and drawn
at six epochs, coloured by the faction the club split into: the untrained
network already separates the two communities (the propagation is a
smoothing over the graph), and training with two labels pulls them apart
(Kipf's figure, https://tkipf.github.io/graph-convolutional-networks/).
Headline: the faction accuracy on the 32 unlabelled members.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import matplotlib.pyplot as plt
import numpy as np
import optax

from jnn import plotting
from jnn.data import load_karate_club
from jnn.demos import DemoConfig, DemoResult, register
from jnn.graph.gnn.gcn import GCNConv
from jnn.graph.node_classification import (
    node_classification_data,
    node_classification_loss,
)
from jnn.train import fit, full_batch, gradient_learner

WIDTHS = (4, 4, 2)
SNAPSHOTS = (0, 10, 30, 60, 120, 300)  # updates


class KarateGCN(nn.Module):
    """Three tanh graph convolutions to a 2-D embedding, then a linear classifier."""

    graph: jraph.GraphsTuple
    n_classes: int = 2

    def setup(self):
        """The three convolutions and the classifier."""
        self.convs = [GCNConv(w, name=f"conv{i + 1}") for i, w in enumerate(WIDTHS)]
        self.classifier = nn.Dense(self.n_classes)

    def embed(self, x: jax.Array) -> jax.Array:
        """``(N, 2)`` embedding of every member."""
        for conv in self.convs:
            x = jnp.tanh(conv(x, self.graph))
        return x

    def __call__(self, x: jax.Array) -> jax.Array:
        """Class logits ``(N, C)``."""
        return self.classifier(self.embed(x))


def loss_with_embedding(model: KarateGCN):
    """The masked loss, with the embedding of every node as an aux metric."""
    base = node_classification_loss(model)

    def loss(params, batch, ctx):
        value, aux, state = base(params, batch, ctx)
        z = model.apply({"params": params}, batch["x"], method=KarateGCN.embed)
        return value, {**aux, "embedding": z}, state

    loss.check = base.check
    return loss


@register("karate-gcn", "G2", "GCN on the karate club from two labels (Kipf's figure)")
def karate_gcn(config: DemoConfig) -> DemoResult:
    """2-D GCN embeddings of the karate club over training; faction accuracy."""
    data = load_karate_club()
    n = int(data.graph.n_node[0])
    graph = data.graph._replace(nodes=None, edges=None)
    labels = np.asarray(data.labels)
    splits = node_classification_data(
        np.eye(n, dtype=np.float32),
        labels,
        {"train": data.train_mask, "test": data.test_mask},
        sparse=False,
    )
    epochs = config.epochs_or(300, smoke=20)
    model = KarateGCN(graph)
    learner = gradient_learner(
        model, loss_with_embedding(model), optax.adam(0.01), plan=full_batch()
    )
    key = jax.random.key(config.seed)
    start = jax.jit(learner.init)(jax.random.split(key)[0], splits["train"])
    untrained = jax.jit(model.apply, static_argnames="method")(
        {"params": start.params}, splits["train"]["x"], method=KarateGCN.embed
    )
    result = fit(
        learner,
        splits["train"],
        val=splits["test"],
        key=key,
        epochs=epochs,
        init_state=start,
        progress=False,
    )
    accuracy = float(result.history["val_accuracy"][-1])
    # epoch e's record holds the embedding after e + 1 updates
    embeddings = np.concatenate(
        [np.asarray(untrained)[None], result.history["embedding"]]
    )
    snapshots = sorted({min(s, epochs) for s in SNAPSHOTS})

    fig, axes = plt.subplots(2, 3, figsize=(13, 8))
    edges = np.stack([np.asarray(graph.senders), np.asarray(graph.receivers)], 1)
    for ax, updates in zip(axes.ravel(), snapshots, strict=False):
        z = embeddings[updates]
        for s, r in edges:
            ax.plot(*z[[s, r]].T, color="0.85", lw=0.5, zorder=0)
        for faction, colour, name in (
            (0, "tab:purple", "Mr. Hi"),
            (1, "tab:orange", "Officer"),
        ):
            at = labels == faction
            ax.scatter(*z[at].T, c=colour, s=40, label=f"{name}'s faction")
        ax.scatter(
            *z[[0, n - 1]].T,
            s=220,
            facecolors="none",
            edgecolors="k",
            lw=1.5,
            label="labelled leaders",
        )
        if updates == 0:
            title = "untrained (random weights)"
        else:
            i = updates - 1
            title = (
                f"after {updates} updates: test acc "
                f"{result.history['val_accuracy'][i]:.0%}, loss "
                f"{result.history['loss'][i]:.2f}"
            )
        ax.set(title=title, xlabel="z1", ylabel="z2")
    axes.ravel()[0].legend(fontsize=8, loc="best")
    for ax in axes.ravel()[len(snapshots) :]:
        ax.axis("off")
    fig.suptitle(
        "GCN (3 x tanh graph convolutions to 2-D) on Zachary's karate club, "
        "trained on the two leaders' labels only"
    )
    path = plotting.save(fig, config.out / "karate_gcn.png")
    first = float(result.history["val_accuracy"][0])
    return DemoResult(
        "Zachary's karate club (34 members, 2 labelled)",
        "faction accuracy of the 32 unlabelled members",
        accuracy,
        (path,),
        f"{epochs} full-batch epochs (Adam 0.01) on the cross-entropy of nodes 0 "
        f"and 33; accuracy on the other 32 members {first:.0%} after one update, "
        f"{accuracy:.0%} at the end; final training loss "
        f"{result.history['loss'][-1]:.3f}.",
    )
