r"""How good is an RBM? Partition function, likelihood and its stand-ins.

``log p(v) = -F(v) - log Z``; the free energy is cheap, the partition function
``Z = sum_v sum_h exp(-E(v, h))`` is not.

* :func:`log_partition` sums exactly over the ``2^H`` hidden states (in
  chunks), the visible units summed analytically: for binary visible units

  .. math:: \log Z = \log \sum_h \exp\Big(c^\top h
            + \sum_i \operatorname{softplus}(b_i + (W h)_i)\Big),

  for Gaussian ones each term is ``c.h + sum_i [b_i u_i / sigma_i + u_i^2 / 2
  + log(sqrt(2 pi) sigma_i)]`` with ``u = W h``. Exact for ``H`` up to ~25.
* :func:`annealed_importance_sampling` estimates ``log Z`` of any binary RBM
  (Neal 2001; Salakhutdinov & Murray 2008): chains start in the base-rate
  model ``p_A(v) ∝ exp(b_A.v)`` (no weights) and anneal through
  ``p_k(v) ∝ p_A(v)^{1 - beta_k} p*(v)^{beta_k}``, i.e.
  ``log p*_k(v) = ((1 - beta_k) b_A + beta_k b).v
  + sum_j softplus(beta_k (c_j + (v W)_j))``, one Gibbs sweep per
  temperature; the importance weights average to ``Z / Z_A``.
* :func:`pseudo_likelihood` (Besag 1975), as scikit-learn's
  ``BernoulliRBM.score_samples`` estimates it, and :func:`reconstruction_error`.

References:
  R. Salakhutdinov and I. Murray, "On the quantitative analysis of deep belief
  networks", ICML 2008. R. M. Neal, "Annealed importance sampling", Statistics
  and Computing 11 (2001).
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key, check_positive_int
from jnn.generative.boltzmann.rbm import (
    AnyRBM,
    _rows,
    bernoulli,
    check_rbm,
    check_visible,
    free_energy,
    hidden_input,
    hidden_probabilities,
    is_gaussian,
    sample_hidden,
    visible_mean,
)

#: Largest ``H`` that :func:`log_partition` enumerates (2^25 hidden states).
MAX_EXACT_HIDDEN = 25

#: Salakhutdinov & Murray's schedule: 500 temperatures uniform on [0, 0.5],
#: 4,000 on [0.5, 0.9], 10,000 on [0.9, 1] (14,500 in all).
PAPER_SCHEDULE = ((0.5, 500), (0.9, 4000), (1.0, 10000))


# --- exact -----------------------------------------------------------------------


def log_partition(rbm: AnyRBM, *, chunk_size: int = 4096) -> jax.Array:
    """Exact ``log Z``: a sum over the ``2^H`` hidden states in chunks.

    Args:
      rbm: an :class:`RBM` or :class:`GaussianRBM` with ``H <=``
        :data:`MAX_EXACT_HIDDEN`.
      chunk_size: hidden states per chunk (memory ``chunk_size x V``).

    Returns:
      ``[]`` float (the dtype of the weights).
    """
    check_rbm(rbm)
    check_positive_int(chunk_size, "chunk_size")
    n_hidden = rbm.weights.shape[1]
    if n_hidden > MAX_EXACT_HIDDEN:
        raise ValueError(
            f"`rbm` has {n_hidden} hidden units: exact log Z sums over 2^{n_hidden} "
            f"states (at most H = {MAX_EXACT_HIDDEN}); use "
            "annealed_importance_sampling."
        )
    return _log_partition(rbm, min(chunk_size, 2**n_hidden))


def hidden_log_marginal(rbm: AnyRBM, h: jax.Array) -> jax.Array:
    """``log sum_v exp(-E(v, h))`` (the visible units summed out): ``(...)``."""
    u = h @ rbm.weights.T
    if is_gaussian(rbm):
        norm = jnp.sum(jnp.log(math.sqrt(2 * math.pi) * rbm.sigma))
        ratio = _rows(rbm.visible_bias / rbm.sigma, u)
        visible = jnp.sum(ratio * u + u * u / 2, -1) + norm
    else:
        visible = jnp.sum(jax.nn.softplus(_rows(rbm.visible_bias, u) + u), -1)
    return h @ rbm.hidden_bias + visible


@functools.partial(jax.jit, static_argnames="chunk")
def _log_partition(rbm: AnyRBM, chunk: int) -> jax.Array:
    n_hidden = rbm.weights.shape[1]
    total = 2**n_hidden
    bits = jnp.arange(n_hidden, dtype=jnp.int32)

    def chunk_sum(i):
        index = i * chunk + jnp.arange(chunk, dtype=jnp.int32)
        h = ((index[:, None] >> bits[None, :]) & 1).astype(rbm.weights.dtype)
        terms = jnp.where(index < total, hidden_log_marginal(rbm, h), -jnp.inf)
        return jax.nn.logsumexp(terms)

    parts = jax.lax.map(chunk_sum, jnp.arange(-(-total // chunk), dtype=jnp.int32))
    return jax.nn.logsumexp(parts)


def log_likelihood(rbm: AnyRBM, v: Any, log_z: Any) -> jax.Array:
    """``log p(v) = -F(v) - log Z`` per example (nats): ``(...)``.

    Args:
      rbm: the parameters.
      v: ``(..., V)`` data (binary for an :class:`RBM`).
      log_z: ``log Z``, from :func:`log_partition` or
        :func:`annealed_importance_sampling` (``.log_z``).
    """
    check_rbm(rbm)
    v = check_visible(v, rbm.weights.shape[0], "v", binary=not is_gaussian(rbm))
    return -free_energy(rbm, v) - jnp.asarray(log_z, jnp.float32)


# --- annealed importance sampling ----------------------------------------------


class AISEstimate(NamedTuple):
    """Result of :func:`annealed_importance_sampling`.

    Attributes:
      log_z: ``[]`` the estimate ``log Z_A + log mean(w)``.
      std_error: ``[]`` standard error of ``log_z`` (delta method:
        ``std(w) / (sqrt(M) mean(w))``).
      log_z_low, log_z_high: ``log(Z_hat -/+ 3 std(Z_hat))``, the interval
        Salakhutdinov & Murray report (``-inf`` when the lower bound is <= 0).
      log_weights: ``(M,)`` log importance weights of the chains.
      log_z_base: ``[]`` ``log Z_A`` of the base-rate model.
    """

    log_z: jax.Array
    std_error: jax.Array
    log_z_low: jax.Array
    log_z_high: jax.Array
    log_weights: jax.Array
    log_z_base: jax.Array


def annealing_schedule(n_temperatures: int = 14500) -> jax.Array:
    """Inverse temperatures ``0 = beta_0 < ... < beta_K = 1`` (``K + 1`` values).

    Salakhutdinov & Murray's three linear pieces (:data:`PAPER_SCHEDULE`)
    with their 500 : 4,000 : 10,000 proportions scaled to ``n_temperatures``
    (14,500 gives the paper's schedule).

    Example:
      >>> betas = annealing_schedule(14500)
      >>> len(betas), round(float(betas[500]), 6), round(float(betas[4500]), 6)
      (14501, 0.5, 0.9)
    """
    check_positive_int(n_temperatures, "n_temperatures")
    if n_temperatures < 3:
        raise ValueError(
            f"`n_temperatures` must be >= 3 (one per piece); got {n_temperatures}."
        )
    paper = sum(n for _, n in PAPER_SCHEDULE)
    counts = [max(1, round(n * n_temperatures / paper)) for _, n in PAPER_SCHEDULE]
    counts[-1] = n_temperatures - sum(counts[:-1])
    pieces, start = [np.zeros(1)], 0.0
    for (end, _), count in zip(PAPER_SCHEDULE, counts, strict=True):
        pieces.append(np.linspace(start, end, count + 1)[1:])
        start = end
    return jnp.asarray(np.concatenate(pieces), jnp.float32)


def _check_betas(betas: Any) -> jax.Array:
    if isinstance(betas, int | np.integer) and not isinstance(betas, bool):
        if betas < 2:
            raise ValueError(f"`betas` must give at least 2 temperatures; got {betas}.")
        return annealing_schedule(int(betas)) if betas >= 3 else jnp.array([0.0, 1.0])
    check_array(betas, "betas", ndim=1, kind="f")
    values = np.asarray(betas, np.float64)
    if values.size < 2:
        raise ValueError(
            f"`betas` must hold at least 2 temperatures (0 and 1); got {values.size}."
        )
    if values[0] != 0 or values[-1] != 1 or np.any(np.diff(values) < 0):
        raise ValueError(
            "`betas` must rise from 0 to 1 (beta_0 = 0, beta_K = 1, "
            f"non-decreasing); got {values[0]} ... {values[-1]}."
        )
    return jnp.asarray(values, jnp.float32)


def annealed_importance_sampling(
    rbm: AnyRBM,
    key: jax.Array,
    *,
    base_bias: Any = None,
    n_chains: int = 100,
    betas: Any = 14500,
) -> AISEstimate:
    """Estimate ``log Z`` of a binary RBM by AIS (Salakhutdinov & Murray 2008).

    Every chain is one function of its key, ``jax.vmap``-ed over ``n_chains``
    keys; the temperatures are a ``lax.scan``. Each temperature costs two
    ``(M, V) x (V, H)`` products.

    Args:
      rbm: a Bernoulli–Bernoulli :class:`RBM`.
      key: PRNG key.
      base_bias: ``(V,)`` visible biases of the base-rate model,
        :func:`base_rate_bias` of the training data (zeros: the uniform
        distribution, a much worse start).
      n_chains: ``M`` independent AIS runs.
      betas: number of temperatures (Salakhutdinov & Murray's schedule scaled,
        :func:`annealing_schedule`) or a ``(K + 1,)`` array rising from 0 to 1.

    Returns:
      An :class:`AISEstimate`.

    Raises:
      ValueError: fewer than 2 temperatures, a schedule that does not rise from
        0 to 1, a base of the wrong size, a Gaussian RBM.
    """
    check_rbm(rbm)
    if is_gaussian(rbm):
        raise ValueError(
            "`rbm` must be a Bernoulli RBM: this AIS anneals binary visible units "
            "(use log_partition for a small GaussianRBM)."
        )
    check_key(key)
    check_positive_int(n_chains, "n_chains")
    betas = _check_betas(betas)
    n_visible = rbm.weights.shape[0]
    if base_bias is None:
        base_bias = jnp.zeros((n_visible,), jnp.float32)
    else:
        check_array(base_bias, "base_bias", ndim=1, kind="f")
        if base_bias.shape != (n_visible,):
            raise ValueError(
                f"`base_bias` must have shape ({n_visible},) (the RBM's V); got "
                f"{tuple(base_bias.shape)}."
            )
    base_bias = jnp.asarray(base_bias, jnp.float32)
    return _ais(rbm, key, base_bias, betas, n_chains)


def _ais_chain(rbm, base_bias, betas, key) -> jax.Array:
    """Log importance weight of one AIS run (one state ``(V,)``)."""
    delta_bias = rbm.visible_bias - base_bias

    def log_p(v_term, a, beta):
        return beta * v_term + jnp.sum(jax.nn.softplus(beta * a), -1)

    def step(carry, inputs):
        v, log_w = carry
        beta_prev, beta, t = inputs
        a = hidden_input(rbm, v)
        v_term = v @ delta_bias
        log_w = log_w + log_p(v_term, a, beta) - log_p(v_term, a, beta_prev)
        # one Gibbs sweep that leaves p_beta invariant
        k_h, k_v = jax.random.split(jax.random.fold_in(key, t))
        h = bernoulli(k_h, jax.nn.sigmoid(beta * a))
        field = base_bias + beta * (delta_bias + h @ rbm.weights.T)
        return (bernoulli(k_v, jax.nn.sigmoid(field)).astype(v.dtype), log_w), None

    start_key, key = jax.random.split(key)
    dtype = rbm.weights.dtype
    v0 = bernoulli(start_key, jax.nn.sigmoid(base_bias)).astype(dtype)
    betas = betas.astype(dtype)
    steps = jnp.arange(betas.shape[0] - 1, dtype=jnp.int32)
    (_, log_w), _ = jax.lax.scan(
        step, (v0, jnp.zeros((), dtype)), (betas[:-1], betas[1:], steps)
    )
    return log_w


@functools.partial(jax.jit, static_argnames="n_chains")
def _ais(rbm, key, base_bias, betas, n_chains) -> AISEstimate:
    keys = jax.random.split(key, n_chains)
    log_w = jax.vmap(lambda k: _ais_chain(rbm, base_bias, betas, k))(keys)
    n_hidden = rbm.weights.shape[1]
    # p*_0(v) = exp(b_A.v) 2^H: the hidden units are uniform at beta = 0
    log_z_base = jnp.sum(jax.nn.softplus(base_bias)) + n_hidden * math.log(2.0)
    top = jnp.max(log_w)
    w = jnp.exp(log_w - top)
    mean = jnp.mean(w)
    spread = jnp.std(w, ddof=1) / math.sqrt(n_chains) if n_chains > 1 else jnp.inf
    log_z = log_z_base + top + jnp.log(mean)
    low = jnp.where(
        mean > 3 * spread, jnp.log(jnp.maximum(mean - 3 * spread, 1e-30)), -jnp.inf
    )
    return AISEstimate(
        log_z=log_z,
        std_error=spread / mean,
        log_z_low=log_z_base + top + low,
        log_z_high=log_z_base + top + jnp.log(mean + 3 * spread),
        log_weights=log_w,
        log_z_base=log_z_base,
    )


# --- stand-ins for the likelihood ------------------------------------------------


def pseudo_likelihood(rbm: AnyRBM, v: Any, key: jax.Array | None = None) -> jax.Array:
    r"""Log pseudo-likelihood ``sum_i log p(v_i | v_{-i})`` per example (nats).

    With a ``key``, scikit-learn's estimate (``BernoulliRBM.score_samples``):
    one random unit ``i`` flipped per example,
    ``V log sigmoid(F(v^{(i)}) - F(v))``. Without, the exact sum over all
    ``V`` units, from the hidden inputs shifted by ``±W_i`` (``V x H`` work per
    example, no matrix product).

    Args:
      rbm: a Bernoulli :class:`RBM`.
      v: ``(n, V)`` binary data.
      key: PRNG key of the flipped units, or None for the exact sum.

    Returns:
      ``(n,)`` float32.
    """
    check_rbm(rbm)
    if is_gaussian(rbm):
        raise ValueError("`rbm` must be a Bernoulli RBM for the pseudo-likelihood.")
    v = check_visible(v, rbm.weights.shape[0], "v", binary=True)
    if v.ndim != 2:
        raise ValueError(f"`v` must have shape (n, V); got {tuple(v.shape)}.")
    if key is None:
        return _exact_pseudo_likelihood(rbm, v)
    check_key(key)
    return _sampled_pseudo_likelihood(rbm, v, key)


@jax.jit
def _sampled_pseudo_likelihood(rbm, v, key):
    n, n_visible = v.shape
    unit = jax.random.randint(key, (n,), 0, n_visible)
    flipped = v.at[jnp.arange(n), unit].set(1 - v[jnp.arange(n), unit])
    gap = free_energy(rbm, flipped) - free_energy(rbm, v)
    return n_visible * jax.nn.log_sigmoid(gap)


@jax.jit
def _exact_pseudo_likelihood(rbm, v):
    def one(x):
        a = hidden_input(rbm, x)  # (H,)
        s = 1 - 2 * x  # +1 where the unit turns on, -1 where it turns off
        shifted = a[None, :] + s[:, None] * rbm.weights  # (V, H)
        gap = -rbm.visible_bias * s - jnp.sum(
            jax.nn.softplus(shifted) - jax.nn.softplus(a)[None, :], -1
        )  # F(v^(i)) - F(v)
        return jnp.sum(jax.nn.log_sigmoid(gap))

    return jax.lax.map(one, v, batch_size=16)


def reconstruction_error(
    rbm: AnyRBM, v: Any, key: jax.Array | None = None
) -> jax.Array:
    """Squared error of one up-down pass, ``||v - E[v | h]||^2`` per example.

    ``h`` is sampled from ``p(h | v)`` with a ``key`` (Hinton's guide, sec. 5),
    else its probabilities are used (deterministic).

    Returns:
      ``(...)`` float32.
    """
    check_rbm(rbm)
    v = check_visible(v, rbm.weights.shape[0], "v")
    if key is None:
        h = hidden_probabilities(rbm, v)
    else:
        check_key(key)
        h = sample_hidden(rbm, v, key)
    return jnp.sum(jnp.square(v - visible_mean(rbm, h)), -1)
