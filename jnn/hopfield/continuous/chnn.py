r"""The continuous Hopfield network (CHNN, curriculum D3): energy first.

Hopfield (1984) models N analogue neurons with internal states ``u`` and
outputs ``v = g(gain * u)``:

.. math:: \frac{du_i}{dt} = -\frac{u_i}{\tau} + \sum_j W_{ij} v_j + I_i

with W symmetric and ``W_ii = 0``. The energy

.. math:: E(v) = -\tfrac12 v^\top W v - I^\top v
          + \frac{1}{\tau}\sum_i \int_{g(0)}^{v_i} g_\lambda^{-1}(s)\,ds,
          \qquad g_\lambda^{-1}(s) = g^{-1}(s)/\lambda

satisfies ``dE/dv_i = -du_i/dt``, hence
``dE/dt = -sum_i g'(u_i) (du_i/dt)^2 <= 0``: E is a Lyapunov function and
every trajectory settles at an equilibrium (D2, D3). The integral term has a
closed form for both activations:

* sigmoid, ``v = 1 / (1 + exp(-gain u))``:
  ``(v ln v + (1-v) ln(1-v) + ln 2) / gain``;
* tanh, ``v = tanh(gain u)``:
  ``((1+v) ln(1+v) + (1-v) ln(1-v)) / (2 gain)``.

A *network* here is any pytree with fields ``tau``, ``gain``, ``activation``
and two methods, ``synaptic_input(v) -> W v + I`` and
``interaction_energy(v) -> -v^T W v / 2 - I^T v``. :class:`CHNN` stores a dense
W; structured networks (the TSP network of :mod:`jnn.hopfield.problems.tsp`) apply W
through its structure instead of materialising it. :func:`energy`,
:func:`vector_field` and :func:`simulate` work for all of them.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from flax import struct

from jnn._checks import check_array, check_positive_int, is_concrete

ACTIVATIONS = ("sigmoid", "tanh")


@struct.dataclass
class CHNN:
    """Parameters of a continuous Hopfield network with a dense weight matrix.

    Attributes:
      weights: (N, N) float, symmetric with zero diagonal.
      bias: (N,) float, the external input currents I.
      tau: [] float > 0, the time constant (R C in the circuit).
      gain: [] float > 0, the amplifier gain lambda in ``v = g(gain u)``.
      activation: ``"sigmoid"`` (outputs in (0, 1)) or ``"tanh"`` ((-1, 1));
        static, not a pytree leaf.
    """

    weights: jax.Array
    bias: jax.Array
    tau: jax.Array
    gain: jax.Array
    activation: str = struct.field(pytree_node=False, default="sigmoid")

    def synaptic_input(self, v: jax.Array) -> jax.Array:
        """``W v + I``: (N,) outputs -> (N,) input currents."""
        return self.weights @ v + self.bias

    def interaction_energy(self, v: jax.Array) -> jax.Array:
        """``-v^T W v / 2 - I^T v`` for outputs ``v`` (N,)."""
        return -0.5 * v @ (self.weights @ v) - self.bias @ v


def chnn(
    weights: Any,
    bias: Any = None,
    *,
    tau: float = 1.0,
    gain: float = 1.0,
    activation: str = "sigmoid",
    check: bool = True,
) -> CHNN:
    """Build validated :class:`CHNN` parameters.

    Args:
      weights: (N, N) weight matrix.
      bias: (N,) external inputs; zeros when None.
      tau: time constant, > 0.
      gain: amplifier gain, > 0.
      activation: ``"sigmoid"`` or ``"tanh"``.
      check: require W symmetric with a zero diagonal (the conditions of the
        Lyapunov theorem); ``check=False`` allows any square W, e.g. to show
        with :func:`jnn.hopfield.lyapunov_check` that the energy can rise.

    Returns:
      The :class:`CHNN` (float32 unless x64 is enabled and inputs are float64).

    Raises:
      ValueError: W not square, asymmetric or with a non-zero diagonal (when
        ``check``), bias of the wrong shape, tau or gain not positive, an
        unknown activation.
    """
    w = _float_array(weights, "weights", ndim=2)
    n = w.shape[0]
    if w.shape != (n, n):
        raise ValueError(f"weights must be a square (N, N) matrix, got {w.shape}")
    if check and is_concrete(w):
        wn = np.asarray(w, dtype=np.float64)
        scale = max(float(np.max(np.abs(wn))), 1e-30)
        if np.max(np.abs(wn - wn.T)) > 1e-6 * scale:
            raise ValueError(
                "weights must be symmetric for the energy to be a Lyapunov function "
                "(pass check=False to study an asymmetric network)"
            )
        if np.max(np.abs(np.diag(wn))) > 1e-6 * scale:
            raise ValueError(
                "weights must have a zero diagonal (no self-feedback, W_ii = 0); "
                "pass check=False to allow it"
            )
    if bias is None:
        b = jnp.zeros((n,), w.dtype)
    else:
        b = _float_array(bias, "bias", ndim=1)
        if b.shape != (n,):
            raise ValueError(f"bias must have shape ({n},), got {b.shape}")
    for name, value in (("tau", tau), ("gain", gain)):
        _check_rate(value, name)
    check_activation(activation)
    dtype = w.dtype
    return CHNN(
        weights=w,
        bias=b.astype(dtype),
        tau=jnp.asarray(tau, dtype),
        gain=jnp.asarray(gain, dtype),
        activation=activation,
    )


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


#: What a network of the protocol (module docstring) must have.
PROTOCOL = ("tau", "gain", "activation", "synaptic_input", "interaction_energy")


def check_network(params: Any, name: str = "params") -> None:
    """Raise a ``TypeError`` unless ``params`` follows the network protocol.

    A :class:`CHNN` (from :func:`chnn`), a TSP network, or any object with
    ``tau``, ``gain``, ``activation``, ``synaptic_input`` and
    ``interaction_energy``. Only attributes are read (works on traced
    networks).
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


def output(params: Any, u: jax.Array) -> jax.Array:
    """Neuron outputs ``v = g(gain u)``, same shape as ``u`` (any shape)."""
    check_network(params)
    check_array(u, "u", kind="n")
    return _output(params, u)


def _output(params: Any, u: jax.Array) -> jax.Array:
    x = params.gain * u
    return jax.nn.sigmoid(x) if params.activation == "sigmoid" else jnp.tanh(x)


def state_from_output(params: Any, v: jax.Array) -> jax.Array:
    """The inverse of :func:`output`: ``u = g^-1(v) / gain`` (any shape).

    Raises:
      ValueError: (when ``v`` is concrete) an output outside the activation's
        range, [0, 1] for sigmoid, [-1, 1] for tanh.
    """
    check_network(params)
    check_array(v, "v", kind="n")
    _check_outputs(params, v)
    if params.activation == "sigmoid":
        return (jnp.log(v) - jnp.log1p(-v)) / params.gain
    return jnp.arctanh(v) / params.gain


def leak_integral(params: Any, v: jax.Array) -> jax.Array:
    """``sum_i int_{g(0)}^{v_i} g^-1(s) / gain ds`` in closed form, a scalar.

    Finite on the closed range of g (0 log 0 = 0), so saturated outputs are
    fine.

    Raises:
      ValueError: (when ``v`` is concrete) an output outside the activation's
        range, [0, 1] for sigmoid, [-1, 1] for tanh, or of another shape
        than the network's state.
    """
    check_network(params)
    _check_state(params, v, "v")
    _check_outputs(params, v)
    return _leak_integral(params, v)


def _leak_integral(params: Any, v: jax.Array) -> jax.Array:
    if params.activation == "sigmoid":
        per_unit = jax.scipy.special.xlogy(v, v) + jax.scipy.special.xlogy(1 - v, 1 - v)
        per_unit = per_unit + math.log(2.0)
    else:
        per_unit = 0.5 * (
            jax.scipy.special.xlogy(1 + v, 1 + v)
            + jax.scipy.special.xlogy(1 - v, 1 - v)
        )
    return jnp.sum(per_unit) / params.gain


def energy(params: Any, v: jax.Array) -> jax.Array:
    """The Hopfield (1984) energy of outputs ``v`` (N,), a scalar.

    ``E(v) = -v^T W v / 2 - I^T v + leak_integral(v) / tau`` (module docstring).
    For internal states ``u`` use ``energy(params, output(params, u))``.

    Raises:
      ValueError: (when ``v`` is concrete) an output outside the activation's
        range, [0, 1] for sigmoid, [-1, 1] for tanh, where the leak integral
        is undefined; ``v`` of another shape than the network's state.
      TypeError: ``params`` is not a network, ``v`` not a numeric array.
    """
    check_network(params)
    _check_state(params, v, "v")
    _check_outputs(params, v)
    return params.interaction_energy(v) + _leak_integral(params, v) / params.tau


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


def vector_field(t: Any, u: jax.Array, params: Any) -> jax.Array:
    """``du/dt = -u / tau + W g(gain u) + I``; Diffrax's ``(t, y, args)`` order.

    Args:
      t: time (unused: the network is autonomous).
      u: (N,) internal states (or whatever shape the network uses).
      params: the network (:class:`CHNN` or a structured one).

    Returns:
      du/dt, same shape as ``u``.

    Raises:
      TypeError: ``params`` is not a network, ``u`` not a numeric array.
      ValueError: ``u`` not of the network's state shape, or (when concrete)
        not finite.
    """
    del t
    check_network(params)
    _check_state(params, u, "u")
    return -u / params.tau + params.synaptic_input(_output(params, u))


def simulate(
    params: Any,
    u0: Any,
    *,
    t1: float,
    t0: float = 0.0,
    dt0: float | None = None,
    solver: diffrax.AbstractSolver | None = None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    saveat: diffrax.SaveAt | None = None,
    until_steady: bool = True,
    steady_rtol: float | None = None,
    steady_atol: float | None = None,
    max_steps: int | None = 4096,
    throw: bool = False,
) -> diffrax.Solution:
    """Integrate the CHNN from internal state ``u0`` with Diffrax.

    One state in, one solution out: ``jax.vmap(lambda u: simulate(p, u,
    t1=10.0))(u0s)`` runs many starts in one compiled call, and vmapping over
    ``params`` as well runs many networks.

    Args:
      params: the network (:class:`CHNN` or any object following the protocol
        of the module docstring).
      u0: (N,) initial internal states.
      t1: end time; the solve stops earlier at a steady state when
        ``until_steady``.
      t0: start time.
      dt0: initial (adaptive) or fixed (constant step size) step; required for
        a non-adaptive controller, e.g. Euler with ``dt0=0.01`` is the
        textbook's discrete-time network ``u <- u + dt f(u)``.
      solver: any Diffrax solver, passed through unchanged; default
        ``diffrax.Tsit5()``. Use ``diffrax.Kvaerno5()`` for stiff, high-gain
        networks.
      stepsize_controller: default ``diffrax.PIDController(rtol=1e-3,
        atol=1e-6)``; ``diffrax.ConstantStepSize()`` for fixed steps.
      saveat: what to save; default the final state only (``SaveAt(t1=True)``).
        ``SaveAt(ts=...)`` or ``SaveAt(steps=True)`` give trajectories.
      until_steady: stop at equilibrium with Diffrax's steady-state event,
        ``||du/dt|| < atol + rtol ||u||``.
      steady_rtol: relative tolerance of that event; default the adaptive
        controller's, else 1e-3.
      steady_atol: its absolute tolerance; default the controller's, else 1e-6.
      max_steps: Diffrax's step budget.
      throw: raise when the solve fails (max_steps reached) instead of
        reporting it in ``solution.result``; keep False under ``vmap``.

    Returns:
      The ``diffrax.Solution``: ``ts``, ``ys`` (internal states u),
      ``stats["num_steps"]``, ``result``; ``event_mask`` is True when a steady
      state stopped the solve (see :func:`reached_steady_state`).

    Raises:
      ValueError: ``u0`` of the wrong shape or non-finite, ``t1 <= t0`` or a
        non-finite time, ``dt0 <= 0``, ``max_steps <= 0``, negative steady
        tolerances, a constant step size without ``dt0``, and (when concrete)
        a network whose ``tau`` or ``gain`` is not finite and > 0 (e.g. set
        with ``.replace``).
      TypeError: a ``solver``, ``stepsize_controller`` or ``saveat`` that is
        not the Diffrax object it names.

    Example:
      Two mutually exciting tanh neurons settle with both outputs at +1:

      >>> import jax.numpy as jnp
      >>> p = chnn(jnp.array([[0.0, 2.0], [2.0, 0.0]]), activation="tanh", gain=2.0)
      >>> sol = simulate(p, jnp.array([0.3, -0.1]), t1=100.0)
      >>> output(p, final_state(sol)).round(2).tolist(), bool(reached_steady_state(sol))
      ([1.0, 1.0], True)
    """
    check_network(params)
    shape = _state_shape(params)
    u0 = _float_array(u0, "u0", ndim=len(shape))
    if u0.shape != shape:
        raise ValueError(f"u0 must have shape {shape} (the network's), got {u0.shape}")
    _check_solve_args(
        params,
        t0=t0,
        t1=t1,
        solver=solver,
        saveat=saveat,
        max_steps=max_steps,
        stepsize_controller=stepsize_controller,
    )
    if dt0 is not None:
        _check_number(dt0, "dt0", low=0.0, strict=True)
    for name, value in (("steady_rtol", steady_rtol), ("steady_atol", steady_atol)):
        if value is not None:
            _check_number(value, name, low=0.0, strict=False)
    solver = diffrax.Tsit5() if solver is None else solver
    if stepsize_controller is None:
        stepsize_controller = diffrax.PIDController(rtol=1e-3, atol=1e-6)
    adaptive = isinstance(
        stepsize_controller, diffrax.AbstractAdaptiveStepSizeController
    )
    if not adaptive and dt0 is None:
        raise ValueError("dt0 is required with a non-adaptive stepsize_controller")
    event = None
    if until_steady:
        norm = None
        if not adaptive:
            steady_rtol = 1e-3 if steady_rtol is None else steady_rtol
            steady_atol = 1e-6 if steady_atol is None else steady_atol
            norm = optx.rms_norm
        event = _steady_event(steady_rtol, steady_atol, norm)
    return diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field),
        solver,
        t0=t0,
        t1=t1,
        dt0=dt0,
        y0=u0.astype(jnp.result_type(params.tau)),
        args=params,
        saveat=diffrax.SaveAt(t1=True) if saveat is None else saveat,
        stepsize_controller=stepsize_controller,
        event=event,
        max_steps=max_steps,
        throw=throw,
    )


@functools.lru_cache(maxsize=64)
def _cached_steady_event(rtol, atol, norm) -> diffrax.Event:
    return diffrax.Event(diffrax.steady_state_event(rtol, atol, norm=norm))


def _steady_event(rtol: Any, atol: Any, norm: Any) -> diffrax.Event:
    """Diffrax's steady-state event, one object per tolerance setting.

    ``steady_state_event`` returns a new closure on every call, and Diffrax's
    compiled solve is cached on the event's identity: reusing the object lets
    repeated (un-jitted) ``simulate`` calls skip recompilation.
    """
    try:
        return _cached_steady_event(rtol, atol, norm)
    except TypeError:  # unhashable (array) tolerances: build a fresh event
        return diffrax.Event(diffrax.steady_state_event(rtol, atol, norm=norm))


def _check_solution(solution: Any) -> None:
    if not isinstance(solution, diffrax.Solution):
        raise TypeError(
            "`solution` must be a diffrax.Solution (from simulate or "
            f"simulate_ensemble); got {type(solution).__name__}."
        )


def reached_steady_state(solution: diffrax.Solution) -> jax.Array:
    """True where the steady-state event ended the solve ([] or batched)."""
    _check_solution(solution)
    mask = solution.event_mask
    if mask is None:
        return jnp.zeros(jnp.shape(solution.result._value), bool)
    return jnp.asarray(mask)


def final_state(solution: diffrax.Solution) -> jax.Array:
    """The internal state at the end of the solve: the last saved ``ys``.

    Works for any state shape ((N,) for :class:`CHNN`, (n, n) for the TSP
    network) and for batched solutions: the save axis is the last axis of
    ``solution.ts``, so a ``vmap``-ped solution ``(B, saves, *S)`` gives
    ``(B, *S)`` and a :func:`jnn.hopfield.simulate_ensemble` solution
    ``(saves, B, *S)`` gives ``(B, *S)``. Slots that a solve stopped early
    left unfilled (``ts = inf``, e.g. ``SaveAt(ts=...)`` or
    ``SaveAt(steps=True)`` with a steady-state event) are skipped.

    Raises:
      ValueError: the solution saved no states (``ys`` is None).
    """
    _check_solution(solution)
    ys, ts = solution.ys, solution.ts
    if ys is None or ts is None:
        raise ValueError(
            "`solution` saved no states (ys is None); solve with a saveat that "
            "saves t1, ts or steps."
        )
    axis = ts.ndim - 1
    last = jnp.maximum(jnp.sum(jnp.isfinite(ts), axis=-1) - 1, 0)  # ts.shape[:-1]
    index = jnp.reshape(last, (*ts.shape[:-1], 1) + (1,) * (ys.ndim - ts.ndim))
    return jnp.squeeze(jnp.take_along_axis(ys, index, axis=axis), axis=axis)


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
    """Boundary checks shared by :func:`simulate` and ``simulate_ensemble``.

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
