"""Profile one compiled training step by XLA thunk: where the time of a step goes.

``jax.profiler.trace`` of a few calls of a learner's jitted ``update``; each
XLA thunk's time per step, named by the optimised HLO it runs (its shape and
the JAX operation it came from, from ``compiled.as_text()``), and summed by
kind (library products ``ynn_fusion`` / ``dot``, XLA convolutions, data
movement such as ``concatenate``, everything else). This is how the layout
traps of stop 30 were found (a transposing copy fused into a gradient's
producer, products whose output orientation halves their speed).

Workloads: the step of each benchmark whose target is open on the CPU.

* ``dcgan``: ``benchmarks/gan.py``'s DCGAN, batch 64, one (D + G) step.
* ``gpt``: ``benchmarks/transformer.py``'s GPT 4L/4H/128, batch 32 x 128.
* ``ddpm``: ``benchmarks/diffusion.py``'s 1.5M-parameter UNet, batch 64.
* ``lstm``: ``benchmarks/rnn.py``'s 2-layer LSTM 256, batch 64 x 100.
* ``rbm``: ``benchmarks/rbm.py``'s CD-1 784-500 RBM, batch 100.
* ``vae``: ``benchmarks/vae.py``'s 784-400-20 VAE, batch 128 (``grad_norm=False``).
* ``gat`` / ``gcn``: ``benchmarks/graph.py``'s full-batch Cora epoch (sparse
  features), one step = one epoch.

Run::

    taskset -c 1 .venv/bin/python benchmarks/profile_step.py dcgan --top 30
    .venv/bin/python benchmarks/profile_step.py gpt --group   # per layer and op

Timings are of the jitted step called from Python, or with ``--scan`` of the
steps inside one ``lax.scan`` as ``fit`` runs them. Called from Python, every
call writes fresh output buffers, whose first-touch page faults inflate the
thunks with large outputs (the GPT step: 402 ms per call, ~300 ms in a scan).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

WORKLOADS = ("dcgan", "gpt", "ddpm", "lstm", "rbm", "vae", "gat", "gcn")
KINDS = ("ynn_fusion", "dot", "dot_general", "conv_general_dilated", "concatenate")


def workload(name: str, reference: bool = False):
    """``(learner, batch)`` of one named workload (random data of the real shapes).

    ``reference``: the convolution models with XLA's own convolutions instead
    of the CPU fast path (the library reference; its arithmetic is the
    minimal one, which ``benchmarks/ceiling.py`` counts).
    """
    rng = np.random.default_rng(0)
    if name == "dcgan":
        from jnn.generative.gan import DCGANDiscriminator, DCGANGenerator, gan_learner

        fast = False if reference else None
        learner = gan_learner(
            DCGANGenerator(fast_path=fast),
            DCGANDiscriminator(fast_path=fast),
            latent_size=100,
            reuse_fakes=True,
        )
        x = rng.uniform(-1, 1, (64, 28, 28, 1)).astype(np.float32)
        return learner, {"x": jnp.asarray(x)}
    if name == "gpt":
        from jnn.train import gradient_learner
        from jnn.transformer import GPT, gpt_loss

        model = GPT(65, context=128, layers=4, heads=4, features=128,
                    activation="gelu_tanh")  # fmt: skip
        opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3))
        tokens = jnp.asarray(rng.integers(0, 65, (32, 128)), jnp.int32)
        return gradient_learner(model, gpt_loss(model), opt), {"x": tokens, "y": tokens}
    if name == "ddpm":
        from jnn.generative import diffusion as dm
        from jnn.train import gradient_learner

        path = "reference" if reference else "auto"
        model = dm.UNet(**dm.BENCHMARK_UNET, conv_path=path)
        loss = dm.simple_loss(model, dm.linear_schedule())
        x = rng.uniform(-1, 1, (64, 28, 28, 1)).astype(np.float32)
        return gradient_learner(model, loss, optax.adam(2e-4)), {"x": jnp.asarray(x)}
    if name == "lstm":
        from jnn.rnn import CharRNN, tbptt_learner

        model = CharRNN(65, features=256, layers=2, cell="lstm")
        tokens = jnp.asarray(rng.integers(0, 65, (64, 100)), jnp.int32)
        learner = tbptt_learner(model, learning_rate=2e-3, max_norm=5.0)
        return learner, {"x": tokens, "y": tokens}
    if name == "vae":
        from jnn.generative import vae
        from jnn.train import gradient_learner

        model = vae.mlp_vae(20, 400, 784)
        loss = vae.negative_elbo(model)
        learner = gradient_learner(model, loss, optax.adam(1e-3), grad_norm=False)
        x = rng.uniform(size=(128, 784)).astype(np.float32)
        return learner, {"x": jnp.asarray(x)}
    if name == "rbm":
        from jnn.generative import contrastive_divergence

        learner = contrastive_divergence(500, learning_rate=0.1, momentum=0.5)
        x = (rng.uniform(size=(100, 784)) < 0.3).astype(np.float32)
        return learner, {"x": jnp.asarray(x)}
    if name in ("gat", "gcn"):
        from jnn.data.planetoid import load_planetoid, normalize_features
        from jnn.graph.models import GAT, GCN
        from jnn.graph.node_classification import (
            default_settings,
            node_classification_data,
            node_learner,
        )

        data = load_planetoid("cora")
        features = normalize_features(data.graph.nodes)
        graph = data.graph._replace(nodes=None)
        splits = node_classification_data(
            features, data.labels, {"train": data.train_mask}, sparse=True
        )
        cls = GAT if name == "gat" else GCN
        model = cls(graph, data.n_classes, n_features=features.shape[1])
        learner = node_learner(model, default_settings(model))
        return learner, {k: jnp.asarray(v) for k, v in splits["train"].items()}
    raise ValueError(f"`workload` must be one of {WORKLOADS}; got {name!r}.")


def thunk_kind(thunk: str) -> str:
    """A thunk's kind: its name without the instance number (``ynn_fusion.12``)."""
    return re.sub(r"\.\d+$", "", thunk)


def hlo_index(text: str) -> dict[str, tuple[str, str]]:
    """Instruction name -> (shape, JAX op name) from optimised HLO text."""
    index = {}
    pattern = r"^\s+(?:ROOT )?%([\w.\-]+) = (\S+) .*?op_name=\"([^\"]*)\""
    for m in re.finditer(pattern, text, re.M):
        index.setdefault(m.group(1), (m.group(2), m.group(3)))
    return index


def profile(
    name: str, steps: int = 5, scan: bool = False
) -> tuple[float, collections.Counter, dict]:
    """Seconds per step and ms per step of every thunk of ``name``'s update.

    ``scan``: time ``steps`` updates inside one ``lax.scan`` (as ``fit`` runs
    them: buffers are reused, so no first-touch page faults of fresh outputs)
    instead of ``steps`` calls of the jitted update.
    """
    learner, batch = workload(name)
    state = learner.init(jax.random.key(0), batch)
    update, calls = learner.update, steps
    if scan:  # ``steps`` updates in one compiled loop, as ``fit`` runs them

        def update(state, batch, key):
            def step(state, key):
                return learner.update(state, batch, key)[0], None

            return jax.lax.scan(step, state, jax.random.split(key, steps))[0]

        calls = 1
    from jnn.train import learner_compiler_options

    options = learner_compiler_options(learner)  # as fit compiles it
    compiled = (
        jax.jit(update, compiler_options=options)
        .lower(state, batch, jax.random.key(1))
        .compile()
    )
    index = hlo_index(compiled.as_text())
    jax.block_until_ready(compiled(state, batch, jax.random.key(1)))
    start = time.perf_counter()
    for i in range(calls):
        jax.block_until_ready(compiled(state, batch, jax.random.key(i)))
    seconds = (time.perf_counter() - start) / steps
    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder):
            for i in range(calls):
                jax.block_until_ready(compiled(state, batch, jax.random.key(i)))
        trace = next(Path(folder).rglob("*.trace.json.gz"))
        events = json.load(gzip.open(trace))["traceEvents"]
    skip = ("Thunk", "$", "Pjit", "PjRt", "Execute", "while", "np.asarray")
    times: collections.Counter = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and not e["name"].startswith(skip):
            times[e["name"]] += e["dur"] / 1e3 / steps
    return seconds, times, index


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("--top", type=int, default=25, help="thunks listed")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument(
        "--group", action="store_true", help="also sum by layer and JAX op"
    )
    parser.add_argument(
        "--scan", action="store_true", help="the steps inside one lax.scan, as fit"
    )
    args = parser.parse_args(argv)
    seconds, times, index = profile(args.workload, args.steps, args.scan)
    total = sum(times.values())
    print(f"{args.workload}: {seconds * 1e3:.1f} ms per step; thunks {total:.1f} ms")
    kinds: collections.Counter = collections.Counter()
    for thunk, ms in times.items():
        kind = thunk_kind(thunk)
        kinds[kind if kind in KINDS else "other"] += ms
    print("by kind: " + ", ".join(f"{k} {v:.1f}" for k, v in kinds.most_common()))
    for thunk, ms in times.most_common(args.top):
        shape, op = index.get(thunk, ("", ""))
        print(f"{ms:8.2f} ms  {thunk:<28} {shape:<34} {op[-90:]}")
    if args.group:
        groups: collections.Counter = collections.Counter()
        for thunk, ms in times.items():
            op = index.get(thunk, ("", "?"))[1]
            side = "backward" if "transpose(jvp" in op else "forward"
            op = re.sub(r"^.*?/while/body/closed_call/", "jit(update)/", op)
            layer = "/".join(re.sub(r"\d+", "N", op).split("/")[2:4])
            groups[f"{side} {layer}"] += ms
        print("by layer and op:")
        for group, ms in groups.most_common(args.top):
            print(f"{ms:8.2f} ms  {group}")


if __name__ == "__main__":
    main()
