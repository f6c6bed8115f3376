"""Shared test settings: rank promotion raises, fixed keys, cached data sets."""

import functools

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.key(0)


@functools.cache
def load(name: str, **kwargs):
    """Cached jnn.data.load (the arrays are never mutated by tests)."""
    import jnn

    return jnn.data.load(name, **kwargs)
