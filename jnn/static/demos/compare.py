"""Demo of curriculum S0: one table, several models, several real data sets."""

from __future__ import annotations

import jax
import numpy as np

from jnn import data as jdata
from jnn import plotting
from jnn.demos import DemoConfig, DemoResult, register
from jnn.static.comparison import (
    compare,
    mlp_model,
    pnn_model,
    prbf_model,
    rbf_model,
)


def contestants(epochs: int = 300) -> dict:
    """The S0 contestants: ``{name: factory}`` for :func:`jnn.static.compare`."""
    return {
        "linear": mlp_model((), epochs=epochs),
        "mlp-32": mlp_model((32,), epochs=epochs),
        "rbf": rbf_model(),
        "pnn": pnn_model(),
        "prbf": prbf_model(),
    }


@register("compare-s0", "S0", "Occam's razor and No Free Lunch on 3 data sets")
def compare_s0(config: DemoConfig, *, models=None, names=None) -> DemoResult:
    """Linear, MLP and PNN on wine, breast_cancer and digits.

    Writes the table (``compare_s0.md``) and a heat map of the test errors;
    the headline is the number of distinct per-data-set winners (> 1 is No
    Free Lunch at work). Compiling is most of the run (about 1.5 s per model
    and data set on 2 cores), so the demo leaves out iris, RBF and PRBF;
    ``examples/static/compare_s0.py`` runs all five models (with PRBF) on all
    four data sets (with iris) through this function.

    Args:
      config: the demo settings.
      models: ``{name: factory}`` (default: :func:`contestants` less RBF and
        PRBF).
      names: data set names for :func:`jnn.data.load`.
    """
    import matplotlib.pyplot as plt

    if names is None:
        names = (
            ["iris", "wine"] if config.smoke else ["wine", "breast_cancer", "digits"]
        )
    datasets = {n: jdata.load(n, seed=config.seed) for n in names}
    if models is None:
        models = contestants(config.epochs_or(300, smoke=3))
        keep = ("linear", "pnn") if config.smoke else ("linear", "mlp-32", "pnn")
        models = {k: models[k] for k in keep}
    result = compare(models, datasets, key=jax.random.key(config.seed))
    config.out.mkdir(parents=True, exist_ok=True)
    table = config.out / "compare_s0.md"
    table.write_text(result.markdown() + "\n")

    errors = np.array(
        [
            [
                next(
                    r.test_error for r in result.rows if r.model == m and r.dataset == d
                )
                for m in models
            ]
            for d in datasets
        ]
    )
    fig, ax = plt.subplots(figsize=(7, 3.5))
    image = ax.imshow(errors, cmap="viridis_r")
    ax.set_xticks(range(len(models)), list(models))
    ax.set_yticks(range(len(datasets)), list(datasets))
    for (i, j), e in np.ndenumerate(errors):
        ax.text(j, i, f"{e:.3f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(image, label="test error")
    ax.set_title("Test error: no model wins everywhere (S0)")
    path = plotting.save(fig, config.out / "compare_s0.png")
    winners = len(set(result.best.values()))
    occam = ", ".join(f"{d}: {m}" for d, m in result.occam.items())
    return DemoResult(
        ", ".join(datasets),
        "distinct best models (No Free Lunch if > 1)",
        float(winners),
        (path,),
        f"best by test error {result.best}; Occam's choice {occam}; "
        f"no_free_lunch={result.no_free_lunch}; table in {table.name}",
    )
