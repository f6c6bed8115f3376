"""Benchmark: DDPM training and sampling with a 1.5M-parameter UNet, jnn vs PyTorch.

Workloads (issue 18), one process, the same UNet in both libraries
(:data:`jnn.generative.diffusion.BENCHMARK_UNET`: channels 32, levels
28 -> 14 -> 7 with widths 32/64/64, two residual blocks per level,
GroupNorm(8) + SiLU, self-attention at 7 x 7; 1,539,329 parameters in both):

* ``train``: DDPM training steps (simple loss, Adam 2e-4) on batches of 64
  MNIST images in ``[-1, 1]``; figure: images per second. jnn: one
  :func:`jnn.train.fit` epoch over ``--train-images`` images (a compiled
  ``lax.scan`` of the steps); PyTorch: the same steps in a Python loop
  (eager, fused Adam; ``torch.compile`` of the model tried).
* ``sample``: ancestral sampling of 16 images; figure: milliseconds per
  denoising step (``--sample-steps`` steps of the 1000-step linear schedule;
  the cost per step does not depend on how many are run). jnn:
  :func:`jnn.generative.diffusion.ancestral_sample` (a ``lax.scan``);
  PyTorch: the same update in a ``torch.no_grad`` loop.

Peers at their best: threads = the cores of this process, ``torch.compile``
rows skipped with the reason where they fail. Issue's PyTorch figures
(2-core AMD EPYC): 84 images/s and 68 ms per step; target >= 1.5x.

Run::

    taskset -c 1 .venv/bin/python benchmarks/diffusion.py          # minutes
    .venv/bin/python benchmarks/diffusion.py --quick | --smoke

Results go to ``benchmarks/results/diffusion.json`` (``_quick``, ``_smoke``).
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import data
from jnn.generative import diffusion as dm
from jnn.train import fit, gradient_learner

BATCH, SAMPLES, LR = 64, 16, 2e-4


def mnist(n: int) -> np.ndarray:
    ds = data.load("mnist", standardize=False, flatten=False)
    return np.asarray(dm.to_model_range(ds.train["x"][:n]))


# --- jnn ---------------------------------------------------------------------------


def jnn_trainer(x: np.ndarray, config: dict):
    model = dm.UNet(**config)
    schedule = dm.linear_schedule()
    learner = gradient_learner(model, dm.simple_loss(model, schedule), optax.adam(LR))
    train = {"x": jnp.asarray(x)}

    def run(i: int):
        result = fit(
            learner, train, key=jax.random.key(i), epochs=1, batch_size=BATCH,
            progress=False,
        )  # fmt: skip
        return result.history["loss"][-1]

    return run


def jnn_sampler(steps: int, config: dict):
    model = dm.UNet(**config)
    schedule = dm.linear_schedule()
    x = jnp.zeros((1, 28, 28, 1))
    params = model.init(jax.random.key(0), x)["params"]
    short = dm.NoiseSchedule(*(a[:steps] for a in schedule))  # steps t < `steps`

    def run(i: int):
        return dm.ancestral_sample(
            model, params, short, jax.random.key(i), (SAMPLES, 28, 28, 1)
        )

    return run


# --- PyTorch -------------------------------------------------------------------------


def torch_unet(channels=32, multipliers=(1, 2, 2), blocks=2, groups=8):
    """The same UNet in PyTorch (NCHW), layer for layer."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Residual(nn.Module):
        def __init__(self, cin, cout, embed):
            super().__init__()
            self.norm1, self.conv1 = (
                nn.GroupNorm(groups, cin),
                nn.Conv2d(cin, cout, 3, padding=1),
            )
            self.time = nn.Linear(embed, cout)
            self.norm2, self.conv2 = (
                nn.GroupNorm(groups, cout),
                nn.Conv2d(cout, cout, 3, padding=1),
            )
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

        def forward(self, x, t):
            h = self.conv1(F.silu(self.norm1(x)))
            h = h + self.time(F.silu(t))[:, :, None, None]
            h = self.conv2(F.silu(self.norm2(h)))
            return self.skip(x) + h

    class Attention(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.norm, self.qkv, self.proj = (
                nn.GroupNorm(groups, c),
                nn.Linear(c, 3 * c),
                nn.Linear(c, c),
            )

        def forward(self, x):
            b, c, height, width = x.shape
            h = self.norm(x).flatten(2).transpose(1, 2)
            q, k, v = self.qkv(h).chunk(3, dim=-1)
            out = F.scaled_dot_product_attention(q, k, v)
            return x + self.proj(out).transpose(1, 2).reshape(b, c, height, width)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            embed = 4 * channels
            self.t1, self.t2 = nn.Linear(channels, embed), nn.Linear(embed, embed)
            self.conv_in = nn.Conv2d(1, channels, 3, padding=1)
            self.down, widths, c = nn.ModuleList(), [channels], channels
            for level, mult in enumerate(multipliers):
                for _ in range(blocks):
                    self.down.append(Residual(c, channels * mult, embed))
                    c = channels * mult
                    widths.append(c)
                if level < len(multipliers) - 1:
                    self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                    widths.append(c)
            self.mid1, self.attn, self.mid2 = (
                Residual(c, c, embed),
                Attention(c),
                Residual(c, c, embed),
            )
            self.up = nn.ModuleList()
            for level, mult in reversed(list(enumerate(multipliers))):
                for _ in range(blocks + 1):
                    self.up.append(Residual(c + widths.pop(), channels * mult, embed))
                    c = channels * mult
                if level > 0:
                    self.up.append(
                        nn.Sequential(
                            nn.Upsample(scale_factor=2), nn.Conv2d(c, c, 3, padding=1)
                        )
                    )
            self.norm_out, self.conv_out = (
                nn.GroupNorm(groups, c),
                nn.Conv2d(c, 1, 3, padding=1),
            )

        def forward(self, x, t):
            half = channels // 2
            freq = torch.exp(-math.log(10_000.0) * torch.arange(half) / half)
            angles = t.float()[:, None] * freq[None]
            temb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
            temb = self.t2(F.silu(self.t1(temb)))
            h = self.conv_in(x)
            skips = [h]
            for layer in self.down:
                h = layer(h, temb) if isinstance(layer, Residual) else layer(h)
                skips.append(h)
            h = self.mid2(self.attn(self.mid1(h, temb)), temb)
            for layer in self.up:
                if isinstance(layer, Residual):
                    h = layer(torch.cat([h, skips.pop()], dim=1), temb)
                else:
                    h = layer(h)
            return self.conv_out(F.silu(self.norm_out(h)))

    return UNet()


def torch_trainer(x: np.ndarray, compiled: bool, config: dict):
    import torch

    torch.manual_seed(0)
    model = torch_unet(**config)
    forward = torch.compile(model) if compiled else model
    opt = h.torch_adam(model.parameters(), LR, "fused")
    images = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    alpha_bar = torch.from_numpy(np.asarray(dm.linear_schedule().alpha_bar))

    def run(i: int):
        gen = torch.Generator().manual_seed(i)
        order = torch.randperm(len(images), generator=gen)
        for s in range(len(images) // BATCH):
            x0 = images[order[s * BATCH : (s + 1) * BATCH]]
            t = torch.randint(0, 1000, (BATCH,), generator=gen)
            noise = torch.randn(x0.shape, generator=gen)
            a = alpha_bar[t][:, None, None, None]
            loss = (
                (forward(a.sqrt() * x0 + (1 - a).sqrt() * noise, t) - noise) ** 2
            ).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return float(loss)

    return run, sum(p.numel() for p in model.parameters())


def torch_sampler(steps: int, compiled: bool, config: dict):
    import torch

    torch.manual_seed(0)
    model = torch_unet(**config).eval()
    forward = torch.compile(model) if compiled else model
    s = dm.linear_schedule()
    beta, alpha, ab, ab_prev, var = (torch.from_numpy(np.asarray(a)) for a in s)

    def run(i: int):
        gen = torch.Generator().manual_seed(i)
        x = torch.randn((SAMPLES, 1, 28, 28), generator=gen)
        with torch.no_grad():
            for t in range(steps - 1, -1, -1):
                eps = forward(x, torch.full((SAMPLES,), t))
                x0 = ((x - (1 - ab[t]).sqrt() * eps) / ab[t].sqrt()).clamp(-1, 1)
                mean = (
                    ab_prev[t].sqrt() * beta[t] * x0
                    + alpha[t].sqrt() * (1 - ab_prev[t]) * x
                ) / (1 - ab[t])
                x = mean + var[t].sqrt() * torch.randn(x.shape, generator=gen)
        return x

    return run


# --- the table -----------------------------------------------------------------------

PEERS = ["torch eager", "torch.compile"]


def measure(args, config) -> list[dict]:
    x = mnist(args.train_images)
    train = {"jnn.fit": jnn_trainer(x, config)}
    sample = {"jnn.ancestral_sample": jnn_sampler(args.sample_steps, config)}
    counts = {}
    for peer in args.peers:
        compiled = peer == "torch.compile"
        if compiled:
            with h.torch_threads(None, True):
                pass
        run, counts[peer] = torch_trainer(x, compiled, config)
        train[peer] = h.with_threads(run, None)
        sample[peer] = h.with_threads(
            torch_sampler(args.sample_steps, compiled, config), None
        )
    rows = []
    images = (len(x) // BATCH) * BATCH
    for workload, fns, per in (("train", train, images), ("sample", sample, None)):
        for name, t in h.interleaved(fns, args.repeats).items():
            row = {
                "workload": workload,
                "impl": name,
                "peer": not name.startswith("jnn"),
            }
            if isinstance(t, str):
                rows.append({**row, "skipped": t})
                continue
            row.update(median_s=t.median, times_s=t.times, first_s=t.first)
            if per is not None:
                row["images_per_s"] = per / t.median
            else:
                row["ms_per_step"] = 1000 * t.median / args.sample_steps
            if name.startswith("jnn") or name == "torch.compile":
                row["compile_s"] = t.compile
            rows.append(row)
            shown = {
                k: round(v, 3)
                for k, v in row.items()
                if k in ("images_per_s", "ms_per_step", "compile_s") and v is not None
            }
            print(workload, name, shown, flush=True)
    print("parameters: jnn", dm.parameter_count(
        dm.UNet(**config).init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
    ), "torch", counts)  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-images", type=int, default=640, help="per call")
    parser.add_argument("--sample-steps", type=int, default=50, help="per call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peers", nargs="+", default=PEERS, help=f"of {PEERS}")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--smoke", action="store_true", help="runs, not timings")
    args = parser.parse_args(argv)
    config = dict(dm.BENCHMARK_UNET)
    if args.quick:
        args.repeats, args.train_images, args.sample_steps = 3, 320, 20
    if args.smoke:
        args.repeats, args.train_images, args.sample_steps = 1, 64, 2
        args.peers = ["torch eager"]
        config = {"channels": 8, "multipliers": (1, 2), "blocks": 1, "groups": 4}
    info = h.machine_info()
    h.set_torch_threads()
    monitor = h.CpuMonitor().start()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = measure(args, config)
    info["cpu_usage"] = monitor.stop()
    h.print_machine(info)
    comparisons = h.workload_comparisons(
        [r for r in rows if r["workload"] == "train"], value="images_per_s",
        unit="images/s", higher_is_better=True, targets={"train": 1.5},
    ) + h.workload_comparisons(
        [r for r in rows if r["workload"] == "sample"], value="ms_per_step",
        unit="ms/step", higher_is_better=False, targets={"sample": 1.5},
    )  # fmt: skip
    h.print_comparisons(comparisons)
    print("issue's PyTorch figures (2-core EPYC): 84 images/s, 68 ms/step")
    h.warn_if_busy(info["cpu_usage"])
    path = h.write_json(
        h.result_name("diffusion", h.mode_of(args)),
        {
            "machine": info,
            "settings": {**vars(args), "unet": config},
            "rows": rows,
            "comparisons": comparisons,
            "seconds": time.perf_counter() - start,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
