r"""A deep GCN whose compile time does not grow with depth, and its remedies.

:class:`DeepGCN` stacks ``L`` graph convolutions (Kipf & Welling 2017)
``H' = P H W + b`` with ``P = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}``: an
input layer ``F -> d``, ``L - 2`` hidden layers ``d -> d`` and an output layer
``d -> C``, ReLU after every layer but the last and dropout before every
layer (the deep GCN of Kipf & Welling App. B, Zhao & Akoglu 2020 and Rong et
al. 2020; ``L = 2`` is the original GCN). The hidden layers share one shape,
so their parameters are stacked ``(L - 2, d, d)`` and applied by
``nn.scan``: one layer is traced and compiled whatever ``L`` is.

Remedies (any combination), in the hidden layers ``k = 1 .. L - 2``:

* ``residual="outside"``: ``h_k = \sigma(P h_{k-1} W_k + b_k) + h_{k-1}``, the
  residual connection of Kipf & Welling (App. B) and He et al. (2016);
  ``residual="inside"``: ``h_k = \sigma(P h_{k-1} W_k + b_k + h_{k-1})``, the
  skip connection as curriculum G3 writes it,
  ``h_v^k = \sigma(AGG(h_u^{k-1}) + h_v^{k-1})``.
* ``virtual_node``: graph augmentation, one node joined to every node
  (:func:`jnn.graph.smoothing.add_virtual_nodes`); its rows are dropped from
  the outputs.
* ``pair_norm=s``: PairNorm after every convolution but the last, before the
  ReLU (Zhao & Akoglu 2020, as their code).
* ``drop_edge=p``: in training, a fraction ``p`` of the edges is removed anew
  at every step (one sample shared by all layers) and ``P`` re-normalised
  (Rong et al. 2020).
* ``initial_residual=alpha``: the hidden layers become GCNII layers (Chen et
  al. 2020, Eq. 5), without bias:

  .. math:: h_k = \sigma\big(((1 - \alpha) P h_{k-1} + \alpha h_0)
            ((1 - \beta_k) I + \beta_k W_k)\big),
            \quad \beta_k = \log(\lambda / k + 1)

  with ``h_0`` the input layer's output (GCNII uses a linear input layer and
  a linear classifier; here the first and last layers stay graph
  convolutions, so every variant has the same ends).
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jnn._checks import check_fraction, check_positive_int, is_concrete
from jnn.data.graphs import check_graph
from jnn.graph.gnn import gcn_normalisation
from jnn.graph.models import input_layer
from jnn.graph.smoothing.remedies import (
    add_virtual_nodes,
    drop_edge,
    identity_mapping_strength,
    pair_norm,
)

RESIDUALS = (None, "outside", "inside")


class Propagation(NamedTuple):
    """The coefficients of ``P`` on one graph (a pytree of arrays)."""

    senders: jax.Array
    receivers: jax.Array
    edge_coef: jax.Array
    loop_coef: jax.Array


def propagation(
    graph: jraph.GraphsTuple, edge_weight: jax.Array | None = None
) -> Propagation:
    """GCN's normalised propagation of ``graph`` (from ``gcn_normalisation``).

    A concrete structure (and weights) is normalised once, eagerly, even
    inside ``jit``: the coefficients enter the program as constants instead
    of being left to XLA's constant folding (or recomputed every step).
    """
    concrete = all(
        is_concrete(a) for a in (graph.senders, graph.receivers, edge_weight)
    )
    with jax.ensure_compile_time_eval() if concrete else contextlib.nullcontext():
        edge_coef, loop_coef = gcn_normalisation(graph, edge_weight)
    return Propagation(graph.senders, graph.receivers, edge_coef, loop_coef)


def propagate(p: Propagation, h: jax.Array) -> jax.Array:
    r"""``P h``: ``(P h)_i = \sum_{e: s \to i} c_e h_s + c_i h_i``."""
    messages = h[p.senders] * p.edge_coef[:, None]
    out = jraph.segment_sum(messages, p.receivers, h.shape[0])
    return out + p.loop_coef[:, None] * h


class _Convolution(nn.Module):
    """``P x W + b`` with ``P`` given; parameters laid out as ``GCNConv``'s.

    ``x`` may be a :class:`jnn.graph.sparse_features.SparseRows` (inside
    ``sparse_input``: the ``Dense`` computes the sparse product). With
    ``rows`` (an ``(N,)`` int array) the ``N`` rows of ``x W`` are placed at
    those rows of an ``(n_out, F')`` zero matrix before propagating: features
    of virtual nodes are 0.
    """

    features: int
    rows: np.ndarray | None = None
    n_out: int | None = None

    @nn.compact
    def __call__(self, x, p: Propagation) -> jax.Array:
        h = nn.Dense(self.features, use_bias=False)(x)
        if self.rows is not None:
            h = jnp.zeros((self.n_out, self.features), h.dtype).at[self.rows].set(h)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return propagate(p, h) + bias[None, :]


class _HiddenLayer(nn.Module):
    """One hidden layer ``d -> d`` (the body of the scan over depth)."""

    features: int
    dropout: float
    deterministic: bool
    residual: str | None
    pair_norm: float | None
    initial_residual: float | None
    identity_lambda: float

    @nn.compact
    def __call__(self, h, step, p: Propagation, h0):
        index, active = step
        x = nn.Dropout(self.dropout, deterministic=self.deterministic)(h)
        if self.initial_residual is None:
            z = _Convolution(self.features, name="conv")(x, p)
        else:
            alpha = self.initial_residual
            support = (1.0 - alpha) * propagate(p, x) + alpha * h0
            beta = identity_mapping_strength(index, self.identity_lambda)
            w = self.param(
                "kernel",
                nn.initializers.glorot_uniform(),
                (self.features, self.features),
            )
            z = (1.0 - beta) * support + beta * (support @ w)
        if self.pair_norm is not None:
            z = pair_norm(z, self.pair_norm)
        if self.residual == "inside":
            z = z + h
        out = nn.relu(z)
        if self.residual == "outside":
            out = out + h
        out = jnp.where(active, out, h)  # layers past the active depth pass h on
        return out, out


class DeepGCN(nn.Module):
    """A GCN of ``depth`` layers on one graph, with optional remedies.

    Follows the node classifiers of :mod:`jnn.graph.models`: the model holds
    the structure and maps features to logits, ``model.apply(params, x)`` with
    dense ``x: (N, F)``, or ``model.apply(params, index, values)`` with the
    padded rows of :mod:`jnn.graph.sparse_features` (sparse first layer and
    input dropout on the stored values; needs ``n_features``).

    Attributes:
      graph: the structure (``senders``/``receivers``, ``n_node``).
      n_classes: output width ``C``.
      depth: ``L >= 2`` graph convolutions.
      hidden: hidden width ``d``.
      dropout_rate: dropout before every layer (training only).
      n_features: ``F``, needed for sparse input.
      residual: None, ``"outside"`` or ``"inside"`` (see the module docstring).
      virtual_node: add one node joined to every node of each graph.
      pair_norm: PairNorm scale ``s`` (None: off).
      drop_edge: DropEdge rate ``p`` in ``[0, 1)`` (training only).
      initial_residual: GCNII's ``alpha`` in ``(0, 1]`` (None: plain layers).
      identity_lambda: GCNII's ``lambda`` of ``beta_k = log(lambda / k + 1)``.
      active_depth: the depth actually used, ``2 <= active_depth <= depth``
        (None: ``depth``); may be a traced int: hidden layers past it pass
        their input on unchanged (their parameters get no gradient from the
        data), so one compiled program trains every depth up to ``depth``
        (at the cost of ``depth`` layers each).

    Call: ``model(x, values=None, *, deterministic=True,
    return_hidden=False)``; returns logits ``(N, C)``, and with
    ``return_hidden`` also the ``(L - 1, N, d)`` outputs of the input and
    hidden layers (after the ReLU and the remedies; real nodes only). Dropout
    and DropEdge draw from the ``dropout`` stream when not deterministic.

    Layers: ``input`` and ``output`` (parameters as
    :class:`jnn.graph.GCNConv`'s), ``hidden`` (stacked ``(L - 2, ...)``:
    ``conv``'s ``Dense_0/kernel`` and ``bias``, or GCNII's ``kernel``).

    Example:
      >>> from jnn.data import load_karate_club
      >>> g = load_karate_club().graph
      >>> model = DeepGCN(g, n_classes=2, depth=16, hidden=8, residual="outside")
      >>> params = jax.jit(model.init)(jax.random.key(0), g.nodes)
      >>> params["params"]["hidden"]["conv"]["Dense_0"]["kernel"].shape
      (14, 8, 8)
    """

    graph: jraph.GraphsTuple
    n_classes: int
    depth: int
    hidden: int = 16
    dropout_rate: float = 0.5
    n_features: int | None = None
    residual: str | None = None
    virtual_node: bool = False
    pair_norm: float | None = None
    drop_edge: float = 0.0
    initial_residual: float | None = None
    identity_lambda: float = 0.5
    active_depth: int | jax.Array | None = None

    def check(self) -> None:
        """Raise ``ValueError``/``TypeError`` for invalid settings."""
        check_graph(self.graph, "DeepGCN.graph")
        for name in ("n_classes", "depth", "hidden"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.n_features, "n_features", allow_none=True)
        if self.depth < 2:
            raise ValueError(
                f"`depth` must be at least 2 (input and output layers); got "
                f"{self.depth}."
            )
        self._check_active_depth()
        check_fraction(self.dropout_rate, "dropout_rate")
        check_fraction(self.drop_edge, "drop_edge")
        if self.residual not in RESIDUALS:
            raise ValueError(
                f"`residual` must be one of {RESIDUALS}; got {self.residual!r}."
            )
        if not isinstance(self.virtual_node, bool):
            raise TypeError(
                f"`virtual_node` must be True or False; got {self.virtual_node!r}."
            )
        for name in ("pair_norm", "initial_residual", "identity_lambda"):
            value = getattr(self, name)
            if value is None and name != "identity_lambda":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"`{name}` must be a number; got {value!r}.")
            if not value > 0 or (name == "initial_residual" and value > 1):
                upper = ", 1]" if name == "initial_residual" else ", inf)"
                raise ValueError(f"`{name}` must be in (0{upper}; got {value}.")

    def _check_active_depth(self) -> None:
        active = self.active_depth
        if active is None:
            return
        is_int = isinstance(active, int | np.integer) and not isinstance(active, bool)
        is_int_scalar = hasattr(active, "dtype") and np.issubdtype(
            active.dtype, np.integer
        )
        if not (is_int or (is_int_scalar and np.ndim(active) == 0)):
            raise TypeError(
                f"`active_depth` must be an int (or a scalar int array); got "
                f"{active!r}."
            )
        if is_concrete(active) and not 2 <= int(active) <= self.depth:
            raise ValueError(
                f"`active_depth` must be in [2, depth = {self.depth}]; got "
                f"{int(active)}."
            )

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        values: jax.Array | None = None,
        *,
        deterministic: bool = True,
        return_hidden: bool = False,
    ):
        """Logits ``(N, C)`` (and the hidden representations, see the class)."""
        self.check()
        graph, real, n_out = self.graph, None, None
        if self.virtual_node:
            augmented = add_virtual_nodes(graph)
            graph, real = augmented.graph, augmented.real
            n_out = int(np.asarray(graph.n_node).sum())
        edge_weight = None
        if not deterministic and self.drop_edge > 0:
            edge_weight = drop_edge(self.make_rng("dropout"), graph, self.drop_edge)
        p = propagation(graph, edge_weight)

        def dropped(h):
            return nn.Dropout(self.dropout_rate, deterministic=deterministic)(h)

        first = _Convolution(self.hidden, real, n_out, name="input")
        h = input_layer(self, x, values, lambda x: first(x, p), deterministic)
        if self.pair_norm is not None:
            h = pair_norm(h, self.pair_norm)
        h = nn.relu(h)
        hidden = [h[None]]
        if self.depth > 2:
            layers = nn.scan(
                _HiddenLayer,
                variable_axes={"params": 0},
                split_rngs={"params": True, "dropout": True},
                in_axes=(0, nn.broadcast, nn.broadcast),
                length=self.depth - 2,
            )(
                self.hidden,
                self.dropout_rate,
                deterministic,
                self.residual,
                self.pair_norm,
                self.initial_residual,
                self.identity_lambda,
                name="hidden",
            )
            index = jnp.arange(1, self.depth - 1, dtype=jnp.int32)
            active_depth = (
                self.depth if self.active_depth is None else self.active_depth
            )
            active = index <= jnp.asarray(active_depth) - 2
            h, stack = layers(h, (index, active), p, h)
            hidden.append(stack)
        logits = _Convolution(self.n_classes, name="output")(dropped(h), p)
        if real is not None:
            logits = logits[real]
        if not return_hidden:
            return logits
        hidden = jnp.concatenate(hidden, axis=0)
        if real is not None:
            hidden = hidden[:, real]
        return logits, hidden


def hidden_representations(
    model: DeepGCN, params, x: jax.Array, values: jax.Array | None = None
) -> jax.Array:
    """Outputs of the input and hidden layers in evaluation mode, for the measures.

    Args:
      model: a :class:`DeepGCN`.
      params: its ``params`` collection.
      x: ``(N, F)`` node features, or ``(N, K)`` padded-row indices.
      values: ``(N, K)`` padded-row values (with int ``x``).

    Returns:
      ``(L - 1, N, d)``: row ``k`` is ``h_k`` (``k = 0`` the input layer's
      output, ``L - 2`` the last hidden layer, the classifier's input); with
      ``active_depth`` below ``depth`` the rows past it repeat the last active
      layer, so row ``-1`` is always the classifier's input.
    """
    if not isinstance(model, DeepGCN):
        raise TypeError(f"`model` must be a DeepGCN; got {type(model).__name__}.")
    _, hidden = model.apply({"params": params}, x, values, return_hidden=True)
    return hidden
