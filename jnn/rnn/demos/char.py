"""Demo of curriculum R2-R3: a character-level LSTM on Tiny Shakespeare.

``char-lstm``: a one-layer LSTM language model (:class:`jnn.rnn.CharRNN`)
trained by truncated BPTT through ``jnn.train`` (ordered windows of
``sequence_windows(B, k)``, the state carried across windows and reset each
epoch, Adam with clipping by global norm), then sampled with temperature as one
compiled ``lax.scan``. The demo trains on the first part of the fixed 90 %
training split for seconds; ``examples/rnn/char_lstm.py`` trains the 2-layer,
256-unit model to the issue's validation loss.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnn import plotting
from jnn.data.text import load_text, next_token_stream
from jnn.demos import DemoConfig, DemoResult, register
from jnn.rnn import CharRNN, sample, tbptt_learner
from jnn.train import fit, sequence_windows

PROMPT = "ROMEO:\n"


def train_char_model(
    model: CharRNN,
    train_tokens: np.ndarray,
    val_tokens: np.ndarray,
    *,
    key: jax.Array,
    epochs: int,
    streams: int = 32,
    window: int = 64,
    learning_rate: float = 2e-3,
    progress: bool | None = False,
):
    """Truncated BPTT of ``model`` over ``train_tokens``; validation per epoch.

    Returns:
      The :class:`jnn.train.FitResult`; ``history["val_loss"]`` is the
      validation cross-entropy in nats per character.
    """
    learner = tbptt_learner(model, learning_rate=learning_rate)
    return fit(
        learner,
        next_token_stream(train_tokens),
        key=key,
        epochs=epochs,
        val=next_token_stream(val_tokens),
        plan=sequence_windows(streams, window),
        progress=progress,
    )


@register("char-lstm", "R3", "character LSTM on Tiny Shakespeare, generated text")
def char_lstm(config: DemoConfig) -> DemoResult:
    """Short truncated-BPTT training of a character LSTM, then a sample."""
    corpus = load_text("tinyshakespeare")
    n_train = 20_000 if config.smoke else 250_000
    n_val = 2_000 if config.smoke else 10_000
    model = CharRNN(corpus.vocab.size, features=32 if config.smoke else 128)
    key = jax.random.key(config.seed)
    k_fit, k_sample = jax.random.split(key)
    result = train_char_model(
        model,
        corpus.train[:n_train],
        corpus.val[:n_val],
        key=k_fit,
        epochs=config.epochs_or(2, smoke=1),
    )
    prompt = jnp.asarray(corpus.vocab.encode(PROMPT))
    tokens = sample(
        model,
        result.state.params,
        prompt,
        k_sample,
        length=60 if config.smoke else 300,
        temperature=0.8,
    )
    text = PROMPT + corpus.vocab.decode(np.asarray(tokens).reshape(-1))
    (config.out / "char_lstm_sample.txt").write_text(text)
    history = result.history
    path = plotting.loss_history(
        history,
        config.out / "char_lstm_loss.png",
        title="Character LSTM, Tiny Shakespeare",
        ylabel="cross-entropy (nats/char)",
        log=False,
    )
    val_loss = float(history["val_loss"][-1])
    return DemoResult(
        f"Tiny Shakespeare, first {n_train:,} training characters",
        "validation loss (nats/char)",
        val_loss,
        (path,),
        f"Validation {val_loss:.3f} nats/char "
        f"({val_loss / np.log(2):.3f} bits) after {result.epochs} epochs; sample "
        f"at temperature 0.8:\n\n```\n{text}\n```",
    )
