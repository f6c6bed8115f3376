"""Adjacency lists of a ``GraphsTuple`` for walks and neighbour sampling.

Compressed sparse rows (CSR) over the senders: the out-neighbours of node
``v`` are ``neighbours[offsets[v]:offsets[v + 1]]``, sorted ascending (so a
membership test is a binary search). Built once on the host with NumPy; the
arrays are then used inside compiled walks and samplers.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jnn.data.graphs import check_graph


class Adjacency(NamedTuple):
    """CSR adjacency of a graph with ``N`` nodes and ``E`` directed edges.

    Attributes:
      offsets: ``(N + 1,)`` int32; node ``v``'s neighbours start at
        ``offsets[v]``.
      neighbours: ``(E,)`` int32 receivers grouped by sender, each group sorted.
      degree: ``(N,)`` int32 out-degree ``offsets[v + 1] - offsets[v]``.
      weights: ``(E,)`` float32 edge weights aligned with ``neighbours``.
    """

    offsets: jax.Array
    neighbours: jax.Array
    degree: jax.Array
    weights: jax.Array

    @property
    def n_nodes(self) -> int:
        """Number of nodes ``N``."""
        return int(self.degree.shape[0])


def adjacency_lists(
    graph: jraph.GraphsTuple, edge_weight: np.ndarray | None = None
) -> Adjacency:
    """CSR adjacency lists of ``graph`` (edges sender -> receiver).

    Args:
      graph: a ``GraphsTuple`` with concrete ``senders``/``receivers``; store an
        undirected graph with both directions of every edge.
      edge_weight: optional ``(E,)`` weights (default 1).

    Returns:
      An :class:`Adjacency`; duplicate edges are kept (they count twice, as in
      the edge list).

    Example:
      >>> from jnn.data import load_karate_club
      >>> adj = adjacency_lists(load_karate_club().graph)
      >>> int(adj.degree[0]), int(adj.degree.sum())
      (16, 156)
    """
    n = check_graph(graph)
    senders = np.asarray(graph.senders)
    receivers = np.asarray(graph.receivers)
    if n < 0:
        raise ValueError("`graph.n_node` must be concrete to build adjacency lists.")
    if edge_weight is None:
        weights = np.ones(senders.shape, np.float32)
    else:
        check_graph(graph, edge_weight=edge_weight)
        weights = np.asarray(edge_weight, np.float32)
    order = np.lexsort((receivers, senders))
    degree = np.bincount(senders, minlength=n).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(degree)]).astype(np.int32)
    return Adjacency(
        jnp.asarray(offsets),
        jnp.asarray(receivers[order].astype(np.int32)),
        jnp.asarray(degree),
        jnp.asarray(weights[order]),
    )


def is_neighbour(adjacency: Adjacency, u: jax.Array, v: jax.Array) -> jax.Array:
    """Whether ``v`` is an out-neighbour of ``u`` (elementwise, compiled).

    A binary search in ``u``'s sorted list: ``O(log degree)``.

    Args:
      adjacency: from :func:`adjacency_lists`.
      u: int array of source nodes.
      v: int array of candidate neighbours, of ``u``'s shape.

    Returns:
      bool array of that shape.
    """
    start = adjacency.offsets[u]
    end = adjacency.offsets[u + 1]
    lo, hi = start, end
    steps = max(1, int(np.ceil(np.log2(max(2, adjacency.neighbours.shape[0] + 1)))))

    def body(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) // 2
        go_right = (
            adjacency.neighbours[jnp.minimum(mid, adjacency.neighbours.shape[0] - 1)]
            < v
        )
        searching = lo < hi
        lo = jnp.where(searching & go_right, mid + 1, lo)
        hi = jnp.where(searching & ~go_right, mid, hi)
        return lo, hi

    lo, _ = jax.lax.fori_loop(0, steps, body, (lo, hi))
    found = adjacency.neighbours[jnp.minimum(lo, adjacency.neighbours.shape[0] - 1)]
    return (lo < end) & (found == v)


def uniform_neighbour(adjacency: Adjacency, key: jax.Array, v: jax.Array) -> jax.Array:
    """One neighbour of each ``v`` drawn uniformly (``v`` itself if isolated).

    Args:
      adjacency: from :func:`adjacency_lists`.
      key: PRNG key.
      v: int array of node ids.

    Returns:
      int32 array of ``v``'s shape.
    """
    degree = adjacency.degree[v]
    u = jax.random.uniform(key, v.shape)
    pick = jnp.minimum((u * degree).astype(jnp.int32), jnp.maximum(degree - 1, 0))
    index = jnp.minimum(adjacency.offsets[v] + pick, adjacency.neighbours.shape[0] - 1)
    return jnp.where(degree > 0, adjacency.neighbours[index], v).astype(jnp.int32)
