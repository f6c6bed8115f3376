"""LeNet-5: parameter counts, the C3 table, PyTorch equivalence, both conv paths."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.cnn import (
    C3_TABLE,
    ConnectionTableConv,
    LeNet5,
    pad_mnist,
    parameter_counts,
)
from jnn.cnn._fastconv.im2col import conv_matmul_backward
from jnn.cnn._fastconv.pool_phases import (
    CHAIN_MAX_BATCH,
    CHAIN_MIN_BATCH,
    CHAINS,
    PoolPhaseConv,
    chain_pieces,
    conv_pool_phases,
)
from jnn.cnn.lenet.model import resolve_conv_path
from jnn.train import classification_loss, fit, gradient_learner
from tests.conftest import load

VARIANTS_C3 = [("paper", "table"), ("paper", "full"), ("modern", "table")]
VARIANTS_C3 += [("modern", "full")]

PAPER_LAYERS = {"C1": 156, "C3": 1516, "C5": 48120, "F6": 10164, "output": 850}


@functools.cache
def init_params(variant: str, c3: str):
    model = LeNet5(variant=variant, c3=c3)
    return jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 32, 32, 1)))["params"]


@pytest.mark.parametrize(
    "variant, c3, total",
    [
        ("paper", "table", 60850),
        ("paper", "full", 61750),
        ("modern", "table", 60806),
        ("modern", "full", 61706),
    ],
)
def test_parameter_counts_match_the_paper(variant, c3, total):
    model = LeNet5(variant=variant, c3=c3)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 32, 32, 1)))
    counts = parameter_counts(shapes["params"])
    # The paper's description: C1 156, S2 12, C3 1,516, S4 32, C5 48,120,
    # F6 10,164; a linear output layer adds 84 * 10 + 10.
    expected = dict(PAPER_LAYERS, C3=1516 if c3 == "table" else 2416)
    if variant == "paper":
        expected.update(S2=12, S4=32)
    assert counts == dict(expected, total=total)
    if variant == "paper" and c3 == "table":
        # Trainable parameters up to F6: the paper's "60,000" (RBF output fixed).
        assert total - PAPER_LAYERS["output"] == 60000


def test_c3_table_is_table_one_of_the_paper():
    assert C3_TABLE.shape == (6, 16) and C3_TABLE.sum() == 60
    inputs = C3_TABLE.sum(axis=0)
    np.testing.assert_array_equal(inputs, [3] * 6 + [4] * 9 + [6])
    for j in range(6):  # three contiguous maps, wrapping around
        assert {(j + d) % 6 for d in range(3)} == set(np.flatnonzero(C3_TABLE[:, j]))
    for j in range(6, 12):  # four contiguous
        assert {(j + d) % 6 for d in range(4)} == set(np.flatnonzero(C3_TABLE[:, j]))
    assert [set(np.flatnonzero(C3_TABLE[:, j])) for j in (12, 13, 14)] == [
        {0, 1, 3, 4},
        {1, 2, 4, 5},
        {0, 2, 3, 5},
    ]


def brute_force_conv(x, kernel):
    """VALID NHWC/HWIO convolution (cross-correlation) by explicit loops."""
    kh, kw, _, d = kernel.shape
    b, h, w, _ = x.shape
    out = np.zeros((b, h - kh + 1, w - kw + 1, d))
    for i in range(h - kh + 1):
        for j in range(w - kw + 1):
            window = x[:, i : i + kh, j : j + kw, :]
            out[:, i, j, :] = np.einsum("bhwc,hwcd->bd", window, kernel)
    return out


def test_connection_table_conv_against_brute_force(key):
    x = jax.random.normal(key, (2, 9, 9, 6))
    layer = ConnectionTableConv(C3_TABLE, 5)
    params = layer.init(jax.random.key(1), x)["params"]
    assert params["kernel"].shape == (5, 5, 60)
    full = np.zeros((5, 5, 6, 16))
    rows, cols = np.nonzero(C3_TABLE)
    full[:, :, rows, cols] = np.asarray(params["kernel"])
    bias = np.asarray(jax.random.normal(key, (16,)))
    params = {"kernel": params["kernel"], "bias": jnp.asarray(bias, jnp.float32)}
    out = layer.apply({"params": params}, x)
    expected = brute_force_conv(np.asarray(x, np.float64), full) + bias
    np.testing.assert_allclose(out, expected, atol=1e-5)
    # Map 0 reads S2 maps 0-2 only: changing map 3 leaves it unchanged.
    moved = layer.apply({"params": params}, x.at[..., 3].add(1.0))
    np.testing.assert_array_equal(moved[..., 0], out[..., 0])
    assert not np.allclose(moved[..., 3], out[..., 3])


@pytest.mark.parametrize(
    "padding, height", [("VALID", 7), (((1, 1), (2, 0)), 7), ("VALID", 3)]
)  # height 3: the kernel covers the input (one matrix product, like C5)
@pytest.mark.parametrize("transform", [lambda f: f, jax.jit], ids=["eager", "jit"])
def test_conv_matmul_backward_equals_xla_conv(key, padding, height, transform):
    x = jax.random.normal(key, (2, height, 2 if height == 3 else 6, 3))
    kernel = jax.random.normal(jax.random.key(1), (3, 2, 3, 4))
    dims = ("NHWC", "HWIO", "NHWC")

    def objective(conv):
        def f(x, k):
            y = conv(x, k, (1, 1), padding, dimension_numbers=dims)
            return jnp.sum(jnp.sin(y))

        return transform(jax.value_and_grad(f, argnums=(0, 1)))

    value, grads = objective(conv_matmul_backward)(x, kernel)
    ref_value, ref_grads = objective(jax.lax.conv_general_dilated)(x, kernel)
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, r, atol=2e-4, rtol=1e-4)

    # forward mode too (a custom_jvp, not a custom_vjp)
    def conv(f):
        return lambda x, k: f(x, k, (1, 1), padding, dimension_numbers=dims)

    tangents = (jnp.cos(x), jnp.sin(kernel))
    _, ours = jax.jvp(conv(conv_matmul_backward), (x, kernel), tangents)
    _, ref = jax.jvp(conv(jax.lax.conv_general_dilated), (x, kernel), tangents)
    np.testing.assert_allclose(ours, ref, atol=2e-4, rtol=1e-4)


def torch_lenet(params, variant: str, c3: str):
    """A PyTorch LeNet-5 with the given Flax weights (a function of x NCHW)."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    def t(a, *perm):
        a = np.asarray(a, np.float32)
        return torch.from_numpy(np.array(a.transpose(perm) if perm else a))

    if c3 == "table":
        full = np.zeros((5, 5, 6, 16), np.float32)
        rows, cols = np.nonzero(C3_TABLE)
        full[:, :, rows, cols] = np.asarray(params["C3"]["kernel"])
        c3_kernel = t(full, 3, 2, 0, 1)
    else:
        c3_kernel = t(params["C3"]["kernel"], 3, 2, 0, 1)

    def act(a):
        return 1.7159 * torch.tanh(2.0 / 3.0 * a) if variant == "paper" else F.relu(a)

    def pool(a, name):
        if variant == "modern":
            return F.max_pool2d(a, 2)
        coefficient = t(params[name]["coefficient"])[None, :, None, None]
        bias = t(params[name]["bias"])[None, :, None, None]
        return act(4.0 * F.avg_pool2d(a, 2) * coefficient + bias)

    def forward(x):
        h = act(
            F.conv2d(x, t(params["C1"]["kernel"], 3, 2, 0, 1), t(params["C1"]["bias"]))
        )
        h = pool(h, "S2")
        h = act(F.conv2d(h, c3_kernel, t(params["C3"]["bias"])))
        h = pool(h, "S4")
        h = act(
            F.conv2d(h, t(params["C5"]["kernel"], 3, 2, 0, 1), t(params["C5"]["bias"]))
        )
        h = act(
            F.linear(
                h.flatten(1), t(params["F6"]["kernel"], 1, 0), t(params["F6"]["bias"])
            )
        )
        return F.linear(
            h, t(params["output"]["kernel"], 1, 0), t(params["output"]["bias"])
        )

    return forward


def perturbed_params(variant: str, c3: str):
    """Initial parameters, with non-trivial S2/S4 coefficients and biases."""
    params = dict(init_params(variant, c3))
    for name in ("S2", "S4") if variant == "paper" else ():
        params[name] = jax.tree.map(
            lambda p: p + 0.1 * jax.random.normal(jax.random.key(2), p.shape),
            params[name],
        )
    return params


def images_with_ties(batch: int) -> np.ndarray:
    x = np.array(jax.random.normal(jax.random.key(3), (batch, 32, 32, 1)))
    x[:, :8] = -0.4  # a constant band: ties inside max-pooling windows
    return x


@pytest.mark.parametrize("variant, c3", VARIANTS_C3)
def test_both_paths_equal_pytorch_forward_and_input_gradient(variant, c3):
    torch = pytest.importorskip("torch")
    params = perturbed_params(variant, c3)
    x = images_with_ties(4)
    cotangent = np.array(jax.random.normal(jax.random.key(4), (4, 10)))
    tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_()
    theirs = torch_lenet(params, variant, c3)(tx)
    theirs.backward(torch.from_numpy(cotangent))
    their_grad = tx.grad.numpy().transpose(0, 2, 3, 1)
    for path in ("xla", "fast"):
        model = LeNet5(variant=variant, c3=c3, conv_path=path)

        @jax.jit
        def value_and_input_grad(x, cotangent, model=model):
            out, vjp = jax.vjp(lambda a: model.apply({"params": params}, a), x)
            return out, vjp(cotangent)[0]

        ours, grad = value_and_input_grad(jnp.asarray(x), jnp.asarray(cotangent))
        assert np.abs(np.asarray(ours) - theirs.detach().numpy()).max() < 1e-5, path
        np.testing.assert_allclose(grad, their_grad, rtol=1e-4, atol=1e-5, err_msg=path)


@pytest.mark.parametrize("variant, c3", [("paper", "table"), ("modern", "full")])
def test_fast_path_equals_reference_in_a_training_batch(variant, c3):
    # Batch 64: the fast path runs C1-S4 as independent chains.
    assert len(chain_pieces(64)) == CHAINS > 1
    params = perturbed_params(variant, c3)
    x = jnp.asarray(images_with_ties(64))
    labels = jnp.arange(64) % 10

    def loss_and_grads(path):
        model = LeNet5(variant=variant, c3=c3, conv_path=path)

        def loss(p, a):
            logits = model.apply({"params": p}, a)
            return optax.softmax_cross_entropy_with_integer_labels(logits, labels).sum()

        return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(params, x)

    (fast, fast_grads), (ref, ref_grads) = map(loss_and_grads, ("fast", "xla"))
    np.testing.assert_allclose(fast, ref, rtol=1e-6)
    flat_fast, flat_ref = jax.tree.leaves(fast_grads), jax.tree.leaves(ref_grads)
    assert jax.tree.structure(fast_grads) == jax.tree.structure(ref_grads)
    for got, want in zip(flat_fast, flat_ref, strict=True):
        scale = float(jnp.max(jnp.abs(want)))
        assert scale > 0
        np.testing.assert_allclose(got, want, atol=1e-5 * scale, rtol=1e-4)


@pytest.mark.parametrize("variant", ["paper", "modern"])
def test_forward_mode_and_hessian_on_both_paths(variant):
    # jax.jvp through the fast path used to raise (a custom_vjp in max-pooling).
    params = perturbed_params(variant, "table")
    x = jnp.asarray(images_with_ties(1))
    tangent = jax.random.normal(jax.random.key(5), x.shape)
    pixels = (0, 16, slice(14, 17), 0)  # three pixels of the image

    def derivatives(path):
        model = LeNet5(variant=variant, c3="table", conv_path=path)

        def f(v):  # logits as a function of the three pixels
            return model.apply({"params": params}, x.at[pixels].set(v))[0]

        def all_of_them(x, tangent):
            apply = functools.partial(model.apply, {"params": params})
            out = {"jvp": jax.jvp(apply, (x,), (tangent,))[1]}
            if variant == "modern":  # the custom_jvp of max-pooling, twice
                out["hessian"] = jax.hessian(lambda v: jnp.sum(f(v) ** 2))(x[pixels])
            return out

        return jax.jit(all_of_them)(x, tangent)

    fast, ref = derivatives("fast"), derivatives("xla")
    assert float(jnp.abs(ref["jvp"]).max()) > 0
    for name in ref:
        np.testing.assert_allclose(fast[name], ref[name], rtol=1e-4, atol=1e-6)
    if variant == "modern":
        hessian = fast["hessian"]
        assert hessian.shape == (3, 3) and float(jnp.abs(hessian).max()) > 0
        np.testing.assert_allclose(hessian, hessian.T, rtol=1e-5, atol=1e-7)


def test_conv_path_is_chosen_by_backend_and_overridable():
    assert resolve_conv_path("auto", "cpu") == "fast"
    assert resolve_conv_path("auto", "gpu") == resolve_conv_path("auto", "tpu") == "xla"
    assert resolve_conv_path("xla", "cpu") == "xla"
    assert resolve_conv_path("fast", "gpu") == "fast"
    expected = "fast" if jax.default_backend() == "cpu" else "xla"
    assert resolve_conv_path("auto") == expected
    with pytest.raises(ValueError, match="`conv_path` must be one of"):
        LeNet5(conv_path="cudnn")
    # The same parameter names, shapes and initial values on both paths.
    x = jnp.zeros((1, 32, 32, 1))
    for variant, c3 in VARIANTS_C3:
        trees = [
            jax.eval_shape(
                LeNet5(variant=variant, c3=c3, conv_path=p).init, jax.random.key(0), x
            )
            for p in ("xla", "fast")
        ]
        assert trees[0] == trees[1]
    reference = LeNet5(variant="modern", c3="table", conv_path="xla")
    fast = jax.jit(LeNet5(variant="modern", c3="table", conv_path="fast").init)
    chex.assert_trees_all_equal(
        jax.jit(reference.init)(jax.random.key(0), x), fast(jax.random.key(0), x)
    )


def test_pad_mnist():
    x = np.random.default_rng(0).uniform(0.0, 1.0, (3, 784)).astype(np.float32)
    x[0, 0] = -0.4  # the minimum: the border takes it
    padded = np.asarray(pad_mnist(x))
    assert padded.shape == (3, 32, 32, 1)
    np.testing.assert_array_equal(padded[:, 2:30, 2:30, 0], x.reshape(3, 28, 28))
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert np.all(padded[:, border, 0] == np.float32(-0.4))
    assert np.all(np.asarray(pad_mnist(x, fill=1.5))[:, border, 0] == 1.5)
    for bad in (np.zeros((3, 27, 28)), np.zeros((3, 32, 32, 1)), np.zeros((0, 784))):
        with pytest.raises(ValueError, match=r"\(n, 28, 28, 1\)"):
            pad_mnist(bad)
    with pytest.raises(ValueError, match="NaN or infinite"):
        pad_mnist(np.full((1, 784), np.nan, np.float32))


def test_bad_input():
    model = LeNet5()
    params = {"params": init_params("paper", "table")}
    with pytest.raises(ValueError, match=r"'batch', 32, 32, 1\); got \(2, 28, 28, 1\)"):
        model.apply(params, jnp.zeros((2, 28, 28, 1)))
    with pytest.raises(ValueError, match=r"NHWC.*\(32, 32, 1\)"):
        model.apply(params, jnp.zeros((32, 32, 1)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.apply(params, jnp.full((1, 32, 32, 1), jnp.inf))
    with pytest.raises(ValueError, match="`variant` must be one of"):
        LeNet5(variant="lenet")
    with pytest.raises(ValueError, match="`c3` must be one of"):
        LeNet5(c3="partial")
    with pytest.raises(ValueError, match="`num_classes` must be an int >= 2"):
        LeNet5(num_classes=1)


def digits_32(split):
    """scikit-learn's 8x8 digits (0..16 -> 0..1), bilinearly upsampled to 32x32.

    Raw intensities, not per-pixel z-scores, which would break the spatial
    consistency that shared convolution kernels rely on.
    """
    x = split["x"].reshape(-1, 8, 8, 1) / 16.0
    return {"x": jax.image.resize(x, (len(x), 32, 32, 1), "bilinear"), "y": split["y"]}


@pytest.mark.slow  # 30 s; the paper variant also learns in test_rbf_output (10 s)
def test_paper_lenet5_learns_digits():
    ds = load("digits", standardize=False)
    train, test = digits_32(ds.train), digits_32(ds.test)
    model = LeNet5(variant="paper", c3="table")
    schedule = optax.cosine_decay_schedule(2e-3, 15 * (len(train["y"]) // 32))
    learner = gradient_learner(model, classification_loss(model), optax.adam(schedule))
    result = fit(learner, train, key=jax.random.key(0), epochs=15, batch_size=32)
    accuracy = float(learner.evaluate(result.state, test)["accuracy"])
    assert accuracy >= 0.95, accuracy  # 0.961 measured; chance is 0.1


def _torch_conv_pool(x, kernel, bias, pool, cotangent):
    """PyTorch conv2d + bias + pool: value and gradients w.r.t. x, kernel, bias."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    def leaf(a, perm):
        return torch.from_numpy(np.array(a).transpose(perm).copy()).requires_grad_()

    tx, tk, tb = leaf(x, (0, 3, 1, 2)), leaf(kernel, (3, 2, 0, 1)), leaf(bias, (0,))
    y = F.conv2d(tx, tk, tb)
    if pool == "max":
        p = F.max_pool2d(y, 2)
    else:
        p = F.avg_pool2d(torch.tanh(y), 2) * 4
    p.backward(torch.from_numpy(np.array(cotangent).transpose(0, 3, 1, 2).copy()))
    grads = (
        tx.grad.numpy().transpose(0, 2, 3, 1),
        tk.grad.numpy().transpose(2, 3, 1, 0),
        tb.grad.numpy(),
    )
    return p.detach().numpy().transpose(0, 2, 3, 1), grads


@pytest.mark.parametrize("pool", ["max", "sum"])
@pytest.mark.parametrize("batch,chunk,block", [(3, 64, 64), (7, 2, 4), (9, 4, 64)])
def test_conv_pool_phases_equal_pytorch_values_and_gradients(
    key, pool, batch, chunk, block
):
    # A constant border makes equal conv outputs (ties) inside pooling windows:
    # PyTorch's max-pool sends the gradient to the first maximum, as phase_max.
    kx, kk, kb, kg = jax.random.split(key, 4)
    x = jax.random.normal(kx, (batch, 14, 14, 3))
    x = x.at[:, :, :6, :].set(0.5)
    kernel = 0.3 * jax.random.normal(kk, (5, 5, 3, 4))
    bias = jax.random.normal(kb, (4,))
    cotangent = jax.random.normal(kg, (batch, 5, 5, 4))

    def ours(x, kernel, bias):
        phases = conv_pool_phases(x, kernel, chunk=chunk, block=block).add_bias(bias)
        if pool == "max":
            return phases.max_pool()
        return phases.map(jnp.tanh).sum_pool()

    primals = (x, kernel, bias)
    tangents = tuple(jnp.cos(3.0 * p) for p in primals)

    @jax.jit
    def derivatives(primals, cotangent, tangents):
        value, vjp = jax.vjp(ours, *primals)
        return value, vjp(cotangent), jax.jvp(ours, primals, tangents)[1]

    value, grads, forward = derivatives(primals, cotangent, tangents)
    expected, expected_grads = _torch_conv_pool(x, kernel, bias, pool, cotangent)
    np.testing.assert_allclose(value, expected, atol=1e-5)
    for got, want in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)
    # forward mode is the transpose of reverse mode: <u, J t> = <J^T u, t>
    backward = sum(jnp.vdot(g, t) for g, t in zip(grads, tangents, strict=True))
    np.testing.assert_allclose(jnp.vdot(cotangent, forward), backward, rtol=1e-4)
    maps = conv_pool_phases(x, kernel, chunk=chunk, block=block).maps()
    reference = jax.lax.conv_general_dilated(
        x, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    np.testing.assert_allclose(maps, reference, atol=1e-5)
    assert conv_pool_phases(x, kernel).shape == reference.shape


def test_conv_pool_phases_rejects_bad_input():
    x = jnp.zeros((2, 14, 14, 3))
    with pytest.raises(ValueError, match="even sides"):
        conv_pool_phases(x, jnp.zeros((4, 4, 3, 2)))  # 11x11 output
    with pytest.raises(ValueError, match="input channels"):
        conv_pool_phases(x, jnp.zeros((5, 5, 2, 2)))
    with pytest.raises(ValueError, match="must be"):
        conv_pool_phases(x[0], jnp.zeros((5, 5, 3, 2)))
    with pytest.raises(ValueError, match="block"):
        conv_pool_phases(x, jnp.zeros((5, 5, 3, 2)), block=0)
    with pytest.raises(ValueError, match="multiple of `chunk`"):
        conv_pool_phases(x, jnp.zeros((5, 5, 3, 2)), chunk=3, block=4)


def test_pool_phase_conv_is_nn_conv_with_phase_output(key):
    import flax.linen as nn

    x = jax.random.normal(key, (3, 12, 12, 2))
    ours, theirs = PoolPhaseConv(4, 3), nn.Conv(4, (3, 3), padding="VALID")
    params = ours.init(jax.random.key(1), x)
    # Same parameter names and shapes as nn.Conv: the parameters are reusable.
    shapes = jax.tree.map(np.shape, params)
    assert shapes == jax.tree.map(np.shape, theirs.init(jax.random.key(1), x))
    np.testing.assert_allclose(
        ours.apply(params, x).maps(), theirs.apply(params, x), atol=1e-5
    )


def test_chain_pieces_cover_the_batch_contiguously():
    for batch in (1, 32, 63, 64, 65, 256, 257, 1000):
        pieces = chain_pieces(batch)
        covered = np.concatenate([np.arange(batch)[p] for p in pieces])
        np.testing.assert_array_equal(covered, np.arange(batch))
        # 4 chains for training batches of 64-256 (not 32: slower there)
        assert len(pieces) == (4 if 64 <= batch <= 256 else 1)
    assert (CHAINS, CHAIN_MIN_BATCH, CHAIN_MAX_BATCH) == (4, 64, 256)
