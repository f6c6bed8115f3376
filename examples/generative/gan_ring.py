"""Mode collapse made visible: GAN vs WGAN-GP on 8 Gaussians, seeds vmapped (Gen3).

Data: the ring of 8 Gaussians of Metz et al. (2017) and Srivastava et al.
(2017): means evenly spaced on a circle of radius 2, standard deviation
0.02 (:func:`jnn.data.mixtures.gaussian_ring`, 8,192 points). Both methods
train the same MLP players (two ReLU layers of ``--width`` units, latent
size 16) for ``--steps`` generator steps with learning rates decaying
linearly to zero, ``--seeds`` seeds at once (``jax.jit(jax.vmap(run))``):

* ``GAN``: non-saturating loss, Adam(``--lr``, b1=0.5), batch ``--batch``;
* ``WGAN-GP``: 5 critic steps per generator step on fresh batches, Adam(``--lr``,
  b1=0, b2=0.9), penalty weight ``--penalty`` (1 by default: the paper's 10
  keeps the critic too smooth to resolve modes 0.06 wide within a few
  thousand steps; Gulrajani et al.'s own toy code uses 0.1).

Scores (:func:`jnn.generative.gan.ring_scores`, VEEGAN's): modes covered (a
mode counts when at least 2.5% of 2,500 samples lie within 3 std of it) and
the share of high-quality samples (within 3 std of any mode). Plot: samples
of every seed over the ring, one panel per method.

The defaults (``--lr 3e-3 --width 64 --batch 64``) cover the ring with
WGAN-GP in all 4 seeds (GAN 4, 2, 4, 2 modes); the earlier defaults (1e-3,
128, 256) reached WGAN-GP 3, 8, 6, 8 in the same 3,000 steps.

Run:  python examples/generative/gan_ring.py [--seeds 4] [--steps 3000]
      [--width 64] [--batch 64] [--lr 3e-3] [--penalty 1.0] [--out DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from jnn.data.mixtures import gaussian_ring, ring_centres  # noqa: E402
from jnn.generative.gan import (  # noqa: E402
    MLPDiscriminator,
    MLPGenerator,
    gan_learner,
    generate,
    ring_scores,
)
from jnn.train import run  # noqa: E402

LATENT, STD = 16, 0.02


def learners(args):
    """The two methods: (learner, batch size)."""
    g = MLPGenerator(2, (args.width, args.width))
    d = MLPDiscriminator((args.width, args.width))

    def adam(count, b1, b2=0.999):
        return optax.adam(optax.linear_schedule(args.lr, 0.0, count), b1, b2)

    gan = gan_learner(
        g,
        d,
        latent_size=LATENT,
        generator_optimizer=adam(args.steps, 0.5),
        discriminator_optimizer=adam(args.steps, 0.5),
    )
    wgan_gp = gan_learner(
        g,
        d,
        latent_size=LATENT,
        loss="wasserstein",
        penalty=args.penalty,
        n_critic=5,
        split_batch=True,
        generator_optimizer=adam(args.steps, 0.0, 0.9),
        discriminator_optimizer=adam(5 * args.steps, 0.0, 0.9),
    )
    return g, {"GAN": (gan, args.batch), "WGAN-GP": (wgan_gp, 5 * args.batch)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3000, help="generator steps")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--penalty", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds, args.steps, args.width, args.batch = 2, 50, 16, 64
    args.out.mkdir(parents=True, exist_ok=True)
    key = jax.random.key(args.seed)
    data = gaussian_ring(jax.random.fold_in(key, 0), 8192)
    centres = ring_centres()
    generator, methods = learners(args)
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    rows = {}
    for ax, (name, (learner, batch)) in zip(axes, methods.items(), strict=True):
        epochs = -(-args.steps // (len(data["x"]) // batch))

        def train(k, learner=learner, batch=batch, epochs=epochs):
            state = run(learner, data, key=k, epochs=epochs, batch_size=batch).state
            x = generate(
                generator, state, jax.random.fold_in(k, 1), 2500, latent_size=LATENT
            )
            return x, ring_scores(x, centres, STD)

        start = time.perf_counter()
        keys = jax.random.split(jax.random.fold_in(key, 1), args.seeds)
        x, scores = jax.block_until_ready(jax.jit(jax.vmap(train))(keys))
        seconds = time.perf_counter() - start
        covered = np.asarray(scores.modes_covered).tolist()
        quality = np.round(np.asarray(scores.high_quality), 3).tolist()
        rows[name] = {
            "modes_covered": covered,
            "high_quality": quality,
            "mode_counts": np.asarray(scores.mode_counts).tolist(),
            "seconds": seconds,
        }
        print(
            f"{name}: modes covered {covered}, high-quality {quality}, {seconds:.0f} s"
        )
        x = np.asarray(x)
        for s in range(args.seeds):
            ax.scatter(x[s, :600, 0], x[s, :600, 1], s=2, alpha=0.5, label=f"seed {s}")
        ax.scatter(*np.asarray(centres).T, c="k", marker="x", s=40, label="modes")
        ax.set_title(f"{name}: modes covered {covered}")
        ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal")
    axes[0].legend(fontsize=7, loc="lower left")
    figure = args.out / "gan_ring.png"
    fig.savefig(figure, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(
        f"\n8 Gaussians (std {STD}), {args.steps} generator steps, {args.seeds} seeds"
    )
    print("| method | modes covered (of 8) | mean | high-quality samples |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['modes_covered']} | {np.mean(r['modes_covered']):.1f} | "
            f"{r['high_quality']} |"
        )
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    summary = {"config": config, "results": rows, "figure": str(figure)}
    (args.out / "gan_ring.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
