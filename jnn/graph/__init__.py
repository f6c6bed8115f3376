"""Graph networks, curriculum G1-G4, on Jraph ``GraphsTuple``s.

Public API:
  GCNConv(features), gcn_normalisation(graph, edge_weight)
                                         graph convolution (Kipf & Welling 2017)
"""

from jnn.graph.gnn import GCNConv, gcn_normalisation

__all__ = ["GCNConv", "gcn_normalisation"]
