r"""BERT's pre-training data: special tokens, packed pairs, masked tokens.

BERT (Devlin et al. 2019, "BERT: Pre-training of deep bidirectional
transformers for language understanding", sec. 3.1) is pre-trained on two
tasks at once:

* **masked language modelling** (MLM): :func:`mlm_mask` selects each real,
  non-special token with probability ``p_sel = 0.15``; a selected token is
  replaced by ``[MASK]`` with probability 0.8, by a token drawn uniformly from
  the non-special vocabulary with probability 0.1, and left unchanged with
  probability 0.1; the model predicts the original token at the selected
  positions only:

  .. math:: E_{MLM} = -\frac{\sum_{b,t} w_{bt}\log p(x_{bt}\mid\tilde x_b)}
                            {\sum_{b,t} w_{bt}},\qquad
            w_{bt} = [\text{position } t \text{ of } b \text{ selected}];

* **next-sentence prediction** (NSP): is segment B the text that follows
  segment A? The pair is packed as ``[CLS] A [SEP] B [SEP]`` (:func:`pack_pair`)
  with segment ids 0 for ``[CLS] A [SEP]`` and 1 for ``B [SEP]``.

Tokens are characters of a :class:`jnn.data.Vocabulary` shifted past the four
special tokens of :class:`BertVocabulary`; pairs are lines of Tiny Shakespeare
(:func:`jnn.data.sentence_pairs`). Selection is an independent coin per token
(Hugging Face's ``DataCollatorForLanguageModeling``), not exactly
``round(0.15 n)`` tokens per sequence as BERT's ``create_pretraining_data.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_ids_below,
    check_key,
    check_positive_int,
)
from jnn.transformer.packing import (
    CLS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    SPECIAL_TOKENS,
    BertVocabulary,
    nsp_batch,
    pack_pair,
    pack_pairs,
)

__all__ = [
    "CLS_ID",
    "MASK_ID",
    "PAD_ID",
    "SEP_ID",
    "SPECIAL_TOKENS",
    "BertVocabulary",
    "MaskedTokens",
    "mlm_mask",
    "nsp_batch",
    "pack_pair",
    "pack_pairs",
    "pretraining_batch",
]


class MaskedTokens(NamedTuple):
    """The output of :func:`mlm_mask`.

    Attributes:
      inputs: ``(B, L)`` int32, the corrupted tokens the model reads.
      targets: ``(B, L)`` int32, the original tokens.
      weights: ``(B, L)`` float32, 1 at the selected positions, else 0.
    """

    inputs: jax.Array
    targets: jax.Array
    weights: jax.Array


@partial(jax.jit, static_argnames=("choices", "mask_id", "rates"))
def _mask(key, tokens, eligible, *, choices, mask_id, rates):
    select_rate, mask_rate, random_rate = rates
    k_select, k_action, k_random = jax.random.split(key, 3)
    selected = eligible & jax.random.bernoulli(k_select, select_rate, tokens.shape)
    action = jax.random.uniform(k_action, tokens.shape)
    table = jnp.asarray(choices, jnp.int32)
    random_tokens = table[jax.random.randint(k_random, tokens.shape, 0, len(choices))]
    replaced = jnp.where(action < mask_rate, mask_id, tokens)
    replaced = jnp.where(
        (action >= mask_rate) & (action < mask_rate + random_rate),
        random_tokens,
        replaced,
    )
    inputs = jnp.where(selected, replaced, tokens).astype(jnp.int32)
    return MaskedTokens(inputs, tokens.astype(jnp.int32), selected.astype(jnp.float32))


def _check_rate(value: Any, name: str, low_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise TypeError(f"`{name}` must be a float in [0, 1]; got {value!r}.")
    if not (0 < value <= 1 if low_open else 0 <= value <= 1):
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"`{name}` must be in {interval}; got {value}.")
    return float(value)


def mlm_mask(
    key: jax.Array,
    tokens: Any,
    valid: Any,
    *,
    vocab_size: int,
    mask_id: int = MASK_ID,
    special_ids: Sequence[int] = (PAD_ID, CLS_ID, SEP_ID, MASK_ID),
    select_rate: float = 0.15,
    mask_rate: float = 0.8,
    random_rate: float = 0.1,
) -> MaskedTokens:
    """BERT's masked-language-model corruption (Devlin et al. 2019, sec. 3.1).

    Each position with ``valid`` true whose token is not in ``special_ids`` is
    selected independently with probability ``select_rate``; a selected token
    becomes ``mask_id`` with probability ``mask_rate``, a token drawn uniformly
    from the ids in ``[0, vocab_size)`` outside ``special_ids`` with
    probability ``random_rate``, and stays as it is otherwise. Padding and
    special tokens are never selected.

    Args:
      key: PRNG key; the same key gives the same corruption.
      tokens: ``(B, L)`` int ids in ``[0, vocab_size)``.
      valid: ``(B, L)`` bool (True = a real token) or ``(B,)`` int lengths.
      vocab_size: ``V``.
      mask_id: the ``[MASK]`` id.
      special_ids: ids never selected nor drawn as random replacements.
      select_rate: probability of selecting an eligible token, in ``(0, 1]``
        (BERT: 0.15).
      mask_rate: probability that a selected token becomes ``[MASK]`` (0.8).
      random_rate: probability that it becomes a random token (0.1);
        ``mask_rate + random_rate <= 1``, the rest stay unchanged.

    Returns:
      :class:`MaskedTokens` ``(inputs, targets, weights)``.

    Raises:
      TypeError: a bad key or non-int tokens.
      ValueError: shapes that disagree, ids outside the vocabulary, rates
        outside their ranges, or no token left to draw replacements from.
    """
    check_key(key)
    check_positive_int(vocab_size, "vocab_size")
    check_array(tokens, "tokens", kind="i", ndim=2)
    rates = (
        _check_rate(select_rate, "select_rate", True),
        _check_rate(mask_rate, "mask_rate", False),
        _check_rate(random_rate, "random_rate", False),
    )
    if rates[1] + rates[2] > 1:
        raise ValueError(
            f"`mask_rate + random_rate` must be at most 1; got {rates[1]} + {rates[2]}."
        )
    specials = tuple(sorted({int(i) for i in special_ids}))
    if any(not 0 <= i < vocab_size for i in specials):
        raise ValueError(
            f"`special_ids` must lie in [0, {vocab_size}) (`vocab_size`); got "
            f"{list(specials)}."
        )
    if not 0 <= int(mask_id) < vocab_size:
        raise ValueError(f"`mask_id` must lie in [0, {vocab_size}); got {mask_id}.")
    choices = tuple(int(i) for i in np.setdiff1d(np.arange(vocab_size), specials))
    if not choices:
        raise ValueError("`special_ids` covers the whole vocabulary: nothing to draw.")
    check_ids_below(tokens, vocab_size, "tokens")
    b, length = tokens.shape
    if not hasattr(valid, "shape") or not hasattr(valid, "dtype"):
        raise TypeError(f"`valid` must be an array; got {type(valid).__name__}.")
    if np.dtype(valid.dtype) == np.bool_:
        if tuple(valid.shape) != (b, length):
            raise ValueError(
                f"`valid` must have the shape of `tokens` {(b, length)}; got "
                f"{tuple(valid.shape)}."
            )
        real = jnp.asarray(valid)
    else:
        check_array(valid, "valid", kind="i")
        if tuple(valid.shape) != (b,):
            raise ValueError(
                f"`valid` as lengths must have shape ({b},); got {tuple(valid.shape)}."
            )
        real = jnp.arange(length)[None, :] < jnp.asarray(valid)[:, None]
    tokens = jnp.asarray(tokens)
    eligible = real & ~jnp.isin(tokens, jnp.asarray(specials, tokens.dtype))
    return _mask(
        key, tokens, eligible, choices=choices, mask_id=int(mask_id), rates=rates
    )


def pretraining_batch(
    key: jax.Array, packed: Mapping[str, Any], *, vocab_size: int, **mask_options
) -> dict[str, np.ndarray]:
    """Masked pre-training data: :func:`nsp_batch` output through :func:`mlm_mask`.

    The masking is drawn once (static masking, as BERT's data generation; call
    again with another key for a fresh corruption, RoBERTa's dynamic masking).

    Returns:
      ``{"tokens": corrupted inputs, "segments", "mlm_targets",
      "mlm_weights", "is_next"}``, the batch of
      :func:`jnn.transformer.bert_pretraining_loss`.
    """
    masked = mlm_mask(
        key, packed["tokens"], packed["valid"], vocab_size=vocab_size, **mask_options
    )
    return {
        "tokens": np.asarray(masked.inputs),
        "segments": np.asarray(packed["segments"], np.int32),
        "mlm_targets": np.asarray(masked.targets),
        "mlm_weights": np.asarray(masked.weights),
        "is_next": np.asarray(packed["is_next"], np.int32),
    }
