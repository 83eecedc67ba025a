#!/usr/bin/python3
"""The scorefp program as users run it (mpirun, parameter files, outputs, bad input).

Run by ctest with the system interpreter; standard library only. Each group is one
ctest test: demo, outputs, bad_input, parameters.
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = []
passes = []


def check(condition, message):
    (passes if condition else failures).append(message)
    if not condition:
        print("FAIL: " + message)


def run(args, ranks, timeout=300):
    command = [ARGS.mpirun, "-np", str(ranks), "--oversubscribe",
               os.path.join(ARGS.build, "scorefp")] + args
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def small_case(directory, extra=()):
    """A 2D VP blob case that runs in about a second."""
    return ["params/demo.prm",
            "--set", "Output/Directory=" + directory,
            "--set", "Discretization/Polynomial degree=2",
            "--set", "Mesh/Coarse subdivisions=4",
            "--set", "Mesh/Refinement levels=2",
            "--set", "Output/Number of output intervals=4"] + list(extra)


def demo():
    """The demo case: accuracy target, outputs a ParaView user opens, on 2 ranks."""
    with tempfile.TemporaryDirectory() as directory:
        result = run(["params/demo.prm", "--set", "Output/Directory=" + directory], 2)
        print(result.stdout[-3000:])
        check(result.returncode == 0, "demo exits with 0 (stderr: %s)" % result.stderr[-500:])
        summary = json.load(open(os.path.join(directory, "summary.json")))
        check(summary["n_ranks"] == 2, "summary.json records 2 ranks")
        check(summary["dimension"] == 2, "summary.json records dimension 2")
        worst = summary["errors"]["max_over_output_times"]["L2"]
        check(worst <= 1e-4, "demo max-over-time relative L2 error %.3g <= 1e-4" % worst)
        check(abs(summary["mass"] - summary["initial_mass"]) <= 1e-10,
              "demo conserves mass to 1e-10 (%.3g)" % abs(summary["mass"] - summary["initial_mass"]))
        for key in ("n_dofs", "final_time", "wall_seconds", "n_steps"):
            check(key in summary, "summary.json has " + key)
        # statistics.csv: one row per step plus the initial state.
        rows = list(csv.DictReader(open(os.path.join(directory, "statistics.csv"))))
        check(len(rows) == summary["n_steps"] + 1, "statistics.csv has n_steps + 1 rows")
        check(set(["step", "time", "dt", "mass", "relative_L1", "relative_L2", "relative_Linf",
                   "linear_iterations", "wall_seconds"]) <= set(rows[0].keys()),
              "statistics.csv has the documented columns")
        check(abs(float(rows[-1]["time"]) - 1.0) < 1e-12, "statistics.csv ends at T = 1")
        # solution.pvd: 11 output times, each pointing to a .pvtu whose pieces exist.
        pvd = ElementTree.parse(os.path.join(directory, "solution.pvd"))
        datasets = pvd.getroot().findall(".//DataSet")
        check(len(datasets) == 11, "solution.pvd lists 11 output times (found %d)" % len(datasets))
        for dataset in datasets:
            pvtu = os.path.join(directory, dataset.get("file"))
            check(os.path.exists(pvtu), "%s exists" % pvtu)
            pieces = ElementTree.parse(pvtu).getroot().findall(".//Piece")
            check(len(pieces) == 2, "%s has one piece per rank" % pvtu)
            for piece in pieces:
                check(os.path.exists(os.path.join(directory, piece.get("Source"))),
                      "piece %s exists" % piece.get("Source"))
        text = open(os.path.join(directory, "solution_0000.0.vtu"), "rb").read()
        for field in (b"density", b"exact_density", b"error", b"subdomain"):
            check(field in text, "VTU has field " + field.decode())
        check(os.path.exists(os.path.join(directory, "parameters.prm")), "parameters echoed")
        check("Total wallclock time elapsed" in result.stdout, "a timer summary is printed")
        check(re.search(r"step +\d+ +t = .*dt = .*ETA", result.stdout) is not None,
              "progress lines show step, t, dt and ETA")


def outputs():
    """Points file, convergence sweep, JSON parameter files."""
    with tempfile.TemporaryDirectory() as directory:
        points = os.path.join(directory, "points.csv")
        with open(points, "w") as f:
            f.write("x,y\n0,0\n1.3,-1.3\n2.6,0\n")
        out = os.path.join(directory, "sweep")
        result = run(small_case(out, ["--set", "Output/Points file=" + points,
                                      "--set", "Mesh/Refinement levels=1,2,3",
                                      "--set", "Output/Write VTU=false"]), 2)
        check(result.returncode == 0, "sweep exits with 0 (stderr: %s)" % result.stderr[-500:])
        summary = json.load(open(os.path.join(out, "summary.json")))
        table = summary.get("convergence", [])
        check(len(table) == 3, "summary.json has a convergence table with 3 levels")
        if len(table) == 3:
            rate = table[2]["rates"]["L2"]
            check(rate > 2.5, "Q2 sweep observes an L2 rate above 2.5 (got %s)" % rate)
            check(table[0]["rates"]["L2"] is None, "the first level has no rate (null)")
        check("L2...red.rate.log2" in result.stdout, "the convergence table is printed")
        values = list(csv.DictReader(open(os.path.join(out, "level-3", "point_values.csv"))))
        check(len(values) == 3 * 5, "point_values.csv has 3 points x 5 output times")
        # Once the blobs have widened (t >= 0.5) Q2 on 32^2 cells is accurate to 1e-3.
        for row in values:
            p, exact = float(row["density"]), float(row["exact_density"])
            if float(row["time"]) >= 0.5:
                check(abs(p - exact) <= 1e-3 * 0.16,
                      "point value %g close to exact %g at t = %s" % (p, exact, row["time"]))

        # The same case from a JSON parameter file.
        json_file = os.path.join(directory, "case.json")
        with open(json_file, "w") as f:
            json.dump({"Dimension": "1",
                       "Initial data": {"Type": "gaussian mixture", "Weights": "1",
                                        "Means": "0.5", "Covariances": "0.3"},
                       "Mesh": {"Coarse subdivisions": "16", "Refinement levels": "2"},
                       "Output": {"Directory": os.path.join(directory, "json"),
                                  "Write VTU": "false"}}, f)
        result = run([json_file], 1)
        check(result.returncode == 0, "a .json parameter file runs (stderr: %s)" % result.stderr)
        summary = json.load(open(os.path.join(directory, "json", "summary.json")))
        check(summary["dimension"] == 1 and summary["errors"]["final"]["L2"] < 1e-4,
              "the JSON case is 1D and accurate")


BAD_INPUT = [
    # (what, extra prm text or None, overrides, expected message regex)
    ("misspelt key", "set Dimensoin = 2\n", [], r"Dimensoin"),
    ("out-of-range value", "set Dimension = 5\n", [], r"Dimension.*5|5.*Dimension"),
    ("unknown process", "subsection Process\n  set Type = VPP\nend\n", [], r"VPP"),
    ("malformed line", "set Dimension 2\n", [], r"Line <1>"),
    ("bad override", None, ["--set", "Mesh/Refinment levels=2"], r"Refinment levels"),
    ("missing points file", None, ["--set", "Output/Points file=/nonexistent/points.csv"],
     r"/nonexistent/points.csv"),
    ("missing gmsh file", None, ["--set", "Mesh/Geometry=gmsh",
                                 "--set", "Mesh/Gmsh file=/nonexistent/mesh.msh"],
     r"/nonexistent/mesh.msh"),
    ("domain too small", None, ["--set", "Mesh/Box lower corner=-2",
                                "--set", "Mesh/Box upper corner=2"], r"holds only"),
    ("indefinite covariance", "subsection Initial data\n  set Type = gaussian mixture\n"
     "  set Means = 0, 0\n  set Covariances = 1, 2, 2, 1\nend\n", [], r"positive definite"),
    ("unknown option", None, ["--frobnicate"], r"--frobnicate"),
    ("unsmoothed checkerboard score", None,
     ["--set", "Equation=score", "--set", "Initial data/Type=checkerboard",
      "--set", "Mesh/Box lower corner=-6", "--set", "Mesh/Box upper corner=6"],
     r"Smoothing variance"),
    ("Newton failure", None,
     ["--set", "Equation=score", "--set", "Time stepping/Fixed step=0.5",
      "--set", "Score/Maximum Newton iterations=1"], r"At step 0, t = 0: .*Newton"),
    ("unknown equation", None, ["--set", "Equation=scores"], r"scores"),
]


def bad_input():
    """Every mistake: one sentence naming the culprit, non-zero exit, no hang, no summary."""
    with tempfile.TemporaryDirectory() as directory:
        for index, (what, prm_text, overrides, pattern) in enumerate(BAD_INPUT):
            out = os.path.join(directory, "out%d" % index)
            if prm_text is not None:
                case = os.path.join(directory, "case%d.prm" % index)
                with open(case, "w") as f:
                    f.write(prm_text)
                args = [case, "--set", "Output/Directory=" + out] + overrides
            else:
                args = small_case(out, overrides)
            result = run(args, 2, timeout=120)
            errors = [line for line in result.stderr.splitlines() if line.startswith("scorefp:")]
            check(result.returncode != 0, what + ": non-zero exit")
            check(len(errors) == 1, what + ": exactly one error line (got %r)" % errors)
            check(bool(errors) and re.search(pattern, errors[0]) is not None,
                  what + ": message names the culprit (%r)" % errors)
            check(not os.path.exists(os.path.join(out, "summary.json")),
                  what + ": no summary.json written")
        # A missing parameter file, and a malformed points file.
        result = run(["/nonexistent/case.prm"], 2, timeout=120)
        check(result.returncode != 0 and "/nonexistent/case.prm" in result.stderr,
              "missing parameter file is named")
        points = os.path.join(directory, "bad.csv")
        with open(points, "w") as f:
            f.write("0,0\n1,abc\n")
        result = run(small_case(os.path.join(directory, "p"), ["--set", "Output/Points file=" + points]),
                     2, timeout=120)
        check(result.returncode != 0 and "line 2" in result.stderr,
              "malformed points file names the line (%s)" % result.stderr.strip())


def score():
    """A score run with its companion density on 2 ranks: outputs and their contents."""
    with tempfile.TemporaryDirectory() as directory:
        result = run(["params/score-vp-2d.prm", "--set", "Output/Directory=" + directory,
                      "--set", "Mesh/Refinement levels=2", "--set", "Discretization/Polynomial degree=2",
                      "--set", "Output/Number of output intervals=2"], 2)
        print(result.stdout[-2000:])
        check(result.returncode == 0, "score run exits with 0 (stderr: %s)" % result.stderr[-500:])
        summary = json.load(open(os.path.join(directory, "summary.json")))
        check(summary["equation"] == "score", "summary.json records the equation")
        final = summary["errors"]["final"]
        for key in ("relative_L2", "relative_L2_bulk", "relative_L2_tail", "fisher_divergence"):
            check(key in final, "summary.json errors have " + key)
        check(final["relative_L2"] < 1e-2, "final score error %.3g < 1e-2" % final["relative_L2"])
        last = summary["outputs"][-1]
        check("residuals" in last and "density_quotient_errors" in last,
              "outputs carry residuals and the errors of grad p_h / p_h")
        residuals = last.get("residuals", {})
        check(residuals.get("perturbed", {}).get("score_form", 0) >
              10 * residuals.get("exact", {}).get("score_form", 1),
              "the perturbed score's residual exceeds the exact score's tenfold")
        check(residuals.get("exact", {}).get("log_form", 0) is None,
              "the score form reports no log-form residual (null)")
        with open(os.path.join(directory, "tail_shells.csv")) as f:
            rows = list(csv.DictReader(f))
        check(len(rows) == 3 * 20, "tail_shells.csv has 20 shells at 3 output times (%d rows)" % len(rows))
        check(rows and "rms_quotient_error" in rows[0], "tail_shells.csv names its columns")
        pvtu = open(os.path.join(directory, "solution_0002.pvtu")).read()
        for field in ("score", "exact_score", "score_error", "exact_density", "score_residual",
                      "quotient_score_residual"):
            check('Name="%s"' % field in pvtu, "VTU has the field " + field)
        check('NumberOfComponents="3"' in pvtu, "the score is a vector field (glyphs in ParaView)")
        check(os.path.exists(os.path.join(directory, "density", "solution.pvd")),
              "the companion density writes its own time series under density/")
        with open(os.path.join(directory, "statistics.csv")) as f:
            header = f.readline()
        check("fisher_divergence" in header and "newton_iterations" in header,
              "statistics.csv has the score columns")
    with tempfile.TemporaryDirectory() as directory:
        result = run(["params/log-density-vp-2d.prm", "--set", "Output/Directory=" + directory,
                      "--set", "Mesh/Refinement levels=2", "--set", "Output/Number of output intervals=1"], 2)
        check(result.returncode == 0, "log-density run exits with 0 (stderr: %s)" % result.stderr[-500:])
        summary = json.load(open(os.path.join(directory, "summary.json")))
        check(summary["equation"] == "log-density", "summary.json records the log-density equation")
        check(abs(summary["normalisation"] - 1) < 1e-3,
              "the normalisation Z = int e^u is 1 to 1e-3 (%.6f)" % summary["normalisation"])
        check(summary["density_errors"]["final"]["L2"] < 1e-3,
              "p_h = e^u / Z within 1e-3 of the exact density (%.3g)" % summary["density_errors"]["final"]["L2"])
        residuals = summary["outputs"][-1]["residuals"]["computed"]
        check(residuals["log_form"] is not None and residuals["score_form"] is not None,
              "the log form reports both residuals of its solution")
        pvtu = open(os.path.join(directory, "solution_0001.pvtu")).read()
        for field in ("density", "log_density", "score"):
            check('Name="%s"' % field in pvtu, "log-density VTU has the field " + field)


def score_cases():
    """Every shipped score and log-density case runs (one level coarser, one output)."""
    cases = sorted(f for f in os.listdir(os.path.join(ROOT, "params"))
                   if f.startswith(("score-", "log-density-")))
    check(len(cases) >= 8, "params/ ships the score cases (%d)" % len(cases))
    with tempfile.TemporaryDirectory() as directory:
        for case in cases:
            prm = open(os.path.join(ROOT, "params", case)).read()
            level = int(re.search(r"set Refinement levels = (\d+)", prm).group(1))
            out = os.path.join(directory, case)
            result = run(["params/" + case, "--set", "Output/Directory=" + out,
                          "--set", "Mesh/Refinement levels=%d" % max(level - 1, 0),
                          "--set", "Output/Number of output intervals=1",
                          "--set", "Output/Write VTU=false", "--set", "Output/Quiet=true",
                          "--set", "Score/Companion density=false"], 2)
            check(result.returncode == 0, case + " runs (stderr: %s)" % result.stderr[-300:])
            if result.returncode == 0:
                summary = json.load(open(os.path.join(out, "summary.json")))
                error = summary["errors"]["final"]["relative_L2"]
                check(error < 5e-2, case + ": final score error %.3g < 5e-2" % error)


def parameters():
    """--help, --print-parameters (every entry documented), JSON listing."""
    result = run(["--help"], 1)
    check(result.returncode == 0 and "--print-parameters" in result.stdout, "--help works")
    result = run(["--print-parameters"], 1)
    check(result.returncode == 0, "--print-parameters exits with 0")
    for section in ("Process", "Initial data", "Mesh", "Discretization", "Time stepping",
                    "Linear solver", "Output"):
        check("subsection " + section in result.stdout, "--print-parameters lists " + section)
    entries = re.findall(r"^\s*set ", result.stdout, re.M)
    allowed = re.findall(r"^\s*# Allowed: ", result.stdout, re.M)
    check(len(allowed) == len(entries), "every entry lists its allowed values")
    check("set Box lower corner = -5" in result.stdout, "names are spelt as in parameter files")
    # The listing is itself a parameter file that runs.
    with tempfile.TemporaryDirectory() as directory:
        listing = os.path.join(directory, "all.prm")
        with open(listing, "w") as f:
            f.write(result.stdout)
        check(run([listing, "--set", "Output/Directory=" + directory, "--set", "Output/Quiet=true",
                   "--set", "Mesh/Refinement levels=2", "--set", "Output/Write VTU=false",
                   "--set", "Mesh/Coarse subdivisions=4"], 1).returncode == 0,
              "the --print-parameters listing runs as a parameter file")
    documented = re.findall(r"^\s*# .*", result.stdout, re.M)
    check(len(entries) >= 30 and len(documented) >= len(entries),
          "every entry has documentation (%d entries, %d comment lines)" % (len(entries), len(documented)))
    result = run(["--print-parameters", "json"], 1)
    listing = json.loads(result.stdout)
    check("Process" in listing and "Type" in listing["Process"], "JSON listing parses")
    check("VP" in listing["Process"]["Type"]["pattern_description"], "JSON lists allowed values")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("group", choices=["demo", "outputs", "bad_input", "parameters", "score",
                                          "score_cases"])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--mpirun", default="mpirun")
    ARGS = parser.parse_args()
    globals()[ARGS.group]()
    print("checks: %d passed, %d failed" % (len(passes), len(failures)))
    sys.exit(1 if failures else 0)
