"""Helpers of the static-chapter tests: counting JAX traces around a call."""

import contextlib

import jax
import pytest

_TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"


@contextlib.contextmanager
def _traces():
    """Yield a function returning how many jit traces ran inside the block."""
    events = []

    def listener(name, duration, **kwargs):
        events.append(name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield lambda: events.count(_TRACE_EVENT)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


@pytest.fixture
def count_traces():
    """``with count_traces() as traces: ...; traces()`` counts jit traces."""
    return _traces
