r"""Inductive node classification (curriculum G4): test nodes unseen in training.

Transductive training (:mod:`jnn.graph.node_classification`) sees every node
and edge, labelled or not. Inductively (Hamilton, Ying & Leskovec 2017,
GraphSAGE), the model is trained on the subgraph induced by the training
nodes only, then applied with the same parameters to the full graph, where
the test nodes and their edges appear for the first time. GraphSAGE's layers
need no node identities (weights act on features and aggregated neighbours),
so they transfer. Two objectives:

* supervised: the masked cross-entropy of the labelled training nodes;
* unsupervised (GraphSAGE's eq. 1): nodes that co-occur on short random walks
  get similar embeddings, random nodes dissimilar ones,

  .. math:: J(z_u) = -\log\sigma(z_u^\top z_v)
            - Q\, \mathbb{E}_{v_n \sim P_n} \log\sigma(-z_u^\top z_{v_n}),

  with :math:`v` a node on a walk from :math:`u` and :math:`P_n` the walk
  visit counts to the power 3/4; a logistic regression on the frozen
  embeddings of the labelled nodes then classifies the test nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import optax

from jnn._checks import check_key, check_positive_int
from jnn.data.graph_ops import induced_subgraph
from jnn.graph.adjacency import adjacency_lists
from jnn.graph.embeddings import (
    negative_sampling_loss,
    random_walks,
    unigram_distribution,
    walk_starts,
)
from jnn.graph.gnn.sage import SAGEConv
from jnn.graph.node_classification import (
    Settings,
    default_settings,
    node_classification_data,
    node_learner,
)
from jnn.graph.sparse_features import SparseRows, sparse_input
from jnn.train import Context, FitResult, apply_model, fit, gradient_learner

KEEP = ("non-test", "train+val")


class InductiveData(NamedTuple):
    """A node-classification data set cut for inductive training.

    Attributes:
      train_graph: the structure induced by the kept nodes (``nodes`` None).
      new_to_old: ``(n,)`` int32, the full-graph id of each kept node.
      full_graph: the whole structure (``nodes`` None).
      train: ``{"train", "val"}`` batches on ``train_graph`` (kept nodes only).
      test: the batch of the full graph with the test mask.
      features: the full graph's features (row-normalised), ``(N, F)``.
      labels: ``(N,)`` int labels; ``train_mask`` / ``test_mask`` ``(N,)`` bool.
    """

    train_graph: jraph.GraphsTuple
    new_to_old: np.ndarray
    full_graph: jraph.GraphsTuple
    train: dict[str, dict[str, np.ndarray]]
    test: dict[str, np.ndarray]
    features: np.ndarray
    labels: np.ndarray
    train_mask: np.ndarray
    test_mask: np.ndarray


def inductive_data(
    graph: jraph.GraphsTuple,
    features: Any,
    labels: Any,
    masks: dict[str, Any],
    *,
    keep: str = "non-test",
    sparse: bool = True,
) -> InductiveData:
    """Cut a graph with train / val / test masks for inductive training.

    Args:
      graph: the full structure (one graph, concrete).
      features: ``(N, F)`` node features (row-normalised for Planetoid).
      labels: ``(N,)`` int labels.
      masks: ``{"train", "val", "test"}`` ``(N,)`` bool masks.
      keep: ``"non-test"``: train on the subgraph of every node that is not a
        test node (labelled or not); ``"train+val"``: only the labelled
        training and validation nodes.
      sparse: padded-row features (:mod:`jnn.graph.sparse_features`).

    Returns:
      :class:`InductiveData`; no test node, and no edge touching one, is in
      ``train_graph``.

    Raises:
      ValueError: an unknown ``keep``, missing masks, or a test node that is
        also a training or validation node.
    """
    if keep not in KEEP:
        raise ValueError(f"`keep` must be one of {KEEP}; got {keep!r}.")
    if not isinstance(masks, dict) or set(masks) != {"train", "val", "test"}:
        raise ValueError(
            "`masks` must be a dict with the 'train', 'val' and 'test' masks; got "
            f"{sorted(masks) if isinstance(masks, dict) else type(masks).__name__}."
        )
    train, val, test = (np.asarray(masks[s], bool) for s in ("train", "val", "test"))
    if (test & (train | val)).any():
        raise ValueError("a test node is also a training or validation node.")
    kept = ~test if keep == "non-test" else train | val
    subgraph, new_to_old = induced_subgraph(
        graph._replace(nodes=None), np.flatnonzero(kept)
    )
    features = (
        features.toarray() if hasattr(features, "toarray") else np.asarray(features)
    )
    labels = np.asarray(labels)
    inside = node_classification_data(
        features[new_to_old],
        labels[new_to_old],
        {"train": train[new_to_old], "val": val[new_to_old]},
        sparse=sparse,
    )
    full = node_classification_data(features, labels, {"test": test}, sparse=sparse)
    return InductiveData(
        subgraph._replace(nodes=None, edges=None),
        new_to_old,
        graph._replace(nodes=None, edges=None),
        inside,
        full["test"],
        features,
        labels,
        train,
        test,
    )


def train_supervised(
    make_model: Callable[[jraph.GraphsTuple], nn.Module],
    data: InductiveData,
    *,
    key: jax.Array,
    settings: Settings | None = None,
) -> tuple[FitResult, float]:
    """Train on ``data.train_graph``, test on the full graph's test nodes.

    Args:
      make_model: ``graph -> model``, e.g.
        ``lambda g: GraphSAGE(g, n_classes, n_features=F)``; called for the
        training subgraph and for the full graph (the same parameters).
      data: from :func:`inductive_data`.
      key: PRNG key of the training.
      settings: optimisation settings (default: :func:`default_settings`).

    Returns:
      ``(fit result, test accuracy on the full graph)``.
    """
    check_key(key)
    model = make_model(data.train_graph)
    settings = default_settings(model) if settings is None else settings
    learner = node_learner(model, settings)
    result = fit(
        learner,
        data.train["train"],
        val=data.train["val"],
        key=key,
        epochs=settings.epochs,
        stop=settings.stop,
        progress=False,
    )
    tester = node_learner(make_model(data.full_graph), settings)
    accuracy = jax.jit(tester.evaluate)(result.state, data.test)["accuracy"]
    return result, float(accuracy)


class SAGEEncoder(nn.Module):
    """GraphSAGE embeddings of a fixed graph's nodes, looked up by id.

    The features and the structure are attributes (constants of the compiled
    step); ``encoder(ids)`` runs the GraphSAGE layers over the whole graph and
    returns the L2-normalised embeddings of ``ids`` (Hamilton et al.'s
    unsupervised model normalises its outputs).

    Attributes:
      graph: the structure.
      index, values: ``(N, K)`` padded-row features (``n_features`` columns).
      n_features: ``F``.
      widths: the layers' output widths.
      aggregator: ``'mean'`` or ``'pool'``.
    """

    graph: jraph.GraphsTuple
    index: np.ndarray
    values: np.ndarray
    n_features: int
    widths: Sequence[int] = (64, 64)
    aggregator: str = "mean"

    @nn.compact
    def __call__(self, ids: jax.Array) -> jax.Array:
        """``(M, d)`` unit-norm embeddings of the nodes ``ids (M,)``."""
        rows = SparseRows(
            jnp.asarray(self.index), jnp.asarray(self.values), self.n_features
        )
        h: Any = rows
        for i, width in enumerate(self.widths):
            conv = SAGEConv(width, self.aggregator, name=f"conv{i + 1}")
            if i == 0:
                with sparse_input(rows):
                    h = conv(h, self.graph)
            else:
                h = conv(nn.relu(h), self.graph)
        z = h[ids]
        return z / jnp.maximum(jnp.linalg.norm(z, axis=-1, keepdims=True), 1e-12)


def walk_pairs(
    key: jax.Array,
    graph: jraph.GraphsTuple,
    *,
    walks_per_node: int = 10,
    length: int = 5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Co-occurrence pairs ``(u, v)`` of short random walks, and the noise.

    GraphSAGE's unsupervised positives: ``walks_per_node`` uniform walks of
    ``length`` nodes from every node ``u``, each later node ``v != u`` on the
    walk a pair (their code: 50 walks of 5).

    Returns:
      ``(u, v, noise)``: ``(P,)`` int32 pairs and ``(N,)`` noise distribution
      (visit counts to the power 3/4).
    """
    check_positive_int(walks_per_node, "walks_per_node")
    check_positive_int(length, "length")
    n = int(np.asarray(graph.n_node).sum())
    adjacency = adjacency_lists(graph)
    starts = jnp.asarray(walk_starts(n, walks_per_node))
    walks = np.asarray(random_walks(key, adjacency, starts, length))
    u = np.repeat(walks[:, :1], length - 1, axis=1).ravel()
    v = walks[:, 1:].ravel()
    keep = u != v
    noise = unigram_distribution(walks, n)
    return u[keep].astype(np.int32), v[keep].astype(np.int32), noise


def unsupervised_loss(encoder: nn.Module, noise: np.ndarray, *, negatives: int = 20):
    """GraphSAGE's negative-sampling loss of a batch of pairs, for ``jnn.train``.

    The batch holds ``"x"`` (the centre nodes ``u``) and ``"context"`` (their
    walk neighbours ``v``); ``negatives`` nodes per pair are drawn from
    ``noise`` with the step's key (the same nodes in evaluation, for a fixed
    key). Returns ``loss(params, batch, ctx) -> (mean J, {}, model_state)``.
    """
    check_positive_int(negatives, "negatives")
    noise = jnp.asarray(noise, jnp.float32)

    def loss(params, batch, ctx: Context):
        u, v = batch["x"], batch["context"]
        key = jax.random.key(0) if ctx.key is None else ctx.key
        # inverse-CDF draws (jax.random.choice): a Gumbel-max categorical
        # would draw N numbers per sample
        negative = jax.random.choice(
            jax.random.fold_in(key, 1),
            noise.shape[0],
            (u.shape[0], negatives),
            p=noise,
        )
        ids = jnp.concatenate([u, v, negative.ravel()])
        z, state = apply_model(encoder, params, ctx, ids)
        m = u.shape[0]
        z_neg = z[2 * m :].reshape(m, negatives, -1)
        value = jnp.mean(negative_sampling_loss(z[:m], z[m : 2 * m], z_neg))
        return value, {}, state

    return loss


def train_unsupervised(
    data: InductiveData,
    *,
    key: jax.Array,
    widths: Sequence[int] = (64, 64),
    epochs: int = 5,
    batch_size: int = 512,
    learning_rate: float = 0.01,
    walks_per_node: int = 10,
    negatives: int = 20,
) -> tuple[np.ndarray, FitResult]:
    """Unsupervised GraphSAGE on ``data.train_graph``; embeddings of the full graph.

    Args:
      data: from :func:`inductive_data` (padded-row features).
      key: PRNG key of the walks and the training.
      widths: output widths of the GraphSAGE layers (mean aggregator).
      epochs: passes over the walk pairs.
      batch_size: pairs per Adam step.
      learning_rate: Adam's step size.
      walks_per_node: walks of 5 nodes from every node (:func:`walk_pairs`).
      negatives: noise nodes per pair ``Q``.

    Returns:
      ``(z, fit result)``: ``(N, d)`` embeddings of every node of the full
      graph, computed with the trained parameters (the test nodes unseen).
    """
    check_key(key)
    walk_key, fit_key = jax.random.split(key)
    u, v, noise = walk_pairs(walk_key, data.train_graph, walks_per_node=walks_per_node)
    n_features = data.features.shape[1]

    def encoder(graph, batch):
        return SAGEEncoder(
            graph, batch["x"], batch["x_values"], n_features, tuple(widths)
        )

    train_encoder = encoder(data.train_graph, data.train["train"])
    learner = gradient_learner(
        train_encoder,
        unsupervised_loss(train_encoder, noise, negatives=negatives),
        optax.adam(learning_rate),
    )
    result = fit(
        learner,
        {"x": u, "context": v},
        key=fit_key,
        epochs=epochs,
        batch_size=batch_size,
        progress=False,
    )
    full_encoder = encoder(data.full_graph, data.test)
    n = data.labels.shape[0]
    z = jax.jit(full_encoder.apply)({"params": result.state.params}, jnp.arange(n))
    return np.asarray(z), result


def linear_probe(z: np.ndarray, labels: np.ndarray, train_mask, test_mask) -> float:
    """Test accuracy of a logistic regression (scikit-learn) on ``z``'s train rows."""
    from sklearn.linear_model import LogisticRegression

    z = np.asarray(z, np.float64)
    clf = LogisticRegression(max_iter=3000).fit(z[train_mask], labels[train_mask])
    return float(clf.score(z[test_mask], labels[test_mask]))
