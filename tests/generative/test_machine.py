"""Boltzmann machine: energy, Gibbs samplers, exact sums, AHS learning."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn import generative as gen
from jnn.train import fit
from tests.generative import all_states


def random_machine(n: int, *, seed: int, scale: float = 1.0, mask=None):
    """Symmetric ``N(0, scale^2)`` weights (zero diagonal), ``N(0, 1)`` biases."""
    rng = np.random.default_rng(seed)
    upper = np.triu(scale * rng.normal(size=(n, n)), 1)
    weights = upper + upper.T
    if mask is not None:
        weights = weights * mask
    return gen.BoltzmannMachine(
        jnp.asarray(weights, jnp.float32), jnp.asarray(rng.normal(size=n), jnp.float32)
    )


def brute_energy(w, b, s):
    """``E(s) = -sum_{i<j} w_ij s_i s_j - sum_i b_i s_i``, written out (float64)."""
    n = len(s)
    pairs = sum(w[i, j] * s[i] * s[j] for i in range(n) for j in range(i + 1, n))
    return -pairs - sum(b[i] * s[i] for i in range(n))


def brute_log_likelihood(w, b, data):
    """Mean ``log p(v)`` by summing ``exp(-E)`` over every state (float64)."""
    n, n_visible = len(b), data.shape[1]
    states = all_states(n)
    energies = np.array([brute_energy(w, b, s) for s in states])
    log_z = np.log(np.exp(-energies).sum())
    total = 0.0
    for v in data:
        match = np.all(states[:, :n_visible] == v, 1)
        total += np.log(np.exp(-energies[match]).sum()) - log_z
    return total / len(data)


def histogram(samples: np.ndarray) -> np.ndarray:
    """Frequencies of the ``2^N`` states in counting order (first unit = MSB)."""
    n = samples.shape[1]
    index = samples.astype(int) @ (2 ** np.arange(n - 1, -1, -1))
    return np.bincount(index, minlength=2**n) / len(samples)


def total_variation(p, q) -> float:
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())


BM = random_machine(7, seed=0)  # 4 visible + 3 hidden
DATA = np.array([[1, 0, 1, 1], [0, 0, 1, 0], [1, 1, 1, 1]], np.float32)


# --- exact sums against brute force ------------------------------------------------


def test_energy_distribution_and_likelihood_equal_brute_force():
    w, b = (np.asarray(p, np.float64) for p in BM)
    states = all_states(7)
    energies = np.array([brute_energy(w, b, s) for s in states])
    np.testing.assert_allclose(gen.boltzmann_energy(BM, states), energies, atol=1e-5)
    p = np.exp(-energies)
    np.testing.assert_allclose(gen.exact_distribution(BM), p / p.sum(), atol=1e-6)
    assert float(gen.boltzmann_log_partition(BM)) == pytest.approx(
        np.log(p.sum()), abs=1e-5
    )
    log_p = gen.boltzmann_log_likelihood(BM, DATA)
    for v, got in zip(DATA, np.asarray(log_p), strict=True):
        assert got == pytest.approx(brute_log_likelihood(w, b, v[None]), abs=1e-5)
    # the local field is the energy gap of flipping one unit
    s = states[77]
    for i in range(7):
        off, on = s.copy(), s.copy()
        off[i], on[i] = 0, 1
        gap = brute_energy(w, b, off) - brute_energy(w, b, on)
        assert float(gen.local_field(BM, s)[i]) == pytest.approx(gap, abs=1e-5)


def test_exact_gradient_equals_finite_differences():
    w, b = (np.asarray(p, np.float64) for p in BM)
    grad = gen.log_likelihood_gradient(BM, DATA)
    eps = 1e-5
    for i, j in [(0, 1), (2, 5), (4, 6), (3, 4)]:
        step = np.zeros_like(w)
        step[i, j] = step[j, i] = eps  # one shared weight w_ij = W_ij = W_ji
        numeric = (
            brute_log_likelihood(w + step, b, DATA)
            - brute_log_likelihood(w - step, b, DATA)
        ) / (2 * eps)
        assert float(grad.weights[i, j]) == pytest.approx(numeric, abs=2e-5)
        assert float(grad.weights[j, i]) == float(grad.weights[i, j])
    for i in (0, 3, 6):
        step = np.eye(7)[i] * eps
        numeric = (
            brute_log_likelihood(w, b + step, DATA)
            - brute_log_likelihood(w, b - step, DATA)
        ) / (2 * eps)
        assert float(grad.bias[i]) == pytest.approx(numeric, abs=2e-5)
    np.testing.assert_array_equal(np.diag(np.asarray(grad.weights)), 0.0)


# --- Gibbs sampling ------------------------------------------------------------------


@pytest.mark.parametrize("random_order", [False, True])
def test_sequential_gibbs_samples_the_boltzmann_distribution(random_order):
    bm = random_machine(6, seed=1)
    exact = np.asarray(gen.exact_distribution(bm))
    samples = gen.sequential_gibbs(
        bm, jax.random.key(0), jnp.zeros((100_000, 6)), 20, random_order=random_order
    )
    # 64 states, 100,000 samples: i.i.d. draws from p give TV 0.006-0.010;
    # measured (5 seeds): 0.008-0.010 in index order, 0.008-0.0095 in random
    # order; updating all units at once (not a Gibbs sampler) gives 0.23
    assert total_variation(histogram(np.asarray(samples)), exact) < 0.012


def test_clamped_gibbs_samples_the_hidden_posterior():
    v = np.array([1.0, 0.0, 1.0, 1.0])
    start = jnp.asarray(np.tile(np.r_[v, 0, 0, 0], (100_000, 1)), jnp.float32)
    samples = np.asarray(
        gen.sequential_gibbs(BM, jax.random.key(1), start, 20, n_clamped=4)
    )
    np.testing.assert_array_equal(samples[:, :4], start[:, :4])
    joint = np.asarray(gen.exact_distribution(BM)).reshape(16, 8)
    posterior = joint[int(v @ [8, 4, 2, 1])]
    # 8 states, 100,000 samples; measured (5 seeds) 0.0020-0.0036
    tv = total_variation(histogram(samples[:, 4:]), posterior / posterior.sum())
    assert tv < 0.005


def test_block_gibbs_on_a_layered_machine():
    mask = np.zeros((6, 6))
    mask[:3, 3:] = mask[3:, :3] = 1  # no lateral weights: an RBM
    bm = random_machine(6, seed=2, mask=mask)
    exact = np.asarray(gen.exact_distribution(bm))
    samples = gen.block_gibbs(
        bm, jax.random.key(2), jnp.zeros((100_000, 6)), 20, [range(3), range(3, 6)]
    )
    # measured (5 seeds) 0.005-0.007; i.i.d. draws 0.0047-0.0061
    assert total_variation(histogram(np.asarray(samples)), exact) < 0.009
    with pytest.raises(ValueError, match=r"`blocks\[0\]` joins connected units"):
        gen.block_gibbs(BM, jax.random.key(0), jnp.zeros((2, 7)), 1, [range(7)])


# --- the learning rule ---------------------------------------------------------------

# four 4-bit patterns, adjacent units on together: log p <= -log 4 = -1.386
PATTERNS = np.array(
    [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]], np.float32
)


def train_machine(positive, negative, seed=0):
    learner = gen.boltzmann_learning(
        2,
        positive=positive,
        negative=negative,
        learning_rate=0.1,
        momentum=0.5,
        init_scale=0.1,
        n_chains=200,
    )
    return fit(
        learner,
        {"x": np.tile(PATTERNS, (10, 1))},
        key=jax.random.key(seed),
        epochs=60,
        batch_size=20,
        val={"x": PATTERNS},
        progress=False,
    ).history["val_log_likelihood"]


def test_ahs_learning_increases_the_exact_likelihood():
    sampled = train_machine("gibbs", "gibbs")
    exact = train_machine("exact", "exact")
    # measured (seeds 0, 1): -2.72 / -2.80 at first, -1.797 / -1.802 after 60
    # epochs of sampled phases, 0.009 / 0.006 nats from the exact gradient's
    assert sampled[0] < -2.6 and sampled[-1] > -1.83
    assert np.all(np.diff(exact) > 0)
    assert abs(sampled[-1] - exact[-1]) < 0.03


def test_update_is_traced_once():
    learner = gen.boltzmann_learning(2, k=2, n_chains=8)
    update = jax.jit(chex.assert_max_traces(learner.update, n=1))
    state = learner.init(jax.random.key(0), {"x": PATTERNS})
    for i in range(3):
        state, metrics = update(state, {"x": PATTERNS[::-1]}, jax.random.key(i))
    assert set(metrics) == {"correlation_gap"}
    weights = np.asarray(state.machine.weights)
    np.testing.assert_allclose(weights, weights.T)
    np.testing.assert_array_equal(np.diag(weights), 0.0)


# --- bad input -----------------------------------------------------------------------


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="binary"):
        fit(
            gen.boltzmann_learning(2),
            {"x": PATTERNS * 0.5},
            key=jax.random.key(0),
            epochs=1,
            progress=False,
        )
    with pytest.raises(ValueError, match="`k`"):
        gen.boltzmann_learning(2, k=0)
    with pytest.raises(ValueError, match="`negative`"):
        gen.boltzmann_learning(2, negative="mean-field")
    with pytest.raises(ValueError, match="`v`.*7 units"):
        gen.boltzmann_log_likelihood(BM, jnp.zeros((2, 8)))
    with pytest.raises(ValueError, match="`start`.*7 units"):
        gen.sequential_gibbs(BM, jax.random.key(0), jnp.zeros((2, 6)), 1)
    with pytest.raises(ValueError, match="`n_clamped`"):
        gen.sequential_gibbs(BM, jax.random.key(0), jnp.zeros((2, 7)), 1, n_clamped=8)
    with pytest.raises(ValueError, match="symmetric"):
        gen.exact_distribution(BM._replace(weights=BM.weights.at[0, 1].add(1.0)))
    with pytest.raises(ValueError, match="at most N = 20"):
        gen.boltzmann_log_partition(random_machine(21, seed=0))
    with pytest.raises(TypeError, match="`bm`"):
        gen.exact_distribution(BM.weights)
