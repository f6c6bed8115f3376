"""Parameters and multiply-accumulates (MACs) per layer, by the curriculum's formulas.

For an output of ``H x W`` positions (per image, summed over the batch):

* convolution, ``k_h x k_w`` filters, ``C`` inputs, ``D`` outputs, ``G``
  groups: ``k_h k_w (C/G) D`` weights and ``k_h k_w (C/G) D H W`` MACs, so a
  standard conv costs ``k^2 C D H W``, a depthwise one (``G = C = D``)
  ``k^2 C H W``, a pointwise one ``C D H W`` and a group conv ``1/G`` of the
  standard one;
* dense layer: ``in x out`` weights and MACs per example;
* any other layer with a ``kernel`` parameter (e.g. LeNet-5's
  :class:`~jnn.cnn.ConnectionTableConv`, which stores only the used filters)
  is a convolution whose every kernel entry is used once per output position.

Biases and normalisation parameters are counted as parameters, not as MACs
(additions); pooling, activations and residual additions cost no MACs. A
convolution with a connection ``mask`` (``nn.Conv(mask=...)``, e.g. LeNet-5's
C3 table) counts only the connected weights, as LeCun et al. (1998) do.

:func:`count` walks the model abstractly (``jax.eval_shape``: nothing is
computed) and records every Flax ``Conv``/``Dense`` call with
``flax.linen.intercept_methods``. XLA's own estimate
(``jax.jit(f).lower(x).compile().cost_analysis()["flops"]``) counts one
multiply and one add per MAC, plus the element-wise work: it is about
``2 x MACs`` for the MobileNet- and ShuffleNet-style nets. LeNet-5's fast CPU
path computes C1/S2 and C3/S4 in a form with more multiply-adds (1.44x, one
product per pooling window's phases) and C3's connection table densely, so
XLA counts about 3.7 x its 326,520 MACs there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_positive_int

NORM_TYPES = (nn.BatchNorm, nn.LayerNorm, nn.GroupNorm)


class LayerCost(NamedTuple):
    """Cost of one layer call.

    Attributes:
      name: the module's path, e.g. ``"block_1_0/expand/conv"``.
      kind: ``"conv" | "pointwise" | "depthwise" | "group_conv" | "dense" |
        "norm" | "other"``.
      params: trainable parameters of the layer (masked-out weights excluded).
      macs: multiply-accumulates of this call for the whole input batch.
      output_shape: shape of the layer's output.
    """

    name: str
    kind: str
    params: int
    macs: int
    output_shape: tuple[int, ...]


class CostReport(NamedTuple):
    """Per-layer and total cost of a model on one input shape.

    Attributes:
      layers: one :class:`LayerCost` per layer call, in call order.
      params: trainable parameters of the whole model (the ``params``
        collection; BatchNorm running statistics are not parameters), less
        masked-out weights.
      macs: total MACs of one forward pass on the input shape.
    """

    layers: tuple[LayerCost, ...]
    params: int
    macs: int


def _own_params(module: nn.Module) -> dict[str, Any]:
    """The module's own parameter arrays (not those of its children)."""
    params = module.variables.get("params", {})
    return {k: v for k, v in params.items() if not isinstance(v, dict)}


def _conv_kind(module: nn.Module, kernel_shape: tuple[int, ...]) -> str:
    """Kind of a layer with a ``kernel`` (HWIO for convolutions)."""
    if isinstance(module, nn.Dense):
        return "dense"
    groups = getattr(module, "feature_group_count", getattr(module, "groups", None))
    if groups is None or len(kernel_shape) != 4:
        return "conv"  # e.g. a connection-table conv storing used filters only
    *window, c_group, _ = kernel_shape
    if groups == 1:
        return "pointwise" if int(np.prod(window)) == 1 else "conv"
    return "depthwise" if c_group == 1 else "group_conv"


def _cost(module: nn.Module, output: Any) -> tuple[str, int, int, int] | None:
    """``(kind, params, macs, masked-out weights)`` of one call.

    None for modules without parameters of their own.
    """
    own = _own_params(module)
    params = sum(int(np.prod(v.shape)) for v in own.values())
    shape = tuple(getattr(output, "shape", ()))
    if "kernel" in own:
        kernel = own["kernel"].shape
        weights = int(np.prod(kernel))
        mask = getattr(module, "mask", None)
        masked = 0
        if mask is not None:
            connected = np.count_nonzero(np.broadcast_to(np.asarray(mask), kernel))
            masked = weights - int(connected)
        params, weights = params - masked, weights - masked
        # Each output position (n, i, j) uses every (connected) weight of its
        # channel once: MACs = N H_out W_out * weights (dense: N * in * out).
        # This holds for any layer storing only its used weights as "kernel"
        # (e.g. LeNet-5's connection-table conv).
        macs = weights * int(np.prod(shape[:-1]))
        return _conv_kind(module, kernel), params, macs, masked
    if not own:
        return None
    kind = "norm" if isinstance(module, NORM_TYPES) else "other"
    return kind, params, 0, 0


def count(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    variables: Any | None = None,
) -> CostReport:
    """Parameters and MACs of ``model`` per layer and in total.

    Args:
      model: a Flax Linen module mapping one array (e.g. NHWC images) to
        outputs.
      input_shape: the input's shape including the batch axis, e.g.
        ``(1, 28, 28, 1)``; MACs are for the whole batch (use batch 1 for
        per-image figures).
      variables: optional variables to apply the model with (default: an
        abstract ``model.init``, no values are computed).

    Returns:
      A :class:`CostReport` ``(layers, params, macs)``.

    Raises:
      TypeError: ``model`` is not a Flax module.
      ValueError: ``input_shape`` is not a tuple of positive ints, or the
        model rejects it.

    Example:
      >>> from jnn.cnn import SeparableConv, count
      >>> report = count(SeparableConv(16, use_bias=False), (1, 8, 8, 4))
      >>> report.macs == 3 * 3 * 4 * 8 * 8 + 4 * 16 * 8 * 8
      True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a flax.linen Module; got {type(model)}.")
    if not isinstance(input_shape, Sequence) or isinstance(input_shape, str):
        raise TypeError(
            "`input_shape` must be a tuple of positive ints such as (1, 28, 28, 1); "
            f"got {input_shape!r}."
        )
    if variables is not None and not isinstance(variables, Mapping):
        raise TypeError(
            "`variables` must be a dict of collections such as {'params': ...} "
            f"(or None); got {type(variables).__name__}."
        )
    shape = tuple(input_shape)
    if not shape or not all(
        isinstance(s, int | np.integer) and not isinstance(s, bool) and s > 0
        for s in shape
    ):
        raise ValueError(
            f"`input_shape` must be a tuple of positive ints such as (1, 28, 28, 1); "
            f"got {input_shape!r}."
        )
    calls: list[LayerCost | None] = []
    dropped: dict[str, int] = {}  # masked-out weights per layer name

    def record(next_fun, args, kwargs, context):
        if context.method_name != "__call__":
            return next_fun(*args, **kwargs)
        slot = len(calls)
        calls.append(None)  # reserve: parents are listed before their children
        out = next_fun(*args, **kwargs)
        cost = _cost(context.module, out)
        if cost is not None:
            path = context.module.scope.path
            name = "/".join(map(str, path)) or type(context.module).__name__
            kind, params, macs, masked = cost
            calls[slot] = LayerCost(name, kind, params, macs, tuple(out.shape))
            dropped[name] = masked
        return out

    x = jax.ShapeDtypeStruct(shape, jnp.float32)

    def forward(x):
        if variables is None:
            return model.init(jax.random.key(0), x)["params"]
        model.apply(variables, x)
        return variables.get("params", {})

    with nn.intercept_methods(record):
        params = jax.eval_shape(forward, x)
    layers = tuple(c for c in calls if c is not None)
    total = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
    return CostReport(
        layers, total - sum(dropped.values()), sum(c.macs for c in layers)
    )


def format_report(report: CostReport, *, max_layers: int | None = None) -> str:
    """A plain-text table of ``report`` (name, kind, output, params, MACs).

    Args:
      report: a :class:`CostReport` from :func:`count`.
      max_layers: show only the first ``max_layers`` layers (None: all).
    """
    if not isinstance(report, CostReport):
        raise TypeError(
            f"`report` must be a CostReport from count(); got {type(report).__name__}."
        )
    check_positive_int(max_layers, "max_layers", allow_none=True)
    rows = report.layers if max_layers is None else report.layers[:max_layers]
    lines = [
        f"{'layer':40s} {'kind':11s} {'output':>18s} {'params':>10s} {'MACs':>13s}"
    ]
    for c in rows:
        lines.append(
            f"{c.name[-40:]:40s} {c.kind:11s} {str(c.output_shape):>18s} "
            f"{c.params:>10,d} {c.macs:>13,d}"
        )
    lines.append(
        f"{'total':40s} {'':11s} {'':>18s} {report.params:>10,d} {report.macs:>13,d}"
    )
    return "\n".join(lines)
