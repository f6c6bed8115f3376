"""Demo of curriculum T2: padding and causal masks in multi-head attention.

``attention-masks``: one :class:`jnn.transformer.MultiHeadAttention` layer
(2 heads, width 32, untrained) reads two real lines of Tiny Shakespeare
("Speak, speak." and "One word, good citizens.") as character embeddings plus
the sinusoidal position encoding, padded to one length. Its attention
probabilities ``softmax(q k^T / sqrt(d) + M)`` (sown as ``attention_weights``
in the ``intermediates`` collection) are drawn under (a) the padding mask (no
query sees the ``[PAD]`` keys of the short line), (b) the causal mask (query
``i`` sees keys ``j <= i``) and (c) both combined (``combine_masks``). The
headline is the largest probability on a masked position (exactly 0); the
summary adds the causal leakage, the largest change of an output at positions
before an edit of the later characters (0 with the causal mask, not without).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from jnn import plotting
from jnn.data.text import load_text
from jnn.demos import DemoConfig, DemoResult, register
from jnn.transformer import (
    MultiHeadAttention,
    causal_mask,
    combine_masks,
    padding_mask,
    sinusoidal_encoding,
)

LINES = ("Speak, speak.", "One word, good citizens.")  # lines 4 and 20 of the play
HEADS, FEATURES = 2, 32


@partial(jax.jit, static_argnames="vocab_size")
def _attend(key, tokens, mask, vocab_size):
    """Outputs ``(B, L, d)`` and sown probabilities ``(B, H, L, L)`` of one layer.

    The inputs are character embeddings (a random table drawn from ``key``)
    plus the sinusoidal positions; the layer's weights are drawn from ``key``
    too, so every call (one compilation) sees the same layer.
    """
    k_embed, k_init = jax.random.split(key)
    table = jax.random.normal(k_embed, (vocab_size, FEATURES))
    x = table[tokens] + sinusoidal_encoding(tokens.shape[1], FEATURES)[None]
    layer = MultiHeadAttention(HEADS)
    variables = layer.init(k_init, x)
    y, state = layer.apply(variables, x, mask=mask, mutable=["intermediates"])
    return y, state["intermediates"]["attention_weights"][0]


def _label(text: str, length: int) -> list[str]:
    """Tick labels: the characters, ``_`` for a space, ``·`` for padding."""
    return [c.replace(" ", "_") for c in text] + ["·"] * (length - len(text))


@register("attention-masks", "T2", "attention maps under padding / causal / both masks")
def attention_masks(config: DemoConfig) -> DemoResult:
    """Attention probabilities of one layer under three masks, and the leakage."""
    corpus = load_text("tinyshakespeare")
    lengths = np.array([len(line) for line in LINES])
    length = int(lengths.max())
    tokens = np.zeros((len(LINES), length), np.int32)
    for i, line in enumerate(LINES):
        tokens[i, : len(line)] = corpus.vocab.encode(line)
    key = jax.random.key(config.seed)
    vocab_size = corpus.vocab.size
    full = (len(LINES), 1, length, length)  # one mask shape: one compilation
    masks = {
        "padding": padding_mask(jnp.asarray(lengths), length),
        "causal": causal_mask(length),
        "padding + causal": combine_masks(
            padding_mask(jnp.asarray(lengths), length), causal_mask(length)
        ),
    }
    masks = {name: jnp.broadcast_to(m, full) for name, m in masks.items()}
    weights, masked_max = {}, 0.0
    for name, mask in masks.items():
        _, w = _attend(key, tokens, mask, vocab_size)
        weights[name] = np.asarray(w)
        hidden = ~np.broadcast_to(np.asarray(mask), w.shape)
        masked_max = max(masked_max, float(weights[name][hidden].max(initial=0.0)))
    row_error = max(float(np.abs(w.sum(-1) - 1).max()) for w in weights.values())

    # Leakage: edit the second half of the long line; outputs before it must not move.
    cut = length // 2
    edited = tokens.copy()
    edited[1, cut:] = corpus.vocab.encode("x" * (length - cut))
    leakage = {}
    for name, mask in (("causal", masks["causal"]), ("none", jnp.ones(full, bool))):
        before = _attend(key, tokens, mask, vocab_size)[0]
        after = _attend(key, edited, mask, vocab_size)[0]
        leakage[name] = float(jnp.abs(before[1, :cut] - after[1, :cut]).max())

    fig, axes = plt.subplots(len(LINES), len(masks), figsize=(13, 8.5))
    for col, (name, w) in enumerate(weights.items()):
        for row, line in enumerate(LINES):
            ax = axes[row, col]
            image = ax.imshow(w[row, 0], vmin=0.0, cmap="viridis")
            ticks = _label(line, length)
            ax.set_xticks(range(length), ticks, fontsize=6)
            ax.set_yticks(range(length), ticks, fontsize=6)
            ax.set(title=f"{name}: {line!r} (head 1)", xlabel="key", ylabel="query")
            fig.colorbar(image, ax=ax, fraction=0.046)
    path = plotting.save(fig, config.out / "attention_masks.png")
    return DemoResult(
        f"Tiny Shakespeare, 2 lines padded to {length} characters",
        "largest attention weight on a masked position",
        masked_max,
        (path,),
        f"Masked positions get weight {masked_max:.1e} under all three masks; rows "
        f"sum to 1 within {row_error:.1e}. Editing characters {cut}.. of line 2 "
        f"moves the outputs before them by {leakage['causal']:.1e} with the causal "
        f"mask and by {leakage['none']:.2f} without a mask.",
    )
