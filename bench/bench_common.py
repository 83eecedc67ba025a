"""What the benchmark scripts share: the MPI environment, the command-line options
common to every sweep, and the Markdown table they print. Standard library only."""

import csv
import datetime
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp_launch  # noqa: E402


def mpi_environment():
    """The environment of scripts/env.sh (OpenMPI as root, one thread per rank), from
    postprocess/scorefp_launch.py, which every script that starts scorefp shares."""
    return scorefp_launch.mpi_environment()


def add_common_options(ap, out_default, prm_default):
    """The options every sweep takes; out_default and prm_default relative to ROOT."""
    ap.add_argument("--quick", action="store_true",
                    help="small sweep (a few short runs) for smoke testing")
    ap.add_argument("--ranks", default="1,2",
                    help="comma-separated MPI rank counts (default 1,2)")
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"),
                    help="build directory holding scorefp (default: ../build relative to this script)")
    ap.add_argument("--out", default=os.path.join(ROOT, out_default),
                    help="folder for the run directories and results.csv (default: %s)" % out_default)
    ap.add_argument("--prm", default=os.path.join(ROOT, prm_default),
                    help="parameter file (default: %s)" % prm_default)
    ap.add_argument("--mpiexec", default="mpirun", help="MPI launcher (default mpirun)")
    ap.add_argument("--all-ranks", action="store_true",
                    help="run the largest case on every rank count, not only on the largest")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")


def resolve(ap, args, program):
    """Check the common options: (rank counts, executable, parameter file, output folder)."""
    try:
        ranks_list = [int(r) for r in args.ranks.split(",") if r.strip()]
    except ValueError:
        ap.error("--ranks expects comma-separated integers, e.g. 1,2")
    if not ranks_list or min(ranks_list) < 1:
        ap.error("--ranks expects positive integers")
    exe = scorefp_launch.executable_path(args.build)
    prm = os.path.abspath(args.prm)
    out = os.path.abspath(args.out)
    if not args.dry_run:
        try:
            scorefp_launch.executable(exe)
        except FileNotFoundError:
            sys.exit("%s: %s is not an executable (build first, or pass --build DIR)" % (program, exe))
        if not os.path.isfile(prm):
            sys.exit("%s: parameter file %s not found" % (program, prm))
        os.makedirs(out, exist_ok=True)
    return ranks_list, exe, prm, out


def banner(kind, quick):
    """The first line of a sweep's output: what, when, where, how loaded."""
    return "# scorefp %s benchmark, %s, %s, %d cores, load average %.2f, %s sweep" % (
        kind, datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), platform.node() or "?",
        os.cpu_count() or 0, os.getloadavg()[0], "quick" if quick else "full")


class Table:
    """A Markdown table with fixed column formats: [(name, "%8s"), ...]."""

    def __init__(self, columns):
        self.columns = columns

    def header(self):
        cells = [fmt % name for name, fmt in self.columns]
        line = "| " + " | ".join(cells) + " |"
        rule = "|" + "|".join("-" * (len(c) + 2) for c in cells) + "|"
        return line + "\n" + rule

    def row(self, values):
        return "| " + " | ".join(fmt % v for (name, fmt), v in zip(self.columns, values)) + " |"


def write_results(out, results):
    """results.csv in out: one row per run (the union of the rows' keys as columns)."""
    if not results:
        return
    keys = []
    for r in results:
        keys += [k for k in r if k not in keys]
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(results)
    print("# results.csv and run directories in %s" % out)
