"""Boundary checks of the continuous Hopfield networks (D2-D5).

The network protocol of :mod:`jnn.hopfield.continuous.chnn` (fields ``tau``,
``gain``, ``activation``, methods ``synaptic_input`` and
``interaction_energy``), states of the network's shape, outputs inside the
activation's range, positive rates, real times and the Diffrax objects a
solve takes. Types and shapes always; values only when concrete, so the
checks run before tracing and cost nothing under ``jit``.
"""

from __future__ import annotations

from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_positive_int, is_concrete

ACTIVATIONS = ("sigmoid", "tanh")


def _check_rate(value: Any, name: str) -> None:
    """``value`` (tau or gain; scalar or batched) finite and > 0, when concrete."""
    if not is_concrete(value):
        return
    if value is None or isinstance(value, bool | str):
        raise TypeError(f"{name} must be a number > 0; got {value!r}")
    try:
        x = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number > 0; got {value!r}") from None
    bad = x[~(np.isfinite(x) & (x > 0))]
    if x.size == 0 or bad.size:
        shown = bad.ravel()[0] if bad.size else "an empty array"
        raise ValueError(f"{name} must be > 0 and finite, got {shown}")


def check_activation(activation: str) -> None:
    """Raise a ValueError unless ``activation`` is one of :data:`ACTIVATIONS`."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


#: What a network of the protocol (see :mod:`jnn.hopfield.continuous.chnn`) has.
PROTOCOL = ("tau", "gain", "activation", "synaptic_input", "interaction_energy")


def check_network(params: Any, name: str = "params") -> None:
    """Raise a ``TypeError`` unless ``params`` follows the network protocol.

    A :class:`~jnn.hopfield.CHNN` (from :func:`~jnn.hopfield.chnn`), a TSP
    network, or any object with ``tau``, ``gain``, ``activation``,
    ``synaptic_input`` and ``interaction_energy``. Only attributes are read
    (works on traced networks).
    """
    missing = [field for field in PROTOCOL if not hasattr(params, field)]
    if missing:
        raise TypeError(
            f"`{name}` must be a continuous Hopfield network (e.g. chnn(W)), with "
            f"{', '.join(PROTOCOL)}; got {type(params).__name__}, which lacks "
            f"{', '.join(missing)}."
        )
    if params.activation not in ACTIVATIONS:
        raise ValueError(
            f"`{name}.activation` must be one of {ACTIVATIONS}; "
            f"got {params.activation!r}."
        )


def _check_state(params: Any, x: Any, name: str) -> None:
    """``x`` a finite float array of the network's state shape (checks only)."""
    shape = _state_shape(params)
    check_array(x, name, ndim=len(shape), kind="n")
    if tuple(x.shape) != shape:
        raise ValueError(
            f"`{name}` must have the network's state shape {shape}; "
            f"got {tuple(x.shape)}."
        )


def _check_outputs(params: Any, v: Any) -> None:
    """Outputs ``v`` inside the closed range of the activation (when concrete)."""
    if not is_concrete(v):
        return
    x = np.asarray(v)
    if x.size == 0 or not np.issubdtype(x.dtype, np.number):
        return  # shapes and dtypes are the network's business
    low = 0.0 if params.activation == "sigmoid" else -1.0
    if np.isnan(x).any():
        raise ValueError("`v` contains NaN values.")
    if x.min() < low or x.max() > 1.0:
        raise ValueError(
            f"`v` must hold outputs of the {params.activation} activation, in "
            f"[{low:g}, 1]; got values in [{x.min():.6g}, {x.max():.6g}]. "
            "For internal states u pass output(params, u)."
        )


def _check_solve_args(
    params: Any,
    *,
    t0: Any,
    t1: Any,
    solver: Any,
    saveat: Any,
    max_steps: Any,
    stepsize_controller: Any = None,
) -> None:
    """Boundary checks shared by ``simulate`` and ``simulate_ensemble``.

    Types always; values (finite times with ``t1 > t0``, the network's tau
    and gain finite and > 0) only when concrete.
    """
    check_diffrax_objects(
        solver=solver, stepsize_controller=stepsize_controller, saveat=saveat
    )
    check_positive_int(max_steps, "max_steps", allow_none=True)
    _check_number(t0, "t0")
    _check_number(t1, "t1")
    if is_concrete(t1) and is_concrete(t0) and not float(t1) > float(t0):
        raise ValueError(f"t1 must be > t0, got t0={t0}, t1={t1}")
    for field in ("tau", "gain"):
        if hasattr(params, field):
            _check_rate(getattr(params, field), f"params.{field}")


_DIFFRAX_KINDS = {
    "solver": diffrax.AbstractSolver,
    "stepsize_controller": diffrax.AbstractStepSizeController,
    "saveat": diffrax.SaveAt,
}


def check_diffrax_objects(**objects: Any) -> None:
    """Raise a ``TypeError`` unless each Diffrax object given has its type.

    ``solver``, ``stepsize_controller`` and ``saveat``: None or an instance
    of the Diffrax type the name says.
    """
    for name, value in objects.items():
        kind = _DIFFRAX_KINDS[name]
        if value is not None and not isinstance(value, kind):
            raise TypeError(
                f"`{name}` must be a diffrax.{kind.__name__} instance (or None); "
                f"got {value!r}."
            )


def _check_number(
    value: Any, name: str, *, low: float | None = None, strict: bool = True
) -> None:
    """A concrete real scalar: finite and (with ``low``) above it."""
    if not is_concrete(value):
        return
    if isinstance(value, bool | str) or np.ndim(value) != 0:
        raise TypeError(f"`{name}` must be a real number; got {value!r}.")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a real number; got {value!r}.") from None
    if not np.isfinite(x):
        raise ValueError(f"`{name}` must be finite; got {x}.")
    if low is not None and (x <= low if strict else x < low):
        relation = ">" if strict else ">="
        raise ValueError(f"`{name}` must be {relation} {low:g}; got {x}.")


def _state_shape(params: Any) -> tuple[int, ...]:
    """The state shape a network expects (``bias.shape`` unless it says)."""
    shape = getattr(params, "state_shape", None)
    if shape is not None:
        return tuple(shape)
    return tuple(params.bias.shape)


def _float_array(x: Any, name: str, *, ndim: int) -> jax.Array:
    """``x`` as a float JAX array after the public-boundary checks (finite)."""
    if isinstance(x, list | tuple):
        x = np.asarray(x)
    check_array(x, name, ndim=ndim, kind="n")
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x
