"""Spectral embeddings against scikit-learn, SciPy and closed forms."""

import functools

import jraph
import numpy as np
import pytest
import scipy.linalg
from sklearn.manifold import SpectralEmbedding

from jnn.data import load_karate_club
from jnn.graph.embeddings import (
    adjacency_spectral_embedding,
    laplacian_eigenmap,
    normalised_laplacian,
)


def graph_of(edges, n):
    edges = np.asarray(edges, np.int32)
    senders = np.concatenate([edges[:, 0], edges[:, 1]])
    receivers = np.concatenate([edges[:, 1], edges[:, 0]])
    return jraph.GraphsTuple(
        nodes=None,
        edges=None,
        senders=senders,
        receivers=receivers,
        globals=None,
        n_node=np.array([n], np.int32),
        n_edge=np.array([len(senders)], np.int32),
    )


@functools.cache
def karate():
    data = load_karate_club()
    a = np.zeros((34, 34))
    a[np.asarray(data.graph.senders), np.asarray(data.graph.receivers)] = 1
    return data, a


def align_signs(x, reference):
    signs = np.sign(np.sum(x * reference, axis=0))
    return x * signs


def test_eigenmap_equals_scikit_learn_spectral_embedding():
    data, a = karate()
    y, eigenvalues = laplacian_eigenmap(data.graph, 4, return_eigenvalues=True)
    y = np.asarray(y)
    reference = SpectralEmbedding(
        n_components=4, affinity="precomputed", eigen_solver="arpack", random_state=0
    ).fit_transform(a)
    np.testing.assert_allclose(align_signs(y, reference), reference, atol=1e-5)
    assert np.rad2deg(scipy.linalg.subspace_angles(y, reference)).max() < 0.01
    # The generalised problem L y = lambda D y, with SciPy's solver.
    values = scipy.linalg.eigh(
        np.diag(a.sum(1)) - a, np.diag(a.sum(1)), eigvals_only=True
    )
    np.testing.assert_allclose(eigenvalues, values[1:5], rtol=1e-5)


def test_eigenmap_of_a_cycle_has_the_closed_form_spectrum():
    # C_n: L_sym eigenvalues 1 - cos(2 pi k / n), each pair k, n - k degenerate.
    n = 12
    graph = graph_of([(i, (i + 1) % n) for i in range(n)], n)
    y, eigenvalues = laplacian_eigenmap(graph, 4, return_eigenvalues=True)
    k = np.array([1, 1, 2, 2])
    np.testing.assert_allclose(eigenvalues, 1 - np.cos(2 * np.pi * k / n), atol=1e-5)
    # Within the degenerate pairs only the subspace is defined: Fourier modes.
    theta = 2 * np.pi * np.arange(n) / n
    fourier = np.stack(
        [np.cos(theta), np.sin(theta), np.cos(2 * theta), np.sin(2 * theta)], axis=1
    )
    assert np.rad2deg(scipy.linalg.subspace_angles(np.asarray(y), fourier)).max() < 0.01


def test_laplacian_is_normalised_with_isolated_nodes():
    a = np.zeros((4, 4), np.float32)
    a[0, 1] = a[1, 0] = 2.0
    a[1, 2] = a[2, 1] = 1.0
    laplacian, inv_sqrt = normalised_laplacian(a)
    d = a.sum(1)
    expected = np.eye(4) - a / np.sqrt(np.outer(np.maximum(d, 1), np.maximum(d, 1)))
    np.testing.assert_allclose(laplacian, expected, rtol=1e-6)
    np.testing.assert_allclose(inv_sqrt, [2**-0.5, 3**-0.5, 1.0, 0.0], rtol=1e-6)


def test_adjacency_spectral_embedding_equals_scipy():
    data, a = karate()
    x, eigenvalues = adjacency_spectral_embedding(
        data.graph, 3, return_eigenvalues=True
    )
    values, vectors = scipy.linalg.eigh(a)
    top = np.argsort(-np.abs(values))[:3]
    np.testing.assert_allclose(eigenvalues, values[top], rtol=1e-5)
    reference = vectors[:, top] * np.sqrt(np.abs(values[top]))
    np.testing.assert_allclose(
        align_signs(np.asarray(x), reference), reference, atol=1e-5
    )
    # X X^T with signs restored is the best rank-3 approximation U L U^T of A.
    signed = np.asarray(x) * np.sign(values[top])
    np.testing.assert_allclose(
        signed @ np.asarray(x).T,
        (vectors[:, top] * values[top]) @ vectors[:, top].T,
        atol=1e-5,
    )


def test_fiedler_vector_splits_the_karate_club():
    data, _ = karate()
    y = np.asarray(laplacian_eigenmap(data.graph, 1))[:, 0]
    side = y > 0
    accuracy = max(np.mean(side == data.labels), np.mean(side != data.labels))
    assert accuracy >= 0.94  # 32 of 34 members (measured)


def test_bad_input_names_the_argument():
    data, _ = karate()
    directed = data.graph._replace(
        senders=data.graph.senders[:78],
        receivers=data.graph.receivers[:78],
        n_edge=np.array([78], np.int32),
    )
    with pytest.raises(ValueError, match="undirected"):
        laplacian_eigenmap(directed, 2)
    with pytest.raises(ValueError, match="`dimensions`"):
        laplacian_eigenmap(data.graph, 34)
    with pytest.raises(ValueError, match="`dimensions`"):
        adjacency_spectral_embedding(data.graph, 0)
    with pytest.raises(TypeError, match="GraphsTuple"):
        laplacian_eigenmap(np.eye(3), 1)
