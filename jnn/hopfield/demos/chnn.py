"""Demos of the continuous Hopfield network (D2-D4, D7) for ``jnn run``.

``chnn-energy``: one random symmetric network integrated by five Diffrax
solvers (Euler, Heun, Tsit5, Dopri5, Kvaerno5): the energy falls along every
solver's steps, each solver needs a different number of steps; beside it
:func:`jnn.hopfield.lyapunov_check` along a trajectory of the same network and
of an asymmetric one, where dE/dt turns positive.

``chnn-fault-tolerance``: a Hebbian memory of N = 100 units and M = 10
patterns; the fraction of noisy starts (a fraction of signs flipped) that
reach the clean start's attractor (the clean start being the pattern), for the
analogue network (tanh, gains 2 and 10) and for discrete asynchronous recall
on the same W and the same probes; the legend gives the overlap of the clean
attractor with the stored pattern (at low gain it is a nearby analogue state).
"""

from __future__ import annotations

from pathlib import Path

import diffrax
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from jnn import plotting
from jnn.demos import DemoConfig, DemoResult, register
from jnn.hopfield.continuous.chnn import chnn, energy, output
from jnn.hopfield.continuous.lyapunov import chnn_lyapunov, lyapunov_check
from jnn.hopfield.continuous.robustness import fault_tolerance
from jnn.hopfield.continuous.simulation import simulate
from jnn.hopfield.discrete.dhnn import recall
from jnn.hopfield.discrete.rules import hebbian

SOLVERS = {
    "Euler (dt 0.05)": (diffrax.Euler(), 0.05),
    "Heun": (diffrax.Heun(), None),
    "Tsit5": (diffrax.Tsit5(), None),
    "Dopri5": (diffrax.Dopri5(), None),
    "Kvaerno5": (diffrax.Kvaerno5(), None),
}


def random_network(seed: int, n: int, *, gain: float, symmetric: bool = True):
    """A sigmoid CHNN with N(0, 1/n) weights (symmetrised or not), N(0, 1) bias."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) / np.sqrt(n)
    w = (a + a.T) / np.sqrt(2) if symmetric else 2 * a
    np.fill_diagonal(w, 0.0)
    bias = rng.normal(size=n).astype(np.float32)
    return chnn(w.astype(np.float32), bias, gain=gain, check=symmetric)


def energy_along_steps(params, u0, solver, dt0, t1: float):
    """(ts, energies, steps) at every step a solver takes from ``u0`` to ``t1``."""
    controller = (
        diffrax.ConstantStepSize()
        if dt0 is not None
        else diffrax.PIDController(rtol=1e-4, atol=1e-6)
    )
    sol = simulate(
        params,
        u0,
        t1=t1,
        dt0=dt0,
        solver=solver,
        stepsize_controller=controller,
        saveat=diffrax.SaveAt(t0=True, steps=True),
        until_steady=False,
    )
    keep = np.isfinite(np.asarray(sol.ts))  # steps=True pads with inf
    ys = sol.ys[keep]
    energies = jax.vmap(lambda u: energy(params, output(params, u)))(ys)
    return np.asarray(sol.ts)[keep], np.asarray(energies), int(sol.stats["num_steps"])


def solver_study(seed: int, n: int, t1: float, names) -> dict:
    """Energy along the steps of each named solver on one network."""
    params = random_network(seed, n, gain=4.0)
    u0 = jnp.asarray(np.random.default_rng(seed + 1).normal(size=n), jnp.float32)
    return {
        name: energy_along_steps(params, u0, *SOLVERS[name], t1=t1) for name in names
    }


def rate_study(seed: int, n: int, t1: float) -> dict:
    """Lyapunov reports along trajectories: symmetric vs asymmetric W."""
    out = {}
    for label, symmetric in (("symmetric W", True), ("asymmetric W", False)):
        params = random_network(seed, n, gain=4.0, symmetric=symmetric)
        u0 = jnp.asarray(np.random.default_rng(seed + 2).normal(size=n), jnp.float32)
        ts = jnp.linspace(0.0, t1, 201)
        sol = simulate(
            params, u0, t1=t1, saveat=diffrax.SaveAt(ts=ts), until_steady=False
        )
        out[label] = (np.asarray(ts), lyapunov_check(*chnn_lyapunov(params), sol.ys))
    return out


def plot_energy(curves: dict, rates: dict, path: Path) -> Path:
    """Left: energy vs time per solver; right: dE/dt along two trajectories."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, (ts, energies, steps) in curves.items():
        left.plot(ts, energies, marker=".", markersize=4, label=f"{name}: {steps}")
    left.set(
        xlabel="t", ylabel="energy E(v)", title="Energy along solver steps (steps)"
    )
    left.set_xscale("symlog", linthresh=0.1)
    left.legend(fontsize=8)
    for label, (ts, report) in rates.items():
        right.plot(ts, np.asarray(report.rates), label=label)
    right.axhline(0.0, color="gray", linestyle="--")
    right.set(xlabel="t", ylabel="dE/dt = grad E . f", title="Lyapunov check")
    right.set_yscale("symlog", linthresh=1e-3)
    right.legend(fontsize=8)
    return plotting.save(fig, path)


@register("chnn-energy", "D3", "CHNN energy vs time for five Diffrax solvers")
def chnn_energy(config: DemoConfig) -> DemoResult:
    """Energy along the steps of Euler, Heun, Tsit5, Dopri5 and Kvaerno5."""
    n, t1 = (10, 5.0) if config.smoke else (50, 20.0)
    names = ["Euler (dt 0.05)", "Tsit5"] if config.smoke else list(SOLVERS)
    curves = solver_study(config.seed, n, t1, names)
    rates = rate_study(config.seed, n, t1)
    path = plot_energy(curves, rates, config.out / "chnn_energy.png")
    rise = max(float(np.max(np.diff(e))) for _, e, _ in curves.values())
    steps = ", ".join(f"{k} {s}" for k, (_, _, s) in curves.items())
    sym, asym = rates["symmetric W"][1], rates["asymmetric W"][1]
    return DemoResult(
        f"random symmetric sigmoid CHNN, N = {n}, gain 4",
        "largest energy change between consecutive solver steps (<= 0: never rises)",
        rise,
        (path,),
        f"steps to t = {t1:g}: {steps}. Lyapunov check: symmetric W "
        f"{100 * float(sym.fraction_violated):.0f}% of trajectory states violate "
        f"(max dE/dt {float(sym.max_rate):.2e}); asymmetric W "
        f"{100 * float(asym.fraction_violated):.0f}% "
        f"(max dE/dt {float(asym.max_rate):.2e}).",
    )


def memory(seed: int, n: int, m: int) -> np.ndarray:
    """(m, n) random ±1 patterns."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random((m, n)) < 0.5, 1.0, -1.0).astype(np.float32)


def discrete_fraction(weights, starts, pattern, key) -> np.ndarray:
    """(L,) fraction of sign(starts) that async recall brings back to ``pattern``."""
    probes = jnp.sign(starts).reshape(-1, starts.shape[-1])
    keys = jax.random.split(key, probes.shape[0])
    final = jax.vmap(lambda s, k: recall(weights, s, order="random", key=k).state)(
        probes, keys
    )
    ok = jnp.all(final == pattern[None, :], axis=1).reshape(starts.shape[:2])
    return np.asarray(jnp.mean(ok, axis=1))


def tolerance_study(seed, n, m, levels, trials, gains, cues) -> dict:
    """Mean fraction per level: CHNN at each gain, and discrete recall (D7).

    The clean start is the stored pattern itself, ``u = xi``. Returns
    ``{name: (fractions (L,), mean overlap of the clean attractor with xi)}``.
    """
    patterns = memory(seed, n, m)
    weights = hebbian(patterns)
    key = jax.random.key(seed)
    out = {f"CHNN tanh, gain {g:g}": ([], []) for g in gains}
    out["discrete async"] = ([], [])
    for c in range(cues):
        k = jax.random.fold_in(key, c)
        for g in gains:
            params = chnn(weights, gain=g, activation="tanh")
            r = fault_tolerance(params, patterns[c], levels, key=k, trials=trials)
            fractions, overlaps = out[f"CHNN tanh, gain {g:g}"]
            fractions.append(np.asarray(r.fraction))
            overlaps.append(float(np.sign(r.clean_final) @ patterns[c]) / n)
        key_d = jax.random.fold_in(k, 1)
        out["discrete async"][0].append(
            discrete_fraction(weights, r.starts, patterns[c], key_d)
        )
        out["discrete async"][1].append(1.0)  # the target is the pattern itself
    return {name: (np.mean(f, axis=0), np.mean(o)) for name, (f, o) in out.items()}


@register("chnn-fault-tolerance", "D4", "noisy starts reach the clean attractor")
def chnn_fault_tolerance(config: DemoConfig) -> DemoResult:
    """Fraction of noisy starts reaching the clean attractor vs noise (D4, D7)."""
    n, m = 100, 10
    levels = np.linspace(0.0, 0.5, 6 if config.smoke else 11)
    trials, cues = (8, 1) if config.smoke else (32, 3)
    curves = tolerance_study(config.seed, n, m, levels, trials, (2.0, 10.0), cues)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (fraction, overlap) in curves.items():
        label = f"{name} (clean attractor overlap {overlap:.2f})"
        ax.plot(levels, fraction, marker="o", label=label)
    ax.set(
        xlabel="fraction of flipped signs in the start",
        ylabel="fraction reaching the clean attractor",
        title=f"Fault tolerance, Hebbian N = {n}, M = {m}",
    )
    ax.legend(fontsize=8)
    path = plotting.save(fig, config.out / "chnn_fault_tolerance.png")
    at = int(np.argmin(np.abs(levels - 0.2)))
    head = curves["CHNN tanh, gain 10"][0][at]
    table = "; ".join(
        f"{name} (clean overlap {o:.2f}): " + " ".join(f"{x:.2f}" for x in f)
        for name, (f, o) in curves.items()
    )
    return DemoResult(
        f"Hebbian memory, N = {n}, M = {m} random patterns",
        f"fraction reaching the clean attractor at {levels[at]:.0%} flips "
        "(CHNN, gain 10)",
        float(head),
        (path,),
        f"noise levels {' '.join(f'{x:.2f}' for x in levels)}: {table}",
    )
