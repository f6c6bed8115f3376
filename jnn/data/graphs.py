"""Real graphs as Jraph ``GraphsTuple``s.

Zachary's karate club (networkx's bundled copy): 34 members, 78 friendships,
and the split of the club into the instructor's ("Mr. Hi", label 0) and the
administrator's ("Officer", label 1) factions. The classic semi-supervised task
labels only the two leaders (nodes 0 and 33) and predicts the rest.
"""

from __future__ import annotations

from typing import NamedTuple

import jraph
import numpy as np


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
