"""Graph utilities on the host: padding to a fixed budget, induced subgraphs.

``jit`` compiles a program per array shape, so a model applied to graphs of
many sizes (subgraphs, mini-batches of graphs) compiles again and again.
:func:`pad_graph` pads a graph to a budget chosen from a few sizes (powers of
two), so that many graphs share one compilation; padding nodes and edges form a
separate dummy graph (Jraph's ``pad_with_graphs``) and never exchange messages
with the real ones. :func:`induced_subgraph` cuts the subgraph on a set of
nodes, e.g. the training nodes of an inductive split (train on the subgraph,
evaluate on nodes it never saw, as GraphSAGE; Hamilton et al., NeurIPS 2017).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jraph
import numpy as np

from jnn._checks import check_positive_int, is_concrete
from jnn.data.graphs import check_graph

__all__ = ["PaddedGraph", "induced_subgraph", "pad_graph"]


class PaddedGraph(NamedTuple):
    """A graph padded to a fixed budget.

    Attributes:
      graph: the padded ``jraph.GraphsTuple``: the input's graphs, then one
        padding graph holding the ``N_pad - N`` padding nodes and ``E_pad - E``
        padding edges (among padding nodes only), zero features.
      node_mask: ``(N_pad,)`` bool, True for the real nodes (the first ``N``).
      edge_mask: ``(E_pad,)`` bool, True for the real edges (the first ``E``).
    """

    graph: jraph.GraphsTuple
    node_mask: np.ndarray
    edge_mask: np.ndarray


def _next_power_of_two(m: int) -> int:
    """The smallest power of two ``>= m`` (1 for ``m <= 1``)."""
    return 1 << max(m - 1, 0).bit_length()


def _host_structure(graph: Any, name: str) -> int:
    """Check ``graph`` and that its structure is concrete; returns ``N``."""
    n = check_graph(graph, name)
    if not all(
        is_concrete(getattr(graph, part)) for part in ("senders", "receivers", "n_node")
    ):
        raise TypeError(
            f"`{name}` must hold concrete arrays (this runs on the host, outside "
            "jit); got traced ones."
        )
    return n


def pad_graph(
    graph: jraph.GraphsTuple, n_node: int | None = None, n_edge: int | None = None
) -> PaddedGraph:
    """Pad ``graph`` to ``n_node`` nodes and ``n_edge`` edges (Jraph padding).

    Default budget: ``n_node`` = the next power of two ``>= N + 1`` (one
    padding node at least, which the dummy graph needs) and ``n_edge`` = the
    next power of two ``>= E``. Graphs whose sizes fall in one power-of-two band
    get the same shapes, so a jitted model compiles once for all of them, at
    the price of at most twice the memory. Pass the largest graph's budget to
    share one compilation across every graph.

    Node (and edge, and global) feature arrays are padded with zeros; one
    padding graph is appended (``n_graph = len(graph.n_node) + 1``). The real
    outputs of a message-passing model (e.g. ``jnn.graph.GCNConv``) are
    unchanged; read them with ``node_mask``.

    Args:
      graph: a ``jraph.GraphsTuple`` with concrete structure, ``N`` nodes and
        ``E`` edges.
      n_node: node budget ``N_pad > N``, or None for the default.
      n_edge: edge budget ``E_pad >= E``, or None for the default.

    Returns:
      :class:`PaddedGraph` ``(graph, node_mask (N_pad,), edge_mask (E_pad,))``.

    Raises:
      TypeError: ``graph`` not a ``GraphsTuple`` (or traced), a budget not an int.
      ValueError: a budget too small for the graph.

    Example:
      >>> import jnn
      >>> padded = pad_graph(jnn.data.load_karate_club().graph)
      >>> padded.graph.nodes.shape, padded.graph.senders.shape
      ((64, 34), (256,))
      >>> int(padded.node_mask.sum()), int(padded.edge_mask.sum())
      (34, 156)
    """
    n = _host_structure(graph, "graph")
    e = int(graph.senders.shape[0])
    check_positive_int(n_node, "n_node", allow_none=True)
    check_positive_int(n_edge, "n_edge", allow_none=True)
    n_node = _next_power_of_two(n + 1) if n_node is None else int(n_node)
    n_edge = _next_power_of_two(e) if n_edge is None else int(n_edge)
    if n_node <= n:
        raise ValueError(
            f"`n_node` must exceed the graph's {n} nodes (the padding graph needs "
            f"one node at least); got {n_node}."
        )
    if n_edge < e:
        raise ValueError(
            f"`n_edge` must be at least the graph's {e} edges; got {n_edge}."
        )
    padded = jraph.pad_with_graphs(graph, n_node, n_edge, n_graph=len(graph.n_node) + 1)
    return PaddedGraph(padded, np.arange(n_node) < n, np.arange(n_edge) < e)


def _take_rows(tree: Any, rows: np.ndarray, length: int, name: str) -> Any:
    """Index the leading axis of every array leaf of ``tree`` with ``rows``."""

    def take(leaf: Any) -> Any:
        if not hasattr(leaf, "shape") or not leaf.shape or leaf.shape[0] != length:
            raise ValueError(
                f"every array of `{name}` must have {length} rows; got "
                f"{getattr(leaf, 'shape', type(leaf).__name__)}."
            )
        return np.asarray(leaf)[rows]

    return jax.tree.map(take, tree)


def induced_subgraph(
    graph: jraph.GraphsTuple, node_ids: Any
) -> tuple[jraph.GraphsTuple, np.ndarray]:
    """The subgraph induced by ``node_ids``: those nodes, the edges between them.

    Node ``i`` of the subgraph is node ``node_ids[i]`` of ``graph``; an edge is
    kept (in its original order) when both its sender and its receiver are in
    ``node_ids``. Node features (every array leaf of ``graph.nodes``) and edge
    features (of ``graph.edges``) are sliced; ``globals`` are kept.

    Args:
      graph: a ``jraph.GraphsTuple`` holding one graph of ``N`` nodes, with
        concrete structure.
      node_ids: ``(n,)`` distinct int node ids in ``[0, N)`` (for a boolean
        mask, pass ``np.flatnonzero(mask)``).

    Returns:
      ``(subgraph, new_to_old)``: a ``GraphsTuple`` with ``n_node = [n]`` and
      int32 senders/receivers in ``[0, n)``, and ``new_to_old`` ``(n,)`` int32,
      the original id of each subgraph node.

    Raises:
      TypeError: ``graph`` not a ``GraphsTuple`` (or traced), ``node_ids`` not
        an int array.
      ValueError: a batch of several graphs, ``node_ids`` empty, not 1-D, out
        of range or repeated.

    Example:
      >>> import jnn
      >>> karate = jnn.data.load_karate_club().graph
      >>> sub, new_to_old = induced_subgraph(karate, [0, 1, 2])
      >>> int(sub.n_edge[0]), new_to_old.tolist()
      (6, [0, 1, 2])
    """
    n = _host_structure(graph, "graph")
    if len(graph.n_node) != 1:
        raise ValueError(
            f"`graph` must hold one graph; got a batch of {len(graph.n_node)}."
        )
    ids = np.asarray(node_ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(
            f"`node_ids` must be int node ids; got dtype {ids.dtype} (for a "
            "boolean mask pass np.flatnonzero(mask))."
        )
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError(f"`node_ids` must be a non-empty 1-D array; got {ids.shape}.")
    if ids.min() < 0 or ids.max() >= n:
        raise ValueError(
            f"`node_ids` must lie in [0, {n}); got min {ids.min()} and max {ids.max()}."
        )
    repeats = ids.size - np.unique(ids).size
    if repeats:
        raise ValueError(f"`node_ids` must be distinct; got {repeats} repeats.")
    old_to_new = np.full(n, -1, np.int64)
    old_to_new[ids] = np.arange(ids.size)
    senders = old_to_new[np.asarray(graph.senders)]
    receivers = old_to_new[np.asarray(graph.receivers)]
    keep = (senders >= 0) & (receivers >= 0)
    e = int(graph.senders.shape[0])
    subgraph = jraph.GraphsTuple(
        nodes=_take_rows(graph.nodes, ids, n, "graph.nodes"),
        edges=_take_rows(graph.edges, np.flatnonzero(keep), e, "graph.edges"),
        senders=senders[keep].astype(np.int32),
        receivers=receivers[keep].astype(np.int32),
        globals=graph.globals,
        n_node=np.array([ids.size], np.int32),
        n_edge=np.array([int(keep.sum())], np.int32),
    )
    return subgraph, ids.astype(np.int32)
