"""Node embeddings without node features (curriculum G1).

Public API:
  random_walks(key, adjacency, starts, length)        DeepWalk's uniform walks
  node2vec_walks(key, adjacency, starts, length, p, q)
                                         node2vec's second-order biased walks
  walk_starts(n_nodes, walks_per_node)   start nodes of r passes over the nodes
  SkipGram(n_nodes, features)            node and context embedding tables
  skipgram_loss(model, noise, window, negatives)
                                         skip-gram negative-sampling loss of
                                         walks, for jnn.train
  negative_sampling_loss(z_u, z_pos, z_neg)
                                         -log s(z_u.z_pos) - sum log s(-z_u.z_neg)
  unigram_distribution(walks, n_nodes)   noise distribution count^(3/4)
  skipgram_embeddings(key, walks, n_nodes, ...)       train skip-gram on walks
  deepwalk(key, graph, ...), node2vec(key, graph, ..., p, q)
                                         (N, d) embeddings of a graph
  laplacian_eigenmap(graph, d), adjacency_spectral_embedding(graph, d),
  normalised_laplacian(adjacency)        spectral embeddings
"""

from jnn.graph.embeddings.skipgram import (
    SkipGram,
    deepwalk,
    negative_sampling_loss,
    node2vec,
    skipgram_embeddings,
    skipgram_loss,
    unigram_distribution,
)
from jnn.graph.embeddings.spectral import (
    adjacency_spectral_embedding,
    laplacian_eigenmap,
    normalised_laplacian,
)
from jnn.graph.embeddings.walks import node2vec_walks, random_walks, walk_starts

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
]
