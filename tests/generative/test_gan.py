"""GAN, DCGAN, WGAN, WGAN-GP: losses, penalty and networks against PyTorch."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from torch import nn as tnn

from jnn.generative.gan import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    clip_weights,
    dcgan_sizes,
    discriminator_loss,
    gan_learner,
    generate,
    gradient_penalty,
    minimax_generator_loss,
    non_saturating_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
    wgan,
    wgan_gp,
)
from jnn.generative.gan.training import GENERATED
from jnn.train import Context, apply_model, init_model

LATENT = 100


def _t(x):
    return torch.from_numpy(np.array(x, dtype=np.float32))


def test_losses_equal_torch_binary_cross_entropy():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=7) * 3, rng.normal(size=5) * 3
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    tr, tf = _t(real), _t(fake)
    d = bce(tr, torch.ones(7)) + bce(tf, torch.zeros(5))
    np.testing.assert_allclose(discriminator_loss(real, fake), d.item(), rtol=1e-6)
    ns = bce(tf, torch.ones(5))  # -log D(G(z))
    np.testing.assert_allclose(non_saturating_generator_loss(fake), ns, rtol=1e-6)
    mm = -bce(tf, torch.zeros(5))  # log(1 - D(G(z)))
    np.testing.assert_allclose(minimax_generator_loss(fake), mm, rtol=1e-6)
    np.testing.assert_allclose(
        wasserstein_critic_loss(real, fake), fake.mean() - real.mean(), rtol=1e-6
    )
    np.testing.assert_allclose(wasserstein_generator_loss(fake), -fake.mean())


def test_gradient_penalty_equals_torch_double_backprop():
    critic = MLPDiscriminator((16, 8), negative_slope=0.2)
    params, _ = init_model(critic, jax.random.key(0), jnp.zeros((1, 3)))
    rng = np.random.default_rng(1)
    real = rng.normal(size=(6, 3)).astype(np.float32)
    fake = rng.normal(size=(6, 3)).astype(np.float32)
    key = jax.random.key(2)

    def penalty(p):
        return gradient_penalty(
            lambda x: critic.apply({"params": p}, x), real, fake, key
        )

    (value, norm), grads = jax.value_and_grad(penalty, has_aux=True)(params)
    # torch: the same critic weights, the same interpolation weights
    eps = np.asarray(jax.random.uniform(key, (6, 1)))
    layers = [params[f"Dense_{i}"] for i in range(3)]
    ws = [_t(p["kernel"]).requires_grad_() for p in layers]
    bs = [_t(p["bias"]).requires_grad_() for p in layers]
    x = (_t(eps) * _t(real) + (1 - _t(eps)) * _t(fake)).requires_grad_()
    h = x
    for i in range(3):
        h = h @ ws[i] + bs[i]
        h = tnn.functional.leaky_relu(h, 0.2) if i < 2 else h
    (g,) = torch.autograd.grad(h.sum(), x, create_graph=True)
    t_norm = g.norm(dim=1)
    t_value = ((t_norm - 1) ** 2).mean()
    t_value.backward()
    np.testing.assert_allclose(value, t_value.item(), rtol=1e-5)
    np.testing.assert_allclose(norm, t_norm.mean().item(), rtol=1e-5)
    for i in range(3):
        np.testing.assert_allclose(
            grads[f"Dense_{i}"]["kernel"], ws[i].grad.numpy(), rtol=1e-4, atol=1e-6
        )


def torch_dcgan():
    """The 28 x 28 DCGAN pair in PyTorch (the layout of benchmarks/gan.py)."""
    g = tnn.Sequential(
        tnn.ConvTranspose2d(LATENT, 256, 4, 1, 0, bias=False),
        tnn.BatchNorm2d(256),
        tnn.ReLU(),
        tnn.ConvTranspose2d(256, 128, 4, 2, 2, output_padding=1, bias=False),
        tnn.BatchNorm2d(128),
        tnn.ReLU(),
        tnn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
        tnn.BatchNorm2d(64),
        tnn.ReLU(),
        tnn.ConvTranspose2d(64, 1, 4, 2, 1, bias=False),
        tnn.Tanh(),
    )
    d = tnn.Sequential(
        tnn.Conv2d(1, 64, 4, 2, 1, bias=False),
        tnn.LeakyReLU(0.2),
        tnn.Conv2d(64, 128, 4, 2, 1, bias=False),
        tnn.BatchNorm2d(128),
        tnn.LeakyReLU(0.2),
        tnn.Conv2d(128, 256, 3, 2, 1, bias=False),
        tnn.BatchNorm2d(256),
        tnn.LeakyReLU(0.2),
        tnn.Conv2d(256, 1, 4, 1, 0, bias=False),
    )
    return g, d


def _copy(module, params, transposed):
    """Copy Flax conv kernels and BatchNorm affine parameters into ``module``."""
    convs = [m for m in module if isinstance(m, tnn.Conv2d | tnn.ConvTranspose2d)]
    norms = [m for m in module if isinstance(m, tnn.BatchNorm2d)]
    prefix = "ConvTranspose" if transposed else "Conv"
    with torch.no_grad():
        for i, m in enumerate(convs):
            k = np.asarray(params[f"{prefix}_{i}"]["kernel"])  # (kh, kw, in, out)
            if transposed:  # torch (in, out, kh, kw), spatially flipped
                w = k[::-1, ::-1].transpose(2, 3, 0, 1)
            else:  # torch (out, in, kh, kw)
                w = k.transpose(3, 2, 0, 1)
            m.weight.copy_(_t(w))
        for i, m in enumerate(norms):
            m.weight.copy_(_t(params[f"BatchNorm_{i}"]["scale"]))
            m.bias.copy_(_t(params[f"BatchNorm_{i}"]["bias"]))


def test_dcgan_equals_pytorch_with_copied_weights():
    generator, discriminator = DCGANGenerator(), DCGANDiscriminator()
    z = jax.random.normal(jax.random.key(0), (4, LATENT))
    g_params, g_state = init_model(generator, jax.random.key(1), z)
    x = jnp.tanh(jax.random.normal(jax.random.key(2), (4, 28, 28, 1)))
    d_params, d_state = init_model(discriminator, jax.random.key(3), x)
    tg, td = torch_dcgan()
    # parameter counts: the benchmark's G 1.07M / D 0.43M, equal to PyTorch's
    count = lambda t: sum(a.size for a in jax.tree.leaves(t))  # noqa: E731
    assert count(g_params) == sum(p.numel() for p in tg.parameters()) == 1_066_880
    assert count(d_params) == sum(p.numel() for p in td.parameters()) == 431_872
    _copy(tg, g_params, True)
    _copy(td, d_params, False)
    tz = _t(z).reshape(4, LATENT, 1, 1)
    tx = _t(x).permute(0, 3, 1, 2)
    for train in (False, True):  # eval first: torch's train step moves its stats
        tg.train(train)
        td.train(train)
        with torch.no_grad():
            want_g = tg(tz).permute(0, 2, 3, 1).numpy()
            want_d = td(tx).reshape(4).numpy()
        vg = {"params": g_params, **g_state}
        vd = {"params": d_params, **d_state}
        got_g = generator.apply(vg, z, train=train, mutable=["batch_stats"])[0]
        got_d = discriminator.apply(vd, x, train=train, mutable=["batch_stats"])[0]
        np.testing.assert_allclose(got_g, want_g, atol=2e-5)
        np.testing.assert_allclose(got_d, want_d, rtol=1e-4, atol=1e-5)


def test_dcgan_sizes_and_bad_image_size():
    assert dcgan_sizes(28, 3) == (4, 7, 14, 28)
    assert dcgan_sizes(64, 4) == (4, 8, 16, 32, 64)
    for size, layers in ((20, 3), (16, 3), (28, 1)):
        with pytest.raises(ValueError, match="image_size"):
            DCGANGenerator(image_size=size, features=(8,) * layers)
    with pytest.raises(ValueError, match="image_size"):
        DCGANDiscriminator(image_size=100, features=(8, 8))
    with pytest.raises(ValueError, match="normalization"):
        DCGANDiscriminator(normalization="instance")


G_RING = MLPGenerator(2, (16, 16))
D_RING = MLPDiscriminator((16, 16))
RING_BATCH = {"x": jax.random.normal(jax.random.key(0), (10, 2))}


def test_bad_input_raises_before_tracing():
    cases = [
        (dict(latent_size=0), "latent_size"),
        (dict(latent_size=2, clip=0.0), "clip"),
        (dict(latent_size=2, n_critic=0), "n_critic"),
        (dict(latent_size=2, penalty=-1.0), "penalty"),
        (dict(latent_size=2, loss="hinge"), "loss"),
        (dict(latent_size=2, n_critic=5, reuse_fakes=True), "reuse_fakes"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            gan_learner(G_RING, D_RING, **kwargs)
    with pytest.raises(ValueError, match="penalty"):
        wgan_gp(DCGANGenerator(), DCGANDiscriminator(), latent_size=LATENT)
    with pytest.raises(ValueError, match="clip"):
        wgan(G_RING, D_RING, latent_size=2, clip=-0.01)
    with pytest.raises(TypeError, match="generator"):
        gan_learner(lambda z: z, D_RING, latent_size=2)
    with pytest.raises(TypeError, match="reuse_fakes"):
        gan_learner(G_RING, D_RING, latent_size=2, reuse_fakes=1)


def test_reuse_fakes_round_is_pytorchs_dcgan_step_by_hand():
    # PyTorch's DCGAN example: fake = G(z) once; D on real and fake.detach();
    # D's Adam step; G's gradient through D(fake) with the updated D
    g = DCGANGenerator(image_size=16, features=(8, 4))
    d = DCGANDiscriminator(image_size=16, features=(4, 8))  # both batch-normalised
    learner = gan_learner(g, d, latent_size=5, reuse_fakes=True)
    real = jax.random.uniform(jax.random.key(0), (6, 16, 16, 1), minval=-1.0)
    state = learner.init(jax.random.key(1), {"x": real})
    key = jax.random.key(2)
    new, metrics = jax.jit(learner.update)(state, {"x": real}, key)

    # the discriminator step's z: players_learner's player 0, step 0
    key_z = jax.random.split(jax.random.fold_in(jax.random.fold_in(key, 0), 0))[0]
    z = jax.random.normal(key_z, (6, 5))
    adam = optax.adam(2e-4, b1=0.5)

    @jax.jit  # compiled, as op-by-op convolutions are slow
    def by_hand(params, opt_states, ms):
        def gen(gp):
            return apply_model(g, gp, Context(key_z, True, ms["generator"]), z)

        def disc(dp, d_state, x):
            return apply_model(d, dp, Context(key, True, d_state), x)

        def step(name, grads):
            updates, _ = adam.update(grads, opt_states[name], params[name])
            return optax.apply_updates(params[name], updates)

        fake, g_state = gen(params["generator"])

        def d_loss(dp):
            r, d_state = disc(dp, ms["discriminator"], real)
            f, d_state = disc(dp, d_state, fake)
            return discriminator_loss(r, f), d_state

        (_, d_state), d_grads = jax.value_and_grad(d_loss, has_aux=True)(
            params["discriminator"]
        )
        d_params = step("discriminator", d_grads)

        def g_loss(gp):
            f, _ = gen(gp)
            return non_saturating_generator_loss(disc(d_params, d_state, f)[0])

        g_grads = jax.grad(g_loss)(params["generator"])
        return d_params, step("generator", g_grads), g_grads, g_state

    d_params, g_params, g_grads, g_state = by_hand(
        state.params, state.opt_states, state.model_state
    )
    chex.assert_trees_all_close(new.params["discriminator"], d_params, atol=1e-6)
    chex.assert_trees_all_close(new.params["generator"], g_params, atol=1e-6)
    np.testing.assert_allclose(
        metrics["generator_grad_norm"], optax.tree.norm(g_grads), rtol=1e-5
    )
    # the generator ran forward once: its BatchNorm averages moved once
    chex.assert_trees_all_close(new.model_state["generator"], g_state, atol=1e-7)
    assert GENERATED not in new.model_state
    assert jax.tree.structure(new) == jax.tree.structure(state)


def test_n_critic_steps_clipping_and_trace_count():
    learner = wgan(G_RING, D_RING, latent_size=2, n_critic=5, split_batch=True)
    state = learner.init(jax.random.key(0), RING_BATCH)
    update = jax.jit(chex.assert_max_traces(learner.update, n=1))
    for i in range(2):
        state, metrics = update(state, RING_BATCH, jax.random.key(i))
    # 5 critic steps (RMSProp's second moments moved 10 times: one per step)
    assert int(state.step) == 2
    leaves = jax.tree.leaves(state.params["discriminator"])
    assert max(float(jnp.max(jnp.abs(w))) for w in leaves) <= 0.01 + 1e-7
    assert set(metrics) >= {"discriminator_loss", "generator_loss"}
    # Adam's step counters: 5 per round for the critic, 1 for the generator
    gp = wgan_gp(G_RING, D_RING, latent_size=2, n_critic=5, split_batch=False)
    s = gp.init(jax.random.key(0), RING_BATCH)
    s, m = jax.jit(gp.update)(s, RING_BATCH, jax.random.key(1))
    counts = [
        int(c)
        for c in jax.tree.leaves(s.opt_states)
        if jnp.issubdtype(jnp.asarray(c).dtype, jnp.integer)
    ]
    assert sorted(counts) == [1, 5]
    assert float(m["discriminator_penalty"]) >= 0


def test_clip_weights_is_a_projection():
    params = {"w": jnp.array([0.5, -0.004, 0.02]), "b": jnp.array([-3.0])}
    updates = {"w": jnp.array([-0.6, 0.001, 0.0]), "b": jnp.array([2.995])}
    opt = clip_weights(0.01)
    new, _ = opt.update(updates, opt.init(params), params)
    moved = optax.apply_updates(params, new)
    np.testing.assert_allclose(moved["w"], [-0.01, -0.003, 0.01], atol=1e-7)
    np.testing.assert_allclose(moved["b"], [-0.005], atol=1e-6)


def test_generate_shapes_and_batch_norm_modes():
    learner = gan_learner(DCGANGenerator(features=(8, 8, 4)), D_RING, latent_size=5)
    state = learner.init(jax.random.key(0), {"x": jnp.zeros((3, 28, 28, 1))})
    for train in (False, True):
        x = generate(
            DCGANGenerator(features=(8, 8, 4)),
            state,
            jax.random.key(1),
            6,
            latent_size=5,
            train=train,
        )
        assert x.shape == (6, 28, 28, 1)
        assert float(jnp.max(jnp.abs(x))) <= 1.0
    with pytest.raises(ValueError, match="`n`"):
        generate(G_RING, state, jax.random.key(1), 0, latent_size=2)


def test_fast_transposed_convolution_equals_reference():
    from jnn.generative.gan._conv_transpose import (
        conv_transpose_fast,
        conv_transpose_reference,
    )

    rng = np.random.default_rng(3)
    for padding, side in (((2, 2), 5), ((1, 2), 4), ((3, 3), 3), ((0, 1), 4)):
        x = jnp.asarray(rng.normal(size=(2, side, side, 3)), jnp.float32)
        k = jnp.asarray(rng.normal(size=(4, 4, 3, 5)), jnp.float32)
        w = jnp.asarray(rng.normal(size=conv_transpose_reference(x, k, padding).shape))

        def loss(f, w=w, padding=padding):
            return lambda v, kernel: jnp.sum(w * f(v, kernel, padding))

        want = jax.value_and_grad(loss(conv_transpose_reference), (0, 1))(x, k)
        got = jax.value_and_grad(loss(conv_transpose_fast), (0, 1))(x, k)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
        for a, b in zip(got[1], want[1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.slow  # ~18 s of one core; first order is checked by default
def test_fast_convolution_equals_reference_to_second_order():
    # the WGAN-GP penalty differentiates the critic twice
    x = jax.random.normal(jax.random.key(0), (3, 16, 16, 1))
    fake = jax.random.normal(jax.random.key(1), (3, 16, 16, 1))
    grads = []
    for fast in (True, False):
        critic = DCGANDiscriminator(
            image_size=16, features=(4, 8), normalization="layer", fast_path=fast
        )
        params, _ = init_model(critic, jax.random.key(2), x)

        def penalty(p, critic=critic):
            def f(v):
                return critic.apply({"params": p}, v)

            gp, _ = gradient_penalty(f, x, fake, jax.random.key(3))
            return gp + jnp.sum(f(x))

        grads.append(jax.grad(penalty)(params))
    for a, b in zip(jax.tree.leaves(grads[0]), jax.tree.leaves(grads[1]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
