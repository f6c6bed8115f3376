r"""Radial basis function networks (curriculum S8, S9).

A Gaussian RBF network maps ``x`` through ``M`` local hidden units and a linear
output layer (Broomhead & Lowe 1988; Moody & Darken 1989):

.. math:: \phi_j(x) = \exp\!\Big(-\frac{\lVert x - c_j \rVert^2}
          {2\sigma_j^2}\Big), \qquad f(x) = W^\top \phi(x) + b .

Two-stage learning (:func:`rbf_fit`): centres by k-means
(:func:`jnn.static.kmeans_fit`) or a random subset of the training points;
widths by a heuristic (:func:`rbf_widths`); output weights by ridge regression
in closed form (:func:`ridge_weights`) or online LMS (:func:`lms_learner`).
The end-to-end variant (:func:`rbf_gradient_learner`) trains centres, log
widths and output weights of the Flax module :class:`RBFNet` by gradient
descent through :func:`jnn.train.gradient_learner`, from the two-stage
solution. Classification: one-hot targets, arg-max output
(:func:`rbf_classify`); regression: the outputs (:func:`rbf_predict`).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_interval,
    check_key,
    check_positive_float,
    check_positive_int,
)
from jnn.static._api import renamed_argument
from jnn.static.backprop.calibration import check_labels
from jnn.static.mixtures.kmeans import kmeans_fit
from jnn.static.radial.output_layer import _ridge, lms_learner
from jnn.static.radial.units import (
    _check_width,
    _gaussian,
    _rbf_widths,
)
from jnn.train import fit

SOLVERS = ("ridge", "lms")
INITS = ("kmeans", "random")


class RBFParams(NamedTuple):
    """Parameters of a Gaussian RBF network.

    Attributes:
      centers: ``(M, d)`` centres ``c_j``.
      widths: ``(M,)`` widths ``sigma_j > 0``.
      weights: ``(M, c)`` output weights ``W``.
      bias: ``(c,)`` output bias ``b``.
    """

    centers: jax.Array
    widths: jax.Array
    weights: jax.Array
    bias: jax.Array


class RBFResult(NamedTuple):
    """Output of :func:`rbf_fit`: the network's fields and how it was fitted.

    Attributes:
      centers, widths, weights, bias: as in :class:`RBFParams` (``params``
        bundles them; :func:`rbf_predict` takes either).
      iterations: ``1`` for the closed-form ridge solver, ``lms_epochs``
        (passes over the data) for LMS.
      converged: always True: the ridge solution is exact and LMS runs its
        fixed number of passes (it has no convergence test).
      history: ``{"loss": (iterations,)}``, the training mean squared error
        of the targets (ridge: of the solution; LMS: the a-priori error of
        each pass).
    """

    centers: jax.Array
    widths: jax.Array
    weights: jax.Array
    bias: jax.Array
    iterations: int
    converged: bool
    history: dict[str, np.ndarray]

    @property
    def params(self) -> RBFParams:
        """The fitted network as :class:`RBFParams`."""
        return RBFParams(self.centers, self.widths, self.weights, self.bias)


def _network(params, name: str = "params") -> RBFParams:
    """``params`` as :class:`RBFParams` (from an :class:`RBFResult` too), checked."""
    if isinstance(params, RBFResult):
        params = params.params
    if not isinstance(params, RBFParams):
        raise TypeError(
            f"`{name}` must be RBFParams or the RBFResult of rbf_fit; got "
            f"{type(params).__name__}."
        )
    for field, value in zip(params._fields, params, strict=True):
        check_array(value, f"{name}.{field}", ndim=(2 if field in
                    ("centers", "weights") else 1), kind="f")  # fmt: skip
    m, c = params.centers.shape[0], params.bias.shape[0]
    if params.widths.shape != (m,) or params.weights.shape != (m, c):
        raise ValueError(
            f"`{name}` must hold centers (M, d), widths (M,), weights (M, c) and "
            f"bias (c,); got shapes {[tuple(p.shape) for p in params]}."
        )
    return params


def _check_params_x(params, x) -> RBFParams:
    params = _network(params)
    check_array(x, "x", ndim=2, kind="f")
    d = params.centers.shape[-1]
    if x.shape[1] != d:
        raise ValueError(
            f"`x` must have {d} features (as the centres); got shape {x.shape}."
        )
    return params


def rbf_predict(params, x: jax.Array) -> jax.Array:
    """Network outputs ``f(x) = phi(x) W + b``: ``(n, d) -> (n, c)``.

    Args:
      params: :class:`RBFParams` or the :class:`RBFResult` of :func:`rbf_fit`.
      x: ``(n, d)`` float inputs.

    Raises:
      TypeError, ValueError: ``params`` neither (or with NaN, wrong shapes);
        ``x`` not an ``(n, d)`` float array with the centres' ``d`` (or, when
        concrete, holding NaN or inf).
    """
    return _outputs(_check_params_x(params, x), x)


@jax.jit
def _outputs(params: RBFParams, x: jax.Array) -> jax.Array:
    h = _gaussian(x, params.centers, params.widths)
    out = jnp.dot(h, params.weights, precision=jax.lax.Precision.HIGHEST)
    return out + params.bias[None, :]


def rbf_classify(params, x: jax.Array) -> jax.Array:
    """Class labels ``argmax_k f_k(x)``: ``(n, d) -> (n,)`` int32.

    Args and errors as :func:`rbf_predict`.
    """
    return jnp.argmax(rbf_predict(params, x), axis=1).astype(jnp.int32)


def _check_targets(y, n_rows: int, n_outputs: int | None) -> int:
    """Check labels or regression targets; return the number of outputs ``c``."""
    check_array(y, "y", kind="n")
    if y.shape[0] != n_rows:
        raise ValueError(f"`y` must have {n_rows} rows (as `x`); got {y.shape}.")
    if n_outputs is not None:
        check_positive_int(n_outputs, "n_outputs")
    if np.issubdtype(np.dtype(y.dtype), np.integer):
        if y.ndim != 1:
            raise ValueError(
                "`y` of an integer dtype holds class labels and must have shape "
                f"(n,); got {y.shape} (use float targets for regression)."
            )
        return check_labels(y, "y", n_rows, n_outputs, classes_name="n_outputs")
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] == 0):
        raise ValueError(
            f"`y` must be (n,) class labels or (n,) / (n, c) float targets; got "
            f"shape {y.shape}."
        )
    c = 1 if y.ndim == 1 else y.shape[1]
    if n_outputs is not None and n_outputs != c:
        raise ValueError(
            f"`n_outputs` ({n_outputs}) must equal the columns of the float "
            f"targets `y` ({c}), or be None."
        )
    return c


def _targets(y, n_outputs: int) -> jax.Array:
    """Integer labels -> one-hot ``(n, c)``; float ``(n,)`` -> ``(n, 1)``."""
    y = jnp.asarray(y)
    if jnp.issubdtype(y.dtype, jnp.integer):
        return jax.nn.one_hot(y, n_outputs, dtype=jnp.float32)
    return y.reshape(y.shape[0], -1)


def _check_fit_args(x, n_centers, width, width_factor, solver, ridge) -> None:
    check_array(x, "x", ndim=2, kind="f")
    check_positive_int(n_centers, "n_centers")
    if n_centers > x.shape[0]:
        raise ValueError(
            f"`n_centers` must be at most the number of examples {x.shape[0]}; "
            f"got n_centers={n_centers}."
        )
    _check_width(width, n_centers, "width", f"`n_centers`={n_centers}")
    check_positive_float(width_factor, "width_factor")
    if solver not in SOLVERS:
        raise ValueError(f"`solver` must be one of {SOLVERS}; got {solver!r}.")
    check_interval(ridge, "ridge", 0.0)


def _check_widths(sigma, width, n_centers: int) -> None:
    """Refuse zero widths: units whose centres coincide with another's."""
    zero = np.flatnonzero(~(np.asarray(sigma) > 0))
    if zero.size:
        raise ValueError(
            f"`width`={width!r} gave {zero.size} of the {n_centers} units (first: "
            f"{zero[:5].tolist()}) a zero width: their centres coincide with "
            "another's (`x` has repeated rows?). Use init='kmeans', fewer "
            "`n_centers` or a numeric `width`."
        )


def rbf_fit(
    x,
    y,
    n_centers: int,
    *,
    key: jax.Array,
    init: str = "kmeans",
    width="global",
    width_factor: float = 1.0,
    solver: str = "ridge",
    ridge: float = 1e-3,
    n_outputs: int | None = None,
    lms_epochs: int = 20,
    lms_learning_rate: float = 0.5,
    centers: str | None = None,
) -> RBFResult:
    """Two-stage training of a Gaussian RBF network (Moody & Darken 1989).

    Args:
      x: ``(n, d)`` float inputs.
      y: ``(n,)`` int class labels (one-hot targets) or ``(n,)`` / ``(n, c)``
        float regression targets.
      n_centers: ``M`` hidden units, at most ``n`` (the model size: the third
        positional argument of a supervised fit, after ``x`` and ``y``).
      key: PRNG key (k-means seeding or the random subset; LMS shuffling).
      init: how the centres are chosen: ``"kmeans"`` (one k-means++ run of
        :func:`kmeans_fit`) or ``"random"`` (``M`` distinct training points,
        Broomhead & Lowe 1988).
      width: ``"global"``, ``"nearest"`` or a number, see :func:`rbf_widths`.
      width_factor: multiplier of the width.
      solver: ``"ridge"`` (closed form, :func:`ridge_weights`) or ``"lms"``
        (online LMS, :func:`lms_learner`, one example per step).
      ridge: ``lambda`` of the ridge solver (0: plain least squares).
      n_outputs: number of classes when ``y`` holds labels (default: max + 1;
        must exceed every label); for float targets None or their columns.
      lms_epochs: passes over the data of the LMS solver.
      lms_learning_rate: normalised LMS step size, in ``(0, 2)``.
      centers: deprecated name of ``init``.

    Returns:
      An :class:`RBFResult` (the :class:`RBFParams` fields, ``iterations``,
      ``converged``, ``history``); :func:`rbf_predict` takes it.

    Raises:
      ValueError, TypeError: invalid data or settings (named in the message),
        e.g. a label outside ``[0, n_outputs)``, a NaN ``ridge``, or centres
        that coincide (a zero width).

    Example:
      >>> import jax, numpy as np
      >>> x = np.linspace(-3, 3, 200, dtype=np.float32)[:, None]
      >>> p = rbf_fit(x, np.sin(x), 12, key=jax.random.key(0))
      >>> bool(np.abs(rbf_predict(p, x) - np.sin(x)).max() < 0.05)
      True
    """
    init = renamed_argument(centers, "centers", init, "init", "kmeans")
    _check_fit_args(x, n_centers, width, width_factor, solver, ridge)
    n_outputs = _check_targets(y, x.shape[0], n_outputs)
    check_key(key)
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"`init` must be one of {INITS}; got {init!r}.")
    check_positive_int(lms_epochs, "lms_epochs")
    check_interval(lms_learning_rate, "lms_learning_rate", 0.0, 2.0, closed=False)
    targets, x = _targets(y, n_outputs), jnp.asarray(x)
    center_key, lms_key = jax.random.split(key)
    if init == "kmeans":
        c = kmeans_fit(x, n_centers, key=center_key, n_init=1).centers
    else:
        rows = jax.random.choice(center_key, x.shape[0], (n_centers,), replace=False)
        c = x[rows]
    sigma = _rbf_widths(c, width, float(width_factor))
    _check_widths(sigma, width, n_centers)
    if solver == "ridge":
        params, mse = _ridge_network(x, targets, c, sigma, float(ridge))
        return RBFResult(*params, 1, True, {"loss": np.asarray(mse)[None]})
    learner = lms_learner(c, sigma, targets.shape[1], learning_rate=lms_learning_rate)
    data = {"x": x, "y": targets}
    kw = dict(key=lms_key, epochs=lms_epochs, batch_size=1, progress=False)
    result = fit(learner, data, **kw)
    state = result.state
    history = {"loss": np.asarray(result.history["loss"])}
    return RBFResult(c, sigma, state.weights, state.bias, result.epochs, True, history)


@functools.partial(jax.jit, static_argnums=4)
def _ridge_network(x, targets, centers, sigma, ridge: float):
    """Stage 3 (the ridge output layer) as one compiled call; and its MSE."""
    h = _gaussian(x, centers, sigma)
    weights, bias = _ridge(h, targets, ridge)
    mse = jnp.mean((h @ weights + bias[None, :] - targets) ** 2)
    return RBFParams(centers, sigma, weights, bias), mse
