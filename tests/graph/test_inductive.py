"""Inductive node classification: test nodes unseen in training (G4)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.sparse.csgraph import shortest_path

from jnn.data.planetoid import load_planetoid, normalize_features
from jnn.graph.inductive import (
    SAGEEncoder,
    inductive_data,
    linear_probe,
    train_supervised,
    train_unsupervised,
    walk_pairs,
)
from jnn.graph.models import GraphSAGE


@functools.cache
def cora():
    data = load_planetoid("cora")
    x = normalize_features(data.graph.nodes)
    masks = {"train": data.train_mask, "val": data.val_mask, "test": data.test_mask}
    return data, x, masks


@functools.cache
def cut(keep):
    data, x, masks = cora()
    return inductive_data(data.graph, x, data.labels, masks, keep=keep)


@pytest.mark.parametrize("keep", ["non-test", "train+val"])
def test_training_subgraph_holds_no_test_node(keep):
    data, _, masks = cora()
    cut_data = cut(keep)
    ids = cut_data.new_to_old
    assert not masks["test"][ids].any()
    kept = ~masks["test"] if keep == "non-test" else masks["train"] | masks["val"]
    np.testing.assert_array_equal(np.sort(ids), np.flatnonzero(kept))
    senders = ids[np.asarray(cut_data.train_graph.senders)]
    receivers = ids[np.asarray(cut_data.train_graph.receivers)]
    graph = data.graph
    full = set(zip(graph.senders.tolist(), graph.receivers.tolist(), strict=True))
    sub = set(zip(senders.tolist(), receivers.tolist(), strict=True))
    assert sub <= full
    both = {(s, r) for s, r in full if kept[s] and kept[r]}
    assert sub == both
    batches = cut_data.train
    assert batches["train"]["mask"].sum() == 140 and batches["val"]["mask"].sum() == 500
    assert len(batches["train"]["y"]) == len(ids)
    assert cut_data.test["mask"].sum() == 1000
    assert len(cut_data.test["y"]) == data.labels.shape[0]


@pytest.mark.slow  # ~14 s of one core (the suite's 10-minute budget on 2 cores)
def test_graphsage_classifies_unseen_nodes():
    data, x, _ = cora()
    _, accuracy = train_supervised(
        lambda g: GraphSAGE(g, data.n_classes, n_features=x.shape[1]),
        cut("non-test"),
        key=jax.random.key(0),
    )
    # seeds 0-3: 0.791-0.808 (transductive GraphSAGE-mean: 0.812 +- 0.005)
    assert accuracy >= 0.785


def test_embeddings_of_nodes_far_from_the_test_nodes_transfer_exactly():
    data, _, masks = cora()
    cut_data = cut("non-test")
    features = data.graph.nodes.shape[1]

    def encoder(graph, batch):
        return SAGEEncoder(graph, batch["x"], batch["x_values"], features, (8, 8))

    small = encoder(cut_data.train_graph, cut_data.train["train"])
    full = encoder(cut_data.full_graph, cut_data.test)
    ids = cut_data.new_to_old
    params = jax.jit(small.init)(jax.random.key(0), jnp.arange(4))
    z_small = jax.jit(small.apply)(params, jnp.arange(len(ids)))
    z_full = jax.jit(full.apply)(params, jnp.asarray(ids))
    n = data.labels.shape[0]
    adjacency = np.zeros((n, n))
    adjacency[data.graph.senders, data.graph.receivers] = 1
    hops = shortest_path(
        adjacency, unweighted=True, indices=np.flatnonzero(masks["test"])
    )
    far = hops.min(0)[ids] > 2  # two layers see two hops
    assert far.sum() > 50 and (~far).sum() > 1000  # 101 and 1607 here
    np.testing.assert_allclose(z_small[far], z_full[far], atol=1e-5)
    assert np.abs(z_small[~far] - z_full[~far]).max() > 1e-3


def test_walk_pairs_are_walk_neighbours():
    cut_data = cut("train+val")
    u, v, noise = walk_pairs(jax.random.key(0), cut_data.train_graph, walks_per_node=2)
    n = len(cut_data.new_to_old)
    g = cut_data.train_graph
    adjacency = np.zeros((n, n))
    adjacency[g.senders, g.receivers] = 1
    hops = shortest_path(adjacency, unweighted=True)
    assert (u != v).all() and (hops[u, v] <= 4).all()
    np.testing.assert_allclose(noise.sum(), 1.0, rtol=1e-5)


def test_unsupervised_graphsage_embeddings_separate_classes():
    data, _, masks = cora()
    z, result = train_unsupervised(
        cut("non-test"),
        key=jax.random.key(0),
        widths=(32,),
        walks_per_node=2,
        epochs=1,
    )
    assert np.isfinite(result.history["loss"]).all()
    accuracy = linear_probe(z, data.labels, masks["train"], masks["test"])
    assert accuracy >= 0.6  # seeds 0-2: 0.66-0.71; 7 classes, majority 0.32


def test_bad_inputs_raise():
    data, x, masks = cora()
    with pytest.raises(ValueError, match="keep"):
        inductive_data(data.graph, x, data.labels, masks, keep="all")
    with pytest.raises(ValueError, match="masks"):
        inductive_data(data.graph, x, data.labels, {"train": masks["train"]})
    overlap = {**masks, "test": masks["test"] | masks["train"]}
    with pytest.raises(ValueError, match="test node"):
        inductive_data(data.graph, x, data.labels, overlap)
