"""Real data sets with fixed splits, mini-batching, and graph readers.

Public API:
  load(name, *, seed, ...) -> Dataset      digits, iris, wine, breast_cancer,
                                           diabetes (scikit-learn), mnist (shipped)
  load_karate_club() -> GraphData          networkx's karate club as a GraphsTuple
  check_graph(graph, name, nodes=, edge_weight=)
                                           a GraphsTuple's structure checked
  load_planetoid(name_or_folder) -> PlanetoidData
                                           Planetoid citation graph (Cora shipped;
                                           CiteSeer/PubMed from a folder), public split
  normalize_features(x)                    row-normalised features (Kipf & Welling)
  pad_graph(graph, n_node, n_edge)         Jraph padding to a power-of-two budget
                                           -> PaddedGraph(graph, node_mask, edge_mask)
  induced_subgraph(graph, node_ids)        subgraph on given nodes, new_to_old ids
  epoch_indices, take, batches, n_batches  mini-batching used by the engine
  load_tsplib(path_or_name) -> TSPInstance TSPLIB95 symmetric TSP (bundled or a file)
  load_tour(path), tsplib_instances()      .opt.tour reader (0-based), bundled names
  gaussian_ring(key, n, modes, radius, std), ring_centres
                                           the 8-Gaussian ring (GAN mode collapse)
  adding_problem, copy_task (key-driven)   long-range memory tasks (+ their baselines)
  mnist_rows(...) -> Dataset               MNIST as 28 steps of 28-pixel rows
  load_text(name_or_path) -> TextCorpus    character corpus (Tiny Shakespeare shipped),
                                           Vocabulary encode/decode, next_token_stream
  speeches, speaker_lines, sentence_pairs  Tiny Shakespeare's speeches; speaker
                                           classification and next-sentence pairs
"""

from jnn import _threefry  # noqa: F401 (Threefry unrolled on CPU)
from jnn.data.batching import batches, epoch_indices, n_batches, take
from jnn.data.datasets import DATASETS, Dataset, load, read_idx, stratified_split
from jnn.data.graph_ops import PaddedGraph, induced_subgraph, pad_graph
from jnn.data.graphs import GraphData, check_graph, load_karate_club
from jnn.data.mixtures import gaussian_ring, ring_centres
from jnn.data.planetoid import (
    PLANETOIDS,
    PlanetoidData,
    load_planetoid,
    normalize_features,
)
from jnn.data.plays import (
    SentencePairs,
    SpeakerLines,
    Speech,
    sentence_pairs,
    speaker_lines,
    speech_splits,
    speeches,
)
from jnn.data.sequences import (
    ADDING_BASELINE_MSE,
    adding_problem,
    copy_task,
    copy_task_baseline,
    mnist_rows,
)
from jnn.data.text import TEXTS, TextCorpus, Vocabulary, load_text, next_token_stream
from jnn.data.tsplib import TSPInstance, load_tour, load_tsplib, tsplib_instances

__all__ = [
    "DATASETS",
    "Dataset",
    "GraphData",
    "check_graph",
    "batches",
    "epoch_indices",
    "load",
    "load_karate_club",
    "n_batches",
    "read_idx",
    "stratified_split",
    "take",
]
__all__ += ["TSPInstance", "load_tour", "load_tsplib", "tsplib_instances"]
__all__ += [
    "ADDING_BASELINE_MSE",
    "adding_problem",
    "gaussian_ring",
    "ring_centres",
    "copy_task",
    "copy_task_baseline",
    "mnist_rows",
]
__all__ += ["TEXTS", "TextCorpus", "Vocabulary", "load_text", "next_token_stream"]
__all__ += [
    "SentencePairs",
    "SpeakerLines",
    "Speech",
    "sentence_pairs",
    "speaker_lines",
    "speech_splits",
    "speeches",
]
__all__ += ["PLANETOIDS", "PlanetoidData", "load_planetoid", "normalize_features"]
__all__ += ["PaddedGraph", "induced_subgraph", "pad_graph"]
