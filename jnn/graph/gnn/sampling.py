r"""Fixed fan-out neighbour sampling for GraphSAGE mini-batches, G2.

Hamilton, Ying & Leskovec 2017, Algorithm 2.

A ``K``-layer GraphSAGE needs, for a batch of ``B`` seed nodes, their
``K``-hop neighbourhood. Sampling a fixed number :math:`S_l` of neighbours per
node and hop keeps every shape static, so the sampler and the model compile
once:

- level 0 holds the ``B`` seeds; level ``l`` holds :math:`S_l` sampled
  in-neighbours of every level ``l - 1`` entry (``B S_1 \cdots S_l`` entries,
  entry ``i``'s parent is entry ``i // S_l`` of level ``l - 1``). Nodes are not
  de-duplicated (a tree, as the reference implementation).
- ``nodes`` lists the levels one after another, so the nodes of levels
  ``0..k`` are a prefix of length :math:`n_k = B (1 + S_1 + S_1 S_2 + \dots)`.
- layer ``l`` of the stack runs on a block graph over the first
  :math:`n_{K-l+1}` nodes whose edges join each entry of levels
  ``1..K-l+1`` to its parent; its outputs on the first :math:`n_{K-l}` rows
  feed the next layer, and the last layer's first ``B`` rows are the seeds'.

With ``replace=True`` (the default, as the reference implementation's uniform
sampling) each sample is an edge slot drawn uniformly with replacement, so a
node of degree :math:`d` has each in-edge drawn with probability :math:`1/d`.
With ``replace=False`` a node keeps all its in-edges when :math:`d \le S` (the
rest of its slots empty) and otherwise a uniform :math:`S`-subset (Floyd's
algorithm); with fan-outs at least the largest in-degree the sampled blocks
then hold every in-edge, and GraphSAGE on them equals the full graph. Empty
slots (a node without in-neighbours, or fewer than :math:`S` without
replacement) are marked in ``real``; their block edge is a self loop on the
empty slot itself, which no real node reads, so they add nothing to any
aggregate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jnn._checks import check_bool, check_ids_below, check_key
from jnn.data.graphs import check_graph
from jnn.graph.adjacency import Adjacency, adjacency_lists
from jnn.graph.gnn.sage import SAGEConv


class SampledNeighbourhood(NamedTuple):
    """The sampled ``K``-hop neighbourhood of a batch of seeds.

    Attributes:
      seeds: ``(B,)`` int32 seed node ids.
      nodes: ``(n_K,)`` int32 graph node ids, the levels one after another
        (an empty slot repeats its parent's id).
      real: ``(n_K,)`` bool, False for an empty slot (and its descendants).
      blocks: ``K`` ``GraphsTuple``s; ``blocks[l]`` is the graph layer ``l + 1``
        runs on (``n_{K-l}`` nodes, a prefix of ``nodes``).
    """

    seeds: jax.Array
    nodes: jax.Array
    real: jax.Array
    blocks: tuple[jraph.GraphsTuple, ...]

    def targets(self, layer: int) -> int:
        """Rows of layer ``layer``'s output that the next layer reads (static)."""
        batch = self.seeds.shape[0]
        if layer + 1 == len(self.blocks):
            return batch
        return batch + self.blocks[layer + 1].senders.shape[0]


def in_neighbour_lists(graph: jraph.GraphsTuple) -> Adjacency:
    """CSR lists of the in-neighbours (senders into each node) of ``graph``.

    The lists a sampler for message passing (sender -> receiver) needs; for a
    graph storing both directions of every edge they equal
    :func:`jnn.graph.adjacency.adjacency_lists`.
    """
    check_graph(graph)
    reverse = graph._replace(senders=graph.receivers, receivers=graph.senders)
    return adjacency_lists(reverse)


def _with_replacement(
    adjacency: Adjacency, key: jax.Array, parents: jax.Array, fan_out: int
) -> tuple[jax.Array, jax.Array]:
    """``(M, S)`` edge slots drawn uniformly with replacement, and realness."""
    degree = adjacency.degree[parents][:, None]
    slot = jax.random.randint(
        key, (parents.shape[0], fan_out), 0, jnp.maximum(degree, 1)
    )
    return slot, jnp.broadcast_to(degree > 0, slot.shape)


def _without_replacement(
    adjacency: Adjacency, key: jax.Array, parents: jax.Array, fan_out: int
) -> tuple[jax.Array, jax.Array]:
    """``(M, S)`` distinct edge slots (all when ``d <= S``), and realness.

    Floyd's algorithm: for ``j = d - S .. d - 1`` draw ``t`` in ``[0, j]`` and
    keep ``t``, or ``j`` when ``t`` was kept already; every ``S``-subset is
    equally likely.
    """
    degree = adjacency.degree[parents]
    count = parents.shape[0]

    def step(t, chosen):
        j = degree - fan_out + t
        draw = jax.random.randint(
            jax.random.fold_in(key, t), (count,), 0, jnp.maximum(j + 1, 1)
        )
        taken = jnp.any(chosen == draw[:, None], axis=1)
        return chosen.at[:, t].set(jnp.where(taken, j, draw))

    chosen = jax.lax.fori_loop(
        0, fan_out, step, jnp.full((count, fan_out), -1, jnp.int32)
    )
    every = jnp.broadcast_to(jnp.arange(fan_out), chosen.shape)
    small = (degree <= fan_out)[:, None]
    return jnp.where(small, every, chosen), every < degree[:, None]


@functools.partial(jax.jit, static_argnames=("fan_outs", "replace"))
def _sample(
    key: jax.Array,
    adjacency: Adjacency,
    seeds: jax.Array,
    fan_outs: tuple[int, ...],
    replace: bool,
) -> SampledNeighbourhood:
    draw = _with_replacement if replace else _without_replacement
    levels, reals, parent_positions = [seeds], [jnp.ones(seeds.shape, bool)], []
    offset = 0
    for hop, fan_out in enumerate(fan_outs):
        parents = levels[-1]
        slot, real = draw(adjacency, jax.random.fold_in(key, hop), parents, fan_out)
        index = jnp.minimum(
            adjacency.offsets[parents][:, None] + slot,
            adjacency.neighbours.shape[0] - 1,
        )
        real = real & reals[-1][:, None]
        picks = jnp.where(real, adjacency.neighbours[index], parents[:, None])
        levels.append(picks.reshape(-1).astype(jnp.int32))
        reals.append(real.reshape(-1))
        parent_positions.append(
            offset + jnp.repeat(jnp.arange(parents.shape[0]), fan_out)
        )
        offset += parents.shape[0]
    nodes, real = jnp.concatenate(levels), jnp.concatenate(reals)
    batch = seeds.shape[0]
    positions = jnp.arange(batch, nodes.shape[0], dtype=jnp.int32)
    parent = jnp.concatenate(parent_positions).astype(jnp.int32)
    receivers_all = jnp.where(real[batch:], parent, positions)
    sizes = np.cumsum(
        [batch * int(np.prod(fan_outs[:hop])) for hop in range(len(fan_outs) + 1)]
    )
    blocks = []
    for size in sizes[:0:-1]:  # n_K, ..., n_1: the graphs of layers 1..K
        edges = int(size) - batch
        blocks.append(
            jraph.GraphsTuple(
                nodes=None,
                edges=None,
                senders=positions[:edges],
                receivers=receivers_all[:edges],
                globals=None,
                n_node=jnp.array([size], jnp.int32),
                n_edge=jnp.array([edges], jnp.int32),
            )
        )
    return SampledNeighbourhood(seeds.astype(jnp.int32), nodes, real, tuple(blocks))


def sample_neighbourhood(
    key: jax.Array,
    adjacency: Adjacency,
    seeds: jax.Array,
    fan_outs: Sequence[int] = (25, 10),
    *,
    replace: bool = True,
) -> SampledNeighbourhood:
    """Sample a fixed fan-out ``K``-hop neighbourhood of ``seeds`` (compiled).

    Args:
      key: PRNG key.
      adjacency: in-neighbour lists, from :func:`in_neighbour_lists`.
      seeds: ``(B,)`` int node ids.
      fan_outs: ``(S_1, ..., S_K)``, neighbours per node at hop ``1..K``
        (``S_1`` per seed), each ``>= 1``.
      replace: sample with replacement (see the module docstring).

    Returns:
      A :class:`SampledNeighbourhood`; the seeds' ``K``-layer outputs come from
      :class:`SAGEStack` called on ``x[nodes]`` and it.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jnn.data import load_karate_club
      >>> adj = in_neighbour_lists(load_karate_club().graph)
      >>> seeds = jnp.array([0, 33])
      >>> hood = sample_neighbourhood(jax.random.key(0), adj, seeds, (3, 2))
      >>> hood.nodes.shape, [b.senders.shape[0] for b in hood.blocks]
      ((20,), [18, 6])
    """
    check_key(key)
    if not isinstance(adjacency, Adjacency):
        raise TypeError(
            "`adjacency` must be an Adjacency (from in_neighbour_lists); got "
            f"{type(adjacency).__name__}."
        )
    if adjacency.neighbours.shape[0] == 0:
        raise ValueError("`adjacency` has no edges; there is nothing to sample.")
    seeds = jnp.asarray(seeds)
    if (
        seeds.ndim != 1
        or seeds.shape[0] == 0
        or not jnp.issubdtype(seeds.dtype, jnp.integer)
    ):
        raise ValueError(
            "`seeds` must be a non-empty 1-D int array; got "
            f"{seeds.dtype} {seeds.shape}."
        )
    check_ids_below(seeds, adjacency.n_nodes, "seeds", noun="node ids", bound="nodes")
    fan_outs = tuple(fan_outs)
    if not fan_outs or any(
        isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1
        for s in fan_outs
    ):
        raise ValueError(
            f"`fan_outs` must be a non-empty sequence of ints >= 1; got {fan_outs}."
        )
    check_bool(replace, "replace")
    return _sample(
        key, adjacency, seeds, tuple(int(s) for s in fan_outs), bool(replace)
    )


class SAGEStack(nn.Module):
    """A stack of :class:`SAGEConv` layers, on a full graph or a sample.

    Attributes:
      features: widths of the ``K`` layers.
      aggregator: of every layer (``'mean'``, ``'max'``, ``'pool'``).
      normalize: L2-normalise every layer's output (the paper's line 7).
      activation: applied between layers (not after the last).

    Call: ``model(x, structure)``; with a ``GraphsTuple``, ``x: (N, F)`` and the
    result ``(N, F_K)`` for every node; with a :class:`SampledNeighbourhood`,
    ``x: (n_K, F)`` the features of its ``nodes`` and the result ``(B, F_K)``
    for its seeds. Both use the same parameters (``layer_0`` ...).
    """

    features: Sequence[int]
    aggregator: str = "mean"
    normalize: bool = False
    activation: Callable[[jax.Array], jax.Array] = nn.relu

    @nn.compact
    def __call__(
        self, x: jax.Array, structure: jraph.GraphsTuple | SampledNeighbourhood
    ) -> jax.Array:
        """Run the stack; see the class docstring."""
        sampled = isinstance(structure, SampledNeighbourhood)
        if sampled:
            if len(structure.blocks) != len(self.features):
                raise ValueError(
                    f"the neighbourhood has {len(structure.blocks)} hops but "
                    f"`features` has {len(self.features)} layers; they must agree."
                )
            if len(x.shape) != 2 or x.shape[0] != structure.nodes.shape[0]:
                raise ValueError(
                    f"`x` must hold the features of the {structure.nodes.shape[0]} "
                    f"sampled nodes, (n, F); got shape {tuple(x.shape)}."
                )
        for layer, width in enumerate(self.features):
            conv = SAGEConv(
                width, self.aggregator, self.normalize, name=f"layer_{layer}"
            )
            if sampled:
                block, n_targets = structure.blocks[layer], structure.targets(layer)
                x = conv(x, block, n_targets=n_targets)
            else:
                x = conv(x, structure)
            if layer + 1 < len(self.features):
                x = self.activation(x)
        return x
