#!/usr/bin/env -S /usr/bin/python3
"""Accuracy/cost benchmark of the scorefp score solver on the 2D VP blob (params/score-vp-2d.prm).

Runs the score Fokker-Planck case (companion density off) over polynomial
degrees, meshes and time tolerances on 1 and 2 MPI ranks (VTU output off,
Output/Quiet=true), each run in its own directory, and prints one table row per
run:

  ranks, degree Q, box [-B,B]^2, coarse subdivisions, refinement level, cells
  per direction, DoFs, accepted time steps, rejected steps, Newton iterations
  per step, linear iterations per Newton iteration, Jacobian assemblies, wall
  seconds (summary.json), throughput = DoFs x steps / wall seconds, relative L2
  score error (max over output times, t = 0 included: there it is the
  interpolation error of the initial score), relative L2 error at the final
  time, Fisher divergence at the final time, time tolerance.

Standard library only. Run from anywhere:

  bench/score_benchmark.py              # full sweep, 1 and 2 ranks (tens of minutes on 2 cores)
  bench/score_benchmark.py --quick      # smoke test: 2 small runs per rank count
  bench/score_benchmark.py --ranks 2 --build /path/to/build --out /tmp/bench
  bench/score_benchmark.py --dry-run    # print the commands only
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
# The score case uses the exact score as boundary condition (params/score-vp-2d.prm),
# and the companion density solve is switched off, so only the (nonlinear) score
# FPE is timed. The max error over output times is the t = 0 interpolation error
# of the initial score wherever the mesh is coarse; the final error measures the
# time stepping and the transport.
# The Q3 level-4 run at tol 1e-5 is the largest: it runs on the largest rank count
# only (--all-ranks runs it on all).
FULL_SWEEP = [
    (3, 5, 5, 3, 1e-4, False),   # params/score-vp-2d.prm as shipped (reference row)
    (2, 5, 5, 3, 1e-4, False),   # Q2, 40 cells/dir
    (2, 5, 5, 4, 1e-4, False),   # Q2, 80 cells/dir
    (3, 5, 5, 3, 1e-5, False),   # reference mesh, tighter tolerance
    (3, 5, 5, 4, 1e-5, True),    # Q3, 80 cells/dir: the largest run
    (4, 5, 5, 3, 1e-5, False),   # Q4, 40 cells/dir
]
QUICK_SWEEP = [
    (2, 5, 5, 2, 1e-3, False),   # Q2, 20 cells/dir
    (3, 5, 5, 2, 1e-3, False),   # Q3, 20 cells/dir
]


def run_name(ranks, degree, box, subdivisions, levels, tol):
    return "score-r%d-q%d-b%g-s%d-l%d-tol%.0e" % (ranks, degree, box, subdivisions, levels, tol)


def command(exe, prm, ranks, degree, box, subdivisions, levels, tol, directory, mpiexec):
    sets = [
        "Discretization/Polynomial degree=%d" % degree,
        "Mesh/Geometry=box",
        "Mesh/Box lower corner=%g" % -box,
        "Mesh/Box upper corner=%g" % box,
        "Mesh/Coarse subdivisions=%d" % subdivisions,
        "Mesh/Refinement levels=%d" % levels,
        "Time stepping/Tolerance=%g" % tol,
        "Score/Companion density=false",
        "Output/Write VTU=false",
        "Output/Quiet=true",
        "Output/Directory=%s" % directory,
    ]
    cmd = scorefp_launch.program_command(exe, [prm], ranks, mpiexec)
    for s in sets:
        cmd += ["--set", s]
    return cmd


COLUMNS = [("ranks", "%5s"), ("Q", "%2s"), ("box", "%4s"), ("subdiv", "%6s"), ("level", "%5s"),
           ("cells/dir", "%9s"), ("DoFs", "%7s"), ("steps", "%5s"), ("rejected", "%8s"),
           ("Newton/step", "%11s"), ("linear/Newton", "%13s"), ("Jacobians", "%9s"),
           ("wall s", "%7s"), ("DoF*steps/s", "%11s"), ("max rel L2", "%10s"),
           ("final rel L2", "%12s"), ("final Fisher", "%12s"), ("tol", "%7s")]


TABLE = Table(COLUMNS)


def ratio(a, b):
    return a / b if b else float("nan")


def main(argv):
    ap = argparse.ArgumentParser(
        description="Accuracy/cost sweep of the scorefp score solver on the 2D VP blob case "
                    "(params/score-vp-2d.prm, companion density off).")
    add_common_options(ap, "output/bench-score", "params/score-vp-2d.prm")
    args = ap.parse_args(argv)

    ranks_list, exe, prm, out = resolve(ap, args, "score_benchmark")
    env = mpi_environment()
    sweep = QUICK_SWEEP if args.quick else FULL_SWEEP

    print(banner("score", args.quick))
    print("# case: %s (score FPE, 2D VP blob, t in [0, 1], companion density off); executable: %s"
          % (prm, exe))
    rows, results, failed = [], [], 0
    n_output_times = None
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
                rows.append(TABLE.row((ranks, degree, box, subdivisions, levels, cells,
                                 "-", "-", "-", "-", "-", "-", "-", "-",
                                 "FAILED", "-", "-", "%.0e" % tol)))
                continue
            with open(summary_path) as f:
                s = json.load(f)
            if s.get("equation") != "score":
                print("  WARNING: summary.json reports equation %r, not 'score'" % s.get("equation"),
                      flush=True)
            wall = s["wall_seconds"]
            n_steps = s["n_steps"]
            newton = s["newton_iterations"]
            linear = s["linear_iterations"]
            throughput = s["n_dofs"] * n_steps / wall
            newton_per_step = ratio(newton, n_steps)
            linear_per_newton = ratio(linear, newton)
            err_max = s["errors"]["max_over_output_times"]["relative_L2"]
            err_final = s["errors"]["final"]["relative_L2"]
            err_final_tail = s["errors"]["final"].get("relative_L2_tail")
            fisher_final = s["errors"]["final"]["fisher_divergence"]
            outputs = s.get("outputs", [])
            n_output_times = len(outputs)
            # max over output times without t = 0 (the initial interpolation error)
            later = [o["errors"]["relative_L2"] for o in outputs
                     if o.get("time", 0) > 0 and o.get("errors")]
            err_max_later = max(later) if later else None
            q = s.get("polynomial_degree", degree)
            level = s.get("refinement_level", levels)
            r = (s["n_ranks"], q, box, subdivisions, level, cells, s["n_dofs"], n_steps,
                 s["n_rejected_steps"], "%.1f" % newton_per_step, "%.1f" % linear_per_newton,
                 s["jacobians"], "%.2f" % wall, "%.3g" % throughput, "%.2e" % err_max,
                 "%.2e" % err_final, "%.2e" % fisher_final, "%.0e" % tol)
            rows.append(TABLE.row(r))
            results.append(dict(name=name, ranks=s["n_ranks"], degree=q, box=box,
                                subdivisions=subdivisions, level=level,
                                cells_per_direction=cells, n_cells=s.get("n_cells"),
                                n_dofs=s["n_dofs"], n_steps=n_steps,
                                n_rejected_steps=s["n_rejected_steps"],
                                newton_iterations=newton, linear_iterations=linear,
                                jacobians=s["jacobians"],
                                newton_per_step=newton_per_step,
                                linear_per_newton=linear_per_newton,
                                wall_seconds=wall, dof_steps_per_second=throughput,
                                rel_l2_max=err_max, rel_l2_max_after_t0=err_max_later,
                                rel_l2_final=err_final, rel_l2_tail_final=err_final_tail,
                                fisher_final=fisher_final, tolerance=tol,
                                command=" ".join(shlex.quote(c) for c in cmd)))
            print("  " + rows[-1], flush=True)
    if args.dry_run:
        return 0

    print()
    print(TABLE.header())
    for r in rows:
        print(r)
    print()
    print("# box: domain [-box, box]^2; cells/dir = subdiv * 2^level; DoFs of the continuous"
          " vector Q_p score (2 components);")
    print("# steps = accepted time steps, rejected = rejected steps; Newton/step = Newton"
          " iterations / accepted steps;")
    print("# linear/Newton = linear iterations / Newton iterations; Jacobians = Jacobian"
          " assemblies; wall s from summary.json;")
    print("# max rel L2 = max over the %s output times (t = 0 included: there it is the"
          " interpolation error of the initial score);"
          % (n_output_times if n_output_times is not None else "?"))
    print("# final Fisher = Fisher divergence int p |s_h - s|^2 at t = 1;"
          " tol = Time stepping/Tolerance (ARK436L2SA_DIRK_6_3_4).")
    print("# Total %.0f s; load average at the end %.2f (other jobs on the machine slow the runs)."
          % (time.time() - t_start, os.getloadavg()[0]))
    write_results(out, results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
