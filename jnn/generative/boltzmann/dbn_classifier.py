"""Classification with a deep belief net: generative, and as an initialised MLP.

* :func:`dbn_predict`: the generative DBN as a classifier (Hinton, Osindero &
  Teh 2006, sec. 6): the up-pass gives the penultimate layer's
  probabilities ``h``, and the predicted label is the one whose one-hot
  vector gives the top RBM the lowest free energy, ``argmin_y F([h, y])``.
* :class:`DBNClassifier` and :func:`dbn_classifier`: the recognition stack as
  a sigmoid MLP with a new softmax output layer, for discriminative
  fine-tuning by back-propagation with :func:`jnn.train.gradient_learner`
  (Hinton & Salakhutdinov 2006: 784-500-500-2000-10, 1.2% MNIST test error).

References:
  G. E. Hinton, S. Osindero and Y.-W. Teh, "A fast learning algorithm for deep
  belief nets", Neural Computation 18 (2006). G. E. Hinton and R. R.
  Salakhutdinov, "Reducing the dimensionality of data with neural networks",
  Science 313 (2006).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_fraction, check_key, check_positive_int
from jnn.generative.boltzmann.dbn import (
    DBN,
    _check_data,
    check_dbn,
    dbn_label_count,
    dbn_layer_sizes,
    dbn_up_pass,
)
from jnn.generative.boltzmann.rbm import free_energy


def dbn_predict(dbn: DBN, x: Any) -> jax.Array:
    """Classes by the generative DBN: the label with the lowest top free energy.

    ``h_{L-1}`` is the mean-field up-pass of ``x``; the prediction is
    ``argmin_y F_top([h_{L-1}, onehot(y)])`` (Hinton et al. 2006, sec. 6).

    Returns:
      ``(n,)`` int32 classes.
    """
    check_dbn(dbn)
    if dbn_label_count(dbn) == 0:
        raise ValueError("`dbn` has no label units: pre-train it with `labels`.")
    x = _check_data(x, dbn_layer_sizes(dbn)[0])
    return _dbn_predict(dbn, x)


@jax.jit
def _dbn_predict(dbn, x):
    h = dbn_up_pass(dbn, x)[-1]
    classes = dbn_label_count(dbn)
    candidates = jnp.eye(classes, dtype=h.dtype)
    both = jnp.concatenate(
        [
            jnp.broadcast_to(h[:, None, :], (h.shape[0], classes, h.shape[1])),
            jnp.broadcast_to(candidates[None], (h.shape[0], classes, classes)),
        ],
        -1,
    )
    return jnp.argmin(free_energy(dbn.top, both), -1).astype(jnp.int32)


# --- discriminative fine-tuning ---------------------------------------------------


class DBNClassifier(nn.Module):
    """A sigmoid MLP shaped like a DBN's recognition stack, with a softmax output.

    Attributes:
      features: hidden widths then the number of classes, e.g.
        ``(500, 500, 2000, 10)``.
      dropout_rate: dropout on every hidden layer's output in training
        (Srivastava et al. 2014 fine-tune DBNs with 0.5); 0 is plain
        back-propagation.
      input_dropout_rate: dropout on the inputs in training (their 0.2).

    Call:
      ``x (B, V) -> logits (B, features[-1])``; layer ``i`` is
      ``h_{i+1} = sigmoid(h_i W_i + c_i)``, parameters named ``layer_i``;
      ``train=True`` applies the dropouts (the ``"dropout"`` RNG stream).
    """

    features: Sequence[int]
    dropout_rate: float = 0.0
    input_dropout_rate: float = 0.0

    def __post_init__(self):
        check_fraction(self.dropout_rate, "dropout_rate")
        check_fraction(self.input_dropout_rate, "input_dropout_rate")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Map ``x: (B, V)`` to logits."""
        *hidden, n_out = self.features
        x = nn.Dropout(self.input_dropout_rate, deterministic=not train)(x)
        for i, width in enumerate(hidden):
            x = nn.sigmoid(nn.Dense(width, name=f"layer_{i}")(x))
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(n_out, name=f"layer_{len(hidden)}")(x)


def dbn_classifier(
    dbn: DBN,
    n_outputs: int,
    *,
    key: jax.Array,
    output_scale: float = 0.01,
    dropout_rate: float = 0.0,
    input_dropout_rate: float = 0.0,
) -> tuple[DBNClassifier, dict]:
    """The recognition stack as a :class:`DBNClassifier` and its parameters.

    Layer ``i`` gets the recognition weights and hidden biases of RBM ``i``
    (for the top RBM, the rows of the penultimate units only); the output layer
    is new, ``N(0, output_scale^2)``. Fine-tune it with
    :func:`jnn.train.gradient_learner`::

        model, params = dbn_classifier(dbn, 10, key=key)
        learner = gradient_learner(model, classification_loss(model), optimizer)
        start = learner.init(key, batch)._replace(params=params)
        fit(learner, train, key=key, epochs=..., init_state=start)

    (the optimiser state of ``learner.init`` does not depend on the values of
    the parameters for SGD, momentum or Adam). ``dropout_rate`` and
    ``input_dropout_rate`` go to :class:`DBNClassifier` (dropout fine-tuning,
    Srivastava et al. 2014: 0.5 and 0.2).

    Returns:
      ``(model, params)``.
    """
    check_dbn(dbn)
    check_positive_int(n_outputs, "n_outputs")
    check_key(key)
    rbms = [*dbn.recognition, dbn.top]
    sizes = dbn_layer_sizes(dbn)
    params = {}
    for i, rbm in enumerate(rbms):
        weights = rbm.weights[: sizes[i]]
        params[f"layer_{i}"] = {"kernel": weights, "bias": rbm.hidden_bias}
    params[f"layer_{len(rbms)}"] = {
        "kernel": output_scale
        * jax.random.normal(key, (sizes[-1], n_outputs), jnp.float32),
        "bias": jnp.zeros((n_outputs,), jnp.float32),
    }
    model = DBNClassifier((*sizes[1:], n_outputs), dropout_rate, input_dropout_rate)
    return model, params
