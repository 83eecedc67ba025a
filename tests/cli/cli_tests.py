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
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp_launch  # noqa: E402

failures = []
passes = []


def check(condition, message):
    (passes if condition else failures).append(message)
    if not condition:
        print("FAIL: " + message)


def run(args, ranks, timeout=300):
    """scorefp with args on ranks ranks from the repository root, output captured."""
    return scorefp_launch.run(args, ranks, ARGS.build, ARGS.mpirun, cwd=ROOT, timeout=timeout)


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
    ("reverse law: missing start file", None,
     ["--set", "Task=reverse law", "--set", "Reverse law/Start file=/nonexistent/start.h5"],
     r"/nonexistent/start.h5"),
    ("reverse law: missing points file", None,
     ["--set", "Task=reverse law", "--set", "Reverse law/Points file=/nonexistent/points.csv"],
     r"/nonexistent/points.csv"),
    ("reverse law: unknown law", None,
     ["--set", "Task=reverse law", "--set", "Reverse law/Laws=PDE"], r"Laws"),
    ("reverse law: penalty below 1", None,
     ["--set", "Task=reverse law", "--set", "Reverse law/Penalty factor=0.5"], r"Penalty factor"),
    ("reverse law: eps beyond T", None,
     ["--set", "Task=reverse law", "--set", "Sampler/Early stopping=2"], r"Early stopping"),
    ("reverse law: output time beyond the interval", None,
     ["--set", "Task=reverse law", "--set", "Output/Output times=0.0001"], r"Output times"),
    ("reverse law: missing compare file", None,
     ["--set", "Task=reverse law", "--set", "Reverse law/Compare file=/nonexistent/law.h5"],
     r"/nonexistent/law.h5"),
    ("reverse law: absolute reference file", None,
     ["--set", "Task=reverse law", "--set", "Output/Reference file=/tmp/law.h5"],
     r"Reference file = /tmp/law.h5.*relative"),
    ("reverse law: sampler check without a law file", None,
     ["--set", "Task=reverse law", "--set", "Reverse law/Check sampler=true"],
     r"Check sampler.*Output/Reference file"),
    ("reverse law: sampler check of a law not solved", None,
     ["--set", "Task=reverse law", "--set", "Reverse law/Check sampler=true",
      "--set", "Reverse law/Laws=SDE", "--set", "Sampler/Scheme=ode-heun",
      "--set", "Output/Reference file=law.h5"], r"ode-heun follows the ODE law"),
    ("reverse law: sampler check with a corrector", None,
     ["--set", "Task=reverse law", "--set", "Reverse law/Check sampler=true",
      "--set", "Sampler/Scheme=predictor-corrector", "--set", "Output/Reference file=law.h5"],
     r"corrector"),
]


def expect_rejected(what, args, out, pattern):
    """scorefp args on 2 ranks: non-zero exit, one error line matching pattern, no
    summary.json in out."""
    result = run(args, 2, timeout=120)
    errors = [line for line in result.stderr.splitlines() if line.startswith("scorefp:")]
    check(result.returncode != 0, what + ": non-zero exit")
    check(len(errors) == 1, what + ": exactly one error line (got %r)" % errors)
    check(bool(errors) and re.search(pattern, errors[0]) is not None,
          what + ": message names the culprit (%r)" % errors)
    check(not os.path.exists(os.path.join(out, "summary.json")), what + ": no summary.json written")


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
            expect_rejected(what, args, out, pattern)
        # Data sets: damaged data files, bandwidths, laws that do not exist in closed form.
        files = {"empty.csv": "", "nonfinite.csv": "0,0\n1,inf\n", "three.csv": "0,1,2\n3,4,5\n"}
        for name, text in files.items():
            with open(os.path.join(directory, name), "w") as f:
                f.write(text)
        empirical = ["--set", "Initial data/Type=empirical", "--set", "Process/Start time=0.01"]
        data_cases = [
            ("empty data file", empirical + ["--set", "Initial data/Points file=" +
                                             os.path.join(directory, "empty.csv")],
             r"Initial data/Points file.*empty\.csv"),
            ("non-finite data file", empirical + ["--set", "Initial data/Points file=" +
                                                  os.path.join(directory, "nonfinite.csv")],
             r"Initial data/Points file.*nonfinite\.csv"),
            ("wrong-dimension data file", empirical + ["--set", "Initial data/Points file=" +
                                                       os.path.join(directory, "three.csv")],
             r"Initial data/Points file.*three\.csv"),
            ("negative bandwidth", ["--set", "Initial data/Type=moons",
                                    "--set", "Initial data/Bandwidth=-0.5"], r"Initial data/Bandwidth"),
            ("zero bandwidth", ["--set", "Initial data/Type=moons",
                                "--set", "Initial data/Bandwidth=0"], r"Initial data/Bandwidth"),
            ("empirical data from t = 0", ["--set", "Initial data/Type=moons"],
             r"no closed-form law at t = 0.*Start time"),
            ("circles2 with exact boundary data", ["--set", "Equation=score",
                                                   "--set", "Initial data/Type=circles2",
                                                   "--set", "Mesh/Box lower corner=-6",
                                                   "--set", "Mesh/Box upper corner=6"],
             r"circles2.*Boundary condition = gaussian"),
            ("circles2 with the exact score", ["--set", "Task=sample",
                                               "--set", "Initial data/Type=circles2"],
             r"circles2.*Score = exact"),
            ("circles2 against a closed form", ["--set", "Task=check",
                                                "--set", "Initial data/Type=circles2",
                                                "--set", "Checker/Exact draws=100",
                                                "--set", "Checker/Time=0.5"],
             r"circles2.*Reference = file"),
            ("circles2 reverse-time laws", ["--set", "Task=reverse law",
                                            "--set", "Initial data/Type=circles2"],
             r"circles2.*no closed-form law"),
            ("data time after the start", ["--set", "Process/Data time=0.5",
                                           "--set", "Process/Start time=0.1"],
             r"Process/Data time"),
        ]
        for index, (what, overrides, pattern) in enumerate(data_cases):
            out = os.path.join(directory, "data%d" % index)
            expect_rejected(what, small_case(out, overrides), out, pattern)
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
                if "errors" not in summary:
                    # No closed-form law (circles2): the companion density is the check.
                    difference = summary["outputs"][-1]["score_density_difference"]
                    check(difference < 5e-2, case + ": final difference to grad p_h / p_h %.3g "
                          "< 5e-2" % difference)
                    continue
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


def read_npy(path):
    """A float64 C-order .npy file as (shape, list of values), standard library only."""
    import ast
    import struct
    data = open(path, "rb").read()
    assert data[:6] == b"\x93NUMPY"
    length = struct.unpack("<H", data[8:10])[0]
    header = ast.literal_eval(data[10:10 + length].decode("latin1"))
    assert header["descr"] == "<f8" and not header["fortran_order"]
    count = 1
    for n in header["shape"]:
        count *= n
    values = struct.unpack("<%dd" % count, data[10 + length:10 + length + 8 * count])
    return header["shape"], values


def sample_case(directory, extra=()):
    """A 2D VP blob sampler that runs in about a second."""
    return ["params/sample-vp-2d.prm", "--set", "Output/Directory=" + directory,
            "--set", "Sampler/Particles=4000", "--set", "Sampler/Steps=100"] + list(extra)


def check_case(directory, samples, extra=()):
    return ["params/check-vp-2d.prm", "--set", "Output/Directory=" + directory,
            "--set", "Checker/Samples file=" + samples, "--set", "Checker/Null draws=59"] + list(extra)


def samplers():
    """Task = sample: files, metadata, rank independence, the exact law of Gaussian data."""
    with tempfile.TemporaryDirectory() as directory:
        outputs = {}
        for ranks in (1, 2, 3):
            out = os.path.join(directory, "np%d" % ranks)
            result = run(sample_case(out, ["--set", "Sampler/Scheme=predictor-corrector",
                                           "--set", "Sampler/Write CSV=true"]), ranks)
            check(result.returncode == 0, "sampler runs on %d ranks (%s)" % (ranks, result.stderr[-300:]))
            outputs[ranks] = read_npy(os.path.join(out, "samples.npy"))
        check(outputs[1][0] == (4000, 2), "samples.npy is 4000 x 2 (%r)" % (outputs[1][0],))
        check(outputs[1] == outputs[2] == outputs[3],
              "1, 2 and 3 ranks write bit-identical samples")
        out = os.path.join(directory, "np1")
        meta = json.load(open(os.path.join(out, "samples.npy.json")))
        check(meta["time"] == 1e-3 and meta["scheme"] == "predictor-corrector" and
              meta["n_samples"] == 4000, "samples.npy.json records time, scheme and size")
        rows = list(csv.reader(open(os.path.join(out, "samples.csv"))))
        check(len(rows) == 4001 and abs(float(rows[1][0]) - outputs[1][1][0]) < 1e-15,
              "samples.csv holds the same samples under a header")
        check(os.path.exists(os.path.join(out, "parameters.prm")), "parameters.prm is echoed")
        # Gaussian data: the exact law of the same scheme is printed and recorded.
        out = os.path.join(directory, "gauss")
        result = run(sample_case(out, ["--set", "Initial data/Type=gaussian mixture",
                                       "--set", "Initial data/Means=0.5, -0.5",
                                       "--set", "Initial data/Covariances=0.3, 0, 0, 0.1",
                                       "--set", "Sampler/Steps=10",
                                       "--set", "Sampler/Particles=20000"]), 2)
        meta = json.load(open(os.path.join(out, "samples.npy.json")))
        law = meta.get("exact_law", {})
        check("W2 to the data" in result.stdout and law.get("w2_to_data", 0) > 0.01,
              "Gaussian data: the exact-law W2 is printed (%r)" % law)
        check(law.get("w2_of_samples_to_exact_law_moments", 1) < 0.02,
              "the particles' moments agree with the exact law (%r)" % law)
        # ode-rk45 runs per particle.
        result = run(sample_case(os.path.join(directory, "rk45"),
                                 ["--set", "Sampler/Scheme=ode-rk45", "--set", "Sampler/Particles=200"]), 2)
        check(result.returncode == 0, "ode-rk45 runs (%s)" % result.stderr[-300:])


def checker():
    """Task = check: exact samples pass, a sampler with too few steps fails (exit 4)."""
    with tempfile.TemporaryDirectory() as directory:
        good = os.path.join(directory, "good")
        check(run(sample_case(good, ["--set", "Sampler/Steps=1000", "--set", "Sampler/Scheme=ode-heun"]),
                  2).returncode == 0, "samples with 1000 Heun steps")
        result = run(check_case(os.path.join(directory, "c1"), os.path.join(good, "samples.npy")), 2)
        print(result.stdout[-2500:])
        check(result.returncode == 0 and "Verdict: PASS" in result.stdout,
              "good samples pass (exit %d)" % result.returncode)
        report = json.load(open(os.path.join(directory, "c1", "check.json")))
        names = [s["name"] for s in report["statistics"]]
        check(names == ["sliced W2", "MMD^2", "chi^2 over cells"], "check.json lists the statistics (%r)" % names)
        check(report["pass"] is True and report["time"] == 1e-3, "check.json records pass and time")
        # The same check on 1 rank gives the same p-values (null draws shared by number).
        result1 = run(check_case(os.path.join(directory, "c2"), os.path.join(good, "samples.npy")), 1)
        report1 = json.load(open(os.path.join(directory, "c2", "check.json")))
        check([s["p_value"] for s in report1["statistics"]] == [s["p_value"] for s in report["statistics"]],
              "1 and 2 ranks give the same p-values")
        # Too few steps: Euler-Maruyama with 10 steps from the prior fails.
        bad = os.path.join(directory, "bad")
        check(run(sample_case(bad, ["--set", "Sampler/Steps=10"]), 2).returncode == 0,
              "samples with 10 steps")
        result = run(check_case(os.path.join(directory, "c3"), os.path.join(bad, "samples.npy")), 2)
        print(result.stdout[-2500:])
        check(result.returncode == 4 and "Verdict: FAIL" in result.stdout,
              "10 Euler-Maruyama steps fail the check with exit status 4 (got %d)" % result.returncode)


BAD_SAMPLES = [
    # (what, writer, pattern)
    ("wrong shape", lambda f: write_npy(f, (10, 3), [0.0] * 30), r"3 columns|dimension|2"),
    ("NaN", lambda f: write_npy(f, (10, 2), [0.0] * 5 + [float("nan")] + [0.0] * 14), r"NaN|nan|finite"),
    ("truncated", lambda f: open(f, "wb").write(npy_bytes((10, 2), [0.0] * 20)[:-16]), r"truncated"),
    ("not npy", lambda f: open(f, "wb").write(b"hello world, not an array"), r"magic|NumPy|npy"),
    ("one column", lambda f: write_npy(f, (10,), [0.0] * 10), r"1|dimension|column"),
]


def npy_bytes(shape, values):
    import struct
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': %r, }" % (tuple(shape),)
    header = header + " " * (63 - (10 + len(header)) % 64) + "\n"
    return (b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") +
            struct.pack("<%dd" % len(values), *values))


def write_npy(path, shape, values):
    open(path, "wb").write(npy_bytes(shape, values))


def sampler_bad_input():
    """Bad samples files and sampler settings: one sentence, non-zero exit, no output."""
    with tempfile.TemporaryDirectory() as directory:
        for index, (what, writer, pattern) in enumerate(BAD_SAMPLES):
            samples = os.path.join(directory, "bad%d.npy" % index)
            writer(samples)
            out = os.path.join(directory, "out%d" % index)
            result = run(check_case(out, samples, ["--set", "Checker/Time=0.5"]), 2, timeout=120)
            errors = [line for line in result.stderr.splitlines() if line.startswith("scorefp:")]
            check(result.returncode not in (0, 4), what + ": non-zero exit")
            check(len(errors) == 1 and samples in errors[0] and re.search(pattern, errors[0]) is not None,
                  what + ": one sentence naming the file and the problem (%r)" % errors)
            check(not os.path.exists(os.path.join(out, "check.json")), what + ": no check.json")
        result = run(check_case(os.path.join(directory, "missing"), os.path.join(directory, "none.npy")), 2)
        check(result.returncode == 1 and "none.npy" in result.stderr, "a missing samples file is named")
        settings = [
            ("ddpm with too few steps", ["--set", "Sampler/Scheme=ddpm", "--set", "Sampler/Steps=5"], r"g\(t\)\^2 h < 1"),
            ("exponential integrator for VE", ["--set", "Sampler/Scheme=exponential-integrator",
                                               "--set", "Process/Type=VE"], r"g\^2 = 2a"),
            ("rk45 with a corrector", ["--set", "Sampler/Scheme=ode-rk45", "--set", "Sampler/Corrector steps=1"],
             r"Corrector steps"),
            ("early stopping beyond T", ["--set", "Sampler/Early stopping=2"], r"Early stopping"),
            ("reference score without file", ["--set", "Sampler/Score=reference file"], r"Reference file"),
            ("misspelt scheme", ["--set", "Sampler/Scheme=euler"], r"Scheme"),
            ("unknown instruction set", ["--set", "Sampler/Vector instructions=avx1024"],
             r"Vector instructions"),
            ("missing variances file", ["--set", "Initial data/Type=diagonal gaussian",
                                        "--set", "Initial data/Variances file=/nonexistent/v.npy"],
             r"/nonexistent/v.npy"),
            ("missing reference file", ["--set", "Sampler/Score=reference file",
                                        "--set", "Sampler/Reference file=/nonexistent/ref.h5"], r"/nonexistent/ref.h5"),
        ]
        for what, extra, pattern in settings:
            out = os.path.join(directory, "s" + str(abs(hash(what))))
            result = run(sample_case(out, extra), 2, timeout=120)
            errors = [line for line in result.stderr.splitlines() if line.startswith("scorefp:")]
            check(result.returncode != 0, what + ": non-zero exit")
            check(len(errors) == 1 and re.search(pattern, errors[0]) is not None,
                  what + ": one sentence naming the culprit (%r)" % errors)
            check(not os.path.exists(os.path.join(out, "samples.npy")), what + ": no samples.npy")


def scheme_tables():
    """Task = scheme table: the Gaussian exact-law table and the blob particle table."""
    with tempfile.TemporaryDirectory() as directory:
        # A CIFAR-like spectrum in d = 3072 (decaying, with zeros), so that the test
        # does not depend on where ../shared lies; the shipped case runs when it exists.
        spectrum = os.path.join(directory, "spectrum.npy")
        write_npy(spectrum, (3072,), [0.0 if i % 97 == 0 else 30.0 / (1 + i) ** 1.2 for i in range(3072)])
        shared = os.path.join(ROOT, "..", "shared", "data", "cifar10-covariance-eigenvalues.npy")
        if os.path.exists(shared):
            result = run(["params/scheme-table-cifar10.prm", "--set",
                          "Output/Directory=" + os.path.join(directory, "shipped"),
                          "--set", "Scheme table/Step counts=50",
                          "--set", "Scheme table/Early stopping values=1e-3"], 2)
            check(result.returncode == 0, "the shipped CIFAR-10 case runs (%s)" % result.stderr[-300:])
        out = os.path.join(directory, "cifar")
        result = run(["params/scheme-table-cifar10.prm", "--set", "Output/Directory=" + out,
                      "--set", "Initial data/Variances file=" + spectrum,
                      "--set", "Scheme table/Step counts=50, 100",
                      "--set", "Scheme table/Early stopping values=0, 1e-3"], 2)
        print(result.stdout[-3000:])
        check(result.returncode == 0, "the d = 3072 table runs (%s)" % result.stderr[-300:])
        table = json.load(open(os.path.join(out, "scheme_table.json")))
        entries = {(e["start"], e["epsilon"], e["scheme"], e["steps"]): e for e in table["entries"]}
        check(len(entries) == 2 * 2 * 8 * 2, "one entry per start, epsilon, scheme and step count")
        em50 = entries[("exact", 1e-3, "euler-maruyama", 50)]["w2_to_data"]
        em100 = entries[("exact", 1e-3, "euler-maruyama", 100)]["w2_to_data"]
        check(em100 < em50, "more steps, smaller error (%.4g < %.4g)" % (em100, em50))
        heun = entries[("exact", 1e-3, "ode-heun", 100)]["w2_to_data"]
        check(heun < em100, "Heun beats Euler-Maruyama at 100 steps (%.4g < %.4g)" % (heun, em100))
        out = os.path.join(directory, "blob")
        result = run(["params/scheme-table-vp-blob.prm", "--set", "Output/Directory=" + out,
                      "--set", "Scheme table/Step counts=10, 100",
                      "--set", "Scheme table/Schemes=euler-maruyama, ode-heun",
                      "--set", "Scheme table/Particles=20000", "--set", "Mesh/Refinement levels=3"], 2)
        print(result.stdout[-2000:])
        check(result.returncode == 0, "the blob table runs (%s)" % result.stderr[-300:])
        table = json.load(open(os.path.join(out, "scheme_table.json")))
        errors = {(e["scheme"], e["steps"]): e["sliced_w2_to_p_epsilon"] for e in table["entries"]}
        check(errors[("euler-maruyama", 100)] < errors[("euler-maruyama", 10)],
              "blob: 100 Euler-Maruyama steps beat 10 (%r)" % errors)



def reference_workflow():
    """Make a reference, sample with its score, check against it (density and score runs)."""
    import math
    with tempfile.TemporaryDirectory() as directory:
        coarse = ["--set", "Discretization/Polynomial degree=3", "--set", "Mesh/Refinement levels=2",
                  "--set", "Output/Reference grid points=33", "--set", "Time stepping/Tolerance=1e-4"]
        reference = os.path.join(directory, "ref")
        result = run(["params/reference-vp-2d.prm", "--set", "Output/Directory=" + reference] + coarse, 2)
        check(result.returncode == 0, "a density run writes a reference file (%s)" % result.stderr[-300:])
        score_reference = os.path.join(directory, "score-ref")
        result = run(["params/reference-vp-2d.prm", "--set", "Output/Directory=" + score_reference,
                      "--set", "Equation=score"] + coarse, 2)
        check(result.returncode == 0, "a score run writes a reference file (%s)" % result.stderr[-300:])

        def sample(name, extra):
            out = os.path.join(directory, name)
            result = run(["params/sample-from-reference.prm", "--set", "Output/Directory=" + out,
                          "--set", "Sampler/Particles=3000", "--set", "Sampler/Steps=100"] + extra, 2)
            check(result.returncode == 0, name + " samples (%s)" % result.stderr[-300:])
            return read_npy(os.path.join(out, "samples.npy"))[1]

        exact = sample("exact", ["--set", "Sampler/Score=exact"])
        for name, ref, source, tolerance in (
                ("log-density gradient", reference, "log-density gradient", 0.05),
                ("finite-element score", score_reference, "finite-element", 0.05)):
            values = sample(name.replace(" ", "-"), [
                "--set", "Sampler/Reference file=" + os.path.join(ref, "reference.h5"),
                "--set", "Sampler/Reference score=" + source])
            # Same seed, same start, deterministic ODE: particles differ by the score error.
            distance = math.sqrt(sum((a - b) ** 2 for a, b in zip(values, exact)) / (len(exact) / 2))
            print("%s: rms distance to the exact-score particles %.3g" % (name, distance))
            check(distance < tolerance,
                  "%s: ODE particles within %.3g (rms) of the exact-score particles (%.3g)"
                  % (name, tolerance, distance))
        # Task = evaluate: the file at user points, the same on 1 and 2 ranks, against the
        # closed form of the blob at t = 1.
        points = os.path.join(directory, "points.csv")
        with open(points, "w") as f:
            f.write("x,y\n0,0\n0.5,-0.25\n1.2,0.7\n10,10\n")
        case = os.path.join(directory, "evaluate.prm")
        with open(case, "w") as f:
            f.write("set Task = evaluate\nset Dimension = 2\nsubsection Evaluation\n"
                    "  set Reference file = %s\n  set Points file = %s\n  set Times = 0.5, 1\n"
                    "end\n" % (os.path.join(reference, "reference.h5"), points))
        tables = []
        for ranks in (1, 2):
            out = os.path.join(directory, "evaluate%d" % ranks)
            result = run([case, "--set", "Output/Directory=" + out], ranks)
            check(result.returncode == 0, "Task = evaluate on %d ranks (%s)" % (ranks, result.stderr[-300:]))
            tables.append(list(csv.DictReader(open(os.path.join(out, "evaluation.csv")))))
        check(tables[0] == tables[1] and len(tables[0]) == 8, "evaluation.csv: 8 rows, the same on 1 and 2 ranks")
        m = math.exp(-0.5 * (0.1 + 0.5 * 19.9))
        v = 1 - m * m
        var = m * m * 0.0845 + v
        centres = [(-2, -2), (-2, 2), (2, -2), (2, 2), (0, 0), (-4, 0), (4, 0), (0, -4), (0, 4)]
        for row in tables[0]:
            if float(row["time"]) != 1.0:
                continue
            x, y = float(row["x0"]), float(row["x1"])
            exact = sum(math.exp(-((x - 0.65 * m * a) ** 2 + (y - 0.65 * m * b) ** 2) / (2 * var))
                        for a, b in centres) / (9 * 2 * math.pi * var)
            if row["inside"] == "1":
                check(abs(float(row["density"]) - exact) <= 1e-3 * exact,
                      "evaluated density at (%g, %g) within 1e-3 of the closed form" % (x, y))
                check(abs(float(row["s0"]) + (x - 0) / var) < 0.05,
                      "evaluated score at (%g, %g) close to the near-Gaussian law at t = 1" % (x, y))
            else:
                check(x == 10 and float(row["density"]) == 0.0, "a point outside the mesh has density 0")
        # The checker against the file: exact-score samples pass.
        out = os.path.join(directory, "check")
        result = run(["params/check-against-reference.prm", "--set", "Output/Directory=" + out,
                      "--set", "Checker/Samples file=" + os.path.join(directory, "exact", "samples.npy"),
                      "--set", "Checker/Reference file=" + os.path.join(reference, "reference.h5"),
                      "--set", "Checker/Null draws=59"], 2)
        print(result.stdout[-1500:])
        check(result.returncode == 0 and "Verdict: PASS" in result.stdout,
              "exact samples pass against the reference file (exit %d)" % result.returncode)
        # A time the file does not cover, and a density file asked for its FE score.
        result = run(["params/sample-from-reference.prm", "--set", "Output/Directory=" + out + "2",
                      "--set", "Sampler/Reference file=" + os.path.join(reference, "reference.h5"),
                      "--set", "Process/Final time=2"], 2)
        check(result.returncode == 1 and "snapshots in" in result.stderr,
              "a sampler time outside the snapshots is named (%s)" % result.stderr.strip())
        result = run(["params/sample-from-reference.prm", "--set", "Output/Directory=" + out + "3",
                      "--set", "Sampler/Reference file=" + os.path.join(reference, "reference.h5"),
                      "--set", "Sampler/Reference score=finite-element"], 2)
        check(result.returncode == 1 and "density only" in result.stderr,
              "a density file has no finite-element score (%s)" % result.stderr.strip())


def grid():
    """Task = tabulate score and Sampler/Score = grid: the exact score tabulated, sampled
    from, and compared with the exact-score samples of the same seed; rank independence;
    bad grid files and settings."""
    mixture = ["--set", "Initial data/Type=gaussian mixture", "--set", "Initial data/Weights=0.4; 0.6",
               "--set", "Initial data/Means=-1, 0.5; 1, -0.5", "--set", "Initial data/Covariances=0.3; 0.5",
               "--set", "Sampler/Early stopping=1e-2"]
    with tempfile.TemporaryDirectory() as directory:
        grids = {}
        for ranks in (1, 3):
            out = os.path.join(directory, "tabulate%d" % ranks)
            result = run(sample_case(out, mixture + [
                "--set", "Task=tabulate score", "--set", "Tabulation/Points per axis=129",
                "--set", "Tabulation/Lower corner=-6", "--set", "Tabulation/Upper corner=6"]), ranks)
            check(result.returncode == 0, "tabulate score runs on %d ranks (%s)" % (ranks, result.stderr[-300:]))
            grids[ranks] = os.path.join(out, "score-grid.h5")
            check(os.path.exists(grids[ranks]) and not os.path.exists(grids[ranks] + ".partial"),
                  "the grid file is written under its final name only")
            if ranks == 1:
                print(result.stdout[-1500:])
                check("tabulating the score (exact)" in result.stdout and "129 x 129" in result.stdout
                      and "33 times in [0.01, 1]" in result.stdout,
                      "the task says what it tabulates, on which grid and when")
                check("Total wallclock time elapsed" in result.stdout, "a timer summary is printed")
                check(os.path.exists(os.path.join(out, "parameters.prm")), "parameters.prm is echoed")

        def sample(name, extra):
            out = os.path.join(directory, name)
            result = run(sample_case(out, mixture + extra), 2)
            check(result.returncode == 0, name + " samples (%s)" % result.stderr[-300:])
            return out, read_npy(os.path.join(out, "samples.npy"))[1]

        _, exact = sample("exact", ["--set", "Sampler/Score=exact"])
        out, from_grid = sample("grid1", ["--set", "Sampler/Score=grid", "--set", "Sampler/Grid file=" + grids[1]])
        _, from_grid3 = sample("grid3", ["--set", "Sampler/Score=grid", "--set", "Sampler/Grid file=" + grids[3]])
        # Same seed and noise: the particles differ by the interpolation error alone.
        difference = max(abs(a - b) for a, b in zip(exact, from_grid))
        print("grid score: max |x_grid - x_exact| = %.3g" % difference)
        check(difference < 1e-3, "grid-score particles within 1e-3 of the exact-score ones (%.3g)" % difference)
        check(from_grid == from_grid3, "grids tabulated on 1 and 3 ranks give bit-identical samples")
        meta = json.load(open(os.path.join(out, "samples.npy.json")))
        check(meta["score"].startswith("grid '" + grids[1] + "'"), "samples.npy.json names the grid (%s)" % meta["score"])
        # Bad settings and grids: one sentence naming the culprit, no samples.
        settings = [
            ("grid score without file", ["--set", "Sampler/Score=grid"], r"Sampler/Grid file"),
            ("missing grid file", ["--set", "Sampler/Score=grid", "--set", "Sampler/Grid file=/nonexistent/g.h5"],
             r"/nonexistent/g\.h5.*does not exist"),
            ("another process", ["--set", "Sampler/Score=grid", "--set", "Sampler/Grid file=" + grids[1],
                                 "--set", "Process/beta max=10"], r"another process.*beta max = 20"),
            ("times not covered", ["--set", "Sampler/Score=grid", "--set", "Sampler/Grid file=" + grids[1],
                                   "--set", "Sampler/Early stopping=1e-3"], r"times covering"),
            ("wrong dimension", ["--set", "Sampler/Score=grid", "--set", "Sampler/Grid file=" + grids[1],
                                 "--set", "Dimension=3", "--set", "Initial data/Means=-1, 0.5, 0; 1, -0.5, 0"],
             r"2-dimensional, but Dimension = 3"),
            ("tabulation times outside", ["--set", "Task=tabulate score", "--set", "Tabulation/Times=0.5, 2"],
             r"Tabulation/Times"),
            ("too few points", ["--set", "Task=tabulate score", "--set", "Tabulation/Points per axis=3"],
             r"Points per axis"),
        ]
        for index, (what, extra, pattern) in enumerate(settings):
            out = os.path.join(directory, "bad%d" % index)
            result = run(sample_case(out, mixture + extra), 2, timeout=120)
            errors = [line for line in result.stderr.splitlines() if line.startswith("scorefp:")]
            check(result.returncode != 0, what + ": non-zero exit")
            check(len(errors) == 1 and re.search(pattern, errors[0]) is not None,
                  what + ": one sentence naming the culprit (%r)" % errors)
            check(not os.path.exists(os.path.join(out, "samples.npy")) and
                  not os.path.exists(os.path.join(out, "score-grid.h5")), what + ": no output file")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("group", choices=["demo", "outputs", "bad_input", "parameters", "score",
                                          "score_cases", "samplers", "checker",
                                          "sampler_bad_input", "scheme_tables",
                                          "reference_workflow", "grid"])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--mpirun", default="mpirun")
    ARGS = parser.parse_args()
    globals()[ARGS.group]()
    print("checks: %d passed, %d failed" % (len(passes), len(failures)))
    sys.exit(1 if failures else 0)
