r"""A character-level recurrent language model trained by truncated BPTT.

:class:`CharRNN` (Karpathy's char-rnn, 2015; Graves 2013, "Generating sequences
with recurrent neural networks") embeds tokens, runs a :class:`RecurrentStack`
and maps every step to next-token logits. It models

.. math:: p(x_1, \dots, x_T) = \prod_t p(x_{t+1} \mid x_{\le t}),\qquad
          E = -\frac{1}{B T}\sum_{b, t} \log p(x_{b, t+1} \mid x_{b, \le t}).

Truncated back-propagation through time (Williams & Peng 1990; Sutskever 2013)
walks a long stream in windows of ``k`` steps: the hidden state is carried from
one window to the next, but gradients stop at the window's start. In jnn this
is the ordinary engine with a batch plan: ``jnn.train.sequence_windows(B, k)``
cuts the stream into ``B`` parallel streams and feeds window ``s`` of every
stream at step ``s``; the model keeps its state in the Flax collection
``"carry"``, which the engine holds as model state (an input of the loss, not a
parameter: no gradient flows into it, which is the truncation) and zeroes at
the start of every epoch (``reset_collections=("carry",)``)::

    model = CharRNN(vocab_size=65, features=256, layers=2, cell="lstm")
    learner = tbptt_learner(model, optax.chain(optax.clip_by_global_norm(5.0),
                                               optax.adam(2e-3)))
    fit(learner, next_token_stream(corpus.train), key=key, epochs=10,
        plan=sequence_windows(32, 64), val=next_token_stream(corpus.val))

With ``k`` equal to the stream length (one window) this is full BPTT.
Evaluation (``val``) reads each stream from a zero state.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jnn._checks import (
    check_array,
    check_ids_below,
    check_positive_float,
    check_positive_int,
)
from jnn.nn import flat_dot_general
from jnn.rnn.dropout import time_constant_dropout
from jnn.rnn.sequence import RecurrentStack, _check_config
from jnn.train import BatchPlan, Context, Learner, apply_model, gradient_learner

__all__ = ["CharRNN", "check_tokens", "language_model_loss", "tbptt_learner"]


def check_tokens(tokens: Any, vocab_size: int, name: str = "tokens", ndim=(2,)) -> None:
    """Raise unless ``tokens`` is an int array of a rank in ``ndim``, ids in ``[0, V)``.

    The range is checked only when ``tokens`` is concrete.
    """
    check_array(tokens, name, kind="i")
    if len(tokens.shape) not in ndim:
        want = " or ".join(str(n) for n in ndim)
        raise ValueError(
            f"`{name}` must have rank {want} (batch, time); got shape "
            f"{tuple(tokens.shape)}."
        )
    check_ids_below(
        tokens, vocab_size, name, noun="token ids", bound="the vocabulary size"
    )


class CharRNN(nn.Module):
    """Embedding -> recurrent stack -> next-token logits, with a carried state.

    Attributes:
      vocab_size: ``V``, the number of tokens.
      features: ``H``, the state size of every layer.
      layers: stacked recurrent layers.
      cell: a name of :data:`jnn.rnn.CELLS`.
      dropout: variational dropout on the embeddings, every layer's state and
        inputs, and the top outputs (one mask per sequence; training only).
      embedding_features: embedding size (None: ``H``).
      path: the stack's implementation (:data:`jnn.rnn.sequence.PATHS`:
        ``"auto"``, the fast path on CPU; ``"flax"``, the reference).
      activation: the Elman cell's ``f``: ``"tanh"`` (default) or ``"relu"``.

    Model state: collection ``"carry"``, entry ``"state"``: the stack's state
    (as :meth:`RecurrentStack.zero_state`) for the batch size of ``init``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> model = CharRNN(vocab_size=10, features=16)
      >>> tokens = jnp.zeros((4, 7), jnp.int32)           # (B, T)
      >>> variables = model.init(jax.random.key(0), tokens)
      >>> sorted(variables), model.apply(variables, tokens).shape
      (['carry', 'params'], (4, 7, 10))
    """

    vocab_size: int
    features: int = 128
    layers: int = 1
    cell: str = "lstm"
    dropout: float = 0.0
    embedding_features: int | None = None
    path: str = "auto"
    activation: str = "tanh"

    def __post_init__(self):
        check_positive_int(self.vocab_size, "vocab_size")
        _check_config(self)
        check_positive_int(
            self.embedding_features, "embedding_features", allow_none=True
        )
        super().__post_init__()

    @nn.compact
    def __call__(
        self,
        tokens: jax.Array,
        *,
        state: tuple | None = None,
        use_carry: bool = True,
        return_state: bool = False,
        train: bool = False,
    ):
        """Next-token logits of ``tokens``.

        Args:
          tokens: ``(B, T)`` int token ids in ``[0, V)``.
          state: start state (as :meth:`RecurrentStack.zero_state`); overrides
            the carry.
          use_carry: without ``state``, start from the ``"carry"`` collection and,
            when it is mutable (training steps of the engine), store the end
            state there; False starts from zeros and leaves the carry alone.
          return_state: also return the end state.
          train: training mode (dropout).

        Returns:
          ``(B, T, V)`` logits, or ``(logits, end_state)`` with ``return_state``.
        """
        check_tokens(tokens, self.vocab_size)
        stack = RecurrentStack(
            self.cell,
            self.features,
            self.layers,
            False,
            self.dropout,
            path=self.path,
            activation=self.activation,
            name="stack",
        )
        carry = None
        if state is None and use_carry:
            batch = tokens.shape[0]
            carry = self.variable("carry", "state", stack.zero_state, batch)
            carried = jax.tree.leaves(carry.value)[0].shape[0]
            if carried != batch:
                raise ValueError(
                    f"`tokens` has {batch} sequences but the carried state holds "
                    f"{carried} (the batch of init); pass use_carry=False or a "
                    "`state` to run another batch size."
                )
            state = carry.value
        width = self.embedding_features or self.features
        table = nn.Embed(self.vocab_size, width, name="embed").embedding
        # the stack gathers the rows (and on its fast path projects the table first)
        end_state, outputs = stack._run(table, tokens, None, state, train)
        if (
            carry is not None
            and self.is_mutable_collection("carry")
            and not self.is_initializing()
        ):
            carry.value = end_state
        outputs = time_constant_dropout(self, outputs, self.dropout, not train)
        logits = nn.Dense(self.vocab_size, dot_general=flat_dot_general, name="head")(
            outputs
        )
        return (logits, end_state) if return_state else logits


def _checker(model: CharRNN, input_key: str, target_key: str):
    def check(data, name: str) -> None:
        for entry in (input_key, target_key):
            if entry not in data:
                raise ValueError(
                    f"`{name}` has no entry {entry!r} (the loss reads {input_key!r} "
                    f"and {target_key!r}); it has {sorted(data)}."
                )
        for entry in (input_key, target_key):
            check_tokens(data[entry], model.vocab_size, f"{name}[{entry!r}]", (1, 2))
        if tuple(data[input_key].shape) != tuple(data[target_key].shape):
            raise ValueError(
                f"`{name}[{input_key!r}]` and `{name}[{target_key!r}]` must have the "
                f"same shape; got {tuple(data[input_key].shape)} and "
                f"{tuple(data[target_key].shape)}."
            )

    return check


def language_model_loss(
    model: CharRNN, *, input_key: str = "x", target_key: str = "y", carried: bool = True
):
    r"""Next-token cross-entropy of a :class:`CharRNN`, the carry as model state.

    .. math:: E = -\frac{1}{B T}\sum_{b, t}\log \mathrm{softmax}(f(x)_{b,t})_{y_{b,t}}

    Args:
      model: the language model.
      input_key: batch entry of the tokens ``x``: ``(B, k)`` windows (training)
        or a ``(T,)`` stream (read as one sequence, e.g. ``val``).
      target_key: batch entry of the next tokens ``y`` (same shape).
      carried: in training steps start from, and update, the ``"carry"``
        collection (truncated BPTT); False starts every batch from zeros.
        Evaluation always starts from zeros.

    Returns:
      ``loss(params, batch, ctx) -> (E, {"accuracy", "bits_per_token"},
      model_state)``, with a ``check(data, name)`` the engine runs before
      tracing (integer ids in ``[0, V)``, matching shapes).
    """
    if not isinstance(model, CharRNN):
        raise TypeError(
            f"`model` must be a jnn.rnn.CharRNN; got {type(model).__name__}."
        )

    def loss(params: Any, batch, ctx: Context):
        x, y = batch[input_key], batch[target_key]
        if x.ndim == 1:  # one stream
            x, y = x[None], y[None]
        use_carry = carried and ctx.train
        logits, state = apply_model(model, params, ctx, x, use_carry=use_carry)
        value = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
        metrics = {"accuracy": accuracy, "bits_per_token": value / math.log(2.0)}
        return value, metrics, state

    loss.check = _checker(model, input_key, target_key)
    return loss


def tbptt_learner(
    model: CharRNN,
    optimizer: optax.GradientTransformation | None = None,
    *,
    learning_rate: float = 2e-3,
    max_norm: float = 5.0,
    plan: BatchPlan | None = None,
    input_key: str = "x",
    target_key: str = "y",
) -> Learner:
    """A gradient learner for truncated BPTT of a :class:`CharRNN`.

    It is ``jnn.train.gradient_learner(model, language_model_loss(model),
    optimizer, reset_collections=("carry",))``: train it with
    ``fit(..., plan=jnn.train.sequence_windows(B, k))``.

    Args:
      model: the language model.
      optimizer: any Optax transformation; None gives
        ``optax.chain(optax.clip_by_global_norm(max_norm), optax.adam(learning_rate))``
        (clipping by global norm, Pascanu et al. 2013).
      learning_rate: Adam's step size when ``optimizer`` is None.
      max_norm: the clipping threshold when ``optimizer`` is None.
      plan: a plan the learner declares (e.g. ``sequence_windows(B, k)``), or
        None for the caller's choice.
      input_key: batch entry of the tokens.
      target_key: batch entry of the next tokens.
    """
    if optimizer is None:
        check_positive_float(learning_rate, "learning_rate")
        check_positive_float(max_norm, "max_norm")
        optimizer = optax.chain(
            optax.clip_by_global_norm(max_norm), optax.adam(learning_rate)
        )
    loss = language_model_loss(model, input_key=input_key, target_key=target_key)
    return gradient_learner(
        model,
        loss,
        optimizer,
        input_key=input_key,
        reset_collections=("carry",),
        plan=plan,
    )
