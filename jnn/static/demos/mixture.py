"""Demos of the mixture chapter (S6 EM with missing data, S7 variational Bayes)."""

from __future__ import annotations

import jax
import numpy as np

from jnn import data as jdata
from jnn import plotting
from jnn.demos import DemoConfig, DemoResult, register
from jnn.static.mixtures.mixture import gmm_fit
from jnn.static.mixtures.predict import gmm_log_likelihood
from jnn.static.mixtures.vb_fit import vb_gmm_fit


def _pooled_digits(seed: int):
    """Digits averaged over 2x2 pixel blocks (16 inputs), standardised on train."""
    ds = jdata.load("digits", seed=seed)
    train, test = (
        s["x"].reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16)
        for s in (ds.train, ds.test)
    )
    mean, scale = train.mean(0), train.std(0)
    return (train - mean) / scale, (test - mean) / scale


def _hide(x, fraction, rng):
    missing = rng.random(x.shape) < fraction
    missing[missing.all(axis=1), 0] = False
    return np.where(missing, np.nan, x)


@register("em-missing-data", "S6", "EM with 20% of digits missing vs mean-impute")
def em_missing_data(config: DemoConfig) -> DemoResult:
    """Full-covariance EM on digits (2x2-pooled) with 20% of the cells removed.

    EM that marginalises the missing cells (Ghahramani & Jordan 1994) is
    compared with EM on mean-imputed data; both are scored by the marginal
    log-likelihood of held-out rows that miss 20% of their cells too.
    """
    train, test = _pooled_digits(config.seed)
    rng = np.random.default_rng(config.seed)
    if config.smoke:
        train, test = train[:300], test[:100]
    x_train, x_test = _hide(train, 0.2, rng), _hide(test, 0.2, rng)
    imputed = np.where(np.isnan(x_train), np.nanmean(x_train, axis=0), x_train)
    k = 3 if config.smoke else 5
    max_iter = config.epochs_or(100, smoke=10)
    fits, held_out = {}, {}
    for label, x in (
        ("EM, missing marginalised", x_train),
        ("mean-impute + EM", imputed),
    ):
        fits[label] = gmm_fit(
            x, k, key=jax.random.key(config.seed), reg_covar=1e-3, max_iter=max_iter
        )
        held_out[label] = gmm_log_likelihood(fits[label].params, x_test)
    fig = plotting.curves(
        {f"{n} (train)": f.history["log_likelihood"] for n, f in fits.items()},
        config.out / "em_missing_data.png",
        title=f"EM on digits 4x4, 20% missing, {k} full components",
        ylabel="mean log-likelihood per row",
    )
    ours, imp = held_out.values()
    return DemoResult(
        "digits (2x2 pooled, 20% missing)",
        "held-out log-likelihood per row (EM with missing data)",
        ours,
        (fig,),
        f"held-out: EM with missing data {ours:.3f} vs mean-impute {imp:.3f} "
        f"(+{ours - imp:.3f} nats/row)",
    )


@register("vb-pruning", "S7", "variational Bayes switches off surplus components")
def vb_pruning(config: DemoConfig) -> DemoResult:
    """VB mixture with 10 full components on iris: the Dirichlet prior prunes."""
    import matplotlib.pyplot as plt

    ds = jdata.load("iris", seed=config.seed)
    x = np.concatenate([ds.train["x"], ds.val["x"], ds.test["x"]])
    result = vb_gmm_fit(
        x,
        10,
        key=jax.random.key(config.seed),
        max_iter=config.epochs_or(300, smoke=20),
        weight_concentration_prior=1e-3,
    )
    weights = np.asarray(result.weights)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(np.arange(1, 11), weights, color=np.where(result.active, "C0", "C7"))
    left.axhline(0.01, linestyle="--", color="gray")
    left.set(xlabel="component", ylabel="expected weight", title="after VB")
    right.plot(np.arange(1, result.iterations + 1), result.history["elbo"])
    right.set(xlabel="iteration", ylabel="ELBO (up to a constant)", title="ELBO")
    path = plotting.save(fig, config.out / "vb_pruning.png")
    n_active = int(result.active.sum())
    return DemoResult(
        "iris",
        "components with expected weight >= 1%",
        float(n_active),
        (path,),
        f"{n_active} of 10 components kept after {result.iterations} iterations; "
        f"weights {np.round(np.sort(weights)[::-1][:n_active], 3).tolist()}",
    )
