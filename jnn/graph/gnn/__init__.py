"""Message-passing layers on Jraph ``GraphsTuple``s (curriculum G2)."""

from jnn.graph.gnn.gat import GATConv, attention_edges, edge_softmax
from jnn.graph.gnn.gcn import GCNConv, gcn_normalisation
from jnn.graph.gnn.ggnn import GatedGraphConv
from jnn.graph.gnn.sage import AGGREGATORS, SAGEConv, aggregate_neighbours
from jnn.graph.gnn.sampling import (
    SAGEStack,
    SampledNeighbourhood,
    in_neighbour_lists,
    sample_neighbourhood,
)

__all__ = [
    "AGGREGATORS",
    "GATConv",
    "GCNConv",
    "GatedGraphConv",
    "SAGEConv",
    "SAGEStack",
    "SampledNeighbourhood",
    "aggregate_neighbours",
    "attention_edges",
    "edge_softmax",
    "gcn_normalisation",
    "in_neighbour_lists",
    "sample_neighbourhood",
]
