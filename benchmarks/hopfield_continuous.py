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
* ``scipy odeint``: the same loop with ``scipy.integrate.odeint`` (LSODA,
  compiled ODEPACK: far less Python per step than ``solve_ivp``), same
  rtol/atol.
* ``scipy RK45 stacked`` / ``scipy odeint stacked``: SciPy's vectorised
  form: all 1,000 starts as ONE ODE system of 100,000 unknowns (the field one
  (1000, 100) x (100, 100) product on all BLAS threads), like ``jnn ens``.
  ``solve_ivp``'s error test is an RMS over all unknowns, looser than
  per-start; LSODA's weighted max norm is stricter than ``jnn ens``'s
  per-start one. The error column shows what each reached. Also with the
  BLAS threads at 1 (``... 1 thread``): on a busy machine OpenBLAS's
  threads wait for each other.

Reported: seconds per simulation, the speed-up over each row and over the
FASTEST SciPy row (the headline, for the fastest jnn row; target >= 30x,
set against the ``solve_ivp`` loop), mean steps
and right-hand-side evaluations per simulation (SciPy's ``nfev``; for the
FSAL six-stage Tsit5/Dopri5 ``6 steps + 2``: 2 for the initial step-size
guess; under ``vmap`` the batch runs as many steps as its slowest member,
``max_steps`` below), and the final-state agreement: max |u_jnn(10) -
u_scipy(10)| and each one's max error against a tight SciPy solve (rtol
1e-10) of the same subset (the ``quality``).

Measured numbers: ``benchmarks/README.md`` and
``benchmarks/results/hopfield_continuous.json``.

Run::

    .venv/bin/python benchmarks/hopfield_continuous.py          # ~1 min
    .venv/bin/python benchmarks/hopfield_continuous.py --quick  # ~20 s
    .venv/bin/python benchmarks/hopfield_continuous.py --smoke
"""

from __future__ import annotations

import _harness as h
import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from scipy.integrate import odeint, solve_ivp

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


def odeint_solve(w, b, starts):
    """:func:`scipy_solve` with ``odeint`` (LSODA): finals, steps, nfev."""
    f = numpy_field(w, b)
    finals, steps, nfev = [], [], []
    for u0 in starts:
        y, info = odeint(
            f, u0, (0.0, T1), rtol=RTOL, atol=ATOL, tfirst=True, full_output=True
        )
        finals.append(y[-1])
        steps.append(int(info["nst"][-1]))
        nfev.append(int(info["nfe"][-1]))
    return np.stack(finals), np.array(steps), np.array(nfev)


def stacked_solve(w, b, starts, method: str):
    """All starts as one ODE system (``"RK45"``: solve_ivp; ``"odeint"``)."""
    shape = starts.shape

    def f(t, y):
        u = y.reshape(shape)
        return (-u + (1 / (1 + np.exp(-u))) @ w.T + b).reshape(-1)

    y0 = starts.reshape(-1)
    if method == "odeint":
        # The Jacobian is block-diagonal: declared banded, LSODA's work array
        # is O(K N^2), not the dense (K N)^2 it would allocate otherwise.
        band = shape[1] - 1
        y, info = odeint(
            f, y0, (0.0, T1), rtol=RTOL, atol=ATOL, tfirst=True, full_output=True,
            ml=band, mu=band,
        )  # fmt: skip
        final, steps, nfev = y[-1], int(info["nst"][-1]), int(info["nfe"][-1])
    else:
        sol = solve_ivp(f, (0.0, T1), y0, method=method, rtol=RTOL, atol=ATOL)
        final, steps, nfev = sol.y[:, -1], len(sol.t) - 1, sol.nfev
    k = shape[0]
    return final.reshape(shape), np.full(k, steps), np.full(k, nfev)


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


def bench_scipy(w, b, starts, reference, repeats: int, impl="scipy RK45") -> dict:
    solve = {"scipy RK45": scipy_solve, "scipy odeint": odeint_solve}[impl]
    t = h.time_calls(lambda i: solve(w, b, starts), repeats, warmup=0)
    finals, steps, nfev = t.results[0]
    return _row(
        impl, t.median, len(starts), None, finals, steps, reference,
        evaluations=nfev, subset=len(starts),
    )  # fmt: skip


def bench_stacked(w, b, starts, reference, subset, repeats, method, threads=None):
    """A stacked solve; BLAS threads at ``threads`` (None: all cores)."""
    from threadpoolctl import threadpool_limits

    def solve(i):
        with threadpool_limits(h.cores() if threads is None else threads):
            return stacked_solve(w, b, starts, method)

    t = h.time_calls(solve, repeats)
    t.first = None  # nothing to compile
    finals, steps, nfev = t.results[0]
    name = "scipy odeint stacked" if method == "odeint" else f"scipy {method} stacked"
    name += "" if threads is None else f" {threads} thread"
    return _row(
        name, t.median, len(starts), None, finals, steps, reference,
        evaluations=nfev, subset=subset,
    )  # fmt: skip


def _row(impl, seconds, sims, compile_s, finals, steps, reference, **extra) -> dict:
    subset = extra.pop("subset")
    evaluations = extra.pop("evaluations")
    per_sim = seconds / sims
    return {
        "workload": WORKLOAD,
        "impl": impl,
        "peer": impl.startswith("scipy"),
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


#: Per mode: (simulations, SciPy-loop subset, jnn repeats, loop repeats,
#: stacked repeats).
MODES = {
    "smoke": (100, 20, 2, 1, 1),
    "quick": (1000, 50, 3, 1, 2),
    "full": (1000, 200, 5, 3, 3),
}


def measure(mode: str = "full", subset: int | None = None) -> list[dict]:
    """Rows for jnn (vmap and ensemble; Tsit5, Dopri5) and SciPy (see above)."""
    if mode is True or mode is False:  # the former measure(smoke: bool)
        mode = "smoke" if mode else "full"
    sims, default_subset, repeats, loop_repeats, stacked_repeats = MODES[mode]
    subset = min(default_subset if subset is None else subset, sims)
    w, b, starts = problem(sims)
    reference, _, _ = scipy_solve(w, b, starts[:subset], rtol=1e-10, atol=1e-12)
    rows = [
        bench_jnn(w, b, starts, reference, subset, diffrax.Tsit5(), repeats),
        bench_jnn(w, b, starts, reference, subset, diffrax.Dopri5(), repeats),
        bench_ensemble(w, b, starts, reference, subset, diffrax.Tsit5(), repeats),
        bench_ensemble(w, b, starts, reference, subset, diffrax.Dopri5(), repeats),
        bench_scipy(w, b, starts[:subset], reference, loop_repeats),
        bench_scipy(w, b, starts[:subset], reference, loop_repeats, "scipy odeint"),
        bench_stacked(w, b, starts, reference, subset, stacked_repeats, "RK45"),
        bench_stacked(w, b, starts, reference, subset, stacked_repeats, "odeint"),
        bench_stacked(w, b, starts, reference, subset, stacked_repeats, "RK45", 1),
        bench_stacked(w, b, starts, reference, subset, stacked_repeats, "odeint", 1),
    ]
    scipy_finals = next(r for r in rows if r["impl"] == "scipy RK45")["finals"]
    for r in rows:
        diff = r.pop("finals")[:subset] - scipy_finals
        r["max_diff_vs_scipy"] = float(np.max(np.abs(diff)))
    return rows


def main(argv: list[str] | None = None) -> dict:
    args, mode = h.subset_args(__doc__, argv, "fewer repeats", "SciPy-loop starts")
    monitor = h.CpuMonitor().start()
    rows = measure(mode, args.subset)
    usage = monitor.stop()
    info = h.print_machine()
    print(WORKLOAD)
    print(
        f"{'impl':<28} {'per sim us':>10} {'compile s':>9} {'steps':>6} "
        f"{'max':>4} {'evals':>7} {'err vs ref':>10} {'vs scipy':>9}"
    )
    for r in rows:
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        print(
            f"{r['impl']:<28} {1e6 * r['per_simulation_s']:10.1f} {compile_s:>9} "
            f"{r['iterations']:6.2f} {r['max_steps']:4d} "
            f"{r['mean_evaluations']:7.1f} {r['quality']:10.2e} "
            f"{r['max_diff_vs_scipy']:9.2e}"
        )
    scipy_row = next(r for r in rows if r["impl"] == "scipy RK45")
    speedups = {
        r["impl"]: scipy_row["per_simulation_s"] / r["per_simulation_s"]
        for r in rows
        if not r["peer"]
    }
    for impl, ratio in speedups.items():
        print(f"speed-up per simulation, scipy RK45 loop / {impl}: {ratio:.0f}x")
    ours = min((r for r in rows if not r["peer"]), key=lambda r: r["per_simulation_s"])
    compared = h.workload_comparisons(
        rows,
        value="per_simulation_s",
        unit="s/simulation",
        jnn_impl=ours["impl"],
        targets={WORKLOAD: 30},
    )
    payload = {
        "mode": mode,
        "machine": {**info, "cpu_usage": usage},
        "rows": rows,
        "speedups": speedups,
        "vs_fastest_peer": compared,
    }
    h.report("hopfield_continuous", args, payload, compared, usage=usage)
    return payload


if __name__ == "__main__":
    main()
