"""Demo of the D10 worked example: a 3-neuron Hopfield net recalled step by step."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from jnn import plotting  # noqa: E402
from jnn.demos import DemoConfig, DemoResult, register  # noqa: E402
from jnn.hopfield.discrete.dhnn import energy, recall  # noqa: E402
from jnn.hopfield.discrete.rules import hebbian  # noqa: E402


def _sign(values) -> str:
    return "[" + ", ".join(f"{int(v):+d}" for v in values) + "]"


@register("hopfield-d10", "D10", "3-neuron Hopfield net: Hebb weights, async trace")
def hopfield_d10(config: DemoConfig) -> DemoResult:
    """Store X1 = [1,-1,1], X2 = [-1,1,-1]; recall from [-1,-1,1] sequentially.

    W = (X1 X1^T + X2 X2^T - 2 I) / 3; neuron 1 sees h = 4/3 and flips, the
    others stay (h = -4/3, 4/3), and a second sweep confirms the fixed point
    X1 at energy -2 (from 2/3). Writes the trace as a table and an energy plot.
    """
    patterns = np.array([[1, -1, 1], [-1, 1, -1]])
    w = hebbian(patterns)
    start = np.array([-1, -1, 1])
    out = recall(w, start, mode="async", order="sequential", trace=True)
    steps = int(out.steps)
    e0 = float(energy(w, start))
    rows = [["0", "-", "-", _sign(start), f"{e0:+.3f}"]]
    for t in range(steps):
        rows.append(
            [
                str(t + 1),
                str(int(out.neurons[t]) + 1),
                f"{float(out.fields[t]):+.3f}",
                _sign(out.states[t]),
                f"{float(out.energies[t]):+.3f}",
            ]
        )
    fig, (ax_w, ax_t, ax_e) = plt.subplots(
        1, 3, figsize=(12, 3.6), gridspec_kw={"width_ratios": [1, 2.2, 1.4]}
    )
    ax_w.imshow(np.asarray(w) * 3, cmap="coolwarm", vmin=-2, vmax=2)
    for (i, j), v in np.ndenumerate(np.asarray(w) * 3):
        ax_w.text(j, i, f"{v:+.0f}/3", ha="center", va="center")
    ax_w.set(title="W (Hebb)", xticks=[0, 1, 2], yticks=[0, 1, 2])
    ax_t.axis("off")
    table = ax_t.table(
        rows,
        colLabels=["step", "neuron", "field h", "state", "energy"],
        loc="center",
    )
    table.scale(1, 1.3)
    ax_t.set_title(f"async sequential recall from {_sign(start)}")
    ax_e.plot(range(steps + 1), [e0, *np.asarray(out.energies[:steps])], "o-")
    ax_e.set(xlabel="update", ylabel="energy", title="energy never rises")
    path = plotting.save(fig, config.out / "hopfield_d10_trace.png")
    final = np.asarray(out.result.state)
    recalled = bool(np.array_equal(final, patterns[0]))
    return DemoResult(
        "D10 worked example (N = 3)",
        "recalled X1",
        float(recalled),
        (path,),
        "fields " + ", ".join(f"{float(h):+.3f}" for h in out.fields[:3]) + "; final "
        f"{_sign(final)} after {int(out.result.sweeps)} sweeps, energy "
        f"{e0:+.3f} -> {float(out.result.energy):+.3f}",
    )
