"""One API for the shallow chapter's fits: result fields, predictors, renames.

The fits run on the table's tiny data with the table's settings
(``test_bad_inputs.py``), so that they reuse its compiled programs.
"""

import warnings

import jax
import numpy as np
import pytest
from scipy.stats import multivariate_normal

import jnn.static as S
from tests.static.test_bad_inputs import BY_NAME, GMM, KEY, X, Y


def fit(name):
    spec = BY_NAME[name]
    return spec.fn(**spec.valid)


# fit -> (predictors, the history entry every iteration records)
FITS = {
    "kmeans_fit": ((S.kmeans_predict,), "inertia"),
    "gmm_fit": ((S.gmm_predict, S.gmm_predict_proba), "log_likelihood"),
    "vb_gmm_fit": ((S.vb_gmm_predict, S.vb_gmm_predict_proba), "elbo"),
    "prbf_fit": ((S.prbf_predict, S.prbf_predict_proba), "log_likelihood"),
    "rbf_fit": ((S.rbf_predict, S.rbf_classify), "loss"),
    "pnn_fit": ((S.pnn_predict, S.pnn_predict_proba), None),
    "som_fit": ((S.som_predict,), "quantization_error"),
}


@pytest.mark.parametrize("name", sorted(FITS))
def test_every_fit_returns_the_common_fields(name):
    result = fit(name)
    predictors, metric = FITS[name]
    assert isinstance(result.iterations, int) and result.iterations >= 1
    assert isinstance(result.converged, bool)
    assert isinstance(result.history, dict)
    if metric is None:  # PNN: one pass, nothing to record
        assert (result.iterations, result.converged, result.history) == (1, True, {})
    elif name == "som_fit":  # epoch means of a fixed schedule of T steps
        assert result.converged and result.iterations == 4
        assert len(result.history[metric]) == result.epochs
    else:
        assert len(result.history[metric]) == result.iterations
    for predict in predictors:  # the result or its params, same answer
        np.testing.assert_array_equal(
            predict(result, X[:5]), predict(result.params, X[:5])
        )


def test_the_size_follows_the_data_positionally():
    spec = BY_NAME["rbf_fit"]
    by_keyword = S.rbf_fit(X, Y, key=KEY, n_centers=2)  # the old spelling works
    by_position = S.rbf_fit(X, Y, 2, key=KEY)
    np.testing.assert_array_equal(by_keyword.weights, by_position.weights)
    assert spec.valid["n_centers"] == 2
    result = S.prbf_fit(X, Y, 2, key=KEY, n_classes=2, max_iter=2)
    assert result.means.shape == (2, 2)


def test_renamed_names_warn_and_still_work():
    result = fit("kmeans_fit")
    for old in (result, fit("gmm_fit"), fit("vb_gmm_fit")):
        with pytest.warns(DeprecationWarning, match="use `iterations`"):
            assert old.n_iter == old.iterations
    with pytest.warns(DeprecationWarning, match="`centers` is deprecated"):
        old = S.rbf_fit(X, Y, 2, key=KEY, centers="random")
    new = S.rbf_fit(X, Y, 2, key=KEY, init="random")
    np.testing.assert_array_equal(old.centers, new.centers)
    with pytest.raises(TypeError, match="pass `init` only"):
        S.rbf_fit(X, Y, 2, key=KEY, centers="random", init="random")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names do not warn
        assert result.iterations >= 1


def numpy_responsibilities(params, x):
    """``w_k N(x_o; mu_o, S_oo) / sum``, observed coordinates only, float64."""
    out = []
    for row in x:
        o = ~np.isnan(row)
        dens = [
            w * multivariate_normal(m[o], np.diag(v[o])).pdf(row[o])
            for w, m, v in zip(*params, strict=True)
        ]
        out.append(np.array(dens) / np.sum(dens))
    return np.array(out)


def test_gmm_predict_proba_is_bayes_rule_and_marginalises_missing_cells():
    x = X.copy()
    x[1, 0] = x[7, 1] = np.nan
    probs = np.asarray(S.gmm_predict_proba(GMM, x))
    expected = numpy_responsibilities([np.asarray(p, np.float64) for p in GMM], x)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    np.testing.assert_array_equal(S.gmm_predict(GMM, x), expected.argmax(1))


def test_kmeans_and_som_predict_the_nearest_prototype():
    result = fit("kmeans_fit")
    nearest = np.argmin(
        ((X[:, None] - np.asarray(result.centers)[None]) ** 2).sum(-1), 1
    )
    np.testing.assert_array_equal(S.kmeans_predict(result, X), nearest)
    np.testing.assert_array_equal(S.kmeans_predict(result, X), result.labels)
    som = fit("som_fit")
    np.testing.assert_array_equal(
        S.som_predict(som, X), S.best_matching_unit(som.weights, X)
    )
    # under jit the checks see shapes only; the answer is the eager one
    np.testing.assert_array_equal(
        jax.jit(S.kmeans_predict)(result.centers, X), S.kmeans_predict(result, X)
    )


def test_predictors_compile_once(count_traces):
    results = {name: fit(name) for name in FITS}
    for name, (predictors, _) in FITS.items():  # first calls: compiled here
        for predict in predictors:
            predict(results[name], X)
    with count_traces() as traces:  # new values, same shapes: no retrace
        for name, (predictors, _) in FITS.items():
            for predict in predictors:
                predict(results[name], X + 0.5)
        S.gmm_predict_proba(GMM._replace(means=GMM.means + 1.0), X)
    assert traces() == 0
