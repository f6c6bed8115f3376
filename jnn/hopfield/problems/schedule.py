"""The temperature schedule shared by the Potts TSP annealers.

:func:`schedule_steps` checks the settings that the serial Potts annealer
(:mod:`jnn.hopfield.problems.tsp_potts`) and the softassign annealer
(:mod:`jnn.hopfield.problems.tsp_softassign`) both take, and counts the
temperatures ``T_k = start T_c cooling^k`` down to ``stop T_c``.
"""

from __future__ import annotations

import math

import numpy as np

from jnn._checks import check_positive_float


def schedule_steps(start, stop, cooling, noise, cleanup_sweeps) -> int:
    """Check an annealer's shared settings; the number of temperatures.

    ``T_k = start T_c cooling^k`` down to ``stop T_c``: at least 2 steps.
    Shared by :func:`jnn.hopfield.problems.tsp_potts.anneal_serial` and the
    softassign annealer.

    Raises:
      TypeError: non-numeric settings, a non-integer ``cleanup_sweeps``.
      ValueError: non-positive or non-finite settings, ``cooling`` outside
        (0, 1), ``stop >= start``, a negative ``cleanup_sweeps``.
    """
    for name, value in (
        ("start", start),
        ("stop", stop),
        ("noise", noise),
        ("cooling", cooling),
    ):
        check_positive_float(value, name)
    if not 0.0 < cooling < 1.0:
        raise ValueError(f"`cooling` must be in (0, 1); got {cooling}.")
    if not stop < start:
        raise ValueError(f"`stop` must be < `start`; got stop={stop}, start={start}.")
    if isinstance(cleanup_sweeps, bool) or not isinstance(
        cleanup_sweeps, int | np.integer
    ):
        raise TypeError(
            f"`cleanup_sweeps` must be an int >= 0; got {cleanup_sweeps!r}."
        )
    if cleanup_sweeps < 0:
        raise ValueError(f"`cleanup_sweeps` must be >= 0; got {cleanup_sweeps}.")
    return max(2, math.ceil(math.log(stop / start) / math.log(cooling)))
