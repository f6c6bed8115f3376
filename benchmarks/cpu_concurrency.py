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

Work: ``sort`` of 2,000,000 floats (one thread in XLA), a 200-step
``lax.scan`` of an LSTM-sized product (``(B, 256) @ (256, 1024)`` and gates,
the per-step work of ``rnn.py``'s recurrent layers), and two chained
``512 x 512`` products (milliseconds each). A ratio ``K t_1 / t_K`` near ``K``
means concurrent, near 1 one after the other.

Measured on the 2-core Xeon (stop 39, jax 0.10.2, both cores, four runs):
in one program the two sorts ran one after the other (x0.92-1.08), so did
the two scans (x0.94-1.02), the two product chains at most partly together
(x1.00-1.24); on two devices the sorts x1.85-2.15, the scans x1.49-1.74, the
products x1.26-1.32. LeNet-5's four independent chains in one training step
(``jnn.cnn``'s fast path, last row) were 1.38-1.41x faster than one chain on
both cores (3.74-3.85 against 2.71-2.73 ms) and 1.02-1.13x on one core: part
of that gain is concurrency inside one program, part the smaller products.
So XLA's CPU runtime can overlap independent operations of one program, but
not the ones measured here (sorts, the small per-step products of a loop),
while separate CPU devices run side by side.

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


def product_work(n: int, depth: int):
    """``(function, make_input)`` of ``depth`` chained ``(n, n) @ (n, n)`` products."""
    kernel = jax.random.normal(jax.random.key(98), (n, n)) / np.sqrt(n)

    def chain(x: jax.Array) -> jax.Array:
        for _ in range(depth):
            x = jnp.tanh(x @ kernel)
        return x

    def make(i: int) -> jax.Array:
        return jax.random.normal(jax.random.key(i), (n, n))

    return chain, make


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


def lenet_chains(repeats: int, steps: int = 20) -> dict:
    """Milliseconds per LeNet-5 training step (batch 64): 1 chain, ``CHAINS``.

    ``jnn.cnn``'s fast path cuts a training batch into independent chains
    (``jnn.cnn._fastconv.pool_phases.chain_pieces``); here that choice is
    replaced by one chain for comparison, both steps compiled in one
    ``lax.scan`` of ``steps`` Adam steps and alternated.
    """
    import optax

    import jnn.cnn.lenet.model as lenet
    from jnn.cnn import LeNet5
    from jnn.cnn._fastconv.pool_phases import CHAINS, chain_pieces

    rng = np.random.default_rng(0)
    batch = {
        "x": jnp.asarray(rng.uniform(-1, 1, (64, 32, 32, 1)), jnp.float32),
        "y": jnp.asarray(rng.integers(0, 10, 64)),
    }
    optimizer = optax.adam(1e-3)

    def compiled(pieces):
        lenet.chain_pieces = pieces  # read when the model is traced
        model = LeNet5(variant="modern")
        params = model.init(jax.random.key(0), batch["x"])["params"]

        def loss(p):
            logits = model.apply({"params": p}, batch["x"])
            return optax.softmax_cross_entropy_with_integer_labels(
                logits, batch["y"]
            ).mean()

        def train(params, state):
            def step(carry, _):
                p, s = carry
                updates, s = optimizer.update(jax.grad(loss)(p), s, p)
                return (optax.apply_updates(p, updates), s), None

            return jax.lax.scan(step, (params, state), None, length=steps)[0]

        state = optimizer.init(params)
        return jax.jit(train).lower(params, state).compile(), params, state

    try:
        one = compiled(lambda b: [slice(0, b)])
        many = compiled(chain_pieces)
    finally:
        lenet.chain_pieces = chain_pieces
    times: dict[int, list[float]] = {1: [], CHAINS: []}
    for _ in range(repeats):
        for k, (fn, p, s) in ((1, one), (CHAINS, many)):
            jax.block_until_ready(fn(p, s))
            start = time.perf_counter()
            jax.block_until_ready(fn(p, s))
            times[k].append(1e3 * (time.perf_counter() - start) / steps)
    t1, tk = (float(np.median(times[k])) for k in (1, CHAINS))
    print(
        f"{'LeNet-5 training step, B = 64':34s} one chain {t1:6.2f} ms | "
        f"{CHAINS} chains in one program {tk:6.2f} ms (x{t1 / tk:.2f} faster)",
        flush=True,
    )
    return {"work": "LeNet-5 chains", "one_chain_ms": t1, "chains_ms": tk}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="small sizes")
    args = parser.parse_args(argv)
    n, steps, side = (20_000, 10, 64) if args.smoke else (2_000_000, STEPS, 512)
    k, reps = len(jax.devices()), args.repeats
    print(f"{k} CPU devices; ratio k t1 / tk: ~{k} concurrent, ~1 one after the other")
    return [
        measure(f"sort of {n:,} floats", sort_work(n), k, reps),
        measure(
            f"LSTM-like scan, B = 32, {steps} steps", scan_work(32, steps), k, reps
        ),
        measure(f"two {side} x {side} products", product_work(side, 2), k, reps),
        lenet_chains(reps, steps=2 if args.smoke else 20),
    ]


if __name__ == "__main__":
    main()
