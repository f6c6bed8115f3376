r"""Graph convolution (Kipf & Welling 2017), curriculum G2.

.. math:: H' = \hat D^{-1/2} (A + I) \hat D^{-1/2} H W + b,
          \qquad \hat D_{ii} = \sum_j (A + I)_{ij}

Messages flow from ``senders`` to ``receivers`` (the degree is counted at the
receiver, as in PyTorch Geometric's ``gcn_norm``); a self loop of weight 1 is
added to every node that has none (existing self loops keep their weight:
``add_remaining_self_loops``). Aggregation is Jraph's ``segment_sum``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jnn._checks import is_concrete
from jnn.data.graphs import check_graph


def gcn_normalisation(
    graph: jraph.GraphsTuple,
    edge_weight: jax.Array | None = None,
    n_nodes: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    r"""Edge coefficients and self-loop coefficients of the GCN propagation.

    Args:
      graph: the structure (``senders``/``receivers`` ``(E,)``, ``n_node``).
      edge_weight: optional ``(E,)`` weights of ``A`` (default 1).
      n_nodes: the node count ``N`` (default: ``sum(graph.n_node)``, which must
        then be concrete; pass ``x.shape[0]`` when the graph is traced).

    Returns:
      ``(edge_coef (E,), loop_coef (N,))`` with
      ``edge_coef_e = d_s^{-1/2} w_e d_r^{-1/2}`` and ``loop_coef_i =
      w_ii / d_i``: ``H'_i = sum_{e -> i} edge_coef_e H_{s(e)} + loop_coef_i
      H_i``. As PyG's ``add_remaining_self_loops``, the graph's own self
      loops get ``edge_coef`` 0 and node ``i`` one loop of weight ``w_ii``:
      its last self loop's weight, or 1 where it has none.
    """
    if n_nodes is not None:
        n = n_nodes
    elif is_concrete(graph.n_node):
        n = int(np.asarray(graph.n_node).sum())
    else:
        raise ValueError(
            "`n_nodes` is needed when `graph.n_node` is traced (pass x.shape[0])."
        )
    senders, receivers = graph.senders, graph.receivers
    w = (
        jnp.ones(senders.shape, jnp.float32)
        if edge_weight is None
        else jnp.asarray(edge_weight)
    )
    is_loop = senders == receivers
    # PyG's add_remaining_self_loops: a node's self loops become one loop of
    # the last one's weight (weight 1 where it has none).
    last = jraph.segment_max(
        jnp.where(is_loop, jnp.arange(senders.shape[0]), -1), receivers, n
    )
    loop_weight = jnp.where(last >= 0, w[jnp.maximum(last, 0)], 1.0)
    w = jnp.where(is_loop, 0.0, w)
    degree = jraph.segment_sum(w, receivers, n) + loop_weight
    inv_sqrt = jnp.where(degree > 0, jax.lax.rsqrt(jnp.maximum(degree, 1e-30)), 0.0)
    edge_coef = inv_sqrt[senders] * w * inv_sqrt[receivers]
    return edge_coef, loop_weight * inv_sqrt**2


class GCNConv(nn.Module):
    """One graph-convolution layer; equals PyG's ``GCNConv`` for copied weights.

    Attributes:
      features: output width ``F'``.
      use_bias: add ``b`` after propagation (as PyG).
      kernel_init: initialiser of ``W (F, F')`` (Glorot uniform, as the paper).

    Call: ``conv(x, graph, edge_weight=None) -> (N, F')`` with ``x: (N, F)``
    node features and ``graph`` a ``jraph.GraphsTuple`` giving the structure
    (its ``nodes`` are not read).
    """

    features: int
    use_bias: bool = True
    kernel_init: nn.initializers.Initializer = nn.initializers.glorot_uniform()

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        graph: jraph.GraphsTuple,
        edge_weight: jax.Array | None = None,
    ) -> jax.Array:
        """Propagate ``x: (N, F)`` over ``graph``; returns ``(N, features)``."""
        check_graph(graph, nodes=x, edge_weight=edge_weight)
        h = nn.Dense(self.features, use_bias=False, kernel_init=self.kernel_init)(x)
        edge_coef, loop_coef = gcn_normalisation(graph, edge_weight, x.shape[0])
        messages = h[graph.senders] * edge_coef[:, None]
        out = jraph.segment_sum(messages, graph.receivers, x.shape[0])
        out = out + loop_coef[:, None] * h
        if self.use_bias:
            bias = self.param("bias", nn.initializers.zeros, (self.features,))
            out = out + bias[None, :]
        return out
