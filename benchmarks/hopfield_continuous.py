"""Benchmark: 1,000 CHNN simulations, one vmapped Diffrax call vs a SciPy loop.

Workload (issue 5): one continuous Hopfield network of N = 100 sigmoid
neurons, ``du/dt = -u + W g(u) + I`` (tau = 1, gain = 1), integrated over
t in [0, 10] from 1,000 initial states; ``until_steady=False`` so that both
sides integrate the whole interval. The network (seed 0): ``W = (A + A^T) /
sqrt(2 N)`` with ``A_ij ~ N(0, 1)`` and a zero diagonal (symmetric, entries
N(0, 1/N), spectrum about [-2, 2]), ``I ~ N(0, 1)``; starts ``u0 ~ N(0, I)``.
Since ``max g' = 1/4``, ``||W|| max g' < 1``: every start flows to the one
stable equilibrium, smoothly (about 10 steps at rtol 1e-3).

* ``jnn (Tsit5)`` / ``jnn (Dopri5)``: ``jax.jit(jax.vmap(simulate))`` over
  the 1,000 starts in ONE call, ``PIDController(rtol=1e-3, atol=1e-6)``,
  float32; ``median_s`` per call, compile time apart.
* ``jnn ens (Tsit5)`` / ``jnn ens (Dopri5)``: :func:`jnn.hopfield.simulate_ensemble`,
  the 1,000 starts as ONE ODE system with a shared step that is accepted
  only when every start's own scaled error norm is <= 1 (same rtol/atol per
  start); the field is one (1000, 100) x (100, 100) matrix product.
* ``scipy RK45``: a Python loop of ``scipy.integrate.solve_ivp(method="RK45",
  rtol=1e-3, atol=1e-6)`` (float64, Dormand-Prince 5(4) like Dopri5) on the
  first ``--subset`` starts (default 200); its ``median_s`` is extrapolated
  to the 1,000 simulations from the per-simulation time.

Reported: seconds per simulation, the speed-up (target >= 30x), mean steps
and right-hand-side evaluations per simulation (SciPy's ``nfev``; for the
FSAL six-stage Tsit5/Dopri5 ``6 steps + 2``: 2 for the initial step-size
guess; under ``vmap`` the batch runs as many steps as its slowest member,
``max_steps`` below), and the final-state agreement: max |u_jnn(10) -
u_scipy(10)| and each one's max error against a tight SciPy solve (rtol
1e-10) of the same subset (the ``quality``).

Run::

    .venv/bin/python benchmarks/hopfield_continuous.py          # ~30 s
    .venv/bin/python benchmarks/hopfield_continuous.py --smoke
"""

from __future__ import annotations

import argparse

import _harness as h
import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from scipy.integrate import solve_ivp

from jnn.hopfield import chnn, final_state, simulate, simulate_ensemble

N, T1, RTOL, ATOL = 100, 10.0, 1e-3, 1e-6
WORKLOAD = "CHNN N=100 sigmoid, t in [0, 10], 1000 starts"
QUALITY = "max |u(10) - u_ref(10)| (subset)"


def problem(sims: int, seed: int = 0):
    """W (N, N), I (N,) and starts (sims, N), float64 (documented above)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(N, N))
    w = (a + a.T) / np.sqrt(2 * N)
    np.fill_diagonal(w, 0.0)
    return w, rng.normal(size=N), rng.normal(size=(sims, N))


def numpy_field(w, b):
    def f(t, u):
        return -u + w @ (1 / (1 + np.exp(-u))) + b

    return f


def scipy_solve(w, b, starts, rtol=RTOL, atol=ATOL):
    """Final states (K, N) and per-simulation (steps, nfev) of a solve_ivp loop."""
    f = numpy_field(w, b)
    finals, steps, nfev = [], [], []
    for u0 in starts:
        sol = solve_ivp(f, (0.0, T1), u0, method="RK45", rtol=rtol, atol=atol)
        finals.append(sol.y[:, -1])
        steps.append(len(sol.t) - 1)
        nfev.append(sol.nfev)
    return np.stack(finals), np.array(steps), np.array(nfev)


def batched_simulate(params, solver):
    """One compiled call: all starts (K, N) -> final states, steps per start."""

    def one(u0):
        sol = simulate(
            params,
            u0,
            t1=T1,
            solver=solver,
            stepsize_controller=diffrax.PIDController(rtol=RTOL, atol=ATOL),
            until_steady=False,
        )
        return final_state(sol), sol.stats["num_steps"]

    return jax.jit(jax.vmap(one))


def bench_jnn(w, b, starts, reference, subset: int, solver, repeats: int) -> dict:
    params = chnn(w.astype(np.float32), b.astype(np.float32))
    fn = batched_simulate(params, solver)
    u0 = jax.device_put(jnp.asarray(starts, jnp.float32))
    t = h.time_calls(lambda i: fn(u0), repeats)
    finals, steps = (np.asarray(x) for x in t.results[0])
    name = type(solver).__name__
    return _row(
        f"jnn ({name})", t.median, len(starts), t.compile, finals, steps, reference,
        evaluations=6 * steps + 2, subset=subset,
    )  # fmt: skip


def bench_ensemble(w, b, starts, reference, subset, solver, repeats) -> dict:
    params = chnn(w.astype(np.float32), b.astype(np.float32))

    @jax.jit
    def fn(u0s):
        sol = simulate_ensemble(
            params, u0s, t1=T1, solver=solver, rtol=RTOL, atol=ATOL, until_steady=False
        )
        return sol.ys[-1], sol.stats["num_steps"]

    u0 = jax.device_put(jnp.asarray(starts, jnp.float32))
    t = h.time_calls(lambda i: fn(u0), repeats)
    finals, steps = (np.asarray(x) for x in t.results[0])
    steps = np.full(len(starts), steps)
    name = type(solver).__name__
    return _row(
        f"jnn ens ({name})", t.median, len(starts), t.compile, finals, steps,
        reference, evaluations=6 * steps + 2, subset=subset,
    )  # fmt: skip


def bench_scipy(w, b, starts, reference, repeats: int) -> dict:
    t = h.time_calls(lambda i: scipy_solve(w, b, starts), repeats, warmup=0)
    finals, steps, nfev = t.results[0]
    return _row(
        "scipy RK45", t.median, len(starts), None, finals, steps, reference,
        evaluations=nfev, subset=len(starts),
    )  # fmt: skip


def _row(impl, seconds, sims, compile_s, finals, steps, reference, **extra) -> dict:
    subset = extra.pop("subset")
    evaluations = extra.pop("evaluations")
    per_sim = seconds / sims
    return {
        "workload": WORKLOAD,
        "impl": impl,
        "simulations_timed": sims,
        "per_simulation_s": per_sim,
        "median_s": per_sim * 1000,  # per 1,000 simulations (scipy: extrapolated)
        "compile_s": compile_s,
        "quality": float(np.max(np.abs(finals[:subset] - reference))),
        "quality_name": QUALITY,
        "iterations": float(np.mean(steps)),
        "max_steps": int(np.max(steps)),
        "mean_evaluations": float(np.mean(evaluations)),
        "finals": finals[:subset],
    }


def measure(smoke: bool = False, subset: int = 200) -> list[dict]:
    """Rows for jnn (vmap and ensemble; Tsit5, Dopri5) and SciPy.

    Smoke: 100 starts, subset 20.
    """
    sims = 100 if smoke else 1000
    subset = 20 if smoke else min(subset, sims)
    w, b, starts = problem(sims)
    reference, _, _ = scipy_solve(w, b, starts[:subset], rtol=1e-10, atol=1e-12)
    repeats = 2 if smoke else 5
    rows = [
        bench_jnn(w, b, starts, reference, subset, diffrax.Tsit5(), repeats),
        bench_jnn(w, b, starts, reference, subset, diffrax.Dopri5(), repeats),
        bench_ensemble(w, b, starts, reference, subset, diffrax.Tsit5(), repeats),
        bench_ensemble(w, b, starts, reference, subset, diffrax.Dopri5(), repeats),
        bench_scipy(w, b, starts[:subset], reference, 1 if smoke else 3),
    ]
    scipy_finals = rows[-1]["finals"]
    for r in rows:
        r["max_diff_vs_scipy"] = float(np.max(np.abs(r.pop("finals") - scipy_finals)))
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--subset", type=int, default=200)
    args = parser.parse_args(argv)
    monitor = h.CpuMonitor().start()
    rows = measure(args.smoke, args.subset)
    usage = monitor.stop()
    print(WORKLOAD)
    print(
        f"{'impl':<19} {'per sim us':>10} {'compile s':>9} {'steps':>6} "
        f"{'max':>4} {'evals':>6} {'err vs ref':>10} {'vs scipy':>9}"
    )
    for r in rows:
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        print(
            f"{r['impl']:<19} {1e6 * r['per_simulation_s']:10.1f} {compile_s:>9} "
            f"{r['iterations']:6.2f} {r['max_steps']:4d} "
            f"{r['mean_evaluations']:6.1f} {r['quality']:10.2e} "
            f"{r['max_diff_vs_scipy']:9.2e}"
        )
    speedups = {
        r["impl"]: rows[-1]["per_simulation_s"] / r["per_simulation_s"]
        for r in rows[:-1]
    }
    for impl, ratio in speedups.items():
        print(f"speed-up per simulation, scipy / {impl}: {ratio:.0f}x (target >= 30x)")
    h.warn_if_busy(usage)
    name = "hopfield_continuous_smoke" if args.smoke else "hopfield_continuous"
    payload = {
        "machine": {**h.machine_info(), "cpu_usage": usage},
        "rows": rows,
        "speedups": speedups,
    }
    print(f"wrote {h.write_json(name, payload)}")
    return payload


if __name__ == "__main__":
    main()
