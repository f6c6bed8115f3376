"""How far each speed target is from this CPU's float32 ceiling (FLOPs against peak).

For every workload of an issue with a speed target, the floating-point work of
one compiled step (XLA's ``cost_analysis`` of jnn's program, the same
arithmetic PyTorch's step does), this machine's best float32 matrix-product
rate on the cores the process may use (XLA and PyTorch, large square
products, the better of the two), and from them the **ceiling**: the rate a
step would reach if every FLOP ran at that peak and nothing else (memory
traffic, element-wise work, sampling, the optimiser) took any time. Next to
it, the fastest peer row of the workload's last benchmark run on this machine
(``benchmarks/results/*.json``), the issue's target ratio, and what fraction
of the ceiling the target needs (``target x peer / ceiling``), and what
fraction the peer itself reaches (``peer / ceiling``).

A target above ~100 % of the ceiling is out of reach in float32 for any
implementation; one far above what the peer's own tuned kernels reach (oneDNN
on this CPU) is out of reach in practice. The last column puts the target
against XLA's own best product rate instead, the most a step compiled by XLA
(as every jnn step is) can reach.

Workloads (the benchmark scripts' settings):

* ``dcgan``: ``benchmarks/gan.py``'s D + G step, 64 images.
* ``ddpm``: ``benchmarks/diffusion.py``'s 1.5M-parameter UNet training step, 64 images.
* ``ddpm-sample``: one ancestral denoising step of 16 images (one network
  evaluation; the update of ``x`` is counted too).
* ``vae``: ``benchmarks/vae.py``'s 784-400-20 VAE step, 128 images.
* ``gpt``: ``benchmarks/transformer.py``'s GPT 4L/4H/128 step, 32 x 128 tokens.
* ``rbm``: ``benchmarks/rbm.py``'s CD-1 784-500 step, 100 images.

The count is of the minimal arithmetic (XLA's own convolutions, as PyTorch
computes them); the ``as run`` column counts jnn's CPU programs.

Run (one core, the other idle, as the speed log's rows)::

    taskset -c 1 .venv/bin/python benchmarks/ceiling.py
    .venv/bin/python benchmarks/ceiling.py --smoke   # counts only, no peak timing

The peer figures are read from the newest of ``results/<name>.json`` and
``results/<name>_quick.json``; run the workload's benchmark first (same
core setting) to refresh them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np

# workload -> (items per step, unit, result file, comparison workload prefix, target)
WORKLOADS = {
    "dcgan": (64, "images/s", "gan", "DCGAN", 1.5),
    "ddpm": (64, "images/s", "diffusion", "train", 1.5),
    "ddpm-sample": (1, "ms/step", "diffusion", "sample", 1.5),
    "vae": (128, "images/s", "vae", "VAE", 1.5),
    "gpt": (32 * 128, "tokens/s", "transformer", "GPT", 1.5),
    "rbm": (100, "images/s", "rbm", "CD-1", 2.0),
}


def step_flops(name: str, reference: bool = True) -> float:
    """Floating-point operations of one compiled step of ``name`` (XLA's count).

    ``reference``: the convolution models through XLA's own convolutions (the
    minimal arithmetic, as PyTorch's step does it); False: as jnn runs them on
    CPU (the row form computes ``k_h`` rows per padded input row, ~7 % more).
    """
    if name == "ddpm-sample":
        from jnn.generative import diffusion as dm

        path = "reference" if reference else "auto"
        model = dm.UNet(**dm.BENCHMARK_UNET, conv_path=path)
        schedule = dm.linear_schedule()
        x = jnp.zeros((16, 28, 28, 1))
        params = model.init(jax.random.key(0), x[:1])["params"]
        one = dm.NoiseSchedule(*(a[:1] for a in schedule))

        def step(params, key):
            return dm.ancestral_sample(model, params, one, key, (16, 28, 28, 1))

        lowered = jax.jit(step).lower(params, jax.random.key(0))
    else:
        from profile_step import workload

        learner, batch = workload(name, reference=reference)
        state = learner.init(jax.random.key(0), batch)
        lowered = jax.jit(learner.update).lower(state, batch, jax.random.key(1))
    cost = lowered.compile().cost_analysis()
    if isinstance(cost, list):  # older jax: one dict per computation
        cost = cost[0]
    return float(cost["flops"])


def peak_gflops(repeats: int = 5, sizes=(1024, 2048, 3072)) -> dict[str, float]:
    """Best float32 ``n x n x n`` product rate over ``sizes``, GFLOP/s, per framework.

    XLA's (what jnn's compiled steps can reach) and PyTorch's (oneDNN, the
    peers' library); the best size differs between them and between runs.
    """
    rng = np.random.default_rng(0)
    rates: dict[str, float] = {}
    try:
        import torch

        h.set_torch_threads()
    except ImportError:
        torch = None
    matmul = jax.jit(jnp.matmul)
    for n in sizes:
        a = rng.standard_normal((n, n), np.float32)
        b = rng.standard_normal((n, n), np.float32)
        xla = _product_rate(matmul, jnp.asarray(a), jnp.asarray(b), repeats)
        rates["XLA"] = max(rates.get("XLA", 0.0), xla)
        if torch is not None:
            peer = _product_rate(torch.matmul, torch.from_numpy(a),
                                 torch.from_numpy(b), repeats)  # fmt: skip
            rates["PyTorch"] = max(rates.get("PyTorch", 0.0), peer)
    return rates


def _product_rate(matmul, a, b, repeats: int) -> float:
    """GFLOP/s of ``matmul(a, b)`` for square ``a``, ``b`` (median, after a warm-up)."""
    run = lambda: jax.block_until_ready(matmul(a, b))  # noqa: E731  (torch: no-op)
    run()
    return 2 * a.shape[0] ** 3 / h.median_time(run, repeats) / 1e9


def fastest_peer(
    result: str, prefix: str
) -> tuple[float | None, str | None, Path | None]:
    """The fastest peer's figure of a workload in its newest results file."""
    files = [h.RESULTS_DIR / f"{result}{s}.json" for s in ("", "_quick")]
    files = sorted((f for f in files if f.exists()), key=lambda f: f.stat().st_mtime)
    if not files:
        return None, None, None
    payload = json.loads(files[-1].read_text())
    for c in payload.get("comparisons", []):
        if c["workload"].startswith(prefix):
            return c["peer"], c["fastest_peer"], files[-1]
    return None, None, files[-1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS),
                        help=f"of {list(WORKLOADS)}")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5, help="peak timing")
    parser.add_argument("--smoke", action="store_true", help="counts, no timing")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {list(WORKLOADS)}")
    info = h.print_machine()
    start = time.perf_counter()
    if args.smoke:
        peaks = peak_gflops(repeats=1, sizes=(256,))
    else:
        peaks = peak_gflops(args.repeats)
    peak = max(peaks.values())
    print("float32 peak, best n^3 product: "
          + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items()))  # fmt: skip
    rows = []
    for name in args.workloads:
        items, unit, result, prefix, target = WORKLOADS[name]
        flops, as_run = step_flops(name), step_flops(name, reference=False)
        seconds = flops / (peak * 1e9)
        ceiling = 1000 * seconds if unit == "ms/step" else items / seconds
        peer, peer_name, source = fastest_peer(result, prefix)
        row = {"workload": name, "gflop_per_step": flops / 1e9,
               "gflop_per_step_as_run": as_run / 1e9, "unit": unit,
               "ceiling": ceiling, "peer": peer, "fastest_peer": peer_name,
               "target": target, "peer_source": source and source.name}  # fmt: skip
        if peer:
            # fraction of the ceiling's speed: a time is the inverse of a rate
            peer_speed = ceiling / peer if unit == "ms/step" else peer / ceiling
            row["peer_of_ceiling"] = peer_speed
            row["target_of_ceiling"] = target * peer_speed
            # the same against XLA's own best product rate (jnn's compiler)
            row["target_of_xla_ceiling"] = target * peer_speed * peak / peaks["XLA"]
        rows.append(row)
    header = ("workload", "GFLOP/step", "as run", "ceiling", "fastest peer",
              "peer/ceil", "target", "target/ceil", "/XLA ceil")  # fmt: skip
    widths = (12, 10, 7, 20, 32, 9, 6, 11, 9)
    print()
    print(" ".join(f"{c:>{w}s}" for c, w in zip(header, widths, strict=True)))
    for r in rows:
        fraction = {k: f"{100 * r[k]:.0f} %" if k in r else "-"
                    for k in ("peer_of_ceiling", "target_of_ceiling",
                              "target_of_xla_ceiling")}  # fmt: skip
        cells = (
            r["workload"],
            f"{r['gflop_per_step']:.2f}",
            f"{r['gflop_per_step_as_run']:.2f}",
            f"{r['ceiling']:,.1f} {r['unit']}",
            "-" if r["peer"] is None else f"{r['peer']:,.1f} ({r['fastest_peer']})",
            fraction["peer_of_ceiling"],
            f"{r['target']:.1f}x",
            fraction["target_of_ceiling"],
            fraction["target_of_xla_ceiling"],
        )
        print(" ".join(f"{c:>{w}s}" for c, w in zip(cells, widths, strict=True)))
    payload = {"machine": info, "peak_gflops": peaks, "rows": rows,
               "seconds": time.perf_counter() - start}  # fmt: skip
    name = h.result_name("ceiling", "smoke" if args.smoke else "full")
    print(f"\nwrote {h.write_json(name, payload)}")


if __name__ == "__main__":
    main()
