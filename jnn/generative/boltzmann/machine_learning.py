r"""The Boltzmann machine learning rule (Ackley, Hinton & Sejnowski 1985) as a learner.

The gradient of the mean log-likelihood of the data is a difference of two
phases' statistics (:func:`.machine_exact.statistics_gradient`):

.. math:: \Delta w_{ij} = \epsilon\,(\langle s_i s_j\rangle^{+}
          - \langle s_i s_j\rangle^{-}),\qquad
          \Delta b_i = \epsilon\,(\langle s_i\rangle^{+} - \langle s_i\rangle^{-}).

* Positive phase: the visible units clamped to a batch of data, the hidden
  units sampled from ``p(h | v)`` by ``positive_sweeps`` sequential Gibbs
  sweeps from random states (``positive="exact"``: the expectations over all
  ``2^H`` hidden states).
* Negative phase: the machine running free. Persistent chains carried in the
  learner state from update to update, ``k`` sequential sweeps each (the
  persistent variant of Neal 1992 and Tieleman 2008, instead of annealing to
  equilibrium from scratch at every step as AHS did); ``negative="exact"``:
  the expectations over all ``2^N`` states.

With both phases exact the learner follows the exact gradient (tests, the
``boltzmann-exact`` demo). The step adds momentum and L2 weight decay:
``Delta <- mu Delta + epsilon (g - lambda W)``, ``theta <- theta + Delta``.

References:
  D. H. Ackley, G. E. Hinton and T. J. Sejnowski, "A learning algorithm for
  Boltzmann machines", Cognitive Science 9 (1985). R. M. Neal, "Connectionist
  learning of belief networks", Artificial Intelligence 56 (1992).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key, check_positive_int
from jnn.generative.boltzmann.learning import Hyper, _hyper
from jnn.generative.boltzmann.machine import (
    BoltzmannMachine,
    _check_hidden_count,
    check_binary,
    gibbs_sweeps,
    init_boltzmann_machine,
)
from jnn.generative.boltzmann.machine_exact import (
    MAX_EXACT_UNITS,
    PhaseStatistics,
    _clamped_statistics,
    _free_statistics,
    _log_likelihood,
    statistics_gradient,
)
from jnn.train import Learner

PHASES = ("gibbs", "exact")


class BoltzmannState(NamedTuple):
    """State of :func:`boltzmann_learning`.

    Attributes:
      machine: the :class:`BoltzmannMachine`.
      velocity: the momentum buffer, shaped like ``machine``.
      chains: ``(n_chains, N)`` persistent negative-phase chains, or None when
        the negative phase is exact.
      step: ``[]`` int32, updates applied.
    """

    machine: BoltzmannMachine
    velocity: BoltzmannMachine
    chains: jax.Array | None
    step: jax.Array


def sampled_statistics(s: jax.Array) -> PhaseStatistics:
    """``<s_i s_j>`` and ``<s_i>`` averaged over the rows of ``s (B, N)``."""
    return PhaseStatistics(s.T @ s / s.shape[0], jnp.mean(s, 0))


def boltzmann_learning(
    n_hidden: int,
    *,
    learning_rate: Hyper = 0.05,
    momentum: Hyper = 0.0,
    weight_decay: float = 0.0,
    positive: str = "gibbs",
    negative: str = "gibbs",
    positive_sweeps: int = 10,
    k: int = 1,
    n_chains: int = 100,
    random_order: bool = False,
    init_scale: float = 0.01,
    visible_bias=None,
    input_key: str = "x",
) -> Learner:
    """The Ackley–Hinton–Sejnowski rule for a Boltzmann machine with ``H`` hidden units.

    Args:
      n_hidden: ``H >= 0`` hidden units (``V`` comes from the data).
      learning_rate: ``epsilon``, a number or a schedule ``f(step)``.
      momentum: ``mu``, a number or a schedule ``f(step)``.
      weight_decay: ``lambda``, L2 cost on the weights.
      positive: ``"gibbs"`` (sampled hidden units) or ``"exact"``
        (enumeration, ``H`` small).
      negative: ``"gibbs"`` (persistent chains) or ``"exact"`` (enumeration,
        ``N <=`` :data:`MAX_EXACT_UNITS`).
      positive_sweeps: sequential sweeps over the hidden units per example.
      k: sequential sweeps of the persistent chains per update, >= 1.
      n_chains: persistent negative-phase chains.
      random_order: visit the units in a random order every sweep.
      init_scale: standard deviation of the initial weights.
      visible_bias: ``(V,)`` initial visible biases (zeros if None).
      input_key: the batch entry holding the ``(B, V)`` binary data.

    Returns:
      A :class:`jnn.train.Learner` with state :class:`BoltzmannState`. Training
      metrics: ``correlation_gap``, the mean ``|<s_i s_j>+ - <s_i s_j>-|``.
      ``evaluate``: ``log_likelihood`` (exact, nats per example) when
      ``N <=`` :data:`MAX_EXACT_UNITS`, and ``mean_energy`` of the data's
      clamped positive-phase states otherwise.

    Raises:
      ValueError, TypeError: ``k < 1``, an unknown phase, bad sizes or rates;
        at training time (``check``), non-binary data.
    """
    _check_hidden_count(n_hidden)
    check_positive_int(k, "k")
    check_positive_int(positive_sweeps, "positive_sweeps")
    check_positive_int(n_chains, "n_chains")
    for name, phase in (("positive", positive), ("negative", negative)):
        if phase not in PHASES:
            raise ValueError(f"`{name}` must be one of {PHASES}; got {phase!r}.")
    learning_rate = _hyper(learning_rate, "learning_rate")
    momentum = _hyper(momentum, "momentum")
    _hyper(weight_decay, "weight_decay")
    if not isinstance(input_key, str):
        raise TypeError(f"`input_key` must be a str; got {input_key!r}.")

    def check(data, name: str) -> None:
        if not isinstance(data, dict) or input_key not in data:
            raise ValueError(f"`{name}` must be a dict with an {input_key!r} entry.")
        x = data[input_key]
        check_array(x, f"{name}[{input_key!r}]", ndim=2, kind="n")
        check_binary(x, f"{name}[{input_key!r}]")
        n = x.shape[1] + n_hidden
        if negative == "exact" and n > MAX_EXACT_UNITS:
            raise ValueError(
                f'`negative="exact"` enumerates 2^N states: N = {n} exceeds '
                f"{MAX_EXACT_UNITS}."
            )
        if positive == "exact" and n_hidden > MAX_EXACT_UNITS:
            raise ValueError(
                f'`positive="exact"` enumerates 2^H hidden states: H = {n_hidden} '
                f"exceeds {MAX_EXACT_UNITS}."
            )
        if visible_bias is not None and np.shape(visible_bias) != (x.shape[1],):
            raise ValueError(
                f"`visible_bias` must have shape ({x.shape[1]},) to match the data; "
                f"got {np.shape(visible_bias)}."
            )

    def init(key: jax.Array, batch) -> BoltzmannState:
        check_key(key)
        x = jnp.asarray(batch[input_key], jnp.float32)
        k_weights, k_chains = jax.random.split(key)
        machine = init_boltzmann_machine(
            k_weights,
            x.shape[1],
            n_hidden,
            scale=init_scale,
            visible_bias=visible_bias,
        )
        chains = None
        if negative == "gibbs":
            visible = jnp.resize(x, (n_chains, x.shape[1]))
            hidden = jax.random.bernoulli(k_chains, 0.5, (n_chains, n_hidden))
            chains = jnp.concatenate([visible, hidden.astype(jnp.float32)], 1)
        velocity = jax.tree.map(jnp.zeros_like, machine)
        return BoltzmannState(machine, velocity, chains, jnp.zeros((), jnp.int32))

    def positive_statistics(machine, v, key) -> PhaseStatistics:
        if positive == "exact":
            return _clamped_statistics(machine, v)
        hidden = jax.random.bernoulli(key, 0.5, (v.shape[0], n_hidden))
        start = jnp.concatenate([v, hidden.astype(v.dtype)], 1)
        clamped = gibbs_sweeps(
            machine,
            start,
            jax.random.fold_in(key, 1),
            positive_sweeps,
            n_clamped=v.shape[1],
            random_order=random_order,
        )
        return sampled_statistics(clamped)

    def update(state: BoltzmannState, batch, key: jax.Array):
        v = jnp.asarray(batch[input_key], jnp.float32)
        machine = state.machine
        k_positive, k_negative = jax.random.split(key)
        plus = positive_statistics(machine, v, k_positive)
        chains = state.chains
        if negative == "exact":
            minus = _free_statistics(machine)
        else:
            chains = gibbs_sweeps(
                machine, chains, k_negative, k, random_order=random_order
            )
            minus = sampled_statistics(chains)
        grad = statistics_gradient(plus, minus)
        lr, mu = learning_rate(state.step), momentum(state.step)
        decay = BoltzmannMachine(
            weight_decay * machine.weights, jnp.zeros_like(machine.bias)
        )
        velocity = jax.tree.map(
            lambda d, g, w: mu * d + lr * (g - w), state.velocity, grad, decay
        )
        machine = jax.tree.map(jnp.add, machine, velocity)
        n = machine.bias.shape[0]
        metrics = {
            "correlation_gap": jnp.sum(jnp.abs(grad.weights)) / max(n * (n - 1), 1)
        }
        return BoltzmannState(machine, velocity, chains, state.step + 1), metrics

    def evaluate(state: BoltzmannState, data, key=None):
        v = jnp.asarray(data[input_key], jnp.float32)
        if v.shape[1] + n_hidden <= MAX_EXACT_UNITS:
            return {"log_likelihood": jnp.mean(_log_likelihood(state.machine, v))}
        plus = positive_statistics(
            state.machine, v, jax.random.key(0) if key is None else key
        )
        energy = -0.5 * jnp.sum(state.machine.weights * plus.correlations)
        return {"mean_energy": energy - plus.means @ state.machine.bias}

    return Learner(init, update, evaluate, check=check)
