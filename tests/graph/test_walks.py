"""DeepWalk and node2vec walks: edges, exact transition statistics, bad input.

The reference is exact enumeration: node2vec's second-order transition
probabilities P(x | t, v) computed from the dense adjacency matrix of the
karate club, against which the empirical transitions of 6,800 walks are
tested with a pooled chi-square statistic (z-score) and the mean total
variation. Measured over seeds 0-2 and 5 settings: |z| <= 2.1, TV 0.018-0.024;
the same walks against the swapped (p, q) give chi2/dof > 1,100 and TV > 0.63.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.data import load_karate_club
from jnn.graph.adjacency import adjacency_lists
from jnn.graph.embeddings import node2vec_walks, random_walks, walk_starts

N = 34
LENGTH = 40
STARTS = jnp.asarray(walk_starts(N, 200))  # 6,800 walkers


@functools.cache
def karate():
    graph = load_karate_club().graph
    a = np.zeros((N, N))
    a[np.asarray(graph.senders), np.asarray(graph.receivers)] = 1
    return adjacency_lists(graph), a


def exact_second_order(a, p, q):
    """P[t, v, x] = alpha_pq(t, x) A[v, x] / sum, for every edge t -> v."""
    nodes = np.arange(N)
    table = np.zeros((N, N, N))
    for t, v in zip(*np.nonzero(a), strict=True):
        alpha = np.where(nodes == t, 1 / p, np.where(a[t] > 0, 1.0, 1 / q))
        weight = a[v] * alpha
        table[t, v] = weight / weight.sum()
    return table


def fit_statistics(walks, expected):
    """(chi-square z-score, count-weighted mean total variation) of x | (t, v)."""
    counts = np.zeros((N, N, N))
    np.add.at(counts, (walks[:, :-2], walks[:, 1:-1], walks[:, 2:]), 1)
    n = counts.sum(-1, keepdims=True)
    e = n * expected
    cells = e > 0
    chi2 = ((counts - e) ** 2 / np.where(cells, e, 1))[cells].sum()
    seen = n[..., 0] > 0
    dof = (cells.sum(-1) - 1)[seen].sum()
    tv = 0.5 * np.abs(counts / np.maximum(n, 1) - expected).sum(-1)
    mean_tv = (tv * n[..., 0])[seen].sum() / n.sum()
    return (chi2 - dof) / np.sqrt(2 * dof), chi2 / dof, mean_tv


@functools.cache
def walks_of(p, q, max_tries=32, seed=0):
    adjacency, _ = karate()
    key = jax.random.key(seed)
    return np.asarray(
        node2vec_walks(key, adjacency, STARTS, LENGTH, p, q, max_tries=max_tries)
    )


def test_every_step_follows_an_edge():
    adjacency, a = karate()
    uniform = np.asarray(random_walks(jax.random.key(1), adjacency, STARTS, LENGTH))
    for walks in (uniform, walks_of(0.25, 4.0), walks_of(4.0, 0.25)):
        assert walks.shape == (STARTS.shape[0], LENGTH) and walks.dtype == np.int32
        np.testing.assert_array_equal(walks[:, 0], STARTS)
        assert a[walks[:, :-1], walks[:, 1:]].all()


def test_deepwalk_steps_are_uniform_over_neighbours():
    adjacency, a = karate()
    walks = np.asarray(random_walks(jax.random.key(2), adjacency, STARTS, LENGTH))
    counts = np.zeros((N, N))
    np.add.at(counts, (walks[:, :-1], walks[:, 1:]), 1)
    expected = counts.sum(1, keepdims=True) * a / a.sum(1, keepdims=True)
    chi2 = ((counts - expected) ** 2 / np.where(a > 0, expected, 1))[a > 0].sum()
    dof = (a.sum(1) - 1).sum()
    assert abs(chi2 - dof) / np.sqrt(2 * dof) < 3.5  # measured |z| <= 1.9


@pytest.mark.parametrize(
    "p, q, max_tries",
    [(1.0, 1.0, 32), (0.25, 4.0, 32), (4.0, 0.25, 32), (0.25, 4.0, 0), (4.0, 0.25, 1)],
)
def test_node2vec_transitions_match_exact_probabilities(p, q, max_tries):
    # max_tries 0 and 1: (almost) every step comes from the exact fallback.
    _, a = karate()
    z, _, tv = fit_statistics(walks_of(p, q, max_tries), exact_second_order(a, p, q))
    assert abs(z) < 3.5  # measured |z| <= 2.1
    assert tv < 0.03  # measured 0.018-0.024


def test_p_and_q_change_the_walk():
    _, a = karate()
    for (p, q), swapped in (((0.25, 4.0), (4.0, 0.25)), ((4.0, 0.25), (0.25, 4.0))):
        _, ratio, tv = fit_statistics(walks_of(p, q), exact_second_order(a, *swapped))
        assert ratio > 100 and tv > 0.5  # measured > 1,100 and > 0.63
    returns = {
        pq: (walks_of(*pq)[:, 2:] == walks_of(*pq)[:, :-2]).mean()
        for pq in ((0.25, 4.0), (1.0, 1.0), (4.0, 0.25))
    }
    assert returns[(0.25, 4.0)] > 2 * returns[(1.0, 1.0)] > 4 * returns[(4.0, 0.25)]


def test_one_compilation_for_every_p_q_and_short_walks():
    from jnn.graph.embeddings import walks as module

    walks_of(1.0, 1.0)
    before = module._node2vec_walks._cache_size()
    adjacency, _ = karate()
    node2vec_walks(jax.random.key(5), adjacency, STARTS, LENGTH, 0.5, 2.0, max_tries=3)
    assert module._node2vec_walks._cache_size() == before
    # The shortest walks: no second-order step, no step at all.
    walks = node2vec_walks(jax.random.key(0), adjacency, STARTS[:3], 2, 2.0)
    assert walks.shape == (3, 2) and (walks[:, 0] == STARTS[:3]).all()
    walks = random_walks(jax.random.key(0), adjacency, STARTS[:3], 1)
    np.testing.assert_array_equal(walks, STARTS[:3, None])


def test_bad_input_names_the_argument():
    adjacency, _ = karate()
    key = jax.random.key(0)
    starts = jnp.arange(3)
    for kwargs, name in (
        ({"p": 0.0}, "`p`"),
        ({"q": -1.0}, "`q`"),
        ({"max_tries": -1}, "`max_tries`"),
        ({"length": 0}, "`length`"),
    ):
        args = {"length": 5, **kwargs}
        with pytest.raises(ValueError, match=name):
            node2vec_walks(key, adjacency, starts, **args)
    with pytest.raises(ValueError, match="`length`"):
        random_walks(key, adjacency, starts, 0)
    with pytest.raises(ValueError, match=r"`starts`.*\[0, 34\)"):
        random_walks(key, adjacency, jnp.array([0, 34]), 5)
    with pytest.raises(TypeError, match="`starts`"):
        random_walks(key, adjacency, jnp.array([0.0, 1.0]), 5)
    with pytest.raises(TypeError, match="`adjacency`"):
        random_walks(key, load_karate_club().graph, starts, 5)
    with pytest.raises(TypeError, match="`key`"):
        node2vec_walks(0, adjacency, starts, 5)
