#!/usr/bin/python3
"""The peer of scorefp's particle samplers: the same sampler written as a researcher
would in NumPy, vectorised over the particles.

The 2D VP blob (9 Gaussians, means 0.65 {(+-2,+-2), (0,0), (+-4,0), (0,+-4)},
covariance 0.0845 I; beta(t) = 0.1 + 19.9 t on [0, 1]), or the 3D mixture of
mixture_3d(), sampled from the prior N(0, v(1) I) down to t = 1e-3 on a uniform grid
with the exact mixture score (log-sum-exp over the components), by Euler-Maruyama or
the probability-flow ODE with Heun's method: the cases of params/sample-vp-2d.prm.
Prints one JSON line: particle-steps per second and the moments of the output (a check
that it samples the blob: mean 0, variance 0.0845 + 0.65^2 * 48/9 = 2.338 per
coordinate).

    /usr/bin/python3 bench/numpy_sampler.py --particles 1000000 --steps 100
"""
import argparse
import json
import sys
import time

import numpy as np

BETA_MIN, BETA_MAX = 0.1, 20.0


def blob():
    points = 0.65 * np.array([(-2, -2), (-2, 2), (2, -2), (2, 2), (0, 0), (-4, 0), (4, 0),
                              (0, -4), (0, 4)], dtype=float)
    return np.full(9, 1.0 / 9), points, np.array([0.0845 * np.eye(2)] * 9)


def mixture_3d():
    """The 3D mixture of bench/sampler_benchmark.py: 8 components at 1.3 (+-1, +-1, +-1),
    alternating between two full covariances (the kernels' general path)."""
    corners = np.array([(i, j, k) for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], float)
    c1 = np.array([[0.2, 0.05, 0.0], [0.05, 0.15, 0.02], [0.0, 0.02, 0.1]])
    c2 = 0.12 * np.eye(3)
    return np.full(8, 1.0 / 8), 1.3 * corners, np.array([c1, c2] * 4)


def beta(t):
    return BETA_MIN + (BETA_MAX - BETA_MIN) * t


def mean_factor(t):
    return np.exp(-0.5 * (BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t * t))


class Score:
    """The exact score of p_t = sum_k w_k N(m mu_k, m^2 Sigma_k + v I), v = 1 - m^2."""

    def __init__(self, weights, means, covariances):
        self.weights, self.means, self.covariances = weights, means, covariances
        self.d = means.shape[1]
        self.log_weights = np.log(weights)
        self.variances = covariances[:, 0, 0]
        self.isotropic = all(np.array_equal(c, c[0, 0] * np.eye(self.d)) for c in covariances)

    def __call__(self, x, t):
        m = mean_factor(t)
        if self.isotropic:
            # Sigma_k = sigma_k^2 I: no matrices (what one writes for the blob).
            var = m * m * self.variances + 1.0 - m * m                  # K
            diff = x[:, None, :] - m * self.means[None, :, :]           # N x K x d
            e = self.log_weights - 0.5 * self.d * np.log(var) \
                - 0.5 * np.einsum("nkd,nkd->nk", diff, diff) / var
            e -= e.max(axis=1, keepdims=True)
            w = np.exp(e)
            w /= w.sum(axis=1, keepdims=True)
            return -np.einsum("nk,nkd->nd", w / var, diff)
        cov = m * m * self.covariances + (1.0 - m * m) * np.eye(self.d)[None]
        precision = np.linalg.inv(cov)
        logdet = np.linalg.slogdet(cov)[1]
        c = np.log(self.weights) - 0.5 * logdet
        diff = x[:, None, :] - m * self.means[None, :, :]       # N x K x d
        y = np.einsum("kde,nke->nkd", precision, diff)          # P_k (x - m mu_k)
        e = c[None, :] - 0.5 * np.einsum("nkd,nkd->nk", diff, y)
        e -= e.max(axis=1, keepdims=True)
        w = np.exp(e)
        w /= w.sum(axis=1, keepdims=True)
        return -np.einsum("nk,nkd->nd", w, y)


def sample(score, n, steps, scheme, seed):
    rng = np.random.default_rng(seed)
    times = np.linspace(1.0, 1e-3, steps + 1)
    m = mean_factor(1.0)
    d = score.d
    x = np.sqrt(1.0 - m * m) * rng.standard_normal((n, d))
    evaluations = 0
    for k in range(steps):
        t0, t1 = times[k], times[k + 1]
        h = t0 - t1
        if scheme == "euler-maruyama":
            # The reverse SDE: x <- x + h (beta/2 x + beta s) + sqrt(beta h) z.
            g2 = beta(t0)
            x = x + h * (0.5 * g2 * x + g2 * score(x, t0)) + np.sqrt(g2 * h) * \
                rng.standard_normal((n, d))
            evaluations += 1
        else:  # ode-heun on dx/dtau = beta/2 (x + s) in reversed time tau
            def velocity(y, t):
                return 0.5 * beta(t) * (y + score(y, t))
            k1 = velocity(x, t0)
            k2 = velocity(x + h * k1, t1)
            x = x + 0.5 * h * (k1 + k2)
            evaluations += 2
    return x, evaluations


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--particles", type=int, default=1000000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--scheme", choices=["euler-maruyama", "ode-heun"], default="euler-maruyama")
    ap.add_argument("--data", choices=["blob", "mixture-3d"], default="blob")
    ap.add_argument("--block", type=int, default=65536,
                    help="particles per NumPy call (bounds the N x K x 2 temporaries)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--exact-draws", metavar="FILE",
                    help="instead of sampling, write --particles exact draws m X_0 + sqrt(v) Z of "
                         "the law at t = 1e-3 to FILE (.npy, with FILE.json recording the time): "
                         "sample sets that a calibrated check should pass")
    args = ap.parse_args(argv)
    if args.exact_draws:
        weights, means, covariances = blob() if args.data == "blob" else mixture_3d()
        rng = np.random.default_rng(args.seed)
        k = rng.choice(len(weights), size=args.particles, p=weights)
        chol = np.linalg.cholesky(covariances)
        x0 = means[k] + np.einsum("nde,ne->nd", chol[k], rng.standard_normal(means[k].shape))
        m = mean_factor(1e-3)
        x = m * x0 + np.sqrt(1.0 - m * m) * rng.standard_normal(x0.shape)
        np.save(args.exact_draws, x)
        with open(args.exact_draws + ".json", "w") as f:
            json.dump({"time": 1e-3, "exact draws": args.particles, "data": args.data,
                       "seed": args.seed}, f)
        return 0
    score = Score(*(blob() if args.data == "blob" else mixture_3d()))
    start = time.perf_counter()
    parts = []
    for b, first in enumerate(range(0, args.particles, args.block)):
        n = min(args.block, args.particles - first)
        parts.append(sample(score, n, args.steps, args.scheme, args.seed + b)[0])
    seconds = time.perf_counter() - start
    x = np.concatenate(parts)
    print(json.dumps({"peer": "numpy " + np.__version__, "scheme": args.scheme, "data": args.data,
                      "particles": args.particles, "steps": args.steps,
                      "seconds": seconds,
                      "particle_steps_per_second": args.particles * args.steps / seconds,
                      "mean": x.mean(axis=0).tolist(), "variance": x.var(axis=0).tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
