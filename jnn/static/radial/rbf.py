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

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn._checks import (
    check_array,
    check_interval,
    check_key,
    check_positive_float,
    check_positive_int,
)
from jnn.static.backprop.calibration import check_labels
from jnn.static.mixtures.kmeans import kmeans_fit, squared_distances
from jnn.train import (
    Learner,
    TrainState,
    classification_loss,
    fit,
    gradient_learner,
    regression_loss,
)

WIDTHS = ("global", "nearest")
SOLVERS = ("ridge", "lms")


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


def gaussian_activations(
    x: jax.Array, centers: jax.Array, widths: jax.Array
) -> jax.Array:
    """Hidden layer ``phi_j(x) = exp(-||x - c_j||^2 / (2 sigma_j^2))``.

    Args:
      x: ``(n, d)`` inputs.
      centers: ``(M, d)`` centres.
      widths: ``(M,)`` widths ``sigma_j``.

    Returns:
      ``(n, M)`` activations in ``(0, 1]``.
    """
    scale = (2.0 * widths * widths)[None, :]
    return jnp.exp(-squared_distances(x, centers) / scale)


def _check_params_x(params: RBFParams, x) -> None:
    if not isinstance(params, RBFParams):
        raise TypeError(f"`params` must be RBFParams; got {type(params).__name__}.")
    check_array(x, "x", ndim=2, kind="f")
    d = params.centers.shape[-1]
    if x.shape[1] != d:
        raise ValueError(
            f"`x` must have {d} features (as the centres); got shape {x.shape}."
        )


def rbf_predict(params: RBFParams, x: jax.Array) -> jax.Array:
    """Network outputs ``f(x) = phi(x) W + b``: ``(n, d) -> (n, c)``.

    Raises:
      TypeError, ValueError: ``params`` not :class:`RBFParams`; ``x`` not an
        ``(n, d)`` float array with the centres' ``d`` (or, when concrete,
        holding NaN or inf).
    """
    _check_params_x(params, x)
    return _outputs(params, x)


@jax.jit
def _outputs(params: RBFParams, x: jax.Array) -> jax.Array:
    h = gaussian_activations(x, params.centers, params.widths)
    out = jnp.dot(h, params.weights, precision=jax.lax.Precision.HIGHEST)
    return out + params.bias[None, :]


def rbf_classify(params: RBFParams, x: jax.Array) -> jax.Array:
    """Class labels ``argmax_k f_k(x)``: ``(n, d) -> (n,)`` int32."""
    return jnp.argmax(rbf_predict(params, x), axis=1).astype(jnp.int32)


def rbf_widths(centers: jax.Array, method="global", factor: float = 1.0):
    """Widths of the Gaussian units from the centres (step 2 of two-stage).

    Args:
      centers: ``(M, d)`` centres, ``M >= 2`` for the heuristics.
      method: ``"global"``: every ``sigma_j = factor * d_max / sqrt(2M)`` with
        ``d_max`` the largest distance between two centres (Haykin 2009),
        so that the units neither peak too sharply nor flatten out;
        ``"nearest"``: ``sigma_j = factor * min_{i != j} ||c_i - c_j||``
        (Moody & Darken 1989's nearest-neighbour heuristic);
        a positive number: ``sigma_j = factor * method`` for every unit.
      factor: multiplier of the heuristic, tuned on validation data.

    Returns:
      ``(M,)`` widths.
    """
    m = centers.shape[0]
    if not isinstance(method, str):
        return jnp.full((m,), float(method) * factor, centers.dtype)
    distance = jnp.sqrt(squared_distances(centers, centers))
    if method == "global":
        sigma = jnp.max(distance) / jnp.sqrt(2.0 * m)
        return jnp.full((m,), factor, centers.dtype) * sigma
    others = jnp.where(jnp.eye(m, dtype=bool), jnp.inf, distance)
    return factor * jnp.min(others, axis=1)


def ridge_weights(h: jax.Array, y: jax.Array, ridge: float):
    r"""Output layer by regularised least squares, in closed form.

    Minimises ``||H W + 1 b^T - Y||^2 + ridge ||W||_F^2`` (the bias is not
    penalised, as in scikit-learn's ``Ridge(alpha=ridge)``): with the centred
    ``H_c = H - mean(H)`` and ``Y_c = Y - mean(Y)``,

    .. math:: W = (H_c^\top H_c + \lambda I)^{-1} H_c^\top Y_c,\quad
              b = \bar y - W^\top \bar h .

    ``ridge = 0`` is the least-squares (pseudo-inverse) solution of
    Broomhead & Lowe (1988), computed by ``jnp.linalg.lstsq``.

    Args:
      h: ``(n, M)`` hidden activations.
      y: ``(n, c)`` targets.
      ridge: ``lambda >= 0``.

    Returns:
      ``(W (M, c), b (c,))``.
    """
    h_mean, y_mean = jnp.mean(h, axis=0), jnp.mean(y, axis=0)
    hc, yc = h - h_mean[None, :], y - y_mean[None, :]
    if ridge == 0:
        weights = jnp.linalg.lstsq(hc, yc)[0]
    else:
        hi, eye = jax.lax.Precision.HIGHEST, jnp.eye(h.shape[1], dtype=h.dtype)
        gram = jnp.dot(hc.T, hc, precision=hi) + ridge * eye
        weights = jnp.linalg.solve(gram, jnp.dot(hc.T, yc, precision=hi))
    return weights, y_mean - jnp.dot(h_mean, weights)


class LMSState(NamedTuple):
    """State of :func:`lms_learner`: the output layer ``W (M, c)``, ``b (c,)``."""

    weights: jax.Array
    bias: jax.Array


def lms_learner(
    centers: jax.Array,
    widths: jax.Array,
    n_outputs: int,
    *,
    learning_rate: float = 0.5,
    normalized: bool = True,
) -> Learner:
    r"""Output weights by the LMS rule (Widrow & Hoff 1960), hidden layer fixed.

    For each example (train with ``batch_size=1`` for the online rule),

    .. math:: e = y - f(x),\quad W \leftarrow W + \eta\, \phi(x) e^\top,
              \quad b \leftarrow b + \eta\, e,

    with ``eta = learning_rate / (1 + ||phi(x)||^2)`` when ``normalized``
    (normalised LMS: stable for ``0 < learning_rate < 2`` whatever ``M``), else
    ``eta = learning_rate``. A batch of ``B`` examples averages the ``B``
    updates. Weights start at zero.

    Args:
      centers: ``(M, d)`` fixed centres.
      widths: ``(M,)`` fixed widths.
      n_outputs: ``c``, the number of outputs.
      learning_rate: step size ``eta``, in ``(0, 2)`` when ``normalized``.
      normalized: divide the step by ``1 + ||phi(x)||^2``.

    Returns:
      A :class:`jnn.train.Learner` on batches ``{"x": (B, d), "y": (B, c)}``
      with state :class:`LMSState`; metric ``loss`` is the mean squared error
      before the step (the a-priori error), ``evaluate`` the MSE on data.
    """
    check_positive_int(n_outputs, "n_outputs")
    if normalized:  # the normalised rule is stable exactly for 0 < eta < 2
        check_interval(learning_rate, "learning_rate", 0.0, 2.0, closed=False)
    else:
        check_positive_float(learning_rate, "learning_rate")

    def init(key, batch) -> LMSState:
        zeros = jnp.zeros((centers.shape[0] + 1, n_outputs), centers.dtype)
        return LMSState(zeros[:-1], zeros[-1])

    def outputs(state: LMSState, x):  # (hidden, f(x))
        h = gaussian_activations(x, centers, widths)
        return h, jnp.dot(h, state.weights) + state.bias[None, :]

    def update(state: LMSState, batch, key):
        h, pred = outputs(state, batch["x"])
        error = batch["y"] - pred  # (B, c)
        step = jnp.full((h.shape[0], 1), learning_rate, h.dtype)
        if normalized:
            step = step / (1.0 + jnp.sum(h * h, axis=1, keepdims=True))
        scaled = step * error / h.shape[0]
        new = LMSState(state.weights + h.T @ scaled, state.bias + scaled.sum(0))
        return new, {"loss": jnp.mean(error**2)}

    def evaluate(state: LMSState, data):
        return {"loss": jnp.mean((data["y"] - outputs(state, data["x"])[1]) ** 2)}

    return Learner(init, update, evaluate)


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
    if not isinstance(width, str):
        check_positive_float(width, "width")
    elif width not in WIDTHS or n_centers < 2:
        raise ValueError(
            f"`width` must be one of {WIDTHS} (with n_centers >= 2) or a positive "
            f"number; got {width!r} with n_centers={n_centers}."
        )
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
            "another's (`x` has repeated rows?). Use centers='kmeans', fewer "
            "`n_centers` or a numeric `width`."
        )


def rbf_fit(
    x,
    y,
    *,
    key: jax.Array,
    n_centers: int,
    centers: str = "kmeans",
    width="global",
    width_factor: float = 1.0,
    solver: str = "ridge",
    ridge: float = 1e-3,
    n_outputs: int | None = None,
    lms_epochs: int = 20,
    lms_learning_rate: float = 0.5,
) -> RBFParams:
    """Two-stage training of a Gaussian RBF network (Moody & Darken 1989).

    Args:
      x: ``(n, d)`` float inputs.
      y: ``(n,)`` int class labels (one-hot targets) or ``(n,)`` / ``(n, c)``
        float regression targets.
      key: PRNG key (k-means seeding or the random subset; LMS shuffling).
      n_centers: ``M`` hidden units, at most ``n``.
      centers: ``"kmeans"`` (one k-means++ run of :func:`kmeans_fit`) or
        ``"random"`` (``M`` distinct training points, Broomhead & Lowe 1988).
      width: ``"global"``, ``"nearest"`` or a number, see :func:`rbf_widths`.
      width_factor: multiplier of the width.
      solver: ``"ridge"`` (closed form, :func:`ridge_weights`) or ``"lms"``
        (online LMS, :func:`lms_learner`, one example per step).
      ridge: ``lambda`` of the ridge solver (0: plain least squares).
      n_outputs: number of classes when ``y`` holds labels (default: max + 1;
        must exceed every label); for float targets None or their columns.
      lms_epochs: passes over the data of the LMS solver.
      lms_learning_rate: normalised LMS step size, in ``(0, 2)``.

    Returns:
      The fitted :class:`RBFParams`.

    Raises:
      ValueError, TypeError: invalid data or settings (named in the message),
        e.g. a label outside ``[0, n_outputs)``, a NaN ``ridge``, or centres
        that coincide (a zero width).

    Example:
      >>> import jax, numpy as np
      >>> x = np.linspace(-3, 3, 200, dtype=np.float32)[:, None]
      >>> p = rbf_fit(x, np.sin(x), key=jax.random.key(0), n_centers=12)
      >>> bool(np.abs(rbf_predict(p, x) - np.sin(x)).max() < 0.05)
      True
    """
    _check_fit_args(x, n_centers, width, width_factor, solver, ridge)
    n_outputs = _check_targets(y, x.shape[0], n_outputs)
    check_key(key)
    if centers not in ("kmeans", "random"):
        raise ValueError(f"`centers` must be 'kmeans' or 'random'; got {centers!r}.")
    check_positive_int(lms_epochs, "lms_epochs")
    check_interval(lms_learning_rate, "lms_learning_rate", 0.0, 2.0, closed=False)
    targets, x = _targets(y, n_outputs), jnp.asarray(x)
    center_key, lms_key = jax.random.split(key)
    if centers == "kmeans":
        c = kmeans_fit(x, n_centers, key=center_key, n_init=1).centers
    else:
        rows = jax.random.choice(center_key, x.shape[0], (n_centers,), replace=False)
        c = x[rows]
    sigma = _widths(c, width, float(width_factor))
    _check_widths(sigma, width, n_centers)
    if solver == "ridge":
        return _ridge_network(x, targets, c, sigma, float(ridge))
    learner = lms_learner(c, sigma, targets.shape[1], learning_rate=lms_learning_rate)
    data = {"x": x, "y": targets}
    kw = dict(key=lms_key, epochs=lms_epochs, batch_size=1, progress=False)
    state = fit(learner, data, **kw).state
    return RBFParams(c, sigma, state.weights, state.bias)


_widths = jax.jit(rbf_widths, static_argnums=(1, 2))


@functools.partial(jax.jit, static_argnums=4)
def _ridge_network(x, targets, centers, sigma, ridge: float):
    """Stage 3 (the ridge output layer) as one compiled call."""
    h = gaussian_activations(x, centers, sigma)
    return RBFParams(centers, sigma, *ridge_weights(h, targets, ridge))


class RBFLayer(nn.Module):
    """Gaussian units ``x (n, d) -> phi (n, M)``: params centers, log_widths."""

    n_centers: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Map ``x: (n, d)`` to the activations ``(n, n_centers)``."""
        shape = (self.n_centers, x.shape[-1])
        centers = self.param("centers", nn.initializers.normal(1.0), shape)
        log_widths = self.param("log_widths", nn.initializers.zeros, (shape[0],))
        return gaussian_activations(x, centers, jnp.exp(log_widths))


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


def rbf_net_params(params: RBFParams) -> dict:
    """The Flax ``params`` of :class:`RBFNet` holding ``params``."""
    return {
        "rbf": {"centers": params.centers, "log_widths": jnp.log(params.widths)},
        "output": {"kernel": params.weights, "bias": params.bias},
    }


def rbf_from_net(net_params: dict) -> RBFParams:
    """:class:`RBFParams` from the Flax ``params`` of :class:`RBFNet`."""
    rbf, out = net_params["rbf"], net_params["output"]
    return RBFParams(
        rbf["centers"], jnp.exp(rbf["log_widths"]), out["kernel"], out["bias"]
    )


def rbf_gradient_learner(
    params: RBFParams,
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

    Returns:
      ``(learner, model)``; ``rbf_from_net(state.params)`` reads the result.
    """
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
