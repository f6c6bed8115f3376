r"""Restricted Boltzmann machines: the energy, and everything derived from it.

An RBM has ``V`` visible units ``v`` and ``H`` binary hidden units ``h`` with
no connections inside a layer (Smolensky 1986; Hinton 2002). It is an energy
function first; the Gibbs conditionals, the free energy, the samplers, the
learning rules (:mod:`.learning`) and the likelihood estimates
(:mod:`.likelihood`) all derive from it:

* Bernoulli–Bernoulli (:class:`RBM`, ``v`` in {0, 1}):

  .. math:: E(v, h) = -b^\top v - c^\top h - v^\top W h,\qquad
            F(v) = -b^\top v - \sum_j \operatorname{softplus}(c_j + (v W)_j)

  with :math:`p(h_j{=}1 \mid v) = \sigma(c_j + (vW)_j)` and
  :math:`p(v_i{=}1 \mid h) = \sigma(b_i + (W h)_i)`.

* Gaussian–Bernoulli (:class:`GaussianRBM`, real ``v``, fixed standard
  deviations ``sigma``; Hinton 2010, sec. 13.2):

  .. math:: E(v, h) = \sum_i \frac{(v_i - b_i)^2}{2\sigma_i^2} - c^\top h
                      - \sum_{ij} \frac{v_i}{\sigma_i} W_{ij} h_j,\qquad
            F(v) = \sum_i \frac{(v_i - b_i)^2}{2\sigma_i^2}
                   - \sum_j \operatorname{softplus}(c_j + (\tfrac{v}{\sigma} W)_j)

  with :math:`p(h_j{=}1 \mid v) = \sigma(c_j + (\tfrac{v}{\sigma}W)_j)` and
  :math:`v \mid h \sim \mathcal N(b + \sigma \odot W h, \sigma^2)`.

``F(v) = -log sum_h exp(-E(v, h))``, so ``p(v) = exp(-F(v)) / Z``. The
parameters are NamedTuples (pytrees), and every function takes them first, so
they ``jit``, ``vmap`` and ``grad`` as they are and a deep belief net can
stack them (the hidden probabilities of one are the data of the next). Every
function works on one state ``(V,)`` or a batch ``(..., V)``.

References:
  G. E. Hinton, "Training products of experts by minimizing contrastive
  divergence", Neural Computation 14 (2002). G. E. Hinton, "A practical guide
  to training restricted Boltzmann machines", UTML TR 2010-003 (2010).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key, check_positive_int, is_concrete


class RBM(NamedTuple):
    """A Bernoulli–Bernoulli RBM's parameters.

    Attributes:
      weights: ``W``, ``(V, H)`` float32.
      visible_bias: ``b``, ``(V,)``.
      hidden_bias: ``c``, ``(H,)``.
    """

    weights: jax.Array
    visible_bias: jax.Array
    hidden_bias: jax.Array


class GaussianRBM(NamedTuple):
    """A Gaussian–Bernoulli RBM's parameters (Gaussian visible units).

    Attributes:
      weights: ``W``, ``(V, H)`` float32.
      visible_bias: ``b``, ``(V,)``, the visible means when ``h = 0``.
      hidden_bias: ``c``, ``(H,)``.
      sigma: ``(V,)`` standard deviations of the visible units, held fixed by
        the learners (Hinton's guide: standardise the data and use 1).
    """

    weights: jax.Array
    visible_bias: jax.Array
    hidden_bias: jax.Array
    sigma: jax.Array


AnyRBM = RBM | GaussianRBM


def is_gaussian(rbm: AnyRBM) -> bool:
    """Whether ``rbm`` has Gaussian visible units."""
    return isinstance(rbm, GaussianRBM)


# --- boundary checks -------------------------------------------------------------


def _units(x: Any, size: int, name: str, layer: str) -> None:
    """Raise unless the last axis of ``x`` has ``size`` units (trace-safe)."""
    shape = tuple(getattr(x, "shape", np.shape(x)))
    if shape[-1:] != (size,):
        letter = "V" if layer == "visible" else "H"
        raise ValueError(
            f"`{name}` must have {size} {layer} units in its last axis (the RBM's "
            f"{letter}); got shape {shape}."
        )


def check_rbm(rbm: Any, name: str = "rbm") -> None:
    """Raise unless ``rbm`` is an :class:`RBM` or :class:`GaussianRBM` (shapes fit)."""
    if not isinstance(rbm, RBM | GaussianRBM):
        raise TypeError(
            f"`{name}` must be a jnn.generative.RBM or GaussianRBM (see init_rbm); "
            f"got {type(rbm).__name__}."
        )
    check_array(rbm.weights, f"{name}.weights", ndim=2, kind="f")
    n_visible, n_hidden = rbm.weights.shape
    shapes = {"visible_bias": (n_visible,), "hidden_bias": (n_hidden,)}
    if is_gaussian(rbm):
        shapes["sigma"] = (n_visible,)
    for field, shape in shapes.items():
        value = getattr(rbm, field)
        check_array(value, f"{name}.{field}", ndim=1, kind="f")
        if tuple(value.shape) != shape:
            raise ValueError(
                f"`{name}.{field}` must have shape {shape} to match the weights "
                f"{tuple(rbm.weights.shape)}; got {tuple(value.shape)}."
            )
    if is_gaussian(rbm) and is_concrete(rbm.sigma):
        if np.any(np.asarray(rbm.sigma) <= 0):
            raise ValueError(f"`{name}.sigma` must be > 0.")


def check_visible(
    v: Any, n_visible: int, name: str = "v", *, binary: bool = False
) -> jax.Array:
    """Check visible states ``(..., V)`` and return them as float32.

    Args:
      v: visible states, last axis ``V``.
      n_visible: the RBM's ``V``.
      name: the argument's name in messages.
      binary: require values in {0, 1} (when concrete): a Bernoulli RBM's data.

    Raises:
      ValueError: wrong visible size, non-finite, or non-binary values.
    """
    check_array(v, name, kind="n")
    _units(v, n_visible, name, "visible")
    if binary and is_concrete(v):
        values = np.asarray(v)
        bad = (values != 0) & (values != 1)
        if bad.any():
            raise ValueError(
                f"`{name}` must be binary (0/1) for a Bernoulli RBM; got "
                f"{values[bad].ravel()[:3].tolist()} (binarise the data, e.g. "
                "jnn.generative.binarize, or use a GaussianRBM)."
            )
    return jnp.asarray(v, jnp.float32)


# --- construction ----------------------------------------------------------------


def base_rate_bias(x: Any, *, smoothing: float = 1e-3) -> jax.Array:
    r"""Visible biases of the base-rate model: :math:`b_i = \log(p_i / (1 - p_i))`.

    ``p_i`` is the mean of pixel ``i`` over ``x``, clipped to
    ``[smoothing, 1 - smoothing]`` (Hinton's guide, sec. 8: the initial
    visible biases; Salakhutdinov & Murray 2008: the AIS base model).

    Args:
      x: ``(n, V)`` binary data.
      smoothing: keeps the biases of always-off pixels finite.

    Returns:
      ``(V,)`` float32 biases.
    """
    check_array(x, "x", ndim=2, kind="n")
    p = jnp.clip(
        jnp.mean(jnp.asarray(x, jnp.float32), axis=0), smoothing, 1 - smoothing
    )
    return jnp.log(p) - jnp.log1p(-p)


def init_rbm(
    key: jax.Array,
    n_visible: int,
    n_hidden: int,
    *,
    visible_bias: Any = None,
    gaussian: bool = False,
    sigma: float = 1.0,
    scale: float = 0.01,
) -> AnyRBM:
    """A new RBM: ``W ~ N(0, scale^2)``, zero hidden biases (Hinton's guide, sec. 8).

    Args:
      key: PRNG key of the weights.
      n_visible: ``V``.
      n_hidden: ``H``.
      visible_bias: ``(V,)`` initial visible biases (e.g. :func:`base_rate_bias`
        of the training data), zeros if None.
      gaussian: a :class:`GaussianRBM` (real visible units) instead of an
        :class:`RBM`.
      sigma: the Gaussian visible units' standard deviation (all units).
      scale: standard deviation of the initial weights.

    Returns:
      An :class:`RBM` or :class:`GaussianRBM` of float32 arrays.

    Example:
      >>> rbm = init_rbm(jax.random.key(0), 784, 500)
      >>> rbm.weights.shape, rbm.hidden_bias.shape
      ((784, 500), (500,))
      >>> v = jnp.zeros((3, 784))
      >>> free_energy(rbm, v).shape, hidden_probabilities(rbm, v).shape
      ((3,), (3, 500))
    """
    check_key(key)
    check_positive_int(n_visible, "n_visible")
    check_positive_int(n_hidden, "n_hidden")
    if not (isinstance(scale, int | float) and scale >= 0 and np.isfinite(scale)):
        raise ValueError(f"`scale` must be a finite number >= 0; got {scale!r}.")
    weights = scale * jax.random.normal(key, (n_visible, n_hidden), jnp.float32)
    if visible_bias is None:
        b = jnp.zeros((n_visible,), jnp.float32)
    else:
        check_array(visible_bias, "visible_bias", ndim=1, kind="f")
        if visible_bias.shape != (n_visible,):
            raise ValueError(
                f"`visible_bias` must have shape ({n_visible},); got "
                f"{tuple(visible_bias.shape)}."
            )
        b = jnp.asarray(visible_bias, jnp.float32)
    c = jnp.zeros((n_hidden,), jnp.float32)
    if not gaussian:
        return RBM(weights, b, c)
    if not (isinstance(sigma, int | float) and sigma > 0 and np.isfinite(sigma)):
        raise ValueError(f"`sigma` must be a finite number > 0; got {sigma!r}.")
    return GaussianRBM(weights, b, c, jnp.full((n_visible,), sigma, jnp.float32))


def binarize(key: jax.Array, x: Any) -> jax.Array:
    """Stochastic binarisation: pixel ``i`` is 1 with probability ``x_i``.

    Salakhutdinov & Murray (2008) binarised MNIST this way, once, with a fixed
    draw; the likelihoods of their table are on such data.

    Args:
      key: PRNG key (fix it: the data set is drawn once).
      x: intensities in [0, 1], any shape.

    Returns:
      float32 array of 0/1, same shape.
    """
    check_key(key)
    check_array(x, "x", kind="n")
    if is_concrete(x):
        values = np.asarray(x)
        if values.min() < 0 or values.max() > 1:
            raise ValueError(
                f"`x` must hold intensities in [0, 1]; got [{values.min()}, "
                f"{values.max()}] (load MNIST with standardize=False)."
            )
    x = jnp.asarray(x, jnp.float32)
    return jax.random.bernoulli(key, x).astype(jnp.float32)


# --- the energy and what derives from it ----------------------------------------


def _v(rbm: AnyRBM, v: Any, name: str = "v") -> None:
    _units(v, rbm.weights.shape[0], name, "visible")


def _h(rbm: AnyRBM, h: Any, name: str = "h") -> None:
    _units(h, rbm.weights.shape[1], name, "hidden")


def _rows(vector: jax.Array, like: jax.Array) -> jax.Array:
    """``vector (n,)`` shaped to broadcast along the last axis of ``like``."""
    return vector.reshape((1,) * (jnp.ndim(like) - 1) + vector.shape)


def _scaled(rbm: AnyRBM, v: jax.Array) -> jax.Array:
    """``v / sigma`` for Gaussian units, ``v`` for binary ones."""
    return v / _rows(rbm.sigma, v) if is_gaussian(rbm) else v


def _visible_term(rbm: AnyRBM, v: jax.Array) -> jax.Array:
    """The visible part of the energy: ``-b.v`` or ``sum (v - b)^2 / (2 sigma^2)``."""
    if is_gaussian(rbm):
        z = (v - _rows(rbm.visible_bias, v)) / _rows(rbm.sigma, v)
        return jnp.sum(jnp.square(z), -1) / 2
    return -(v @ rbm.visible_bias)


def hidden_input(rbm: AnyRBM, v: jax.Array) -> jax.Array:
    """Total input of the hidden units, ``c + (v / sigma) W``: ``(..., H)``."""
    _v(rbm, v)
    field = _scaled(rbm, v) @ rbm.weights
    return field + _rows(rbm.hidden_bias, field)


def energy(rbm: AnyRBM, v: jax.Array, h: jax.Array) -> jax.Array:
    """The joint energy ``E(v, h)`` (see the module docstring): ``(...)``."""
    _v(rbm, v)
    _h(rbm, h)
    interaction = jnp.sum((_scaled(rbm, v) @ rbm.weights) * h, -1)
    return _visible_term(rbm, v) - h @ rbm.hidden_bias - interaction


def free_energy(rbm: AnyRBM, v: jax.Array) -> jax.Array:
    """``F(v) = -log sum_h exp(-E(v, h))``, the hidden units summed out: ``(...)``."""
    _v(rbm, v)
    return _visible_term(rbm, v) - jnp.sum(jax.nn.softplus(hidden_input(rbm, v)), -1)


def hidden_probabilities(rbm: AnyRBM, v: jax.Array) -> jax.Array:
    """``p(h_j = 1 | v) = sigmoid(c_j + (v / sigma) W_j)``: ``(..., H)``."""
    return jax.nn.sigmoid(hidden_input(rbm, v))


def visible_mean(rbm: AnyRBM, h: jax.Array) -> jax.Array:
    """``E[v | h]``: ``sigmoid(b + W h)`` (binary) or ``b + sigma W h`` (Gaussian)."""
    _h(rbm, h)
    field = h @ rbm.weights.T
    if is_gaussian(rbm):
        return _rows(rbm.visible_bias, field) + _rows(rbm.sigma, field) * field
    return jax.nn.sigmoid(_rows(rbm.visible_bias, field) + field)


def bernoulli(key: jax.Array, p: jax.Array) -> jax.Array:
    """0/1 float32 samples with probabilities ``p`` (one uniform per unit)."""
    return (jax.random.uniform(key, p.shape) < p).astype(jnp.float32)


def sample_hidden(rbm: AnyRBM, v: jax.Array, key: jax.Array) -> jax.Array:
    """``h ~ p(h | v)``: ``(..., H)`` of 0/1."""
    return bernoulli(key, hidden_probabilities(rbm, v))


def sample_visible(rbm: AnyRBM, h: jax.Array, key: jax.Array) -> jax.Array:
    """``v ~ p(v | h)``: 0/1 (binary) or ``mean + sigma * N(0, 1)`` (Gaussian)."""
    mean = visible_mean(rbm, h)
    if is_gaussian(rbm):
        return mean + _rows(rbm.sigma, mean) * jax.random.normal(key, mean.shape)
    return bernoulli(key, mean)


def gibbs_step(rbm: AnyRBM, v: jax.Array, key: jax.Array) -> jax.Array:
    """One block Gibbs sweep ``v -> h ~ p(h | v) -> v' ~ p(v | h)``: ``v'``."""
    k_hidden, k_visible = jax.random.split(key)
    return sample_visible(rbm, sample_hidden(rbm, v, k_hidden), k_visible)


def gibbs_chain(rbm: AnyRBM, v: jax.Array, key: jax.Array, steps: int) -> jax.Array:
    """``steps`` block Gibbs sweeps from ``v`` (a ``lax.fori_loop``): the last ``v``.

    Args:
      rbm: the parameters.
      v: ``(..., V)`` start states (data for CD, fantasy particles for PCD).
      key: PRNG key; sweep ``t`` uses ``fold_in(key, t)``.
      steps: number of sweeps ``k >= 0`` (static).
    """
    return jax.lax.fori_loop(
        0, steps, lambda t, v: gibbs_step(rbm, v, jax.random.fold_in(key, t)), v
    )


def sample(
    rbm: AnyRBM, key: jax.Array, start: Any, steps: int, *, mean: bool = True
) -> jax.Array:
    """Samples after ``steps`` Gibbs sweeps from ``start`` (checked, jitted).

    Args:
      rbm: the parameters.
      key: PRNG key.
      start: ``(n, V)`` initial visible states (e.g. data, or
        :func:`binarize` of noise).
      steps: Gibbs sweeps, >= 1.
      mean: return ``E[v | h]`` of the last sweep (smooth images for plots)
        instead of the sampled ``v``.

    Returns:
      ``(n, V)`` float32.
    """
    check_rbm(rbm)
    check_key(key)
    check_positive_int(steps, "steps")
    start = check_visible(start, rbm.weights.shape[0], "start")
    return _sample(rbm, key, start, steps, mean)


@functools.partial(jax.jit, static_argnames=("steps", "mean"))
def _sample(rbm, key, start, steps, mean):
    k_chain, k_hidden, k_visible = jax.random.split(key, 3)
    v = gibbs_chain(rbm, start, k_chain, steps - 1)
    h = sample_hidden(rbm, v, k_hidden)
    return visible_mean(rbm, h) if mean else sample_visible(rbm, h, k_visible)
