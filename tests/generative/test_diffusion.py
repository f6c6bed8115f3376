"""Tests of jnn.generative.diffusion: schedules, q(x_t|x_0), UNet, loss, samplers.

The samplers are checked on Gaussian data x0 ~ N(m, s^2 I), whose noise
predictor is known in closed form: x_t ~ N(sqrt(ab) m, ab s^2 + 1 - ab), so
eps*(x_t, t) = sqrt(1 - ab) (x_t - sqrt(ab) m) / (ab s^2 + 1 - ab).
"""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.generative import diffusion as dm
from jnn.train import fit, gradient_learner

T = 100
#: Ho et al.'s betas rescaled to T = 100 steps (alpha_bar_T ~ 3e-5).
SCHEDULE = dm.linear_schedule(T, 0.01, 0.2)
MEAN, STD = 0.3, 0.5


class GaussianOracle(nn.Module):
    """The exact epsilon of N(MEAN, STD^2) data under SCHEDULE (any real t).

    Between integer steps, log sigma (sigma^2 = (1 - ab) / ab) is linear in t,
    as in the probability-flow sampler.
    """

    @nn.compact
    def __call__(self, x, t=None):
        ab = np.asarray(SCHEDULE.alpha_bar, np.float64)
        log_sigma = jnp.asarray(0.5 * np.log((1 - ab) / ab), jnp.float32)
        t = jnp.zeros(x.shape[:1]) if t is None else t
        sigma2 = jnp.exp(2 * jnp.interp(t, jnp.arange(T, dtype=jnp.float32), log_sigma))
        a = (1.0 / (1.0 + sigma2))[:, None, None, None]
        return jnp.sqrt(1 - a) * (x - jnp.sqrt(a) * MEAN) / (a * STD**2 + 1 - a)


ORACLE = GaussianOracle()
SHAPE = (2000, 2, 2, 1)


class LinearEpsilon(nn.Module):
    """eps(x, t) = a_t x + b_t: rich enough for Gaussian data."""

    @nn.compact
    def __call__(self, x, t=None):
        t = jnp.zeros(x.shape[:1], jnp.int32) if t is None else t
        a = self.param("a", nn.initializers.zeros, (T,))[t][:, None, None, None]
        b = self.param("b", nn.initializers.zeros, (T,))[t][:, None, None, None]
        return a * x + b


def test_linear_schedule_endpoints_and_closed_forms():
    s = dm.linear_schedule()
    betas = np.asarray(s.betas, np.float64)
    assert s.steps == 1000
    np.testing.assert_allclose(betas[[0, -1]], [1e-4, 0.02], rtol=1e-6)
    np.testing.assert_allclose(np.diff(betas), (0.02 - 1e-4) / 999, rtol=1e-4)
    alpha_bar = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    np.testing.assert_allclose(s.alpha_bar, alpha_bar, rtol=1e-5)
    np.testing.assert_allclose(s.alpha_bar_prev[1:], alpha_bar[:-1], rtol=1e-5)
    assert float(s.alpha_bar_prev[0]) == 1.0
    tilde = betas[1:] * (1 - alpha_bar[:-1]) / (1 - alpha_bar[1:])
    np.testing.assert_allclose(s.posterior_variance[1:], tilde, rtol=1e-5)
    assert float(s.posterior_variance[0]) == 0.0
    assert 4e-5 < float(s.alpha_bar[-1]) < 4.1e-5  # exp(-sum beta) ~ 4.0e-5


def test_cosine_schedule_matches_nichol_dhariwal():
    s = dm.cosine_schedule(1000)
    t = np.arange(1, 1001) / 1000
    f = (
        np.cos((t + 0.008) / 1.008 * np.pi / 2) ** 2
        / np.cos(0.008 / 1.008 * np.pi / 2) ** 2
    )
    unclipped = np.asarray(s.betas) < 0.999
    assert unclipped[:-1].all() and not unclipped[-1]  # only the last is clipped
    np.testing.assert_allclose(
        np.asarray(s.alpha_bar)[:-1], f[:-1], rtol=1e-4, atol=1e-7
    )
    assert float(s.betas[-1]) == pytest.approx(0.999)


def test_forward_noising_matches_closed_form_over_many_draws():
    x0 = jnp.asarray([[-0.8, 0.1], [0.5, 1.0]]).reshape(1, 2, 2, 1)
    n = 20_000
    x0 = jnp.broadcast_to(x0, (n, 2, 2, 1))
    for t in (0, 40, 99):
        steps = jnp.full((n,), t, jnp.int32)
        x_t, noise = dm.forward_sample(SCHEDULE, x0, steps, jax.random.key(t))
        mean, variance = dm.forward_marginal(SCHEDULE, x0, steps)
        ab = float(SCHEDULE.alpha_bar[t])
        np.testing.assert_allclose(mean[0], np.sqrt(ab) * x0[0], rtol=1e-6)
        assert float(variance[0, 0, 0, 0]) == pytest.approx(1 - ab, rel=1e-6)
        se = np.sqrt((1 - ab) / n)
        assert np.abs(np.mean(x_t, 0) - mean[0]).max() < 4.5 * se
        var = np.var(np.asarray(x_t), 0)
        assert np.abs(var / (1 - ab) - 1).max() < 4.5 * np.sqrt(2 / n)
        np.testing.assert_allclose(
            x_t, np.sqrt(ab) * x0 + np.sqrt(1 - ab) * noise, rtol=1e-5, atol=1e-6
        )


def test_unet_parameter_count_and_shapes():
    x = jnp.zeros((2, 28, 28, 1))
    spec = jax.eval_shape(dm.UNet(**dm.BENCHMARK_UNET).init, jax.random.key(0), x)
    assert dm.parameter_count(spec["params"]) == 1_539_329
    out = jax.eval_shape(
        lambda: dm.UNet(channels=8, groups=4).init_with_output(
            jax.random.key(0), x, jnp.array([3.5, 10.0])
        )[0]
    )
    assert out.shape == (2, 28, 28, 1)
    emb = dm.timestep_embedding(jnp.array([0.0, 7.0]), 8)
    np.testing.assert_allclose(emb[0], [0, 0, 0, 0, 1, 1, 1, 1], atol=1e-7)
    np.testing.assert_allclose(emb[1, 0], np.sin(7.0), rtol=1e-6)


def _paths_agree(make, x, *args):
    """Loss and parameter gradients of ``make(path)`` on both conv paths."""
    params = make("reference").init(jax.random.key(0), x, *args)
    results = []
    for path in ("reference", "fast"):
        model = make(path)
        loss = lambda p, m=model: jnp.sum(jnp.sin(m.apply(p, x, *args)))  # noqa: E731
        results.append(jax.jit(jax.value_and_grad(loss))(params))
    # float32 sums reordered (im2col products vs XLA's convolutions)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4), *results
    )


def test_unet_fast_conv_path_equals_reference():
    x = jax.random.normal(jax.random.key(1), (2, 8, 8, 1))
    make = lambda path: dm.UNet(8, (1, 2), blocks=1, groups=4, conv_path=path)  # noqa: E731
    _paths_agree(make, x, jnp.array([3.0, 500.0]))


def test_simple_loss_learns_the_optimal_gaussian_denoiser():
    model = LinearEpsilon()
    loss = dm.simple_loss(model, SCHEDULE)
    learner = gradient_learner(model, loss, optax.adam(0.05))
    x = MEAN + STD * jax.random.normal(jax.random.key(1), (4096, 2, 2, 1))
    x = jnp.clip(x, -1, 1)  # the model's range; N(0.3, 0.5) barely reaches it
    update = jax.jit(chex.assert_max_traces(learner.update, n=1))
    state = learner.init(jax.random.key(0), {"x": x[:64]})
    for i in range(3):
        state, _ = update(state, {"x": x[i * 64 : (i + 1) * 64]}, jax.random.key(i))
    result = fit(learner, {"x": x}, key=jax.random.key(2), epochs=6, batch_size=64)
    ab = np.asarray(SCHEDULE.alpha_bar, np.float64)
    var = float(np.var(np.asarray(x)))
    bayes = np.mean(ab * var / (ab * var + 1 - ab))  # E_t Var(eps | x_t)
    big = jnp.tile(x, (8, 1, 1, 1))
    value, _, _ = loss(result.state.params, {"x": big}, dm_context(3))
    assert float(value) == pytest.approx(bayes, rel=0.06)
    assert result.history["loss"][0] > result.history["loss"][-1]


def dm_context(seed):
    from jnn.train import Context

    return Context(jax.random.key(seed), False)


@pytest.fixture(scope="module")
def x_start():
    return jax.random.normal(jax.random.key(5), SHAPE)


def _moments(samples):
    x = np.asarray(samples, np.float64)
    return x.mean(), x.var()


def test_ddim_eta_zero_is_deterministic_and_eta_positive_is_not(x_start):
    def run(key, eta):
        return dm.ddim_sample(
            ORACLE, {}, SCHEDULE, key, x_start=x_start[:8], steps=10, eta=eta
        )

    a, b = run(jax.random.key(0), 0.0), run(jax.random.key(1), 0.0)
    np.testing.assert_array_equal(a, b)
    c, d = run(jax.random.key(0), 0.5), run(jax.random.key(1), 0.5)
    assert float(jnp.abs(c - d).max()) > 0.05


def test_ddim_with_every_step_and_eta_one_is_the_ancestral_sampler(x_start):
    key = jax.random.key(7)
    common = {"x_start": x_start[:1000], "clip_denoised": False}
    ancestral = dm.ancestral_sample(ORACLE, {}, SCHEDULE, key, **common)
    ddim = dm.ddim_sample(ORACLE, {}, SCHEDULE, key, steps=T, eta=1.0, **common)
    np.testing.assert_allclose(ancestral, ddim, atol=2e-4)
    # Its moments follow Ho et al.'s algorithm 2 in closed form: with the exact
    # eps = k (x - sqrt(ab) m), each step is x <- A x + c + sigma z.
    ab = np.asarray(SCHEDULE.alpha_bar, np.float64)
    beta = np.asarray(SCHEDULE.betas, np.float64)
    sigma2 = np.asarray(SCHEDULE.posterior_variance, np.float64)
    mean, var = 0.0, 1.0
    for t in range(T - 1, -1, -1):
        k = np.sqrt(1 - ab[t]) / (ab[t] * STD**2 + 1 - ab[t])
        a = (1 - beta[t] * k / np.sqrt(1 - ab[t])) / np.sqrt(1 - beta[t])
        c = beta[t] * k * np.sqrt(ab[t]) * MEAN / np.sqrt((1 - ab[t]) * (1 - beta[t]))
        mean, var = a * mean + c, a * a * var + sigma2[t]
    got_mean, got_var = _moments(ancestral)  # 4,000 values: s.e. 0.007 / 0.005
    assert got_mean == pytest.approx(mean, abs=0.02)
    assert got_var == pytest.approx(var, abs=0.014)
    # T = 100 posterior-variance steps shrink the data's variance 0.25 a little
    assert 0.2 < var < 0.24


def test_probability_flow_ode_recovers_the_gaussian(x_start):
    out = dm.probability_flow_sample(
        ORACLE, {}, SCHEDULE, jax.random.key(0), x_start=x_start,
        rtol=1e-4, atol=1e-4, clip_denoised=False,
    )  # fmt: skip
    # For Gaussian data the flow is affine: x_bar - m grows as sqrt(s^2 +
    # sigma^2) (d x_bar / d sigma = sigma (x_bar - m) / (s^2 + sigma^2)); the
    # last denoising step multiplies by s^2 / (s^2 + sigma_min^2).
    ab = np.asarray(SCHEDULE.alpha_bar, np.float64)
    sigma2 = (1 - ab) / ab
    x_bar = np.asarray(x_start, np.float64) / np.sqrt(ab[-1])
    expected = MEAN + STD**2 * (x_bar - MEAN) / np.sqrt(
        (STD**2 + sigma2[0]) * (STD**2 + sigma2[-1])
    )
    np.testing.assert_allclose(out.samples, expected, atol=2e-3)
    mean, var = _moments(out.samples)  # 8,000 values: s.e. 0.006 / 0.004
    assert mean == pytest.approx(MEAN, abs=0.018)
    assert var == pytest.approx(STD**2, abs=0.014)
    assert int(out.evaluations) == 6 * int(out.steps) + 2  # Tsit5 (FSAL) + denoise
    assert 20 < int(out.evaluations) < 200


def test_ddim_timesteps_subsequence():
    np.testing.assert_array_equal(dm.ddim_timesteps(10, 10), np.arange(9, -1, -1))
    np.testing.assert_array_equal(dm.ddim_timesteps(1000, 1), [999])
    steps = dm.ddim_timesteps(1000, 50)
    assert steps[0] == 999 and steps[-1] == 0 and np.all(np.diff(steps) < 0)
    np.testing.assert_array_equal(steps, np.round(np.linspace(999, 0, 50)))
    # Song et al.'s quadratic selection: tau_i = round((i / 49)^2 999), dense
    # near t = 0; the collisions there are lifted to stay strictly decreasing
    quadratic = dm.ddim_timesteps(1000, 50, "quadratic")[::-1]
    assert quadratic[0] == 0 and quadratic[-1] == 999
    np.testing.assert_array_equal(quadratic[:4], [0, 1, 2, 4])  # 0, .42, 1.7, 3.7
    assert quadratic[25] == round((25 / 49) ** 2 * 999) == 260
    assert np.all(np.diff(quadratic) > 0)
    np.testing.assert_array_equal(
        dm.ddim_timesteps(10, 10, "quadratic"), np.arange(9, -1, -1)
    )
    with pytest.raises(ValueError, match="spacing"):
        dm.ddim_timesteps(1000, 50, "cubic")


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="betas"):
        dm.schedule_from_betas(np.array([0.0, 0.1]))
    with pytest.raises(ValueError, match="betas"):
        dm.schedule_from_betas(np.array([0.1, 1.0]))
    with pytest.raises(ValueError, match="beta_end"):
        dm.linear_schedule(10, 1e-4, 1.5)
    with pytest.raises(ValueError, match="max_beta"):
        dm.cosine_schedule(10, max_beta=1.0)
    with pytest.raises(ValueError, match="steps"):
        dm.ddim_sample(
            ORACLE, {}, SCHEDULE, jax.random.key(0), (1, 2, 2, 1), steps=T + 1
        )
    with pytest.raises(ValueError, match="steps"):
        dm.ddim_sample(ORACLE, {}, SCHEDULE, jax.random.key(0), (1, 2, 2, 1), steps=0)
    with pytest.raises(ValueError, match="eta"):
        dm.ddim_sample(ORACLE, {}, SCHEDULE, jax.random.key(0), (1, 2, 2, 1), eta=-0.1)
    with pytest.raises(ValueError, match="x0"):
        dm.forward_sample(
            SCHEDULE, jnp.full((1, 2, 2, 1), 1.5), jnp.zeros(1, jnp.int32),
            jax.random.key(0),
        )  # fmt: skip
    with pytest.raises(ValueError, match="t"):
        dm.forward_marginal(SCHEDULE, jnp.zeros((1, 2, 2, 1)), jnp.array([T]))
    model = LinearEpsilon()
    learner = gradient_learner(model, dm.simple_loss(model, SCHEDULE), optax.sgd(0.1))
    with pytest.raises(ValueError, match=r"train\['x'\].*\[-1, 1\]"):
        fit(learner, {"x": jnp.full((8, 2, 2, 1), 2.0)}, key=jax.random.key(0),
            epochs=1)  # fmt: skip
    with pytest.raises(TypeError, match="schedule"):
        dm.ancestral_sample(ORACLE, {}, "linear", jax.random.key(0), (1, 2, 2, 1))
    with pytest.raises(ValueError, match="shape"):
        dm.ancestral_sample(ORACLE, {}, SCHEDULE, jax.random.key(0), (2, 2, 1))
    with pytest.raises(ValueError, match="variance"):
        dm.ancestral_sample(
            ORACLE, {}, SCHEDULE, jax.random.key(0), (1, 2, 2, 1), variance="x"
        )
    with pytest.raises(ValueError, match="rtol"):
        dm.probability_flow_sample(
            ORACLE, {}, SCHEDULE, jax.random.key(0), (1, 2, 2, 1), rtol=0.0
        )
