r"""Contrastive divergence (CD-k) and persistent CD (PCD) as learners.

The gradient of the mean log-likelihood of an energy model with free energy
``F`` is a difference of two expectations of the free energy's gradient,

.. math:: -\nabla_\theta \frac1n\sum_n \log p(v_n)
          = \mathbb E_{\text{data}}[\nabla_\theta F(v)]
          - \mathbb E_{\text{model}}[\nabla_\theta F(v)],

so a learner needs only samples ``v^-`` for the second term: the gradient
followed is that of ``mean F(v_data) - mean F(v^-)`` with the samples held
fixed (``jax.grad`` of the free energy: for an RBM exactly Hinton's
``<v p(h|v)>_data - <v p(h|v)>_recon`` statistics).

* CD-k (Hinton 2002): ``v^-`` after ``k`` block Gibbs sweeps started at the
  data of the batch. Biased for small ``k``; the bias vanishes as ``k`` grows.
* PCD (Tieleman 2008): ``v^-`` after ``k`` sweeps of persistent chains
  (fantasy particles) carried in the learner state from update to update.

The step is Hinton's (2010, sec. 9-10): momentum and L2 weight decay on the
weights (not the biases),

.. math:: \Delta \leftarrow \mu\,\Delta - \epsilon\,(g + \lambda W),
          \qquad \theta \leftarrow \theta + \Delta .

References:
  G. E. Hinton, "Training products of experts by minimizing contrastive
  divergence", Neural Computation 14 (2002). T. Tieleman, "Training
  restricted Boltzmann machines using approximations to the likelihood
  gradient", ICML 2008. G. E. Hinton, "A practical guide to training restricted
  Boltzmann machines", UTML TR 2010-003.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key, check_positive_int
from jnn.generative.boltzmann.likelihood import pseudo_likelihood, reconstruction_error
from jnn.generative.boltzmann.rbm import (
    AnyRBM,
    bernoulli,
    check_visible,
    free_energy,
    gibbs_chain,
    init_rbm,
    is_gaussian,
    sample_hidden,
    sample_visible,
    visible_mean,
)
from jnn.train import Learner

Hyper = float | Callable[[jax.Array], jax.Array]


class CDState(NamedTuple):
    """State of the CD-k / PCD learners.

    Attributes:
      rbm: the parameters, an :class:`RBM` or :class:`GaussianRBM`.
      velocity: the momentum buffer ``Delta``, shaped like ``rbm``.
      chains: ``(n_chains, V)`` persistent fantasy particles (PCD), or None.
      step: ``[]`` int32, updates applied.
    """

    rbm: AnyRBM
    velocity: AnyRBM
    chains: jax.Array | None
    step: jax.Array


def _trainable(rbm: AnyRBM) -> AnyRBM:
    """1 for the learned fields, 0 for the fixed ``sigma``."""
    ones = jax.tree.map(jnp.ones_like, rbm)
    return ones._replace(sigma=jnp.zeros_like(rbm.sigma)) if is_gaussian(rbm) else ones


def free_energy_gradient(rbm: AnyRBM, positive: jax.Array, negative: jax.Array):
    """``grad_theta [mean F(positive) - mean F(negative)]`` and that gap.

    The negative samples are constants (``stop_gradient``); the gradient of
    the fixed ``sigma`` of a :class:`GaussianRBM` is zero.

    Args:
      rbm: the parameters.
      positive: ``(B, V)`` data.
      negative: ``(C, V)`` model samples (reconstructions or fantasy particles).

    Returns:
      ``(gradient, gap)``: the gradient shaped like ``rbm`` (the descent
      direction of the negative log-likelihood, up to the sampling error) and
      ``[]`` the free-energy gap ``mean F(positive) - mean F(negative)``.
    """
    negative = jax.lax.stop_gradient(negative)

    def gap(params):
        return jnp.mean(free_energy(params, positive)) - jnp.mean(
            free_energy(params, negative)
        )

    value, grad = jax.value_and_grad(gap)(rbm)
    return jax.tree.map(jnp.multiply, grad, _trainable(rbm)), value


def negative_samples(
    rbm: AnyRBM, start: jax.Array, key: jax.Array, k: int, *, sample_last: bool = True
) -> tuple[jax.Array, jax.Array]:
    """``k`` block Gibbs sweeps from ``start``: the negative samples.

    Args:
      rbm: the parameters.
      start: ``(C, V)`` data (CD) or fantasy particles (PCD).
      key: PRNG key.
      k: sweeps, >= 1 (static).
      sample_last: sample the last sweep's visible units; False uses their
        mean ``E[v | h]`` (Hinton's ``rbm.m``: less noise, but then the
        gradient stays biased however large ``k`` is).

    Returns:
      ``(v_minus, reconstruction)``: ``(C, V)`` samples and ``(C, V)`` the
      first sweep's mean ``E[v | h_0]`` (for the reconstruction error).
    """
    k_first, k_visible, k_chain = jax.random.split(key, 3)
    h = sample_hidden(rbm, start, k_first)
    reconstruction = visible_mean(rbm, h)
    if k == 1 and not sample_last:
        return reconstruction, reconstruction
    if is_gaussian(rbm):
        v = sample_visible(rbm, h, k_visible)
    else:
        v = bernoulli(k_visible, reconstruction)
    if k > 1:
        v_prev = gibbs_chain(rbm, v, k_chain, k - 2)
        k_h, k_v = jax.random.split(jax.random.fold_in(k_chain, k))
        h = sample_hidden(rbm, v_prev, k_h)
        v = sample_visible(rbm, h, k_v) if sample_last else visible_mean(rbm, h)
    return v, reconstruction


def _hyper(value: Hyper, name: str) -> Callable[[jax.Array], jax.Array]:
    if callable(value):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"`{name}` must be a number or a schedule f(step); got {value!r}."
        )
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0; got {value}.")
    return lambda step: jnp.asarray(value, jnp.float32)


def contrastive_divergence(
    n_hidden: int,
    *,
    k: int = 1,
    persistent: bool = False,
    learning_rate: Hyper = 0.1,
    momentum: Hyper = 0.5,
    weight_decay: float = 2e-4,
    n_chains: int | None = None,
    sample_last: bool = True,
    gaussian: bool = False,
    sigma: float = 1.0,
    visible_bias: Any = None,
    init_scale: float = 0.01,
    monitor: bool = True,
    input_key: str = "x",
) -> Learner:
    """CD-k (or, with ``persistent=True``, PCD-k) training of an RBM.

    Args:
      n_hidden: ``H``, hidden units (``V`` comes from the data).
      k: Gibbs sweeps per update, >= 1.
      persistent: carry the chains across updates (Tieleman's PCD).
      learning_rate: ``epsilon``, a number or a schedule ``f(step)``.
      momentum: ``mu``, a number or a schedule ``f(step)`` (Hinton: 0.5 for the
        first 5 epochs, then 0.9:
        ``lambda s: jnp.where(s < 5 * steps_per_epoch, 0.5, 0.9)``).
      weight_decay: ``lambda``, L2 cost on the weights (Hinton: 2e-4).
      n_chains: PCD's fantasy particles (default: the batch size); they start
        at the first batch.
      sample_last: sample the visible units of the last sweep (False: their
        mean, Hinton's ``rbm.m`` CD-1; not for PCD, whose chains stay sampled).
      gaussian: Gaussian–Bernoulli RBM (real data; standardise it first).
      sigma: the Gaussian visible units' fixed standard deviation.
      visible_bias: ``(V,)`` initial visible biases, e.g.
        :func:`base_rate_bias` of the training data (zeros if None).
      init_scale: standard deviation of the initial weights.
      monitor: report the reconstruction error of every batch (free for CD;
        one more matrix product per PCD update).
      input_key: the batch entry holding the ``(B, V)`` data.

    Returns:
      A :class:`jnn.train.Learner` with state :class:`CDState`. Training
      metrics: ``free_energy_gap`` (``mean F(data) - mean F(v^-)``) and, with
      ``monitor``, ``reconstruction_error`` (squared error per example).
      ``evaluate(state, data, key)``: ``reconstruction_error``,
      ``free_energy`` and (Bernoulli) ``pseudo_likelihood`` (scikit-learn's
      one-flipped-bit estimate; exact when the key is None).

    Raises:
      ValueError, TypeError: ``k < 1``, non-positive sizes, invalid rates; at
        training time (``check``), non-binary data for a Bernoulli RBM.
    """
    check_positive_int(n_hidden, "n_hidden")
    check_positive_int(k, "k")
    check_positive_int(n_chains, "n_chains", allow_none=True)
    learning_rate = _hyper(learning_rate, "learning_rate")
    momentum = _hyper(momentum, "momentum")
    if callable(weight_decay):
        raise TypeError("`weight_decay` must be a number >= 0, not a schedule.")
    _hyper(weight_decay, "weight_decay")
    if persistent and not sample_last:
        raise ValueError(
            "`sample_last=False` is for CD only: PCD's persistent chains must hold "
            "sampled states."
        )
    if not isinstance(input_key, str):
        raise TypeError(f"`input_key` must be a str; got {input_key!r}.")

    def check(data, name: str) -> None:
        if not isinstance(data, Mapping) or input_key not in data:
            raise ValueError(f"`{name}` must be a dict with an {input_key!r} entry.")
        x = data[input_key]
        check_array(x, f"{name}[{input_key!r}]", ndim=2, kind="n")
        check_visible(x, x.shape[1], f"{name}[{input_key!r}]", binary=not gaussian)
        if visible_bias is not None and np.shape(visible_bias) != (x.shape[1],):
            raise ValueError(
                f"`visible_bias` must have shape ({x.shape[1]},) to match the data; "
                f"got {np.shape(visible_bias)}."
            )

    def init(key: jax.Array, batch) -> CDState:
        check_key(key)
        x = jnp.asarray(batch[input_key], jnp.float32)
        rbm = init_rbm(
            key,
            x.shape[1],
            n_hidden,
            visible_bias=visible_bias,
            gaussian=gaussian,
            sigma=sigma,
            scale=init_scale,
        )
        chains = None
        if persistent:
            count = n_chains or x.shape[0]
            chains = jnp.resize(x, (count, x.shape[1]))
        velocity = jax.tree.map(jnp.zeros_like, rbm)
        return CDState(rbm, velocity, chains, jnp.zeros((), jnp.int32))

    def update(state: CDState, batch, key: jax.Array):
        v = jnp.asarray(batch[input_key], jnp.float32)
        rbm = state.rbm
        metrics = {}
        if persistent:
            k_chain, k_monitor = jax.random.split(key)
            negative, _ = negative_samples(rbm, state.chains, k_chain, k)
            if monitor:
                h = sample_hidden(rbm, v, k_monitor)
                recon = visible_mean(rbm, h)
                metrics["reconstruction_error"] = _squared_error(v, recon)
        else:
            negative, recon = negative_samples(rbm, v, key, k, sample_last=sample_last)
            if monitor:
                metrics["reconstruction_error"] = _squared_error(v, recon)
        grad, gap = free_energy_gradient(rbm, v, negative)
        lr, mu = learning_rate(state.step), momentum(state.step)
        decay = jax.tree.map(jnp.zeros_like, grad)._replace(
            weights=weight_decay * rbm.weights
        )
        velocity = jax.tree.map(
            lambda d, g, w: mu * d - lr * (g + w), state.velocity, grad, decay
        )
        rbm = jax.tree.map(jnp.add, rbm, velocity)
        chains = negative if persistent else None
        metrics["free_energy_gap"] = gap
        return CDState(rbm, velocity, chains, state.step + 1), metrics

    def evaluate(state: CDState, data, key=None):
        v = jnp.asarray(data[input_key], jnp.float32)
        out = {
            "reconstruction_error": jnp.mean(reconstruction_error(state.rbm, v)),
            "free_energy": jnp.mean(free_energy(state.rbm, v)),
        }
        if not gaussian:
            out["pseudo_likelihood"] = jnp.mean(pseudo_likelihood(state.rbm, v, key))
        return out

    return Learner(init, update, evaluate, check=check)


def persistent_contrastive_divergence(n_hidden: int, **kwargs) -> Learner:
    """PCD-k (Tieleman 2008): :func:`contrastive_divergence` with ``persistent=True``.

    Takes the same keyword arguments (``k`` sweeps of the persistent chains per
    update, default 1).
    """
    return contrastive_divergence(n_hidden, persistent=True, **kwargs)


def _squared_error(v: jax.Array, reconstruction: jax.Array) -> jax.Array:
    return jnp.mean(jnp.sum(jnp.square(v - reconstruction), -1))
