r"""GPT: a decoder-only causal language model (Radford et al. 2018, 2019).

Token and position embeddings feed a stack of pre-norm causal blocks
(:class:`jnn.transformer.DecoderBlock`), a final layer norm and a projection to
the vocabulary, tied to the token embedding (Press & Wolf 2017):

.. math:: h_0 = E[x] + P,\quad h_\ell = \mathrm{Block}_\ell(h_{\ell-1}),\quad
          z = \mathrm{LN}(h_n)\, E^\top.

It models :math:`p(x) = \prod_t p(x_{t+1} \mid x_{\le t})` and is trained on
the next-token cross-entropy
:math:`E = -\frac{1}{BT}\sum_{b,t}\log\mathrm{softmax}(z_{b,t})_{x_{b,t+1}}`
(:func:`gpt_loss`). The layout follows nanoGPT (Karpathy 2022): embeddings
drawn from a normal of std 0.02 (GPT-2), the other layers Flax's defaults,
LayerNorm epsilon ``1e-5``.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn._checks import (
    check_array,
    check_fraction,
    check_ids_below,
    check_positive_int,
)
from jnn.nn import LayerNorm, flat_dot_general
from jnn.train import Context, apply_model
from jnn.transformer.attention import IMPLEMENTATIONS, KVCache, init_kv_cache
from jnn.transformer.layers import ACTIVATIONS, DecoderBlock, check_heads
from jnn.transformer.positional import LearnedPositionalEmbedding, sinusoidal_encoding

__all__ = [
    "GPT",
    "POSITIONALS",
    "check_tokens",
    "gpt_loss",
    "init_cache",
    "next_token_blocks",
]

POSITIONALS = ("learned", "rotary", "sinusoidal")


def check_tokens(
    tokens: Any, vocab_size: int, name: str = "tokens", *, max_length: int | None = None
) -> None:
    """Raise unless ``tokens`` is a ``(B, L)`` int array of ids in ``[0, V)``.

    ``L <= max_length`` when given; the ids are checked when concrete.
    """
    check_array(tokens, name, kind="i")
    if len(tokens.shape) != 2:
        raise ValueError(
            f"`{name}` must have shape (batch, length); got {tuple(tokens.shape)}."
        )
    if max_length is not None and tokens.shape[1] > max_length:
        raise ValueError(
            f"`{name}` has length {tokens.shape[1]}, longer than the model's "
            f"`context` ({max_length})."
        )
    check_ids_below(tokens, vocab_size, name, noun="token ids")


class GPT(nn.Module):
    """A GPT language model: ``(B, L)`` token ids -> ``(B, L, V)`` logits.

    Attributes:
      vocab_size: ``V``.
      context: the longest sequence (positions ``0 .. context - 1``).
      layers: number of :class:`DecoderBlock`.
      heads: attention heads per block.
      features: ``d``, the model width (divisible by ``heads``).
      dropout_rate: on embeddings, attention probabilities and residual
        branches (training only).
      positional: ``"learned"`` (GPT-2), ``"rotary"`` (RoPE in every block)
        or ``"sinusoidal"`` (fixed, Vaswani et al.).
      tie_weights: the output projection is the token embedding's transpose
        (``nn.Embed.attend``); False adds an untied ``head``.
      ffn_features: FFN inner width (None: ``4 d``).
      epsilon: layer-norm epsilon.
      implementation: attention core path (:data:`IMPLEMENTATIONS`).
      activation: of the blocks' feed-forward nets (:data:`ACTIVATIONS`):
        ``"gelu"`` (exact, PyTorch's default) or ``"gelu_tanh"`` (GPT-2's
        approximation; about twice as fast on XLA's CPU backend).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> model = GPT(vocab_size=11, context=8, layers=1, heads=2, features=16)
      >>> tokens = jnp.zeros((2, 5), jnp.int32)
      >>> variables = model.init(jax.random.key(0), tokens)
      >>> model.apply(variables, tokens).shape
      (2, 5, 11)
    """

    vocab_size: int
    context: int
    layers: int
    heads: int
    features: int
    dropout_rate: float = 0.0
    positional: str = "learned"
    tie_weights: bool = True
    ffn_features: int | None = None
    epsilon: float = 1e-5
    implementation: str = "auto"
    activation: str = "gelu"

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {sorted(ACTIVATIONS)}; got "
                f"{self.activation!r}."
            )
        for name in ("vocab_size", "context", "layers", "heads", "features"):
            check_positive_int(getattr(self, name), name)
        check_heads(self.features, self.heads)
        check_fraction(self.dropout_rate, "dropout_rate")
        if self.positional not in POSITIONALS:
            raise ValueError(
                f"`positional` must be one of {POSITIONALS}; got {self.positional!r}."
            )
        if self.positional == "rotary" and (self.features // self.heads) % 2:
            raise ValueError(
                f"`positional='rotary'` needs an even head size; `features` "
                f"{self.features} / `heads` {self.heads} is odd."
            )
        if self.implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"`implementation` must be one of {IMPLEMENTATIONS}; got "
                f"{self.implementation!r}."
            )
        super().__post_init__()

    @nn.compact
    def __call__(
        self,
        tokens: jax.Array,
        *,
        deterministic: bool = True,
        cache: tuple[KVCache, ...] | None = None,
    ):
        """Next-token logits of ``tokens``.

        Args:
          tokens: ``(B, L)`` int ids in ``[0, V)``, ``L <= context``.
          deterministic: no dropout (evaluation).
          cache: one :class:`KVCache` per layer (:func:`init_cache`): ``tokens``
            continue the cached prefix at positions ``cache[0].length ...``.

        Returns:
          ``(B, L, V)`` logits, or ``(logits, new_cache)`` with a cache.
        """
        check_tokens(tokens, self.vocab_size, max_length=self.context)
        if cache is not None and len(cache) != self.layers:
            raise ValueError(
                f"`cache` must hold one KVCache per layer ({self.layers}); got "
                f"{len(cache)}."
            )
        length = tokens.shape[1]
        start = 0 if cache is None else cache[0].length
        positions = start + jnp.arange(length, dtype=jnp.int32)
        embed = nn.Embed(
            self.vocab_size,
            self.features,
            embedding_init=nn.initializers.normal(0.02),
            name="embed",
        )
        x = embed(tokens)
        if self.positional == "learned":
            x = (
                x
                + LearnedPositionalEmbedding(
                    self.context, self.features, name="position"
                )(positions)[None]
            )
        elif self.positional == "sinusoidal":
            table = sinusoidal_encoding(self.context, self.features)
            x = x + jnp.take(table, positions, axis=0)[None].astype(x.dtype)
        x = nn.Dropout(self.dropout_rate)(x, deterministic=deterministic)
        new_cache = []
        for i in range(self.layers):
            block = DecoderBlock(
                self.heads,
                self.features,
                self.ffn_features,
                self.dropout_rate,
                rotary=self.positional == "rotary",
                epsilon=self.epsilon,
                implementation=self.implementation,
                activation=self.activation,
                name=f"block{i}",
            )
            if cache is None:
                x = block(x, deterministic=deterministic, positions=positions)
            else:
                x, layer_cache = block(
                    x, deterministic=deterministic, positions=positions, cache=cache[i]
                )
                new_cache.append(layer_cache)
        x = LayerNorm(self.epsilon, name="norm")(x)
        if self.tie_weights:
            # one (B T, d) x (d, V) product (see jnn.nn.dense)
            flat = embed.attend(x.reshape(-1, x.shape[-1]))
            logits = flat.reshape(*x.shape[:-1], flat.shape[-1])
        else:
            logits = nn.Dense(
                self.vocab_size,
                use_bias=False,
                dot_general=flat_dot_general,
                name="head",
            )(x)
        return logits if cache is None else (logits, tuple(new_cache))


def init_cache(
    model: GPT, batch: int, max_length: int | None = None, dtype=jnp.float32
):
    """An empty KV cache of ``model``: one :class:`KVCache` per layer.

    Args:
      model: the GPT.
      batch: sequences decoded together.
      max_length: positions the cache holds (None: ``model.context``; at most
        ``context``).
      dtype: of the cached keys and values.
    """
    if not isinstance(model, GPT):
        raise TypeError(
            f"`model` must be a jnn.transformer.GPT; got {type(model).__name__}."
        )
    max_length = model.context if max_length is None else max_length
    check_positive_int(max_length, "max_length")
    if max_length > model.context:
        raise ValueError(
            f"`max_length` ({max_length}) must not exceed the model's `context` "
            f"({model.context})."
        )
    head = model.features // model.heads
    return tuple(
        init_kv_cache(batch, max_length, model.heads, head, dtype)
        for _ in range(model.layers)
    )


def next_token_blocks(
    tokens: Any, context: int, *, offset: int = 0
) -> dict[str, np.ndarray]:
    """Cut a stream into non-overlapping blocks of ``context + 1`` tokens.

    Block ``i`` is ``tokens[offset + i (context + 1) : ...][: context + 1]``;
    its first ``context`` tokens are the input and its last ``context`` the
    targets (every position predicts its successor).

    Args:
      tokens: ``(T,)`` integer token ids (e.g. ``corpus.train``).
      context: ``L``, the model's context.
      offset: tokens skipped at the start (vary it to see other cuts).

    Returns:
      ``{"x": (n, L) int32, "y": (n, L) int32}`` with ``n = (T - offset) //
      (L + 1)``, ready for ``fit(..., batch_size=B)`` (shuffled mini-batches).

    Example:
      >>> next_token_blocks(np.arange(7), 2)["x"].tolist()
      [[0, 1], [3, 4]]
    """
    check_positive_int(context, "context")
    check_array(tokens, "tokens", ndim=1, kind="i")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"`offset` must be an int >= 0; got {offset!r}.")
    n = (tokens.shape[0] - offset) // (context + 1)
    if n < 1:
        raise ValueError(
            f"`tokens` ({tokens.shape[0]} tokens, offset {offset}) cannot fill "
            f"one block of `context` + 1 = {context + 1}."
        )
    stream = np.asarray(tokens, np.int32)[offset : offset + n * (context + 1)]
    blocks = stream.reshape(n, context + 1)
    return {"x": blocks[:, :-1], "y": blocks[:, 1:]}


def gpt_loss(model: GPT, *, input_key: str = "x", target_key: str = "y"):
    r"""The next-token cross-entropy of a :class:`GPT`, for ``gradient_learner``.

    .. math:: E = -\frac{1}{B L}\sum_{b, t}\log\mathrm{softmax}(z_{b,t})_{y_{b,t}}

    Args:
      model: the GPT.
      input_key: batch entry of ``(B, L)`` input tokens.
      target_key: batch entry of the ``(B, L)`` next tokens (as
        :func:`next_token_blocks` gives).

    Returns:
      ``loss(params, batch, ctx) -> (E, {"accuracy", "bits_per_token"},
      model_state)``, with a ``check(data, name)`` run before tracing.
    """
    if not isinstance(model, GPT):
        raise TypeError(
            f"`model` must be a jnn.transformer.GPT; got {type(model).__name__}."
        )

    def loss(params: Any, batch, ctx: Context):
        x, y = batch[input_key], batch[target_key]
        logits, state = apply_model(model, params, ctx, x)
        value = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
        metrics = {"accuracy": accuracy, "bits_per_token": value / math.log(2.0)}
        return value, metrics, state

    def check(data, name: str) -> None:
        for entry in (input_key, target_key):
            if entry not in data:
                raise ValueError(
                    f"`{name}` has no entry {entry!r} (the loss reads {input_key!r} "
                    f"and {target_key!r}); it has {sorted(data)}."
                )
            check_tokens(
                data[entry],
                model.vocab_size,
                f"{name}[{entry!r}]",
                max_length=model.context,
            )
        if tuple(data[input_key].shape) != tuple(data[target_key].shape):
            raise ValueError(
                f"`{name}[{input_key!r}]` and `{name}[{target_key!r}]` must have the "
                f"same shape; got {tuple(data[input_key].shape)} and "
                f"{tuple(data[target_key].shape)}."
            )

    loss.check = check
    return loss
