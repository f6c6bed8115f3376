"""jnn's CPU lowering of Threefry gives JAX's bits (``jnn/_threefry.py``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn import _threefry

pytestmark = pytest.mark.skipif(
    not _threefry.available(), reason="this JAX has no threefry lowering rules"
)

KEYS = (0, 1, 2**31 + 5)


def draws(seed: int):
    """Bits, uniforms, normals, Bernoulli and a permutation, compiled anew."""

    def f(key):  # a new function each call: compiled with the rule set now
        k = jax.random.split(key, 5)
        return (
            jax.random.bits(k[0], (3, 257), jnp.uint32),
            jax.random.uniform(k[1], (1001,)),
            jax.random.normal(k[2], (7, 11, 13)),
            jax.random.bernoulli(k[3], 0.3, (64, 65)),
            jax.random.permutation(k[4], 300),
        )

    return jax.jit(f)(jax.random.key(seed))


def lowered(seed: int = 0) -> str:
    return (
        jax.jit(lambda k: jax.random.bits(k, (8,)))
        .lower(jax.random.key(seed))
        .as_text()
    )


@pytest.fixture
def restore():
    yield
    _threefry._from_environment()


def test_unrolled_lowering_gives_jax_bits(restore):
    _threefry.use_cpu_lowering("rolled")
    reference = [draws(s) for s in KEYS]
    rolled = lowered()
    _threefry.use_cpu_lowering("unrolled")
    got = [draws(s) for s in KEYS]
    unrolled = lowered()
    # the switch took effect (else the comparison below would be vacuous):
    # JAX's CPU rule loops over the five groups of rounds, the other does not
    assert "while" in rolled and "while" not in unrolled
    for ref, new in zip(reference, got, strict=True):
        for a, b in zip(ref, new, strict=True):
            np.testing.assert_array_equal(np.asarray(b), np.asarray(a))


def test_environment_chooses_and_bad_values_are_refused(restore, monkeypatch):
    monkeypatch.setenv(_threefry.ENV, "rolled")
    _threefry._from_environment()
    assert "while" in lowered(1)
    monkeypatch.setenv(_threefry.ENV, "fast")
    with pytest.raises(ValueError, match=_threefry.ENV):
        _threefry._from_environment()
    with pytest.raises(ValueError, match="choice"):
        _threefry.use_cpu_lowering("fast")
    monkeypatch.delenv(_threefry.ENV)
    _threefry._from_environment()
    assert "while" not in lowered(2)
