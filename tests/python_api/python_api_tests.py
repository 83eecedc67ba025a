"""scorefp from Python: the package postprocess/scorefp (run, check, evaluate), the pytest
example of a user's own suite, the package installed with pip into a venv, and the
ParaView scene rendered headless.

    /usr/bin/python3 tests/python_api/python_api_tests.py GROUP --build BUILD --mpirun MPIRUN

GROUP is api, example, install or paraview (ctest runs each as python_api.GROUP).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp  # noqa: E402
import scorefp_launch  # noqa: E402

failures = []


def expect(condition, message):
    print(("ok:   " if condition else "FAIL: ") + message, flush=True)
    if not condition:
        failures.append(message)


def vp(t, beta_min=0.1, beta_max=20.0):
    """m(t), v(t) of VP with the default schedule."""
    integrated = beta_min * t + 0.5 * (beta_max - beta_min) * t * t
    return np.exp(-0.5 * integrated), -np.expm1(-integrated)


BLOB_MEANS = 0.65 * np.array([[-2, -2], [-2, 2], [2, -2], [2, 2], [0, 0], [-4, 0], [4, 0],
                              [0, -4], [0, 4]], dtype=float)
BLOB_VARIANCE = 0.0845


def blob_density_and_score(x, t):
    """The VP blob's p_t and score at points x (N x 2), closed form."""
    m, v = vp(t)
    s2 = m * m * BLOB_VARIANCE + v
    diff = x[:, None, :] - m * BLOB_MEANS[None]
    g = np.exp(-0.5 * np.sum(diff ** 2, axis=2) / s2) / (2 * np.pi * s2) / len(BLOB_MEANS)
    density = g.sum(axis=1)
    score = -np.einsum("nk,nkd->nd", g, diff) / s2 / density[:, None]
    return density, score


def blob_samples(n, t, seed):
    """Exact samples of the VP blob's p_t: X_t = m X_0 + sqrt(v) Z."""
    rng = np.random.default_rng(seed)
    m, v = vp(t)
    x0 = BLOB_MEANS[rng.integers(0, len(BLOB_MEANS), n)] + \
        np.sqrt(BLOB_VARIANCE) * rng.standard_normal((n, 2))
    return m * x0 + np.sqrt(v) * rng.standard_normal((n, 2))


def group_api(args, work):
    executable = os.path.join(args.build, "scorefp")
    os.environ["SCOREFP_EXECUTABLE"] = executable
    expect(scorefp.find_executable() == executable, "SCOREFP_EXECUTABLE selects the executable")

    # run(): a parameter file with overrides, and the same case as a dict.
    coarse = {"Mesh/Refinement levels": 1, "Output/Write VTU": False}
    from_file = scorefp.run("params/ou-1d.prm", ranks=2, set=coarse, cwd=ROOT,
                            output=os.path.join(work, "ou-file"))
    expect(from_file.file.endswith("summary.json") and from_file.returncode == 0,
           "run() parses summary.json of a parameter file's run")
    error = from_file["errors"]["max_over_output_times"]["L2"]
    expect(0 < error < 1e-3, "run(): the 1D OU case's error %.3g is below 1e-3" % error)
    case = {"Dimension": 1,
            "Process": {"Type": "OU", "OU rate": 1, "OU diffusion": 2, "Final time": 2},
            "Initial data": {"Type": "gaussian mixture", "Weights": [0.3, 0.7],
                             "Means": "-1.5; 1", "Covariances": "0.1; 0.2"},
            "Mesh": {"Geometry": "box", "Box lower corner": -5, "Box upper corner": 5,
                     "Coarse subdivisions": 16},
            "Discretization/Polynomial degree": 3,
            "Time stepping": {"Tolerance": 1e-5}}
    from_dict = scorefp.run(case, ranks=2, set=coarse, output=os.path.join(work, "ou-dict"))
    expect(from_dict["n_dofs"] == from_file["n_dofs"] and
           from_dict["errors"]["max_over_output_times"]["L2"] == error,
           "run() of the same case as a dict gives the same n_dofs and error (%s, %.6g)"
           % (from_dict["n_dofs"], from_dict["errors"]["max_over_output_times"]["L2"]))
    expect(os.path.isfile(os.path.join(from_dict.directory, "case.prm")) and
           os.path.isfile(os.path.join(from_dict.directory, "parameters.prm")),
           "run() of a dict writes case.prm and scorefp's parameters.prm to the directory")
    default_directory = scorefp.run(case, set=dict(coarse, **{"Process/Final time": 0.1}))
    expect(os.path.basename(default_directory.directory).startswith("scorefp-") and
           os.path.isfile(default_directory.file),
           "run() without output= works in a new temporary directory")
    shutil.rmtree(default_directory.directory)

    # Bad input raises ScorefpError carrying scorefp's sentence.
    try:
        scorefp.run("params/ou-1d.prm", ranks=2, set={"Process/OU rat": 1}, cwd=ROOT,
                    output=os.path.join(work, "bad"))
        expect(False, "a misspelt key raises ScorefpError")
    except scorefp.ScorefpError as e:
        expect("OU rat" in str(e) and e.kind == "error" and e.returncode != 0 and
               "\n" not in str(e),
               "a misspelt key raises ScorefpError with scorefp's one sentence: %s" % e)
        expect(not os.path.exists(os.path.join(work, "bad", "summary.json")),
               "the rejected run left no summary.json")
    try:
        scorefp.evaluate(os.path.join(work, "missing.h5"), np.zeros((2, 2)), times=[0.5],
                         output=os.path.join(work, "bad-evaluate"))
        expect(False, "a missing reference file raises ScorefpError")
    except scorefp.ScorefpError as e:
        expect("missing.h5" in str(e), "a missing reference file names the file: %s" % e)
    for bad, what in ((np.array([[np.nan, 0.0]]), "non-finite"), (np.zeros((0, 2)), "empty")):
        try:
            scorefp.check(bad, case="params/check-vp-2d.prm", time=0.5, cwd=ROOT)
            expect(False, "%s samples raise ValueError" % what)
        except ValueError as e:
            expect(True, "%s samples raise ValueError before scorefp starts: %s" % (what, e))

    # check(): exact samples of p_0.5 pass, shifted ones fail (a result, not an error).
    t = 0.5
    exact = blob_samples(4000, t, seed=3)
    passed = scorefp.check(exact, case="params/check-vp-2d.prm", time=t, ranks=2, seed=5,
                           null_draws=59, cwd=ROOT, output=os.path.join(work, "check-exact"))
    print(passed.report())
    expect(passed.passed and bool(passed) and passed.n_samples == 4000 and
           passed.dimension == 2 and passed.time == t,
           "check(): 4000 exact samples of the VP blob's p_0.5 pass against the closed form")
    expect(set(passed.p_values) == set(passed.statistics) and
           all(0 < p <= 1 for p in passed.p_values.values()) and
           "sliced W2" in passed.statistics and passed.null_draws == 59,
           "check(): every statistic has a calibrated p-value in (0, 1] (%s)"
           % ", ".join("%s %.3f" % kv for kv in passed.p_values.items()))
    shifted = scorefp.check(exact + 0.25, case="params/check-vp-2d.prm", time=t, ranks=2,
                            seed=5, null_draws=59, cwd=ROOT,
                            output=os.path.join(work, "check-shifted"))
    expect(not shifted.passed and "FAIL" in shifted.report(),
           "check(): the same samples shifted by 0.25 fail (exit status 4 is a verdict)")

    # evaluate(): a reference file written by run(), against the closed form.
    reference = scorefp.run(
        "params/reference-vp-2d.prm", ranks=2, cwd=ROOT, output=os.path.join(work, "ref"),
        set={"Discretization/Polynomial degree": 3, "Mesh/Refinement levels": 2,
             "Output/Write VTU": False, "Output/Reference grid points": 33})
    points = np.array([[0.0, 0.0], [1.3, 1.3], [-0.7, 2.1], [2.6, 0.0], [9.0, 9.0]])
    values = scorefp.evaluate(os.path.join(reference.directory, "reference.h5"), points,
                              times=[0.5, 1.0], ranks=2, output=os.path.join(work, "eval"))
    expect(values.density.shape == (2, 5) and values.score.shape == (2, 5, 2) and
           np.array_equal(values.times, [0.5, 1.0]) and np.allclose(values.points, points),
           "evaluate(): density (times x points) and score (times x points x d)")
    expect(values.inside[:, :4].all() and not values.inside[:, 4].any() and
           np.all(values.density[:, 4] == 0),
           "evaluate(): the point outside the mesh is flagged, density 0")
    worst_density = worst_score = 0.0
    for i, time in enumerate(values.times):
        density, score = blob_density_and_score(points[:4], time)
        worst_density = max(worst_density,
                            np.max(np.abs(values.density[i, :4] - density) / density))
        worst_score = max(worst_score, np.max(np.abs(values.score[i, :4] - score)) /
                          np.max(np.abs(score)))
    expect(worst_density < 2e-3 and worst_score < 2e-3,
           "evaluate(): density and score within 2e-3 of the closed form (%.2g, %.2g)"
           % (worst_density, worst_score))


def group_example(args, work):
    """The pytest example passes for the sampler with 500 steps, fails with 10."""
    example = os.path.join(ROOT, "postprocess", "examples", "test_my_sampler.py")
    environment = dict(os.environ, SCOREFP_EXECUTABLE=os.path.join(args.build, "scorefp"))
    for steps, want in (("500", 0), ("10", 1)):
        environment["MY_SAMPLER_STEPS"] = steps
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "--basetemp", os.path.join(work, "pytest-" + steps), example],
                                cwd=ROOT, env=environment, capture_output=True, text=True)
        print(result.stdout[-3000:])
        expect(result.returncode == want,
               "pytest example with %s steps: exit status %d (expected %d)"
               % (steps, result.returncode, want))
        if want:
            expect("FAIL at level 0.05" in result.stdout and "sliced W2" in result.stdout,
                   "the failing example's message is scorefp's verdict table")


def group_install(args, work):
    """pip installs the package from a copy of postprocess/ into a venv, with no index;
    the installed package runs scorefp from outside the source tree."""
    source = os.path.join(work, "postprocess")
    shutil.copytree(os.path.join(ROOT, "postprocess"), source,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    venv = os.path.join(work, "venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    result = subprocess.run([python, "-m", "pip", "install", "-q", "--no-index",
                             "--no-build-isolation", source], capture_output=True, text=True)
    print(result.stdout, result.stderr)
    expect(result.returncode == 0, "pip install --no-index --no-build-isolation postprocess/")
    outside = os.path.join(work, "elsewhere")
    os.makedirs(outside)
    script = ("import scorefp, scorefp_reference, os, sys\n"
              "print(scorefp.__file__)\n"
              "r = scorefp.run({'Dimension': 1, 'Process/Type': 'OU', 'Process/Final time': 0.2,"
              " 'Initial data/Type': 'diagonal gaussian', 'Mesh/Refinement levels': 5,"
              " 'Output/Write VTU': False}, output='out')\n"
              "print(r['n_dofs'], r['errors']['final']['L2'])\n"
              "try:\n"
              "    scorefp.run({'Dimension': 1, 'Process/Typo': 1})\n"
              "except scorefp.ScorefpError as e:\n"
              "    print('error:', e)\n")
    environment = dict(os.environ, SCOREFP_EXECUTABLE=os.path.join(args.build, "scorefp"))
    environment.pop("PYTHONPATH", None)
    result = subprocess.run([python, "-c", script], cwd=outside, env=environment,
                            capture_output=True, text=True)
    print(result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    expect(result.returncode == 0 and lines and lines[0].startswith(venv),
           "the installed package is imported from the venv, not the source tree")
    expect(len(lines) > 2 and float(lines[1].split()[1]) < 1e-3 and
           lines[2].startswith("error:") and "Typo" in lines[2],
           "the installed package runs a case and reports scorefp's error sentence")


def png_is_a_picture(path, minimum_colours=50):
    """A PNG that exists and shows something: many distinct colours, not one flat fill."""
    import matplotlib.image
    if not os.path.isfile(path) or os.path.getsize(path) < 1000:
        return False, "missing or tiny"
    image = matplotlib.image.imread(path)[:, :, :3]
    colours = len(np.unique((image * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    background = np.all(np.abs(image - image[0, 0]) < 1e-3, axis=2).mean()
    return colours >= minimum_colours and background < 0.9, \
        "%d colours, %.0f%% background, %dx%d" % (colours, 100 * background, image.shape[1],
                                                 image.shape[0])


def group_paraview(args, work):
    """The ParaView scene of a score run (score arrows) and of a density run (warped,
    grad p_h/p_h arrows), rendered headless; the state file; a bad directory."""
    pvpython = shutil.which("pvpython")
    xvfb = shutil.which("xvfb-run")
    expect(pvpython is not None and xvfb is not None, "pvpython and xvfb-run are installed")
    if pvpython is None or xvfb is None:
        return
    runs = {
        "score": ["params/score-vp-2d.prm", "--set", "Mesh/Refinement levels=1", "--set",
                  "Output/Number of output intervals=2"],
        "density": ["params/demo.prm", "--set", "Mesh/Refinement levels=2", "--set",
                    "Output/Number of output intervals=2"],
    }
    script = os.path.join(ROOT, "postprocess", "paraview", "scorefp_scene.py")
    for name, arguments in runs.items():
        directory = os.path.join(work, name)
        result = scorefp_launch.run(arguments + ["--set", "Output/Quiet=true", "--set",
                                                 "Output/Directory=" + directory],
                                    2, args.build, args.mpirun)
        expect(result.returncode == 0, "the %s run for the scene" % name)
        picture = os.path.join(work, name + ".png")
        state = os.path.join(work, name + ".pvsm")
        extra = ["--warp", "20"] if name == "density" else []
        # A second attempt when ParaView aborts on creating its X window: on a loaded
        # machine a fresh Xvfb has been seen to refuse the first GLX window now and then.
        for attempt in range(2):
            result = subprocess.run([xvfb, "-a", pvpython, script, directory, "--time", "0.5",
                                     "--output", picture, "--state", state, "--size",
                                     "800x600"] + extra, capture_output=True, text=True,
                                    timeout=300)
            print(result.stdout, result.stderr[-2000:])
            if result.returncode == 0 or "CreateAWindow" not in result.stderr:
                break
        expect(result.returncode == 0, "pvpython scorefp_scene.py on the %s run" % name)
        ok, what = png_is_a_picture(picture)
        expect(ok, "the %s scene is not blank (%s)" % (name, what))
        with open(state) if os.path.isfile(state) else open(os.devnull) as f:
            text = f.read()
        expect("ServerManagerState" in text and "solution.pvd" in text,
               "the %s scene's ParaView state names the run's solution.pvd" % name)
    result = subprocess.run([xvfb, "-a", pvpython, script, work], capture_output=True,
                            text=True, timeout=300)
    errors = [line for line in result.stderr.splitlines() if line.startswith("scorefp_scene")]
    expect(result.returncode != 0 and len(errors) == 1 and "solution.pvd" in errors[0],
           "a directory without solution.pvd: one sentence (%s)" % (errors or result.stderr))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("group", choices=["api", "example", "install", "paraview"])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--mpirun", default="mpirun")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="scorefp-python-api-")
    try:
        globals()["group_" + args.group](args, work)
    finally:
        if not failures:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("\n%d failure(s); outputs kept in %s" % (len(failures), work))
        sys.exit(1)
    print("\nall passed")


if __name__ == "__main__":
    main()
