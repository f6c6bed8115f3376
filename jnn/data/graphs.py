"""Real graphs as Jraph ``GraphsTuple``s.

Zachary's karate club (networkx's bundled copy): 34 members, 78 friendships,
and the split of the club into the instructor's ("Mr. Hi", label 0) and the
administrator's ("Officer", label 1) factions. The classic semi-supervised task
labels only the two leaders (nodes 0 and 33) and predicts the rest.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jraph
import numpy as np

from jnn._checks import is_concrete


class GraphData(NamedTuple):
    """One graph with node labels and node masks.

    Attributes:
      graph: a ``jraph.GraphsTuple`` with one graph; ``nodes`` are one-hot node
        identities ``(n_nodes, n_nodes)`` float32 (the graph has no features),
        ``edges`` the edge weights ``(n_edges, 1)``; every undirected edge is
        stored in both directions.
      labels: ``(n_nodes,)`` int32 community labels.
      train_mask: ``(n_nodes,)`` bool, the labelled nodes.
      test_mask: ``(n_nodes,)`` bool, the nodes to predict.
    """

    graph: jraph.GraphsTuple
    labels: np.ndarray
    train_mask: np.ndarray
    test_mask: np.ndarray


def load_karate_club() -> GraphData:
    """Zachary's karate club as a ``GraphsTuple`` with faction labels.

    Returns:
      :class:`GraphData` with 34 nodes and 156 directed edges (78 undirected);
      ``train_mask`` marks nodes 0 and 33, ``test_mask`` the other 32.

    Example:
      >>> data = load_karate_club()
      >>> int(data.graph.n_node[0]), int(data.graph.n_edge[0]), int(data.labels.sum())
      (34, 156, 17)
    """
    import networkx as nx

    g = nx.karate_club_graph()
    n = g.number_of_nodes()
    edges = np.array([(u, v, d.get("weight", 1.0)) for u, v, d in g.edges(data=True)])
    senders = np.concatenate([edges[:, 0], edges[:, 1]]).astype(np.int32)
    receivers = np.concatenate([edges[:, 1], edges[:, 0]]).astype(np.int32)
    weights = np.concatenate([edges[:, 2], edges[:, 2]]).astype(np.float32)[:, None]
    labels = np.array([g.nodes[i]["club"] != "Mr. Hi" for i in range(n)], np.int32)
    graph = jraph.GraphsTuple(
        nodes=np.eye(n, dtype=np.float32),
        edges=weights,
        senders=senders,
        receivers=receivers,
        globals=None,
        n_node=np.array([n], np.int32),
        n_edge=np.array([len(senders)], np.int32),
    )
    train_mask = np.zeros(n, bool)
    train_mask[[0, n - 1]] = True
    return GraphData(graph, labels, train_mask, ~train_mask)


def check_graph(
    graph: Any,
    name: str = "graph",
    *,
    nodes: Any = None,
    nodes_name: str = "x",
    edge_weight: Any = None,
) -> int:
    """Check a ``GraphsTuple``'s structure at the public boundary; returns ``N``.

    ``N`` is the number of node rows (``sum(n_node)``; with padding, the padded
    count). Senders and receivers must be 1-D int arrays of one length ``E``
    with (when concrete) every index in ``[0, N)``; ``nodes`` (if given, else
    ``graph.nodes`` when it is an array) must have ``N`` rows; ``edge_weight``
    (if given) must be ``(E,)`` floating.

    Raises:
      TypeError: not a ``GraphsTuple``, or arrays of the wrong dtype.
      ValueError: an edge pointing outside ``[0, N)``, senders and receivers of
        different lengths, or node features whose count disagrees with ``N``.
    """
    if not isinstance(graph, jraph.GraphsTuple):
        raise TypeError(
            f"`{name}` must be a jraph.GraphsTuple; got {type(graph).__name__}."
        )
    for part in ("senders", "receivers", "n_node"):
        value = getattr(graph, part)
        if not hasattr(value, "dtype") or not np.issubdtype(value.dtype, np.integer):
            raise TypeError(f"`{name}.{part}` must be an int array; got {value!r}.")
        if len(value.shape) != 1:
            raise ValueError(
                f"`{name}.{part}` must be 1-D; got shape {tuple(value.shape)}."
            )
    if graph.senders.shape != graph.receivers.shape:
        raise ValueError(
            f"`{name}.senders` and `{name}.receivers` must have one length; got "
            f"{graph.senders.shape[0]} and {graph.receivers.shape[0]}."
        )
    if not is_concrete(graph.n_node):
        n = None
    else:
        n = int(np.asarray(graph.n_node).sum())
    if nodes is None and hasattr(graph.nodes, "shape"):
        nodes, nodes_name = graph.nodes, f"{name}.nodes"
    if nodes is not None:
        if not hasattr(nodes, "shape") or len(nodes.shape) < 1:
            raise TypeError(f"`{nodes_name}` must be an array (N, ...); got {nodes!r}.")
        if n is None:
            n = int(nodes.shape[0])
        elif nodes.shape[0] != n:
            raise ValueError(
                f"`{nodes_name}` has {nodes.shape[0]} rows but `{name}` has "
                f"{n} nodes (sum of n_node); they must agree."
            )
    if n is not None:
        for part in ("senders", "receivers"):
            value = getattr(graph, part)
            if is_concrete(value) and value.shape[0]:
                v = np.asarray(value)
                if v.min() < 0 or v.max() >= n:
                    raise ValueError(
                        f"`{name}.{part}` must index nodes in [0, {n}); got min "
                        f"{v.min()} and max {v.max()} (an edge points outside "
                        "the node range)."
                    )
    if edge_weight is not None:
        if not hasattr(edge_weight, "dtype") or not np.issubdtype(
            edge_weight.dtype, np.floating
        ):
            raise TypeError(
                f"`edge_weight` must be a float array (E,); got {edge_weight!r}."
            )
        if tuple(edge_weight.shape) != tuple(graph.senders.shape):
            raise ValueError(
                f"`edge_weight` must have shape ({graph.senders.shape[0]},), one "
                f"weight per edge; got {tuple(edge_weight.shape)}."
            )
    return -1 if n is None else n
