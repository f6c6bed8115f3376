"""Fixed fan-out neighbour sampling and a SAGE stack on sampled neighbourhoods."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest
from scipy import stats

from jnn.graph.gnn import sampling
from jnn.graph.gnn.sampling import (
    SAGEStack,
    in_neighbour_lists,
    sample_neighbourhood,
)

N = 40
ISOLATED = N - 1
HUB_SENDERS = [1, 2, 2, 3, 4, 5, 6]  # node 0's in-edges; node 2's twice


def make_graph():
    """A directed graph: hub 0, random edges, a self loop, isolated node 39."""
    rng = np.random.default_rng(0)
    senders = rng.integers(1, ISOLATED, 90)
    receivers = rng.integers(1, ISOLATED, 90)
    senders = np.concatenate([HUB_SENDERS, senders, [0, 0, 7]]).astype(np.int32)
    receivers = np.concatenate([[0] * 7, receivers, [5, 9, 7]]).astype(np.int32)
    return jraph.GraphsTuple(
        nodes=None,
        edges=None,
        senders=senders,
        receivers=receivers,
        globals=None,
        n_node=np.array([N], np.int32),
        n_edge=np.array([len(senders)], np.int32),
    )


GRAPH = make_graph()
ADJACENCY = in_neighbour_lists(GRAPH)
IN_DEGREE = np.bincount(GRAPH.receivers, minlength=N)
EDGES = set(zip(GRAPH.senders.tolist(), GRAPH.receivers.tolist(), strict=True))
assert IN_DEGREE[ISOLATED] == 0 and ISOLATED not in GRAPH.senders
assert (1, 0) in EDGES and (0, 1) not in EDGES  # directed: the direction matters


@pytest.mark.parametrize("replace", [True, False])
def test_samples_are_in_neighbours_and_blocks_are_trees(replace):
    seeds = jnp.arange(N)
    hood = sample_neighbourhood(
        jax.random.key(1), ADJACENCY, seeds, (3, 2), replace=replace
    )
    nodes, real = np.asarray(hood.nodes), np.asarray(hood.real)
    sizes = [N * (1 + 3 + 6), N * (1 + 3)]
    assert nodes.shape == (sizes[0],)
    assert [b.senders.shape[0] for b in hood.blocks] == [s - N for s in sizes]
    parent = np.concatenate(
        [np.repeat(np.arange(N), 3), N + np.repeat(np.arange(3 * N), 2)]
    )
    child = np.arange(N, sizes[0])
    for block in hood.blocks:
        senders, receivers = np.asarray(block.senders), np.asarray(block.receivers)
        np.testing.assert_array_equal(senders, child[: len(senders)])
        expected = np.where(real[senders], parent[: len(senders)], senders)
        np.testing.assert_array_equal(receivers, expected)
    pairs = zip(nodes[child][real[child]], nodes[parent][real[child]], strict=True)
    assert all((int(u), int(v)) in EDGES for u, v in pairs)
    # a slot is empty exactly when its parent is empty or has too few in-edges
    slot = np.concatenate([np.tile(np.arange(3), N), np.tile(np.arange(2), 3 * N)])
    enough = IN_DEGREE[nodes[parent]] > (0 if replace else slot)
    np.testing.assert_array_equal(real[child], real[parent] & enough)
    assert not real[child][nodes[parent] == ISOLATED].any()


def sampled_counts(replace, fan_out, repeats):
    seeds = jnp.zeros(repeats, jnp.int32)
    hood = sample_neighbourhood(
        jax.random.key(2), ADJACENCY, seeds, (fan_out,), replace=replace
    )
    picks = np.asarray(hood.nodes[repeats:]).reshape(repeats, fan_out)
    counts = np.stack([(picks == v).sum(1) for v in range(1, 7)], axis=1)
    return picks, counts


def chi_square(counts, probabilities):
    total = counts.sum()
    statistic = ((counts - total * probabilities) ** 2 / (total * probabilities)).sum()
    return statistic, stats.chi2.ppf(0.999, len(counts) - 1)


MULTIPLICITY = np.bincount(HUB_SENDERS, minlength=7)[1:]  # nodes 1..6


def test_with_replacement_draws_each_in_edge_uniformly():
    picks, counts = sampled_counts(True, 5, 2000)
    assert set(np.unique(picks)) == set(HUB_SENDERS)
    statistic, threshold = chi_square(counts.sum(0), MULTIPLICITY / 7)
    assert statistic < threshold
    # with replacement: some sample holds one in-edge twice (impossible below)
    assert (counts > MULTIPLICITY).any()


def test_without_replacement_draws_uniform_subsets():
    picks, counts = sampled_counts(False, 3, 3000)
    assert (counts <= MULTIPLICITY).all()  # no in-edge twice in one sample
    assert (counts.sum(1) == 3).all()
    # every in-edge is kept with probability 3/7, so nodes with weight m / 7
    statistic, threshold = chi_square(counts.sum(0), MULTIPLICITY / 7)
    assert statistic < threshold
    # and pairs: 9 of the 35 three-edge subsets hold node 1 and a node-2 edge
    both = np.mean((counts[:, 0] > 0) & (counts[:, 1] > 0))
    assert abs(both - 9 / 35) < 4 * np.sqrt(9 / 35 * 26 / 35 / 3000)


@pytest.mark.parametrize("aggregator", ["mean", "pool"])
def test_full_fan_out_without_replacement_equals_full_graph(aggregator):
    fan_out = int(IN_DEGREE.max())
    seeds = jnp.array([0, 5, 7, 9, 12, ISOLATED, 0, 3])
    x = jax.random.normal(jax.random.key(3), (N, 5))
    model = SAGEStack((8, 4), aggregator)
    params = model.init(jax.random.key(4), x, GRAPH)
    apply = jax.jit(model.apply)
    full = apply(params, x, GRAPH)[seeds]
    hood = sample_neighbourhood(
        jax.random.key(5), ADJACENCY, seeds, (fan_out, fan_out), replace=False
    )
    out = apply(params, x[hood.nodes], hood)
    assert out.shape == (8, 4)
    assert np.abs(np.asarray(full)).max() > 0.1
    np.testing.assert_allclose(out, full, atol=1e-5)
    # with replacement the sample differs from the full neighbourhood
    hood = sample_neighbourhood(
        jax.random.key(5), ADJACENCY, seeds, (fan_out, fan_out), replace=True
    )
    assert np.abs(np.asarray(apply(params, x[hood.nodes], hood) - full)).max() > 1e-3


def test_sampler_compiles_once_per_shape():
    before = sampling._sample._cache_size()
    for seed in range(3):
        seeds = jax.random.randint(jax.random.key(seed), (6,), 0, N)
        sample_neighbourhood(jax.random.key(seed), ADJACENCY, seeds, (4, 3))
    assert sampling._sample._cache_size() - before <= 1


def test_bad_input_raises():
    key, seeds = jax.random.key(0), jnp.array([0, 1])
    with pytest.raises(ValueError, match="fan_outs"):
        sample_neighbourhood(key, ADJACENCY, seeds, (25, 0))
    with pytest.raises(ValueError, match="fan_outs"):
        sample_neighbourhood(key, ADJACENCY, seeds, ())
    with pytest.raises(ValueError, match="seeds"):
        sample_neighbourhood(key, ADJACENCY, jnp.array([0, N]), (2,))
    with pytest.raises(TypeError, match="adjacency"):
        sample_neighbourhood(key, GRAPH, seeds, (2,))
    hood = sample_neighbourhood(key, ADJACENCY, seeds, (2,))
    x = jnp.ones((hood.nodes.shape[0], 3))
    with pytest.raises(ValueError, match="hops"):
        SAGEStack((4, 4)).init(key, x, hood)
    with pytest.raises(ValueError, match="sampled nodes"):
        SAGEStack((4,)).init(key, x[1:], hood)
