r"""Remedies for over-smoothing that act on features or on the graph (G3).

* :func:`pair_norm` (Zhao & Akoglu, "PairNorm: Tackling Oversmoothing in
  GNNs", ICLR 2020): centre the representations and rescale them so that the
  total pairwise squared distance stays ``2 N^2 s^2`` at every layer.
* :func:`drop_edge` (Rong, Huang, Xu & Huang, "DropEdge: Towards Deep Graph
  Convolutional Networks on Node Classification", ICLR 2020): remove a random
  fraction of the edges at every training step (the GCN normalisation is then
  recomputed on the sampled graph).
* :func:`add_virtual_nodes` (Gilmer et al. 2017; the "master node" of Li et
  al. 2017): graph augmentation, one extra node per graph joined to every node
  of it in both directions.
* :func:`identity_mapping_strength`: GCNII's ``beta_l = log(lambda / l + 1)``
  (Chen, Wei, Huang, Ding & Li, "Simple and Deep Graph Convolutional
  Networks", ICML 2020); the layer itself is in :mod:`jnn.graph.smoothing.deep`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jnn._checks import (
    check_array,
    check_fraction,
    check_key,
    check_positive_float,
    check_positive_int,
    is_concrete,
)
from jnn.data.graphs import check_graph

#: PairNorm's guard inside the square root (as the authors' code, 1e-6).
PAIR_NORM_EPS = 1e-6


def pair_norm(x: jax.Array, scale: float = 1.0) -> jax.Array:
    r"""PairNorm, "PN" mode: centre, then fix the mean squared row norm.

    .. math:: \tilde x_i = x_i - \frac{1}{N}\sum_j x_j, \qquad
              \hat x_i = s \, \tilde x_i \Big/ \sqrt{\epsilon +
              \tfrac{1}{N}\textstyle\sum_j \lVert\tilde x_j\rVert^2}

    so that ``sum_{i,j} ||x̂_i - x̂_j||^2 = 2 N sum_i ||x̂_i||^2 = 2 N^2 s^2``
    (up to ``epsilon``): the total pairwise distance, which repeated
    propagation drives to 0, is held constant.

    Args:
      x: ``(N, d)`` float node representations.
      scale: ``s > 0`` (the paper uses 1 on Cora).

    Returns:
      ``(N, d)`` of ``x``'s dtype.
    """
    check_array(x, "x", ndim=2, kind="f")
    check_positive_float(scale, "scale")
    centred = x - jnp.mean(x, axis=0, keepdims=True)
    mean_square = jnp.mean(jnp.sum(centred**2, axis=-1))
    return scale * centred * jax.lax.rsqrt(PAIR_NORM_EPS + mean_square)


def drop_edge(
    key: jax.Array,
    graph: jraph.GraphsTuple,
    rate: float,
    edge_weight: jax.Array | None = None,
) -> jax.Array:
    r"""Edge weights with a random ``floor(rate E)`` of the ``E`` edges set to 0.

    DropEdge removes a fixed number ``V_p = p |E|`` of edges drawn uniformly
    (Rong et al. 2020, Eq. 8), here as zero weights so that shapes stay static;
    feeding the weights to GCN's normalisation re-normalises the sampled graph
    (``\tilde D`` is the degree of what is left). Each stored direction of an
    undirected edge is drawn on its own (as the authors' sampler does on the
    non-zeros of the adjacency matrix).

    Args:
      key: PRNG key (draw a new one every training step).
      graph: the structure (``senders`` ``(E,)``).
      rate: ``p`` in ``[0, 1)``.
      edge_weight: optional ``(E,)`` weights to thin (default 1).

    Returns:
      ``(E,)`` float32 (or ``edge_weight``'s dtype) weights: 0 on dropped edges.
    """
    check_key(key)
    check_graph(graph, edge_weight=edge_weight)
    check_fraction(rate, "rate")
    n_edges = graph.senders.shape[0]
    weights = jnp.ones((n_edges,), jnp.float32) if edge_weight is None else edge_weight
    dropped = math.floor(rate * n_edges)
    if dropped == 0:
        return weights
    order = jax.random.permutation(key, n_edges)
    keep = jnp.ones((n_edges,), weights.dtype).at[order[:dropped]].set(0.0)
    return weights * keep


class VirtualNodes(NamedTuple):
    """A graph augmented with one virtual node per graph.

    Attributes:
      graph: the augmented ``GraphsTuple`` (``n_node + 1`` and ``n_edge + 2 n``
        for a graph of ``n`` nodes; ``nodes`` and ``edges`` None).
      edge_weight: ``(E + 2N,)`` weights (the given ones, 1 on the added
        edges), or None when none were given.
      real: ``(N,)`` int32 rows of the original nodes in the augmented graph:
        ``h_aug = zeros.at[real].set(h)`` places features, ``out[real]`` takes
        a layer's output back.
    """

    graph: jraph.GraphsTuple
    edge_weight: jax.Array | None
    real: np.ndarray


def add_virtual_nodes(
    graph: jraph.GraphsTuple, edge_weight: jax.Array | None = None
) -> VirtualNodes:
    """Add one node per graph, joined to each of its nodes in both directions.

    Every node gains a path of length 2 to every other node of its graph (the
    diameter drops to at most 2), the graph augmentation of curriculum G3.
    The virtual node of graph ``g`` follows ``g``'s own nodes, so the nodes of
    each graph stay contiguous (jraph's convention; padding graphs get one too,
    joined to padding nodes only). Built on the host: ``n_node`` must be
    concrete.

    Args:
      graph: the structure, ``n_node`` ``(G,)``.
      edge_weight: optional ``(E,)`` weights of the existing edges.

    Returns:
      :class:`VirtualNodes`.

    Raises:
      ValueError: ``n_node`` not concrete.

    Example:
      >>> from jnn.data import load_karate_club
      >>> out = add_virtual_nodes(load_karate_club().graph)
      >>> out.graph.n_node.tolist(), int(out.graph.n_edge[0]), int(out.real[-1])
      ([35], 224, 33)
    """
    check_graph(graph, edge_weight=edge_weight)
    if not is_concrete(graph.n_node):
        raise ValueError("`graph.n_node` must be concrete to add virtual nodes.")
    n_node = np.asarray(graph.n_node).astype(np.int64)
    n_graphs, n = n_node.shape[0], int(n_node.sum())
    check_positive_int(n_graphs, "len(graph.n_node)")
    graph_of = np.repeat(np.arange(n_graphs), n_node)
    real = (np.arange(n) + graph_of).astype(np.int32)  # shift past earlier virtuals
    virtual = (np.cumsum(n_node) + np.arange(n_graphs)).astype(np.int32)
    to_virtual = virtual[graph_of]
    if is_concrete(graph.senders) and is_concrete(graph.receivers):
        xp, old_senders, old_receivers = np, graph.senders, graph.receivers
        old_senders, old_receivers = np.asarray(old_senders), np.asarray(old_receivers)
    else:  # a traced structure: index on the device
        xp, old_senders, old_receivers = jnp, graph.senders, graph.receivers
    shift = xp.asarray(real)
    senders = xp.concatenate([shift[old_senders], real, to_virtual])
    receivers = xp.concatenate([shift[old_receivers], to_virtual, real])
    weights = None
    if edge_weight is not None:
        weights = jnp.concatenate([edge_weight, jnp.ones((2 * n,), edge_weight.dtype)])
    augmented = jraph.GraphsTuple(
        nodes=None,
        edges=None,
        senders=senders.astype(np.int32),
        receivers=receivers.astype(np.int32),
        globals=graph.globals,
        n_node=(n_node + 1).astype(np.int32),
        n_edge=(np.asarray(graph.n_edge) + 2 * n_node).astype(np.int32),
    )
    return VirtualNodes(augmented, weights, real)


def identity_mapping_strength(layer: int | jax.Array, lam: float = 0.5) -> jax.Array:
    r"""GCNII's ``beta_l = log(lambda / l + 1)`` for layer ``l >= 1``.

    Deeper layers get a weight matrix closer to the identity,
    ``(1 - beta_l) I + beta_l W_l``, which bounds the change of the
    representation per layer (Chen et al. 2020, Eq. 5).

    Args:
      layer: ``l``, 1-based index (int or int array).
      lam: ``lambda > 0`` (0.5 on Cora in the paper).

    Returns:
      ``[]`` (or ``layer``'s shape) float32.
    """
    check_positive_float(lam, "lam")
    if isinstance(layer, int) and not isinstance(layer, bool):
        check_positive_int(layer, "layer")
    return jnp.log(lam / jnp.asarray(layer, jnp.float32) + 1.0)
