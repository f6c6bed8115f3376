"""Demo of curriculum T3: a small character GPT on Tiny Shakespeare.

``gpt-shakespeare``: a decoder-only Transformer (:class:`jnn.transformer.GPT`:
2 pre-norm causal blocks of width 64 with 4 heads, context 64, learned
positions, output tied to the embedding) trained on the next-character
cross-entropy (``gpt_loss``) through ``jnn.train.fit``: non-overlapping blocks
of 65 characters (``next_token_blocks``) of the first part of the fixed 90 %
training split, shuffled mini-batches of 16, AdamW with warm-up and cosine
decay, clipping by global norm 1. The headline is the validation loss on the
first characters of the validation split, cut the same way; then three
continuations of "ROMEO:" are drawn with the KV-cached ``generate`` (one
compiled ``lax.scan``, temperature 0.8, top-k 20). It trains for seconds, so
expect spelling, not sense; ``benchmarks/transformer.py`` times the model
against a PyTorch GPT.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import plotting
from jnn.data.text import load_text
from jnn.demos import DemoConfig, DemoResult, register
from jnn.train import fit, gradient_learner
from jnn.transformer import GPT, generate, gpt_loss, next_token_blocks

PROMPT = "ROMEO:\n"
SAMPLES = 3


def _optimizer(steps: int, peak: float = 3e-3) -> optax.GradientTransformation:
    """AdamW, linear warm-up over ~10 % of ``steps`` then cosine decay, clipping."""
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, peak, max(1, steps // 10), max(2, steps), end_value=peak / 10
    )
    return optax.chain(
        optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=0.01)
    )


@register(
    "gpt-shakespeare", "T3", "character GPT on Tiny Shakespeare, KV-cached sample"
)
def gpt_shakespeare(config: DemoConfig) -> DemoResult:
    """Short training of a small GPT, its validation loss and three samples."""
    corpus = load_text("tinyshakespeare")
    if config.smoke:
        context, layers, heads, features = 32, 1, 2, 32
        n_train, n_val, batch_size = 10_000, 2_000, 16
    else:
        context, layers, heads, features = 64, 2, 4, 64
        n_train, n_val, batch_size = 50_000, 8_000, 16
    train = next_token_blocks(corpus.train[:n_train], context)
    val = next_token_blocks(corpus.val[:n_val], context)
    epochs = config.epochs_or(4, smoke=1)
    model = GPT(corpus.vocab.size, context, layers, heads, features)
    steps = epochs * (len(train["x"]) // batch_size)
    learner = gradient_learner(model, gpt_loss(model), _optimizer(steps))
    key = jax.random.key(config.seed)
    k_fit, k_sample = jax.random.split(key)
    result = fit(
        learner,
        train,
        key=k_fit,
        epochs=epochs,
        batch_size=batch_size,
        val=val,
        progress=False,
    )
    prompt = jnp.tile(jnp.asarray(corpus.vocab.encode(PROMPT)), (SAMPLES, 1))
    tokens = generate(
        model,
        result.state.params,
        prompt,
        k_sample,
        length=context - len(PROMPT),
        temperature=0.8,
        top_k=20,
    )
    texts = [PROMPT + corpus.vocab.decode(row) for row in np.asarray(tokens)]
    (config.out / "gpt_shakespeare_samples.txt").write_text("\n---\n".join(texts))
    history = result.history
    path = plotting.loss_history(
        history,
        config.out / "gpt_shakespeare_loss.png",
        title=f"GPT ({layers} x {features}, context {context}), Tiny Shakespeare",
        ylabel="cross-entropy (nats/char)",
        log=False,
    )
    val_loss = float(history["val_loss"][-1])
    counts = np.bincount(corpus.train[:n_train], minlength=corpus.vocab.size)
    p = counts[counts > 0] / counts.sum()
    unigram = float(-(p * np.log(p)).sum())
    samples = "\n---\n".join(texts)
    return DemoResult(
        f"Tiny Shakespeare, first {n_train:,} training / {n_val:,} validation "
        "characters",
        "validation loss (nats/char)",
        val_loss,
        (path,),
        f"Validation {val_loss:.3f} nats/char ({val_loss / np.log(2):.3f} bits; "
        f"the training slice's unigram entropy is {unigram:.3f}) after {steps} "
        f"steps ({result.epochs} epochs of {batch_size} blocks of {context}); "
        f"KV-cached samples at temperature 0.8, top-k 20:\n\n```\n{samples}\n```",
    )
