"""Random bits on XLA's CPU backend: JAX's rolled Threefry against jnn's unrolled one.

Not a comparison with a peer: the same programs compiled with each of JAX's
two lowerings of its Threefry hash (``jnn/_threefry.py``), alternating in one
process (the lowering is chosen before each program is compiled), the
median of ``--repeats`` calls each:

* ``jax.random.bernoulli`` alone, for the shapes of one GPT layer's attention
  dropout ``(32, 4, 128, 128)`` and an RBM's visible sample ``(100, 784)``;
* a training step (Adam, compiled in ``lax.scan``) of the char GPT of
  ``transformer.py`` (4L/4H/128, B = 32, L = 128) and of a BERT 2L/4H/128
  (FFN 512, B = 64, L = 64), both with dropout 0.1 (BERT's default).

The bits are the same under both (``tests/test_threefry.py``); the script
also checks the draws' sums agree.

Run::

    python benchmarks/random_bits.py [--quick | --smoke] [--repeats N]
"""

from __future__ import annotations

import argparse
import time

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import _threefry
from jnn.transformer import BERT, GPT

LOWERINGS = ("rolled", "unrolled")


def bernoulli(shape: tuple[int, ...]):
    """``run()``: one Bernoulli(0.9) draw of ``shape``, compiled now; its sum."""
    draw = jax.jit(lambda key: jnp.sum(jax.random.bernoulli(key, 0.9, shape)))
    compiled = draw.lower(jax.random.key(0)).compile()
    return lambda: int(compiled(jax.random.key(1)))


def training_steps(model_name: str, steps: int, small: bool):
    """``run()``: ``steps`` Adam steps of the model with dropout 0.1; the loss."""
    key = jax.random.key(0)
    if model_name == "GPT":
        b, length = (4, 32) if small else (32, 128)
        model = GPT(
            vocab_size=65, context=length, layers=4, heads=4, features=128,
            dropout_rate=0.1,
        )  # fmt: skip
        tokens = jax.random.randint(key, (b, length), 0, 65)

        def objective(logits):  # next-token cross-entropy
            return optax.softmax_cross_entropy_with_integer_labels(
                logits[:, :-1], tokens[:, 1:]
            ).mean()

    else:
        b, length = (8, 16) if small else (64, 64)
        model = BERT(
            vocab_size=80, max_length=length, layers=2, heads=4, features=128,
            ffn_features=512,
        )  # fmt: skip
        tokens = jax.random.randint(key, (b, length), 4, 80)

        def objective(out):  # a scalar of the first output (MLM logits)
            return jnp.mean(out[0] ** 2)

    def loss(params, k):
        out = model.apply(
            {"params": params}, tokens, deterministic=False, rngs={"dropout": k}
        )
        return objective(out)

    params = model.init(jax.random.key(1), tokens)["params"]
    adam = optax.adam(1e-3)

    def run(params, opt_state, key):
        def step(carry, k):
            params, opt_state = carry
            value, grads = jax.value_and_grad(loss)(params, k)
            updates, opt_state = adam.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        _, values = jax.lax.scan(
            step, (params, opt_state), jax.random.split(key, steps)
        )
        return values[-1]

    args = (params, adam.init(params), jax.random.key(2))
    compiled = jax.jit(run).lower(*args).compile()
    return lambda: float(compiled(*args))


def measure(name: str, make, repeats: int, unit_scale: float) -> dict:
    """Build ``make()`` under each lowering, then alternate timed calls."""
    runs, results = {}, {}
    for lowering in LOWERINGS:
        _threefry.use_cpu_lowering(lowering)
        runs[lowering] = make()
        results[lowering] = runs[lowering]()
    _threefry.use_cpu_lowering("unrolled")
    times = {lowering: [] for lowering in LOWERINGS}
    for _ in range(repeats):
        for lowering, run in runs.items():
            start = time.perf_counter()
            run()
            times[lowering].append((time.perf_counter() - start) * unit_scale)
    row = {"workload": name, "results_agree": results["rolled"] == results["unrolled"]}
    row.update({f"{k}_ms": float(np.median(v)) for k, v in times.items()})
    row["speedup"] = row["rolled_ms"] / row["unrolled_ms"]
    print(
        f"{name:52s} rolled {row['rolled_ms']:9.2f} ms  unrolled "
        f"{row['unrolled_ms']:9.2f} ms  {row['speedup']:5.2f}x  "
        f"same result: {row['results_agree']}",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--smoke", action="store_true", help="runs, not timings")
    args = parser.parse_args(argv)
    if not _threefry.available():
        raise SystemExit("this JAX has no threefry lowering rules to compare.")
    mode = h.mode_of(args)
    repeats = args.repeats or {"smoke": 1, "quick": 5, "full": 9}[mode]
    steps = 1 if mode == "smoke" else 5
    info = h.print_machine()
    rows = [
        measure(f"bernoulli {shape}", lambda s=shape: bernoulli(s), repeats, 1e3)
        for shape in ((32, 4, 128, 128), (100, 784))
    ]
    for model_name in ("GPT", "BERT"):
        rows.append(
            measure(
                f"{model_name} training step, dropout 0.1 (ms per step)",
                lambda m=model_name: training_steps(m, steps, mode == "smoke"),
                repeats,
                1e3 / steps,
            )
        )
    path = h.write_json(
        h.result_name("random_bits", mode), {"machine": info, "rows": rows}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
