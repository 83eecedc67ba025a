#!/usr/bin/env -S /usr/bin/python3
"""The law a sampler produces: scorefp's finite-element answer against particles + a histogram.

On the 2D VP blob (9 Gaussians, exact score, exact start p_T, eps = 1e-3, so that the
answer p_eps is known in closed form), side by side:

1. Finite elements: `Task = reverse law` (params/reverse-law-blob.prm with the exact
   score and start) for each law (ODE, SDE) and each Mesh/Refinement level (1, 2, 3:
   10, 20, 40 cells per direction of DGQ2): wall seconds (summary.json) and the L1
   distance of the law to p_eps (`laws[0].to_exact.L1`, a quadrature on the mesh).
   `Task = likelihood` (params/likelihood-vp-blob.prm, start p_T) at 10^5 exact draws of
   p_eps written to a .npy file: wall seconds, points per second, and the Monte Carlo
   L1 E_p|1 - q/p| at those points.
2. Particles: `Task = sample` (params/sample-vp-2d.prm, exact score, start p_T) with
   Euler-Maruyama (1000 steps, law SDE) and ODE Heun (200 steps, law ODE) for
   N = 10^3 ... 10^6 particles; samples.npy binned on [-5, 5]^2 with every bin count of
   --bins, and smoothed by a Gaussian kernel density estimate with every bandwidth of
   --bandwidths; the best of each (closest to p_eps: an oracle choice, in the particles'
   favour) reported with its L1 distance to p_eps. Exact draws of p_eps (numpy) give the
   estimators' own error at the same N, without any sampler.
3. A log-log fit L1 = C N^b per scheme and estimator: the particles needed for the
   finite-element L1 of each level and the time they would take at the measured
   particles per second.

The closed form of p_eps (VP: m = exp(-B/2), v = 1 - exp(-B), B = beta_min t +
(beta_max - beta_min) t^2 / 2, components N(m mu_k, (m^2 0.0845 + v) I)) is checked
against scorefp's own p_eps (log_p of likelihood.csv) and against the finite-element
law of the finest level at Gauss points (its L1 must match the run's quadrature L1).

Standard library + numpy (/usr/bin/python3); it runs the existing build (never builds).

  bench/reverse_law_benchmark.py                 # full: levels 1-3, N up to 10^6 (~6-8 min on 2 cores)
  bench/reverse_law_benchmark.py --quick         # levels 1-2, N up to 10^5, fewer steps (< 1 min)
  bench/reverse_law_benchmark.py --build /tmp/bench-bin --out /tmp/bench-rl
  bench/reverse_law_benchmark.py --dry-run       # print the commands only
"""

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time

import numpy as np

from bench_common import ROOT, Table, add_common_options, banner, mpi_environment, resolve, write_results
from bench_common import scorefp_launch

TABLE = Table([("ranks", "%5s"), ("method", "%-28s"), ("parameters", "%-42s"),
               ("wall s", "%8s"), ("run s", "%6s"), ("L1 to p_eps", "%11s"), ("KDE L1", "%7s"),
               ("notes", "%-32s")])
NEED_TABLE = Table([("ranks", "%5s"), ("particles", "%-26s"), ("estimator", "%-9s"),
                    ("fit L1 = C N^b", "%-15s"), ("finite element", "%-30s"), ("FE L1", "%7s"),
                    ("FE wall s", "%9s"), ("N needed", "%8s"), ("time needed", "%11s")])

# Schemes whose law is the probability-flow ODE's; the others sample the reverse SDE.
ODE_SCHEMES = ("ode-", "ddim", "dpm-solver", "edm-heun")
# Bin counts per direction: the divisors of FINE from 10 to 600 (ratio ~1.25), so that
# every bin holds whole cells of the fine grid on which p_eps is tabulated.
FINE = 2400
DEFAULT_BINS = "10,12,15,16,20,24,25,30,32,40,48,50,60,75,80,96,100,120,150,160,200,240,300,400,480,600"
# The Gaussian kernel density estimate: grid cells per direction and bandwidths to try.
KDE_CELLS = 1440
DEFAULT_BANDWIDTHS = "0.015,0.02,0.025,0.03,0.04,0.05,0.06,0.08,0.1,0.14,0.2,0.3"
BLOB_POINTS = [(-2, -2), (-2, 2), (2, -2), (2, 2), (0, 0), (-4, 0), (4, 0), (0, -4), (0, 4)]
BLOB_SCALE, BLOB_VARIANCE = 0.65, 0.0845


# ----------------------------------------------------------------------------- closed form
def read_prm(path):
    """The entries of a written parameters.prm as {"Section/Entry": "value"}."""
    entries, sections = {}, []
    for line in open(path):
        words = line.split("#", 1)[0].strip()
        if words.startswith("subsection "):
            sections.append(words[len("subsection "):].strip())
        elif words == "end":
            sections.pop()
        elif words.startswith("set ") and "=" in words:
            name, value = words[4:].split("=", 1)
            entries["/".join(sections + [name.strip()])] = value.strip()
    return entries


class Blob:
    """p_t of the 2D VP blob: an equal-weight mixture of N(m mu_k, s2 I)."""

    def __init__(self, beta_min=0.1, beta_max=20.0):
        self.beta_min, self.beta_max = beta_min, beta_max
        self.points = BLOB_SCALE * np.array(BLOB_POINTS, dtype=float)

    @classmethod
    def from_prm(cls, entries):
        if entries.get("Process/Type") != "VP" or entries.get("Initial data/Type") != "blob":
            raise ValueError("the closed form here is the VP blob's; the run has Process/Type=%s, "
                             "Initial data/Type=%s" % (entries.get("Process/Type"),
                                                       entries.get("Initial data/Type")))
        if float(entries.get("Process/Start time", "0")) != 0.0:
            raise ValueError("Process/Start time must be 0")
        return cls(float(entries["Process/beta min"]), float(entries["Process/beta max"]))

    def components(self, t):
        B = self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t
        m, v = math.exp(-0.5 * B), -math.expm1(-B)
        return m * self.points, m * m * BLOB_VARIANCE + v

    def log_density(self, x, t):
        means, s2 = self.components(t)
        d2 = ((x[:, None, :] - means[None]) ** 2).sum(-1)
        logs = -0.5 * d2 / s2 - math.log(2 * math.pi * s2) - math.log(len(means))
        top = logs.max(1)
        return top + np.log(np.exp(logs - top[:, None]).sum(1))

    def draws(self, n, t, seed):
        rng = np.random.default_rng(seed)
        means, s2 = self.components(t)
        return means[rng.integers(0, len(means), n)] + math.sqrt(s2) * rng.standard_normal((n, 2))

    def box_mass(self, t, box):
        means, s2 = self.components(t)
        s = math.sqrt(2 * s2)
        total = 0.0
        for mu in means:
            total += np.prod([0.5 * (math.erf((box - c) / s) - math.erf((-box - c) / s)) for c in mu])
        return total / len(means)


class HistogramL1:
    """L1 distance between the histogram density of samples on [-box, box]^2 and p_t:
    p_t tabulated at the midpoints of a FINE x FINE grid (separable components), so that
    every bin of a bin count dividing FINE holds whole fine cells; the mass of p_t outside
    the box (where the histogram is zero) is added in closed form."""

    def __init__(self, blob, t, box):
        self.box = box
        centres = -box + (np.arange(FINE) + 0.5) * (2 * box / FINE)
        means, s2 = blob.components(t)
        self.p = np.zeros((FINE, FINE))
        for mu in means:
            gx = np.exp(-0.5 * (centres - mu[0]) ** 2 / s2)
            gy = np.exp(-0.5 * (centres - mu[1]) ** 2 / s2)
            self.p += np.outer(gx, gy)
        self.p /= len(means) * 2 * math.pi * s2
        self.cell = (2 * box / FINE) ** 2
        self.outside = max(0.0, 1.0 - blob.box_mass(t, box))

    def __call__(self, x, bins):
        k = FINE // bins
        counts, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=bins,
                                      range=[[-self.box, self.box], [-self.box, self.box]])
        h = counts / (len(x) * (2 * self.box / bins) ** 2)
        diff = np.abs(self.p.reshape(bins, k, bins, k) - h[:, None, :, None]).sum()
        return diff * self.cell + self.outside

    def best(self, x, bin_counts):
        """(L1, bins) of the bin count closest to p_t, and every (bins, L1)."""
        scores = [(self(x, b), b) for b in bin_counts]
        return min(scores), scores


class KernelL1:
    """L1 distance between a Gaussian kernel density estimate of samples and p_t, for
    every bandwidth at once: the samples are binned on a KDE_CELLS^2 grid of
    [-box - 1, box + 1]^2 (cells of 0.0083 for box 5, far below the smallest bandwidth),
    the counts convolved with the Gaussian N(0, h^2 I) by FFT (its transfer function
    exp(-2 pi^2 h^2 |f|^2); the padding of 1 around the box keeps the periodic wrap
    where p_t is below 1e-30), and |KDE - p_t| summed over the grid."""

    def __init__(self, blob, t, box):
        self.half = box + 1.0
        n = KDE_CELLS
        self.cell = 2 * self.half / n
        centres = -self.half + (np.arange(n) + 0.5) * self.cell
        means, s2 = blob.components(t)
        self.p = np.zeros((n, n))
        for mu in means:
            self.p += np.outer(np.exp(-0.5 * (centres - mu[0]) ** 2 / s2),
                               np.exp(-0.5 * (centres - mu[1]) ** 2 / s2))
        self.p /= len(means) * 2 * math.pi * s2
        self.outside = max(0.0, 1.0 - blob.box_mass(t, self.half))
        fx = np.fft.fftfreq(n, d=self.cell)
        fy = np.fft.rfftfreq(n, d=self.cell)
        self.f2 = fx[:, None] ** 2 + fy[None, :] ** 2

    def best(self, x, bandwidths):
        """(L1, h) of the bandwidth closest to p_t, and every (L1, h)."""
        n = KDE_CELLS
        counts, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=n,
                                      range=[[-self.half, self.half], [-self.half, self.half]])
        spectrum = np.fft.rfft2(counts / (len(x) * self.cell ** 2))
        scores = []
        for h in bandwidths:
            density = np.fft.irfft2(spectrum * np.exp(-2 * math.pi ** 2 * h * h * self.f2), s=(n, n))
            scores.append((float(np.abs(density - self.p).sum()) * self.cell ** 2 + self.outside, h))
        return min(scores), scores


# ----------------------------------------------------------------------------- running
def run(cmd, env, log_path):
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    start = time.time()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    with open(log_path, "w") as f:
        f.write(result.stdout + result.stderr)
    return result, time.time() - start


def with_sets(cmd, sets):
    for s in sets:
        cmd = cmd + ["--set", s]
    return cmd


def gauss_points(box, cells, order):
    """The order x order Gauss points and weights of every cell of a cells x cells mesh."""
    xi, wi = np.polynomial.legendre.leggauss(order)
    h = 2 * box / cells
    c = (-box + (np.arange(cells)[:, None] + 0.5 * (xi[None, :] + 1)) * h).ravel()
    w = np.tile(wi * 0.5 * h, cells)
    X, Y = np.meshgrid(c, c, indexing="ij")
    return np.stack([X.ravel(), Y.ravel()], 1), np.outer(w, w).ravel()


def human(seconds):
    for unit, size in (("years", 3.156e7), ("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return "%.3g %s" % (seconds / size, unit)
    return "%.3g s" % seconds


def log_fit(ns, l1s):
    """(C, b) of the least-squares fit log L1 = log C + b log N."""
    b, log_c = np.polyfit(np.log(np.asarray(ns, float)), np.log(np.asarray(l1s, float)), 1)
    return math.exp(log_c), b


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_options(ap, "output/bench-reverse-law", "params/reverse-law-blob.prm")
    ap.set_defaults(ranks="2")
    ap.add_argument("--levels", default=None,
                    help="Mesh/Refinement levels of the reverse-law runs (default 1,2,3; 1,2 "
                         "with --quick)")
    ap.add_argument("--laws", default="ODE,SDE", help="reverse laws, one run each (default ODE,SDE)")
    ap.add_argument("--schemes", default=None,
                    help="particle schemes as scheme:steps (default euler-maruyama:1000,"
                         "ode-heun:200; euler-maruyama:200,ode-heun:50 with --quick)")
    ap.add_argument("--particles", default=None,
                    help="particle counts (default 1000,10000,100000,1000000; up to 100000 with "
                         "--quick); the largest runs on the largest rank count only unless "
                         "--all-ranks")
    ap.add_argument("--bins", default=None,
                    help="histogram bin counts per direction to try, divisors of %d (default %s; "
                         "every other one with --quick)" % (FINE, DEFAULT_BINS))
    ap.add_argument("--bandwidths", default=None,
                    help="Gaussian KDE bandwidths to try (default %s; every other one with --quick; "
                         "empty: no KDE)" % DEFAULT_BANDWIDTHS)
    ap.add_argument("--likelihood-points", type=int, default=None,
                    help="points of Task = likelihood (default 100000, 10000 with --quick; 0: skip)")
    ap.add_argument("--sample-prm", default=os.path.join(ROOT, "params", "sample-vp-2d.prm"),
                    help="Task = sample case (default params/sample-vp-2d.prm)")
    ap.add_argument("--likelihood-prm", default=os.path.join(ROOT, "params", "likelihood-vp-blob.prm"),
                    help="Task = likelihood case (default params/likelihood-vp-blob.prm)")
    ap.add_argument("--box", type=float, default=5.0, help="histogram domain [-box, box]^2 (default 5)")
    ap.add_argument("--seed", type=int, default=2024, help="seed of the numpy draws of p_eps")
    args = ap.parse_args(argv)
    ranks_list, exe, prm, out = resolve(ap, args, "reverse_law_benchmark")
    levels = [int(l) for l in (args.levels or ("1,2" if args.quick else "1,2,3")).split(",")]
    laws = [l.strip() for l in args.laws.split(",") if l.strip()]
    if any(l not in ("ODE", "SDE") for l in laws):
        ap.error("--laws expects ODE and/or SDE")
    schemes = []
    for item in (args.schemes or ("euler-maruyama:200,ode-heun:50" if args.quick
                                  else "euler-maruyama:1000,ode-heun:200")).split(","):
        name, _, steps = item.strip().partition(":")
        schemes.append((name, int(steps or 1000)))
    particle_counts = sorted(int(float(n)) for n in (
        args.particles or ("1000,10000,100000" if args.quick else "1000,10000,100000,1000000")).split(","))
    bin_counts = [int(b) for b in (args.bins if args.bins is not None else
                                   ",".join(DEFAULT_BINS.split(",")[::2 if args.quick else 1])).split(",")]
    bandwidths = [float(h) for h in (args.bandwidths if args.bandwidths is not None else
                                     ",".join(DEFAULT_BANDWIDTHS.split(",")[::2 if args.quick else 1])
                                     ).split(",") if h.strip()]
    if any(FINE % b for b in bin_counts):
        ap.error("--bins: every bin count must divide %d" % FINE)
    n_likelihood = args.likelihood_points
    if n_likelihood is None:
        n_likelihood = 10000 if args.quick else 100000
    env = mpi_environment()
    # The frozen or installed library next to the executable, if there is one there.
    exe_dir = os.path.dirname(exe)
    if any(f.startswith("libscorefp.so") for f in (os.listdir(exe_dir) if os.path.isdir(exe_dir) else [])):
        env["LD_LIBRARY_PATH"] = exe_dir + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")

    print(banner("reverse-law", args.quick))
    print("# finite elements: %s; particles: %s; likelihood: %s; executable: %s"
          % (prm, args.sample_prm, args.likelihood_prm, exe))
    exact = ["Sampler/Score=exact", "Sampler/Start=exact"]
    start_all = time.time()
    rows, results, failed = [], [], 0
    fe = {}          # (ranks, law, level) -> (l1, wall)
    particles = {}   # (ranks, scheme) -> [(N, l1, sampling s)]
    blob = histogram = kernel = None
    eps = None

    def record(ranks, method, parameters, wall, run_s, l1, kde_l1, notes, **extra):
        rows.append(TABLE.row((ranks, method, parameters,
                               "%.3g" % wall if wall is not None else "-",
                               "%.1f" % run_s if run_s is not None else "-",
                               "%.3g" % l1 if l1 is not None else "-",
                               "%.3g" % kde_l1 if kde_l1 is not None else "-", notes)))
        print(rows[-1], flush=True)
        results.append(dict(ranks=ranks, method=method, parameters=parameters, wall_seconds=wall,
                            run_seconds=run_s, l1_to_p_eps=l1, kde_l1_to_p_eps=kde_l1, notes=notes,
                            **extra))

    def closed_form_from(directory):
        nonlocal blob, histogram, kernel, eps
        if blob is None:
            entries = read_prm(os.path.join(directory, "parameters.prm"))
            blob = Blob.from_prm(entries)
            eps = float(entries["Sampler/Early stopping"])
            histogram = HistogramL1(blob, eps, args.box)
            kernel = KernelL1(blob, eps, args.box) if bandwidths else None
            print("# closed form: VP beta %g..%g, eps = %g, components N(m mu_k, %.6g I), "
                  "mass outside [-%g, %g]^2 %.2e" % (blob.beta_min, blob.beta_max, eps,
                                                     blob.components(eps)[1], args.box, args.box,
                                                     histogram.outside), flush=True)

    for ranks in ranks_list:
        # 1. Finite elements: one run per law and level.
        for law in laws:
            for level in levels:
                directory = os.path.join(out, "fe-%s-l%d-np%d" % (law.lower(), level, ranks))
                cmd = with_sets(scorefp_launch.program_command(exe, [prm], ranks, args.mpiexec),
                                exact + ["Reverse law/Laws=" + law, "Mesh/Refinement levels=%d" % level,
                                         "Reverse law/Points file=", "Output/Reference file=",
                                         "Output/Write VTU=false",
                                         "Output/Quiet=true", "Output/Directory=" + directory])
                if args.dry_run:
                    print("$ " + " ".join(shlex.quote(c) for c in cmd))
                    continue
                os.makedirs(directory, exist_ok=True)
                result, run_s = run(cmd, env, os.path.join(directory, "scorefp.log"))
                summary_path = os.path.join(directory, "summary.json")
                if result.returncode != 0 or not os.path.isfile(summary_path):
                    failed += 1
                    print("  FAILED (exit code %d), see %s/scorefp.log" % (result.returncode, directory))
                    continue
                closed_form_from(directory)
                s = json.load(open(summary_path))["laws"][0]
                l1 = s["to_exact"]["L1"]
                fe[(ranks, law, level)] = (l1, s["wall_seconds"], s["n_cells"])
                cells = int(round(math.sqrt(s["n_cells"])))
                record(ranks, "FE reverse law, %s" % law,
                       "DGQ%d %dx%d cells, %d DoFs, %d steps" % (s["polynomial_degree"], cells, cells,
                                                                s["n_dofs"], s["n_steps"]),
                       s["wall_seconds"], run_s, l1, None, "level %d" % level, law=law, level=level,
                       cells=s["n_cells"], dofs=s["n_dofs"], steps=s["n_steps"],
                       command=" ".join(shlex.quote(c) for c in cmd))

        # 1b. The closed form against the finite-element law of the finest level (ODE).
        if args.dry_run and ranks == ranks_list[-1]:
            print("# (closed-form check: the finest level of the first law again with Reverse "
                  "law/Points file = its 4x4 Gauss points per cell, Output/Number of output "
                  "intervals=1)")
        if not args.dry_run and blob is not None and ranks == ranks_list[-1]:
            finest = max(levels)
            law = "ODE" if "ODE" in laws else laws[0]
            entries = read_prm(os.path.join(out, "fe-%s-l%d-np%d" % (law.lower(), finest, ranks),
                                            "parameters.prm"))
            lower, upper = float(entries["Mesh/Box lower corner"]), float(entries["Mesh/Box upper corner"])
            cells = int(entries["Mesh/Coarse subdivisions"]) * 2 ** finest
            if lower == -upper:
                points, weights = gauss_points(upper, cells, 4)
                print("# closed-form check: the finest %s law again, log q at the 4x4 Gauss points "
                      "of its %d^2 cells" % (law, cells), flush=True)
                directory = os.path.join(out, "check-closed-form")
                os.makedirs(directory, exist_ok=True)
                np.save(os.path.join(directory, "gauss-points.npy"), points)
                cmd = with_sets(scorefp_launch.program_command(exe, [prm], ranks, args.mpiexec),
                                exact + ["Reverse law/Laws=" + law, "Mesh/Refinement levels=%d" % finest,
                                         "Reverse law/Points file=" + os.path.join(directory, "gauss-points.npy"),
                                         "Output/Number of output intervals=1", "Output/Reference file=",
                                         "Output/Write VTU=false",
                                         "Output/Quiet=true", "Output/Directory=" + directory])
                result, run_s = run(cmd, env, os.path.join(directory, "scorefp.log"))
                try:
                    data = np.genfromtxt(os.path.join(directory, "points.csv"), delimiter=",",
                                         skip_header=1, usecols=(1, 2, 3, 4, 5))
                    at_eps = data[np.isclose(data[:, 0], eps, rtol=1e-9, atol=0)]
                    order = np.argsort(at_eps[:, 1], kind="stable")
                    at_eps = at_eps[order]
                    q = np.exp(np.nan_to_num(at_eps[:, 4], nan=-np.inf))
                    xs = at_eps[:, 2:4]
                    p = np.exp(blob.log_density(xs, eps))
                    w = weights[at_eps[:, 1].astype(int)]
                    mine = float(np.sum(w * np.abs(q - p))) + histogram.outside
                    theirs = json.load(open(os.path.join(directory, "summary.json")))["laws"][0]["to_exact"]["L1"]
                    ok = len(at_eps) == len(points) and abs(mine - theirs) <= 0.1 * theirs + 1e-4
                    print("# closed-form check: L1(FE %s law at level %d, this script's p_eps) = %.4g at "
                          "%d Gauss points, scorefp's own quadrature L1 = %.4g: %s"
                          % (law, finest, mine, len(at_eps), theirs, "agree" if ok else "DISAGREE"),
                          flush=True)
                    if not ok:
                        failed += 1
                except (OSError, ValueError, IndexError, KeyError) as error:
                    failed += 1
                    print("  closed-form check FAILED (%s), see %s/scorefp.log" % (error, directory))

        # 1c. Task = likelihood at exact draws of p_eps.
        if n_likelihood > 0:
            directory = os.path.join(out, "likelihood-np%d" % ranks)
            points_file = os.path.join(directory, "points.npy")
            cmd = with_sets(scorefp_launch.program_command(exe, [args.likelihood_prm], ranks, args.mpiexec),
                            ["Likelihood/Start=exact", "Likelihood/Points=points file",
                             "Likelihood/Points file=" + points_file, "Likelihood/Write points=true",
                             "Output/Directory=" + directory])
            if args.dry_run:
                print("# (%d exact draws of p_eps written to %s)" % (n_likelihood, points_file))
                print("$ " + " ".join(shlex.quote(c) for c in cmd))
            elif blob is None:
                print("# likelihood skipped: no finite-element run gave the closed form")
            else:
                os.makedirs(directory, exist_ok=True)
                np.save(points_file, blob.draws(n_likelihood, eps, args.seed))
                result, run_s = run(cmd, env, os.path.join(directory, "scorefp.log"))
                summary_path = os.path.join(directory, "summary.json")
                if result.returncode != 0 or not os.path.isfile(summary_path):
                    failed += 1
                    print("  FAILED (exit code %d), see %s/scorefp.log" % (result.returncode, directory))
                else:
                    s = json.load(open(summary_path))
                    data = np.genfromtxt(os.path.join(directory, "likelihood.csv"), delimiter=",",
                                         skip_header=1, usecols=(1, 2, 3, 4))
                    mine = blob.log_density(data[:, 0:2], eps)
                    closed_form_error = float(np.max(np.abs(mine - data[:, 3])))
                    ratio = np.exp(data[:, 2] - mine)
                    l1 = float(np.mean(np.abs(1 - ratio)))
                    l1_se = float(np.std(np.abs(1 - ratio)) / math.sqrt(len(ratio)))
                    print("# closed-form check: max |log p_eps (this script) - log_p (scorefp)| = %.2g "
                          "at %d points: %s" % (closed_form_error, len(mine),
                                                "agree" if closed_form_error < 1e-8 else "DISAGREE"))
                    if closed_form_error >= 1e-8:
                        failed += 1
                    rate = s["n_points"] / s["wall_seconds"]
                    record(ranks, "likelihood (PF-ODE, points)",
                           "%d draws of p_eps, DP5(4) rtol %g" % (s["n_points"], s["relative_tolerance"]),
                           s["wall_seconds"], run_s, l1, None,
                           "%.3g points/s; Monte Carlo L1" % rate, points=s["n_points"],
                           points_per_second=rate, l1_standard_error=l1_se,
                           kl=s["kl"], max_abs_log_ratio=s["max_abs_log_ratio"],
                           closed_form_max_log_error=closed_form_error,
                           command=" ".join(shlex.quote(c) for c in cmd))

        # 2. Particles + histogram.
        for scheme, steps in schemes:
            for n in particle_counts:
                if n == particle_counts[-1] and ranks != ranks_list[-1] and not args.all_ranks:
                    continue
                directory = os.path.join(out, "sample-%s-%d-n%d-np%d" % (scheme, steps, n, ranks))
                cmd = with_sets(scorefp_launch.program_command(exe, [args.sample_prm], ranks, args.mpiexec),
                                ["Sampler/Score=exact", "Sampler/Start=exact", "Sampler/Scheme=" + scheme,
                                 "Sampler/Steps=%d" % steps, "Sampler/Particles=%d" % n,
                                 "Output/Progress interval=30", "Output/Directory=" + directory])
                if args.dry_run:
                    print("$ " + " ".join(shlex.quote(c) for c in cmd))
                    continue
                os.makedirs(directory, exist_ok=True)
                result, run_s = run(cmd, env, os.path.join(directory, "scorefp.log"))
                meta_path = os.path.join(directory, "samples.npy.json")
                if result.returncode != 0 or not os.path.isfile(meta_path) or histogram is None:
                    failed += 1
                    print("  FAILED (exit code %d%s), see %s/scorefp.log" % (
                        result.returncode, "" if histogram is not None else "; no closed form", directory))
                    continue
                meta = json.load(open(meta_path))
                if abs(meta["time"] - eps) > 1e-12:
                    print("  warning: samples at t = %g, p_eps at %g" % (meta["time"], eps))
                t0 = time.time()
                x = np.load(os.path.join(directory, "samples.npy"))
                (l1, bins), scores = histogram.best(x, bin_counts)
                hist_s = time.time() - t0
                (kde_l1, h), kde_scores = kernel.best(x, bandwidths) if kernel else ((None, None), [])
                particles.setdefault((ranks, scheme, steps), []).append((n, l1, kde_l1, meta["sampling_seconds"]))
                record(ranks, "particles %s" % scheme, "N = %d, %d steps" % (n, steps),
                       meta["sampling_seconds"], run_s, l1, kde_l1,
                       "%dx%d bins%s" % (bins, bins, ", h = %g" % h if h else ""),
                       scheme=scheme, steps=steps, particles=n, bins=bins, kde_bandwidth=h,
                       particles_per_second=n / meta["sampling_seconds"], histogram_seconds=hist_s,
                       l1_by_bins=";".join("%d:%.4g" % (b, v) for v, b in scores),
                       kde_l1_by_bandwidth=";".join("%g:%.4g" % (b, v) for v, b in kde_scores),
                       command=" ".join(shlex.quote(c) for c in cmd))

    # Exact draws of p_eps: the histogram's own error, no sampler.
    if not args.dry_run and histogram is not None:
        for n in particle_counts:
            t0 = time.time()
            x = blob.draws(n, eps, args.seed + 1)
            draw_s = time.time() - t0
            (l1, bins), scores = histogram.best(x, bin_counts)
            (kde_l1, h), kde_scores = kernel.best(x, bandwidths) if kernel else ((None, None), [])
            particles.setdefault((0, "exact draws", 0), []).append((n, l1, kde_l1, draw_s))
            record("-", "exact draws of p_eps (numpy)", "N = %d" % n, draw_s, None, l1, kde_l1,
                   "%dx%d bins%s" % (bins, bins, ", h = %g" % h if h else ""),
                   scheme="exact draws", particles=n, bins=bins, kde_bandwidth=h,
                   l1_by_bins=";".join("%d:%.4g" % (b, v) for v, b in scores),
                   kde_l1_by_bandwidth=";".join("%g:%.4g" % (b, v) for v, b in kde_scores))

    if args.dry_run:
        return 0

    # 3. Particles needed for the finite-element L1 of each level, per estimator.
    need_rows, final_lines = [], []
    for (ranks, scheme, steps), measured in particles.items():
        if len(measured) < 2:
            continue
        ns, hist_l1s, kde_l1s, secs = zip(*measured)
        is_exact = scheme == "exact draws"
        law = "ODE" if scheme.startswith(ODE_SCHEMES) else "SDE"
        fe_ranks = ranks_list[-1] if is_exact else ranks
        fe_laws = laws if is_exact else [law]
        rate = None if is_exact else ns[-1] / secs[-1]
        label = "exact draws of p_eps" if is_exact else "%s, %d steps" % (scheme, steps)
        fits = [("histogram", log_fit(ns, hist_l1s))]
        if None not in kde_l1s:
            fits.append(("KDE", log_fit(ns, kde_l1s)))
        for fe_law in fe_laws:
            for level in levels:
                if (fe_ranks, fe_law, level) not in fe:
                    continue
                target, fe_wall, n_cells = fe[(fe_ranks, fe_law, level)]
                cells = int(round(math.sqrt(n_cells)))
                texts = []
                for estimator, (c, b) in fits:
                    needed = (target / c) ** (1.0 / b)
                    t_needed = needed / rate if rate else None
                    need_rows.append(NEED_TABLE.row((
                        "-" if is_exact else ranks, label, estimator, "%.3g N^%.3f" % (c, b),
                        "%s law, level %d (%dx%d cells)" % (fe_law, level, cells, cells),
                        "%.3g" % target, "%.3g" % fe_wall, "%.2g" % needed,
                        human(t_needed) if t_needed else "-")))
                    results.append(dict(ranks=ranks if not is_exact else "-", method="particles needed",
                                        scheme=scheme, steps=steps, estimator=estimator, law=fe_law,
                                        level=level, fit_C=c, fit_b=b, l1_to_p_eps=target,
                                        wall_seconds=fe_wall, particles=needed,
                                        particles_per_second=rate, seconds_needed=t_needed))
                    texts.append("%.2g %s (%s)" % (needed, estimator, human(t_needed) if t_needed else "-"))
                if not is_exact:
                    final_lines.append((ranks, level, "%s L1 %.2g in %.3g s <-> %s particles: %s"
                                        % (fe_law, target, fe_wall, scheme, ", ".join(texts))))

    print("\n## The law at eps: finite elements against particles + histogram or KDE\n")
    print(TABLE.header())
    print("\n".join(rows))
    print("\n## Particles for the finite-element accuracy (log-log fit of L1 against N over "
          "N = %s; time at the particles/s of the largest run)\n" % ", ".join("%g" % n for n in particle_counts))
    print(NEED_TABLE.header())
    print("\n".join(need_rows))
    print("\n# wall s: summary.json wall_seconds (finite elements, likelihood) or samples.npy.json "
          "sampling_seconds (particles; numpy time for exact draws); run s: the whole scorefp "
          "process (MPI start, setup, output); L1 to p_eps of particles: the histogram with the "
          "best bin count; KDE L1: the Gaussian KDE with the best bandwidth h.")
    for ranks in ranks_list:
        per_level = ["level %d: %s" % (level, ", ".join(text for r, l, text in final_lines
                                                         if r == ranks and l == level))
                     for level in levels if any(r == ranks and l == level for r, l, _ in final_lines)]
        if per_level:
            print("# To match the finite elements (%d ranks), particles needed (time): %s"
                  % (ranks, "; ".join(per_level)))
    print("# Total %.0f s; load average at the end %.2f" % (time.time() - start_all, os.getloadavg()[0]))

    write_results(out, results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
