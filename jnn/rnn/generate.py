r"""Sampling text from a recurrent language model, compiled as one ``lax.scan``.

Given a prompt ``x_1..x_P`` the model reads it once, then draws one token per
step and feeds it back (ancestral sampling, Graves 2013):

.. math:: x_{t+1} \sim \mathrm{softmax}(z_t / \tau),

with logits ``z_t`` and temperature ``tau > 0`` (``tau < 1`` sharpens,
``tau -> 0`` tends to the argmax: greedy decoding). Top-k sampling (Fan, Lewis &
Dauphin 2018) first keeps the ``k`` largest logits and renormalises over them.
The loop over generated tokens is a ``lax.scan`` inside one ``jit``: one
compilation per (model, prompt shape, length, top-k, greedy).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jnn._checks import check_key, check_positive_float, check_positive_int
from jnn.rnn.language_model import CharRNN, check_tokens

__all__ = ["sample"]


def _choose(key, logits, temperature, top_k: int | None, greedy: bool):
    """Next tokens ``(B,)`` from logits ``(B, V)``."""
    if greedy:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    if top_k is not None:
        kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    return jax.random.categorical(key, logits / temperature, axis=-1).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("model", "length", "top_k", "greedy"))
def _sample(model, params, prompt, key, temperature, length, top_k, greedy):
    variables = {"params": params}
    logits, state = model.apply(variables, prompt, use_carry=False, return_state=True)

    def step(carry, step_key):
        last, state = carry
        token = _choose(step_key, last, temperature, top_k, greedy)
        logits, state = model.apply(
            variables, token[:, None], state=state, use_carry=False, return_state=True
        )
        return (logits[:, -1], state), token

    keys = jax.random.split(key, length)
    _, tokens = jax.lax.scan(step, (logits[:, -1], state), keys)
    return tokens.T


def sample(
    model: CharRNN,
    params: Any,
    prompt: Any,
    key: jax.Array,
    *,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    greedy: bool = False,
) -> jax.Array:
    """Continue ``prompt`` by ``length`` sampled tokens.

    Args:
      model: a :class:`jnn.rnn.CharRNN`.
      params: its ``params`` collection (or the whole ``{"params": ...}``
        variables; the carry is not used: sampling starts from a zero state).
      prompt: ``(P,)`` or ``(B, P)`` int token ids in ``[0, V)``, ``P >= 1``.
      key: PRNG key of the draws (unused when ``greedy``).
      length: number of tokens to generate.
      temperature: ``tau > 0`` dividing the logits.
      top_k: keep only the ``k`` most likely tokens, ``1 <= k <= V`` (None:
        all).
      greedy: take the argmax at every step (the ``tau -> 0`` limit).

    Returns:
      ``(length,)`` or ``(B, length)`` int32 tokens, the continuation only.

    Raises:
      ValueError: ``temperature <= 0``, ``top_k`` outside ``[1, V]``,
        ``length <= 0``, a prompt of the wrong rank or with ids outside the
        vocabulary.
      TypeError: ``model`` not a CharRNN, or ``key`` not a PRNG key.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> model = CharRNN(vocab_size=5, features=8)
      >>> params = model.init(jax.random.key(0), jnp.zeros((1, 3), jnp.int32))
      >>> sample(model, params, jnp.array([1, 2]), jax.random.key(1), length=4).shape
      (4,)
    """
    if not isinstance(model, CharRNN):
        raise TypeError(
            f"`model` must be a jnn.rnn.CharRNN; got {type(model).__name__}."
        )
    check_key(key)
    check_positive_int(length, "length")
    if not isinstance(greedy, bool):
        raise TypeError(f"`greedy` must be a bool; got {greedy!r}.")
    if not greedy:
        check_positive_float(temperature, "temperature")
    if top_k is not None:
        check_positive_int(top_k, "top_k")
        if top_k > model.vocab_size:
            raise ValueError(
                f"`top_k` must lie in [1, {model.vocab_size}] (the vocabulary "
                f"size); got {top_k}."
            )
        top_k = int(top_k)
    check_tokens(prompt, model.vocab_size, "prompt", ndim=(1, 2))
    if prompt.shape[-1] == 0:
        raise ValueError("`prompt` must hold at least one token.")
    if isinstance(params, Mapping) and "params" in params:  # whole variables
        params = params["params"]
    single = prompt.ndim == 1
    tokens = jnp.asarray(prompt, jnp.int32)
    tokens = tokens[None] if single else tokens
    temperature = jnp.asarray(1.0 if greedy else temperature, jnp.float32)
    out = _sample(model, params, tokens, key, temperature, int(length), top_k, greedy)
    return out[0] if single else out
