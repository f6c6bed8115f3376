"""An RBF network trained end to end by gradient descent (curriculum S8).

:class:`RBFNet` is the Gaussian RBF network as a Flax Linen module (centres,
log widths and a Dense output layer); :func:`rbf_gradient_learner` trains all
of them with an Optax optimiser through :func:`jnn.train.gradient_learner`,
starting from a two-stage solution of :func:`jnn.static.rbf_fit`.
"""

from __future__ import annotations

from collections.abc import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jnn.static.radial.rbf import RBFParams, _network
from jnn.static.radial.units import _gaussian
from jnn.train import (
    Learner,
    TrainState,
    classification_loss,
    gradient_learner,
    regression_loss,
)


class RBFLayer(nn.Module):
    """Gaussian units ``x (n, d) -> phi (n, M)``: params centers, log_widths."""

    n_centers: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Map ``x: (n, d)`` to the activations ``(n, n_centers)``."""
        shape = (self.n_centers, x.shape[-1])
        centers = self.param("centers", nn.initializers.normal(1.0), shape)
        log_widths = self.param("log_widths", nn.initializers.zeros, (shape[0],))
        return _gaussian(x, centers, jnp.exp(log_widths))


class RBFNet(nn.Module):
    """Gaussian RBF network ``x -> phi(x) -> W^T phi + b`` as a Flax module.

    Attributes:
      n_centers: ``M`` hidden units (submodule ``rbf``).
      n_outputs: ``c`` outputs (the Dense submodule ``output``).
    """

    n_centers: int
    n_outputs: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Map ``x: (n, d)`` to ``(n, n_outputs)``."""
        h = RBFLayer(self.n_centers, name="rbf")(x)
        return nn.Dense(self.n_outputs, name="output")(h)


def rbf_net_params(params) -> dict:
    """The Flax ``params`` of :class:`RBFNet` holding ``params``.

    Args:
      params: :class:`RBFParams` or the :class:`RBFResult` of :func:`rbf_fit`.
    """
    params = _network(params)
    return {
        "rbf": {"centers": params.centers, "log_widths": jnp.log(params.widths)},
        "output": {"kernel": params.weights, "bias": params.bias},
    }


def rbf_from_net(net_params: dict) -> RBFParams:
    """:class:`RBFParams` from the Flax ``params`` of :class:`RBFNet`.

    Raises:
      TypeError: ``net_params`` is not ``{"rbf": {"centers", "log_widths"},
        "output": {"kernel", "bias"}}`` (e.g. ``state.params`` of a learner of
        :func:`rbf_gradient_learner`).
    """
    layout = {"rbf": ("centers", "log_widths"), "output": ("kernel", "bias")}
    if not isinstance(net_params, Mapping) or any(
        not isinstance(net_params.get(k), Mapping) or set(v) - set(net_params[k])
        for k, v in layout.items()
    ):
        raise TypeError(
            "`net_params` must be the Flax params of RBFNet, {'rbf': {'centers', "
            "'log_widths'}, 'output': {'kernel', 'bias'}}; got "
            f"{_layout(net_params)}."
        )
    rbf, out = net_params["rbf"], net_params["output"]
    return RBFParams(
        rbf["centers"], jnp.exp(rbf["log_widths"]), out["kernel"], out["bias"]
    )


def _layout(tree) -> str:
    if isinstance(tree, Mapping):
        return "{" + ", ".join(f"{k!r}: {_layout(v)}" for k, v in tree.items()) + "}"
    return type(tree).__name__


def rbf_gradient_learner(
    params,
    optimizer: optax.GradientTransformation,
    *,
    task: str = "classification",
) -> tuple[Learner, RBFNet]:
    """End-to-end gradient training of every RBF parameter from ``params``.

    The network is :class:`RBFNet`; the loss is softmax cross-entropy on
    integer labels (``task="classification"``) or the mean squared error
    (``"regression"``), and :func:`jnn.train.gradient_learner` applies the
    optimiser to the centres, log widths and output layer at once. Unlike
    ``gradient_learner``, ``init`` ignores its key and starts from ``params``
    (typically the two-stage solution of :func:`rbf_fit`).

    Args:
      params: the starting :class:`RBFParams` (or :class:`RBFResult`).
      optimizer: an Optax gradient transformation.
      task: ``"classification"`` or ``"regression"``.

    Returns:
      ``(learner, model)``; ``rbf_from_net(state.params)`` reads the result.
    """
    params = _network(params)
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "`optimizer` must be an optax.GradientTransformation such as "
            f"optax.adam(1e-2); got {type(optimizer).__name__}."
        )
    if task not in ("classification", "regression"):
        raise ValueError(
            f"`task` must be 'classification' or 'regression'; got {task!r}."
        )
    model = RBFNet(params.centers.shape[0], params.weights.shape[1])
    loss = (classification_loss if task == "classification" else regression_loss)(model)
    base = gradient_learner(model, loss, optimizer)
    start = rbf_net_params(params)

    def init(key, batch) -> TrainState:
        return TrainState(start, optimizer.init(start), jnp.zeros((), jnp.int32))

    return base._replace(init=init), model
