#!/usr/bin/python3
"""Chen et al.'s memorisation table: the probability-flow ODE driven by the exact score of
the empirical law of N training points (its optimal denoiser D*, MATH.md section 5)
collapses onto the training set as the early-stopping time eps goes to 0. For every N and
eps the table gives the fraction of the outputs within delta of a training point and the
median distance to the nearest one; the last rows drive the same ODE with the
finite-element score of the training set smoothed by a Gaussian kernel (Scott's
bandwidth), which does not collapse.

    /usr/bin/python3 postprocess/memorisation_table.py [--build build] [--out DIR] [--quick]

Every run is params/memorisation-ode.prm (2D VP, training points drawn from circles2
with seed 3, ode-heun with 200 steps on the EDM grid, 2000 particles) with overrides:
Initial data/Number of points = N and Sampler/Early stopping = eps; the numbers are read
from samples.npy.json ("memorisation"). The finite-element rows first solve the score
equation of the smoothed data (Task = solve, Equation = score, a reference file), then
sample with Sampler/Score = reference file; the distances are to the unsmoothed training
points. The Markdown table is printed and written to OUT/table.md, the numbers to
OUT/table.json. --quick runs N = 10 and 100 at three eps with 500 particles and no
finite-element rows (about a minute). Standard library only besides scorefp.
"""
import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp_launch  # noqa: E402

CASE = "params/memorisation-ode.prm"
POINTS = [10, 100, 1000]
EPSILONS = [0.3, 0.1, 0.03, 0.01, 0.003, 0.001]
QUICK_POINTS = [10, 100]
QUICK_EPSILONS = [0.1, 0.01, 0.001]


def _sets(overrides):
    arguments = []
    for override in overrides:
        arguments += ["--set", override]
    return arguments


def _run(overrides, options, case=CASE):
    result = scorefp_launch.run([case] + _sets(["Output/Quiet=true"] + overrides), options.ranks,
                                options.build, options.mpirun, cwd=ROOT, timeout=options.timeout)
    if result.returncode != 0:
        raise RuntimeError("scorefp %s failed (exit %s): %s"
                           % (" ".join(overrides), result.returncode, result.stderr.strip()[-2000:]))


def sample(n_points, epsilon, options, score=()):
    """One sampler run; its memorisation record."""
    directory = os.path.join(options.out, "n%d-eps%g%s" % (n_points, epsilon, "-fe" if score else ""))
    _run(["Initial data/Number of points=%d" % n_points, "Sampler/Early stopping=%g" % epsilon,
          "Sampler/Particles=%d" % options.particles, "Output/Directory=" + directory]
         + list(score), options)
    with open(os.path.join(directory, "samples.npy.json")) as f:
        return json.load(f)["memorisation"]


def finite_element_score(n_points, options):
    """The score FPE of the training set smoothed with Scott's bandwidth: the reference file."""
    directory = os.path.join(options.out, "fe-score-n%d" % n_points)
    _run(["Task=solve", "Equation=score", "Initial data/Number of points=%d" % n_points,
          "Initial data/Bandwidth=scott", "Mesh/Geometry=box", "Mesh/Box lower corner=-8",
          "Mesh/Box upper corner=8", "Mesh/Coarse subdivisions=8",
          "Mesh/Refinement levels=%d" % options.fe_level, "Discretization/Polynomial degree=3",
          "Time stepping/Tolerance=1e-4", "Output/Write VTU=false",
          "Output/Output times=%s" % ", ".join("%g" % e for e in sorted(EPSILONS) + [1.0]),
          "Output/Reference file=reference.h5", "Output/Directory=" + directory], options)
    return os.path.join(directory, "reference.h5")


def markdown(rows, epsilons, delta):
    head = "| score | N | " + " | ".join("eps = %g" % e for e in epsilons) + " |"
    lines = ["Fraction of the outputs within delta = %g of a training point:" % delta, "",
             head, "|---|---|" + "---|" * len(epsilons)]
    for r in rows:
        lines.append("| %s | %d | " % (r["score"], r["N"]) +
                     " | ".join("%.3f" % c["fraction_within_radius"] for c in r["columns"]) + " |")
    lines += ["", "Median distance to the nearest training point:", "", head,
              "|---|---|" + "---|" * len(epsilons)]
    for r in rows:
        lines.append("| %s | %d | " % (r["score"], r["N"]) +
                     " | ".join("%.3g" % c["median_nearest_distance"] for c in r["columns"]) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--mpirun", default="mpirun")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(ROOT, "output", "memorisation-table"))
    parser.add_argument("--particles", type=int, default=2000)
    parser.add_argument("--fe-level", type=int, default=3,
                        help="refinement level of the finite-element score (8 x 2^level cells "
                             "per axis of [-8, 8]^2, Q3; default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="N = 10, 100 at three eps, 500 particles, no finite-element rows")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per scorefp run")
    options = parser.parse_args()
    options.out = os.path.abspath(options.out)
    if options.quick:
        options.particles = min(options.particles, 500)
    os.makedirs(options.out, exist_ok=True)
    points = QUICK_POINTS if options.quick else POINTS
    epsilons = QUICK_EPSILONS if options.quick else EPSILONS
    rows, delta = [], None
    start = time.time()
    for n_points in points:
        columns = [sample(n_points, e, options) for e in epsilons]
        delta = columns[0]["radius"]
        rows.append({"score": "exact (D*)", "N": n_points, "columns": columns})
        print("exact N = %d: %s (%.0f s)" % (n_points, ", ".join(
            "%.3f" % c["fraction_within_radius"] for c in columns), time.time() - start), flush=True)
    if not options.quick:
        for n_points in points:
            reference = finite_element_score(n_points, options)
            columns = [sample(n_points, e, options,
                              ["Sampler/Score=reference file", "Sampler/Reference file=" + reference])
                       for e in epsilons]
            rows.append({"score": "finite elements (Scott)", "N": n_points, "columns": columns})
            print("finite elements N = %d: %s (%.0f s)" % (n_points, ", ".join(
                "%.3f" % c["fraction_within_radius"] for c in columns), time.time() - start),
                flush=True)
    table = markdown(rows, epsilons, delta)
    print(table)
    with open(os.path.join(options.out, "table.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(options.out, "table.json"), "w") as f:
        json.dump({"quick": options.quick, "epsilons": epsilons, "rows": rows}, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
