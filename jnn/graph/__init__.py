"""Graph networks, curriculum G1-G4, on Jraph ``GraphsTuple``s.

Public API:
  adjacency_lists(graph) -> Adjacency    CSR neighbour lists (walks, sampling);
  is_neighbour, uniform_neighbour        compiled membership test and draw
  GCNConv(features), gcn_normalisation   graph convolution (Kipf & Welling 2017)
  GATConv(features, heads, concat, negative_slope, dropout_rate),
  edge_softmax, attention_edges          graph attention (Veličković et al. 2018)
  SAGEConv(features, aggregator='mean'|'max'|'pool'), aggregate_neighbours
                                         GraphSAGE (Hamilton et al. 2017)
  sample_neighbourhood(key, adjacency, seeds, fan_outs), in_neighbour_lists,
  SampledNeighbourhood, SAGEStack        fixed fan-out neighbour sampling and a
                                         SAGE stack on full or sampled graphs
  GatedGraphConv(features, num_layers)   GGNN (Li et al. 2016)
  random_walks, node2vec_walks, walk_starts
                                         DeepWalk / node2vec walks, compiled (G1)
  SkipGram, skipgram_loss, negative_sampling_loss, unigram_distribution,
  skipgram_embeddings, deepwalk, node2vec
                                         skip-gram with negative sampling
  laplacian_eigenmap, adjacency_spectral_embedding, normalised_laplacian
                                         spectral embeddings
"""

from jnn.graph.adjacency import (
    Adjacency,
    adjacency_lists,
    is_neighbour,
    uniform_neighbour,
)
from jnn.graph.embeddings import (
    SkipGram,
    adjacency_spectral_embedding,
    deepwalk,
    laplacian_eigenmap,
    negative_sampling_loss,
    node2vec,
    node2vec_walks,
    normalised_laplacian,
    random_walks,
    skipgram_embeddings,
    skipgram_loss,
    unigram_distribution,
    walk_starts,
)
from jnn.graph.gnn import (
    AGGREGATORS,
    GATConv,
    GatedGraphConv,
    GCNConv,
    SAGEConv,
    SAGEStack,
    SampledNeighbourhood,
    aggregate_neighbours,
    attention_edges,
    edge_softmax,
    gcn_normalisation,
    in_neighbour_lists,
    sample_neighbourhood,
)

__all__ = [
    "SkipGram",
    "adjacency_spectral_embedding",
    "deepwalk",
    "laplacian_eigenmap",
    "negative_sampling_loss",
    "node2vec",
    "node2vec_walks",
    "normalised_laplacian",
    "random_walks",
    "skipgram_embeddings",
    "skipgram_loss",
    "unigram_distribution",
    "walk_starts",
    "AGGREGATORS",
    "Adjacency",
    "GATConv",
    "GCNConv",
    "GatedGraphConv",
    "SAGEConv",
    "SAGEStack",
    "SampledNeighbourhood",
    "adjacency_lists",
    "aggregate_neighbours",
    "attention_edges",
    "edge_softmax",
    "gcn_normalisation",
    "in_neighbour_lists",
    "is_neighbour",
    "sample_neighbourhood",
    "uniform_neighbour",
]
