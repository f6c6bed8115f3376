r"""Gated graph sequence neural network layer (Li et al. 2016, ICLR), G2.

.. math:: h^{(0)}_i = [x_i \Vert 0], \qquad
          m^{(l)}_i = \mathrm{AGG}_{j \to i}\; w_{ji}\, h^{(l-1)}_j W_l, \qquad
          h^{(l)}_i = \mathrm{GRU}\big(m^{(l)}_i, h^{(l-1)}_i\big),
          \quad l = 1 \dots L

with one weight :math:`W_l` per step and one GRU cell shared by all steps, as
in PyTorch Geometric's ``GatedGraphConv``. The cell is Flax's ``nn.GRUCell``,
whose gates are PyTorch's ``GRUCell``'s (``r``, ``z``, ``n`` with
``n = tanh(W_in m + b_in + r * (W_hn h + b_hn))``); PyTorch's two biases of
the ``r`` and ``z`` gates appear in Flax as one sum (``ir.bias = b_ir + b_hr``,
``iz.bias = b_iz + b_hz``), so the two compute the same function.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from jnn._checks import check_positive_int
from jnn.data.graphs import check_graph
from jnn.graph.gnn.sage import aggregate_neighbours


class GatedGraphConv(nn.Module):
    """``num_layers`` gated propagation steps; equals PyG's ``GatedGraphConv``.

    Attributes:
      features: width ``F'`` of the hidden state (``x`` is zero-padded to it).
      num_layers: number of propagation steps ``L``.
      aggregator: ``'add'``, ``'mean'`` or ``'max'`` over in-edges.

    Parameters (PyG names): ``weight (L, F', F')`` = ``weight``; ``gru`` holds
    ``ir, iz, in`` (kernel = ``weight_ih`` rows ``r, z, n`` transposed, biases
    as in the module docstring) and ``hr, hz, hn`` (``weight_hh``; ``hn.bias =
    b_hn``).

    Call: ``conv(x, graph, edge_weight=None) -> (N, F')`` with ``x: (N, F)``,
    ``F <= F'``, and optional ``edge_weight (E,)`` scaling the messages.
    """

    features: int
    num_layers: int
    aggregator: str = "add"

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        graph: jraph.GraphsTuple,
        edge_weight: jax.Array | None = None,
    ) -> jax.Array:
        """Run the ``L`` steps from ``x: (N, F)``; returns ``(N, features)``."""
        check_positive_int(self.features, "features")
        check_positive_int(self.num_layers, "num_layers")
        if self.aggregator not in ("add", "mean", "max"):
            raise ValueError(
                f"`aggregator` must be 'add', 'mean' or 'max'; got {self.aggregator!r}."
            )
        if len(x.shape) != 2:
            raise ValueError(f"`x` must have shape (N, F); got {tuple(x.shape)}.")
        if x.shape[1] > self.features:
            raise ValueError(
                f"`x` has {x.shape[1]} features, more than `features` = "
                f"{self.features} (the input is zero-padded, never cut)."
            )
        check_graph(graph, nodes=x, edge_weight=edge_weight)
        n, width = x.shape[0], self.features
        bound = 1.0 / width**0.5  # PyG's uniform(out_channels, weight)
        weight = self.param(
            "weight",
            lambda key, shape: jax.random.uniform(
                key, shape, minval=-bound, maxval=bound
            ),
            (self.num_layers, width, width),
        )
        gru = nn.GRUCell(width, name="gru")
        h = jnp.pad(x, ((0, 0), (0, width - x.shape[1])))
        for step in range(self.num_layers):
            messages = (h @ weight[step])[graph.senders]
            if edge_weight is not None:
                messages = messages * edge_weight[:, None]
            m = aggregate_neighbours(messages, graph.receivers, n, self.aggregator)
            h, _ = gru(h, m)
        return h
