"""CycleGAN between MNIST and a transformed MNIST, unpaired (Gen3).

The training images are split at random into two disjoint halves: one stays
MNIST (domain A), the other is transformed (domain B: colour-inverted digits,
``--transform invert``, or digits rotated by 90 degrees, ``rot90``), so no
digit is ever seen in both domains and the pairing is never available.
:func:`jnn.generative.gan.cyclegan.cyclegan_learner` trains G: A -> B and
F: B -> A (least-squares GAN, cycle weight 10, identity weight 5) through
:func:`jnn.train.fit`.

On held-out test digits it reports
* translation accuracy: the MNIST-FID classifier
  (:func:`jnn.generative.evaluation.sample_quality`) reads the class of
  ``G(a)`` mapped back to MNIST by the exact inverse transform, and of
  ``F(b)`` directly (already MNIST-like); the real test digits score ~99%;
* cycle reconstruction error: mean absolute error and MSE of ``F(G(a))``
  against ``a`` and ``G(F(b))`` against ``b`` (pixels in [0, 1]);
and writes a PNG: rows of inputs, translations and reconstructions.

Run:  python examples/generative/cyclegan_mnist.py [--transform invert|rot90]
      [--epochs 1] [--train-size 8000] [--batch 16] [--out DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

from jnn import data, plotting
from jnn.generative import evaluation
from jnn.generative.gan.cyclegan import (
    cycle_errors,
    cyclegan,
    cyclegan_learner,
    translate,
)
from jnn.generative.gan.domains import (
    domain_transform,
    inverse_domain_transform,
    unpaired_domains,
)
from jnn.train import fit


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transform", default="invert", choices=["invert", "rot90"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=8000, help="A + B images")
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--residual-blocks", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.train_size, args.test_size, args.features = 256, 100, 4
        args.residual_blocks, args.learning_rate = 1, 2e-3
    ds = data.load("mnist", standardize=False, flatten=False)
    domains = unpaired_domains(
        ds.train["x"][: args.train_size],
        ds.train["y"][: args.train_size],
        jax.random.key(args.seed + 100),
        args.transform,
    )
    model = cyclegan(features=args.features, residual_blocks=args.residual_blocks)
    learner = cyclegan_learner(model, learning_rate=args.learning_rate)
    print(
        f"CycleGAN MNIST <-> {args.transform}: {len(domains.a)} + {len(domains.b)} "
        f"unpaired images (disjoint halves), {args.epochs} epochs of batch {args.batch}"
    )
    start = time.perf_counter()
    result = fit(
        learner,
        {"a": domains.a, "b": domains.b},
        key=jax.random.key(args.seed),
        epochs=args.epochs,
        batch_size=args.batch,
        progress=not args.smoke,
    )
    jax.block_until_ready(result.state)
    seconds = time.perf_counter() - start
    params = result.state.params

    # held-out test digits: first half as A, second half transformed as B
    n = args.test_size // 2
    test_a, labels_a = ds.test["x"][:n], ds.test["y"][:n]
    test_b = domain_transform(ds.test["x"][n : 2 * n], args.transform)
    labels_b = ds.test["y"][n : 2 * n]
    fake_b = translate(model, params, test_a, "a_to_b")
    fake_a = translate(model, params, test_b, "b_to_a")
    classifier = evaluation.load_mnist_classifier()
    a_to_b = evaluation.sample_quality(
        np.asarray(inverse_domain_transform(fake_b, args.transform)),
        labels_a,
        classifier,
    )
    b_to_a = evaluation.sample_quality(np.asarray(fake_a), labels_b, classifier)
    real = evaluation.sample_quality(test_a, labels_a, classifier)
    errors = cycle_errors(model, params, test_a, test_b)
    rec_a = translate(model, params, fake_b, "b_to_a")
    rec_b = translate(model, params, fake_a, "a_to_b")
    rows = [test_a[:10], fake_b[:10], rec_a[:10], test_b[:10], fake_a[:10], rec_b[:10]]
    args.out.mkdir(parents=True, exist_ok=True)
    figure = plotting.image_grid(
        np.concatenate([np.asarray(r) for r in rows]),
        args.out / f"cyclegan_{args.transform}.png",
        f"CycleGAN MNIST <-> {args.transform}: rows a, G(a), F(G(a)), b, F(b), G(F(b))",
    )
    summary = {
        "config": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
        },
        "train_seconds": seconds,
        "steps": int(result.state.step),
        "translation_accuracy_a_to_b": a_to_b.accuracy,
        "translation_accuracy_b_to_a": b_to_a.accuracy,
        "classifier_accuracy_real_test": real.accuracy,
        "cycle_mae_a": errors.a_mae,
        "cycle_mse_a": errors.a_mse,
        "cycle_mae_b": errors.b_mae,
        "cycle_mse_b": errors.b_mse,
        "final_losses": {
            k: float(v[-1]) for k, v in result.history.items() if k.endswith("loss")
        },
        "figure": str(figure),
    }
    print(
        f"{seconds:.0f} s, {summary['steps']} steps; translation accuracy "
        f"A->B {a_to_b.accuracy:.3f}, B->A {b_to_a.accuracy:.3f} (real test digits "
        f"{real.accuracy:.3f}); cycle MAE / MSE: a {errors.a_mae:.4f} / "
        f"{errors.a_mse:.4f}, b {errors.b_mae:.4f} / {errors.b_mse:.4f}"
    )
    (args.out / f"cyclegan_{args.transform}.json").write_text(
        json.dumps(summary, indent=1)
    )
    return summary


if __name__ == "__main__":
    main()
