"""Shared test settings: rank promotion raises, fixed keys, cached data sets.

Compile time dominates the suite (tiny programs, thousands of them), so XLA's
CPU backend runs at optimisation level 0 with its older loop emitters here: a
small jitted gradient compiles in 45 ms instead of 217 ms (programs that run
long run slower; those tests are few). Each program is also code-generated as
one LLVM module (``--xla_cpu_parallel_codegen_split_count=1``): XLA's default
splits it for parallel code generation, which pays off with idle cores, but
the suite's two workers keep both busy (24 small training programs on one
core: 5.5 -> 3.8 s of compilation; ``tests/generative`` + ``tests/static``
158 -> 143 s on 2 cores; at 2 idle cores and level 1 it is slower, 7.7 ->
9.4 s, so ``jnn tour`` keeps the default). JAX's persistent compilation cache is
off (CI starts cold; it only hid the suite's true cost). Under these two
settings together the Threefry hash that jnn lowers unrolled on CPU
(``jnn/_threefry.py``) runs ~3x slower than JAX's rolled loop (the Cora GCN
test: 17 -> 55 s), while at any optimisation level with the fusion emitters,
or at level 1 without them, it is as fast or faster; so the suite keeps
JAX's rolled lowering (``JNN_CPU_THREEFRY=rolled``), and
``tests/test_threefry.py`` checks that the two give the same bits.

Every test module ends with ``jax.clear_caches()``: each compiled CPU
executable holds about six memory maps until the caches let it go, so a
worker that compiles ~10,000 programs reaches the kernel's
``vm.max_map_count`` (65,530); xdist workers segfaulted inside XLA's
compiler, always late in clean-clone runs, before this was added.
"""

import functools
import os

_FAST_COMPILE = (
    "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
    " --xla_cpu_parallel_codegen_split_count=1"
)
if not os.environ.get("JNN_TESTS_XLA_DEFAULTS"):  # set it to test XLA's defaults
    _FLAGS = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{_FLAGS} {_FAST_COMPILE}".strip()
    os.environ.setdefault("JNN_CPU_THREEFRY", "rolled")

import gc  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"
os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
jax.config.update("jax_enable_compilation_cache", False)
jax.config.update("jax_numpy_rank_promotion", "raise")


def _memory_maps() -> int:
    """This process's memory maps (Linux; 0 where /proc is missing)."""
    try:
        with open("/proc/self/maps") as maps:
            return sum(1 for _ in maps)
    except OSError:
        return 0


@pytest.fixture(scope="module", autouse=True)
def _free_executables():
    yield
    jax.clear_caches()
    # A full collection costs ~0.2 s a module; the maps a module leaves behind
    # (measured: <= 7,300 before the caches are cleared, ~1,600 after) only
    # need it when cyclic garbage holds many of them.
    if _memory_maps() > 20_000:
        gc.collect()


@pytest.fixture
def key():
    return jax.random.key(0)


@functools.cache
def load(name: str, **kwargs):
    """Cached jnn.data.load (the arrays are never mutated by tests)."""
    import jnn

    return jnn.data.load(name, **kwargs)
