r"""GraphSAGE convolution (Hamilton, Ying & Leskovec 2017), curriculum G2.

.. math:: h'_i = W_{neigh}\, \mathrm{AGG}_{j \in N(i)}\, g(h_j) + b
          + W_{root}\, h_i, \qquad h'_i \leftarrow h'_i / \lVert h'_i \rVert_2
          \ \text{(if normalize)}

the paper's :math:`W \cdot [h_i \Vert \mathrm{AGG}]` with :math:`W` split in
two, as in PyTorch Geometric's ``SAGEConv``. Aggregators: ``'mean'``
(:math:`g = \mathrm{id}`, mean over in-edges), ``'max'`` (elementwise max) and
``'pool'``, the paper's max-pooling aggregator :math:`g(h) = \mathrm{ReLU}(W_{pool}
h + b_{pool})` followed by an elementwise max (PyG's ``aggr='max',
project=True``). ``N(i)`` is the multiset of senders of edges into ``i``
(duplicate edges count twice, self loops count); a node without in-edges gets
a zero aggregate.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from jnn._checks import check_bool, check_positive_int
from jnn.data.graphs import check_graph

AGGREGATORS = ("mean", "max", "pool")

#: PyTorch's ``Linear`` initialisation, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.
torch_linear_init = nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform")


def aggregate_neighbours(
    messages: jax.Array, receivers: jax.Array, n_nodes: int, aggregator: str
) -> jax.Array:
    """Sum, mean or max of edge ``messages (E, ...)`` at their receivers.

    Args:
      messages: one row per edge.
      receivers: ``(E,)`` receiving node of each edge.
      n_nodes: number of nodes ``N`` (static).
      aggregator: ``'add'``/``'sum'``, ``'mean'`` or ``'max'``.

    Returns:
      ``(N, ...)``; 0 at nodes without in-edges (as PyG's scatter).
    """
    if aggregator in ("add", "sum"):
        return jraph.segment_sum(messages, receivers, n_nodes)
    if aggregator == "mean":
        total = jraph.segment_sum(messages, receivers, n_nodes)
        ones = jnp.ones(receivers.shape, messages.dtype)
        count = jraph.segment_sum(ones, receivers, n_nodes)
        count = count.reshape(count.shape + (1,) * (messages.ndim - 1))
        return total / jnp.maximum(count, 1.0)
    if aggregator == "max":
        # Empty segments come back as -inf (the identity of max): zero them.
        top = jraph.segment_max(messages, receivers, n_nodes)
        return jnp.where(jnp.isneginf(top), 0.0, top)
    raise ValueError(
        f"`aggregator` must be 'add', 'mean' or 'max'; got {aggregator!r}."
    )


class SAGEConv(nn.Module):
    """One GraphSAGE layer; equals PyG's ``SAGEConv`` for copied weights.

    Attributes:
      features: output width ``F'``.
      aggregator: ``'mean'``, ``'max'`` or ``'pool'`` (see the module docstring).
      normalize: L2-normalise each output row (the paper's line 7).
      root_weight: add ``W_root h_i`` (else only the aggregate).
      use_bias: bias of the neighbour branch (PyG's ``lin_l.bias``).
      kernel_init: initialiser of every kernel (PyTorch's ``Linear``'s);
        biases start at 0.

    Parameters (PyG names): ``neighbour`` = ``lin_l``, ``root`` = ``lin_r``
    (no bias), ``pool`` = ``lin`` (``'pool'`` only); kernels are the
    transposed ``weight``s.

    Call: ``conv(x, graph, *, n_targets=None) -> (N, F')`` with ``x: (N, F)``;
    with ``n_targets`` only the first ``n_targets`` nodes' outputs are
    computed, ``(n_targets, F')``, and edges into later nodes are ignored
    (a sampled block: :mod:`jnn.graph.gnn.sampling`).
    """

    features: int
    aggregator: str = "mean"
    normalize: bool = False
    root_weight: bool = True
    use_bias: bool = True
    kernel_init: nn.initializers.Initializer = torch_linear_init

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        graph: jraph.GraphsTuple,
        *,
        n_targets: int | None = None,
    ) -> jax.Array:
        """Aggregate over ``graph`` from ``x: (N, F)``; returns ``(N, F')``."""
        check_positive_int(self.features, "features")
        if self.aggregator not in AGGREGATORS:
            raise ValueError(
                f"`aggregator` must be one of {AGGREGATORS}; got {self.aggregator!r}."
            )
        check_bool(self.normalize, "normalize")
        check_bool(self.root_weight, "root_weight")
        if len(x.shape) != 2:
            raise ValueError(f"`x` must have shape (N, F); got {tuple(x.shape)}.")
        check_graph(graph, nodes=x)
        check_positive_int(n_targets, "n_targets", allow_none=True)
        n, width = x.shape
        if n_targets is not None and n_targets > n:
            raise ValueError(
                f"`n_targets` must be <= {n} (the nodes); got {n_targets}."
            )
        n_out = n if n_targets is None else n_targets
        senders, receivers = graph.senders, graph.receivers
        neighbour = nn.Dense(
            self.features,
            use_bias=self.use_bias,
            kernel_init=self.kernel_init,
            name="neighbour",
        )
        # The mean is affine, so W_neigh may act before it (on every node) or
        # after it (on the targets): take the cheaper order.
        edges = senders.shape[0]
        project_first = self.aggregator == "mean" and (
            n * width * self.features + edges * self.features
            < edges * width + n_out * width * self.features
        )
        if project_first:
            # a node without in-edges gets neighbour(0) = b, as mean 0 would
            out = aggregate_neighbours(neighbour(x)[senders], receivers, n_out, "mean")
            ones = jnp.ones(receivers.shape, out.dtype)
            lonely = jraph.segment_sum(ones, receivers, n_out)[:, None] == 0
            out = jnp.where(lonely, neighbour(jnp.zeros((1, width), x.dtype)), out)
        else:
            source = x
            if self.aggregator == "pool":
                pool = nn.Dense(width, kernel_init=self.kernel_init, name="pool")
                source = nn.relu(pool(x))
            kind = "mean" if self.aggregator == "mean" else "max"
            out = neighbour(
                aggregate_neighbours(source[senders], receivers, n_out, kind)
            )
        if self.root_weight:
            root = nn.Dense(
                self.features, use_bias=False, kernel_init=self.kernel_init, name="root"
            )
            out = out + root(x if n_targets is None else x[:n_targets])
        if self.normalize:
            norm = jnp.linalg.norm(out, axis=-1, keepdims=True)
            out = out / jnp.maximum(norm, 1e-12)
        return out
