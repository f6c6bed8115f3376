"""Benchmark: jnn EM and VB Gaussian mixtures against scikit-learn, same init.

Workload: all of digits (``jnn.data.load("digits", seed=0)``, its three splits:
1797 x 64, standardised with the train statistics), 10 diagonal components.

* EM: ``jnn.static.gmm_em`` + ``jnn.train.fit`` (float32) against
  ``GaussianMixture(covariance_type="diag")`` given the same
  ``weights_init``/``means_init``/``precisions_init``; tol 1e-3 on the mean
  log-likelihood.
* VB: ``jnn.static.vb_gmm`` + ``fit`` against ``BayesianGaussianMixture(diag,
  "dirichlet_distribution")`` starting from the same random responsibilities
  (scikit-learn's ``init_params="random"``) with its default priors; tol 1e-3
  on the total lower bound. jnn runs VB in float64 here: the total bound is of
  order 6e4, whose float32 rounding (~4e-3) is above the tolerance, and the
  constant pixels' tiny variances make float32 follow another path.

scikit-learn runs with its BLAS threads at the cores this process may use and
again on 1 thread (``scikit-learn (1 thread)``; these matrices are small);
jnn's ratio is taken against the faster of the two. Measured numbers:
``benchmarks/README.md``, ``benchmarks/results/``.

Run ``.venv/bin/python benchmarks/static_mixture.py [--quick | --smoke]``.
"""

from __future__ import annotations

import argparse

import _harness as h
import jax
import numpy as np
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

import jnn
from jnn.static import GMMParams, gmm_em, vb_gmm
from jnn.static.mixtures.vb import expected_weights
from jnn.train import absolute_change_below, fit

K = 10


def _one_thread(fit, repeats):
    """:func:`_harness.time_calls` of ``fit`` with the BLAS threads at 1."""
    from threadpoolctl import threadpool_limits

    def call(i):
        with threadpool_limits(1):
            return fit(i)

    return h.time_calls(call, repeats)


def _data(smoke: bool) -> np.ndarray:
    ds = jnn.data.load("digits", seed=0)
    x = np.concatenate([ds.train["x"], ds.val["x"], ds.test["x"]]).astype(np.float64)
    return x[:300] if smoke else x


def _em_rows(x, repeats):
    rng = np.random.default_rng(0)
    means = x[rng.choice(len(x), K, replace=False)]
    var = np.repeat(x.var(axis=0)[None] + 0.1, K, axis=0)
    init = GMMParams(np.full(K, 1 / K), means, var)
    workload = f"EM diag K={K} digits {x.shape[0]}x{x.shape[1]}"
    # float64 like scikit-learn: both then evaluate the same formulas.
    with jax.enable_x64(True):
        learner = gmm_em(K, "diag", init=init)
        stop = absolute_change_below(1e-3, metric="log_likelihood")
        data = {"x": x.astype(np.float64)}

        def ours(i):
            return fit(learner, data, key=jax.random.key(i), epochs=100, stop=stop)

        t_ours = h.time_calls(ours, repeats)

    def theirs(i):
        return GaussianMixture(
            K,
            covariance_type="diag",
            weights_init=init.weights,
            means_init=init.means,
            precisions_init=1 / var,
            tol=1e-3,
            max_iter=100,
        ).fit(x)

    t_peer = h.time_calls(theirs, repeats)
    t_one = _one_thread(theirs, repeats)
    r, p = t_ours.results[-1], t_peer.results[-1]
    name = "mean log-likelihood"
    return [
        _row(
            workload,
            "jnn (float64)",
            t_ours,
            float(r.history["log_likelihood"][-1]),
            name,
            r.epochs,
        ),
        _row(workload, "scikit-learn", t_peer, float(p.lower_bound_), name, p.n_iter_),
        _row(workload, "scikit-learn (1 thread)", t_one,
             float(t_one.results[-1].lower_bound_), name, t_one.results[-1].n_iter_),
    ]  # fmt: skip


def _vb_rows(x, repeats):
    resp = np.random.RandomState(0).uniform(size=(len(x), K))
    resp /= resp.sum(axis=1, keepdims=True)
    workload = f"VB diag K={K} digits {x.shape[0]}x{x.shape[1]}"
    with jax.enable_x64(True):
        learner = vb_gmm(K, covariance="diag", init=resp)
        stop = absolute_change_below(1e-3, metric="elbo")

        def ours(i):
            return fit(learner, {"x": x}, key=jax.random.key(i), epochs=500, stop=stop)

        t_ours = h.time_calls(ours, repeats)
        r = t_ours.results[-1]
        active = int(np.sum(np.asarray(expected_weights(r.state)) >= 0.01))

    def theirs(i):
        return BayesianGaussianMixture(
            n_components=K,
            covariance_type="diag",
            weight_concentration_prior_type="dirichlet_distribution",
            init_params="random",
            random_state=0,
            tol=1e-3,
            max_iter=500,
        ).fit(x)

    t_peer = h.time_calls(theirs, repeats)
    t_one = _one_thread(theirs, repeats)
    p = t_peer.results[-1]
    name = "lower bound"
    rows = [
        _row(
            workload,
            "jnn (float64)",
            t_ours,
            float(r.history["elbo"][-1]),
            name,
            r.epochs,
        ),
        _row(workload, "scikit-learn", t_peer, float(p.lower_bound_), name, p.n_iter_),
        _row(workload, "scikit-learn (1 thread)", t_one,
             float(t_one.results[-1].lower_bound_), name, t_one.results[-1].n_iter_),
    ]  # fmt: skip
    rows[0]["active_components"] = active
    rows[1]["active_components"] = int(np.sum(p.weights_ >= 0.01))
    rows[2]["active_components"] = int(np.sum(t_one.results[-1].weights_ >= 0.01))
    return rows


def _row(workload, impl, t, quality, quality_name, iterations):
    return {
        "workload": workload,
        "impl": impl,
        "median_s": t.median,
        "compile_s": t.compile if impl.startswith("jnn") else None,
        "quality": quality,
        "quality_name": quality_name,
        "iterations": int(iterations),
    }


def measure(smoke: bool | str) -> list[dict]:
    """EM and VB rows for jnn and scikit-learn (see the module docstring).

    ``smoke``: True / "smoke" (300 rows), "quick" (3 repeats) or False / "full".
    """
    mode = {True: "smoke", False: "full"}.get(smoke, smoke)
    x = _data(mode == "smoke")
    repeats = {"smoke": 2, "quick": 3, "full": 7}[mode]
    return _em_rows(x, repeats) + _vb_rows(x, repeats)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    mode = h.mode_of(args)
    monitor = h.CpuMonitor().start()
    rows = measure(mode)
    usage = monitor.stop()
    info = h.print_machine()
    best: dict[str, float] = {}
    for r in rows:
        if h.is_peer(r):
            best[r["workload"]] = min(best.get(r["workload"], np.inf), r["median_s"])
    for r in rows:
        ratio = best[r["workload"]] / r["median_s"]
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        print(
            f"{r['workload']:28s} {r['impl']:23s} {1e3 * r['median_s']:8.1f} ms "
            f"x{ratio:5.2f} vs fastest peer  compile {compile_s:>5s} s  "
            f"{r['quality_name']} {r['quality']:.6f}  iterations {r['iterations']}"
        )
    compared = h.workload_comparisons(rows, targets={r["workload"]: 2.0 for r in rows})
    h.print_comparisons(compared)
    h.warn_if_busy(usage)
    payload = {
        "mode": mode,
        "rows": rows,
        "machine": {**info, "cpu_usage": usage},
        "vs_fastest_peer": compared,
    }
    print(f"wrote {h.write_json(h.result_name('static_mixture', mode), payload)}")


if __name__ == "__main__":
    main()
