"""Benchmark: DCGAN training steps on MNIST, jnn vs PyTorch (issue 17).

Workload: the 28 x 28 DCGAN of :mod:`jnn.generative.gan.dcgan` (generator
1,066,880 parameters, sides 1-4-7-14-28; discriminator 431,872, 28-14-7-4-1;
latent size 100; batch normalisation, ReLU / LeakyReLU(0.2), tanh output; no
biases), MNIST scaled to [-1, 1], batch 64, Adam(2e-4, b1=0.5) for both
players, non-saturating loss. One step = one discriminator update (real and
generated batches through D separately) + one generator update. Figure:
training images per second (64 per step), steady state, median of
``--repeats`` calls of ``--steps`` steps each, interleaved round-robin so that
every row sees the same machine load; compile time apart.

Rows:

* ``jnn.fit``: ``fit(gan_learner(DCGANGenerator(), DCGANDiscriminator(),
  latent_size=100, reuse_fakes=True), {"x": x}, batch_size=64, epochs=1)``:
  the whole epoch is one compiled ``lax.scan`` (the learner is reused: calls
  after the first are not recompiled). ``reuse_fakes`` makes the round the
  PyTorch example's: the generator runs forward once, and its step reuses
  the discriminator step's batch of fakes.
* ``jnn.fit, fresh z``: the learner's default round (Goodfellow et al.'s
  Algorithm 1): the generator step draws fresh ``z`` and runs the generator
  forward again (one more generator forward pass than the peers' step).
* ``torch eager``: PyTorch's DCGAN example step (``examples/dcgan/main.py``:
  ``netD(real)``, ``netD(fake.detach())``, ``netD(fake)`` for the generator,
  foreach Adam) with the same architecture, ``torch.set_num_threads(cores)``.
* ``torch.compile``: the same step with both networks through
  ``torch.compile`` (skipped with the reason when it fails here).

Run::

    taskset -c 1 .venv/bin/python benchmarks/gan.py      # a few minutes, one core
    .venv/bin/python benchmarks/gan.py --quick
    .venv/bin/python benchmarks/gan.py --smoke

Results go to ``benchmarks/results/gan.json`` (``gan_quick.json``).
"""

from __future__ import annotations

import argparse
from typing import Any

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np

from jnn import data
from jnn.generative.gan import DCGANDiscriminator, DCGANGenerator, gan_learner

LATENT, BATCH, LR, B1 = 100, 64, 2e-4, 0.5
TARGET = 1.5  # issue 17: >= 1.5x PyTorch (145 img/s on 2 cores)


def mnist(n: int) -> np.ndarray:
    """``n`` MNIST training images, NHWC in [-1, 1]."""
    ds = data.load("mnist", standardize=False, flatten=False, val_size=1000)
    return ds.train["x"][:n] * 2.0 - 1.0


def parameter_counts() -> tuple[int, int]:
    """(generator, discriminator) parameters of the jnn networks."""
    from jnn.train import init_model

    g, _ = init_model(DCGANGenerator(), jax.random.key(0), jnp.zeros((1, LATENT)))
    d, _ = init_model(
        DCGANDiscriminator(), jax.random.key(0), jnp.zeros((1, 28, 28, 1))
    )
    count = lambda t: sum(a.size for a in jax.tree.leaves(t))  # noqa: E731
    return count(g), count(d)


# --- jnn ---------------------------------------------------------------------------


def jnn_trainer(x: np.ndarray, reuse_fakes: bool = True):
    """``run(i)``: one ``fit`` epoch over ``x`` (len(x) // 64 steps), seed ``i``."""
    learner = gan_learner(
        DCGANGenerator(),
        DCGANDiscriminator(),
        latent_size=LATENT,
        reuse_fakes=reuse_fakes,
    )
    train = {"x": jnp.asarray(x)}
    return h.fit_runner(
        learner,
        train,
        lambda r: r.history["generator_loss"],
        epochs=1,
        batch_size=BATCH,
    )


# --- PyTorch -----------------------------------------------------------------------


def torch_networks():
    """The same generator and discriminator in PyTorch, DCGAN initialisation."""
    import torch
    from torch import nn

    g = nn.Sequential(
        nn.ConvTranspose2d(LATENT, 256, 4, 1, 0, bias=False),
        nn.BatchNorm2d(256),
        nn.ReLU(True),
        nn.ConvTranspose2d(256, 128, 4, 2, 2, output_padding=1, bias=False),
        nn.BatchNorm2d(128),
        nn.ReLU(True),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(True),
        nn.ConvTranspose2d(64, 1, 4, 2, 1, bias=False),
        nn.Tanh(),
    )
    d = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False),
        nn.BatchNorm2d(128),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(128, 256, 3, 2, 1, bias=False),
        nn.BatchNorm2d(256),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(256, 1, 4, 1, 0, bias=False),
    )

    def init(m):
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    g.apply(init)
    d.apply(init)
    torch.manual_seed(0)
    return g, d


def torch_trainer(x: np.ndarray, compiled: bool):
    """``run(i)``: PyTorch's DCGAN example step over ``x`` in batches of 64."""
    import torch
    import torch.nn.functional as F

    x_all = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    g, d = torch_networks()
    opt_g = torch.optim.Adam(g.parameters(), lr=LR, betas=(B1, 0.999), foreach=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=LR, betas=(B1, 0.999), foreach=True)
    net_g, net_d = (torch.compile(g), torch.compile(d)) if compiled else (g, d)
    ones, zeros = torch.ones(BATCH), torch.zeros(BATCH)

    def step(real):
        d.zero_grad(set_to_none=True)
        loss_real = F.binary_cross_entropy_with_logits(net_d(real).view(-1), ones)
        loss_real.backward()
        fake = net_g(torch.randn(BATCH, LATENT, 1, 1))
        loss_fake = F.binary_cross_entropy_with_logits(
            net_d(fake.detach()).view(-1), zeros
        )
        loss_fake.backward()
        opt_d.step()
        g.zero_grad(set_to_none=True)
        loss_g = F.binary_cross_entropy_with_logits(net_d(fake).view(-1), ones)
        loss_g.backward()
        opt_g.step()
        return loss_g

    def run(i: int):
        torch.manual_seed(i)
        order = torch.randperm(len(x_all))
        losses = [
            step(x_all[order[s * BATCH : (s + 1) * BATCH]]).item()
            for s in range(len(x_all) // BATCH)
        ]
        return np.asarray(losses)

    return run


# --- the table ---------------------------------------------------------------------


#: The PyTorch rows: ``name -> (adam, compiled, threads)`` (foreach Adam).
TORCH_ROWS = {"torch eager": (None, False, None), "torch.compile": (None, True, None)}


def throughput_rows(x, repeats: int, peers: list[str]) -> list[h.Row]:
    workload = f"DCGAN 28x28 G 1.07M / D 0.43M, B={BATCH}, D+G step"
    workloads: dict[str, Any] = {
        "jnn.fit": jnn_trainer(x),
        "jnn.fit, fresh z": jnn_trainer(x, reuse_fakes=False),
    }
    make = lambda adam, compiled: torch_trainer(x, compiled)  # noqa: E731
    workloads.update(h.torch_workloads(make, peers, TORCH_ROWS))

    def quality(name: str, t: h.Timing) -> dict[str, float]:
        return {"last_generator_loss": float(np.asarray(t.results[-1])[-1])}

    images = (len(x) // BATCH) * BATCH
    return h.cpu_timed_rows(workload, workloads, repeats, images, quality)


PEERS = ["torch eager", "torch.compile"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="D+G steps per call")
    args = h.add_run_arguments(parser, PEERS, "fewer repeats").parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 4, 3
    if args.smoke:
        args.steps, args.repeats, args.peers = 2, 1, ["torch eager"]
    info = h.machine_info()
    h.set_torch_threads()
    g_count, d_count = parameter_counts()
    info["parameters"] = {"generator": g_count, "discriminator": d_count}
    x = mnist(args.steps * BATCH)
    rows, start = h.monitored(
        info, lambda: throughput_rows(x, args.repeats, args.peers), quiet=True
    )
    h.print_table(rows, "DCGAN training, images/s", info=info)
    print(f"parameters: generator {g_count:,}, discriminator {d_count:,}")
    h.print_cpu_rates(
        rows,
        lambda r: f"median {r.extra['median_s']:.3f} s per {args.steps} steps",
    )
    comparisons = h.row_comparisons(rows, targets={r.workload: TARGET for r in rows})
    h.finish("gan", args, info, rows, comparisons, start)


if __name__ == "__main__":
    main()
