"""Message-passing layers on Jraph ``GraphsTuple``s (curriculum G2)."""

from jnn.graph.gnn.gcn import GCNConv, gcn_normalisation

__all__ = ["GCNConv", "gcn_normalisation"]
