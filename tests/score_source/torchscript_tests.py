#!/usr/bin/python3
"""TorchScript score models in scorefp (Sampler/Score = torchscript, Task = check score).

Run by ctest with Debian's /usr/bin/python3 (torch, numpy). Groups, one ctest test each:

  exact      the exact Gaussian-mixture score as TorchScript, in every parametrisation and
             time input and in 1D, 2D, 3D: errors against the closed form and autograd
             residuals and curl at round-off; scorefp's values equal PyTorch's own; the
             samplers give the closed form's particles
  bad_input  every bad model file: one sentence naming the file, non-zero exit, no output
  learned    the shipped DSM-trained models (tests/data/models): Lai et al.'s finding that
             their score-FPE residual is >= 10x the exact score's on the same mesh, lowered
             by the Fokker-Planck penalty; a direct MLP has a curl, a potential model none
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp_launch  # noqa: E402
import scorefp_torch  # noqa: E402
import score_table  # noqa: E402

torch.set_num_threads(1)
failures = []
passes = []


def check(condition, message):
    (passes if condition else failures).append(message)
    if not condition:
        print("FAIL: " + message)


def run(args, ranks=2, timeout=300):
    return scorefp_launch.run(args, ranks, ARGS.build, ARGS.mpirun, cwd=ROOT, timeout=timeout)


def export_exact(path, data="blob", extra=()):
    command = [sys.executable, os.path.join(ROOT, "postprocess", "scorefp_torch.py"),
               "export-exact", "--data", data, "--out", path, "--quiet"] + list(extra)
    subprocess.run(command, check=True)
    return path


BLOB = ["--set", "Dimension=2", "--set", "Process/Type=VP", "--set", "Initial data/Type=blob"]
MIXTURES = {
    "gaussian1d": ["--set", "Dimension=1", "--set", "Initial data/Type=gaussian mixture",
                   "--set", "Initial data/Weights=0.3, 0.7", "--set", "Initial data/Means=-1; 1",
                   "--set", "Initial data/Covariances=0.1; 0.2"],
    "blob": BLOB[2:],  # Process/Type=VP and the blob
    "gaussian3d": ["--set", "Dimension=3", "--set", "Initial data/Type=gaussian mixture",
                   "--set", "Initial data/Weights=0.5, 0.5",
                   "--set", "Initial data/Means=0.5, 0, 0; -0.5, 0, 0",
                   "--set", "Initial data/Covariances=0.2; 0.2"],
}


def check_case(directory, model, data="blob", extra=(), refinement=2):
    """Task = check score of model on a coarse box mesh, three times, no VTU."""
    dimension = {"gaussian1d": 1, "blob": 2, "gaussian3d": 3}[data]
    return ["--set", "Task=check score", "--set", "Dimension=%d" % dimension] + MIXTURES[data] + [
        "--set", "Mesh/Box lower corner=-5", "--set", "Mesh/Box upper corner=5",
        "--set", "Mesh/Coarse subdivisions=%d" % (5 if dimension < 3 else 3),
        "--set", "Mesh/Refinement levels=%d" % (refinement if dimension < 3 else 1),
        "--set", "Sampler/Score=torchscript", "--set", "Sampler/Model file=" + model,
        "--set", "Score check/Times=0.05, 0.4, 1", "--set", "Score check/Write VTU=false",
        "--set", "Score check/Quadrature points=2",
        "--set", "Output/Directory=" + directory, "--set", "Output/Quiet=true"] + list(extra)


def summary(directory):
    with open(os.path.join(directory, "summary.json")) as f:
        return json.load(f)


def empty_prm(directory):
    path = os.path.join(directory, "empty.prm")
    with open(path, "w") as f:
        f.write("# every entry from --set\n")
    return path


def exact():
    with tempfile.TemporaryDirectory() as work:
        prm = empty_prm(work)
        # Every parametrisation and time input of the same field gives the same s.
        variants = [("score", "t", "none"), ("noise", "sigma", "none"), ("data", "edm", "none"),
                    ("data", "sigma", "x/m"), ("velocity", "step", "none"),
                    ("potential", "t", "none")]
        for parametrisation, time_input, scaling in variants:
            name = "%s-%s-%s" % (parametrisation, time_input, scaling.replace("/", ""))
            model = export_exact(os.path.join(work, name + ".pt"), "blob",
                                 ["--parametrisation", parametrisation, "--time-input", time_input,
                                  "--input-scaling", scaling] +
                                 (["--steps", "1000"] if time_input == "step" else []))
            out = os.path.join(work, "out-" + name)
            result = run([prm] + check_case(out, model))
            check(result.returncode == 0, name + ": check score runs (%s)" % result.stderr.strip())
            if result.returncode != 0:
                continue
            s = summary(out)
            for entry in s["times"]:
                t = entry["time"]
                check(entry["l2_error_domain"] < 1e-12 and entry["l2_error_bulk"] < 1e-12,
                      "%s t=%g: relative L2 error at round-off (%g)" % (name, t, entry["l2_error_domain"]))
                check(entry["fisher_divergence"] < 1e-24,
                      "%s t=%g: Fisher divergence at round-off (%g)" % (name, t, entry["fisher_divergence"]))
                check(entry["score_residual"] < 1e-10,
                      "%s t=%g: autograd score residual at round-off (%g)" % (name, t, entry["score_residual"]))
                check(entry["curl"] < 1e-24, "%s t=%g: curl at round-off (%g)" % (name, t, entry["curl"]))
                if parametrisation == "potential":
                    check(entry["log_residual"] < 1e-10,
                          "%s t=%g: log-form residual at round-off (%g)" % (name, t, entry["log_residual"]))
            check(s["precision"] == "float64", name + ": precision float64 reported")

        # 1D and 3D.
        for data in ["gaussian1d", "gaussian3d"]:
            model = export_exact(os.path.join(work, data + ".pt"), data, ["--parametrisation", "noise"])
            out = os.path.join(work, "out-" + data)
            result = run([prm] + check_case(out, model, data))
            check(result.returncode == 0, data + ": check score runs (%s)" % result.stderr.strip())
            if result.returncode == 0:
                for entry in summary(out)["times"]:
                    check(entry["l2_error_domain"] < 1e-12 and entry["score_residual"] < 1e-10 and
                          entry["curl"] < 1e-24,
                          "%s t=%g: error %g, residual %g, curl %g at round-off" %
                          (data, entry["time"], entry["l2_error_domain"], entry["score_residual"],
                           entry["curl"]))

        # scorefp's evaluation of a model equals PyTorch's own at the same points.
        generator = np.random.default_rng(3)
        points = generator.normal(size=(40, 2)) * 2.0
        points_file = os.path.join(work, "points.csv")
        np.savetxt(points_file, points, delimiter=",", fmt="%.17g")
        for name in ["noise-sigma-none", "potential-t-none"]:
            model = os.path.join(work, name + ".pt")
            out = os.path.join(work, "points-" + name)
            result = run([prm] + check_case(out, model, extra=["--set", "Score check/Points file=" + points_file]))
            check(result.returncode == 0, name + ": points run (%s)" % result.stderr.strip())
            if result.returncode != 0:
                continue
            with open(os.path.join(out, "score-points.csv")) as f:
                rows = list(csv.DictReader(f))
            score = scorefp_torch.load_score(model)
            worst = 0.0
            for t in sorted({float(r["time"]) for r in rows}):
                block = [r for r in rows if float(r["time"]) == t]
                x = torch.tensor([[float(r["x0"]), float(r["x1"])] for r in block], dtype=torch.float64)
                s = score(x, torch.full((len(block),), t, dtype=torch.float64)).detach().numpy()
                mine = np.array([[float(r["score_x"]), float(r["score_y"])] for r in block])
                worst = max(worst, float(np.max(np.abs(mine - s) / (1.0 + np.abs(s)))))
            check(worst < 1e-12, name + ": scorefp equals PyTorch at the points (%g)" % worst)

        # The samplers driven by the TorchScript exact score give the closed form's particles.
        for scheme in ["euler-maruyama", "ode-heun", "ddim"]:
            outputs = {}
            for label, extra in [("exact", ["--set", "Sampler/Score=exact"]),
                                 ("torchscript", ["--set", "Sampler/Score=torchscript",
                                                  "--set", "Sampler/Model file=" +
                                                  os.path.join(work, "noise-sigma-none.pt")])]:
                out = os.path.join(work, "sample-%s-%s" % (scheme, label))
                result = run([prm, "--set", "Task=sample"] + BLOB + [
                    "--set", "Sampler/Scheme=" + scheme, "--set", "Sampler/Steps=40",
                    "--set", "Sampler/Particles=1000", "--set", "Sampler/Seed=7",
                    "--set", "Output/Directory=" + out, "--set", "Output/Quiet=true"] + extra)
                check(result.returncode == 0, "%s %s: sample runs (%s)" % (scheme, label, result.stderr.strip()))
                if result.returncode == 0:
                    outputs[label] = np.load(os.path.join(out, "samples.npy"))
            if len(outputs) == 2:
                difference = float(np.max(np.abs(outputs["exact"] - outputs["torchscript"])))
                check(difference < 1e-12,
                      "%s: TorchScript exact score gives the closed form's samples (max difference %g)"
                      % (scheme, difference))

        # Particles driven by a model do not depend on the rank split (nor on how the
        # batches fall: 97 points per forward pass).
        samples = []
        for ranks in [1, 3]:
            out = os.path.join(work, "ranks-%d" % ranks)
            result = run([prm, "--set", "Task=sample"] + BLOB + [
                "--set", "Sampler/Scheme=euler-maruyama", "--set", "Sampler/Steps=20",
                "--set", "Sampler/Particles=1001", "--set", "Sampler/Score=torchscript",
                "--set", "Sampler/Model file=" + os.path.join(work, "potential-t-none.pt"),
                "--set", "Sampler/Model batch size=97",
                "--set", "Output/Directory=" + out, "--set", "Output/Quiet=true"], ranks)
            check(result.returncode == 0, "%d ranks: sample runs (%s)" % (ranks, result.stderr.strip()))
            if result.returncode == 0:
                samples.append(np.load(os.path.join(out, "samples.npy")))
        if len(samples) == 2:
            check(np.array_equal(samples[0], samples[1]),
                  "1 and 3 ranks write bit-identical samples from a TorchScript potential model")

        # The check itself does not depend on the rank count beyond round-off.
        model = os.path.join(ROOT, "tests", "data", "models", "blob-vp-direct.pt")
        summaries = []
        for ranks in [1, 2]:
            out = os.path.join(work, "check-ranks-%d" % ranks)
            result = run([prm] + check_case(out, model), ranks)
            check(result.returncode == 0, "%d ranks: check score runs (%s)" % (ranks, result.stderr.strip()))
            if result.returncode == 0:
                summaries.append(summary(out)["times"])
        if len(summaries) == 2:
            worst = max(abs(a[key] - b[key]) / abs(b[key])
                        for a, b in zip(*summaries) for key in
                        ["l2_error_domain", "l2_error_bulk", "l2_error_tail", "fisher_divergence",
                         "score_residual", "curl", "mass"])
            check(worst < 1e-10, "check score on 1 and 2 ranks agrees (relative %g)" % worst)

        # Against a reference file's finite-element score (a coarse score run of the blob):
        # the exact model's error against the file is the file's error against the
        # closed form.
        reference = os.path.join(work, "score-reference")
        result = run(["params/reference-vp-2d.prm", "--set", "Output/Directory=" + reference,
                      "--set", "Equation=score", "--set", "Discretization/Polynomial degree=3",
                      "--set", "Mesh/Refinement levels=2", "--set", "Output/Reference grid points=33",
                      "--set", "Time stepping/Tolerance=1e-4", "--set", "Output/Quiet=true"])
        check(result.returncode == 0, "a score run writes a reference file (%s)" % result.stderr[-300:])
        if result.returncode == 0:
            file = os.path.join(reference, "reference.h5")
            out = os.path.join(work, "against-file")
            result = run([prm] + check_case(out, os.path.join(work, "score-t-none.pt"), extra=[
                "--set", "Score check/Reference=reference file", "--set", "Score check/Reference file=" + file]))
            out_fe = os.path.join(work, "file-against-closed-form")
            result_fe = run([prm] + check_case(out_fe, "unused", extra=[
                "--set", "Sampler/Score=reference file", "--set", "Sampler/Reference file=" + file]))
            check(result.returncode == 0 and result_fe.returncode == 0,
                  "check score against a reference file runs (%s%s)" % (result.stderr[-300:], result_fe.stderr[-300:]))
            if result.returncode == 0 and result_fe.returncode == 0:
                mine, theirs = summary(out), summary(out_fe)
                check("finite-element score of" in mine["reference"], "the reference is the file's score")
                for a, b in zip(mine["times"], theirs["times"]):
                    check(0 < a["l2_error_domain"] < 5e-2 and
                          abs(a["l2_error_domain"] / b["l2_error_domain"] - 1) < 0.1,
                          "t=%g: exact model vs file %g = file vs closed form %g (10%%)"
                          % (a["time"], a["l2_error_domain"], b["l2_error_domain"]))

        # A float32 model is accepted, and its precision reported.
        model = export_exact(os.path.join(work, "float32.pt"), "blob", ["--dtype", "float32"])
        out = os.path.join(work, "out-float32")
        result = run([prm] + check_case(out, model))
        check(result.returncode == 0, "float32: check score runs (%s)" % result.stderr.strip())
        if result.returncode == 0:
            s = summary(out)
            check(s["precision"] == "float32", "float32: precision reported (%s)" % s["precision"])
            check(all(1e-12 < e["l2_error_domain"] < 1e-5 for e in s["times"]),
                  "float32: error at float32 round-off (%s)" % [e["l2_error_domain"] for e in s["times"]])


class Shape(torch.nn.Module):
    def forward(self, x, t):
        return x[:, :1]


class ThreeInputs(torch.nn.Module):
    def forward(self, x, t):
        return x @ torch.ones(3, 2, dtype=torch.float64)


class Infinite(torch.nn.Module):
    def forward(self, x, t):
        return x / 0.0


def save(module, path, metadata=None, **changes):
    meta = {"format": "scorefp score model 1", "dimension": 2, "parametrisation": "score",
            "time input": "t", "dtype": "float64",
            "process": {"Type": "VP", "Start time": "0", "Final time": "1", "beta min": "0.1",
                        "beta max": "20"}} if metadata is None else metadata
    meta.update(changes)
    torch.jit.save(torch.jit.script(module), path, _extra_files={"scorefp.json": json.dumps(meta)})
    return path


def bad_input():
    with tempfile.TemporaryDirectory() as work:
        prm = empty_prm(work)
        good = export_exact(os.path.join(work, "good.pt"))
        junk = os.path.join(work, "junk.pt")
        with open(junk, "w") as f:
            f.write("not a zip archive\n")
        process_ve = {"Type": "VE", "Start time": "0", "Final time": "1", "sigma min": "0.01",
                      "sigma max": "50"}
        cases = [
            ("missing file", os.path.join(work, "missing.pt"), [], r"missing\.pt' does not exist"),
            ("not TorchScript", junk, [], r"junk\.pt' is not a TorchScript file"),
            ("wrong output shape", save(Shape(), os.path.join(work, "shape.pt")), [],
             r"shape\.pt' returns a tensor of shape \[3, 1\].*expected \[3, 2\]"),
            ("wrong input shape", save(ThreeInputs(), os.path.join(work, "input.pt")), [],
             r"input\.pt' fails on inputs x\[3, 2\], t\[3\]"),
            ("dimension mismatch", save(Shape(), os.path.join(work, "dim.pt"), dimension=3), [],
             r"dim\.pt' is a 3-dimensional model, but Dimension = 2"),
            ("non-finite output", save(Infinite(), os.path.join(work, "inf.pt")), [],
             r"inf\.pt' gives non-finite values \(score\)"),
            ("unknown parametrisation", save(Shape(), os.path.join(work, "par.pt"), parametrisation="eps"),
             [], r"parametrisation of '.*par\.pt' is 'eps', not one of score, noise"),
            ("unknown time input", save(Shape(), os.path.join(work, "time.pt"), **{"time input": "log t"}),
             [], r"time input of '.*time\.pt' is 'log t', not one of t, sigma"),
            ("process disagrees", save(Shape(), os.path.join(work, "ve.pt"), process=process_ve), [],
             r"ve\.pt' was trained for the process \(Type = VE.*but the case runs \(Type = VP"),
            ("malformed metadata", os.path.join(work, "meta.pt"), [], r"meta\.pt' has a scorefp\.json that is not valid JSON"),
            ("wrong override", good, ["--set", "Sampler/Model parametrisation=eps"], r"Model parametrisation"),
            ("velocity for VE", good, ["--set", "Sampler/Model parametrisation=velocity",
                                      "--set", "Process/Type=VE"], r"m\^2 \+ v = 1|trained for the process"),
        ]
        torch.jit.save(torch.jit.script(Shape()), os.path.join(work, "meta.pt"),
                       _extra_files={"scorefp.json": "{not json"})
        for index, (what, model, extra, pattern) in enumerate(cases):
            for task in ["check score", "sample"]:
                out = os.path.join(work, "bad%d-%s" % (index, task.replace(" ", "")))
                args = [prm] + check_case(out, model, extra=list(extra)) + ["--set", "Task=" + task]
                result = run(args, 2, timeout=120)
                errors = [line for line in result.stderr.splitlines() if line.startswith("scorefp:")]
                check(result.returncode != 0, "%s (%s): non-zero exit" % (what, task))
                check(len(errors) == 1 and re.search(pattern, errors[0]) is not None,
                      "%s (%s): one sentence naming the culprit (%r)" % (what, task, errors))
                check(not any(os.path.exists(os.path.join(out, f)) for f in
                              ["summary.json", "score-check.csv", "samples.npy"]),
                      "%s (%s): no output file" % (what, task))


def learned():
    models = os.path.join(ROOT, "tests", "data", "models")
    with tempfile.TemporaryDirectory() as work:
        # The README's table on a check mesh of 40 x 40 cells instead of 80 x 80 (the
        # exact score's grid keeps its 161 x 161 nodes).
        rows = score_table.score_table(work, build=ARGS.build, mpirun=ARGS.mpirun, quiet=True,
                                       refinement=3)
        print(score_table.markdown(rows))
        by_name = {row["model"]: row for row in rows}
        floor = by_name["exact (grid)"]
        for name in ["blob-vp-direct", "blob-vp-potential"]:
            row = by_name[name]
            for t, r, r0 in zip(row["times"], row["score_residual"], floor["score_residual"]):
                check(r >= 10 * r0, "%s t=%g: DSM score residual %g >= 10x the exact score's %g"
                      % (name, t, r, r0))
            penalised = by_name[name + "-fp"]
            check(np.mean(penalised["score_residual"]) < np.mean(row["score_residual"]),
                  "%s: the Fokker-Planck penalty lowers the mean score residual (%g < %g)"
                  % (name, np.mean(penalised["score_residual"]), np.mean(row["score_residual"])))
        for name in ["blob-vp-direct", "blob-vp-direct-fp"]:
            check(min(by_name[name]["curl"]) > 1e-8, name + ": a direct MLP has a curl (%s)" % by_name[name]["curl"])
        for name in ["blob-vp-potential", "blob-vp-potential-fp"]:
            check(max(by_name[name]["curl"]) < 1e-20, name + ": a potential model has none (%s)" % by_name[name]["curl"])
        check(os.path.isdir(models), "shipped models in tests/data/models")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("group", choices=["exact", "bad_input", "learned"])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--mpirun", default="mpirun")
    ARGS = parser.parse_args()
    globals()[ARGS.group]()
    print("checks: %d passed, %d failed" % (len(passes), len(failures)))
    sys.exit(1 if failures else 0)
