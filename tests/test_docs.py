"""The docstring examples run as written."""

import doctest
import importlib

import pytest

MODULES = [
    "jnn.nn.conv",
    "jnn.generative.vae.elbo",
    "jnn.generative.vae.interpolation",
    "jnn.generative.vae.model",
    "jnn.data.datasets",
    "jnn.data.graphs",
    "jnn.data.graph_ops",
    "jnn.data.planetoid",
    "jnn.graph.adjacency",
    "jnn.graph.gnn.sampling",
    "jnn.graph.embeddings.walks",
    "jnn.graph.embeddings.skipgram",
    "jnn.graph.embeddings.spectral",
    "jnn.graph.smoothing.deep",
    "jnn.graph.smoothing.measures",
    "jnn.graph.smoothing.remedies",
    "jnn.generative.boltzmann.likelihood",
    "jnn.generative.boltzmann.rbm",
    "jnn.data.sequences",
    "jnn.data.text",
    "jnn.cnn.augment",
    "jnn.cnn.counting",
    "jnn.cnn.lenet.model",
    "jnn.data.tsplib",
    "jnn.hopfield.continuous.simulation",
    "jnn.hopfield.problems.tsp_exact",
    "jnn.transformer.vit",
    "jnn.rnn.cells",
    "jnn.rnn.generate",
    "jnn.rnn.gradients",
    "jnn.rnn.language_model",
    "jnn.rnn.sequence",
    "jnn.static.backprop.mlp",
    "jnn.static.mixtures.kmeans",
    "jnn.static.radial.rbf",
    "jnn.train.learner",
    "jnn.train.modules",
    "jnn.train.plans",
    "jnn.transformer.bert",
    "jnn.transformer.gpt",
    "jnn.transformer.masks",
    "jnn.transformer.packing",
    "jnn.transformer.positional",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0
