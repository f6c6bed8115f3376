"""Benchmark: CD-1 training of a 784-500 RBM on MNIST, jnn vs PyTorch and scikit-learn.

Workload (issue 16): binarised MNIST (stochastic, fixed key), a 784 x 500
Bernoulli RBM, CD-1 on shuffled batches of 100 with Hinton's update (learning
rate 0.1, momentum 0.5, weight decay 2e-4; sampled hidden and visible
states). Figure: training images per second over ``--images`` images per
call (one epoch over them), steady state, median of ``--repeats`` calls,
interleaved round-robin so that every row sees the same machine load.

Rows:

* ``jnn.fit``: ``fit(contrastive_divergence(500), {"x": x}, batch_size=100,
  epochs=1)``; the learner is reused, so calls after the first are not
  recompiled. Its gradient is ``jax.grad`` of the free-energy gap (the same
  five ``(100 x 784) x (784 x 500)``-sized products as a hand-written step).
* ``torch eager`` / ``torch eager 1 thread``: the same CD-1 step written in
  plain PyTorch (``torch.sigmoid``, ``torch.bernoulli``, in-place momentum);
  ``torch.compile``: that step through ``torch.compile`` (skipped with the
  reason when it fails here).
* ``sklearn BernoulliRBM PCD-1``: ``BernoulliRBM(500, batch_size=100,
  learning_rate=0.1, n_iter=1).fit(x)``: persistent CD-1 without momentum,
  scikit-learn's only rule (the same five products per batch).

Quality: the exact pseudo-likelihood (``jnn.generative.pseudo_likelihood``,
all 784 units) of 1,000 test images under each row's trained parameters.

Run::

    taskset -c 1 .venv/bin/python benchmarks/rbm.py            # ~3 min on one core
    .venv/bin/python benchmarks/rbm.py --quick
    .venv/bin/python benchmarks/rbm.py --smoke

Results go to ``benchmarks/results/rbm.json`` (``rbm_quick.json``).
"""

from __future__ import annotations

import argparse
from typing import Any

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np

from jnn import data
from jnn import generative as gen

VISIBLE, HIDDEN, BATCH, LR, MOMENTUM, DECAY = 784, 500, 100, 0.1, 0.5, 2e-4


def mnist(n_train: int, n_test: int):
    """Binarised MNIST training and test images (fixed keys)."""
    ds = data.load("mnist", standardize=False, val_size=1000)
    images = np.concatenate([ds.train["x"][:n_train], ds.test["x"][:n_test]])
    binary = np.asarray(gen.binarize(jax.random.key(0), images))
    return binary[:n_train], binary[n_train:]


# --- jnn ---------------------------------------------------------------------------


def jnn_trainer(x: np.ndarray):
    """``run(i)``: one ``fit`` epoch over ``x``, seed ``i``; returns the RBM."""
    learner = gen.contrastive_divergence(
        HIDDEN, learning_rate=LR, momentum=MOMENTUM, weight_decay=DECAY
    )
    train = {"x": jnp.asarray(x)}
    return h.fit_runner(
        learner, train, lambda r: r.state.rbm, epochs=1, batch_size=BATCH
    )


# --- PyTorch -------------------------------------------------------------------------


def torch_step():
    """The plain PyTorch CD-1 update (in place)."""
    import torch

    def step(v0, W, b, c, dW, db, dc):
        ph0 = torch.sigmoid(v0 @ W + c)
        h0 = torch.bernoulli(ph0)
        pv1 = torch.sigmoid(h0 @ W.T + b)
        v1 = torch.bernoulli(pv1)
        ph1 = torch.sigmoid(v1 @ W + c)
        grad = (v0.T @ ph0 - v1.T @ ph1) / v0.shape[0]
        dW.mul_(MOMENTUM).add_(grad - DECAY * W, alpha=LR)
        db.mul_(MOMENTUM).add_((v0 - v1).mean(0), alpha=LR)
        dc.mul_(MOMENTUM).add_((ph0 - ph1).mean(0), alpha=LR)
        W.add_(dW)
        b.add_(db)
        c.add_(dc)
        return ((v0 - pv1) ** 2).sum(1).mean()

    return step


def torch_trainer(x: np.ndarray, compiled: bool):
    """``run(i)``: one epoch of plain PyTorch CD-1 over ``x``, seed ``i``."""
    import torch

    x_all = torch.from_numpy(x)
    step = torch_step()
    if compiled:
        step = torch.compile(step)

    def run(i: int):
        gen_ = torch.Generator().manual_seed(i)
        torch.manual_seed(i)
        W = 0.01 * torch.randn(VISIBLE, HIDDEN, generator=gen_)
        b, c = torch.zeros(VISIBLE), torch.zeros(HIDDEN)
        dW, db, dc = torch.zeros_like(W), torch.zeros_like(b), torch.zeros_like(c)
        order = torch.randperm(len(x_all), generator=gen_)
        with torch.no_grad():
            for s in range(len(x_all) // BATCH):
                step(x_all[order[s * BATCH : (s + 1) * BATCH]], W, b, c, dW, db, dc)
        return gen.RBM(*(jnp.asarray(t.numpy()) for t in (W, b, c)))

    return run


# --- scikit-learn --------------------------------------------------------------------


def sklearn_trainer(x: np.ndarray):
    """``run(i)``: ``BernoulliRBM(500).fit`` for one epoch (PCD-1), seed ``i``."""
    from sklearn.neural_network import BernoulliRBM

    def run(i: int):
        rbm = BernoulliRBM(
            n_components=HIDDEN,
            learning_rate=LR,
            batch_size=BATCH,
            n_iter=1,
            random_state=i,
        ).fit(x)
        return gen.RBM(
            jnp.asarray(rbm.components_.T, jnp.float32),
            jnp.asarray(rbm.intercept_visible_, jnp.float32),
            jnp.asarray(rbm.intercept_hidden_, jnp.float32),
        )

    return run


# --- the table -----------------------------------------------------------------------


#: The PyTorch rows: ``name -> (adam, compiled, threads)`` (no Adam here).
TORCH_ROWS = {
    "torch eager": (None, False, None),
    "torch eager 1 thread": (None, False, 1),
    "torch.compile": (None, True, None),
}


def throughput_rows(x, test, repeats: int, peers: list[str]) -> list[h.Row]:
    workload = f"CD-1 784-{HIDDEN} RBM, MNIST, B={BATCH}"
    workloads: dict[str, Any] = {"jnn.fit": jnn_trainer(x)}
    make = lambda adam, compiled: torch_trainer(x, compiled)  # noqa: E731
    workloads.update(h.torch_workloads(make, peers, TORCH_ROWS))
    if "sklearn" in peers:
        workloads["sklearn BernoulliRBM PCD-1"] = sklearn_trainer(x)
    pseudo = jax.jit(lambda rbm: jnp.mean(gen.pseudo_likelihood(rbm, test)))

    def quality(name: str, t: h.Timing) -> dict[str, float]:
        return {"pseudo_likelihood": float(pseudo(t.results[-1]))}

    return h.cpu_timed_rows(
        workload, workloads, repeats, len(x), quality, first_call=False
    )


PEERS = ["torch eager", "torch eager 1 thread", "torch.compile", "sklearn"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    args = h.add_run_arguments(parser, PEERS, "fewer images and rows").parse_args(argv)
    if args.quick:
        args.images, args.repeats = 10_000, 3
    if args.smoke:
        args.images, args.repeats, args.peers = 1000, 1, ["torch eager", "sklearn"]
    info = h.machine_info()
    h.set_torch_threads()
    x, test = mnist(args.images, 1000)
    rows, start = h.monitored(
        info, lambda: throughput_rows(x, test, args.repeats, args.peers), quiet=True
    )
    for r in rows:
        if r.samples_per_s is not None:
            r.extra["pseudo_likelihood"] = round(r.extra["pseudo_likelihood"], 2)
    h.print_table(rows, "CD-1 training, images/s", info=info)
    h.print_cpu_rates(
        rows, lambda r: f"pseudo-likelihood {r.extra['pseudo_likelihood']} nats"
    )
    comparisons = h.row_comparisons(rows, targets={r.workload: 2.0 for r in rows})
    h.finish("rbm", args, info, rows, comparisons, start)


if __name__ == "__main__":
    main()
