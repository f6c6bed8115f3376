"""Truncated BPTT: the truncation length k, and clipping on an exploding net (R1, R2).

1. **k at equal compute.** A one-layer LSTM language model (128 units) on Tiny
   Shakespeare is trained by truncated BPTT (``sequence_windows(B, k)``, state
   carried across windows and reset each epoch) for k = 10 / 25 / 50 / 100.
   Every run sees the same characters the same number of times (equal
   epochs, so equal forward/backward work); only the span of the gradient
   changes. Plotted: validation loss per epoch.
2. **Clipping on an exploding net.** A ReLU Elman language model
   (``CharRNN(cell="elman", activation="relu")``, 128 units: the recurrence
   ``h' = relu(W_i x + b + W_h h)`` of Le, Jaitly & Hinton 2015) starts at
   ``W_hh = 1.5 Q`` (``scaled_orthogonal``: sigma_max = 1.5). ReLU does not
   saturate, so nothing caps the growth that tanh caps: the gradient from
   ``k`` steps back may grow up to the bound 1.5^k of Pascanu, Mikolov &
   Bengio (2013) (measured: about 1.17^k at the start). It is trained by
   plain SGD (step 0.3) on windows of k = 100 characters (32 streams, each
   window from a zero state), once without clipping and once clipped by
   global norm 1 (``optax.clip_by_global_norm``), for several seeds. The
   training text is read once, one step per ``fit`` call (one epoch over the
   next batch of windows, ``init_state`` the previous state), so the curve
   has a point every step and every loss is on unseen text. A run whose loss
   or gradient turns non-finite is stopped by the engine
   (``TrainingDiverged``, last good state kept).
3. **R1 diagnostic.** ``gradient_norms_by_lag`` of the model's own
   recurrence (its embedding, input and recurrent weights, on 100 characters)
   at the initial weights and after clipped training, with
   ``spectral_bound`` (``sigma_max(W_hh)^k``) as the theory line.

Measured (one core of the project's 2-core CPU; tables and commands in
examples/rnn/README.md, "Truncated BPTT and clipping"): validation loss after
3 epochs of 300,000 characters 1.969 (k = 10), 2.008 (25), 2.056 (50), 2.153
(100); without clipping 5 of 5 seeds diverge at step 2, with clipping 0 of 5
(2.60-2.64 nats/char after 300 steps, after loss spikes up to 1e6-1e9).

Run:  python examples/rnn/tbptt.py [--studies windows clipping]
      [--windows 10 25 50 100] [--epochs 3] [--n-train 300000]
      [--seeds 5] [--steps 300] [--sigma 1.5] [--recurrent orthogonal|identity]
      [--lr 0.3] [--window 100] [--out DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from jnn import plotting
from jnn.data import load_text, next_token_stream
from jnn.rnn import (
    CharRNN,
    gradient_norms_by_lag,
    language_model_loss,
    largest_singular_value,
    scaled_orthogonal,
    spectral_bound,
    tbptt_learner,
)
from jnn.train import (
    TrainingDiverged,
    fit,
    gradient_learner,
    sequence_windows,
)

STREAMS = 32


def parallel_streams(tokens, streams):
    pairs = next_token_stream(tokens)
    length = len(pairs["x"]) // streams
    return {k: v[: streams * length].reshape(streams, length) for k, v in pairs.items()}


def window_study(corpus, windows, *, epochs, features, n_train, key):
    """Validation loss per epoch for each truncation length ``k``."""
    train = next_token_stream(corpus.train[:n_train])
    val = parallel_streams(corpus.val[: n_train // 10], STREAMS)
    curves = {}
    for k in windows:
        start = time.perf_counter()
        model = CharRNN(corpus.vocab.size, features=features)
        result = fit(
            tbptt_learner(model, learning_rate=2e-3),
            train,
            key=key,
            epochs=epochs,
            val=val,
            plan=sequence_windows(STREAMS, k),
            progress=False,
        )
        curves[k] = np.asarray(result.history["val_loss"])
        seconds = time.perf_counter() - start
        print(
            f"k = {k:4d}: validation loss per epoch {np.round(curves[k], 3)} "
            f"({seconds:.0f} s)",
            flush=True,
        )
    return curves


def exploding_init(learner, sigma, recurrent="orthogonal"):
    """Wrap ``learner.init``: every recurrent kernel starts at sigma Q (or sigma I)."""

    def start(key, n):
        if recurrent == "identity":  # Le et al.'s IRNN when sigma = 1
            return sigma * jnp.eye(n)
        return scaled_orthogonal(key, n, sigma)

    def init(key, batch):
        state = learner.init(key, batch)
        params = jax.tree_util.tree_map_with_path(
            lambda path, w: (
                start(jax.random.fold_in(key, 7), w.shape[0])
                if _is_recurrent_kernel(path, w)
                else w
            ),
            state.params,
        )
        return state._replace(params=params)

    return learner._replace(init=init)


def _is_recurrent_kernel(path, w) -> bool:
    names = [getattr(p, "key", "") for p in path]
    return w.ndim == 2 and w.shape[0] == w.shape[1] and "h" in names


def exploding_learner(vocab, features, setup, clip):
    """SGD on the ReLU Elman LM from ``W_hh = sigma Q``; ``clip``: None or a norm."""
    model = CharRNN(vocab, features=features, cell="elman", activation="relu")
    optimizer = optax.sgd(setup["lr"])
    if clip is not None:
        optimizer = optax.chain(optax.clip_by_global_norm(clip), optimizer)
    # every window from a zero state: k-step BPTT, nothing carried across windows
    loss = language_model_loss(model, carried=False)
    learner = gradient_learner(model, loss, optimizer, reset_collections=("carry",))
    return exploding_init(learner, setup["sigma"], setup["recurrent"]), model


def online_run(learner, init, corpus, key, *, steps, window):
    """Train on fresh text, one SGD step (one batch of windows) per ``fit`` call.

    Returns:
      ``(losses, grad_norms, diverged_step or None, initial, final)``: the
      training loss and raw gradient norm of every step (taken before its
      update, on text the net has not seen yet), the 0-based step whose loss
      was not finite, and the initial and last good learner states. ``init``
      is ``learner.init``, compiled once for all seeds.
    """
    size = STREAMS * window
    plan = sequence_windows(STREAMS, window)
    first = next_token_stream(corpus.train[: size + 1])
    initial = state = init(
        key, {k: v.reshape(STREAMS, window) for k, v in first.items()}
    )
    losses, norms = [], []
    for i in range(steps):
        batch = next_token_stream(corpus.train[i * size : (i + 1) * size + 1])
        try:
            result = fit(
                learner,
                batch,
                key=jax.random.fold_in(key, i),
                epochs=1,
                plan=plan,
                init_state=state,
                progress=False,
            )
        except TrainingDiverged as error:
            losses.append(float(error.result.history["loss"][-1]))
            norms.append(float(error.result.history["grad_norm"][-1]))
            return np.array(losses), np.array(norms), i, initial, state
        state = result.state
        losses.append(float(result.history["loss"][0]))
        norms.append(float(result.history["grad_norm"][0]))
    return np.array(losses), np.array(norms), None, initial, state


def _finite_max(values):
    finite = values[np.isfinite(values)]
    return finite.max() if finite.size else np.nan


def clipping_study(corpus, *, seeds, steps, features, setup):
    """Online loss curves of the exploding net, clipped (norm 1) or not, per seed."""
    runs = {}
    for name, clip in (("no clipping", None), ("clip global norm 1", 1.0)):
        learner, model = exploding_learner(corpus.vocab.size, features, setup, clip)
        init = jax.jit(learner.init)
        for seed in range(seeds):
            start = time.perf_counter()
            run = online_run(
                learner,
                init,
                corpus,
                jax.random.key(seed),
                steps=steps,
                window=setup["window"],
            )
            runs[name, seed] = run
            losses, norms, diverged = run[:3]
            end = (
                f"DIVERGED at step {diverged + 1} (non-finite loss or gradient; last "
                "good state kept)"
                if diverged is not None
                else f"final loss {np.mean(losses[-10:]):.3f} (mean of the last 10)"
            )
            seconds = time.perf_counter() - start
            print(
                f"{name:18s} seed {seed}: loss at step 1 {losses[0]:.3g}, peak "
                f"{_finite_max(losses):.3g}; peak gradient norm "
                f"{_finite_max(norms):.3g}; {end} ({seconds:.0f} s)",
                flush=True,
            )
    return runs, model


def lag_profile(model, params, tokens):
    """``||dL/dh_{T-k}||`` of the model's first-layer recurrence, and its bound.

    The cell computes ``h' = relu(e_x K_i + b + h K_h)`` (Flax kernels act on
    the right), i.e. ``W_hh = K_h^T`` and ``W_xh = K_i^T`` on the embeddings.
    """
    cell = params["stack"]["layer_0"]["cell"]
    w_hh, w_xh = cell["h"]["kernel"].T, cell["i"]["kernel"].T
    x = params["embed"]["embedding"][tokens]
    zeros = jnp.zeros(w_hh.shape[0])
    norms = gradient_norms_by_lag(
        w_hh, w_xh, cell["i"]["bias"], x, zeros, activation=model.activation
    )
    lags = jnp.arange(len(tokens) + 1)
    bound = spectral_bound(w_hh, lags, activation=model.activation)
    return np.asarray(norms), np.asarray(bound), float(largest_singular_value(w_hh))


def unigram_entropy(tokens) -> float:
    """Entropy (nats) of the character frequencies: a model without context."""
    p = np.bincount(tokens) / len(tokens)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def plot_clipping(runs, profiles, setup, unigram, path):
    """Loss and gradient norm against steps per seed, and the lag profiles."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    (ax_loss, ax_zoom), (ax_norm, ax_lag) = axes
    colours = {"no clipping": "tab:red", "clip global norm 1": "tab:blue"}
    labelled = set()
    for (name, _), (losses, norms, diverged, *_) in runs.items():
        steps = np.arange(1, len(losses) + 1)
        label = None if name in labelled else name
        labelled.add(name)
        for ax, values in ((ax_loss, losses), (ax_norm, norms)):
            ax.loglog(steps, values, ".-", color=colours[name], alpha=0.6, label=label)
            if diverged is not None:  # x at the last finite value
                finite = values[np.isfinite(values)]
                y = finite[-1] if finite.size else values[0]
                ax.loglog(steps[len(finite) - 1], y, "x", color=colours[name], ms=10)
        if diverged is None:
            ax_zoom.plot(steps, losses, color=colours[name], alpha=0.6, label=label)
    init = "Q" if setup["recurrent"] == "orthogonal" else "I"
    ax_loss.set(
        xlabel="SGD step",
        ylabel="training cross-entropy (nats/char)",
        title=f"ReLU Elman, W_hh = {setup['sigma']} {init}, SGD {setup['lr']}, "
        f"k = {setup['window']} (x: diverged)",
    )
    ax_zoom.axhline(unigram, color="gray", linestyle="--", label="unigram entropy")
    ax_zoom.set(
        xlabel="SGD step",
        ylabel="training cross-entropy (nats/char)",
        title="the clipped runs, linear scale",
        ylim=(2.0, 4.5),
    )
    ax_norm.set(xlabel="SGD step", ylabel="gradient norm (before clipping)")
    for ax in (ax_loss, ax_zoom, ax_norm):
        ax.legend()
    for label, (norms, bound, sigma) in profiles.items():
        (line,) = ax_lag.semilogy(norms, label=f"{label} (sigma_max {sigma:.2f})")
        ax_lag.semilogy(bound, "--", color=line.get_color(), alpha=0.6)
    ax_lag.set(
        xlabel="lag k",
        ylabel="||dL/dh_(T-k)||",
        title="R1, seed 0: gradient vs lag (dashed: sigma_max^k)",
        ylim=(1e-12, 1e12),
    )
    ax_lag.legend()
    return plotting.save(fig, path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    studies = ["windows", "clipping"]
    parser.add_argument("--studies", nargs="+", default=studies, choices=studies)
    parser.add_argument("--windows", type=int, nargs="+", default=[10, 25, 50, 100])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--n-train", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=0)
    clipping = parser.add_argument_group("clipping study")
    clipping.add_argument("--seeds", type=int, default=5)
    clipping.add_argument("--steps", type=int, default=300)
    clipping.add_argument("--sigma", type=float, default=1.5)
    clipping.add_argument(
        "--recurrent", choices=["orthogonal", "identity"], default="orthogonal"
    )
    clipping.add_argument("--lr", type=float, default=0.3)
    clipping.add_argument("--window", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes")
    args = parser.parse_args(argv)
    if args.smoke:
        args.windows, args.epochs, args.features, args.n_train = [10, 25], 2, 16, 20_000
        args.seeds, args.steps = 2, 8
    corpus = load_text("tinyshakespeare")
    args.out.mkdir(parents=True, exist_ok=True)
    out = {}
    if "windows" in args.studies:
        size = {"epochs": args.epochs, "n_train": args.n_train}
        windows = window_study(
            corpus,
            args.windows,
            key=jax.random.key(args.seed),
            features=args.features,
            **size,
        )
        plotting.curves(
            {f"k = {k}": c for k, c in windows.items()},
            args.out / "tbptt_window_length.png",
            title="Truncated BPTT at equal compute: validation loss",
            ylabel="cross-entropy (nats/char)",
        )
        out["windows"] = windows
    if "clipping" in args.studies:
        setup = {
            "sigma": args.sigma,
            "recurrent": args.recurrent,
            "lr": args.lr,
            "window": args.window,
        }
        runs, model = clipping_study(
            corpus,
            seeds=args.seeds,
            steps=args.steps,
            features=args.features,
            setup=setup,
        )
        tokens = jnp.asarray(corpus.train[: args.window])
        _, _, _, initial, trained = runs["clip global norm 1", 0]
        profiles = {
            "initial weights": lag_profile(model, initial.params, tokens),
            "clipped, trained": lag_profile(model, trained.params, tokens),
        }
        for label, (norms, bound, sigma) in profiles.items():
            lags = [k for k in (25, 50, 100) if k < len(norms)]
            print(
                f"R1 seed 0, {label}: sigma_max(W_hh) = {sigma:.3f}; "
                + ", ".join(
                    f"||dL/dh_(T-{k})|| = {norms[k]:.3g} (bound {bound[k]:.3g})"
                    for k in lags
                )
            )
        unigram = unigram_entropy(corpus.train)
        plot_clipping(runs, profiles, setup, unigram, args.out / "tbptt_clipping.png")
        diverged = {
            name: sum(runs[name, s][2] is not None for s in range(args.seeds))
            for name in ("no clipping", "clip global norm 1")
        }
        print(f"diverged (of {args.seeds} seeds): {diverged}")
        out.update(clipping=runs, diverged=diverged, profiles=profiles)
    return out


if __name__ == "__main__":
    main()
