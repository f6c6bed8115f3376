"""Threefry random bits on XLA's CPU backend as one fused loop (private).

A backend-aware path (DESIGN.md "Fast paths").

``jax.random``'s default generator hashes counters with Threefry-2x32: five
groups of four rounds of adds, rotations and xors. JAX lowers it on every
platform as the twenty rounds written out (XLA fuses them into one loop over
the counters), except on CPU, where it emits a ``fori_loop`` over the five
groups ("rolled", for compile time): each group is then a separate pass over
the whole ``uint32`` arrays, and XLA cannot fuse the hash into the code that
consumes its bits. Importing this module registers JAX's own unrolled
lowering, the one of its other platforms, for the CPU too. The bits are the
same (same algorithm, integer operations; tested bit for bit against the
rolled lowering), only the compiled program differs.

Measured (jax 0.10.2, one core of a 2-core Xeon):

* ``jax.random.bernoulli`` of ``(32, 4, 128, 128)`` (one GPT layer's attention
  dropout): 30.1 -> 2.9 ms (14.4 -> 1.4 ns per number); of ``(100, 784)``
  (an RBM's visible sample): 0.37 -> 0.12 ms; and it compiles faster
  (0.66 -> 0.14 s, 0.21 -> 0.07 s).
* A GPT training step (4 layers, width 128, B = 32, L = 128) with dropout
  0.1: 540 -> 351 ms.
* Initialisers (one hash per parameter array), compiled at
  ``xla_backend_optimization_level=0`` as ``fit`` compiles them: the DCGAN
  generator's 0.78 -> 0.57 s to compile and 80 -> 35 ms to run.

The one setting where it is slower: optimisation level 0 together with XLA's
older loop emitters (``--xla_cpu_use_fusion_emitters=false``), the test
suite's compile-time settings, runs the unrolled hash ~3x slower, so
``tests/conftest.py`` keeps JAX's lowering.

Set the environment variable ``JNN_CPU_THREEFRY=rolled`` before importing jnn
to keep JAX's CPU lowering. The registration is process-wide (it changes how
every later compilation lowers the hash, never the numbers it gives) and is
skipped if this JAX has no such private lowering rules.
"""

from __future__ import annotations

import os

#: Environment variable that chooses the CPU lowering: ``"unrolled"`` (the
#: default) or ``"rolled"`` (JAX's own for CPU).
ENV = "JNN_CPU_THREEFRY"
CHOICES = ("unrolled", "rolled")

try:  # private JAX modules: this version's lowering rules
    from jax._src.interpreters import mlir
    from jax._src.random import threefry2x32 as _jax_threefry

    _RULES = {
        "unrolled": _jax_threefry._threefry2x32_lowering_rule,
        "rolled": _jax_threefry._threefry2x32_cpu_lowering_rule,
    }
except (ImportError, AttributeError):  # pragma: no cover - another JAX layout
    _RULES = {}


def available() -> bool:
    """Whether this JAX exposes both lowering rules (so the choice can be made)."""
    return bool(_RULES)


def use_cpu_lowering(choice: str) -> None:
    """Lower Threefry on CPU ``"unrolled"`` or ``"rolled"`` from now on.

    Raises:
      ValueError: ``choice`` not one of :data:`CHOICES`.
      RuntimeError: this JAX has no such lowering rules (:func:`available`).
    """
    if choice not in CHOICES:
        raise ValueError(f"`choice` must be one of {CHOICES}; got {choice!r}.")
    if not _RULES:
        raise RuntimeError("this JAX version has no threefry lowering rules to choose.")
    mlir.register_lowering(_jax_threefry.threefry2x32_p, _RULES[choice], platform="cpu")


def _from_environment() -> None:
    choice = os.environ.get(ENV, "unrolled")
    if choice not in CHOICES:
        raise ValueError(
            f"the environment variable {ENV} must be one of {CHOICES}; got {choice!r}."
        )
    if _RULES:
        use_cpu_lowering(choice)


_from_environment()
