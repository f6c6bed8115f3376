"""Hopfield capacity (D11) and basins (D9) at N = 1000, 20 trials per load.

Measurement: for each load alpha = M / N and each trial, M random ±1 patterns
are stored, one of them is picked, 5% of its units are flipped, the network is
run asynchronously (random order) to a fixed point, and the final overlap
m = s . xi / N is recorded; the plot shows its mean over the trials. The
Hebbian memory collapses near alpha_c ~ 0.138 (Amit, Gutfreund & Sompolinsky
1985); Storkey's rule (stable up to N / sqrt(2 ln N) = 0.27 N) and the
pseudo-inverse rule (up to M ~ N) hold far beyond. Correlated patterns (pair
overlap 0.16) ruin the Hebbian memory at a few percent load; orthogonalising
them before storage restores it. Right panel: basins at alpha = 0.05.

Run:  python examples/hopfield/capacity.py [--n 1000] [--trials 20] [--out DIR]
Expected: Hebbian m >= 0.97 at alpha = 0.10 and m <= 0.5 at alpha = 0.20
(a few minutes on two CPU cores, most of it Storkey storage at high load).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np

# The same studies and figure as `jnn run hopfield-capacity`, at full size.
from jnn.hopfield.demos.dhnn import basin_study, capacity_study, plot_capacity

LOADS = {
    "Hebbian": np.arange(1, 13) * 0.025,
    "Storkey": np.arange(1, 13) * 0.05,
    "pseudo-inverse": np.arange(1, 10) * 0.1,
    "correlated": [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3],
}


def at(curve, alpha: float) -> float:
    """Mean overlap of ``curve`` at the load closest to ``alpha``."""
    return float(curve.mean_overlap[np.argmin(np.abs(curve.alpha - alpha))])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="N = 100, 4 trials")
    args = parser.parse_args(argv)
    loads = LOADS
    if args.smoke:
        args.n, args.trials = 100, 4
        loads = {
            "Hebbian": [0.05, 0.1, 0.2, 0.3],
            "Storkey": [0.2],
            "pseudo-inverse": [0.5],
        }
        loads["correlated"] = [0.05]
    key = jax.random.key(args.seed)
    start = time.perf_counter()
    results = capacity_study(args.n, args.trials, key, noise=args.noise, loads=loads)
    distances = np.arange(0, args.n // 2 + 1, args.n // 20)
    fractions = basin_study(args.n, args.trials, key, distances)
    seconds = time.perf_counter() - start
    figure = plot_capacity(
        results, fractions, distances, args.out / "hopfield_capacity.png", args.n
    )
    for name, c in results.items():
        pairs = ", ".join(
            f"{a:.3f}:{m:.3f}" for a, m in zip(c.alpha, c.mean_overlap, strict=True)
        )
        print(f"{name:>26}  alpha:m  {pairs}")
    for name, fraction in fractions.items():
        print(
            f"{name:>26}  basin at d/N = {np.round(distances / args.n, 2).tolist()}: "
            f"{np.round(fraction, 2).tolist()}"
        )
    hebb = results["Hebbian"]
    summary = {
        "hebbian_overlap_0.10": at(hebb, 0.10),
        "hebbian_overlap_0.20": at(hebb, 0.20),
        "curves": results,
        "basins": fractions,
        "seconds": seconds,
        "figure": figure,
    }
    print(
        f"N = {args.n}, {args.trials} trials, {seconds:.0f} s: Hebbian m = "
        f"{summary['hebbian_overlap_0.10']:.3f} at alpha 0.10 (target >= 0.97), "
        f"{summary['hebbian_overlap_0.20']:.3f} at alpha 0.20 (target <= 0.5)"
    )
    return summary


if __name__ == "__main__":
    main()
