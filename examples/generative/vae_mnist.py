"""VAE on MNIST: test negative ELBO, IWAE-50 and MNIST-FID of prior samples (Gen4).

Kingma & Welling's (2014) VAE, a 784-400-20 MLP encoder (Gaussian ``q(z|x)``)
and a 20-400-784 decoder with Bernoulli outputs, trained through
:func:`jnn.train.fit` with :func:`jnn.generative.vae.negative_elbo` for 10
epochs (batch 128, Adam 1e-3), under two data conventions:

* ``binarized`` (the Flax example's convention, the one whose figure is
  "test loss after 10 epochs around 104"): the Flax example trains on
  TFDS ``binarized_mnist`` (Larochelle & Murray 2011: pixels drawn once as
  Bernoulli(intensity), 50,000 training and 10,000 test images) with a
  500-unit hidden layer. Here: MNIST's 50,000 training images (the loader's
  10,000 validation images left out) and its 10,000 test images, binarised
  stochastically once with fixed keys, the same procedure (not the same
  draw). The negative ELBO is then a bound on a real negative log-likelihood
  of binary data, in nats.
* ``continuous`` (the PyTorch example's convention, "127.4 after 1 epoch"):
  grey levels in [0, 1] under the Bernoulli cross-entropy, all 60,000
  training images. That "loss" is not a log-likelihood (grey pixels have no
  Bernoulli probability; the cross-entropy includes their entropy), so its
  numbers compare only with the same convention.

Both report the test negative ELBO per epoch (one draw per image, the figure
both peers print), the final reconstruction and KL terms, the IWAE-50 bound
(Burda et al. 2016) on the 10,000 test images as the tighter estimate of
``-log p(x)``, and, for the binarised model, the MNIST-FID of 10,000 prior
samples (decoder means ``E[x|z]``) with the classifier's mode coverage and
confidence, next to the real-vs-real floor. PNGs: reconstructions, prior
samples, linear and spherical interpolations, ELBO terms per epoch.

Run:  python examples/generative/vae_mnist.py [--data binarized continuous]
      [--epochs 10] [--hidden 400] [--latents 20] [--iwae-samples 50]
      [--fid-samples 10000] [--no-fid] [--out DIR] [--smoke]
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

from jnn import data, plotting  # noqa: E402
from jnn import generative as gen  # noqa: E402
from jnn.generative import vae as V  # noqa: E402
from jnn.train import fit, gradient_learner  # noqa: E402

#: The peers' published figures (test negative ELBO, nats per image).
PEERS = {
    "binarized": "Flax examples/vae: around 104 after 10 epochs (784-500-20)",
    "continuous": "PyTorch examples/vae: 127.4 after 1 epoch (measured, 784-400-20)",
}


def mnist(convention: str, train_size: int, test_size: int):
    """Training and test images ``(n, 784)`` float32 under ``convention``."""
    ds = data.load("mnist", standardize=False, val_size=10_000)
    if convention == "continuous":  # all 60,000, as torchvision's MNIST
        train = np.concatenate([ds.train["x"], ds.val["x"]])[:train_size]
        return train, ds.test["x"][:test_size]
    train = gen.binarize(jax.random.key(2011), ds.train["x"][:train_size])
    test = gen.binarize(jax.random.key(2012), ds.test["x"][:test_size])
    return np.asarray(train, np.float32), np.asarray(test, np.float32)


def train_one(convention: str, train, test, args):
    """Fit the VAE; the test set is evaluated after every epoch (as both peers)."""
    model = V.mlp_vae(args.latents, args.hidden)
    learner = gradient_learner(model, V.negative_elbo(model), optax.adam(args.lr))
    start = time.perf_counter()
    result = fit(
        learner,
        {"x": train},
        key=jax.random.key(args.seed),
        epochs=args.epochs,
        batch_size=args.batch,
        val={"x": test},
        progress=not args.smoke,
    )
    jax.block_until_ready(result.state)
    return model, result, time.perf_counter() - start


def pictures(convention: str, model, params, test, args) -> list[str]:
    """Reconstructions, prior samples, interpolations: PNGs."""
    out, key = args.out, jax.random.key(args.seed + 1)
    shown = test[:30]
    recon = np.asarray(V.reconstruct(model, params, shown))
    samples = np.asarray(V.sample_prior(model, params, key, 100))
    paths = [
        np.asarray(V.latent_interpolation(model, params, test[i], test[i + 1], 10, m))
        for i in range(30, 40, 2)
        for m in ("linear", "spherical")
    ]
    return [
        str(p)
        for p in (
            plotting.image_grid(
                np.concatenate([shown, recon]),
                out / f"vae_{convention}_reconstructions.png",
                f"{convention}: rows 1-3 test digits, 4-6 reconstructions E[x|mu(x)]",
                limit=60,
            ),
            plotting.image_grid(
                samples,
                out / f"vae_{convention}_samples.png",
                f"{convention}: 100 prior samples, decoder means E[x|z], z ~ N(0, I)",
            ),
            plotting.image_grid(
                np.concatenate(paths),
                out / f"vae_{convention}_interpolation.png",
                f"{convention}: latent interpolation, row pairs linear / spherical",
            ),
        )
    ]


def curves(rows: dict, out: Path) -> str:
    """Test reconstruction and KL terms per epoch, one panel per convention."""
    fig, axes = plt.subplots(1, len(rows), figsize=(5 * len(rows), 3.5), squeeze=False)
    for ax, (convention, r) in zip(axes[0], rows.items(), strict=True):
        epochs = np.arange(1, len(r["test_loss"]) + 1)
        ax.plot(epochs, r["test_loss"], label="negative ELBO")
        ax.plot(epochs, r["test_reconstruction"], label="reconstruction")
        ax.plot(epochs, r["test_kl"], label="KL")
        ax.set(title=convention, xlabel="epoch", ylabel="nats per image (test)")
        ax.legend()
    return str(plotting.save(fig, out / "vae_elbo_terms.png"))


def fid_scores(model, params, args) -> dict:
    """MNIST-FID, coverage and confidence of prior samples; the real floor."""
    samples = V.sample_prior(
        model, params, jax.random.key(args.seed + 2), args.fid_samples
    )
    scores = gen.mnist_scores(np.asarray(samples))
    return {
        "fid": scores.fid,
        "real_floor": gen.real_floor(args.fid_samples),
        "mode_coverage": scores.quality.mode_coverage,
        "confidence": scores.quality.confidence,
        "class_histogram": scores.quality.class_histogram.tolist(),
        "fid_samples": args.fid_samples,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", nargs="+", default=["binarized", "continuous"], choices=list(PEERS)
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=400)
    parser.add_argument("--latents", type=int, default=20)
    parser.add_argument("--iwae-samples", type=int, default=V.PAPER_SAMPLES)
    parser.add_argument("--fid-samples", type=int, default=10_000)
    parser.add_argument("--no-fid", action="store_true", help="skip MNIST-FID")
    parser.add_argument("--test-size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args(argv)
    sizes = {"binarized": 50_000, "continuous": 60_000}
    if args.smoke:  # no FID: the classifier trains for a minute on first use
        args.epochs, args.hidden, args.test_size, args.no_fid = 2, 64, 500, True
        args.data = args.data[:1]
        args.iwae_samples, sizes = 5, {"binarized": 2560, "continuous": 2560}
    args.out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    for convention in args.data:
        train, test = mnist(convention, sizes[convention], args.test_size)
        print(f"{convention}: {len(train)} training, {len(test)} test images")
        model, result, seconds = train_one(convention, train, test, args)
        params, history = result.state.params, result.history
        start = time.perf_counter()
        iwae = V.importance_weighted_bound(
            model, params, test, jax.random.key(args.seed + 3), k=args.iwae_samples
        )
        iwae = -float(np.mean(np.asarray(iwae)))
        row = {
            "train_images": len(train),
            "train_seconds": seconds,
            "images_per_second": args.epochs
            * (len(train) // args.batch)
            * args.batch
            / seconds,
            "test_loss": history["val_loss"].tolist(),
            "test_reconstruction": history["val_reconstruction"].tolist(),
            "test_kl": history["val_kl"].tolist(),
            "test_negative_elbo": float(history["val_loss"][-1]),
            f"test_iwae_{args.iwae_samples}": iwae,
            "iwae_seconds": time.perf_counter() - start,
            "peer": PEERS[convention],
            "figures": pictures(convention, model, params, test, args),
        }
        if convention == "binarized" and not args.no_fid:
            row.update(fid_scores(model, params, args))
        rows[convention] = row
        print(
            f"{convention}: test negative ELBO {row['test_negative_elbo']:.2f} nats "
            f"(reconstruction {row['test_reconstruction'][-1]:.2f} + KL "
            f"{row['test_kl'][-1]:.2f}), after epoch 1 {row['test_loss'][0]:.2f}; "
            f"IWAE-{args.iwae_samples} {iwae:.2f}; {seconds:.0f} s training"
        )
    figure = curves(rows, args.out)
    print(
        f"\n784-{args.hidden}-{args.latents} VAE, {args.epochs} epochs, batch "
        f"{args.batch}, Adam {args.lr:g}"
    )
    print(
        "| data | test -ELBO (nats) | epoch 1 | IWAE | FID (floor) | coverage | peer |"
    )
    print("|---|---|---|---|---|---|---|")
    for convention, r in rows.items():
        fid = f"{r['fid']:.1f} ({r['real_floor']:.1f})" if "fid" in r else "-"
        print(
            f"| {convention} | {r['test_negative_elbo']:.2f} | {r['test_loss'][0]:.2f} "
            f"| {r[f'test_iwae_{args.iwae_samples}']:.2f} | {fid} | "
            f"{r.get('mode_coverage', '-')} | {r['peer']} |"
        )
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    summary = {"config": config, "results": rows, "figure": figure}
    (args.out / "vae_mnist.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
