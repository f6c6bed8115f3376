r"""Spectral node embeddings: Laplacian eigenmaps and adjacency spectral embedding.

The adjacency-based embeddings of curriculum G1, computed exactly from a dense
eigendecomposition (``jnp.linalg.eigh``: ``O(N^3)`` time and ``O(N^2)``
memory, a few seconds for Cora's 2,708 nodes on one CPU core).

* Laplacian eigenmap (Belkin & Niyogi 2003): minimise
  :math:`\sum_{ij} A_{ij} \lVert y_i - y_j \rVert^2` subject to
  :math:`Y^\top D Y = I`: the generalised eigenproblem :math:`L y = \lambda D
  y` with :math:`L = D - A`. Its solutions are :math:`y = D^{-1/2} u` for the
  eigenvectors ``u`` of the normalised Laplacian
  :math:`L_{sym} = I - D^{-1/2} A D^{-1/2}`; the embedding keeps the
  eigenvectors of the ``dimensions`` smallest eigenvalues after the first
  (:math:`\lambda_1 = 0`, a constant ``y``), as scikit-learn's
  ``SpectralEmbedding`` does. A graph with ``c`` connected components has
  ``c`` zero eigenvalues whose eigenvectors are component indicators; only
  the first is dropped.
* Adjacency spectral embedding (Sussman et al. 2012):
  :math:`X = U_d |\Lambda_d|^{1/2}` for the ``d`` eigenvalues of ``A`` largest
  in magnitude, so that :math:`X X^\top` approximates ``A`` (a random dot
  product graph's latent positions, up to rotation).

Eigenvectors are defined up to sign (and up to rotation inside a repeated
eigenvalue); each column is flipped so that its entry of largest magnitude is
positive (scikit-learn's convention).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jnn._checks import check_positive_int
from jnn.data.graphs import check_graph


def _dense_adjacency(graph: jraph.GraphsTuple, edge_weight, name: str) -> jax.Array:
    """``(N, N)`` float32 ``A`` with ``A[s, r] = sum of weights s -> r``; symmetric."""
    n = check_graph(graph, name, edge_weight=edge_weight)
    if n < 0:
        raise ValueError(f"`{name}.n_node` must be concrete (a static node count).")
    senders, receivers = np.asarray(graph.senders), np.asarray(graph.receivers)
    w = (
        np.ones(senders.shape, np.float32)
        if edge_weight is None
        else np.asarray(edge_weight, np.float32)
    )
    a = np.zeros((n, n), np.float32)
    np.add.at(a, (senders, receivers), w)
    if not np.allclose(a, a.T):
        raise ValueError(
            f"`{name}` must be undirected (every edge stored in both directions "
            "with one weight): spectral embeddings need a symmetric adjacency."
        )
    return jnp.asarray(a)


def _check_dimensions(dimensions: int, n: int, drop: int) -> None:
    check_positive_int(dimensions, "dimensions")
    if dimensions + drop > n:
        raise ValueError(
            f"`dimensions` must be <= {n - drop} for a graph of {n} nodes; "
            f"got {dimensions}."
        )


def _sign_flip(vectors: jax.Array) -> jax.Array:
    """Flip each column so that its entry of largest magnitude is positive."""
    rows = jnp.argmax(jnp.abs(vectors), axis=0)
    signs = jnp.sign(vectors[rows, jnp.arange(vectors.shape[1])])
    return vectors * jnp.where(signs == 0, 1.0, signs)[None, :]


def normalised_laplacian(adjacency: jax.Array) -> tuple[jax.Array, jax.Array]:
    r"""``(L_sym, d^{-1/2})`` of a dense symmetric adjacency ``A``.

    .. math:: L_{sym} = I - D^{-1/2} A D^{-1/2}

    An isolated node (degree 0) gets ``d^{-1/2} = 0``: its row of ``L_sym`` is
    the identity's.

    Args:
      adjacency: ``(N, N)`` float symmetric ``A``.

    Returns:
      ``(N, N)`` ``L_sym`` and ``(N,)`` ``d^{-1/2}``.
    """
    degree = adjacency.sum(axis=1)
    inv_sqrt = jnp.where(degree > 0, jax.lax.rsqrt(jnp.maximum(degree, 1e-30)), 0.0)
    scaled = inv_sqrt[:, None] * adjacency * inv_sqrt[None, :]
    return jnp.eye(adjacency.shape[0], dtype=adjacency.dtype) - scaled, inv_sqrt


@partial(jax.jit, static_argnames="dimensions")
def _eigenmap(adjacency, dimensions):
    laplacian, inv_sqrt = normalised_laplacian(adjacency)
    eigenvalues, u = jnp.linalg.eigh(laplacian)
    y = inv_sqrt[:, None] * u[:, 1 : dimensions + 1]
    return _sign_flip(y), eigenvalues[1 : dimensions + 1]


def laplacian_eigenmap(
    graph: jraph.GraphsTuple,
    dimensions: int,
    *,
    edge_weight: np.ndarray | None = None,
    return_eigenvalues: bool = False,
):
    r"""Laplacian eigenmap of an undirected graph (Belkin & Niyogi 2003).

    .. math:: L y_k = \lambda_k D y_k, \qquad
              Y = [y_2, \dots, y_{d+1}] = D^{-1/2} [u_2, \dots, u_{d+1}]

    with ``u_k`` the unit eigenvectors of :math:`L_{sym}` for its eigenvalues
    :math:`0 = \lambda_1 \le \lambda_2 \le \dots` (equal to scikit-learn's
    ``SpectralEmbedding(affinity="precomputed")`` up to sign).

    Args:
      graph: a ``GraphsTuple`` storing both directions of every edge.
      dimensions: ``d``, columns kept (``d + 1 <= N``).
      edge_weight: optional ``(E,)`` float weights ``A_ij`` (default 1).
      return_eigenvalues: also return :math:`\lambda_2..\lambda_{d+1}`.

    Returns:
      ``(N, d)`` float32 ``Y`` (and ``(d,)`` eigenvalues if asked).

    Raises:
      ValueError: a directed (asymmetric) graph, ``dimensions`` out of range.

    Example:
      >>> from jnn.data import load_karate_club
      >>> laplacian_eigenmap(load_karate_club().graph, 2).shape
      (34, 2)
    """
    a = _dense_adjacency(graph, edge_weight, "graph")
    _check_dimensions(dimensions, a.shape[0], 1)
    y, eigenvalues = _eigenmap(a, int(dimensions))
    return (y, eigenvalues) if return_eigenvalues else y


@partial(jax.jit, static_argnames="dimensions")
def _adjacency_embedding(adjacency, dimensions):
    eigenvalues, u = jnp.linalg.eigh(adjacency)
    top = jnp.argsort(-jnp.abs(eigenvalues))[:dimensions]
    x = u[:, top] * jnp.sqrt(jnp.abs(eigenvalues[top]))[None, :]
    return _sign_flip(x), eigenvalues[top]


def adjacency_spectral_embedding(
    graph: jraph.GraphsTuple,
    dimensions: int,
    *,
    edge_weight: np.ndarray | None = None,
    return_eigenvalues: bool = False,
):
    r"""Adjacency spectral embedding (Sussman, Tang, Fishkind & Priebe 2012).

    .. math:: X = U_d\, |\Lambda_d|^{1/2}

    for the ``d`` eigenpairs of ``A`` largest in :math:`|\lambda|` (in that
    order).

    Args:
      graph: a ``GraphsTuple`` storing both directions of every edge.
      dimensions: ``d <= N``.
      edge_weight: optional ``(E,)`` float weights (default 1).
      return_eigenvalues: also return the ``d`` eigenvalues (signed).

    Returns:
      ``(N, d)`` float32 ``X`` (and ``(d,)`` eigenvalues if asked).

    Raises:
      ValueError: a directed (asymmetric) graph, ``dimensions`` out of range.
    """
    a = _dense_adjacency(graph, edge_weight, "graph")
    _check_dimensions(dimensions, a.shape[0], 0)
    x, eigenvalues = _adjacency_embedding(a, int(dimensions))
    return (x, eigenvalues) if return_eigenvalues else x
