r"""Text generation from a :class:`GPT` with a KV cache, compiled as one ``lax.scan``.

The prompt ``x_1..x_P`` is read once (the *prefill*), filling every layer's
key/value cache; then each step draws one token and feeds only it back, its
queries attending to the cached keys (no prefix is recomputed):

.. math:: x_{t+1} \sim \mathrm{softmax}(\mathrm{filter}(z_t / \tau)),

with temperature ``tau``, and the filter keeping the ``k`` largest logits
(top-k, Fan et al. 2018) and/or the smallest set of tokens whose probability
reaches ``p`` (nucleus or top-p sampling, Holtzman et al. 2020). ``greedy``
takes the argmax. All steps run in one ``jit``-compiled ``lax.scan``: one
compilation per (model, prompt shape, length, top-k, use of top-p, greedy).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jnn._checks import check_bool, check_key, check_positive_float, check_positive_int
from jnn.transformer.gpt import GPT, check_tokens, init_cache

__all__ = ["filter_logits", "generate"]


def filter_logits(
    logits: jax.Array, top_k: int | None = None, top_p: jax.Array | float | None = None
) -> jax.Array:
    """Set to ``-inf`` the logits outside the top-k and the top-p nucleus.

    Args:
      logits: ``(..., V)``.
      top_k: keep the ``k`` largest (ties at the k-th value are kept).
      top_p: keep the most likely tokens until their probability reaches ``p``
        (the most likely token is always kept).
    """
    if top_k is not None:
        kth = jax.lax.top_k(logits, top_k)[0][..., -1:]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    if top_p is not None:
        order = jnp.argsort(-logits, axis=-1)
        sorted_logits = jnp.take_along_axis(logits, order, axis=-1)
        probs = jax.nn.softmax(sorted_logits, axis=-1)
        before = jnp.cumsum(probs, axis=-1) - probs  # mass of the more likely ones
        keep_sorted = before < top_p
        rank = jnp.argsort(order, axis=-1)  # the inverse permutation
        keep = jnp.take_along_axis(keep_sorted, rank, axis=-1)
        logits = jnp.where(keep, logits, -jnp.inf)
    return logits


def _choose(key, logits, temperature, top_k, top_p, greedy):
    if greedy:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    logits = filter_logits(logits / temperature, top_k, top_p)
    return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("model", "length", "top_k", "greedy"))
def _generate(model, params, prompt, key, temperature, top_p, length, top_k, greedy):
    cache = init_cache(model, prompt.shape[0], prompt.shape[1] + length)
    variables = {"params": params}
    logits, cache = model.apply(variables, prompt, cache=cache)

    def step(carry, step_key):
        last, cache = carry
        token = _choose(step_key, last, temperature, top_k, top_p, greedy)
        logits, cache = model.apply(variables, token[:, None], cache=cache)
        return (logits[:, -1], cache), (token, last)

    keys = jax.random.split(key, length)
    _, (tokens, used) = jax.lax.scan(step, (logits[:, -1], cache), keys)
    return tokens.T, jnp.swapaxes(used, 0, 1)


def generate(
    model: GPT,
    params: Any,
    prompt: Any,
    key: jax.Array,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    *,
    return_logits: bool = False,
):
    """Continue ``prompt`` by ``length`` tokens, decoding with a KV cache.

    Args:
      model: a :class:`jnn.transformer.GPT`.
      params: its ``params`` (or the whole ``{"params": ...}`` variables).
      prompt: ``(P,)`` or ``(B, P)`` int ids in ``[0, V)``, ``P >= 1``.
      key: PRNG key of the draws (unused when ``greedy``).
      length: tokens to generate; ``P + length <= model.context``.
      temperature: ``tau > 0`` dividing the logits.
      top_k: keep the ``k`` most likely tokens, ``1 <= k <= V`` (None: all).
      top_p: nucleus mass ``p`` in ``(0, 1]`` (None: no nucleus filter).
      greedy: the argmax at every step.
      return_logits: also return the unfiltered logits each token was drawn
        from, ``(length, V)`` or ``(B, length, V)``.

    Returns:
      ``(length,)`` or ``(B, length)`` int32 tokens (the continuation only),
      and the logits with ``return_logits``.

    Raises:
      ValueError: ``top_k`` outside ``[1, V]``, ``top_p`` outside ``(0, 1]``,
        ``temperature <= 0``, ``length <= 0``, a prompt of the wrong rank, with
        ids outside the vocabulary, or longer than ``context - length``.
      TypeError: ``model`` not a GPT, ``key`` not a PRNG key.
    """
    if not isinstance(model, GPT):
        raise TypeError(
            f"`model` must be a jnn.transformer.GPT; got {type(model).__name__}."
        )
    check_key(key)
    check_positive_int(length, "length")
    check_bool(greedy, "greedy")
    check_bool(return_logits, "return_logits")
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
    if top_p is not None:
        check_positive_float(top_p, "top_p")
        if top_p > 1:
            raise ValueError(f"`top_p` must lie in (0, 1]; got {top_p}.")
    if not hasattr(prompt, "shape") or len(prompt.shape) not in (1, 2):
        raise ValueError(
            "`prompt` must have shape (P,) or (B, P); got "
            f"{getattr(prompt, 'shape', type(prompt).__name__)}."
        )
    single = len(prompt.shape) == 1
    tokens = prompt[None] if single else prompt
    check_tokens(tokens, model.vocab_size, "prompt")
    if tokens.shape[1] == 0:
        raise ValueError("`prompt` must hold at least one token.")
    if tokens.shape[1] + length > model.context:
        raise ValueError(
            f"`prompt` ({tokens.shape[1]} tokens) plus `length` ({length}) must not "
            f"exceed the model's `context` ({model.context})."
        )
    if isinstance(params, Mapping) and "params" in params:
        params = params["params"]
    temperature = jnp.asarray(1.0 if greedy else temperature, jnp.float32)
    top_p = None if top_p is None else jnp.asarray(top_p, jnp.float32)
    out, logits = _generate(
        model,
        params,
        jnp.asarray(tokens, jnp.int32),
        key,
        temperature,
        top_p,
        int(length),
        top_k,
        greedy,
    )
    if single:
        out, logits = out[0], logits[0]
    return (out, logits) if return_logits else out
