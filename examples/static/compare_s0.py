"""S0 in full: five models on four real data sets, Occam's razor and No Free Lunch.

The ``compare-s0`` demo leaves out iris, RBF and PRBF to stay within its time
budget; this script runs all five contestants (linear, MLP-32, RBF, PNN, PRBF,
:func:`jnn.static.demos.compare.contestants`) on iris, wine, breast_cancer and
digits (fixed splits of :func:`jnn.data.load`) and writes the table
(``compare_s0.md``: parameters, train/val/test errors, seconds) and a heat map
of the test errors.

Run:  python examples/static/compare_s0.py [--seed 0] [--out DIR] [--smoke]
Expected: more than one distinct winner (No Free Lunch); about 40 s on 2 cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jnn.demos import DemoConfig
from jnn.static.demos.compare import compare_s0, contestants


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args(argv)
    config = DemoConfig(out=args.out, seed=args.seed, smoke=args.smoke)
    models = contestants(epochs=3 if args.smoke else 300)
    names = ["iris", "wine", "breast_cancer", "digits"]
    if args.smoke:  # compilation dominates: two models, one data set
        models = {k: models[k] for k in ("linear", "prbf")}
        names = ["iris"]
    result = compare_s0(config, models=models, names=names)
    print(result.summary)
    print((args.out / "compare_s0.md").read_text())
    return {"winners": int(result.value), "table": args.out / "compare_s0.md"}


if __name__ == "__main__":
    main()
