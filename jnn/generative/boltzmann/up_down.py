r"""Up-down fine-tuning of a DBN (contrastive wake-sleep) and its exact likelihood.

After greedy pre-training the recognition weights ``R_l`` equal the
generative ``G_l``. The up-down algorithm (Hinton, Osindero & Teh 2006, sec. 5
and appendix B) unties them; one update on a batch ``x``:

1. Wake (up) pass: ``h_{l+1} ~ q(h_{l+1} | h_l) = sigmoid(c_l + h_l R_l)``,
   sampled layer by layer from ``h_0 = x``. The generative weights learn to
   reconstruct each layer from the one above (the delta rule):

   .. math:: \Delta G_l = \epsilon\,(h_l - \hat h_l)^\top h_{l+1},\quad
             \Delta b_l = \epsilon\,(h_l - \hat h_l),\quad
             \hat h_l = \sigma(b_l + G_l h_{l+1}).

2. Top: ``k`` sweeps of contrastive divergence in the top RBM started at the
   wake state ``[h_{L-1}, y]`` (:func:`jnn.generative.negative_samples`,
   :func:`jnn.generative.free_energy_gradient`).
3. Sleep (down) pass from the top RBM's negative sample of ``h_{L-1}``:
   ``h_l ~ p(h_l | h_{l+1})``. The recognition weights learn to infer each
   layer from the one below:

   .. math:: \Delta R_l = \epsilon\, h_l^\top (h_{l+1} - \hat q_{l+1}),\quad
             \Delta c_l = \epsilon\,(h_{l+1} - \hat q_{l+1}),\quad
             \hat q_{l+1} = \sigma(c_l + h_l R_l).

:func:`dbn_log_likelihood` sums the directed layers and the top RBM exactly
for tiny DBNs (tests): ``log p(x) = log sum_{h_1, ...} p(x | h_1) ...
p_RBM(h_{L-1})``, with ``p_RBM(h_{L-1})`` the top RBM's visible marginal
(label units summed out).

Reference: G. E. Hinton, S. Osindero and Y.-W. Teh, "A fast learning
algorithm for deep belief nets", Neural Computation 18 (2006).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jnn._checks import check_positive_int
from jnn.generative.boltzmann.dbn import (
    DBN,
    _check_data,
    _check_labels,
    check_dbn,
    dbn_down_pass,
    dbn_label_count,
    dbn_layer_sizes,
    dbn_up_pass,
)
from jnn.generative.boltzmann.dbn_classifier import _dbn_predict
from jnn.generative.boltzmann.learning import (
    Hyper,
    _hyper,
    free_energy_gradient,
    negative_samples,
)
from jnn.generative.boltzmann.likelihood import log_partition
from jnn.generative.boltzmann.machine_exact import _bits
from jnn.generative.boltzmann.rbm import _rows, free_energy
from jnn.train import Learner

#: Largest ``n_l + n_{l+1}`` of adjacent layers that :func:`dbn_log_likelihood`
#: sums over (the top RBM's visible layer counts its label units).
MAX_EXACT_PAIR = 22


class UpDownState(NamedTuple):
    """State of :func:`up_down`: the DBN and the number of updates."""

    dbn: DBN
    step: jax.Array


def _delta(inputs: jax.Array, targets: jax.Array, predicted: jax.Array):
    """The delta rule: ``(inputs^T (targets - predicted) / B, mean error)``."""
    error = targets - predicted
    return inputs.T @ error / inputs.shape[0], jnp.mean(error, 0)


def up_down(
    dbn: DBN,
    *,
    learning_rate: Hyper = 0.01,
    k: int = 3,
    weight_decay: float = 0.0,
    input_key: str = "x",
    label_key: str = "y",
) -> Learner:
    """Up-down (contrastive wake-sleep) fine-tuning of a pre-trained DBN.

    Args:
      dbn: the pre-trained :class:`DBN` the learner starts from.
      learning_rate: ``epsilon``, a number or a schedule ``f(step)``.
      k: contrastive-divergence sweeps in the top RBM, >= 1 (the paper: 3,
        then 6, then 10).
      weight_decay: L2 cost on the top RBM's weights.
      input_key: the batch entry of the ``(B, V)`` binary data.
      label_key: the batch entry of the ``(B,)`` int labels (labelled DBNs).

    Returns:
      A :class:`jnn.train.Learner` with state :class:`UpDownState`. Training
      metrics: ``generative_error`` (``||x - sigmoid(b_0 + G_0 h_1)||^2`` of
      the wake pass) and the top RBM's ``free_energy_gap``. ``evaluate``:
      ``reconstruction_error`` of a mean-field up-down pass and, for labelled
      DBNs, the generative classifier's ``error_rate``.
    """
    check_dbn(dbn)
    check_positive_int(k, "k")
    learning_rate = _hyper(learning_rate, "learning_rate")
    _hyper(weight_decay, "weight_decay")
    classes = dbn_label_count(dbn)
    sizes = dbn_layer_sizes(dbn)

    def check(data, name: str) -> None:
        if not isinstance(data, dict) or input_key not in data:
            raise ValueError(f"`{name}` must be a dict with an {input_key!r} entry.")
        x = _check_data(data[input_key], sizes[0], f"{name}[{input_key!r}]")
        if classes:
            if label_key not in data:
                raise ValueError(
                    f"`{name}` must hold the labels ({label_key!r}) of a labelled DBN."
                )
            _check_labels(
                data[label_key], x.shape[0], classes, f"{name}[{label_key!r}]"
            )

    def init(key: jax.Array, batch) -> UpDownState:
        del key, batch
        return UpDownState(jax.tree.map(jnp.asarray, dbn), jnp.zeros((), jnp.int32))

    def update(state: UpDownState, batch, key: jax.Array):
        model = state.dbn
        x = jnp.asarray(batch[input_key], jnp.float32)
        k_wake, k_top, k_sleep = jax.random.split(key, 3)
        wake = [x, *dbn_up_pass(model, x, k_wake)]
        top_data = wake[-1]
        if classes:
            labels = jax.nn.one_hot(batch[label_key], classes, dtype=jnp.float32)
            top_data = jnp.concatenate([top_data, labels], 1)
        negative, _ = negative_samples(model.top, top_data, k_top, k)
        grad, gap = free_energy_gradient(model.top, top_data, negative)
        sleep_top = negative[:, : sizes[-2]]
        sleep = [*dbn_down_pass(model, sleep_top, k_sleep), sleep_top]
        lr = learning_rate(state.step)
        generative, recognition = [], []
        for i, (up, down) in enumerate(
            zip(model.recognition, model.generative, strict=True)
        ):
            field = wake[i + 1] @ down.weights.T
            predicted = jax.nn.sigmoid(field + _rows(down.visible_bias, field))
            d_weights, d_bias = _delta(wake[i + 1], wake[i], predicted)
            generative.append(
                down._replace(
                    weights=down.weights + lr * d_weights.T,
                    visible_bias=down.visible_bias + lr * d_bias,
                )
            )
            field = sleep[i] @ up.weights
            inferred = jax.nn.sigmoid(field + _rows(up.hidden_bias, field))
            d_weights, d_bias = _delta(sleep[i], sleep[i + 1], inferred)
            recognition.append(
                up._replace(
                    weights=up.weights + lr * d_weights,
                    hidden_bias=up.hidden_bias + lr * d_bias,
                )
            )
            if i == 0:
                error = jnp.mean(jnp.sum(jnp.square(x - predicted), -1))
        top = jax.tree.map(lambda p, g: p - lr * g, model.top, grad)
        top = top._replace(weights=top.weights - lr * weight_decay * model.top.weights)
        new = DBN(tuple(recognition), tuple(generative), top)
        metrics = {"generative_error": error, "free_energy_gap": gap}
        return UpDownState(new, state.step + 1), metrics

    def evaluate(state: UpDownState, data, key=None):
        model = state.dbn
        x = jnp.asarray(data[input_key], jnp.float32)
        h = dbn_up_pass(model, x)[-1]
        for down in reversed(model.generative):
            field = h @ down.weights.T
            h = jax.nn.sigmoid(field + _rows(down.visible_bias, field))
        out = {"reconstruction_error": jnp.mean(jnp.sum(jnp.square(x - h), -1))}
        if classes and label_key in data:
            out["error_rate"] = jnp.mean(_dbn_predict(model, x) != data[label_key])
        return out

    return Learner(init, update, evaluate, check=check)


def dbn_log_likelihood(dbn: DBN, x: Any) -> jax.Array:
    """Exact ``log p(x)`` of a tiny DBN by enumeration (nats per example).

    Args:
      dbn: a :class:`DBN` whose adjacent layers have at most
        :data:`MAX_EXACT_PAIR` units together and whose top RBM has at most
        25 hidden units.
      x: ``(B, V)`` binary data.

    Returns:
      ``(B,)`` float32.
    """
    check_dbn(dbn)
    sizes = dbn_layer_sizes(dbn)
    x = _check_data(x, sizes[0])
    top_visible = dbn.top.weights.shape[0]
    pairs = [sizes[i] + sizes[i + 1] for i in range(1, len(sizes) - 2)]
    if max([top_visible, *pairs]) > MAX_EXACT_PAIR:
        raise ValueError(
            f"`dbn` is too large to enumerate: layers {sizes}, top visible "
            f"{top_visible} (adjacent layers at most {MAX_EXACT_PAIR} units)."
        )
    return _dbn_log_likelihood(dbn, x)


def _log_bernoulli(h: jax.Array, p_field: jax.Array) -> jax.Array:
    """``log prod_i p(h_i | field_i)`` for all pairs: ``(rows of h, rows of field)``."""
    return h @ jax.nn.log_sigmoid(p_field).T + (1 - h) @ jax.nn.log_sigmoid(-p_field).T


@jax.jit
def _dbn_log_likelihood(dbn: DBN, x: jax.Array) -> jax.Array:
    sizes = dbn_layer_sizes(dbn)
    top = dbn.top
    states = _bits(top.weights.shape[0])
    log_top = -free_energy(top, states) - log_partition(top)
    # the penultimate units are the most significant bits: sum out the labels
    log_p = jax.nn.logsumexp(log_top.reshape(2 ** sizes[-2], -1), 1)
    for i in range(len(dbn.generative) - 1, -1, -1):
        down = dbn.generative[i]
        above = _bits(sizes[i + 1])
        field = above @ down.weights.T + _rows(down.visible_bias, above)
        below = x if i == 0 else _bits(sizes[i])
        log_p = jax.nn.logsumexp(_log_bernoulli(below, field) + log_p[None, :], 1)
    return log_p
