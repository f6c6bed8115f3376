r"""Transformer layers: the position-wise feed-forward net, encoder and GPT blocks.

An encoder layer (Vaswani et al. 2017, sec. 3.1) is two sub-layers, each with
a residual connection (He et al. 2016) and layer normalisation (Ba et al.
2016). Post-norm, as in the paper and PyTorch's default:

.. math:: x' = \mathrm{LN}(x + \mathrm{Drop}(\mathrm{MHA}(x))),\qquad
          y = \mathrm{LN}(x' + \mathrm{Drop}(\mathrm{FFN}(x'))).

Pre-norm (``norm_first``; Xiong et al. 2020, GPT-2) keeps an identity path:

.. math:: x' = x + \mathrm{Drop}(\mathrm{MHA}(\mathrm{LN}(x))),\qquad
          y = x' + \mathrm{Drop}(\mathrm{FFN}(\mathrm{LN}(x'))).

The feed-forward net is applied at every position alone:
``FFN(x) = W_2 Drop(act(W_1 x + b_1)) + b_2``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import flax.linen as nn
import jax

from jnn._checks import check_fraction, check_positive_float, check_positive_int
from jnn.nn import LayerNorm, flat_dot_general
from jnn.transformer.attention import KVCache, MultiHeadAttention

__all__ = ["ACTIVATIONS", "DecoderBlock", "EncoderLayer", "FeedForward"]

#: Activations by name: exact GELU (PyTorch's ``F.gelu``), its tanh
#: approximation (GPT-2), and ReLU.
ACTIVATIONS: dict[str, Callable] = {
    "relu": nn.relu,
    "gelu": partial(nn.gelu, approximate=False),
    "gelu_tanh": partial(nn.gelu, approximate=True),
}


def _activation(value: Any) -> Callable:
    if callable(value):
        return value
    if value not in ACTIVATIONS:
        raise ValueError(
            f"`activation` must be one of {sorted(ACTIVATIONS)} or a function; "
            f"got {value!r}."
        )
    return ACTIVATIONS[value]


def check_heads(features: int, heads: int) -> None:
    """Raise a ``ValueError`` unless ``heads`` divides a model's ``features``."""
    if features % heads:
        raise ValueError(f"`heads` ({heads}) must divide `features` ({features}).")


def _check_width(x: jax.Array, features: int) -> None:
    if len(x.shape) != 3 or x.shape[-1] != features:
        raise ValueError(
            f"`x` must have shape (batch, length, {features}) (`features`); got "
            f"{tuple(x.shape)}."
        )


class FeedForward(nn.Module):
    """The position-wise feed-forward net ``W_2 Drop(act(W_1 x + b_1)) + b_2``.

    Attributes:
      hidden: width of the inner layer (``4 d`` in GPT, ``2048`` for
        ``d = 512`` in Vaswani et al.).
      dropout_rate: dropout after the activation (training only).
      activation: ``"relu"``, ``"gelu"``, ``"gelu_tanh"`` or a function.
      features: output width (None: the input's).

    Parameters: ``hidden`` and ``output`` (``nn.Dense``).
    """

    hidden: int
    dropout_rate: float = 0.0
    activation: Any = "gelu"
    features: int | None = None

    def __post_init__(self):
        check_positive_int(self.hidden, "hidden")
        check_fraction(self.dropout_rate, "dropout_rate")
        _activation(self.activation)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = True) -> jax.Array:
        """``(..., d_in) -> (..., features)``; dropout unless ``deterministic``."""
        h = _activation(self.activation)(
            nn.Dense(self.hidden, dot_general=flat_dot_general, name="hidden")(x)
        )
        h = nn.Dropout(self.dropout_rate)(h, deterministic=deterministic)
        return nn.Dense(
            self.features or x.shape[-1], dot_general=flat_dot_general, name="output"
        )(h)


class EncoderLayer(nn.Module):
    """A Transformer encoder layer, post-norm (default) or pre-norm.

    Equal to ``torch.nn.TransformerEncoderLayer(features, num_heads,
    ffn_features, dropout_rate, activation, batch_first=True,
    norm_first=norm_first)`` for the same weights.

    Attributes:
      num_heads: attention heads.
      features: ``d``, the model width.
      ffn_features: inner width of the feed-forward net.
      dropout_rate: dropout on the attention probabilities, inside the FFN and
        on both sub-layer outputs.
      norm_first: pre-norm instead of post-norm.
      activation: of the feed-forward net (``"relu"`` as PyTorch's default).
      epsilon: of both layer norms (PyTorch's ``1e-5``).
      implementation: the attention core's path.

    Parameters: ``attention`` (:class:`MultiHeadAttention`), ``norm1``,
    ``norm2`` (:class:`jnn.nn.LayerNorm`, Flax's parameters), ``ffn``
    (:class:`FeedForward`).
    """

    num_heads: int
    features: int
    ffn_features: int
    dropout_rate: float = 0.1
    norm_first: bool = False
    activation: Any = "relu"
    epsilon: float = 1e-5
    implementation: str = "auto"

    def __post_init__(self):
        check_positive_int(self.features, "features")
        check_positive_int(self.num_heads, "num_heads")
        if self.features % self.num_heads:
            raise ValueError(
                f"`num_heads` ({self.num_heads}) must divide `features` "
                f"({self.features})."
            )
        check_positive_float(self.epsilon, "epsilon")
        super().__post_init__()

    @nn.compact
    def __call__(
        self, x: jax.Array, mask: jax.Array | None = None, deterministic: bool = True
    ) -> jax.Array:
        """``(B, L, d) -> (B, L, d)``; ``mask`` broadcasts to ``(B, H, L, L)``."""
        _check_width(x, self.features)
        attention = MultiHeadAttention(
            self.num_heads,
            dropout_rate=self.dropout_rate,
            implementation=self.implementation,
            name="attention",
        )
        ffn = FeedForward(
            self.ffn_features, self.dropout_rate, self.activation, name="ffn"
        )
        norm1 = LayerNorm(self.epsilon, name="norm1")
        norm2 = LayerNorm(self.epsilon, name="norm2")
        drop = nn.Dropout(self.dropout_rate)

        def attend(h):
            out = attention(h, mask=mask, deterministic=deterministic)
            return drop(out, deterministic=deterministic)

        def feed(h):
            return drop(ffn(h, deterministic), deterministic=deterministic)

        if self.norm_first:
            x = x + attend(norm1(x))
            return x + feed(norm2(x))
        x = norm1(x + attend(x))
        return norm2(x + feed(x))


class DecoderBlock(nn.Module):
    r"""A GPT block: pre-norm causal self-attention and feed-forward net.

    .. math:: x' = x + \mathrm{Drop}(\mathrm{MHA}_\text{causal}(\mathrm{LN}_1(x))),
              \qquad y = x' + \mathrm{Drop}(\mathrm{FFN}(\mathrm{LN}_2(x')))

    (Radford et al. 2019, GPT-2; nanoGPT's ``Block``).

    Attributes:
      num_heads: attention heads.
      features: ``d``, the model width.
      ffn_features: inner width of the FFN (None: ``4 d``).
      dropout_rate: dropout on attention probabilities and sub-layer outputs.
      rotary: rotary position embeddings in the attention.
      activation: of the FFN (``"gelu"``).
      epsilon: of the layer norms.
      implementation: the attention core's path.

    Parameters: ``norm1``, ``attention``, ``norm2``, ``ffn``.
    """

    num_heads: int
    features: int
    ffn_features: int | None = None
    dropout_rate: float = 0.0
    rotary: bool = False
    activation: Any = "gelu"
    epsilon: float = 1e-5
    implementation: str = "auto"

    def __post_init__(self):
        check_positive_int(self.features, "features")
        check_positive_int(self.num_heads, "num_heads")
        if self.features % self.num_heads:
            raise ValueError(
                f"`num_heads` ({self.num_heads}) must divide `features` "
                f"({self.features})."
            )
        check_positive_int(self.ffn_features, "ffn_features", allow_none=True)
        super().__post_init__()

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        *,
        mask: jax.Array | None = None,
        deterministic: bool = True,
        positions: jax.Array | None = None,
        cache: KVCache | None = None,
    ):
        """``(B, L, d) -> (B, L, d)``, or ``(y, new_cache)`` with a ``cache``.

        Without a cache the attention is causal over ``x`` (``is_causal``, on
        top of ``mask``); with one, ``x`` continues the cached prefix.
        """
        _check_width(x, self.features)
        drop = nn.Dropout(self.dropout_rate)
        attention = MultiHeadAttention(
            self.num_heads,
            dropout_rate=self.dropout_rate,
            rotary=self.rotary,
            implementation=self.implementation,
            name="attention",
        )
        h = LayerNorm(self.epsilon, name="norm1")(x)
        if cache is None:
            out = attention(
                h,
                mask=mask,
                deterministic=deterministic,
                positions=positions,
                is_causal=True,
            )
        else:
            out, cache = attention(
                h,
                mask=mask,
                deterministic=deterministic,
                positions=positions,
                cache=cache,
            )
        x = x + drop(out, deterministic=deterministic)
        h = LayerNorm(self.epsilon, name="norm2")(x)
        ffn = FeedForward(
            self.ffn_features or 4 * self.features,
            self.dropout_rate,
            self.activation,
            name="ffn",
        )
        x = x + drop(ffn(h, deterministic), deterministic=deterministic)
        return x if cache is None else (x, cache)
