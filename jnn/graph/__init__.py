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
  GCN, GAT, GraphSAGE, GGNN, input_layer node classifiers with the papers' settings
                                         (sparse-row or dense features)
  node_classification_data, node_classification_loss, Settings,
  default_settings, node_learner, train_seeds, SeedResults,
  attention_compiler_options             transductive training through jnn.train
  window_mean_rise, patience_on_loss_and_accuracy
                                         Kipf's and GAT's early stopping rules
  inductive_data, train_supervised, SAGEEncoder, walk_pairs, unsupervised_loss,
  train_unsupervised, linear_probe, InductiveData
                                         inductive training (G4): unseen test nodes
  padded_rows, SparseRows, sparse_matmul, sparse_dropout, sparse_input
                                         sparse bag-of-words features, N-leading
  dirichlet_energy, rayleigh_quotient, mean_pairwise_cosine,
  mean_average_distance, smoothness, DeepGCN, hidden_representations,
  pair_norm, drop_edge, add_virtual_nodes, VirtualNodes,
  identity_mapping_strength              over-smoothing and its remedies (G3)
"""

from jnn import _threefry  # noqa: F401 (Threefry unrolled on CPU)
from jnn.graph.adjacency import (
    Adjacency,
    adjacency_lists,
    is_neighbour,
    uniform_neighbour,
)
from jnn.graph.early_stopping import (
    patience_on_loss_and_accuracy,
    window_mean_rise,
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
from jnn.graph.inductive import (
    InductiveData,
    SAGEEncoder,
    inductive_data,
    linear_probe,
    train_supervised,
    train_unsupervised,
    unsupervised_loss,
    walk_pairs,
)
from jnn.graph.models import (
    GAT,
    GCN,
    GGNN,
    GraphSAGE,
    input_layer,
)
from jnn.graph.node_classification import (
    SeedResults,
    Settings,
    attention_compiler_options,
    default_settings,
    node_classification_data,
    node_classification_loss,
    node_learner,
    train_seeds,
)
from jnn.graph.smoothing import (
    DeepGCN,
    VirtualNodes,
    add_virtual_nodes,
    dirichlet_energy,
    drop_edge,
    hidden_representations,
    identity_mapping_strength,
    mean_average_distance,
    mean_pairwise_cosine,
    pair_norm,
    rayleigh_quotient,
    smoothness,
)
from jnn.graph.sparse_features import (
    SparseRows,
    padded_rows,
    sparse_dropout,
    sparse_input,
    sparse_matmul,
)

__all__ = [
    "patience_on_loss_and_accuracy",
    "sparse_input",
    "window_mean_rise",
    "DeepGCN",
    "GAT",
    "GCN",
    "GGNN",
    "GraphSAGE",
    "InductiveData",
    "SAGEEncoder",
    "SeedResults",
    "Settings",
    "SparseRows",
    "VirtualNodes",
    "add_virtual_nodes",
    "default_settings",
    "dirichlet_energy",
    "drop_edge",
    "hidden_representations",
    "identity_mapping_strength",
    "inductive_data",
    "input_layer",
    "linear_probe",
    "mean_average_distance",
    "mean_pairwise_cosine",
    "node_classification_data",
    "node_classification_loss",
    "node_learner",
    "attention_compiler_options",
    "padded_rows",
    "pair_norm",
    "rayleigh_quotient",
    "smoothness",
    "sparse_dropout",
    "sparse_matmul",
    "train_seeds",
    "train_supervised",
    "train_unsupervised",
    "unsupervised_loss",
    "walk_pairs",
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
