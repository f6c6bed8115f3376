"""Shared test settings: rank promotion raises, fixed keys, cached data sets.

XLA compilation dominates the suite's time, and several tests compile the same
programs (a demo in the tour and its example script, the processes of the
checkpoint and multi-process tests), so the test run shares JAX's persistent
compilation cache between its workers and child processes (the environment
variable is inherited by the children).
"""

import functools
import os
import tempfile
from pathlib import Path

import jax
import pytest

# One cache folder per xdist worker: two workers reading and writing one
# folder at once coincided with XLA segfaults inside the cache in six
# clean-clone runs (child processes inherit their worker's folder).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_CACHE = Path(tempfile.gettempdir()) / f"jnn-tests-xla-cache-{os.getuid()}-{_WORKER}"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update(
    "jax_persistent_cache_min_compile_time_secs",
    float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.key(0)


@functools.cache
def load(name: str, **kwargs):
    """Cached jnn.data.load (the arrays are never mutated by tests)."""
    import jnn

    return jnn.data.load(name, **kwargs)
