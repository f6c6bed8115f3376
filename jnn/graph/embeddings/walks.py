r"""Random walks on a graph, compiled: DeepWalk's and node2vec's (curriculum G1).

Every walk is one ``lax.scan`` over its steps; :func:`random_walks` and
:func:`node2vec_walks` ``vmap`` it over the walkers, so a whole corpus of walks
is one compiled call on the device. A walk of ``length`` nodes starts at its
start node and takes ``length - 1`` steps along out-edges (an undirected graph
stores both directions of every edge); a walker on a node without out-edges
stays there.

* DeepWalk (Perozzi, Al-Rfou & Skiena 2014): the next node is uniform over the
  neighbours of the current one, :math:`P(x \mid v) = 1 / \deg(v)`.
* node2vec (Grover & Leskovec 2016): a second-order walk that remembers the
  previous node ``t``. Having come from ``t`` to ``v``, it moves to a neighbour
  ``x`` of ``v`` with probability proportional to

  .. math:: \alpha_{pq}(t, x) = \begin{cases}
            1/p & x = t \quad(\text{return}) \\
            1   & x \in N(t) \quad(\text{a common neighbour of } t, v) \\
            1/q & \text{otherwise} \quad(\text{moving outward})
            \end{cases}

  Small ``p`` keeps the walk near its start (breadth-first-like, local), small
  ``q`` pushes it outward (depth-first-like, exploring); ``p = q = 1`` is
  DeepWalk's walk. The first step is uniform (there is no ``t`` yet).

node2vec's transitions are sampled exactly by rejection, as KnightKing (Yang et
al. 2019) and PyTorch Geometric's torch-cluster do: propose ``x`` uniformly
from ``N(v)`` and accept it with probability :math:`\alpha_{pq}(t, x) / M`;
membership ``x \in N(t)`` is a binary search in ``t``'s sorted adjacency list
(:func:`jnn.graph.adjacency.is_neighbour`). The envelope is KnightKing's with
the return edge folded out: ``M = max(1, 1/q)`` covers every neighbour, and
when ``1/p > M`` the return edge's excess ``1/p - M`` is an extra region of
the proposal that returns to ``t`` at once (area ``deg(v) M + (1/p - M)^+``).
Without it a small ``p`` would lower every acceptance to ``1/(p M)``: on Cora
(27,080 walks of 80 nodes) ``p = 0.25, q = 4`` took 19 s instead of 0.5 s.
A walker that has not accepted after ``max_tries`` proposals falls back to
exact weighted reservoir sampling over ``N(v)`` (Chao 1982: one pass, keep
neighbour ``i`` with probability :math:`\alpha_i / \sum_{j \le i} \alpha_j`),
so every step is drawn from the exact distribution whatever ``max_tries`` is;
the tries only bound the cost. Under ``vmap`` a loop runs until its slowest
walker is done, so the fallback (``deg(v)`` binary searches) must stay rare:
with 32 tries it is, except where acceptance is low (a leaf reached with
``p = 4, q = 0.25`` accepts ``1 / (p M) = 1/16`` of its proposals).

Only unweighted simple graphs are walked: :class:`Adjacency`'s ``weights``
are ignored (a weighted walk would propose by weight instead of uniformly),
and a duplicated edge counts as two neighbours (its return weight is then not
exactly ``1/p``).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_key,
    check_positive_float,
    check_positive_int,
    is_concrete,
)
from jnn.graph.adjacency import Adjacency, is_neighbour, uniform_neighbour

#: Rejection proposals before the exact fallback (see the module docstring).
MAX_TRIES = 32


def _check_walk_args(key, adjacency, starts, length) -> None:
    check_key(key)
    if not isinstance(adjacency, Adjacency):
        raise TypeError(
            "`adjacency` must be a jnn.graph.adjacency.Adjacency (from "
            f"adjacency_lists(graph)); got {type(adjacency).__name__}."
        )
    check_array(starts, "starts", ndim=1, kind="i")
    if isinstance(length, bool) or not isinstance(length, int | np.integer):
        raise TypeError(f"`length` must be an int >= 1; got {length!r}.")
    if length < 1:
        raise ValueError(
            f"`length` (nodes per walk, the start included) must be >= 1; got {length}."
        )
    n = adjacency.n_nodes
    if is_concrete(starts):
        values = np.asarray(starts)
        if values.min() < 0 or values.max() >= n:
            raise ValueError(
                f"`starts` must hold node ids in [0, {n}); got min {values.min()} "
                f"and max {values.max()}."
            )


def walk_starts(n_nodes: int, walks_per_node: int) -> np.ndarray:
    """Start nodes of ``walks_per_node`` passes over every node: ``(r N,)`` int32.

    Pass ``i`` is ``0, 1, ..., N - 1`` (DeepWalk shuffles the order of each
    pass; with independent walkers the order does not matter).
    """
    check_positive_int(n_nodes, "n_nodes")
    check_positive_int(walks_per_node, "walks_per_node")
    return np.tile(np.arange(n_nodes, dtype=np.int32), walks_per_node)


def random_walks(
    key: jax.Array, adjacency: Adjacency, starts: jax.Array, length: int
) -> jax.Array:
    r"""Uniform random walks (DeepWalk, Perozzi et al. 2014).

    .. math:: P(v_{i+1} = x \mid v_i = v) = 1 / \deg(v), \quad x \in N(v)

    Args:
      key: PRNG key.
      adjacency: CSR adjacency from :func:`jnn.graph.adjacency.adjacency_lists`
        (edge weights ignored).
      starts: ``(W,)`` int start node of each walker.
      length: nodes per walk ``L >= 1``, the start included (``L - 1`` steps).

    Returns:
      ``(W, L)`` int32 walks; ``walks[:, 0] == starts``.

    Raises:
      ValueError: ``length < 1``, ``starts`` outside ``[0, N)``.
      TypeError: a bad key, adjacency or ``starts`` dtype.

    Example:
      >>> from jnn.data import load_karate_club
      >>> from jnn.graph.adjacency import adjacency_lists
      >>> adj = adjacency_lists(load_karate_club().graph)
      >>> random_walks(jax.random.key(0), adj, jnp.arange(34), 5).shape
      (34, 5)
    """
    _check_walk_args(key, adjacency, starts, length)
    return _random_walks(key, adjacency, jnp.asarray(starts, jnp.int32), length)


@partial(jax.jit, static_argnames="length")
def _random_walks(key, adjacency, starts, length):
    def walk(key, start):
        def step(v, step_key):
            x = uniform_neighbour(adjacency, step_key, v)
            return x, x

        _, rest = jax.lax.scan(step, start, jax.random.split(key, length - 1))
        return jnp.concatenate([start[None], rest])

    keys = jax.random.split(key, starts.shape[0])
    return jax.vmap(walk)(keys, starts)


def node2vec_walks(
    key: jax.Array,
    adjacency: Adjacency,
    starts: jax.Array,
    length: int,
    p: float = 1.0,
    q: float = 1.0,
    *,
    max_tries: int = MAX_TRIES,
) -> jax.Array:
    r"""Second-order biased walks (node2vec, Grover & Leskovec 2016).

    From ``v``, reached from ``t``, the walk moves to ``x \in N(v)`` with
    probability :math:`\alpha_{pq}(t, x) / \sum_{y \in N(v)} \alpha_{pq}(t, y)`,
    :math:`\alpha = 1/p` if ``x = t``, 1 if ``x`` is a neighbour of ``t``, else
    ``1/q``; sampled exactly (rejection, then the exact fallback described in
    the module docstring). ``p``, ``q`` and ``max_tries`` are traced: every
    setting reuses one compilation (one per walk shape).

    Args:
      key: PRNG key.
      adjacency: CSR adjacency with sorted lists, from
        :func:`jnn.graph.adjacency.adjacency_lists` (unweighted: its weights
        are ignored).
      starts: ``(W,)`` int start nodes.
      length: nodes per walk ``L >= 1``, the start included.
      p: return parameter ``> 0`` (small: return often, stay local).
      q: in-out parameter ``> 0`` (small: move outward, explore).
      max_tries: rejection proposals per step before the exact fallback
        (``>= 0``; 0 samples every step by the fallback).

    Returns:
      ``(W, L)`` int32 walks.

    Raises:
      ValueError: ``p <= 0``, ``q <= 0``, ``length < 1``, ``max_tries < 0``,
        ``starts`` outside ``[0, N)``.
    """
    _check_walk_args(key, adjacency, starts, length)
    check_positive_float(p, "p")
    check_positive_float(q, "q")
    if isinstance(max_tries, bool) or not isinstance(max_tries, int | np.integer):
        raise TypeError(f"`max_tries` must be an int >= 0; got {max_tries!r}.")
    if max_tries < 0:
        raise ValueError(f"`max_tries` must be >= 0; got {max_tries}.")
    return _node2vec_walks(
        key,
        adjacency,
        jnp.asarray(starts, jnp.int32),
        jnp.float32(p),
        jnp.float32(q),
        jnp.int32(max_tries),
        length,
    )


def _bias(adjacency, t, x, p, q):
    """``alpha_pq(t, x)`` for a step ``t -> v -> x`` (``x`` a neighbour of ``v``)."""
    common = is_neighbour(adjacency, t, x)
    return jnp.where(x == t, 1.0 / p, jnp.where(common, 1.0, 1.0 / q))


def _exact_step(adjacency, key, t, v, p, q, active):
    """Weighted reservoir sampling over ``N(v)`` (exact); ``v`` if not ``active``."""
    start, degree = adjacency.offsets[v], adjacency.degree[v]
    last = adjacency.neighbours.shape[0] - 1

    def body(carry):
        i, total, chosen = carry
        x = adjacency.neighbours[jnp.minimum(start + i, last)]
        weight = _bias(adjacency, t, x, p, q)
        total = total + weight
        u = jax.random.uniform(jax.random.fold_in(key, i))
        chosen = jnp.where(u * total < weight, x, chosen)
        return i + 1, total, chosen

    def cond(carry):
        return active & (carry[0] < degree)

    _, _, chosen = jax.lax.while_loop(cond, body, (0, jnp.float32(0.0), v))
    return chosen


@partial(jax.jit, static_argnames="length")
def _node2vec_walks(key, adjacency, starts, p, q, max_tries, length):
    height = jnp.maximum(1.0, 1.0 / q)  # envelope over the non-return weights
    extra = jnp.maximum(1.0 / p - height, 0.0)  # the return edge's weight above it

    def second_order_step(t, v, key):
        degree = adjacency.degree[v]
        start = adjacency.offsets[v]
        last = adjacency.neighbours.shape[0] - 1
        # The return slot exists only when t is a neighbour of v (always in an
        # undirected graph); a walker without neighbours stays (accepted).
        extra_v = jnp.where(is_neighbour(adjacency, v, t), extra, 0.0)
        area = degree * height + extra_v
        k_reject, k_exact = jax.random.split(key)

        def propose(carry):
            tries, _, _ = carry
            u = jax.random.uniform(jax.random.fold_in(k_reject, tries), (2,))
            point = u[0] * area
            slot = jnp.minimum((point / height).astype(jnp.int32), degree - 1)
            x = adjacency.neighbours[jnp.minimum(start + slot, last)]
            weight = jnp.minimum(_bias(adjacency, t, x, p, q), height)
            in_extra = point >= degree * height
            accepted = in_extra | (u[1] * height < weight)
            return tries + 1, accepted, jnp.where(in_extra, t, x)

        def rejecting(carry):
            tries, accepted, _ = carry
            return ~accepted & (tries < max_tries)

        init = (0, degree == 0, v)
        _, accepted, x = jax.lax.while_loop(rejecting, propose, init)
        fallback = _exact_step(adjacency, k_exact, t, v, p, q, ~accepted)
        return jnp.where(accepted, x, fallback)

    def walk(key, start):
        k_first, k_rest = jax.random.split(key)
        first = uniform_neighbour(adjacency, k_first, start)

        def step(carry, step_key):
            t, v = carry
            x = second_order_step(t, v, step_key)
            return (v, x), x

        steps = max(length - 2, 0)
        _, rest = jax.lax.scan(step, (start, first), jax.random.split(k_rest, steps))
        return jnp.concatenate([start[None], first[None], rest])[:length]

    keys = jax.random.split(key, starts.shape[0])
    return jax.vmap(walk)(keys, starts)
