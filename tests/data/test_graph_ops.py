"""pad_graph and induced_subgraph: padding preserves GCN outputs, networkx subgraphs."""

import chex
import jax
import jax.numpy as jnp
import jraph
import networkx as nx
import numpy as np
import pytest

from jnn.data import load_karate_club
from jnn.data.graph_ops import PaddedGraph, induced_subgraph, pad_graph
from jnn.graph import GCNConv

KARATE = load_karate_club().graph
# GCNConv's bias add trips the suite's rank-promotion check (gcn.py), and its
# normalisation needs a concrete n_node: the bias is left out (padding cannot
# change it) and the jitted step rebuilds the structure with N from x's shape.
CONV = GCNConv(4, use_bias=False)
PARAMS = CONV.init(jax.random.key(0), KARATE.nodes, KARATE)


@jax.jit
@chex.assert_max_traces(n=2)  # one unpadded and one padded shape
def gcn(x, senders, receivers, edge_weight):
    n_node = np.array([x.shape[0]], np.int32)
    graph = jraph.GraphsTuple(
        nodes=None,
        edges=None,
        senders=senders,
        receivers=receivers,
        globals=None,
        n_node=n_node,
        n_edge=np.array([senders.shape[0]], np.int32),
    )
    return CONV.apply(PARAMS, x, graph, edge_weight)


def gcn_on(graph):
    return gcn(graph.nodes, graph.senders, graph.receivers, graph.edges[:, 0])


def dense_gcn(graph):
    """D^-1/2 (A + I) D^-1/2 X W in NumPy (karate has no self loops)."""
    n = graph.nodes.shape[0]
    adjacency = np.eye(n)
    np.add.at(adjacency, (graph.receivers, graph.senders), graph.edges[:, 0])
    scale = 1 / np.sqrt(adjacency.sum(1))
    kernel = np.asarray(PARAMS["params"]["Dense_0"]["kernel"], np.float64)
    return (scale[:, None] * adjacency * scale[None, :]) @ graph.nodes @ kernel


def edge_set(graph):
    return set(zip(graph.senders.tolist(), graph.receivers.tolist(), strict=True))


def test_default_budget_and_masks():
    padded = pad_graph(KARATE)
    assert isinstance(padded, PaddedGraph)
    graph = padded.graph
    assert graph.nodes.shape == (64, 34) and graph.edges.shape == (256, 1)
    assert graph.senders.shape == graph.receivers.shape == (256,)
    assert graph.n_node.tolist() == [34, 30] and graph.n_edge.tolist() == [156, 100]
    assert padded.node_mask.tolist() == [True] * 34 + [False] * 30
    assert padded.edge_mask.tolist() == [True] * 156 + [False] * 100
    np.testing.assert_array_equal(graph.nodes[:34], KARATE.nodes)
    np.testing.assert_array_equal(graph.nodes[34:], 0.0)
    np.testing.assert_array_equal(graph.edges[156:], 0.0)
    assert (graph.senders[156:] >= 34).all() and (graph.receivers[156:] >= 34).all()
    exact = pad_graph(KARATE, n_node=35, n_edge=156)  # tightest budget
    assert exact.graph.nodes.shape == (35, 34) and exact.graph.senders.shape == (156,)
    chained = pad_graph(padded.graph)  # a batch of 2 graphs gets a third
    assert chained.graph.n_node.tolist() == [34, 30, 64]


def test_padded_gcn_equals_unpadded_on_the_real_nodes_and_compiles_once():
    expected = gcn_on(KARATE)
    padded = pad_graph(KARATE, n_node=64, n_edge=256)
    out = gcn_on(padded.graph)
    np.testing.assert_allclose(out[padded.node_mask], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(expected, dense_gcn(KARATE), rtol=1e-5, atol=1e-6)
    assert np.abs(np.asarray(expected)).max() > 0.1  # the check compares something
    # subgraphs of different sizes share the padded shape: no new trace
    for ids in (np.arange(20), np.arange(5, 34, 2)):
        sub, _ = induced_subgraph(KARATE, ids)
        sub = sub._replace(nodes=KARATE.nodes[ids])
        p = pad_graph(sub, n_node=64, n_edge=256)
        got = gcn_on(p.graph)
        np.testing.assert_allclose(
            got[: len(ids)], dense_gcn(sub), rtol=1e-5, atol=1e-6
        )


def test_padding_graph_without_features():
    bare = KARATE._replace(nodes=None, edges=None)
    padded = pad_graph(bare)
    assert padded.graph.nodes is None and padded.graph.senders.shape == (256,)
    assert padded.node_mask.shape == (64,)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_induced_subgraph_equals_networkx(seed):
    g = nx.karate_club_graph()
    ids = np.random.default_rng(seed).permutation(34)[: 10 + 6 * seed]
    sub, new_to_old = induced_subgraph(KARATE, ids)
    assert new_to_old.dtype == np.int32 and new_to_old.tolist() == ids.tolist()
    assert sub.n_node.tolist() == [len(ids)] and sub.n_edge.tolist() == [
        sub.senders.size
    ]
    assert sub.senders.dtype == sub.receivers.dtype == np.int32
    expected = g.subgraph(ids.tolist())
    old = {(int(new_to_old[s]), int(new_to_old[r])) for s, r in edge_set(sub)}
    assert old == {(u, v) for u, v in expected.edges} | {
        (v, u) for u, v in expected.edges
    }
    assert len(old) == sub.senders.size == 2 * expected.number_of_edges()
    np.testing.assert_array_equal(sub.nodes, KARATE.nodes[ids])
    for e, (s, r) in enumerate(zip(sub.senders, sub.receivers, strict=True)):
        u, v = int(new_to_old[s]), int(new_to_old[r])
        assert sub.edges[e, 0] == expected.edges[u, v]["weight"]


def test_induced_subgraph_slices_every_node_leaf():
    graph = KARATE._replace(nodes={"x": KARATE.nodes, "degree": np.arange(34.0)})
    sub, _ = induced_subgraph(graph, [33, 0, 5])
    assert sub.nodes["degree"].tolist() == [33.0, 0.0, 5.0]
    assert sub.nodes["x"].shape == (3, 34)


def test_bad_input():
    with pytest.raises(ValueError, match="`n_node` must exceed the graph's 34 nodes"):
        pad_graph(KARATE, n_node=34)
    with pytest.raises(ValueError, match="`n_edge` must be at least the graph's 156"):
        pad_graph(KARATE, n_edge=155)
    with pytest.raises(TypeError, match="`n_node` must be a positive int"):
        pad_graph(KARATE, n_node=64.0)
    with pytest.raises(TypeError, match="`graph` must be a jraph.GraphsTuple"):
        pad_graph({"nodes": KARATE.nodes})
    with pytest.raises(ValueError, match=r"`node_ids` must lie in \[0, 34\)"):
        induced_subgraph(KARATE, [0, 34])
    with pytest.raises(ValueError, match=r"`node_ids` must lie in \[0, 34\)"):
        induced_subgraph(KARATE, [-1, 3])
    with pytest.raises(ValueError, match="`node_ids` must be distinct; got 1 repeats"):
        induced_subgraph(KARATE, [3, 4, 3])
    with pytest.raises(ValueError, match="`node_ids` must be a non-empty 1-D"):
        induced_subgraph(KARATE, np.zeros(0, int))
    with pytest.raises(TypeError, match="np.flatnonzero"):
        induced_subgraph(KARATE, np.ones(34, bool))
    batch = jraph.batch([KARATE, KARATE])
    with pytest.raises(
        ValueError, match="`graph` must hold one graph; got a batch of 2"
    ):
        induced_subgraph(batch, [0])

    @jax.jit
    def traced(senders):
        return pad_graph(KARATE._replace(senders=senders)).node_mask

    with pytest.raises(TypeError, match="concrete"):
        traced(jnp.asarray(KARATE.senders))
