"""Demo of curriculum R1: vanishing and exploding gradients against the theory.

``rnn-gradients``: an Elman recurrence ``h_t = f(W_hh h_{t-1} + W_xh x_t + b)``
of 64 units over 100 steps, ``W_hh = sigma Q`` (``Q`` Haar-orthogonal, so
``sigma_max = sigma``), driven by Tiny Shakespeare's first characters as one-hot
inputs. It plots ``||dL/dh_{T-k}||`` of a last-step loss against the lag ``k``
for ``sigma`` below, at and above 1, with the bound ``(gamma sigma_max)^k`` of
Pascanu, Mikolov & Bengio (2013) as dashed lines: with the identity activation
the bound is attained (vanishing for sigma < 1, exploding for sigma > 1); tanh
saturates and stays under it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt

from jnn import plotting
from jnn.data.text import load_text
from jnn.demos import DemoConfig, DemoResult, register
from jnn.rnn.gradients import gradient_norms_by_lag, scaled_orthogonal, spectral_bound

UNITS, STEPS = 64, 100
SIGMAS = (0.8, 1.0, 1.25)


def _inputs(steps: int) -> jax.Array:
    """One-hot characters of the corpus' first ``steps`` training tokens."""
    corpus = load_text("tinyshakespeare")
    tokens = jnp.asarray(corpus.train[:steps])
    return jax.nn.one_hot(tokens, corpus.vocab.size)


@register("rnn-gradients", "R1", "gradient norm vs lag for sigma_max below/above 1")
def rnn_gradients(config: DemoConfig) -> DemoResult:
    """Gradient norm against lag, measured and bounded, for three ``sigma_max``."""
    steps = 30 if config.smoke else STEPS
    x = _inputs(steps)
    key = jax.random.key(config.seed)
    k_w, k_in = jax.random.split(key)
    w_xh = 0.1 * jax.random.normal(k_in, (UNITS, x.shape[1]))
    b, h0 = jnp.zeros(UNITS), jnp.zeros(UNITS)
    lags = jnp.arange(steps + 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    ends = {}
    for ax, activation in zip(axes, ("linear", "tanh"), strict=True):
        for sigma in SIGMAS:
            w = scaled_orthogonal(k_w, UNITS, sigma)
            norms = gradient_norms_by_lag(w, w_xh, b, x, h0, activation=activation)
            bound = spectral_bound(w, lags, activation=activation)
            (line,) = ax.semilogy(lags, norms, label=f"sigma_max = {sigma}")
            ax.semilogy(lags, bound, "--", color=line.get_color(), alpha=0.6)
            ends[activation, sigma] = float(norms[-1])
        ax.set(
            xlabel="lag t - s",
            title=f"{activation} recurrence (dashed: (gamma sigma_max)^lag)",
        )
        ax.legend()
    axes[0].set_ylabel("||dL/dh_s||")
    path = plotting.save(fig, config.out / "rnn_gradients.png")
    low, high = ends["tanh", SIGMAS[0]], ends["linear", SIGMAS[-1]]
    return DemoResult(
        f"Tiny Shakespeare, first {steps} characters (one-hot)",
        f"||dL/dh_0|| at lag {steps}, tanh, sigma_max = {SIGMAS[0]}",
        low,
        (path,),
        f"Lag {steps}: tanh sigma 0.8 -> {low:.2e} (vanishes), linear sigma 1.25 -> "
        f"{high:.2e} (explodes as 1.25^{steps} = {1.25**steps:.2e}); tanh sigma "
        f"1.25 -> {ends['tanh', 1.25]:.2e} (saturation keeps it under the bound).",
    )
