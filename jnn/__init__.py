"""jnn: the classic neural-network canon as pure JAX functions.

Chapters (see CURRICULUM ids): ``jnn.static`` (S: MLP, RBF, EM, SOM, ...),
``jnn.hopfield`` (D: discrete, dense and continuous Hopfield networks, energy
problems, TSP), ``jnn.cnn`` (C: LeNet-5, efficient convolutional nets) and
``jnn.rnn`` (R: Elman, LSTM, GRU and their layer-normalised variants, truncated
BPTT, variational dropout, generation) and ``jnn.transformer`` (T: attention and
its masks and positions, memory-efficient attention, GPT with KV-cached
generation, BERT pre-training and fine-tuning), ``jnn.graph`` (G: DeepWalk and
node2vec embeddings, GCN, GAT, GraphSAGE, GGNN on Jraph graphs, over-smoothing)
and ``jnn.generative`` (Gen: Boltzmann machines, RBMs with CD-k / PCD and AIS,
DBNs), on the shared layers ``jnn.train`` (the compiled training engine: learners, batch
plans, model state, fit/run), ``jnn.data`` (real data sets and readers) and
``jnn.nn`` (building blocks the chapters share: backend-aware convolutions).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = [
    "__version__",
    "cnn",
    "data",
    "generative",
    "graph",
    "hopfield",
    "nn",
    "rnn",
    "static",
    "train",
    "transformer",
]


def __getattr__(name: str) -> Any:
    """Import a chapter on first use: ``import jnn`` alone stays light.

    ``jnn.rnn`` (or ``import jnn.rnn``) imports that chapter and the layers it
    stands on, not every chapter's dependencies (Diffrax, Jraph, ...).
    """
    if name in __all__ and name != "__version__":
        return importlib.import_module(f"jnn.{name}")
    raise AttributeError(f"module 'jnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
