"""Hopfield & Tank (1985) on random 10-city instances: validity and gap.

Measurement: ``--instances`` random 10-city instances in the unit square
(seeded), exact optima by Held-Karp, ``--restarts`` vmapped restarts per
instance and setting. For the paper's parameters (A = B = 500, C = 200,
D = 500, n = 15, u0 = 0.02) and a sweep of D and n_target, and for the Potts
mean-field network (its serial Peterson-Soderberg form with cooling 0.99, and
the default softassign annealer): the valid-tour rate over all
restarts, the mean gap L / L* - 1 over the valid restarts, and the mean over
instances of the best restart's gap.

Run:  python examples/hopfield/tsp_hopfield_tank.py [--instances 20] [--restarts 100]
Expected: the paper's setting is valid on roughly 10-20% of restarts; Potts
100% valid with a mean gap <= 5% (several minutes on two CPU cores, most of
it the stiff Hopfield-Tank integrations).
"""

from __future__ import annotations

import argparse

from jnn.hopfield.demos.tsp import (
    HT_SETTINGS,
    POTTS,
    POTTS_SMALL,
    SERIAL,
    SERIAL_SMALL,
    format_rows,
    ten_city_study,
)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="2 instances x 8")
    args = parser.parse_args(argv)
    settings = dict(HT_SETTINGS)
    if args.smoke:
        args.instances, args.restarts = 2, 8
        settings = dict(list(settings.items())[:1])
    settings[SERIAL] = SERIAL_SMALL
    settings[POTTS] = POTTS_SMALL
    rows = ten_city_study(args.seed, args.instances, args.restarts, settings)
    print(f"10 cities, {args.instances} instances x {args.restarts} restarts")
    columns = ["setting", "valid", "mean_gap", "best_gap", "no_valid", "seconds"]
    print(format_rows(rows, columns))
    return rows


if __name__ == "__main__":
    main()
