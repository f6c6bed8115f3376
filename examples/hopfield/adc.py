"""Tank & Hopfield (1986) A/D converter: fraction of inputs converted correctly.

Measurement: the n-bit converter (``jnn.hopfield.adc``) is started at rest
(u = 0, every output 1/2) for each input on a fine grid of [0, 2^n - 1] and
integrated with Tsit5 until a steady state; its code (``adc_decode``) counts
as correct when it is a nearest integer to the input (either side of a tie).
The fraction correct is printed per amplifier gain, with the input intervals
that end in the energy's spurious minima (the paper's local minima: inputs
just below a carry such as 3.5-3.9 read 0011 instead of 0100).

Run:  python examples/hopfield/adc.py [--bits 4] [--points 1501] [--out DIR]
Expected (4 bits): about 0.93 at gain 2-3, 0.91 at gain 10, 0.89 at gain 100;
below gain 1 the leak keeps the outputs analogue and half the inputs fail.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

# The same study and figure as `jnn run adc`.
from jnn.hopfield.demos.qubo import adc_study, intervals, plot_adc

GAINS = [0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--points", type=int, default=1501)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="61 inputs, 2 gains")
    args = parser.parse_args(argv)
    gains = [2.0, 10.0] if args.smoke else GAINS
    points = 61 if args.smoke else args.points
    start = time.perf_counter()
    study = adc_study(points, gains, args.bits)
    seconds = time.perf_counter() - start
    step = float(study["grid"][1] - study["grid"][0])
    for gain, fraction, wrong in zip(
        gains, study["fraction"], study["wrong"], strict=True
    ):
        print(
            f"gain {gain:>6g}: {fraction:.3f} correct; "
            f"wrong at {intervals(wrong, step)}"
        )
    figure = plot_adc(
        study, gains.index(10.0), args.out / "adc_staircase.png", args.bits
    )
    print(f"{points} inputs x {len(gains)} gains in {seconds:.1f} s; wrote {figure}")
    return {"gains": gains, "fraction": np.asarray(study["fraction"]).tolist()}


if __name__ == "__main__":
    main()
