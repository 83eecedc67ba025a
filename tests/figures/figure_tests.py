#!/usr/bin/python3
"""The figures (postprocess/scorefp/figures.py) and the README figures' script
(postprocess/readme_figures.py) on small coarsened shipped runs.

    /usr/bin/python3 tests/figures/figure_tests.py --build build --mpirun mpirun [--keep]

1. readme_figures.py --quick draws every README figure from its own coarsened runs (kept
   in WORK/runs and reused below): each PNG is valid, of a sensible size, not blank.
2. A few more small runs (log-density, 1D score, an exact-law scheme table).
3. Every figure KIND through the command line (figures.py, and python3 -m scorefp.figures),
   with its options, PNG and PDF; the functions called from Python.
4. Missing and malformed inputs: exit status 1 and one line naming the file, no traceback.

Run by ctest (tests/figures/CMakeLists.txt) with the system interpreter, which has NumPy,
matplotlib and ParaView's vtkmodules.
"""
import argparse
import concurrent.futures
import contextlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import matplotlib.image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp_launch  # noqa: E402

FIGURES = os.path.join(ROOT, "postprocess", "scorefp", "figures.py")
README_FIGURES = os.path.join(ROOT, "postprocess", "readme_figures.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

failures = []
passes = []


def check(condition, message):
    (passes if condition else failures).append(message)
    if not condition:
        print("FAIL: " + message, flush=True)
    return condition


def run_python(args, timeout=600, environment=None):
    return subprocess.run([PYTHON] + args, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=environment)


def run_many(argument_lists, environment=None):
    """figures.py commands two at a time (ctest reserves 2 processors for this test), in
    order: [(CompletedProcess, seconds)]."""
    def one(args):
        begin = time.time()
        return run_python(args, environment=environment), time.time() - begin
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, argument_lists))


def check_png(path, width=(400, 2400), height=(250, 1800), what=""):
    """A valid PNG of a size in the ranges (pixels), not blank: many colours, a spread of
    values, and a plotted middle that is not one colour."""
    label = what or os.path.basename(path)
    if not check(os.path.isfile(path), "%s: %s exists" % (label, path)):
        return
    with open(path, "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", "%s: PNG signature" % label)
    image = matplotlib.image.imread(path)
    h, w = image.shape[:2]
    check(width[0] <= w <= width[1] and height[0] <= h <= height[1],
          "%s: size %d x %d within %s x %s" % (label, w, h, width, height))
    rgb = np.round(np.asarray(image)[..., :3] * 255).astype(np.int64)
    codes = rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]
    colours = len(np.unique(codes))
    check(colours >= 100, "%s: %d distinct colours (>= 100)" % (label, colours))
    spread = float(rgb.std()) / 255
    check(spread >= 0.05, "%s: standard deviation %.3f of the pixels (>= 0.05)" % (label, spread))
    middle = codes[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
    inner = len(np.unique(middle))
    check(inner >= 20, "%s: %d colours in the middle half (>= 20)" % (label, inner))
    white = float(np.mean(middle == 0xFFFFFF))
    check(white < 0.98, "%s: the middle half is not blank (%.1f%% white)" % (label, 100 * white))


def check_pdf(path, label):
    if check(os.path.isfile(path), "%s: PDF %s exists" % (label, path)):
        with open(path, "rb") as f:
            head = f.read(5)
        check(head == b"%PDF-" and os.path.getsize(path) > 2000,
              "%s: %s is a PDF of %d bytes" % (label, path, os.path.getsize(path)))


def scorefp(args, ranks=2):
    result = scorefp_launch.run(args + ["--set", "Output/Quiet=true"], ranks, ARGS.build,
                                ARGS.mpirun, cwd=ROOT, timeout=600)
    check(result.returncode == 0, "scorefp %s exits with 0 (stderr: %s)"
          % (args[0], result.stderr.strip()[-500:]))


def readme_figures(work):
    """readme_figures.py --quick: every README figure from coarsened runs."""
    spec = importlib.util.spec_from_file_location("readme_figures", README_FIGURES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = os.path.join(work, "readme")
    markdown = os.path.join(work, "readme.md")
    begin = time.time()
    result = run_python([README_FIGURES, "--quick", "--output-dir", output, "--work",
                         os.path.join(work, "runs"), "--markdown", markdown,
                         "--build", ARGS.build, "--mpirun", ARGS.mpirun])
    print(result.stdout[-3000:], flush=True)
    check(result.returncode == 0, "readme_figures.py --quick exits with 0 in %.0f s (stderr: %s)"
          % (time.time() - begin, result.stderr.strip()[-1000:]))
    text = open(markdown).read() if os.path.isfile(markdown) else ""
    for name, *_ in module.FIGURES:
        path = os.path.join(output, name + ".png")
        check_png(path, what="README " + name)
        if os.path.isfile(path):
            check(os.path.getsize(path) <= 150e3, "README %s: %d kB <= 150 kB"
                  % (name, os.path.getsize(path) // 1024))
        check("![" in text and "%s.png)" % name in text,
              "readme.md has the image line of %s" % name)


def load_figures():
    spec = importlib.util.spec_from_file_location("scorefp_figures_under_test", FIGURES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_process(figures, args):
    """figures.main(args) in this process: (status, stdout, stderr). Cheaper than a new
    interpreter (matplotlib takes a second to import), for the variants of each kind."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = figures.main(args)
        except SystemExit as e:          # argparse
            status = e.code
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


def figure_commands(work, figures):
    runs = os.path.join(work, "runs")
    demo, convergence = os.path.join(runs, "demo"), os.path.join(runs, "convergence-2d")
    score, scheme = os.path.join(runs, "score-vp-2d"), os.path.join(runs, "scheme-table-vp-blob")
    checked = os.path.join(runs, "check-score-blob")
    log_density, score_1d, exact = (os.path.join(runs, n) for n in
                                    ("log-density-vp-2d", "score-vp-1d", "scheme-table-cifar10"))
    out = os.path.join(work, "cli")
    os.makedirs(out)
    one, two, three = ((400, 1000), (250, 700)), ((900, 1400), (300, 700)), \
        ((1300, 1800), (300, 700))
    # (label, figures.py arguments, the PNG it writes, its size range, the PDF or None,
    #  through the command line (every kind once) or in this process (the variants))
    commands = [
        ("errors density --dt", ["errors", demo, "--dt"],
         os.path.join(demo, "figure-errors.png"), one, None, True),
        ("convergence dofs", ["convergence", convergence],
         os.path.join(convergence, "figure-convergence.png"), one, None, True),
        ("schemes particles", ["schemes", scheme, "-o", os.path.join(out, "schemes.png")],
         os.path.join(out, "schemes.png"), two, None, True),
        ("fields score", ["fields", score, "--time", "0.5", "--arrows", "12", "-o",
                          os.path.join(out, "fields-score.png"), "--pdf"],
         os.path.join(out, "fields-score.png"), two, os.path.join(out, "fields-score.pdf"), True),
        ("tails", ["tails", score, "--time", "0", "--time", "1", "-o",
                   os.path.join(out, "tails.png")],
         os.path.join(out, "tails.png"), ((600, 1200), (450, 900)), None, True),
        ("score-check", ["score-check", checked, "--time", "0.4", "-o",
                         os.path.join(out, "score-check.png"), "--pdf"],
         os.path.join(out, "score-check.png"), three, os.path.join(out, "score-check.pdf"), True),
        ("errors score", ["errors", score, "-o", os.path.join(out, "errors-score.png"), "--pdf"],
         os.path.join(out, "errors-score.png"), one, os.path.join(out, "errors-score.pdf"), False),
        ("errors levels", ["errors", convergence, "-o", os.path.join(out, "errors-levels.png"),
                           "--no-quotient"],
         os.path.join(out, "errors-levels.png"), one, None, False),
        ("errors log-density", ["errors", log_density, "-o", os.path.join(out, "errors-log.pdf")],
         os.path.join(out, "errors-log.png"), one, os.path.join(out, "errors-log.pdf"), False),
        ("convergence h", ["convergence", convergence, "--x", "h", "--dpi", "80", "--size", "8",
                           "5", "-o", os.path.join(out, "convergence-h.png")],
         os.path.join(out, "convergence-h.png"), ((640, 640), (400, 400)), None, False),
        ("schemes exact", ["schemes", exact, "--measure", "w2_to_p_epsilon", "-o",
                           os.path.join(out, "schemes-exact.pdf")],
         os.path.join(out, "schemes-exact.png"), two, os.path.join(out, "schemes-exact.pdf"),
         False),
        ("fields density", ["fields", demo, "--time", "0.1", "-o",
                            os.path.join(out, "fields-density.png")],
         os.path.join(out, "fields-density.png"), two, None, False),
        ("fields log-density", ["fields", log_density, "-o", os.path.join(out, "fields-log.png")],
         os.path.join(out, "fields-log.png"), two, None, False),
        ("fields 1D score", ["fields", score_1d, "-o", os.path.join(out, "fields-1d.png")],
         os.path.join(out, "fields-1d.png"), two, None, False),
    ]
    environment = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "postprocess"))
    module_png = os.path.join(out, "module.png")
    command_line = [c for c in commands if c[5]]
    results = run_many([[FIGURES] + c[1] for c in command_line] +
                       [[FIGURES, "all", score, "-o", os.path.join(out, "all")],
                        ["-m", "scorefp.figures", "convergence", convergence, "-o", module_png]],
                       environment=environment)
    results = dict(zip([c[0] for c in command_line] + ["all", "module"], results))
    for label, args, png, (width, height), pdf, through_cli in commands:
        if through_cli:
            result, seconds = results[label]
            label = "figures.py " + label
        else:
            begin = time.time()
            result = in_process(figures, args)
            seconds = time.time() - begin
            label = "figures.main " + label
        if not check(result.returncode == 0, "%s exits with 0 (%.1f s; stderr: %s)"
                     % (label, seconds, result.stderr.strip()[-800:])):
            continue
        check(png in result.stdout.split("\n"), "%s prints %s" % (label, png))
        check_png(png, width, height, label)
        if pdf:
            check_pdf(pdf, label)

    # all: every figure the directory allows.
    result = results["all"][0]
    check(result.returncode == 0, "figures.py all exits with 0 (stderr: %s)"
          % result.stderr.strip()[-800:])
    for kind in ("errors", "fields", "tails"):
        check_png(os.path.join(out, "all", "figure-%s.png" % kind), (400, 1400), (250, 900),
                  "figures.py all: " + kind)
    # python3 -m scorefp.figures with postprocess/ on the path.
    result = results["module"][0]
    check(result.returncode == 0, "python3 -m scorefp.figures exits with 0 (stderr: %s)"
          % result.stderr.strip()[-800:])
    check_png(module_png, *one, what="python3 -m scorefp.figures")

    # From Python: the functions return what they wrote.
    written = figures.errors(score, output=os.path.join(out, "api.pdf"))
    check(written == [os.path.join(out, "api.png"), os.path.join(out, "api.pdf")],
          "figures.errors(..., output=X.pdf) returns [X.png, X.pdf] (%s)" % written)
    check_png(os.path.join(out, "api.png"), *one, what="figures.errors from Python")
    written = figures.tails(score, output=os.path.join(out, "api-tails.png"), times=[0.5])
    check(written == [os.path.join(out, "api-tails.png")], "figures.tails returns its PNG")
    try:
        figures.convergence(demo)
        check(False, "figures.convergence on a one-level run raises")
    except figures.FigureInputError as e:
        check("summary.json" in str(e) and isinstance(e, SystemExit),
              "figures.convergence on a one-level run raises FigureInputError (a SystemExit) "
              "naming summary.json: %s" % e)


def bad_inputs(work, figures):
    runs = os.path.join(work, "runs")
    demo, score = os.path.join(runs, "demo"), os.path.join(runs, "score-vp-2d")
    bad = os.path.join(work, "bad")
    empty = os.path.join(bad, "empty")
    os.makedirs(empty)

    def broken(name, files):
        directory = os.path.join(bad, name)
        os.makedirs(directory)
        for file, text in files.items():
            with open(os.path.join(directory, file), "w") as f:
                f.write(text)
        return directory

    garbage_csv = broken("garbage-csv", {"statistics.csv": "step,time,dt,relative_L2\n0,0,0,x\n"})
    no_columns = broken("no-columns", {"statistics.csv": "a,b\n1,2\n"})
    bad_json = broken("bad-json", {"summary.json": '{"convergence": [1, 2'})
    bad_table = broken("bad-table", {"scheme_table.csv": "start,epsilon,scheme\nprior,0,ddpm\n"})
    bad_shells = broken("bad-shells", {"tail_shells.csv": ""})
    bad_pvd = broken("bad-pvd", {"solution.pvd": "<VTKFile><Collection>"})
    # A .pvtu whose piece is gone.
    missing_piece = os.path.join(bad, "missing-piece")
    shutil.copytree(demo, missing_piece)
    os.remove(os.path.join(missing_piece, "solution_0010.1.vtu"))
    # A .vtu that is not one.
    bad_vtu = os.path.join(bad, "bad-vtu")
    shutil.copytree(demo, bad_vtu)
    with open(os.path.join(bad_vtu, "solution_0010.0.vtu"), "w") as f:
        f.write("<VTKFile type='UnstructuredGrid'> not really")
    # (arguments, the name the message must contain, through the command line?)
    cases = [
        (["errors", empty], "statistics.csv", True),
        (["convergence", bad_json], "summary.json", True),
        (["fields", missing_piece], "solution_0010.1.vtu", True),
        (["fields", bad_vtu], "solution_0010.pvtu", True),
        (["schemes", bad_table], "scheme_table.csv", True),
        (["errors", garbage_csv], "statistics.csv", False),
        (["errors", no_columns], "statistics.csv", False),
        (["errors", os.path.join(bad, "no-such-run")], "no-such-run", False),
        (["convergence", demo], "summary.json", False),
        (["schemes", empty], "scheme_table.csv", False),
        (["fields", os.path.join(runs, "convergence-2d")], "solution.pvd", False),
        (["fields", bad_pvd], "solution.pvd", False),
        (["tails", demo], "tail_shells.csv", False),
        (["tails", bad_shells], "tail_shells.csv", False),
        (["score-check", score], "score-check.csv", False),
        (["all", empty], "empty", False),
        (["errors", demo, "-o", os.path.join(bad, "figure.jpg")], "figure.jpg", False),
    ]
    command_line = run_many([[FIGURES] + c[0] for c in cases if c[2]])
    for args, name, through_cli in cases:
        result = command_line.pop(0)[0] if through_cli else in_process(figures, args)
        lines = result.stderr.strip().splitlines()
        label = "%s %s %s" % ("figures.py" if through_cli else "figures.main", args[0],
                              os.path.relpath(args[1], work))
        check(result.returncode == 1, "%s exits with 1 (got %s)" % (label, result.returncode))
        check(len(lines) == 1 and name in lines[0] and "Traceback" not in result.stderr,
              "%s says one line naming %s: %r" % (label, name, result.stderr.strip()[-600:]))


def main():
    started = time.time()
    work = tempfile.mkdtemp(prefix="scorefp-figures-")
    try:
        phase = time.time()

        def done(what):
            nonlocal phase
            print("-- %s: %.1f s" % (what, time.time() - phase), flush=True)
            phase = time.time()
        readme_figures(work)
        done("readme_figures.py --quick")
        runs = os.path.join(work, "runs")
        scorefp(["params/log-density-vp-2d.prm",
                 "--set", "Output/Directory=" + os.path.join(runs, "log-density-vp-2d"),
                 "--set", "Mesh/Refinement levels=1",
                 "--set", "Output/Number of output intervals=2"])
        scorefp(["params/score-vp-1d.prm",
                 "--set", "Output/Directory=" + os.path.join(runs, "score-vp-1d"),
                 "--set", "Output/Number of output intervals=2"], ranks=1)
        scorefp(["params/scheme-table-cifar10.prm",
                 "--set", "Output/Directory=" + os.path.join(runs, "scheme-table-cifar10"),
                 "--set", "Initial data/Variances file="
                          "tests/cases/data/cifar10-covariance-eigenvalues.npy",
                 "--set", "Scheme table/Schemes=euler-maruyama, ddpm, ode-heun",
                 "--set", "Scheme table/Step counts=25, 50",
                 "--set", "Scheme table/Early stopping values=0, 1e-3",
                 "--set", "Scheme table/Starts=prior"], ranks=1)
        done("three more runs")
        figures = load_figures()
        figure_commands(work, figures)
        done("figure commands")
        bad_inputs(work, figures)
        done("bad inputs")
    finally:
        if ARGS.keep:
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d checks passed, %d failed, %.0f s" % (len(passes), len(failures),
                                                   time.time() - started))
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--mpirun", default="mpirun")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ARGS = parser.parse_args()
    sys.exit(main())
