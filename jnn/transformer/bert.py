r"""BERT: a bidirectional Transformer encoder pre-trained by MLM and NSP.

Devlin et al. 2019, "BERT: Pre-training of deep bidirectional transformers for
language understanding". The input is the sum of three embeddings, normalised,
then a stack of encoder layers (:class:`jnn.transformer.EncoderLayer`,
post-norm as the paper, or pre-norm) in which every token attends to every
real token (padding is masked out as keys):

.. math:: h_0 = \mathrm{LN}(E_{tok}[x] + P + E_{seg}[s]),\qquad
          h_\ell = \mathrm{EncoderLayer}_\ell(h_{\ell-1}).

Two heads train it (:func:`bert_pretraining_loss`; the data come from
:mod:`jnn.transformer.pretraining`):

* MLM: :math:`z_t = \mathrm{LN}(\mathrm{gelu}(W h_t))\,E_{tok}^\top + b`, the
  output projection tied to the token embedding;
* NSP: :math:`\mathrm{softmax}(W_{nsp}\,\mathrm{pool}(h))` with the pooler
  :math:`\mathrm{pool}(h) = \tanh(W_p h_{[CLS]} + b_p)`.

:class:`BertClassifier` puts a classifier on the pooled ``[CLS]`` vector for
fine-tuning; both models keep the encoder under the name ``"encoder"``, so
pre-trained parameters move over as ``params["encoder"]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

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
    is_concrete,
)
from jnn.nn import LayerNorm, flat_dot_general
from jnn.train import Context, apply_model
from jnn.transformer.layers import EncoderLayer, check_heads
from jnn.transformer.masks import padding_mask
from jnn.transformer.positional import LearnedPositionalEmbedding
from jnn.transformer.pretraining import PAD_ID

__all__ = [
    "BERT",
    "BertClassifier",
    "BertEncoder",
    "BertOutput",
    "bert_pretraining_loss",
    "check_bert_inputs",
]

_INIT = nn.initializers.normal(0.02)  # BERT's initializer_range


def check_bert_inputs(
    tokens: Any,
    segments: Any,
    valid: Any,
    *,
    vocab_size: int,
    max_length: int,
    names: tuple[str, str, str] = ("tokens", "segments", "valid"),
) -> None:
    """Raise unless the inputs of a BERT model are consistent.

    ``tokens``: ``(B, L)`` int ids in ``[0, vocab_size)``, ``L <= max_length``;
    ``segments``: None or ``(B, L)`` int in ``{0, 1}``; ``valid``: None or
    ``(B, L)`` bool. Values are checked when concrete; ``names`` are the
    three arguments' names in the error messages.
    """
    tokens_name, segments_name, valid_name = names
    check_array(tokens, tokens_name, kind="i", ndim=2)
    shape = tuple(tokens.shape)
    if shape[1] > max_length:
        raise ValueError(
            f"`{tokens_name}` has length {shape[1]}, longer than the model's "
            f"`max_length` ({max_length})."
        )
    check_ids_below(tokens, vocab_size, tokens_name)
    for name, value, kind in (
        (segments_name, segments, "i"),
        (valid_name, valid, None),
    ):
        if value is None:
            continue
        check_array(value, name, kind=kind, ndim=2)
        if tuple(value.shape) != shape:
            raise ValueError(
                f"`{name}` must have the shape of `tokens` {shape}; got "
                f"{tuple(value.shape)}."
            )
    if valid is not None and np.dtype(valid.dtype) != np.bool_:
        raise TypeError(f"`{valid_name}` must be a bool array; got {valid.dtype}.")
    if segments is not None and is_concrete(segments):
        s = np.asarray(segments)
        if s.min() < 0 or s.max() > 1:
            raise ValueError(
                f"`{segments_name}` must hold segment ids 0 or 1; got min "
                f"{s.min()} and max {s.max()}."
            )


class _BertConfig(nn.Module):
    """The hyper-parameters of the BERT modules (see :class:`BertEncoder`)."""

    vocab_size: int
    max_length: int = 128
    layers: int = 2
    heads: int = 4
    features: int = 64
    ffn_features: int | None = None
    dropout_rate: float = 0.1
    norm_first: bool = False
    activation: Any = "gelu"
    epsilon: float = 1e-12
    pad_id: int = PAD_ID

    def __post_init__(self):
        for name in ("vocab_size", "max_length", "layers", "heads", "features"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.ffn_features, "ffn_features", allow_none=True)
        check_heads(self.features, self.heads)
        check_fraction(self.dropout_rate, "dropout_rate")
        super().__post_init__()


class BertEncoder(_BertConfig):
    """Embeddings, encoder stack and pooler: ``(B, L)`` ids -> states.

    Attributes:
      vocab_size: ``V`` (the special tokens included).
      max_length: the longest sequence (the position table's size).
      layers: number of :class:`EncoderLayer`.
      heads: attention heads (must divide ``features``).
      features: ``d``, the model width.
      ffn_features: the feed-forward inner width (None: ``4 d``).
      dropout_rate: on the embeddings, attention probabilities and residual
        branches (training only).
      norm_first: pre-norm layers (with a final layer norm) instead of BERT's
        post-norm.
      activation: of the feed-forward nets (BERT: exact GELU).
      epsilon: of every layer norm (BERT: ``1e-12``).
      pad_id: the ``[PAD]`` id; without ``valid``, positions holding it are
        padding.

    ``__call__(tokens, segments=None, valid=None, deterministic=True)``
    returns ``(sequence (B, L, d), pooled (B, d))``.
    """

    def setup(self):
        """Create the submodules."""
        d = self.features
        self.token_embedding = nn.Embed(self.vocab_size, d, embedding_init=_INIT)
        self.position_embedding = LearnedPositionalEmbedding(self.max_length, d, _INIT)
        self.segment_embedding = nn.Embed(2, d, embedding_init=_INIT)
        self.embedding_norm = LayerNorm(self.epsilon)
        self.dropout = nn.Dropout(self.dropout_rate)
        self.blocks = [
            EncoderLayer(
                self.heads,
                d,
                self.ffn_features or 4 * d,
                self.dropout_rate,
                self.norm_first,
                self.activation,
                self.epsilon,
                name=f"layer{i}",
            )
            for i in range(self.layers)
        ]
        if self.norm_first:
            self.final_norm = LayerNorm(self.epsilon)
        self.pooler = nn.Dense(d, kernel_init=_INIT)

    def __call__(
        self,
        tokens: jax.Array,
        segments: jax.Array | None = None,
        valid: jax.Array | None = None,
        deterministic: bool = True,
    ) -> tuple[jax.Array, jax.Array]:
        """``(sequence (B, L, d), pooled (B, d))`` of ``(B, L)`` ids."""
        check_bert_inputs(
            tokens,
            segments,
            valid,
            vocab_size=self.vocab_size,
            max_length=self.max_length,
        )
        length = tokens.shape[1]
        if segments is None:
            segments = jnp.zeros_like(tokens)
        if valid is None:
            valid = tokens != self.pad_id
        h = (
            self.token_embedding(tokens)
            + self.position_embedding(jnp.arange(length))[None]
            + self.segment_embedding(segments)
        )
        h = self.dropout(self.embedding_norm(h), deterministic=deterministic)
        mask = padding_mask(valid)  # (B, 1, 1, L): padded keys hidden
        for block in self.blocks:
            h = block(h, mask, deterministic)
        if self.norm_first:
            h = self.final_norm(h)
        return h, jnp.tanh(self.pooler(h[:, 0]))

    def attend(self, h: jax.Array) -> jax.Array:
        """``h @ E_tok^T``: states ``(..., d)`` to token scores ``(..., V)``."""
        return self.token_embedding.attend(h)


class BertOutput(NamedTuple):
    """The heads of :class:`BERT`: ``mlm_logits (B, L, V)``, ``nsp_logits (B, 2)``."""

    mlm_logits: jax.Array
    nsp_logits: jax.Array


_CONFIG = tuple(
    f.name for f in dataclasses.fields(_BertConfig) if f.name not in ("parent", "name")
)


class BERT(_BertConfig):
    """BERT with its pre-training heads (MLM tied to the token embedding, NSP).

    Attributes: those of :class:`BertEncoder`.

    ``__call__(tokens, segments=None, valid=None, deterministic=True)`` maps
    ``(B, L)`` ids (``L <= max_length``; ``segments`` 0/1, default 0;
    ``valid`` bool, default ``tokens != pad_id``) to :class:`BertOutput`.

    Parameters: ``encoder`` (:class:`BertEncoder`), ``mlm_transform``,
    ``mlm_norm``, ``mlm_bias``, ``nsp``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> model = BERT(vocab_size=11, max_length=8, layers=1, heads=2, features=16)
      >>> tokens = jnp.array([[1, 5, 6, 2, 0]])
      >>> out = model.apply(model.init(jax.random.key(0), tokens), tokens)
      >>> out.mlm_logits.shape, out.nsp_logits.shape
      ((1, 5, 11), (1, 2))
    """

    def setup(self):
        """Create the submodules."""
        self.encoder = BertEncoder(**{k: getattr(self, k) for k in _CONFIG})
        self.mlm_transform = nn.Dense(
            self.features, kernel_init=_INIT, dot_general=flat_dot_general
        )
        self.mlm_norm = LayerNorm(self.epsilon)
        self.mlm_bias = self.param(
            "mlm_bias", nn.initializers.zeros, (self.vocab_size,)
        )
        self.nsp = nn.Dense(2, kernel_init=_INIT)

    def __call__(
        self,
        tokens: jax.Array,
        segments: jax.Array | None = None,
        valid: jax.Array | None = None,
        deterministic: bool = True,
    ) -> BertOutput:
        """MLM logits ``(B, L, V)`` and NSP logits ``(B, 2)``."""
        h, pooled = self.encoder(tokens, segments, valid, deterministic)
        h = self.mlm_norm(nn.gelu(self.mlm_transform(h), approximate=False))
        logits = self.encoder.attend(h) + self.mlm_bias[None, None]
        return BertOutput(logits, self.nsp(pooled))


class BertClassifier(_BertConfig):
    """A :class:`BertEncoder` with a classifier on the pooled ``[CLS]`` state.

    Attributes: those of :class:`BertEncoder`, and ``n_classes``.

    ``__call__(tokens, segments=None, valid=None, deterministic=True)`` returns
    ``(B, n_classes)`` logits, so it trains with
    ``jnn.train.classification_loss(model, input_key="tokens",
    target_key="label")``. Parameters: ``encoder`` (as in :class:`BERT`:
    copy pre-trained ones over) and ``classifier``.
    """

    n_classes: int = 2

    def __post_init__(self):
        check_positive_int(self.n_classes, "n_classes")
        super().__post_init__()

    def setup(self):
        """Create the submodules."""
        self.encoder = BertEncoder(**{k: getattr(self, k) for k in _CONFIG})
        self.classifier_dropout = nn.Dropout(self.dropout_rate)
        self.classifier = nn.Dense(self.n_classes, kernel_init=_INIT)

    def __call__(
        self,
        tokens: jax.Array,
        segments: jax.Array | None = None,
        valid: jax.Array | None = None,
        deterministic: bool = True,
    ) -> jax.Array:
        """Class logits ``(B, n_classes)``."""
        _, pooled = self.encoder(tokens, segments, valid, deterministic)
        pooled = self.classifier_dropout(pooled, deterministic=deterministic)
        return self.classifier(pooled)


def bert_pretraining_loss(model: BERT):
    r"""BERT's pre-training loss for ``jnn.train.gradient_learner``.

    .. math:: E = \frac{\sum_{b,t} w_{bt}\,\mathrm{CE}(z_{bt}, x_{bt})}
                       {\max(1, \sum_{b,t} w_{bt})}
                  + \frac{1}{B}\sum_b \mathrm{CE}(u_b, y_b)

    with MLM logits ``z``, targets ``x`` and weights ``w`` (1 at the selected
    positions), NSP logits ``u`` and labels ``y`` (1 = is next).

    The batch is :func:`jnn.transformer.pretraining.pretraining_batch`'s:
    ``{"tokens", "segments", "mlm_targets", "mlm_weights", "is_next"}``; build
    the learner with ``gradient_learner(model, loss, optimizer,
    input_key="tokens")``.

    Returns:
      ``loss(params, batch, ctx) -> (E, {"mlm_loss", "nsp_loss",
      "mlm_accuracy", "nsp_accuracy"}, model_state)``, with a
      ``check(data, name)`` the engine runs before tracing.
    """
    if not isinstance(model, BERT):
        raise TypeError(
            f"`model` must be a jnn.transformer.BERT; got {type(model).__name__}."
        )
    keys = ("tokens", "segments", "mlm_targets", "mlm_weights", "is_next")

    def loss(params: Any, batch, ctx: Context):
        out, state = apply_model(model, params, ctx, batch["tokens"], batch["segments"])
        weights = batch["mlm_weights"]
        total = jnp.maximum(weights.sum(), 1.0)
        targets = batch["mlm_targets"]
        mlm = optax.softmax_cross_entropy_with_integer_labels(out.mlm_logits, targets)
        mlm = (mlm * weights).sum() / total
        hits = jnp.argmax(out.mlm_logits, axis=-1) == targets
        mlm_accuracy = (hits * weights).sum() / total
        labels = batch["is_next"]
        nsp = optax.softmax_cross_entropy_with_integer_labels(out.nsp_logits, labels)
        nsp_accuracy = jnp.mean(jnp.argmax(out.nsp_logits, axis=-1) == labels)
        metrics = {
            "mlm_loss": mlm,
            "nsp_loss": nsp.mean(),
            "mlm_accuracy": mlm_accuracy,
            "nsp_accuracy": nsp_accuracy,
        }
        return mlm + nsp.mean(), metrics, state

    def check(data, name: str) -> None:
        missing = [k for k in keys if k not in data]
        if missing:
            raise ValueError(
                f"`{name}` has no entries {missing} (the loss reads {list(keys)}); "
                f"it has {sorted(data)}."
            )
        entry = {k: f"{name}[{k!r}]" for k in keys}
        for tokens_key in ("tokens", "mlm_targets"):
            check_bert_inputs(
                data[tokens_key],
                data["segments"],
                None,
                vocab_size=model.vocab_size,
                max_length=model.max_length,
                names=(entry[tokens_key], entry["segments"], "valid"),
            )
        shape = tuple(data["tokens"].shape)
        if tuple(data["mlm_weights"].shape) != shape:
            raise ValueError(
                f"`{name}['mlm_weights']` must have the shape of the tokens "
                f"{shape}; got {tuple(data['mlm_weights'].shape)}."
            )
        check_array(data["is_next"], f"{name}['is_next']", kind="i", ndim=1)
        if data["is_next"].shape[0] != shape[0]:
            raise ValueError(
                f"`{name}['is_next']` must hold one label per sequence "
                f"({shape[0]}); got {data['is_next'].shape[0]}."
            )

    loss.check = check
    return loss
