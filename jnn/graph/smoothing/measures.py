r"""Measures of over-smoothing of node representations (curriculum G3).

Stacking graph convolutions makes node representations converge: each
propagation ``P = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}`` averages a node with
its neighbours, and on a connected graph ``P^k H`` tends to the dominant
eigenvector ``\sqrt{\tilde d}`` (Li, Han & Wu 2018; Oono & Suzuki 2020). The
measures here say how far that has gone.

* :func:`dirichlet_energy` (Cai & Wang 2020; Rusch, Bronstein & Mishra 2023):
  the degree-normalised energy

  .. math:: E(H) = \frac{1}{N}\sum_{(i \to j) \in \mathcal E} w_{ij}
            \Big\lVert \frac{h_i}{\sqrt{1 + d_i}} -
            \frac{h_j}{\sqrt{1 + d_j}} \Big\rVert^2

  summed over the stored (directed) edges, so an undirected edge stored in
  both directions counts twice, as in Rusch et al.'s
  ``(1/N) sum_i sum_{j in N(i)}``. For such a graph
  ``E(H) = (2/N) tr(H^T \tilde\Delta H)`` with the augmented normalised
  Laplacian ``\tilde\Delta = I - P`` of Cai & Wang. ``d_i`` is the weighted
  in-degree of ``i`` without self loops (``\tilde D = D + I``, GCN's degree).
  ``normalised=False`` gives the plain ``(1/N) sum w_ij ||h_i - h_j||^2``.
  It is 0 exactly when ``H`` is over-smoothed (``h_i \propto
  \sqrt{1 + d_i}`` on each connected component, resp. constant), and ``k``
  propagations multiply it by at most ``s^{2k}``, ``s < 1`` the second
  largest ``|\lambda|`` of ``P`` on a connected non-bipartite graph (Cai &
  Wang 2020; a weight matrix ``W`` adds a factor ``\lVert W\rVert_2^2``,
  ReLU none).
* :func:`rayleigh_quotient`: ``tr(H^T \tilde\Delta H) / tr(H^T H)`` in
  ``[0, 2]``, the energy with the scale of ``H`` divided out (residual layers
  grow ``H``, PairNorm fixes its scale: energies alone mix scale and shape).
* :func:`mean_pairwise_cosine`: the mean of ``cos(h_i, h_j)`` over the
  ``N(N - 1)`` ordered pairs ``i != j``, computed in ``O(N d)`` from
  ``\sum_{i \ne j} u_i \cdot u_j = \lVert\sum_i u_i\rVert^2 - \sum_i
  \lVert u_i\rVert^2`` for the unit rows ``u_i``; 1 when all rows point the
  same way.
* :func:`mean_average_distance` (MAD, Chen et al. 2020): the mean cosine
  distance ``1 - cos`` over the pairs with non-zero distance, averaged over
  the nodes that have one; ``O(N^2)`` memory (a Gram matrix).

A zero row (a node whose ReLU outputs all vanish) has no direction: its cosine
with anything is taken as 0.

References: Cai & Wang, "A Note on Over-Smoothing for Graph Neural Networks",
ICML GRL+ workshop 2020; Rusch, Bronstein & Mishra, "A Survey on Oversmoothing
in Graph Neural Networks", 2023; Chen, Lin, Li, Li, Zhou & Sun, "Measuring and
Relieving the Over-smoothing Problem for Graph Neural Networks from the
Topological View", AAAI 2020.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph

from jnn._checks import check_array
from jnn.data.graphs import check_graph

#: Rows with a norm below this are treated as zero (no direction).
_TINY = 1e-12
#: Cosine distances below this count as 0 in MAD (float32 rounding of 1 - 1).
_MAD_ZERO = 1e-6


def _check_embeddings(h, name: str = "h") -> None:
    check_array(h, name, ndim=2, kind="f")


def _degree_scale(graph: jraph.GraphsTuple, w: jax.Array, n: int) -> jax.Array:
    """``1 / sqrt(1 + d_i)``, ``d_i`` the weighted in-degree without self loops."""
    not_loop = (graph.senders != graph.receivers).astype(w.dtype)
    degree = jraph.segment_sum(w * not_loop, graph.receivers, n)
    return jax.lax.rsqrt(1.0 + degree)


def _edge_weight(graph: jraph.GraphsTuple, edge_weight, dtype) -> jax.Array:
    if edge_weight is None:
        return jnp.ones(graph.senders.shape, dtype)
    return edge_weight.astype(dtype)


def dirichlet_energy(
    h: jax.Array,
    graph: jraph.GraphsTuple,
    edge_weight: jax.Array | None = None,
    *,
    normalised: bool = True,
) -> jax.Array:
    r"""Dirichlet energy of node representations over the graph's edges.

    .. math:: E(H) = \frac{1}{N}\sum_{(i \to j)} w_{ij} \lVert
              h_i / \sqrt{1 + d_i} - h_j / \sqrt{1 + d_j} \rVert^2

    (the module docstring gives the conventions; without ``normalised`` the
    degree factors are 1).

    Args:
      h: ``(N, d)`` float node representations.
      graph: ``GraphsTuple`` giving ``senders``/``receivers`` ``(E,)``; store an
        undirected graph with both directions of every edge.
      edge_weight: optional ``(E,)`` weights ``w_ij`` (default 1).
      normalised: divide each ``h_i`` by ``sqrt(1 + d_i)`` (Cai & Wang 2020).

    Returns:
      ``[]`` float, ``>= 0``; 0 for an over-smoothed ``H``.

    Raises:
      TypeError, ValueError: ``h`` not a finite 2-D float array, a graph whose
        node count disagrees with ``h``, or a misshapen ``edge_weight``.

    Example:
      >>> from jnn.data import load_karate_club
      >>> g = load_karate_club().graph
      >>> float(dirichlet_energy(jnp.ones((34, 3)), g, normalised=False))
      0.0
    """
    _check_embeddings(h)
    check_graph(graph, nodes=h, nodes_name="h", edge_weight=edge_weight)
    if not isinstance(normalised, bool):
        raise TypeError(f"`normalised` must be True or False; got {normalised!r}.")
    n = h.shape[0]
    w = _edge_weight(graph, edge_weight, h.dtype)
    if normalised:
        h = h * _degree_scale(graph, w, n)[:, None]
    diff = h[graph.senders] - h[graph.receivers]
    return jnp.sum(w * jnp.sum(diff**2, axis=-1)) / n


def rayleigh_quotient(
    h: jax.Array, graph: jraph.GraphsTuple, edge_weight: jax.Array | None = None
) -> jax.Array:
    r"""Scale-free smoothness ``tr(H^T \tilde\Delta H) / tr(H^T H)``.

    For an undirected graph stored in both directions this is
    ``N E(H) / (2 \lVert H \rVert_F^2)`` with ``E`` the normalised
    :func:`dirichlet_energy`; it lies in ``[0, 2]`` (the spectrum of
    ``\tilde\Delta``) and does not change when ``H`` is scaled.

    Args:
      h: ``(N, d)`` float node representations (not all zero).
      graph: the structure, both directions of every undirected edge stored.
      edge_weight: optional ``(E,)`` weights.

    Returns:
      ``[]`` float; NaN when ``H = 0``.
    """
    energy = dirichlet_energy(h, graph, edge_weight)
    return h.shape[0] * energy / (2.0 * jnp.sum(h**2))


def _unit_rows(h: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Rows scaled to unit length (zero rows stay 0) and which rows are non-zero."""
    norm = jnp.sqrt(jnp.sum(h**2, axis=-1, keepdims=True))
    nonzero = norm > _TINY
    return jnp.where(nonzero, h / jnp.where(nonzero, norm, 1.0), 0.0), nonzero[:, 0]


def mean_pairwise_cosine(h: jax.Array) -> jax.Array:
    r"""Mean cosine similarity over all ordered pairs of distinct nodes.

    .. math:: \bar c = \frac{1}{N(N - 1)} \sum_{i \ne j} u_i \cdot u_j
              = \frac{\lVert \sum_i u_i \rVert^2 - \sum_i \lVert u_i \rVert^2}
                     {N(N - 1)},\qquad u_i = h_i / \lVert h_i \rVert

    in ``O(N d)`` time and memory (no ``N x N`` matrix). A zero row has
    ``u_i = 0``: its cosines count as 0.

    Args:
      h: ``(N, d)`` float node representations, ``N >= 2``.

    Returns:
      ``[]`` float in ``[-1/(N-1), 1]``; 1 when every row points one way.

    Raises:
      TypeError, ValueError: not a finite 2-D float array, or ``N < 2``.
    """
    _check_embeddings(h)
    n = h.shape[0]
    if n < 2:
        raise ValueError(f"`h` must have at least 2 rows (nodes); got {n}.")
    u, _ = _unit_rows(h.astype(jnp.promote_types(h.dtype, jnp.float32)))
    total = jnp.sum(u, axis=0)
    return (jnp.sum(total**2) - jnp.sum(u**2)) / (n * (n - 1))


def mean_average_distance(h: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    r"""MAD of Chen et al. (2020): mean cosine distance between node pairs.

    With ``D_{ij} = 1 - cos(h_i, h_j)`` and the pair mask ``M`` (default: all
    pairs), ``\bar D_i = \sum_j D_{ij} M_{ij} / \#\{j: D_{ij} M_{ij} > 0\}``
    and ``MAD = \sum_i \bar D_i / \#\{i: \bar D_i > 0\}``: pairs at distance 0
    (the node itself, identical directions) are left out of the averages, as
    in the paper (distances below ``1e-6``, the float32 rounding of identical
    directions, count as 0). A zero row is at distance 1 from everything.
    Builds the ``N x N`` Gram matrix.

    Args:
      h: ``(N, d)`` float node representations.
      mask: optional ``(N, N)`` bool pair mask (e.g. pairs within 3 hops, the
        paper's ``MAD^{neb}``, or beyond 8 hops, ``MAD^{rmt}``).

    Returns:
      ``[]`` float in ``[0, 2]``; 0 when every pair is at distance 0.
    """
    _check_embeddings(h)
    n = h.shape[0]
    if mask is not None:
        if not hasattr(mask, "shape") or tuple(mask.shape) != (n, n):
            raise ValueError(
                f"`mask` must be an (N, N) = ({n}, {n}) array of pairs; got "
                f"{getattr(mask, 'shape', mask)!r}."
            )
    u, _ = _unit_rows(h.astype(jnp.promote_types(h.dtype, jnp.float32)))
    distance = jnp.clip(1.0 - u @ u.T, 0.0, 2.0)
    distance = distance * (1.0 - jnp.eye(n, dtype=distance.dtype))
    distance = jnp.where(distance < _MAD_ZERO, 0.0, distance)  # rounding of 0
    if mask is not None:
        distance = distance * mask.astype(distance.dtype)
    counts = jnp.sum(distance > 0, axis=1)
    per_node = jnp.sum(distance, axis=1) / jnp.maximum(counts, 1)
    nodes = jnp.sum(per_node > 0)
    return jnp.sum(per_node) / jnp.maximum(nodes, 1)


def smoothness(
    h: jax.Array, graph: jraph.GraphsTuple, edge_weight: jax.Array | None = None
) -> dict[str, jax.Array]:
    """The O(N d) measures of one representation, as a dict of scalars.

    Args:
      h: ``(N, d)`` node representations.
      graph: the structure.
      edge_weight: optional ``(E,)`` weights.

    Returns:
      ``{"dirichlet_energy", "dirichlet_energy_unnormalised",
      "rayleigh_quotient", "mean_cosine"}``: :func:`dirichlet_energy` with
      and without the degree normalisation, :func:`rayleigh_quotient` and
      :func:`mean_pairwise_cosine`. The normalised energy vanishes at
      ``h_i = c sqrt(1 + d_i)`` (where propagation without bias converges),
      the unnormalised one at equal rows ``h_i = c``.
    """
    return {
        "dirichlet_energy": dirichlet_energy(h, graph, edge_weight),
        "dirichlet_energy_unnormalised": dirichlet_energy(
            h, graph, edge_weight, normalised=False
        ),
        "rayleigh_quotient": rayleigh_quotient(h, graph, edge_weight),
        "mean_cosine": mean_pairwise_cosine(h),
    }
