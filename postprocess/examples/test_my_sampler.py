"""A sampler test as it would sit in your own pytest suite.

The sampler under test is written in NumPy: Euler–Maruyama for the reverse VP SDE of the
2D blob (nine Gaussians) with the exact score, from the prior N(0, v(T) I) at T = 1 down
to ε = 1e-3. scorefp provides the truth: a session fixture solves the density
Fokker–Planck equation once and writes a reference file, and `scorefp.check` gives the
calibrated verdict on the sampler's output. Run it from the repository root with

    /usr/bin/python3 -m pytest postprocess/examples/test_my_sampler.py

(`postprocess/` must be importable: from the source tree the conftest-free path insert
below does it; with the package installed, `import scorefp` just works). The number of
steps comes from MY_SAMPLER_STEPS (default 500): with 10 steps the sampler is visibly
wrong and the test fails, which is what ctest's python_api.example checks.
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import scorefp  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The 2D VP blob as in scorefp (Initial data/Type = blob, Process/Type = VP, defaults).
BETA_MIN, BETA_MAX, T, EPSILON = 0.1, 20.0, 1.0, 1e-3
MEANS = 0.65 * np.array([[-2, -2], [-2, 2], [2, -2], [2, 2], [0, 0],
                         [-4, 0], [4, 0], [0, -4], [0, 4]], dtype=float)
COMPONENT_VARIANCE = 0.0845


def beta(t):
    return BETA_MIN + (BETA_MAX - BETA_MIN) * t


def mean_and_variance(t):
    """m(t) and v(t) of VP: m = exp(-B/2), v = 1 - exp(-B), B = ∫β."""
    integrated = BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t * t
    return np.exp(-0.5 * integrated), -np.expm1(-integrated)


def exact_score(x, t):
    """∇ log p_t of the mixture: components N(m μ_k, (m² σ² + v) I), equal weights."""
    m, v = mean_and_variance(t)
    variance = m * m * COMPONENT_VARIANCE + v
    difference = x[:, None, :] - m * MEANS[None, :, :]            # N x K x 2
    logits = -0.5 * np.sum(difference ** 2, axis=2) / variance    # N x K
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=1, keepdims=True)
    return -np.einsum("nk,nkd->nd", weights, difference) / variance


def my_sampler(n, steps, seed):
    """Reverse SDE dX = [a X + g² s(X, t)] dτ + g dW̄ by Euler–Maruyama on a uniform grid."""
    rng = np.random.default_rng(seed)
    _, v_final = mean_and_variance(T)
    x = rng.standard_normal((n, 2)) * np.sqrt(v_final)
    grid = np.linspace(T, EPSILON, steps + 1)
    for t, t_next in zip(grid[:-1], grid[1:]):
        h = t - t_next
        g2 = beta(t)
        x = x + h * (0.5 * g2 * x + g2 * exact_score(x, t)) \
            + np.sqrt(g2 * h) * rng.standard_normal(x.shape)
    return x


@pytest.fixture(scope="session")
def reference_file(tmp_path_factory):
    """The VP blob's density at ε and a few later times, by finite elements (Q3 on 20²
    cells, a few seconds on two ranks): scorefp's reference file."""
    directory = tmp_path_factory.mktemp("reference")
    summary = scorefp.run(
        {"Dimension": 2,
         "Process": {"Type": "VP", "Final time": T},
         "Initial data": {"Type": "blob"},
         "Mesh": {"Box lower corner": -5, "Box upper corner": 5,
                  "Coarse subdivisions": 5, "Refinement levels": 2},
         "Discretization": {"Polynomial degree": 3},
         "Time stepping": {"Method": "ARK436L2SA_DIRK_6_3_4", "Tolerance": 1e-5},
         "Output": {"Output times": [EPSILON, 0.01, 0.1, 1], "Reference file": "reference.h5",
                    "Write VTU": False}},
        ranks=2, output=str(directory), cwd=ROOT)
    assert abs(summary["mass"] - 1) < 1e-8
    return os.path.join(summary.directory, "reference.h5")


def test_my_sampler_matches_the_reference(reference_file, tmp_path):
    steps = int(os.environ.get("MY_SAMPLER_STEPS", "500"))
    samples = my_sampler(n=10000, steps=steps, seed=1)
    result = scorefp.check(samples, reference=reference_file, time=EPSILON, seed=7,
                           null_draws=99, ranks=2, output=str(tmp_path))
    assert result.passed, result.report()
