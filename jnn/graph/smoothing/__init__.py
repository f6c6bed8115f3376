"""Over-smoothing of deep graph networks and its remedies (curriculum G3).

Public API:
  dirichlet_energy(h, graph, edge_weight=None, *, normalised=True)
  rayleigh_quotient(h, graph, edge_weight=None)
  mean_pairwise_cosine(h), mean_average_distance(h, mask=None)   (MAD)
  smoothness(h, graph, edge_weight=None) -> dict of the O(N d) measures
  DeepGCN(graph, n_classes, depth, hidden, dropout_rate, n_features, residual,
          virtual_node, pair_norm, drop_edge, initial_residual, identity_lambda)
                                        deep GCN, hidden layers under nn.scan
  hidden_representations(model, params, x, values=None) -> (L - 1, N, d)
  pair_norm(x, scale), drop_edge(key, graph, rate), add_virtual_nodes(graph),
  identity_mapping_strength(layer, lam)  the remedies (PairNorm, DropEdge,
                                        virtual node, GCNII's beta)
"""

from jnn.graph.smoothing.deep import DeepGCN, hidden_representations
from jnn.graph.smoothing.measures import (
    dirichlet_energy,
    mean_average_distance,
    mean_pairwise_cosine,
    rayleigh_quotient,
    smoothness,
)
from jnn.graph.smoothing.remedies import (
    VirtualNodes,
    add_virtual_nodes,
    drop_edge,
    identity_mapping_strength,
    pair_norm,
)

__all__ = [
    "DeepGCN",
    "VirtualNodes",
    "add_virtual_nodes",
    "dirichlet_energy",
    "drop_edge",
    "hidden_representations",
    "identity_mapping_strength",
    "mean_average_distance",
    "mean_pairwise_cosine",
    "pair_norm",
    "rayleigh_quotient",
    "smoothness",
]
