#!/usr/bin/python3
"""Throughput of the particle samplers and cost of the sample checker, side by side
with a NumPy implementation of the same samplers (bench/numpy_sampler.py), in one run.

1. Particle-steps per second (particles x steps / sampling seconds, from
   samples.npy.json) of Task = sample (params/sample-vp-2d.prm) with the exact
   (closed-form mixture) score:
   - every fixed-step scheme on the 2D VP blob (9 isotropic components of one
     variance: the kernels' shared-precision path), 1 and 2 ranks;
   - Euler-Maruyama and ODE Heun on a 3D mixture of 8 components with two full
     covariances (the kernels' general path), 1 and 2 ranks;
   - Euler-Maruyama with Sampler/Vector instructions = none (the scalar reference
     code), 1 and 2 ranks;
   - the NumPy peer (one core, vectorised over particles, float64) of Euler-Maruyama and
     ODE Heun on both data sets; "x numpy" is scorefp's rate over the peer's.
2. The time of a calibrated check (params/check-vp-2d.prm, every default statistic)
   of 10^4, 10^5 and 10^6 exact draws of the VP blob at t = 1e-3 on 2 ranks: with the null cache cold
   (first check of that size), warm (a later check of a sample set of the same size),
   and with Checker/Null method = monte carlo (the method of record, every null draw at
   check time).

Standard library only (the peer needs numpy); it runs the existing build (never builds).

    bench/sampler_benchmark.py                      # the figures of the README (~10 min)
    bench/sampler_benchmark.py --quick              # 10^5 particles, fewer schemes and sizes
    bench/sampler_benchmark.py --schemes euler-maruyama --check-sizes 1000000
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

from bench_common import ROOT, Table, add_common_options, banner, mpi_environment, resolve
from bench_common import scorefp_launch, write_results

SCHEMES = ["euler-maruyama", "ddpm", "exponential-integrator", "ddim", "dpm-solver++(2m)",
           "ode-euler", "ode-heun", "ode-rk4", "edm-heun", "predictor-corrector"]
PEER_SCHEMES = ("euler-maruyama", "ode-heun")
# The 3D mixture of bench/numpy_sampler.py's mixture_3d().
MIXTURE_3D = [
    "--set", "Dimension=3",
    "--set", "Initial data/Type=gaussian mixture",
    "--set", "Initial data/Weights=" + ", ".join(["1"] * 8),
    "--set", "Initial data/Means=" + "; ".join(
        "%g, %g, %g" % (1.3 * i, 1.3 * j, 1.3 * k)
        for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)),
    "--set", "Initial data/Covariances=" + "; ".join(
        ["0.2, 0.05, 0, 0.05, 0.15, 0.02, 0, 0.02, 0.1", "0.12, 0, 0, 0, 0.12, 0, 0, 0, 0.12"] * 4),
]

SAMPLER_TABLE = Table([("data", "%10s"), ("scheme", "%22s"), ("instructions", "%12s"),
                       ("ranks", "%5s"), ("particles", "%9s"), ("steps", "%5s"),
                       ("wall s", "%6s"), ("particle-steps/s", "%16s"), ("per rank", "%9s"),
                       ("numpy /s", "%9s"), ("x numpy", "%7s")])
CHECK_TABLE = Table([("samples", "%8s"), ("null", "%11s"), ("ranks", "%5s"),
                     ("read s", "%6s"), ("reference s", "%11s"), ("observed s", "%10s"),
                     ("null draws s", "%12s"), ("total s", "%7s"), ("verdict", "%7s")])


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


def numpy_rate(data, scheme, particles, steps, dry_run):
    """Particle-steps per second of the NumPy peer (None if numpy is missing)."""
    cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "numpy_sampler.py"),
           "--data", data, "--scheme", scheme, "--particles", str(particles),
           "--steps", str(steps)]
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    if dry_run:
        return None
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        print("  the NumPy peer failed: " + result.stderr.strip().splitlines()[-1:][0]
              if result.stderr.strip() else "  the NumPy peer failed")
        return None
    return json.loads(result.stdout)["particle_steps_per_second"]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_options(ap, "output/bench-sampler", "params/sample-vp-2d.prm")
    ap.add_argument("--schemes", default=None,
                    help="comma-separated schemes on the blob (default: every fixed-step one; "
                         "euler-maruyama,ode-heun with --quick)")
    ap.add_argument("--particles", type=int, default=None, help="default 10^6 (10^5 with --quick)")
    ap.add_argument("--steps", type=int, default=100, help="steps per run (default 100)")
    ap.add_argument("--peer-particles", type=int, default=100000,
                    help="particles of the NumPy peer (default 10^5; its rate does not depend "
                         "on the count beyond that)")
    ap.add_argument("--peer-steps", type=int, default=20, help="steps of the NumPy peer (default 20)")
    ap.add_argument("--check-sizes", default=None,
                    help="comma-separated sample counts of the checks (default 10000,100000,1000000; "
                         "10000,100000 with --quick)")
    ap.add_argument("--check-ranks", type=int, default=2, help="ranks of the checks (default 2)")
    ap.add_argument("--null-draws", type=int, default=99, help="null draws (default 99)")
    args = ap.parse_args(argv)
    ranks_list, exe, prm, out = resolve(ap, args, "sampler_benchmark")
    particles = args.particles or (100000 if args.quick else 1000000)
    schemes = (args.schemes.split(",") if args.schemes else
               (["euler-maruyama", "ode-heun"] if args.quick else SCHEMES))
    sizes = [int(s) for s in (args.check_sizes or
                              ("10000,100000" if args.quick else "10000,100000,1000000")).split(",") if s]
    env = mpi_environment()

    print(banner("sampler", args.quick))
    print("# case: %s (exact score); executable: %s" % (prm, exe))
    peer = {}
    for data in ("blob", "mixture-3d"):
        for scheme in PEER_SCHEMES:
            peer[(data, scheme)] = numpy_rate(data, scheme, args.peer_particles, args.peer_steps,
                                              args.dry_run)

    runs = [("blob", scheme, "auto") for scheme in schemes]
    runs += [("mixture-3d", scheme, "auto") for scheme in PEER_SCHEMES]
    runs += [("blob", "euler-maruyama", "none")]
    rows, results, failed = [], [], 0
    for data, scheme, instructions in runs:
        for ranks in ranks_list:
            name = "%s-%s-%s-np%d" % (data, re.sub(r"[^a-z0-9]+", "", scheme), instructions, ranks)
            directory = os.path.join(out, name)
            cmd = scorefp_launch.program_command(exe, [], ranks, args.mpiexec) + [prm,
                   "--set", "Output/Directory=" + directory,
                   "--set", "Sampler/Scheme=" + scheme,
                   "--set", "Sampler/Particles=%d" % particles,
                   "--set", "Sampler/Steps=%d" % args.steps,
                   "--set", "Sampler/Vector instructions=" + instructions,
                   "--set", "Output/Progress interval=30"]
            if data == "mixture-3d":
                cmd += MIXTURE_3D
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
            numpy = peer.get((data, scheme))
            rows.append(SAMPLER_TABLE.row((
                data, scheme, instructions, ranks, particles, args.steps,
                "%.2f" % meta["sampling_seconds"], "%.3g" % rate, "%.3g" % (rate / ranks),
                "%.3g" % numpy if numpy else "-", "%.0f" % (rate / numpy) if numpy else "-")))
            results.append({"kind": "sample", "data": data, "scheme": scheme,
                            "instructions": instructions, "ranks": ranks, "particles": particles,
                            "steps": args.steps, "seconds": meta["sampling_seconds"],
                            "particle_steps_per_second": rate, "numpy": numpy or ""})
            print(rows[-1], flush=True)

    # Checks: exact draws of p_eps of each size (written by the NumPy peer: sample sets a
    # calibrated check passes, so that the figures are not those of a failing sampler),
    # then cold, warm and Monte Carlo checks of each.
    check_rows = []
    for n in sizes:
        sample_dir = os.path.join(out, "check-samples-%d" % n)
        samples = os.path.join(sample_dir, "samples.npy")
        cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "numpy_sampler.py"),
               "--particles", str(n), "--seed", str(n), "--exact-draws", samples]
        print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
        if not args.dry_run:
            os.makedirs(sample_dir, exist_ok=True)
            if subprocess.run(cmd).returncode != 0:
                failed += 1
                print("  FAILED: the exact draws of %d samples" % n)
                continue
        cache = os.path.join(out, "null-cache-%d" % n)
        if not args.dry_run:
            shutil.rmtree(cache, ignore_errors=True)
        for label, method in (("cold cache", "auto"), ("warm cache", "auto"),
                              ("monte carlo", "monte carlo")):
            directory = os.path.join(out, "check-%d-%s" % (n, label.replace(" ", "-")))
            cmd = scorefp_launch.program_command(exe, [], args.check_ranks, args.mpiexec) + [
                   os.path.join(ROOT, "params", "check-vp-2d.prm"),
                   "--set", "Output/Directory=" + directory,
                   "--set", "Checker/Samples file=" + samples,
                   "--set", "Checker/Null draws=%d" % args.null_draws,
                   "--set", "Checker/Null method=" + method,
                   "--set", "Checker/Null cache=" + cache]
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
            nan = float("nan")
            check_rows.append(CHECK_TABLE.row((
                n, label, args.check_ranks, "%.2f" % t.get("read samples", nan),
                "%.2f" % t.get("reference", nan), "%.2f" % t.get("observed statistics", nan),
                "%.2f" % t.get("null draws", 0.0), "%.2f" % wall,
                "pass" if result.returncode == 0 else "FAIL")))
            results.append({"kind": "check", "samples": n, "null": label,
                            "ranks": args.check_ranks, "seconds": wall,
                            "verdict": "pass" if result.returncode == 0 else "fail"})
            print(check_rows[-1], flush=True)

    if not args.dry_run:
        print("\n## Particle samplers (exact score, %d particles, %d steps; NumPy peer: %d "
              "particles, %d steps, one core)\n" % (particles, args.steps, args.peer_particles,
                                                    args.peer_steps))
        print(SAMPLER_TABLE.header())
        print("\n".join(rows))
        print("\n## Checks of exact draws of the 2D VP blob at t = 1e-3 against the closed form "
              "(%d null draws; total s = wall time of the command)\n" % args.null_draws)
        print(CHECK_TABLE.header())
        print("\n".join(check_rows))
        write_results(out, results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
