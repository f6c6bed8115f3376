"""Copy PyTorch ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` weights into a RecurrentStack.

PyTorch stores layer ``l`` (``_reverse`` for the backward direction) as
``weight_ih_l{l}: (G H, I)``, ``weight_hh_l{l}: (G H, H)``, ``bias_ih_l{l}`` and
``bias_hh_l{l}: (G H,)``, gates stacked in the order ``i, f, g, o`` (LSTM) or
``r, z, n`` (GRU), which is Flax's order too. Flax keeps one ``(in, H)`` kernel
per gate (the transposed block) and one bias where PyTorch's two are only ever
summed: ``b = b_ih + b_hh`` (Elman; LSTM; GRU's ``r`` and ``z``). The GRU's
``b_hn`` multiplies with ``r`` and is kept apart (``hn/bias``), as ``b_in`` is
(``in/bias``). With the same weights the outputs agree to float32 rounding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from jnn.rnn.cells import check_cell_name

__all__ = ["params_from_torch"]

_GATES = {"elman": ("",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    return np.asarray(value, np.float32)


def _cell_params(weights: dict[str, np.ndarray], cell: str) -> dict:
    """Flax params of one cell from its PyTorch ``w_ih, w_hh, b_ih, b_hh``."""
    w_ih, w_hh = weights["weight_ih"], weights["weight_hh"]
    rows = w_hh.shape[1]
    b_ih = weights.get("bias_ih", np.zeros(w_ih.shape[0], np.float32))
    b_hh = weights.get("bias_hh", np.zeros(w_hh.shape[0], np.float32))

    def block(array, k):
        return array[k * rows : (k + 1) * rows]

    def dense(kernel, bias=None):
        out = {"kernel": jnp.asarray(kernel.T)}
        if bias is not None:
            out["bias"] = jnp.asarray(bias)
        return out

    if cell == "elman":
        return {"i": dense(w_ih, b_ih + b_hh), "h": dense(w_hh)}
    params = {}
    for k, gate in enumerate(_GATES[cell]):
        wi, wh = block(w_ih, k), block(w_hh, k)
        bi, bh = block(b_ih, k), block(b_hh, k)
        if cell == "lstm":
            params[f"i{gate}"] = dense(wi)
            params[f"h{gate}"] = dense(wh, bi + bh)
        elif gate == "n":
            params["in"], params["hn"] = dense(wi, bi), dense(wh, bh)
        else:
            params[f"i{gate}"], params[f"h{gate}"] = dense(wi, bi + bh), dense(wh)
    return params


def params_from_torch(state_dict: Mapping[str, Any], cell: str) -> dict:
    """The ``params`` of a :class:`jnn.rnn.RecurrentStack` from a PyTorch RNN.

    Args:
      state_dict: ``module.state_dict()`` of a ``torch.nn.RNN`` (tanh), ``LSTM``
        or ``GRU`` (any ``num_layers``, ``bidirectional``, ``bias``; without
        ``proj_size``); values are tensors or arrays.
      cell: ``"elman"``, ``"lstm"`` or ``"gru"``: the matching jnn cell.

    Returns:
      ``{"layer_{l}": {"cell": ...}}`` (or ``{"forward_rnn": {"cell": ...},
      "backward_rnn": ...}`` per layer when bidirectional), the ``params`` of
      ``RecurrentStack(cell, H, layers, bidirectional)``; inside a
      :class:`jnn.rnn.RecurrentNet` they are ``params["stack"]``.

    Raises:
      ValueError: an unknown or layer-normalised ``cell``, or a state dict
        without ``weight_ih_l0`` / with unexpected entries.
    """
    check_cell_name(cell, "cell")
    if cell not in _GATES:
        raise ValueError(
            f"`cell` must be 'elman', 'lstm' or 'gru' (PyTorch has no {cell!r}); "
            f"got {cell!r}."
        )
    pattern = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")
    layers: dict[tuple[int, bool], dict[str, np.ndarray]] = {}
    for name, value in state_dict.items():
        match = pattern.match(name)
        if match is None:
            raise ValueError(
                f"`state_dict` has an entry {name!r} that is not a weight or bias "
                "of torch.nn.RNN/LSTM/GRU (proj_size is not supported)."
            )
        kind, index, reverse = match.groups()
        layers.setdefault((int(index), bool(reverse)), {})[kind] = _numpy(value)
    if (0, False) not in layers:
        raise ValueError("`state_dict` has no 'weight_ih_l0': not a PyTorch RNN.")
    n_layers = 1 + max(index for index, _ in layers)
    bidirectional = any(reverse for _, reverse in layers)
    params = {}
    for index in range(n_layers):
        forward = {"cell": _cell_params(layers[index, False], cell)}
        if bidirectional:
            backward = {"cell": _cell_params(layers[index, True], cell)}
            params[f"layer_{index}"] = {
                "forward_rnn": forward,
                "backward_rnn": backward,
            }
        else:
            params[f"layer_{index}"] = forward
    return params
