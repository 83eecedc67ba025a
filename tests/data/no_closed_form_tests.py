#!/usr/bin/python3
"""Verification of data without a closed-form p_t (circles2), as ctest runs it:

  checker      the finite-element p_t of params/circles2-2d.prm against 10^5 exact draws
               X_t = m X_0 + sqrt(v) Z at t = 0.05, every statistic calibrated: the shipped
               mesh passes, a mesh too coarse for the rings (10^2 Q2 cells) fails; the
               moments of p_h equal the exact forward moments to solver tolerance.
  convergence  density and score solves at three levels against a finer solve (reference
               files evaluated on a grid): observed rates of the L2 differences.
  memorisation postprocess/memorisation_table.py --quick: the probability-flow ODE with the
               optimal denoiser collapses onto the training points as eps -> 0.

    /usr/bin/python3 tests/data/no_closed_form_tests.py GROUP --build BUILD [--mpirun M]
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp  # noqa: E402
import scorefp_launch  # noqa: E402

ARGS = None
FAILURES = []


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message, flush=True)
    if not condition:
        FAILURES.append(message)


def scorefp_run(args, ranks=2):
    result = scorefp_launch.run(args, ranks, ARGS.build, ARGS.mpirun, cwd=ROOT, timeout=1800)
    if result.returncode not in (0, 4):
        raise RuntimeError("scorefp %s failed: %s" % (" ".join(args), result.stderr[-2000:]))
    return result.returncode


def sets(overrides):
    out = []
    for o in overrides:
        out += ["--set", o]
    return out


def solve_circles2(directory, overrides):
    scorefp_run(["params/circles2-2d.prm"] + sets(
        ["Output/Quiet=true", "Output/Write VTU=false", "Process/Final time=0.05",
         "Output/Output times=0, 0.05", "Output/Directory=" + directory] + overrides))
    with open(os.path.join(directory, "summary.json")) as f:
        return json.load(f)


def checker():
    with tempfile.TemporaryDirectory() as work:
        verdicts = {}
        for name, overrides in [("shipped", []),
                                ("coarse", ["Mesh/Refinement levels=0",
                                            "Discretization/Polynomial degree=2"])]:
            summary = solve_circles2(os.path.join(work, name), overrides)
            if name == "shipped":
                moments = summary["moment_errors"]["max_over_output_times"]
                check(moments["mean"] < 1e-10 and moments["covariance"] < 1e-6,
                      "shipped mesh: mean and covariance of p_h equal the forward moments "
                      "(errors %.2e, %.2e)" % (moments["mean"], moments["covariance"]))
                check(abs(summary["mass"] - 1) < 1e-10, "mass conserved (%.15f)" % summary["mass"])
                check("errors" not in summary, "no errors reported without a closed form")
            status = scorefp_run(["params/check-circles2.prm"] + sets(
                ["Output/Quiet=true", "Checker/Null draws=59",
                 "Checker/Reference file=" + os.path.join(work, name, "reference.h5"),
                 "Output/Directory=" + os.path.join(work, "check-" + name)]))
            with open(os.path.join(work, "check-" + name, "check.json")) as f:
                result = json.load(f)
            check(result["n_samples"] == 100000, name + ": 10^5 exact draws checked")
            verdicts[name] = (status, result["pass"],
                              {s["name"]: s["p_value"] for s in result["statistics"]})
        check(verdicts["shipped"][:2] == (0, True),
              "shipped mesh passes against exact draws (p-values %s)" % verdicts["shipped"][2])
        check(verdicts["coarse"][:2] == (4, False),
              "coarse mesh fails against exact draws (p-values %s)" % verdicts["coarse"][2])


def grid(n=121, half=4.5):
    x = np.linspace(-half, half, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    return np.stack([X.ravel(), Y.ravel()], 1), (x[1] - x[0]) ** 2


def rates(values):
    return [np.log2(values[k] / values[k + 1]) for k in range(len(values) - 1)]


def convergence():
    points, area = grid()
    with tempfile.TemporaryDirectory() as work:
        # Density: Q2 on levels 1, 2, 3 (16 to 64 cells per axis of [-5, 5]) and level 5.
        common = ["Output/Quiet=true", "Output/Write VTU=false", "Discretization/Polynomial degree=2",
                  "Mesh/Box lower corner=-5", "Mesh/Box upper corner=5", "Mesh/Coarse subdivisions=8",
                  "Process/Final time=0.05", "Output/Output times=0.05", "Time stepping/Tolerance=1e-7",
                  "Output/Reference file=reference.h5"]
        levels, finest = [1, 2, 3], 5
        fields = {}
        for level in levels + [finest]:
            directory = os.path.join(work, "density-%d" % level)
            scorefp_run(["params/circles2-2d.prm"] + sets(
                common + ["Mesh/Refinement levels=%d" % level, "Output/Directory=" + directory]))
            fields[level] = scorefp.evaluate(os.path.join(directory, "reference.h5"), points,
                                             times=[0.05], executable=scorefp_launch.executable(ARGS.build),
                                             mpirun=ARGS.mpirun, cwd=ROOT).density[0]
        norm = np.sqrt(np.sum(fields[finest] ** 2) * area)
        errors = [np.sqrt(np.sum((fields[l] - fields[finest]) ** 2) * area) / norm for l in levels]
        observed = rates(errors)
        print("density: relative L2 differences to level %d: %s, rates %s"
              % (finest, ["%.3e" % e for e in errors], ["%.2f" % r for r in observed]))
        check(all(r > 2.0 for r in observed),
              "density converges at an observed rate above 2 for Q2 (rates %s)" % observed)

        # Score: Q2 on levels 1, 2, 3 and level 4; the score run's own field, weighted by
        # the finest density.
        score_common = [c for c in common if not c.startswith("Time stepping")] + [
            "Equation=score", "Score/Boundary condition=gaussian", "Time stepping/Tolerance=1e-6"]
        levels, finest = [1, 2, 3], 4
        scores = {}
        for level in levels + [finest]:
            directory = os.path.join(work, "score-%d" % level)
            scorefp_run(["params/score-circles2.prm"] + sets(
                score_common + ["Mesh/Refinement levels=%d" % level, "Output/Directory=" + directory]))
            scores[level] = scorefp.evaluate(os.path.join(directory, "reference.h5"), points,
                                             times=[0.05], score="finite-element",
                                             executable=scorefp_launch.executable(ARGS.build),
                                             mpirun=ARGS.mpirun, cwd=ROOT).score[0]
        weight = np.maximum(fields[5], 0.0)
        norm = np.sqrt(np.sum(weight[:, None] * scores[finest] ** 2) * area)
        errors = [np.sqrt(np.sum(weight[:, None] * (scores[l] - scores[finest]) ** 2) * area) / norm
                  for l in levels]
        observed = rates(errors)
        print("score: p-weighted relative L2 differences to level %d: %s, rates %s"
              % (finest, ["%.3e" % e for e in errors], ["%.2f" % r for r in observed]))
        check(errors[-1] < errors[0] / 4 and all(r > 1.0 for r in observed),
              "score converges (rates %s)" % observed)


def memorisation():
    import subprocess
    with tempfile.TemporaryDirectory() as work:
        result = subprocess.run([sys.executable, os.path.join(ROOT, "postprocess", "memorisation_table.py"),
                                 "--quick", "--build", ARGS.build, "--mpirun", ARGS.mpirun,
                                 "--out", work], capture_output=True, text=True, timeout=900)
        check(result.returncode == 0, "memorisation_table.py --quick runs (%s)" % result.stderr[-500:])
        if result.returncode != 0:
            return
        with open(os.path.join(work, "table.json")) as f:
            table = json.load(f)
        for row in table["rows"]:
            fractions = [c["fraction_within_radius"] for c in row["columns"]]
            distances = [c["median_nearest_distance"] for c in row["columns"]]
            check(all(a < b for a, b in zip(fractions, fractions[1:])) and fractions[-1] > 0.95,
                  "N = %d: the fraction within delta grows to 1 as eps -> 0 (%s)" % (row["N"], fractions))
            check(all(a > b for a, b in zip(distances, distances[1:])),
                  "N = %d: the distance to the nearest training point shrinks (%s)" % (row["N"], distances))
        check("| exact (D*) | 10 |" in open(os.path.join(work, "table.md")).read(), "table.md written")


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("group", choices=["checker", "convergence", "memorisation"])
    parser.add_argument("--build", required=True)
    parser.add_argument("--mpirun", default="mpirun")
    ARGS = parser.parse_args()
    {"checker": checker, "convergence": convergence, "memorisation": memorisation}[ARGS.group]()
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
