#!/usr/bin/python3
"""The peer of scorefp's particle samplers: the same sampler written as a researcher
would in NumPy, vectorised over the particles.

The 2D VP blob (9 Gaussians, means 0.65 {(+-2,+-2), (0,0), (+-4,0), (0,+-4)},
covariance 0.0845 I; beta(t) = 0.1 + 19.9 t on [0, 1]) sampled from the prior
N(0, v(1) I) down to t = 1e-3 on a uniform grid with the exact mixture score
(log-sum-exp over the components), by Euler-Maruyama or the probability-flow ODE
with Heun's method: the cases of params/sample-vp-2d.prm. Prints one JSON line:
particle-steps per second and the moments of the output (as a check that it samples
the blob: mean 0, variance 0.0845 + 0.65^2 * 32/9 = 1.5867 per coordinate).

    /usr/bin/python3 bench/numpy_sampler.py --particles 1000000 --steps 100
"""
import argparse
import json
import sys
import time

import numpy as np

POINTS = 0.65 * np.array([(-2, -2), (-2, 2), (2, -2), (2, 2), (0, 0), (-4, 0), (4, 0), (0, -4),
                          (0, 4)], dtype=float)
SIGMA2 = 0.0845
BETA_MIN, BETA_MAX = 0.1, 20.0


def beta(t):
    return BETA_MIN + (BETA_MAX - BETA_MIN) * t


def mean_factor(t):
    return np.exp(-0.5 * (BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t * t))


def score(x, t):
    """The exact score of p_t = (1/9) sum_k N(m mu_k, m^2 sigma^2 + v) at x (N x 2)."""
    m = mean_factor(t)
    var = m * m * SIGMA2 + 1.0 - m * m
    diff = x[:, None, :] - m * POINTS[None, :, :]           # N x K x 2
    e = -0.5 * np.einsum("nkd,nkd->nk", diff, diff) / var  # N x K
    e -= e.max(axis=1, keepdims=True)
    w = np.exp(e)
    w /= w.sum(axis=1, keepdims=True)
    return -np.einsum("nk,nkd->nd", w, diff) / var


def sample(n, steps, scheme, seed):
    rng = np.random.default_rng(seed)
    times = np.linspace(1.0, 1e-3, steps + 1)
    m = mean_factor(1.0)
    x = np.sqrt(1.0 - m * m) * rng.standard_normal((n, 2))
    evaluations = 0
    for k in range(steps):
        t0, t1 = times[k], times[k + 1]
        h = t0 - t1
        if scheme == "euler-maruyama":
            g2 = beta(t0)
            x = x + h * (-0.5 * g2 * x + g2 * score(x, t0)) + np.sqrt(g2 * h) * \
                rng.standard_normal((n, 2))
            evaluations += 1
        else:  # ode-heun
            def velocity(y, t):
                return -(-0.5 * beta(t) * y + 0.5 * beta(t) * score(y, t))
            k1 = velocity(x, t0)
            y = x - h * k1
            k2 = velocity(y, t1)
            x = x - 0.5 * h * (k1 + k2)
            evaluations += 2
    return x, evaluations


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--particles", type=int, default=1000000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--scheme", choices=["euler-maruyama", "ode-heun"], default="euler-maruyama")
    ap.add_argument("--block", type=int, default=65536,
                    help="particles per NumPy call (bounds the N x K x 2 temporaries)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    parts = []
    for b, first in enumerate(range(0, args.particles, args.block)):
        n = min(args.block, args.particles - first)
        parts.append(sample(n, args.steps, args.scheme, args.seed + b)[0])
    seconds = time.perf_counter() - start
    x = np.concatenate(parts)
    print(json.dumps({"peer": "numpy " + np.__version__, "scheme": args.scheme,
                      "particles": args.particles, "steps": args.steps,
                      "seconds": seconds,
                      "particle_steps_per_second": args.particles * args.steps / seconds,
                      "mean": x.mean(axis=0).tolist(), "variance": x.var(axis=0).tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
