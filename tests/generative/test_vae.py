"""VAE (Kingma & Welling 2014) and the importance-weighted bound (Burda et al. 2016)."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.generative import vae as V
from jnn.train import Context, fit, gradient_learner

# a tiny model for the exact checks: D = 6 pixels, 5 hidden units, L = 3 latents
D, H, L, B = 6, 5, 3, 4
TINY = V.mlp_vae(latents=L, hidden=H, features=D)


@pytest.fixture(scope="module")
def tiny():
    x = np.asarray(jax.random.uniform(jax.random.key(1), (B, D)))  # grey levels
    params = jax.jit(TINY.init)(jax.random.key(0), x, eps=jnp.zeros((B, L)))
    return params["params"], x


def _numpy_layers(params):
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    return p["encoder"], p["decoder"]


def _numpy_terms(params, x, eps):
    """Hand computation of -log p(x|z) and KL (float64, closed form)."""
    enc, dec = _numpy_layers(params)

    def dense(layer, v):
        return v @ layer["kernel"] + layer["bias"]

    h = np.maximum(dense(enc["hidden_0"], x), 0.0)
    mean, log_var = dense(enc["mean"], h), dense(enc["log_variance"], h)
    z = mean + np.exp(0.5 * log_var) * eps
    logits = dense(dec["logits"], np.maximum(dense(dec["hidden_0"], z), 0.0))
    p = 1.0 / (1.0 + np.exp(-logits))
    reconstruction = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    kl = 0.5 * np.sum(mean**2 + np.exp(log_var) - 1.0 - log_var, axis=1)
    log_q = -0.5 * np.sum(np.log(2 * np.pi) + log_var + eps**2, axis=1)
    log_prior = -0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=1)
    return reconstruction, kl, log_q - log_prior


def test_elbo_terms_equal_a_hand_computation(tiny):
    params, x = tiny
    key = jax.random.key(3)
    # the loss draws eps = normal(key, (B, L)) with the step's key
    eps = np.asarray(jax.random.normal(key, (B, L)))
    rec, kl, sampled_kl = _numpy_terms(params, np.asarray(x, np.float64), eps)
    loss = jax.jit(V.negative_elbo(TINY))
    value, aux, state = loss(params, {"x": jnp.asarray(x)}, Context(key, True))
    assert state == {}
    np.testing.assert_allclose(aux["reconstruction"], rec.mean(), rtol=1e-5)
    np.testing.assert_allclose(aux["kl"], kl.mean(), rtol=1e-5)
    np.testing.assert_allclose(value, (rec + kl).mean(), rtol=1e-5)
    terms = jax.jit(
        lambda p, x, eps: V.elbo_terms(
            TINY.apply({"params": p}, x, eps=eps), x, analytic_kl=False
        )
    )
    r, k = terms(params, jnp.asarray(x), jnp.asarray(eps))
    np.testing.assert_allclose(r, rec, rtol=1e-5)
    np.testing.assert_allclose(k, sampled_kl, rtol=1e-4, atol=1e-5)


def test_gaussian_decoder_log_prob_is_the_normal_density():
    rng = np.random.default_rng(0)
    mean, log_var, x = rng.normal(size=(3, 2, 5))
    got = V.Gaussian(*(jnp.asarray(a, jnp.float32) for a in (mean, log_var)))
    var = np.exp(log_var)
    want = np.sum(-0.5 * np.log(2 * np.pi * var) - (x - mean) ** 2 / (2 * var), 1)
    np.testing.assert_allclose(
        got.log_prob(jnp.asarray(x, jnp.float32)), want, rtol=1e-5
    )
    # fixed variance: no log-variance layer, sigma^2 = 0.5 everywhere
    decoder = V.GaussianDecoder(5, (4,), learned_variance=False, variance=0.5)
    layers = {"hidden_0": (2, 4), "mean": (4, 5)}
    params = {
        name: {"kernel": jnp.ones(shape), "bias": jnp.zeros(shape[1])}
        for name, shape in layers.items()
    }
    out = decoder.apply({"params": params}, jnp.ones((3, 2)))
    np.testing.assert_allclose(out.log_variance, np.full((3, 5), math.log(0.5)))
    np.testing.assert_allclose(out.mean, np.full((3, 5), 8.0))


def test_bernoulli_log_prob_and_gradient_match_the_softplus_form():
    # the decoder's softplus has a hand-written derivative (a faster path)
    logits = jnp.array([[-120.0, -8.0, -0.5, 0.0, 0.7, 9.0, 150.0]])
    x = jnp.array([[0.0, 1.0, 0.3, 1.0, 0.0, 0.5, 1.0]])

    @jax.jit
    def both(logits):
        def reference(logits):
            return jnp.sum(x * logits - jax.nn.softplus(logits))

        def ours(logits):
            return jnp.sum(V.Bernoulli(logits).log_prob(x))

        return jax.value_and_grad(ours)(logits), jax.value_and_grad(reference)(logits)

    (value, grad), (want, want_grad) = both(logits)
    np.testing.assert_allclose(value, want, rtol=1e-6)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-7)


def test_kl_closed_form_matches_monte_carlo():
    mean = jnp.array([0.5, -1.0, 0.2])
    log_var = jnp.array([-0.7, 0.3, 0.0])
    n = 200_000
    eps = np.asarray(jax.random.normal(jax.random.key(5), (n, 3)), np.float64)
    z = np.asarray(mean) + np.exp(0.5 * np.asarray(log_var)) * eps
    samples = np.asarray(
        V.log_diagonal_normal(jnp.asarray(z), mean[None], log_var[None])
        - V.log_standard_normal(jnp.asarray(z))
    )
    standard_error = samples.std() / math.sqrt(n)
    exact = float(V.gaussian_kl(mean, log_var))
    assert abs(samples.mean() - exact) < 4 * standard_error
    assert float(V.gaussian_kl(jnp.zeros(3), jnp.zeros(3))) == 0.0


def test_reparameterisation_gradients_are_unbiased():
    # E[z^2] = mu^2 + sigma^2: d/dmu = 2 mu, d/dlog sigma^2 = sigma^2
    mu, log_var = jnp.array([0.7, -0.3]), jnp.array([0.4, -1.1])
    eps = jax.random.normal(jax.random.key(2), (100_000, 2))

    def objective(mu, log_var):
        return jnp.mean(jnp.sum(V.reparameterize(mu[None], log_var[None], eps) ** 2, 1))

    g_mu, g_var = jax.grad(objective, argnums=(0, 1))(mu, log_var)
    np.testing.assert_allclose(g_mu, 2 * mu, atol=0.02)  # s.e. ~0.006
    np.testing.assert_allclose(g_var, jnp.exp(log_var), rtol=0.02)  # s.e. ~0.5%


def test_matches_pytorch_vae_with_copied_weights(tiny):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    params, x = tiny
    enc, dec = _numpy_layers(params)

    def linear(layer):
        lin = torch.nn.Linear(*layer["kernel"].shape).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(layer["kernel"].T))
            lin.bias.copy_(torch.from_numpy(layer["bias"]))
        return lin

    # the PyTorch example's VAE: fc1, fc21/fc22, fc3, fc4, BCE(sum) + KLD
    fc1, fc21, fc22 = (
        linear(enc["hidden_0"]),
        linear(enc["mean"]),
        linear(enc["log_variance"]),
    )
    fc3, fc4 = linear(dec["hidden_0"]), linear(dec["logits"])
    eps = np.asarray(jax.random.normal(jax.random.key(4), (B, L)), np.float64)
    xt = torch.from_numpy(np.asarray(x, np.float64))
    h = F.relu(fc1(xt))
    mu, logvar = fc21(h), fc22(h)
    z = mu + torch.exp(0.5 * logvar) * torch.from_numpy(eps)
    recon = torch.sigmoid(fc4(F.relu(fc3(z))))
    bce = F.binary_cross_entropy(recon, xt, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    (bce + kld).backward()

    def ours(params):
        out = TINY.apply({"params": params}, jnp.asarray(x), eps=jnp.asarray(eps))
        rec, kl = V.elbo_terms(out, jnp.asarray(x))
        return jnp.sum(rec + kl), out

    (value, out), grads = jax.value_and_grad(ours, has_aux=True)(params)
    np.testing.assert_allclose(out.mean, mu.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        out.likelihood.mean_image(), recon.detach().numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(value, float((bce + kld).detach()), rtol=1e-5)
    pairs = {
        ("encoder", "hidden_0"): fc1,
        ("encoder", "mean"): fc21,
        ("encoder", "log_variance"): fc22,
        ("decoder", "hidden_0"): fc3,
        ("decoder", "logits"): fc4,
    }
    for (part, layer), lin in pairs.items():
        g = grads[part][layer]
        np.testing.assert_allclose(g["kernel"], lin.weight.grad.numpy().T, atol=2e-5)
        np.testing.assert_allclose(g["bias"], lin.bias.grad.numpy(), atol=2e-5)


def test_iwae_with_one_sample_is_the_elbo_with_the_same_draw(tiny):
    params, x = tiny
    key = jax.random.key(8)
    bound = V.importance_weighted_bound(TINY, params, x, key, k=1)
    eps = np.stack(
        [
            np.asarray(jax.random.normal(jax.random.fold_in(key, b), (1, L)))[0]
            for b in range(B)
        ]
    )
    rec, _, sampled_kl = _numpy_terms(params, np.asarray(x, np.float64), eps)
    np.testing.assert_allclose(bound, -(rec + sampled_kl), rtol=1e-5)


def test_interpolation_paths():
    z0, z1 = jnp.array([3.0, 0.0]), jnp.array([0.0, 3.0])
    linear = V.interpolate(z0, z1, 5)
    spherical = V.interpolate(z0, z1, 5, "spherical")
    for path in (linear, spherical):
        np.testing.assert_allclose(path[0], z0, atol=1e-6)
        np.testing.assert_allclose(path[-1], z1, atol=1e-6)
    np.testing.assert_allclose(jnp.linalg.norm(spherical, axis=1), 3.0, rtol=1e-5)
    assert float(jnp.linalg.norm(linear[2])) == pytest.approx(3 / math.sqrt(2))
    # parallel ends: spherical falls back to linear
    np.testing.assert_allclose(
        V.interpolate(z0, 2 * z0, 3, "spherical"), V.interpolate(z0, 2 * z0, 3)
    )


# --- MNIST -------------------------------------------------------------------------

MNIST_MODEL = V.mlp_vae(latents=8, hidden=128)


@pytest.fixture(scope="module")
def mnist_run():
    from tests.conftest import load

    ds = load("mnist", standardize=False, val_size=1000)
    x = np.asarray(jax.random.bernoulli(jax.random.key(0), ds.train["x"][:6400]))
    test = np.asarray(jax.random.bernoulli(jax.random.key(1), ds.test["x"][:500]))
    x, test = x.astype(np.float32), test.astype(np.float32)
    learner = gradient_learner(
        MNIST_MODEL, V.negative_elbo(MNIST_MODEL), optax.adam(3e-3)
    )
    # trace-count guard: fit traces the step twice (the history's layout by
    # eval_shape, then the compiled epochs), never again for 3 epochs x 100 steps
    learner = learner._replace(update=chex.assert_max_traces(learner.update, n=2))
    result = fit(
        learner,
        {"x": x},
        key=jax.random.key(0),
        epochs=3,
        batch_size=64,
        val={"x": test},
        progress=False,
    )
    return result, test


def test_mnist_negative_elbo_drops(mnist_run):
    result, _ = mnist_run
    history = result.history
    assert {"loss", "reconstruction", "kl", "grad_norm", "val_kl"} <= set(history)
    np.testing.assert_allclose(
        history["val_loss"],
        history["val_reconstruction"] + history["val_kl"],
        rtol=1e-5,
    )
    # 300 Adam steps of a 784-128-8 VAE on binarised digits: measured 137.9-139.3
    # nats over 4 seeds (the base-rate model, independent pixels: about 206)
    assert float(history["val_loss"][-1]) < 141.0


def test_iwae_is_at_least_the_elbo_on_average(mnist_run):
    result, test = mnist_run
    params = result.state.params
    iwae = V.importance_weighted_bound(MNIST_MODEL, params, test, jax.random.key(2))
    # measured (4 seeds): IWAE-50 3.7-4.6 nats above the one-draw test ELBO
    elbo = -float(result.history["val_loss"][-1])
    assert float(jnp.mean(iwae)) > elbo + 2.0


def test_bad_input(tiny):
    params, x = tiny
    with pytest.raises(ValueError, match="`latents`"):
        V.mlp_vae(latents=0)
    with pytest.raises(ValueError, match="`latents`"):
        V.GaussianEncoder(latents=-1)
    with pytest.raises(ValueError, match="`k`"):
        V.importance_weighted_bound(TINY, params, x, jax.random.key(0), k=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        V.importance_weighted_bound(TINY, params, x * 255, jax.random.key(0))
    learner = gradient_learner(TINY, V.negative_elbo(TINY), optax.adam(1e-2))
    with pytest.raises(ValueError, match=r"train\['x'\].*\[0, 1\]"):
        fit(learner, {"x": x - 0.5}, key=jax.random.key(0), epochs=1)
    with pytest.raises(ValueError, match="`x` must have 6 columns"):
        V.reconstruct(TINY, params, x[:, :5])
    with pytest.raises(ValueError, match="`method`"):
        V.interpolate(jnp.zeros(2), jnp.ones(2), 3, "cubic")
    with pytest.raises(ValueError, match="`likelihood`"):
        V.mlp_vae(likelihood="poisson")
    with pytest.raises(TypeError, match="`model`"):
        V.negative_elbo(V.GaussianEncoder())
