"""Does XLA's CPU runtime run independent operations at the same time?

Not a comparison with a peer: a check of a fact the fast paths lean on
(DESIGN.md, "Fast paths"). The same work is timed three ways, the median of
``--repeats`` calls each:

* ``K`` independent operations in **one compiled program** (one device): if
  XLA's CPU runtime ran them concurrently, ``K`` of them would take about the
  time of one on ``K`` cores;
* the same ``K`` pieces of work as ``K`` programs on ``K`` **CPU devices**
  (``jax_num_cpu_devices``), dispatched together;
* one piece alone, for reference.

Work: ``sort`` of 2,000,000 floats (one thread in XLA), and a 200-step
``lax.scan`` of an LSTM-sized product (``(B, 256) @ (256, 1024)`` and gates,
the per-step work of ``rnn.py``'s recurrent layers). A ratio ``K t_1 / t_K``
near ``K`` means concurrent, near 1 means one after the other.

Measured on the 2-core Xeon (stop 39, jax 0.10.2, both cores): two sorts in
one program 974 ms against 515 for one (x1.06: one after the other), on two
devices 497 ms (x2.07: concurrent); two 200-step scans of B = 32 in one
program 66.3 ms against 33.9 (x1.02), on two devices 39.3 ms (x1.73). So
independent operations of one program run one after the other; only the work
inside an operation (large products, elementwise loops) is split over the
cores, and separate devices run side by side.

Run::

    python benchmarks/cpu_concurrency.py [--repeats N] [--smoke]
"""

from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_num_cpu_devices", 2)  # before the backend starts

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

STEPS, HIDDEN = 200, 256


def sort_work(n: int):
    """``(function, make_input)`` of one sort of ``n`` floats."""

    def make(i: int) -> jax.Array:
        return jax.random.normal(jax.random.key(i), (n,))

    return jnp.sort, make


def scan_work(batch: int, steps: int):
    """``(function, make_input)`` of an LSTM-like recurrence of ``steps`` steps."""
    kernel = jax.random.normal(jax.random.key(99), (HIDDEN, 4 * HIDDEN)) * 0.05

    def recur(h: jax.Array) -> jax.Array:
        def step(h, _):
            z = h @ kernel
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * h + jax.nn.sigmoid(i) * jnp.tanh(g)
            return jax.nn.sigmoid(o) * jnp.tanh(c), None

        return jax.lax.scan(step, h, None, length=steps)[0]

    def make(i: int) -> jax.Array:
        return jax.random.normal(jax.random.key(i), (batch, HIDDEN))

    return recur, make


def median_ms(run, repeats: int) -> float:
    jax.block_until_ready(run())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run())
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def measure(name: str, work, k: int, repeats: int) -> dict:
    """Times of one piece, ``k`` in one program, ``k`` on ``k`` devices."""
    fn, make = work
    devices = jax.devices()[:k]
    one = jax.jit(fn)
    many = jax.jit(lambda xs: [fn(x) for x in xs])
    xs = [jax.device_put(make(i), devices[0]) for i in range(k)]
    spread = [jax.device_put(make(i), d) for i, d in enumerate(devices)]
    t1 = median_ms(lambda: one(xs[0]), repeats)
    t_program = median_ms(lambda: many(xs), repeats)
    t_devices = median_ms(lambda: [one(x) for x in spread], repeats)
    row = {
        "work": name,
        "k": k,
        "one_ms": t1,
        "one_program_ms": t_program,
        "devices_ms": t_devices,
        "program_ratio": k * t1 / t_program,
        "devices_ratio": k * t1 / t_devices,
    }
    print(
        f"{name:34s} one {t1:8.1f} ms | {k} in one program {t_program:8.1f} ms "
        f"(x{row['program_ratio']:.2f}) | {k} devices {t_devices:8.1f} ms "
        f"(x{row['devices_ratio']:.2f})",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="small sizes")
    args = parser.parse_args(argv)
    n, steps = (20_000, 10) if args.smoke else (2_000_000, STEPS)
    k, reps = len(jax.devices()), args.repeats
    print(f"{k} CPU devices; ratio k t1 / tk: ~{k} concurrent, ~1 one after the other")
    return [
        measure(f"sort of {n:,} floats", sort_work(n), k, reps),
        measure(
            f"LSTM-like scan, B = 32, {steps} steps", scan_work(32, steps), k, reps
        ),
    ]


if __name__ == "__main__":
    main()
