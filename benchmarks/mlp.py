"""Benchmark: a 64-64-10 MLP on digits, jnn against four other implementations.

Every implementation trains the same network (64 inputs, 64 ReLU hidden units,
10 outputs; softmax cross-entropy) on the same data
(``jnn.data.load("digits", seed=0)``: 1169 training rows, standardised) with
Adam (learning rate 1e-3), batch 64, 200 epochs, in one process:

* ``jnn.fit``: :func:`jnn.train.fit` (the driver users call).
* ``jnn.run``: ``jax.jit(lambda k: jnn.train.run(...))``, the pure core.
* ``hand-JAX``: a hand-written loop, the whole training in one ``jax.jit`` with
  a ``lax.scan`` over epochs around a ``lax.scan`` over batches (Flax
  ``model.apply`` and Optax directly, no ``jnn.train``).
* ``torch eager`` / ``torch eager foreach`` / ``torch eager fused`` /
  ``torch.compile fused``: a plain PyTorch CPU loop (manual shuffled batching
  of tensors, same drop-last rule) with ``torch.optim.Adam``'s default CPU
  kernels (a for-loop over the tensors), ``foreach=True``, ``fused=True``,
  and the model under ``torch.compile`` (inductor) with fused Adam; torch's
  threads = the cores this process may use; fused eager and compiled also on
  1 thread (``_harness.TORCH_VARIANTS``).
  A variant that fails here (e.g. no C++ compiler for inductor) is a skipped
  row with the reason.
* ``sklearn`` / ``sklearn (1 thread)``: ``MLPClassifier(solver="adam",
  alpha=0)`` run for all 200 epochs (``tol=0``), with the BLAS threads at the
  core count and at 1 (small matrices: one thread can win); it also trains on
  the last, partial batch of every epoch.

Samples/s is (samples trained per epoch x epochs) / wall time of one whole
training, median of ``--repeats`` timed runs after one warm-up run (each run a
fresh initialisation and seed). Compile time of the JAX rows is the first
call's time minus that median. Test accuracy is the mean over the timed runs.
``vs fastest peer``: the row's samples/s over the fastest PyTorch or
scikit-learn row's (the headline ratio is jnn.fit's). Measured numbers are in
``benchmarks/README.md`` and ``benchmarks/results/mlp.json``.

Run::

    .venv/bin/python benchmarks/mlp.py            # ~1 min on 2 cores
    .venv/bin/python benchmarks/mlp.py --quick    # 50 epochs, 3 repeats
    .venv/bin/python benchmarks/mlp.py --smoke    # a few seconds

Results go to ``benchmarks/results/mlp.json`` (``mlp_quick.json``, ...).
"""

from __future__ import annotations

import argparse
import warnings

import _harness as h
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jnn

WORKLOAD = "digits 64-64-10"
FEATURES = (64, 10)
BATCH = 64
LR = 1e-3


def hand_jax_trainer(
    model: nn.Module, *, epochs: int, batch_size: int, lr: float, metrics: bool
):
    """The whole training as one jitted function ``train(key, x, y)``.

    ``lax.scan`` over epochs (one permutation each, its ``n // batch_size``
    full batches) around ``lax.scan`` over the batches. Returns the final
    parameters and the mean training loss of every epoch; with ``metrics``,
    also the per-step accuracy and global gradient norm that jnn's
    ``gradient_learner`` records (to separate their cost from the engine's).
    """
    opt = optax.adam(lr)

    def loss_fn(params, xb, yb):
        logits = model.apply({"params": params}, xb)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == yb)

    def train(key, x, y):
        n = x.shape[0]
        steps = n // batch_size
        init_key, key = jax.random.split(key)
        params = model.init(init_key, x[:batch_size])["params"]

        def step(carry, rows):
            params, opt_state = carry
            grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
            (loss, accuracy), grads = grad_fn(params, x[rows], y[rows])
            updates, opt_state = opt.update(grads, opt_state, params)
            out = {"loss": loss}
            if metrics:
                out.update(accuracy=accuracy, grad_norm=optax.global_norm(grads))
            return (optax.apply_updates(params, updates), opt_state), out

        def epoch(carry, epoch_key):
            perm = jax.random.permutation(epoch_key, n)[: steps * batch_size]
            carry, out = jax.lax.scan(step, carry, perm.reshape(steps, -1))
            return carry, jax.tree.map(jnp.mean, out)

        keys = jax.random.split(key, epochs)
        (params, _), history = jax.lax.scan(epoch, (params, opt.init(params)), keys)
        return params, history

    return jax.jit(train)


def jax_accuracy(model: nn.Module, params, data) -> float:
    logits = model.apply({"params": params}, data["x"])
    return float(jnp.mean(jnp.argmax(logits, -1) == data["y"]))


def bench_jnn(train, test, epochs: int, repeats: int):
    """Rows for ``jnn.fit`` and jitted ``jnn.run``."""
    model = jnn.static.MLP(features=FEATURES, activation="relu")
    learner = jnn.train.gradient_learner(
        model, jnn.train.classification_loss(model), optax.adam(LR)
    )
    per_epoch = (len(train["y"]) // BATCH) * BATCH

    fit = h.fit_runner(learner, train, epochs=epochs, batch_size=BATCH)
    run = jax.jit(
        lambda k: jnn.train.run(learner, train, key=k, epochs=epochs, batch_size=BATCH)
    )
    rows = []
    for name, fn in [("jnn.fit", fit), ("jnn.run", lambda i: run(jax.random.key(i)))]:
        if name == "jnn.fit":
            t = h.time_calls(fn, repeats)
        else:  # a failure of the secondary row is reported, not fatal
            t = h.time_or_skip(fn, repeats)
            if isinstance(t, str):
                rows.append(h.skipped_row(WORKLOAD, name, t, peer=False))
                continue
        states = [r if name == "jnn.fit" else r.state for r in t.results]
        accs = [float(learner.evaluate(s, test)["accuracy"]) for s in states]
        rows.append(h.training_row(WORKLOAD, name, t, per_epoch * epochs, accs))
    return rows


def bench_hand_jax(train, test, epochs: int, repeats: int, metrics: bool = False):
    model = jnn.static.MLP(features=FEATURES, activation="relu")
    kw = dict(epochs=epochs, batch_size=BATCH, lr=LR, metrics=metrics)
    trainer = hand_jax_trainer(model, **kw)
    t = h.time_calls(
        lambda i: trainer(jax.random.key(i), train["x"], train["y"]), repeats
    )
    accs = [jax_accuracy(model, params, test) for params, _ in t.results]
    per_epoch = (len(train["y"]) // BATCH) * BATCH
    name = "hand-JAX+metrics" if metrics else "hand-JAX"
    return h.training_row(WORKLOAD, name, t, per_epoch * epochs, accs)


def bench_sklearn(train, test, epochs: int, repeats: int, threads: int) -> h.Row:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    def fit(i):
        clf = MLPClassifier(
            hidden_layer_sizes=FEATURES[:-1],
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=BATCH,
            learning_rate_init=LR,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=epochs + 1,
            shuffle=True,
            random_state=i,
        )
        with warnings.catch_warnings(), threadpool_limits(threads):
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(train["x"], train["y"])
        assert clf.n_iter_ == epochs, clf.n_iter_
        return clf

    t = h.time_calls(fit, repeats)
    t.first = None
    accs = [float(c.score(test["x"], test["y"])) for c in t.results]
    # scikit-learn also trains on each epoch's last, partial batch.
    name = "sklearn" if threads == h.cores() else f"sklearn ({threads} thread)"
    return h.training_row(WORKLOAD, name, t, len(train["y"]) * epochs, accs, peer=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (JAX)")
    parser.add_argument(
        "--slow-repeats",
        type=int,
        default=None,
        help="timed runs for torch and sklearn (default: --repeats)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="50 epochs, 3 repeats (a sweep)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="10 epochs, 2 repeats: a quick check"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.repeats = 10, 2
    elif args.quick:
        args.epochs, args.repeats = 50, 3
    mode = h.mode_of(args)
    slow_repeats = args.slow_repeats or args.repeats
    h.set_torch_threads()
    monitor = h.CpuMonitor().start()

    data = jnn.data.load("digits", seed=0)
    # Put the data on the device once, outside the timed region.
    train = {k: np.asarray(v) for k, v in data.train.items()}
    test = {k: np.asarray(v) for k, v in data.test.items()}
    train_dev = jax.device_put(train)
    test_dev = jax.device_put(test)

    # JAX first: torch's and OpenBLAS's spinning worker threads would otherwise
    # compete with XLA's for the cores.
    rows = bench_jnn(train_dev, test_dev, args.epochs, args.repeats)
    rows.append(bench_hand_jax(train_dev, test_dev, args.epochs, args.repeats))
    rows.append(
        bench_hand_jax(train_dev, test_dev, args.epochs, args.repeats, metrics=True)
    )
    rows += h.torch_mlp_rows(
        WORKLOAD,
        train,
        test,
        FEATURES,
        epochs=args.epochs,
        batch_size=BATCH,
        lr=LR,
        repeats=slow_repeats,
    )
    for sk_threads in dict.fromkeys((h.cores(), 1)):
        rows.append(bench_sklearn(train, test, args.epochs, slow_repeats, sk_threads))

    info = h.machine_info()
    info["cpu_usage"] = monitor.stop()
    title = (
        f"{WORKLOAD}, batch {BATCH}, Adam {LR:g}, {args.epochs} epochs; "
        f"median of {args.repeats} (torch/sklearn {slow_repeats}) after warm-up"
    )
    h.print_table(rows, title, info=info)
    speed = {r.impl: r.samples_per_s for r in rows if r.samples_per_s is not None}
    ratios = {
        f"jnn.fit/{k}": speed["jnn.fit"] / v for k, v in speed.items() if k != "jnn.fit"
    }
    print("  ".join(f"{k} = {v:.2f}" for k, v in ratios.items()))
    comparisons = h.row_comparisons(rows)
    payload = {
        "workload": WORKLOAD,
        "mode": mode,
        "config": {**vars(args), "slow_repeats": slow_repeats, "batch": BATCH},
        "machine": info,
        "rows": rows,
        "ratios": ratios,
        "vs_fastest_peer": comparisons,
    }
    h.report("mlp", args, payload, comparisons, usage=info["cpu_usage"])
    return payload


if __name__ == "__main__":
    main()
