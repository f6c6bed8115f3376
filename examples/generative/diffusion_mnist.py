"""DDPM on MNIST under a wall-clock budget; ancestral, DDIM-50 and ODE samples scored.

Training (Ho et al. 2020): the epsilon-prediction :class:`jnn.generative.
diffusion.UNet` with the simple loss, Adam (linear warm-up, gradient clipping at
1) and an exponential moving average of the weights (:func:`jnn.train.
with_ema`, warm-up decay), on the 55,000 MNIST training images scaled to
``[-1, 1]``, for ``--minutes`` of wall-clock time. The data are walked in
rounds of ``--round-images`` images (a fresh slice of a per-pass permutation);
each round is one :func:`jnn.train.fit` epoch from the previous state (one
compilation for all of them), and the state is checkpointed after every round
into ``--checkpoint-dir`` (Orbax, the engine's :class:`Checkpointer`), from
which a rerun resumes (``--minutes 0 --evaluate`` only evaluates).

Evaluation with the EMA weights, every sampler on the same network: the
1000-step ancestral sampler, DDIM with 50 steps (eta 0; ``--ddim-etas 0 0.5
1`` adds the stochastic variants, ``--ddim-spacings`` Song et al.'s
sub-sequences) and the
probability-flow ODE (Diffrax Tsit5, PID controller; its network evaluations
reported). Each gives ``--samples`` images scored by the MNIST-FID yardstick
(:mod:`jnn.generative.evaluation`: FID against the 10,000 test images,
classifier confidence, class coverage) beside the real-vs-real floor at the
same sample count; DDIM's speed-up over the ancestral sampler is measured on
the same batches. Sample grids go to ``--out``.

Run:  python examples/generative/diffusion_mnist.py [--minutes 50] [--samples 256]
      [--channels 16] [--blocks 1] [--batch 32] [--evaluate] [--smoke]
      [--ddim-etas 0 0.5 1] [--ddim-spacings uniform quadratic]
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from rich.progress import Progress

from jnn import data, plotting
from jnn.generative import diffusion as dm
from jnn.generative import evaluation
from jnn.train import ema_params, fit, gradient_learner, with_ema
from jnn.train.checkpoint import Checkpointer


def mnist_images() -> np.ndarray:
    """The 55,000 training images as ``(n, 28, 28, 1)`` in ``[-1, 1]``."""
    ds = data.load("mnist", standardize=False, flatten=False)
    return np.asarray(dm.to_model_range(ds.train["x"]))


def build(args):
    """Model, schedule and learner (the same objects serve every round)."""
    model = dm.UNet(
        channels=args.channels,
        multipliers=tuple(args.multipliers),
        blocks=args.blocks,
        groups=args.groups,
    )
    schedule = {"linear": dm.linear_schedule, "cosine": dm.cosine_schedule}[
        args.schedule
    ](args.steps)
    warmup = optax.linear_schedule(0.0, args.learning_rate, args.warmup_steps)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(warmup))
    learner = with_ema(
        gradient_learner(model, dm.simple_loss(model, schedule), optimizer),
        args.ema_decay,
        warmup=True,
    )
    return model, schedule, learner


def train(args, images, learner, bar: Progress) -> tuple[object, dict]:
    """Rounds of ``fit`` until the wall-clock budget is spent (resuming)."""
    key = jax.random.key(args.seed)
    n_round = args.round_images
    rounds_per_pass = len(images) // n_round
    template = learner.init(key, {"x": jnp.asarray(images[: args.batch])})
    saver = Checkpointer(args.checkpoint_dir, every=1, max_to_keep=2)
    done = saver.latest_epoch() or 0
    state = saver.restore(template, key) if done else None
    if done:
        print(f"resumed from {args.checkpoint_dir} after {done} rounds")
    losses, start = [], time.perf_counter()
    task = bar.add_task("training", total=args.minutes * 60)
    while time.perf_counter() - start < args.minutes * 60:
        passes, slot = divmod(done, rounds_per_pass)
        order = np.random.default_rng([args.seed, passes]).permutation(len(images))
        rows = np.sort(order[slot * n_round : (slot + 1) * n_round])
        result = fit(
            learner,
            {"x": images[rows]},
            key=jax.random.fold_in(key, done),
            epochs=1,
            batch_size=args.batch,
            init_state=state,
            progress=False,
        )
        state, done = result.state, done + 1
        losses.append(float(result.history["loss"][-1]))
        saver.save(done, state, key, force=True)
        elapsed = time.perf_counter() - start
        bar.update(
            task,
            completed=min(elapsed, args.minutes * 60),
            description=f"round {done}, {int(state.updates)} steps, "
            f"loss {losses[-1]:.4f}",
        )
        print(
            f"round {done}: {int(state.updates)} steps, loss {losses[-1]:.4f}, "
            f"{elapsed / 60:.1f} min",
            flush=True,
        )
    saver.close()
    if state is None:
        raise SystemExit(f"no checkpoint in {args.checkpoint_dir} and --minutes 0")
    seconds = time.perf_counter() - start
    return state, {"rounds": done, "steps": int(state.updates), "losses": losses,
                   "train_seconds": seconds}  # fmt: skip


def draw(name, sampler, n, batch, key, bar: Progress):
    """``n`` samples in batches of ``batch``; (images in [0, 1], seconds, extra).

    Seconds per image in the steady state: over the full batches after the
    first (which holds the compilation); a smaller last batch is a new shape,
    compiled again, so it is not timed either.
    """
    out, extra, seconds, timed = [], [], 0.0, 0
    task = bar.add_task(name, total=n)
    for i in range(0, n, batch):
        size = min(batch, n - i)
        begin = time.perf_counter()
        result = jax.block_until_ready(sampler(jax.random.fold_in(key, i), size))
        if i and size == batch:
            seconds, timed = seconds + time.perf_counter() - begin, timed + size
        if isinstance(result, dm.FlowSample):
            extra.append(int(result.evaluations))
            result = result.samples
        out.append(np.asarray(dm.to_pixels(result)))
        bar.update(task, advance=size)
    if not timed:  # one batch: time it again, compiled
        begin = time.perf_counter()
        jax.block_until_ready(sampler(key, min(n, batch)))
        seconds, timed = time.perf_counter() - begin, min(n, batch)
    return np.concatenate(out), seconds / timed, extra


def evaluate(args, model, schedule, state, bar: Progress) -> dict:
    params = ema_params(state).copy()
    shape = (28, 28, 1)

    def ddim(k, b, spacing, eta):
        return dm.ddim_sample(
            model, params, schedule, k, (b, *shape), steps=args.ddim_steps,
            spacing=spacing, eta=eta,
        )  # fmt: skip

    def ddim_name(spacing: str, eta: float) -> str:
        name = f"ddim-{args.ddim_steps}"
        name += "" if spacing == "uniform" else f"-{spacing}"
        return name + ("" if eta == 0 else f"-eta{eta:g}")

    samplers = {
        "ancestral-1000": lambda k, b: dm.ancestral_sample(
            model, params, schedule, k, (b, *shape)
        ),
        **{
            ddim_name(spacing, eta): functools.partial(ddim, spacing=spacing, eta=eta)
            for spacing in args.ddim_spacings
            for eta in args.ddim_etas
        },
        "ode-tsit5": lambda k, b: dm.probability_flow_sample(
            model, params, schedule, k, (b, *shape), rtol=args.rtol, atol=args.rtol
        ),
    }
    classifier = None if args.smoke else evaluation.load_mnist_classifier()
    rows = {}
    for i, (name, sampler) in enumerate(samplers.items()):
        key = jax.random.key(args.seed + 100 + i)
        images, per_image, nfe = draw(name, sampler, args.samples, args.sample_batch,
                                      key, bar)  # fmt: skip
        row = {"seconds_per_image": per_image}
        if nfe:
            row["evaluations"] = float(np.mean(nfe))
        if classifier is not None:
            scores = evaluation.mnist_scores(images, classifier=classifier)
            row.update(
                fid=scores.fid,
                confidence=scores.quality.confidence,
                coverage=scores.quality.mode_coverage,
                histogram=scores.quality.class_histogram.tolist(),
            )
        row["pixel_mean"] = float(images.mean())
        plotting.image_grid(
            images, args.out / f"diffusion_mnist_{name}.png",
            f"DDPM, {name}: {args.samples} samples (first 100)",
        )  # fmt: skip
        rows[name] = row
        print(name, {k: v for k, v in row.items() if k != "histogram"}, flush=True)
    ancestral = rows["ancestral-1000"]
    summary: dict = {"samplers": rows}
    if classifier is not None:
        summary["real_floor"] = evaluation.real_floor(args.samples, classifier)
    for name, row in rows.items():
        if name.startswith("ddim"):  # vs the ancestral sampler: speed-up, FID ratio
            speedup = ancestral["seconds_per_image"] / row["seconds_per_image"]
            summary[f"{name}_speedup"] = speedup
            if classifier is not None:
                summary[f"{name}_fid_ratio"] = row["fid"] / ancestral["fid"]
    print({k: v for k, v in summary.items() if k != "samplers"}, flush=True)
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=50.0, help="training budget")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--multipliers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--blocks", type=int, default=1)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--schedule", choices=("linear", "cosine"), default="linear")
    parser.add_argument("--steps", type=int, default=1000, help="diffusion steps T")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--ema-decay", type=float, default=0.995)
    parser.add_argument("--round-images", type=int, default=3200)
    parser.add_argument("--samples", type=int, default=256, help="per sampler")
    parser.add_argument("--sample-batch", type=int, default=64)
    parser.add_argument("--ddim-steps", type=int, default=50)
    parser.add_argument(
        "--ddim-spacings", nargs="+", choices=dm.DDIM_SPACINGS, default=["uniform"],
        help="a DDIM row for each sub-sequence selection (Song et al. app. D.2)",
    )  # fmt: skip
    parser.add_argument(
        "--ddim-etas", nargs="+", type=float, default=[0.0],
        help="a DDIM row for each eta (0: deterministic; 1: the ancestral "
        "posterior variance on the sub-sequence)",
    )  # fmt: skip
    parser.add_argument("--rtol", type=float, default=1e-3, help="ODE rtol = atol")
    parser.add_argument("--checkpoint-dir", type=Path, default=None)
    parser.add_argument("--evaluate", action="store_true", help="score samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.minutes, args.channels, args.blocks, args.groups = 0.02, 4, 1, 2
        args.multipliers = [1]
        args.steps, args.round_images, args.batch = 20, 64, 32
        args.samples, args.sample_batch, args.ddim_steps = 8, 8, 5
        args.rtol, args.evaluate = 1e-2, True
    args.out.mkdir(parents=True, exist_ok=True)
    if args.checkpoint_dir is None:
        args.checkpoint_dir = args.out / "diffusion_mnist_checkpoints"
    images = mnist_images()
    model, schedule, learner = build(args)
    summary: dict = {"config": {k: str(v) for k, v in vars(args).items()}}
    with Progress() as bar:
        state, summary["training"] = train(args, images, learner, bar)
        if args.evaluate:
            summary.update(evaluate(args, model, schedule, state, bar))
    (args.out / "diffusion_mnist.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
