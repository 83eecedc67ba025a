#!/usr/bin/env -S /usr/bin/python3
"""Accuracy/throughput benchmark of scorefp on the 2D VP blob case (params/demo.prm).

Runs the demo case over polynomial degrees, meshes and time tolerances on 1 and
2 MPI ranks (VTU output off), each run in its own directory, and prints one
table row per run:

  ranks, degree Q, box [-B,B]^2, coarse subdivisions, refinement level, cells
  per direction, DoFs, time steps, wall seconds (summary.json), throughput =
  DoFs x steps / wall seconds, relative L2 error (max over output times, t = 0
  included), relative L2 error at the final time, time tolerance.

Standard library only. Run from anywhere:

  bench/density_benchmark.py              # full sweep, 1 and 2 ranks (~5-10 min on 2 cores)
  bench/density_benchmark.py --quick      # smoke test: a few runs of a few seconds
  bench/density_benchmark.py --ranks 2 --build /path/to/build --out /tmp/bench
  bench/density_benchmark.py --dry-run    # print the commands only
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

from bench_common import ROOT, Table, add_common_options, banner, mpi_environment, resolve, write_results
from bench_common import scorefp_launch

# (degree, box half-width B, coarse subdivisions, refinement levels, time tolerance,
#  largest rank count only)
# Cells per direction = subdivisions * 2^levels on the box [-B, B]^2.
#
# The demo box [-5, 5]^2 truncates the tails of the density: the zero-flux wall
# costs a relative L2 error of ~5e-6 near t = 0.3 and ~1e-6 at t = 1 whatever the
# mesh and tolerance, so the other rows use [-6, 6]^2 (tails < 1e-8).
# The three rows with 37249 DoFs compare Q2, Q3, Q4 at equal DoF count and equal
# tolerance. The max error is set by t = 0 (the narrow initial Gaussians), where
# Q4 gives 4e-5 / 1e-5 / 1.5e-6 with 48 / 64 / 96 cells per direction.
# The last (~1e-6) row takes 2-5 minutes on 2 ranks and would take twice that on
# one, so it runs on the largest rank count only (--all-ranks runs it on all).
FULL_SWEEP = [
    (4, 5, 5, 3, 1e-4, False),   # params/demo.prm as it is (reference row)
    (2, 6, 6, 4, 1e-4, False),   # 96 cells/dir, 37249 DoFs
    (3, 6, 8, 3, 1e-4, False),   # 64 cells/dir, 37249 DoFs
    (4, 6, 6, 3, 1e-4, False),   # 48 cells/dir, 37249 DoFs
    (4, 6, 8, 3, 1e-5, False),   # 64 cells/dir, 66049 DoFs
    (4, 6, 12, 3, 1e-6, True),   # 96 cells/dir, 148225 DoFs: ~1.5e-6
]
QUICK_SWEEP = [
    (2, 6, 6, 3, 1e-4, False),   # 48 cells/dir, 9409 DoFs
    (4, 5, 5, 2, 1e-4, False),   # 20 cells/dir, 6561 DoFs
]


def run_name(ranks, degree, box, subdivisions, levels, tol):
    return "r%d-q%d-b%g-s%d-l%d-tol%.0e" % (ranks, degree, box, subdivisions, levels, tol)


def command(exe, prm, ranks, degree, box, subdivisions, levels, tol, directory, mpiexec):
    sets = [
        "Discretization/Polynomial degree=%d" % degree,
        "Mesh/Geometry=box",
        "Mesh/Box lower corner=%g" % -box,
        "Mesh/Box upper corner=%g" % box,
        "Mesh/Coarse subdivisions=%d" % subdivisions,
        "Mesh/Refinement levels=%d" % levels,
        "Time stepping/Tolerance=%g" % tol,
        "Output/Write VTU=false",
        "Output/Directory=%s" % directory,
    ]
    cmd = scorefp_launch.program_command(exe, [prm], ranks, mpiexec)
    for s in sets:
        cmd += ["--set", s]
    return cmd


COLUMNS = [("ranks", "%5s"), ("Q", "%2s"), ("box", "%4s"), ("subdiv", "%6s"), ("level", "%5s"),
           ("cells/dir", "%9s"), ("DoFs", "%7s"), ("steps", "%5s"), ("wall s", "%7s"),
           ("DoF*steps/s", "%11s"), ("max rel L2", "%10s"), ("final rel L2", "%12s"),
           ("tol", "%7s")]


TABLE = Table(COLUMNS)


def main(argv):
    ap = argparse.ArgumentParser(
        description="Accuracy/throughput sweep of scorefp on the 2D VP blob case (params/demo.prm).")
    add_common_options(ap, "output/bench", "params/demo.prm")
    args = ap.parse_args(argv)

    ranks_list, exe, prm, out = resolve(ap, args, "density_benchmark")
    env = mpi_environment()
    sweep = QUICK_SWEEP if args.quick else FULL_SWEEP

    print(banner("density", args.quick))
    print("# case: %s (2D VP blob, t in [0, 1]); executable: %s" % (prm, exe))
    rows, results, failed = [], [], 0
    t_start = time.time()
    for degree, box, subdivisions, levels, tol, largest_only in sweep:
        for ranks in ranks_list:
            if largest_only and not args.all_ranks and ranks != max(ranks_list):
                continue
            name = run_name(ranks, degree, box, subdivisions, levels, tol)
            directory = os.path.join(out, name)
            cmd = command(exe, prm, ranks, degree, box, subdivisions, levels, tol, directory,
                          args.mpiexec)
            print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
            if args.dry_run:
                continue
            os.makedirs(directory, exist_ok=True)
            summary_path = os.path.join(directory, "summary.json")
            if os.path.exists(summary_path):
                os.remove(summary_path)  # never report a stale result
            log_path = os.path.join(directory, "scorefp.log")
            with open(log_path, "w") as log:
                rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT).returncode
            cells = subdivisions * 2 ** levels
            if rc != 0 or not os.path.isfile(summary_path):
                failed += 1
                print("  FAILED (exit code %d), see %s" % (rc, log_path), flush=True)
                rows.append(TABLE.row((ranks, degree, box, subdivisions, levels, cells, "-", "-", "-", "-",
                                 "FAILED", "-", "%.0e" % tol)))
                continue
            with open(summary_path) as f:
                s = json.load(f)
            wall = s["wall_seconds"]
            throughput = s["n_dofs"] * s["n_steps"] / wall
            err_max = s["errors"]["max_over_output_times"]["L2"]
            err_final = s["errors"]["final"]["L2"]
            r = (s["n_ranks"], s["polynomial_degree"], box, subdivisions, s["refinement_level"],
                 cells, s["n_dofs"], s["n_steps"], "%.2f" % wall, "%.3g" % throughput,
                 "%.2e" % err_max, "%.2e" % err_final, "%.0e" % tol)
            rows.append(TABLE.row(r))
            results.append(dict(name=name, ranks=s["n_ranks"], degree=s["polynomial_degree"],
                                box=box, subdivisions=subdivisions, level=s["refinement_level"],
                                cells_per_direction=cells, n_dofs=s["n_dofs"],
                                n_steps=s["n_steps"], wall_seconds=wall,
                                dof_steps_per_second=throughput, rel_l2_max=err_max,
                                rel_l2_final=err_final, tolerance=tol,
                                linear_iterations=s.get("linear_iterations"),
                                command=" ".join(shlex.quote(c) for c in cmd)))
            print("  " + rows[-1], flush=True)
    if args.dry_run:
        return 0

    print()
    print(TABLE.header())
    for r in rows:
        print(r)
    print()
    print("# box: domain [-box, box]^2; cells/dir = subdiv * 2^level; DoFs of continuous Q_p;")
    print("# wall s from summary.json; max rel L2 = max over the 11 output times (t = 0 included);")
    print("# tol = Time stepping/Tolerance (ARK436L2SA_DIRK_6_3_4).")
    print("# Total %.0f s; load average at the end %.2f (other jobs on the machine slow the runs)."
          % (time.time() - t_start, os.getloadavg()[0]))
    write_results(out, results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
