"""ViT against a convolution and a PyTorch ViT of copied weights; bad input."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jnn.transformer import ViT, patchify
from tests.transformer import encoder_params_from_torch, max_tree_diff, t2n

B, SIDE, C, P, F, H, FFN, LAYERS = 3, 8, 2, 4, 16, 2, 24, 2


def test_patchify_is_a_strided_convolution():
    x = jax.random.normal(jax.random.key(0), (B, 12, 8, C))
    kernel = jax.random.normal(jax.random.key(1), (P, P, C, F))
    conv = nn.Conv(F, (P, P), strides=P, padding="VALID", use_bias=False)
    reference = conv.apply({"params": {"kernel": kernel}}, x).reshape(B, -1, F)
    ours = patchify(x, P) @ kernel.reshape(P * P * C, F)
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)
    # one channel may be given without its axis; patches run row by row
    grey = jnp.arange(2 * 4 * 4, dtype=jnp.float32).reshape(2, 4, 4)
    patches = patchify(grey, 2)
    assert patches.shape == (2, 4, 4)
    np.testing.assert_array_equal(patches[0, 1], [2, 3, 6, 7])


class TorchViT(torch.nn.Module):
    """The paper's ViT in PyTorch: strided Conv2d patches, [CLS], pre-norm layers."""

    def __init__(self, pool: str):
        super().__init__()
        self.pool = pool
        self.embedding = torch.nn.Conv2d(C, F, P, stride=P)
        tokens = (SIDE // P) ** 2 + (pool == "cls")
        self.cls = torch.nn.Parameter(torch.randn(1, 1, F))
        self.position = torch.nn.Parameter(0.5 * torch.randn(1, tokens, F))
        self.layers = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(
                F,
                H,
                FFN,
                dropout=0.0,
                activation="gelu",
                batch_first=True,
                norm_first=True,
                layer_norm_eps=1e-6,
            )  # fmt: skip
            for _ in range(LAYERS)
        )
        self.norm = torch.nn.LayerNorm(F, eps=1e-6)
        self.head = torch.nn.Linear(F, 10)

    def forward(self, images):  # (B, C, H, W)
        x = self.embedding(images).flatten(2).transpose(1, 2)
        if self.pool == "cls":
            x = torch.cat([self.cls.expand(len(x), -1, -1), x], dim=1)
        x = x + self.position
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x)
        return self.head(x[:, 0] if self.pool == "cls" else x.mean(1))


def vit_params_from_torch(net: TorchViT, grad: bool = False) -> dict:
    def get(p):
        return t2n(p.grad if grad else p)

    kernel = get(net.embedding.weight).transpose(2, 3, 1, 0).reshape(P * P * C, F)
    params = {
        "embedding": {"kernel": kernel, "bias": get(net.embedding.bias)},
        "position": get(net.position),
        "norm": {"scale": get(net.norm.weight), "bias": get(net.norm.bias)},
        "head": {"kernel": get(net.head.weight).T, "bias": get(net.head.bias)},
    }
    if net.pool == "cls":
        params["cls"] = get(net.cls)
    for i, layer in enumerate(net.layers):
        params[f"layer_{i}"] = encoder_params_from_torch(layer, grad=grad)
    return params


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_vit_equals_a_pytorch_vit_with_copied_weights(pool):
    """Logits and gradients (images and every parameter), both poolings."""
    torch.manual_seed(0)
    net = TorchViT(pool)
    with torch.no_grad():  # non-trivial norms
        for layer in net.layers:
            for norm in (layer.norm1, layer.norm2):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.normal_()
    net.eval()
    rng = np.random.default_rng(0)
    images = rng.normal(size=(B, SIDE, SIDE, C)).astype(np.float32)
    weights = rng.normal(size=(B, 10)).astype(np.float32)
    xt = torch.tensor(images.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    yt = net(xt)
    (yt * torch.tensor(weights)).sum().backward()

    model = ViT(10, patch_size=P, features=F, layers=LAYERS, heads=H,
                ffn_features=FFN, pool=pool)  # fmt: skip
    params = vit_params_from_torch(net)
    shapes = jax.eval_shape(model.init, jax.random.key(0), images)["params"]
    assert jax.tree.map(np.shape, shapes) == jax.tree.map(np.shape, params)

    def objective(params, x):
        y = model.apply({"params": params}, x)
        return jnp.sum(y * weights), y

    grad = jax.jit(jax.value_and_grad(objective, argnums=(0, 1), has_aux=True))
    (_, y), (gp, gx) = grad(params, images)
    assert np.abs(np.asarray(y) - t2n(yt)).max() < 1e-5
    gx_torch = t2n(xt.grad).transpose(0, 2, 3, 1)
    assert np.abs(np.asarray(gx) - gx_torch).max() < 1e-5
    grads = vit_params_from_torch(net, grad=True)
    assert max_tree_diff(jax.tree.map(np.asarray, gp), grads) < 1e-5


def test_vit_dropout_trains_only_and_bad_input_is_refused():
    model = ViT(10, patch_size=7, features=16, layers=1, heads=2, dropout_rate=0.5)
    x = jax.random.normal(jax.random.key(0), (2, 28, 28, 1))
    variables = model.init(jax.random.key(1), x)
    assert variables["params"]["position"].shape == (1, 17, 16)
    a, b = model.apply(variables, x), model.apply(variables, x[..., 0])
    np.testing.assert_array_equal(a, b)  # the channel axis is optional
    dropped = model.apply(variables, x, False, rngs={"dropout": jax.random.key(2)})
    assert np.abs(np.asarray(dropped - a)).max() > 1e-3
    with pytest.raises(ValueError, match="multiples of `patch_size`"):
        model.init(jax.random.key(1), jnp.zeros((2, 30, 28, 1)))
    with pytest.raises(ValueError, match="initialised for 17"):
        model.apply(variables, jnp.zeros((2, 14, 14, 1)))
    with pytest.raises(ValueError, match="`images` must be an array of shape"):
        model.init(jax.random.key(1), jnp.zeros((28, 28)))
    with pytest.raises(TypeError, match="float"):
        model.init(jax.random.key(1), jnp.zeros((2, 28, 28, 1), jnp.int32))
    bad = {
        "heads": dict(features=16, heads=3),
        "pool": dict(pool="max"),
        "patch_size": dict(patch_size=0),
        "n_classes": dict(n_classes=0),
        "dropout_rate": dict(dropout_rate=1.5),
        "implementation": dict(implementation="flash"),
    }
    for name, kwargs in bad.items():
        with pytest.raises(ValueError, match=name):
            ViT(**{"n_classes": 10, **kwargs})
