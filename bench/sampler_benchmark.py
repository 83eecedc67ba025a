#!/usr/bin/python3
"""Throughput of the particle samplers and cost of the sample checker.

1. Particle-steps per second: the 2D VP blob with its exact (closed-form mixture) score,
   10^6 particles and 1000 steps by default, for each scheme asked, on 1 and 2 ranks
   (Task = sample, params/sample-vp-2d.prm). A particle-step is one particle advanced
   by one step; the score evaluations per step are 1 (Euler-Maruyama, exponential
   integrator, DDPM, ODE Euler), 2 (Heun, EDM Heun, predictor-corrector) or 4 (RK4).
2. Checker time for those 10^6 samples against the closed form (params/check-vp-2d.prm),
   split into reading, reference cloud, observed statistics and null draws, with the
   null draws shared among the ranks.

Standard library only; it runs the existing build (never builds).

    bench/sampler_benchmark.py                      # full: 10^6 particles, 1000 steps, ranks 1,2
    bench/sampler_benchmark.py --quick              # 10^5 particles, 100 steps
    bench/sampler_benchmark.py --schemes euler-maruyama,ode-heun --null-draws 59
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time

from bench_common import ROOT, Table, add_common_options, banner, mpi_environment, resolve
from bench_common import scorefp_launch

SAMPLER_TABLE = Table([("ranks", "%5s"), ("scheme", "%22s"), ("particles", "%9s"),
                       ("steps", "%5s"), ("score evals", "%11s"), ("wall s", "%7s"),
                       ("particle-steps/s", "%16s"), ("per rank", "%9s")])
CHECK_TABLE = Table([("ranks", "%5s"), ("samples", "%8s"), ("null draws", "%10s"),
                     ("read s", "%6s"), ("reference s", "%11s"), ("observed s", "%10s"),
                     ("null draws s", "%12s"), ("per draw s", "%10s"), ("total s", "%7s"),
                     ("verdict", "%7s")])


def timer_sections(log):
    """Seconds per section of the deal.II timer table at the end of a log."""
    sections = {}
    for line in log.splitlines():
        m = re.match(r"\|\s*([a-z ]+?)\s*\|\s*\d+\s*\|\s*([0-9.e+-]+)s\s*\|", line)
        if m:
            sections[m.group(1)] = float(m.group(2))
    return sections


def run(cmd, env, log_path):
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    start = time.time()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    with open(log_path, "w") as f:
        f.write(result.stdout + result.stderr)
    return result, time.time() - start


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_options(ap, "output/bench-sampler", "params/sample-vp-2d.prm")
    ap.add_argument("--schemes", default="euler-maruyama,ode-heun",
                    help="comma-separated schemes (default euler-maruyama,ode-heun)")
    ap.add_argument("--particles", type=int, default=None, help="default 10^6 (10^5 with --quick)")
    ap.add_argument("--steps", type=int, default=None, help="default 1000 (100 with --quick)")
    ap.add_argument("--null-draws", type=int, default=59,
                    help="null draws of the check (default 59, the least that allows level 0.05 "
                         "with 3 statistics)")
    args = ap.parse_args(argv)
    ranks_list, exe, prm, out = resolve(ap, args, "sampler_benchmark")
    particles = args.particles or (100000 if args.quick else 1000000)
    steps = args.steps or (100 if args.quick else 1000)
    env = mpi_environment()

    print(banner("sampler", args.quick))
    print("# case: %s (2D VP blob, exact score); executable: %s" % (prm, exe))
    rows, check_rows, failed = [], [], 0
    samples_for_check = None
    for scheme in args.schemes.split(","):
        for ranks in ranks_list:
            directory = os.path.join(out, "%s-np%d" % (scheme, ranks))
            cmd = scorefp_launch.program_command(exe, [], ranks, args.mpiexec) + [prm,
                   "--set", "Output/Directory=" + directory,
                   "--set", "Sampler/Scheme=" + scheme,
                   "--set", "Sampler/Particles=%d" % particles,
                   "--set", "Sampler/Steps=%d" % steps,
                   "--set", "Output/Progress interval=30"]
            if args.dry_run:
                print("$ " + " ".join(shlex.quote(c) for c in cmd))
                continue
            os.makedirs(directory, exist_ok=True)
            result, wall = run(cmd, env, os.path.join(directory, "scorefp.log"))
            meta_path = os.path.join(directory, "samples.npy.json")
            if result.returncode != 0 or not os.path.isfile(meta_path):
                failed += 1
                print("  FAILED (exit code %d), see %s/scorefp.log" % (result.returncode, directory))
                continue
            meta = json.load(open(meta_path))
            rate = meta["particle_steps_per_second"]
            rows.append(SAMPLER_TABLE.row((ranks, scheme, particles, steps,
                                           meta["score_evaluations"] // particles,
                                           "%.1f" % meta["sampling_seconds"], "%.3g" % rate,
                                           "%.3g" % (rate / ranks))))
            print(rows[-1], flush=True)
            if scheme == "euler-maruyama" or samples_for_check is None:
                samples_for_check = os.path.join(directory, "samples.npy")

    if samples_for_check is not None or args.dry_run:
        for ranks in ranks_list:
            directory = os.path.join(out, "check-np%d" % ranks)
            cmd = scorefp_launch.program_command(exe, [], ranks, args.mpiexec) + [
                   os.path.join(ROOT, "params", "check-vp-2d.prm"),
                   "--set", "Output/Directory=" + directory,
                   "--set", "Checker/Samples file=" + str(samples_for_check),
                   "--set", "Checker/Null draws=%d" % args.null_draws]
            if args.dry_run:
                print("$ " + " ".join(shlex.quote(c) for c in cmd))
                continue
            os.makedirs(directory, exist_ok=True)
            result, wall = run(cmd, env, os.path.join(directory, "scorefp.log"))
            if result.returncode not in (0, 4):
                failed += 1
                print("  FAILED (exit code %d), see %s/scorefp.log" % (result.returncode, directory))
                continue
            t = timer_sections(result.stdout)
            draws = t.get("null draws", float("nan"))
            check_rows.append(CHECK_TABLE.row((
                ranks, particles, args.null_draws, "%.2f" % t.get("read samples", float("nan")),
                "%.2f" % t.get("reference", float("nan")),
                "%.2f" % t.get("observed statistics", float("nan")), "%.1f" % draws,
                "%.2f" % (draws * ranks / args.null_draws), "%.1f" % wall,
                "pass" if result.returncode == 0 else "FAIL")))
            print(check_rows[-1], flush=True)

    if not args.dry_run:
        print("\n## Particle samplers\n")
        print(SAMPLER_TABLE.header())
        print("\n".join(rows))
        print("\n## Checker (%s samples, 2D, closed-form reference)\n" % particles)
        print(CHECK_TABLE.header())
        print("\n".join(check_rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
