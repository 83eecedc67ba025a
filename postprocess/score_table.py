#!/usr/bin/python3
"""Lai et al.'s finding, measured by scorefp: the score-FPE residual, Fisher divergence and
curl of the shipped DSM-trained models of the 2D VP blob, next to the exact score
interpolated on the same mesh.

    /usr/bin/python3 postprocess/score_table.py [--build build] [--ranks 2] [--json table.json]

It runs params/tabulate-exact-blob.prm (the exact score on the mesh nodes, a grid score
file), then params/check-score-blob.prm once per model of tests/data/models and once with
Sampler/Score = grid on that file, and prints a Markdown table (the one in the README).
Standard library only besides scorefp itself.
"""
import argparse
import json
import math
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp_launch  # noqa: E402

MODELS = ["blob-vp-direct", "blob-vp-direct-fp", "blob-vp-potential", "blob-vp-potential-fp"]
COLUMNS = ["score_residual", "fisher_divergence", "curl", "log_residual", "l2_error_bulk"]


def _run(args, build, mpirun, ranks):
    result = scorefp_launch.run(args, ranks, build, mpirun, cwd=ROOT, timeout=1200)
    if result.returncode != 0:
        raise RuntimeError("scorefp %s failed: %s" % (" ".join(args), result.stderr.strip()))


def score_table(work, build=os.path.join(ROOT, "build"), mpirun="mpirun", ranks=2, quiet=False,
                refinement=None):
    """One row per model: its name, description, the checked times and a list per column.
    refinement: Mesh/Refinement levels of the check mesh (default: the case's 4, 80 x 80
    cells; the grid keeps its nodes)."""
    quiet_args = ["--set", "Output/Quiet=true"] if quiet else []
    if refinement is not None:
        quiet_args += ["--set", "Mesh/Refinement levels=%d" % refinement]
    grid_directory = os.path.join(work, "tabulate-exact-blob")
    _run(["params/tabulate-exact-blob.prm", "--set", "Output/Directory=" + grid_directory,
          "--set", "Output/Quiet=%s" % ("true" if quiet else "false")],
         build, mpirun, ranks)
    grid = os.path.join(grid_directory, "exact-blob-grid.h5")
    runs = [("exact (grid)", ["--set", "Sampler/Score=grid", "--set", "Sampler/Grid file=" + grid])]
    for name in MODELS:
        runs.append((name, ["--set", "Sampler/Model file=" +
                            os.path.join(ROOT, "tests", "data", "models", name + ".pt")]))
    rows = []
    for name, extra in runs:
        directory = os.path.join(work, "check-" + name.replace(" ", "-").replace("(", "").replace(")", ""))
        _run(["params/check-score-blob.prm", "--set", "Output/Directory=" + directory,
              "--set", "Score check/Write VTU=false"] + quiet_args + extra, build, mpirun, ranks)
        with open(os.path.join(directory, "summary.json")) as f:
            summary = json.load(f)
        row = {"model": name, "score": summary["score"], "times": [e["time"] for e in summary["times"]]}
        for column in COLUMNS:
            row[column] = [float("nan") if e[column] is None else e[column] for e in summary["times"]]
        rows.append(row)
    return rows


def _number(x):
    return "–" if x is None or math.isnan(x) else "%.2e" % x


def markdown(rows):
    """The table: one line per model and time."""
    lines = ["| model | t | score residual | Fisher divergence | curl | log residual | rel. L2 (bulk) |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        for k, t in enumerate(row["times"]):
            lines.append("| %s | %g | %s |" % (row["model"] if k == 0 else "", t,
                                               " | ".join(_number(row[c][k]) for c in COLUMNS)))
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--mpirun", default="mpirun")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        table = score_table(work, args.build, args.mpirun, args.ranks, quiet=True)
    print(markdown(table))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=2)
