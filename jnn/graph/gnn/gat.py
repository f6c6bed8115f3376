r"""Graph attention (Veličković et al. 2018, "Graph Attention Networks"), G2.

For every head :math:`k` with weights :math:`W^k` and attention vectors
:math:`a^k = (a^k_{src}, a^k_{dst})`:

.. math:: e^k_{ji} = \mathrm{LeakyReLU}\big(a^{k\top}_{src} W^k h_j
          + a^{k\top}_{dst} W^k h_i\big), \qquad
          \alpha^k_{ji} = \frac{\exp e^k_{ji}}{\sum_{l \in N(i)} \exp e^k_{li}},
          \qquad h'_i = \big\Vert_k \sum_{j \in N(i)} \alpha^k_{ji} W^k h_j
          \ \text{(concat) or}\ \frac1K \sum_k \dots\ \text{(mean)}

over the in-edges ``j -> i`` of a Jraph ``GraphsTuple`` (messages flow from
``senders`` to ``receivers``). As in PyTorch Geometric's ``GATConv``, existing
self loops are dropped and one self loop per node is added (``add_self_loops``),
and dropout acts on the normalised coefficients :math:`\alpha`. Everything is
edge-wise gathers and ``segment`` reductions at the receivers: ``O(E H C)``
work and memory, never ``N x N``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from jnn._checks import check_bool, check_fraction, check_positive_int
from jnn.data.graphs import check_graph


def edge_softmax(logits: jax.Array, receivers: jax.Array, n_nodes: int) -> jax.Array:
    r"""Softmax of edge ``logits (E, H)`` over each receiver's in-edges.

    :math:`\alpha_e = \exp(l_e - m_r) / \sum_{e' \to r} \exp(l_{e'} - m_r)` with
    :math:`m_r` the receiver's largest logit, held constant under
    differentiation (the softmax does not depend on it, so its gradient, a
    scatter, is skipped). Entries of ``-inf`` get coefficient 0. Every receiver
    that has an edge must have one finite logit.

    Returns:
      ``(E, H)`` coefficients that sum to 1 over the in-edges of each receiver.
    """
    maxima = jax.lax.stop_gradient(jraph.segment_max(logits, receivers, n_nodes))
    weights = jnp.exp(logits - maxima[receivers])
    totals = jraph.segment_sum(weights, receivers, n_nodes)
    return weights / totals[receivers]


def attention_edges(
    graph: jraph.GraphsTuple, n_nodes: int, add_self_loops: bool
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """Senders, receivers and kept-edge mask of the attention.

    With ``add_self_loops`` the edges are the graph's ``E`` edges followed by
    ``N`` self loops ``i -> i``, and the graph's own self loops are masked out
    (PyG's ``remove_self_loops`` then ``add_self_loops`` at static shape).

    Returns:
      ``(senders, receivers, keep)``: ``(E', )`` ints and a bool ``(E',)`` mask
      (None when every edge is kept), ``E' = E + N`` or ``E``.
    """
    senders, receivers = graph.senders, graph.receivers
    if not add_self_loops:
        return senders, receivers, None
    loops = jnp.arange(n_nodes, dtype=senders.dtype)
    keep = jnp.concatenate([senders != receivers, jnp.ones(n_nodes, bool)])
    return (
        jnp.concatenate([senders, loops]),
        jnp.concatenate([receivers, loops]),
        keep,
    )


class GATConv(nn.Module):
    """One graph-attention layer; equals PyG's ``GATConv`` for copied weights.

    Attributes:
      features: width ``C`` of each head.
      heads: number of heads ``H``.
      concat: concatenate the heads (output ``H * C``) or average them (``C``).
      negative_slope: slope of the LeakyReLU on the attention logits.
      dropout_rate: dropout on the attention coefficients (training only).
      add_self_loops: replace the graph's self loops by one per node.
      use_bias: add a bias after aggregation.
      kernel_init: initialiser of ``W (F, H * C)`` (Glorot, as the paper).
      attention_init: initialiser of ``a_src`` and ``a_dst`` ``(H, C)``.

    Parameters (PyG names): ``lin/kernel (F, H C)`` = ``lin.weight.T``,
    ``att_src``/``att_dst (H, C)`` = ``att_src[0]``/``att_dst[0]``, ``bias``.

    Call: ``conv(x, graph, *, deterministic=True, return_attention=False)``
    with ``x: (N, F)`` (or padded sparse rows inside
    :func:`jnn.graph.sparse_features.sparse_input`); returns ``(N, H * C)``
    (or ``(N, C)`` when not ``concat``), and with ``return_attention`` also
    ``alpha (E', H)``: one row per edge of :func:`attention_edges` (the
    graph's ``E`` edges, then the ``N`` added self loops; a masked self loop
    of the graph has ``alpha = 0``),
    taken before dropout (PyG returns them after).
    Attention dropout draws from the ``'dropout'`` RNG stream.
    """

    features: int
    heads: int = 1
    concat: bool = True
    negative_slope: float = 0.2
    dropout_rate: float = 0.0
    add_self_loops: bool = True
    use_bias: bool = True
    kernel_init: nn.initializers.Initializer = nn.initializers.glorot_uniform()
    attention_init: nn.initializers.Initializer = nn.initializers.glorot_uniform()

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        graph: jraph.GraphsTuple,
        *,
        deterministic: bool = True,
        return_attention: bool = False,
    ) -> jax.Array | tuple[jax.Array, jax.Array]:
        """Attend over ``graph`` from ``x: (N, F)``; see the class docstring."""
        check_positive_int(self.features, "features")
        check_positive_int(self.heads, "heads")
        check_fraction(self.dropout_rate, "dropout_rate")
        check_bool(self.concat, "concat")
        check_bool(self.add_self_loops, "add_self_loops")
        if len(x.shape) != 2:
            raise ValueError(f"`x` must have shape (N, F); got {tuple(x.shape)}.")
        check_graph(graph, nodes=x)
        n, heads, width = x.shape[0], self.heads, self.features

        # nn.Dense on x itself, so that sparse_features.sparse_input applies
        lin = nn.Dense(
            heads * width, use_bias=False, kernel_init=self.kernel_init, name="lin"
        )
        h = lin(x).reshape(n, heads, width)
        att_src = self.param("att_src", self.attention_init, (heads, width))
        att_dst = self.param("att_dst", self.attention_init, (heads, width))
        score_src = jnp.einsum("nhc,hc->nh", h, att_src)
        score_dst = jnp.einsum("nhc,hc->nh", h, att_dst)

        senders, receivers, keep = attention_edges(graph, n, self.add_self_loops)
        logits = nn.leaky_relu(
            score_src[senders] + score_dst[receivers], self.negative_slope
        )
        if keep is not None:
            logits = jnp.where(keep[:, None], logits, -jnp.inf)
        alpha = edge_softmax(logits, receivers, n)
        dropped = nn.Dropout(self.dropout_rate)(alpha, deterministic=deterministic)

        out = jraph.segment_sum(dropped[:, :, None] * h[senders], receivers, n)
        out = out.reshape(n, heads * width) if self.concat else out.mean(axis=1)
        if self.use_bias:
            bias = self.param("bias", nn.initializers.zeros, out.shape[-1:])
            out = out + bias[None, :]
        return (out, alpha) if return_attention else out
