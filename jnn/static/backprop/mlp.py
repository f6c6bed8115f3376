"""The multilayer perceptron trained by back-propagation (curriculum S1, S3).

``MLP`` is a Flax Linen module; it is trained with
:func:`jnn.train.gradient_learner` and the losses of :mod:`jnn.train.losses`.
Its options are the remedies of S3 for back-propagation's weaknesses: the
activation (ReLU against the sigmoid's vanishing derivative, at most 1/4),
the initialisation (Xavier/Glorot for sigmoid and tanh, He for ReLU, or a
plain normal of a chosen scale to show exploding gradients), layer
normalisation and residual connections.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_bool

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": nn.relu,
    "gelu": nn.gelu,
}

INITIALIZERS = {
    "lecun": nn.initializers.lecun_normal(),
    "xavier": nn.initializers.xavier_uniform(),
    "he": nn.initializers.he_normal(),
}


def kernel_initializer(spec: str | float | Callable) -> Callable:
    """Turn an initialiser spec into a Flax initialiser.

    Args:
      spec: ``"lecun"`` (Flax's default, variance 1/fan_in), ``"xavier"``
        (Glorot & Bengio 2010, uniform, variance 2/(fan_in+fan_out)), ``"he"``
        (He et al. 2015, normal, variance 2/fan_in), a float ``s`` for
        ``N(0, s^2)`` weights whatever the fan-in, or any Flax initialiser.

    Raises:
      ValueError: unknown name or a scale that is not finite and positive
        (the messages call it ``kernel_init``, the :class:`MLP` attribute).
    """
    if callable(spec):
        return spec
    if isinstance(spec, str):
        if spec not in INITIALIZERS:
            raise ValueError(
                f"`kernel_init` must be one of {sorted(INITIALIZERS)}, a "
                f"positive float or a callable; got {spec!r}."
            )
        return INITIALIZERS[spec]
    if (
        isinstance(spec, int | float)
        and not isinstance(spec, bool)
        and math.isfinite(spec)
        and spec > 0
    ):
        return nn.initializers.normal(stddev=float(spec))
    raise ValueError(
        "`kernel_init` must be a name, a finite positive float or a callable; "
        f"got {spec!r}."
    )


class MLP(nn.Module):
    """Fully connected network ``x -> g(W1 x + b1) -> ... -> W_L h + b_L``.

    Attributes:
      features: widths of every layer, the last one being the output (logits
        for classification, values for regression); e.g. ``(64, 10)`` is one
        hidden layer of 64 units and 10 outputs.
      activation: ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"gelu"`` or a
        function, applied after every hidden layer.
      kernel_init: weight initialisation, see :func:`kernel_initializer`.
      layer_norm: LayerNorm (Ba et al. 2016) before each hidden activation.
      residual: add the layer's input to its output when widths agree
        (He et al. 2016), ``h_{l+1} = h_l + g(W h_l + b)``.

    Call:
      ``x``: ``(batch, n_inputs)`` float array -> ``(batch, features[-1])``.

    Parameters are named ``layer_0 ... layer_{L-1}`` (and ``norm_i``), so that
    :func:`layer_gradient_norms` can order them.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> model = MLP(features=(64, 10), activation="relu", kernel_init="he")
      >>> params = model.init(jax.random.key(0), jnp.zeros((1, 64)))["params"]
      >>> model.apply({"params": params}, jnp.zeros((5, 64))).shape
      (5, 10)
    """

    features: Sequence[int] = (64, 10)
    activation: str | Callable[[jax.Array], jax.Array] = "sigmoid"
    kernel_init: str | float | Callable = "lecun"
    layer_norm: bool = False
    residual: bool = False

    def __post_init__(self) -> None:
        try:
            features = tuple(self.features)
        except TypeError:
            raise TypeError(
                "`features` must be a non-empty sequence of positive ints; got "
                f"{self.features!r}."
            ) from None
        if not features or not all(
            isinstance(f, int) and not isinstance(f, bool) and f > 0 for f in features
        ):
            raise ValueError(
                f"`features` must be a non-empty sequence of positive "
                f"ints; got {self.features!r}."
            )
        if not callable(self.activation) and self.activation not in ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {sorted(ACTIVATIONS)} or a "
                f"function; got {self.activation!r}."
            )
        kernel_initializer(self.kernel_init)  # validates
        check_bool(self.layer_norm, "layer_norm")
        check_bool(self.residual, "residual")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Map ``x: (batch, n_inputs)`` to ``(batch, features[-1])``."""
        if x.ndim != 2:
            raise ValueError(
                f"MLP input must have shape (batch, n_inputs); got {x.shape}."
            )
        act = (
            self.activation
            if callable(self.activation)
            else ACTIVATIONS[self.activation]
        )
        init = kernel_initializer(self.kernel_init)
        *hidden, n_out = self.features
        for i, width in enumerate(hidden):
            h = nn.Dense(width, kernel_init=init, name=f"layer_{i}")(x)
            if self.layer_norm:
                h = nn.LayerNorm(name=f"norm_{i}")(h)
            h = act(h)
            x = x + h if self.residual and x.shape[-1] == width else h
        return nn.Dense(n_out, kernel_init=init, name=f"layer_{len(hidden)}")(x)
