#!/usr/bin/python3
"""Deveney et al.'s table with finite-element truth instead of histograms: for the exact
score and every shipped DSM-trained model of the 2D VP blob and checkerboard (with and
without the Fokker-Planck penalty), the sliced W2 between the probability-flow ODE's law,
the reverse SDE's law and the data p_eps at eps = 1e-3, both laws started from the prior.

    /usr/bin/python3 postprocess/deveney_table.py [--build build] [--out DIR] [--quick]

Per model it runs two scorefp commands (the first printed as it runs):
  1. Task = tabulate score with Sampler/Score = torchscript: the model on a grid
     (section Tabulation of the case file; a TorchScript model is too slow to call at
     every quadrature point of every stage);
  2. Task = reverse law with Sampler/Score = grid: both induced laws on the case mesh.
The cases are params/reverse-law-learned-blob.prm (40^2 DGQ2 cells of [-5, 5]^2) and
params/reverse-law-learned-checkerboard.prm (64^2 DGQ2 cells of [-6, 6]^2, the data
smoothed by N(0, 0.01 I)). The exact score runs twice per data set: without a grid
(the finite-element floor plus the initialisation error of the prior) and tabulated
like the models (the same number plus what the grid costs).

Every number is read from the run's summary.json: laws[k].to_exact (the law against
the exact p_eps) and ode_sde_gap (the SDE law against the ODE law), keys sliced_W2, L1
and KL_pq (= KL(p || q), p the first of the pair). The Markdown tables are printed and
written to OUT/table.md, the rows to OUT/table.json. --quick coarsens everything (20^2
and 32^2 cells, grids of 41^2 and 49^2 nodes at 29 times) to check the pipeline in about
two minutes; its numbers are not the table's. Standard library only besides scorefp.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp_launch  # noqa: E402

CASES = {"blob": "params/reverse-law-learned-blob.prm",
         "checkerboard": "params/reverse-law-learned-checkerboard.prm"}

# (data set, row name, model file stem or None for the exact score, penalty)
ROWS = [
    ("blob", "exact", None, "–"),
    ("blob", "exact (grid)", "exact", "–"),
    ("blob", "blob-vp-direct", "blob-vp-direct", "none"),
    ("blob", "blob-vp-direct-fp", "blob-vp-direct-fp", "score form, w = 0.02"),
    ("blob", "blob-vp-potential", "blob-vp-potential", "none"),
    ("blob", "blob-vp-potential-fp", "blob-vp-potential-fp", "log form, w = 0.002"),
    ("checkerboard", "exact", None, "–"),
    ("checkerboard", "exact (grid)", "exact", "–"),
    ("checkerboard", "checkerboard-vp-direct", "checkerboard-vp-direct", "none"),
    ("checkerboard", "checkerboard-vp-direct-fp", "checkerboard-vp-direct-fp", "score form, w = 0.02"),
]

# --quick: coarser meshes (cell edges stay on the checkerboard's lines) and grids.
QUICK_TIMES = ("0.001, 0.00163069, 0.00265915, 0.00433624, 0.00707107, 0.0115307, 0.018803, "
               "0.0306619, 0.05, " + ", ".join("%g" % (0.05 * k) for k in range(2, 21)))
QUICK = {
    "blob": ["Mesh/Refinement levels=2", "Tabulation/Points per axis=41",
             "Tabulation/Times=" + QUICK_TIMES],
    "checkerboard": ["Mesh/Refinement levels=2", "Tabulation/Points per axis=49",
                     "Tabulation/Times=" + QUICK_TIMES],
}


def _sets(overrides):
    arguments = []
    for override in overrides:
        arguments += ["--set", override]
    return arguments


def _run(args, options):
    start = time.time()
    result = scorefp_launch.run(args, options.ranks, options.build, options.mpirun, cwd=ROOT,
                                timeout=options.timeout)
    if result.returncode != 0:
        raise RuntimeError("scorefp %s failed (exit %s): %s"
                           % (" ".join(args), result.returncode, result.stderr.strip()[-2000:]))
    return time.time() - start


def _slug(data, name):
    return "%s-%s" % (data, name.replace(" (grid)", "-grid")) if not name.startswith(data) else name


def run_row(data, name, model, penalty, options):
    """Tabulate (unless the exact score is used directly), solve both laws, read summary.json."""
    case = CASES[data]
    common = ["Output/Quiet=true"] + (QUICK[data] if options.quick else [])
    slug = _slug(data, name)
    tabulate_seconds = 0.0
    if model is None:
        score = ["Sampler/Score=exact"]
    else:
        grid_directory = os.path.join(options.out, "grid-" + slug)
        source = (["Sampler/Score=exact"] if model == "exact" else
                  ["Sampler/Score=torchscript",
                   "Sampler/Model file=" + os.path.join("tests", "data", "models", model + ".pt")])
        tabulate_seconds = _run([case] + _sets(common + ["Task=tabulate score",
                                                         "Output/Directory=" + grid_directory]
                                               + source), options)
        score = ["Sampler/Score=grid",
                 "Sampler/Grid file=" + os.path.join(grid_directory, "score-grid.h5")]
    directory = os.path.join(options.out, "law-" + slug)
    law_seconds = _run([case] + _sets(common + ["Output/Write VTU=false",
                                               "Output/Directory=" + directory] + score), options)
    if model is not None and not options.keep_grids:
        shutil.rmtree(grid_directory, ignore_errors=True)
    with open(os.path.join(directory, "summary.json")) as f:
        summary = json.load(f)
    laws = {law["law"]: law for law in summary["laws"]}
    row = {"data": data, "model": name, "penalty": penalty,
           "tabulate_seconds": round(tabulate_seconds, 1), "law_seconds": round(law_seconds, 1),
           "steps": {k: laws[k]["n_steps"] for k in laws}, "n_cells": laws["ODE"]["n_cells"]}
    for key in ("sliced_W2", "L1", "KL_pq"):
        row[key] = {"ODE": laws["ODE"]["to_exact"][key], "SDE": laws["SDE"]["to_exact"][key],
                    "gap": summary["ode_sde_gap"][key]}
    return row


def _number(x):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else "%.3g" % x


def _wall(row):
    total = row["tabulate_seconds"] + row["law_seconds"]
    if row["tabulate_seconds"] == 0:
        return "%.0f" % total
    return "%.0f (%.0f + %.0f)" % (total, row["tabulate_seconds"], row["law_seconds"])


def markdown(rows):
    """The table as asked (sliced W2 and L1), then KL(p || q) and the L1 gap."""
    lines = ["| data | model | penalty | W(ODE, p_eps) | W(SDE, p_eps) | W(ODE, SDE) | "
             "L1(ODE, p_eps) | L1(SDE, p_eps) | wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["data"], r["model"], r["penalty"], _number(r["sliced_W2"]["ODE"]),
            _number(r["sliced_W2"]["SDE"]), _number(r["sliced_W2"]["gap"]),
            _number(r["L1"]["ODE"]), _number(r["L1"]["SDE"]), _wall(r)))
    lines += ["", "| data | model | KL(p_eps ‖ ODE) | KL(p_eps ‖ SDE) | KL(ODE ‖ SDE) | L1(ODE, SDE) |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            r["data"], r["model"], _number(r["KL_pq"]["ODE"]), _number(r["KL_pq"]["SDE"]),
            _number(r["KL_pq"]["gap"]), _number(r["L1"]["gap"])))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"),
                        help="build directory holding scorefp (default: build/)")
    parser.add_argument("--mpirun", default="mpirun")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(ROOT, "output", "deveney-table"),
                        help="where the runs, table.md and table.json go "
                             "(default: output/deveney-table)")
    parser.add_argument("--quick", action="store_true",
                        help="coarse meshes and grids: checks the pipeline, not the numbers")
    parser.add_argument("--rows", default="",
                        help="comma-separated row filter: data sets or model names "
                             "(e.g. 'blob' or 'exact,checkerboard-vp-direct'); default all")
    parser.add_argument("--keep-grids", action="store_true",
                        help="keep the score grids (42 MB blob, 60 MB checkerboard each)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per scorefp run")
    options = parser.parse_args()
    options.out = os.path.abspath(options.out)
    os.makedirs(options.out, exist_ok=True)
    wanted = [w.strip() for w in options.rows.split(",") if w.strip()]
    rows = []
    for data, name, model, penalty in ROWS:
        if wanted and data not in wanted and name not in wanted:
            continue
        rows.append(run_row(data, name, model, penalty, options))
        print("%s %s: W2 ODE %s, SDE %s, gap %s" % (data, name, _number(rows[-1]["sliced_W2"]["ODE"]),
                                                   _number(rows[-1]["sliced_W2"]["SDE"]),
                                                   _number(rows[-1]["sliced_W2"]["gap"])), flush=True)
    table = markdown(rows)
    print(table)
    with open(os.path.join(options.out, "table.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(options.out, "table.json"), "w") as f:
        json.dump({"quick": options.quick, "ranks": options.ranks, "rows": rows}, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
