r"""Node classifiers on one graph (curriculum G2): GCN, GAT, GraphSAGE, GGNN.

Each model holds the graph's structure as an attribute (a ``GraphsTuple``
whose ``nodes`` are not read) and maps node features to class logits::

    logits = model.apply(params, x)                  # x: (N, F) -> (N, C)
    logits = model.apply(params, index, values)      # padded rows (N, K)

The second form is the sparse input of :mod:`jnn.graph.sparse_features`
(``index`` int, ``-1`` padding; the model needs ``n_features``): the first
layer is then a sparse product, and input dropout acts on the stored values
only (Kipf & Welling's sparse dropout); the parameters, and the function, are
those of the dense input. Dropout draws from the ``'dropout'`` stream when
``deterministic=False`` (what :func:`jnn.train.apply_model` passes in
training steps).

Held as a constant, the structure and everything computed from it alone (the
GCN normalisation, the attention's self loops) are folded by XLA into the
compiled training step, not recomputed every epoch.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from jnn._checks import check_fraction, check_positive_int
from jnn.data.graphs import check_graph
from jnn.graph.gnn.gat import GATConv
from jnn.graph.gnn.gcn import GCNConv
from jnn.graph.gnn.ggnn import GatedGraphConv
from jnn.graph.gnn.sage import SAGEConv
from jnn.graph.sparse_features import SparseRows, sparse_dropout, sparse_input


def _check_settings(model: nn.Module, *widths: str) -> None:
    check_graph(model.graph, f"{type(model).__name__}.graph")
    for name in ("n_classes", *widths):
        check_positive_int(getattr(model, name), name)
    check_positive_int(model.n_features, "n_features", allow_none=True)
    check_fraction(model.dropout_rate, "dropout_rate")


def input_layer(
    module: nn.Module,
    x: jax.Array,
    values: jax.Array | None,
    layer: Callable[[jax.Array | SparseRows], jax.Array],
    deterministic: bool,
) -> jax.Array:
    """Apply the first ``layer`` to dense ``x`` or to padded rows, after dropout.

    Args:
      module: the calling model (reads ``dropout_rate``, ``n_features``).
      x: ``(N, F)`` float features, or ``(N, K)`` int column indices of the
        non-zeros (``-1`` padding) with ``values``.
      values: ``(N, K)`` float values of the padded rows; None with int ``x``
        means binary features (1 at every index ``>= 0``).
      layer: the first layer, called on the (dropped-out) dense ``x`` or on a
        :class:`SparseRows` inside :func:`sparse_input`.
      deterministic: no dropout.
    """
    if len(x.shape) != 2:
        raise ValueError(
            f"`x` must be (N, F) features or (N, K) padded-row indices; got shape "
            f"{tuple(x.shape)}."
        )
    check_graph(module.graph, nodes=x)
    rate = module.dropout_rate
    if not jnp.issubdtype(x.dtype, jnp.integer):
        if values is not None:
            raise ValueError(
                "`values` goes with int padded-row indices `x`, not with "
                "dense float features."
            )
        if module.n_features is not None and x.shape[1] != module.n_features:
            raise ValueError(
                f"`x` has {x.shape[1]} features but the model's `n_features` is "
                f"{module.n_features}."
            )
        return layer(nn.Dropout(rate, deterministic=deterministic)(x))
    if module.n_features is None:
        raise ValueError(
            "int `x` (padded-row indices) needs the model's `n_features` (the "
            "number of columns F of the sparse features)."
        )
    if values is None:
        values = (x >= 0).astype(jnp.float32)
    if not deterministic and rate > 0:
        values = sparse_dropout(values, rate, module.make_rng("dropout"))
    rows = SparseRows(x, values, module.n_features)
    with sparse_input(rows):
        return layer(rows)


class GCN(nn.Module):
    r"""Two-layer GCN (Kipf & Welling 2017, eq. 9).

    .. math:: Z = \hat A\, \mathrm{drop}\big(\mathrm{ReLU}(\hat A\,
              \mathrm{drop}(X) W^{(0)})\big) W^{(1)},
              \qquad \hat A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}

    (plus a bias after each propagation with ``use_bias``).

    Attributes:
      graph: the structure (``senders``/``receivers``, ``n_node``).
      n_classes: ``C``.
      hidden: width of the hidden layer (16 in the paper).
      dropout_rate: dropout on the input and the hidden layer (0.5).
      use_bias: biases after propagation (False: Kipf's code, ``gcn/models.py``;
        PyG's ``GCNConv`` has them).
      n_features: ``F``, needed for sparse (padded-row) input.

    Layers: ``conv1``, ``conv2`` (:class:`jnn.graph.GCNConv`).
    """

    graph: jraph.GraphsTuple
    n_classes: int
    hidden: int = 16
    dropout_rate: float = 0.5
    use_bias: bool = False
    n_features: int | None = None

    @nn.compact
    def __call__(
        self, x: jax.Array, values: jax.Array | None = None, *, deterministic=True
    ) -> jax.Array:
        """Logits ``(N, C)`` of every node."""
        _check_settings(self, "hidden")
        conv1 = GCNConv(self.hidden, self.use_bias, name="conv1")
        h = input_layer(self, x, values, lambda x: conv1(x, self.graph), deterministic)
        h = nn.Dropout(self.dropout_rate, deterministic=deterministic)(nn.relu(h))
        return GCNConv(self.n_classes, self.use_bias, name="conv2")(h, self.graph)


class GAT(nn.Module):
    r"""Two-layer graph attention network (Veličković et al. 2018, Cora setup).

    ``heads`` attention heads of ``hidden`` features, concatenated, then ELU,
    then one averaged output head per class score; dropout ``dropout_rate`` on
    both layers' inputs and on the attention coefficients:

    .. math:: Z = \mathrm{GAT}_{1 \times C}\big(\mathrm{drop}(\mathrm{ELU}(
              \mathrm{GAT}_{8 \times 8}(\mathrm{drop}(X))))\big)

    Attributes:
      graph: the structure.
      n_classes: ``C``.
      hidden: features per head of the first layer (8).
      heads: heads of the first layer (8).
      output_heads: heads of the output layer, averaged (1 for Cora).
      dropout_rate: input and attention dropout (0.6).
      n_features: ``F``, needed for sparse input.

    Layers: ``conv1``, ``conv2`` (:class:`jnn.graph.gnn.gat.GATConv`).
    """

    graph: jraph.GraphsTuple
    n_classes: int
    hidden: int = 8
    heads: int = 8
    output_heads: int = 1
    dropout_rate: float = 0.6
    n_features: int | None = None

    @nn.compact
    def __call__(
        self, x: jax.Array, values: jax.Array | None = None, *, deterministic=True
    ) -> jax.Array:
        """Logits ``(N, C)`` of every node."""
        _check_settings(self, "hidden", "heads", "output_heads")
        rate = self.dropout_rate
        conv1 = GATConv(self.hidden, self.heads, dropout_rate=rate, name="conv1")

        def first(x):
            return conv1(x, self.graph, deterministic=deterministic)

        h = input_layer(self, x, values, first, deterministic)
        h = nn.Dropout(rate, deterministic=deterministic)(nn.elu(h))
        conv2 = GATConv(
            self.n_classes,
            self.output_heads,
            concat=False,
            dropout_rate=rate,
            name="conv2",
        )
        return conv2(h, self.graph, deterministic=deterministic)


class GraphSAGE(nn.Module):
    r"""Two GraphSAGE layers (Hamilton et al. 2017) on the full neighbourhood.

    .. math:: Z = \mathrm{SAGE}_C\big(\mathrm{drop}(\mathrm{ReLU}(
              \mathrm{SAGE}_{h}(\mathrm{drop}(X))))\big)

    with the ``'mean'`` aggregator or the max-pooling one (``'pool'``);
    transductive and full-batch (the sampled, inductive version:
    :mod:`jnn.graph.inductive`).

    Attributes:
      graph: the structure.
      n_classes: ``C``.
      hidden: width of the hidden layer.
      aggregator: ``'mean'``, ``'pool'`` or ``'max'`` (the elementwise max of
        the raw neighbour features: dense input only).
      dropout_rate: dropout on the input and the hidden layer.
      n_features: ``F``, needed for sparse input.

    Layers: ``conv1``, ``conv2`` (:class:`jnn.graph.gnn.sage.SAGEConv`).
    """

    graph: jraph.GraphsTuple
    n_classes: int
    hidden: int = 64
    aggregator: str = "mean"
    dropout_rate: float = 0.5
    n_features: int | None = None

    @nn.compact
    def __call__(
        self, x: jax.Array, values: jax.Array | None = None, *, deterministic=True
    ) -> jax.Array:
        """Logits ``(N, C)`` of every node."""
        _check_settings(self, "hidden")
        conv1 = SAGEConv(self.hidden, self.aggregator, name="conv1")
        h = input_layer(self, x, values, lambda x: conv1(x, self.graph), deterministic)
        h = nn.Dropout(self.dropout_rate, deterministic=deterministic)(nn.relu(h))
        return SAGEConv(self.n_classes, self.aggregator, name="conv2")(h, self.graph)


class GGNN(nn.Module):
    r"""Gated graph neural network node classifier (Li et al. 2016).

    A linear input map to the hidden state, ``steps`` gated propagation
    steps (one GRU shared by all steps), and a linear read-out of the final
    state beside the initial one (the paper's :math:`o_v = g(h_v^{(T)}, x_v)`):

    .. math:: h^{(0)} = \mathrm{drop}(X) W_{in}, \qquad
              h^{(T)} = \mathrm{GGNN}_T(h^{(0)}), \qquad
              Z = \mathrm{drop}([h^{(T)} \Vert h^{(0)}]) W_{out} + b

    Attributes:
      graph: the structure.
      n_classes: ``C``.
      hidden: width of the hidden state.
      steps: propagation steps ``T``.
      aggregator: ``'add'``, ``'mean'`` or ``'max'`` over in-edges.
      dropout_rate: dropout on the input and before the read-out.
      n_features: ``F``, needed for sparse input.

    Layers: ``input`` (``nn.Dense``), ``ggnn``
    (:class:`jnn.graph.gnn.ggnn.GatedGraphConv`), ``output``.
    """

    graph: jraph.GraphsTuple
    n_classes: int
    hidden: int = 32
    steps: int = 2
    aggregator: str = "mean"
    dropout_rate: float = 0.5
    n_features: int | None = None

    @nn.compact
    def __call__(
        self, x: jax.Array, values: jax.Array | None = None, *, deterministic=True
    ) -> jax.Array:
        """Logits ``(N, C)`` of every node."""
        _check_settings(self, "hidden", "steps")
        embed = nn.Dense(self.hidden, name="input")
        h0 = input_layer(self, x, values, embed, deterministic)
        h = GatedGraphConv(self.hidden, self.steps, self.aggregator, name="ggnn")(
            h0, self.graph
        )
        h = nn.Dropout(self.dropout_rate, deterministic=deterministic)(
            jnp.concatenate([h, h0], axis=-1)
        )
        return nn.Dense(self.n_classes, name="output")(h)
