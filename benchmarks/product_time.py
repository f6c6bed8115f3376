"""Time in matrix products and convolutions per training step, jnn and PyTorch.

The convolution models' speed targets (DCGAN, issue 17; DDPM UNet, issue 18)
set a whole training step's time: ``batch / (target x fastest peer's rate)``.
This script profiles one step of each on both sides and splits it into the
time spent in matrix products and convolutions and everything else:

* jnn: :func:`profile_step.profile` (``jax.profiler``, per XLA thunk, the
  steps inside one ``lax.scan`` as ``fit`` runs them); products are the
  ``dot`` / ``dot_general`` / ``conv_general_dilated`` thunks and the
  library fusions (``ynn_fusion``) whose JAX operation is a product or a
  convolution.
* PyTorch: ``torch.profiler`` over the benchmark's own eager step
  (``benchmarks/gan.py``, ``benchmarks/diffusion.py``; one thread per
  process core), the self time of every convolution and matrix-product
  operator (oneDNN).

A target step shorter than the peer's own products is out of reach unless
the products themselves run faster than oneDNN's.

Run (one core, the other idle)::

    taskset -c 1 .venv/bin/python benchmarks/product_time.py
    .venv/bin/python benchmarks/product_time.py --smoke
"""

from __future__ import annotations

import argparse
import time

import _harness as h
import numpy as np
from ceiling import WORKLOADS, fastest_peer
from profile_step import profile, thunk_kind

PRODUCT_OPS = ("dot_general", "conv_general_dilated", "dot", "matmul", "einsum")
TORCH_PRODUCTS = ("conv", "mm", "matmul", "linear", "bmm", "addmm", "_scaled_dot")


def jnn_split(name: str, steps: int) -> tuple[float, float]:
    """``(step ms, products ms)`` of jnn's step ``name``, profiled in a scan."""
    seconds, times, index = profile(name, steps, scan=True)
    products = 0.0
    for thunk, ms in times.items():
        kind = thunk_kind(thunk)
        op = index.get(thunk, ("", ""))[1].rsplit("/", 1)[-1]
        if kind in ("dot", "dot_general", "conv_general_dilated") or (
            kind == "ynn_fusion" and op in PRODUCT_OPS
        ):
            products += ms
    return 1e3 * seconds, products


def torch_split(name: str, steps: int) -> tuple[float, float]:
    """``(step ms, products ms)`` of the benchmark's eager PyTorch step ``name``."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    h.set_torch_threads()
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64 * steps, 28, 28, 1)).astype(np.float32)
    if name == "dcgan":
        import gan

        run = gan.torch_trainer(x, compiled=False)
    else:
        import diffusion

        from jnn.generative import diffusion as dm

        run, _ = diffusion.torch_trainer(x, False, dm.BENCHMARK_UNET)
    run(0)
    start = time.perf_counter()
    run(1)
    step = (time.perf_counter() - start) / steps
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        run(2)
    self_us = sum(
        e.self_cpu_time_total
        for e in prof.key_averages()
        if any(p in e.key.lower() for p in TORCH_PRODUCTS)
    )
    return 1e3 * step, self_us / 1e3 / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=["dcgan", "ddpm"],
                        help="of dcgan, ddpm")  # fmt: skip
    parser.add_argument("--smoke", action="store_true", help="one step each")
    args = parser.parse_args(argv)
    if set(args.workloads) - {"dcgan", "ddpm"}:
        parser.error(f"workloads must be dcgan or ddpm; got {args.workloads}")
    info = h.print_machine()
    start = time.perf_counter()
    rows = []
    for name in args.workloads:
        steps = 1 if args.smoke else {"dcgan": 8, "ddpm": 3}[name]
        items, _, result, prefix, target = WORKLOADS[name]
        jnn_step, jnn_products = jnn_split(name, steps)
        torch_step, torch_products = torch_split(name, steps)
        peer, peer_name, _ = fastest_peer(result, prefix)
        target_ms = 1e3 * items / (target * peer) if peer else None
        rows.append({"workload": name, "jnn_step_ms": jnn_step,
                     "jnn_products_ms": jnn_products, "torch_eager_step_ms": torch_step,
                     "torch_products_ms": torch_products, "fastest_peer": peer_name,
                     "target": target, "target_step_ms": target_ms})  # fmt: skip
    print(f"\n{'':8s} {'jnn step':>9s} {'products':>9s} {'torch step':>11s} "
          f"{'products':>9s} {'target step':>12s}  (ms per step)")  # fmt: skip
    for r in rows:
        target = r["target_step_ms"]
        print(f"{r['workload']:8s} {r['jnn_step_ms']:9.1f} {r['jnn_products_ms']:9.1f} "
              f"{r['torch_eager_step_ms']:11.1f} {r['torch_products_ms']:9.1f} "
              f"{'-' if target is None else f'{target:.1f}':>12s}"
              f"  (target: {r['target']}x {r['fastest_peer']})")  # fmt: skip
    payload = {"machine": info, "rows": rows, "seconds": time.perf_counter() - start}
    name = h.result_name("product_time", "smoke" if args.smoke else "full")
    print(f"\nwrote {h.write_json(name, payload)}")


if __name__ == "__main__":
    main()
