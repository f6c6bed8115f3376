"""Shared test settings: rank promotion raises, fixed keys, cached data sets.

JAX's persistent compilation cache is off in the suite (and in the processes
it starts): in clean-clone runs an xdist worker segfaulted inside XLA while
deserialising a cached executable (jax 0.10.2 CPU), and CI starts cold, so
the cache only hid the suite's true compile time.
"""

import functools
import os

import jax
import pytest

os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"
os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
jax.config.update("jax_enable_compilation_cache", False)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.key(0)


@functools.cache
def load(name: str, **kwargs):
    """Cached jnn.data.load (the arrays are never mutated by tests)."""
    import jnn

    return jnn.data.load(name, **kwargs)
