#!/usr/bin/python3
"""Every figure of the README, from scratch: runs the cases at the README's settings with
the build, then draws each figure with postprocess/scorefp/figures.py.

    /usr/bin/python3 postprocess/readme_figures.py                 # doc/figures/*.png
    /usr/bin/python3 postprocess/readme_figures.py --quick --output-dir /tmp/figs
    /usr/bin/python3 postprocess/readme_figures.py --only demo-errors --only demo-fields

Options: --build DIR (default build), --mpirun, --ranks (2), --output-dir (doc/figures),
--work DIR (keep the runs there; default: a temporary directory, removed afterwards),
--quick (coarsened runs that take seconds each, for the test), --reuse (with --work: draw
from the runs already there), --markdown FILE (the image lines with their captions and
commands). The PNGs are small: 100 dpi, a few tens of kB.

The cases run from the repository root on --ranks ranks, each into WORK/NAME; figures
sharing a case share its run.
"""
import argparse
import importlib.util
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp_launch  # noqa: E402


def _load_figures():
    """postprocess/scorefp/figures.py by its path (the package's __init__ is not needed)."""
    path = os.path.join(ROOT, "postprocess", "scorefp", "figures.py")
    spec = importlib.util.spec_from_file_location("scorefp_figures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The runs: params file, the overrides that make it the README's run (besides the output
# directory and Output/Quiet), and those that coarsen it for --quick.
RUNS = {
    "demo": ("params/demo.prm", [], [
        "Discretization/Polynomial degree=2", "Mesh/Coarse subdivisions=4",
        "Mesh/Refinement levels=2", "Output/Number of output intervals=10"]),
    "convergence-2d": ("params/convergence-2d.prm", [], ["Mesh/Refinement levels=0, 1, 2"]),
    "score-vp-2d": ("params/score-vp-2d.prm", [], [
        "Mesh/Refinement levels=1", "Output/Number of output intervals=4"]),
    "scheme-table-vp-blob": ("params/scheme-table-vp-blob.prm", [], [
        "Scheme table/Step counts=25, 100", "Scheme table/Particles=2000",
        "Mesh/Refinement levels=2"]),
    "check-score-blob": ("params/check-score-blob.prm", [], [
        "Mesh/Refinement levels=2", "Score check/Quadrature points=2"]),
}

# The figures: file name, alt text, run, figure kind, its options, README section, caption.
FIGURES = [
    ("demo-errors", "Demo: relative errors and step size against time",
     "demo", "errors", {"dt": True}, "demo / outputs",
     "The demo (2D VP blob, Q4 on 40 x 40 cells): relative L1, L2 and Linf errors of p_h "
     "against t from statistics.csv, and the adaptive step size dt (right axis); the "
     "largest error is the projection of the sharp initial blobs at t = 0."),
    ("demo-fields", "Demo: density and error field at t = 0.1",
     "demo", "fields", {"time": 0.1}, "demo / outputs",
     "The demo at t = 0.1 from solution.pvd: the density p_h (left) and the error p_h - p "
     "against the closed form (right)."),
    ("convergence-2d", "Convergence: error against DoFs, observed rates 3",
     "convergence-2d", "convergence", {}, "convergence",
     "params/convergence-2d.prm (2D OU mixture, Q2, levels 2 to 5): relative errors at "
     "t = 0.5 against the number of DoFs, observed L2 rates in h annotated, slope triangle "
     "of the expected rate p + 1 = 3 (-(p+1)/d = -1.5 in DoFs)."),
    ("score-errors", "Score FPE: errors against time, with grad p_h/p_h",
     "score-vp-2d", "errors", {}, "score FPE",
     "params/score-vp-2d.prm (Q3^d on 40 x 40 cells): the score FPE's relative L2 errors "
     "(domain, 99% bulk, tail p < 1e-6 max p) and Fisher divergence against t; circles: "
     "grad p_h / p_h of the companion density at the output times."),
    ("score-fields", "Score FPE: density, score arrows and score error at t = 0.25",
     "score-vp-2d", "fields", {"time": 0.25}, "score FPE",
     "params/score-vp-2d.prm at t = 0.25: the exact density with the score s_h as arrows "
     "(left) and log10 |s_h - s| (right; the boundary carries the exact Dirichlet data)."),
    ("score-tails", "Tails: score FPE against grad p_h/p_h by radius",
     "score-vp-2d", "tails", {}, "score FPE",
     "The tail problem (tail_shells.csv of params/score-vp-2d.prm): RMS score error by "
     "shell of |x|, score FPE s_h (solid) against grad p_h / p_h (dashed; red crosses where "
     "p_h <= 0 at some points), one colour per output time; below, max p per shell."),
    ("scheme-table-vp-blob", "Samplers: sliced W2 against steps for every scheme",
     "scheme-table-vp-blob", "schemes", {}, "samplers / scheme table",
     "params/scheme-table-vp-blob.prm (10^5 particles per entry, epsilon = 1e-3, start "
     "prior): sliced W2 to p_epsilon against the number of steps for every scheme; grey "
     "band: the same statistic for exact draws of the same size (median dotted, up to the "
     "90% quantile)."),
    ("check-score-blob", "Check score: residual and curl of the DSM-trained MLP",
     "check-score-blob", "score-check", {"time": 0.6},
     "learned scores / check score",
     "params/check-score-blob.prm (the shipped DSM-trained direct MLP of the VP blob, "
     "80 x 80 cells): the score-FPE residual per cell (log scale) and the curl per cell at "
     "t = 0.6, dashed: the 99% bulk; right: errors, Fisher divergence, residual and curl at "
     "every checked time."),
]


def command_line(name, kind, options, output):
    """The figures.py command that draws one figure (for the captions)."""
    parts = ["/usr/bin/python3 postprocess/scorefp/figures.py", kind, "output/" + name]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        parts.append(flag if value is True else "%s %s" % (flag, value))
    parts += ["-o", output]
    return " ".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--mpirun", default="mpirun")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--output-dir", default=os.path.join(ROOT, "doc", "figures"))
    parser.add_argument("--work", help="directory for the runs (kept); default: temporary")
    parser.add_argument("--quick", action="store_true",
                        help="coarsened runs (seconds each), for the test")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="only this figure (repeatable): " + ", ".join(f[0] for f in FIGURES))
    parser.add_argument("--reuse", action="store_true",
                        help="with --work: draw from the runs already there (re-styling)")
    parser.add_argument("--markdown", help="write the image lines and captions here")
    parser.add_argument("--dpi", type=float, default=100)
    args = parser.parse_args(argv)
    names = [f[0] for f in FIGURES]
    for name in args.only or []:
        if name not in names:
            parser.error("unknown figure %s (figures: %s)" % (name, ", ".join(names)))
    chosen = [f for f in FIGURES if not args.only or f[0] in args.only]
    if args.reuse and not args.work:
        parser.error("--reuse needs --work DIR (the directory of the earlier runs)")
    figures = _load_figures()
    temporary = None
    work = args.work
    if work is None:
        temporary = tempfile.TemporaryDirectory(prefix="readme-figures-")
        work = temporary.name
    os.makedirs(work, exist_ok=True)
    os.makedirs(args.output_dir, exist_ok=True)
    started = time.time()
    timings = []
    try:
        for run in dict.fromkeys(f[2] for f in chosen):
            params, readme, quick = RUNS[run]
            directory = os.path.join(work, run)
            if args.reuse:
                continue
            overrides = ["Output/Directory=" + directory, "Output/Quiet=true"] + readme + \
                (quick if args.quick else [])
            cli = [params] + [a for o in overrides for a in ("--set", o)]
            begin = time.time()
            result = scorefp_launch.run(cli, args.ranks, args.build, args.mpirun, cwd=ROOT,
                                        timeout=3600)
            if result.returncode != 0:
                sys.exit("readme_figures: %s failed with exit status %d: %s"
                         % (params, result.returncode, result.stderr.strip()[-2000:]))
            timings.append((run, time.time() - begin))
            print("  %s: %.1f s" % (run, timings[-1][1]), flush=True)
        lines = []
        for name, alt, run, kind, options, section, caption in chosen:
            output = os.path.join(args.output_dir, name + ".png")
            begin = time.time()
            written = figures.KINDS[kind](os.path.join(work, run), output=output, dpi=args.dpi,
                                          **options)
            size = os.path.getsize(written[0])
            print("  %s (%s): %.1f s, %d kB%s" % (written[0], kind, time.time() - begin,
                                                  size // 1024,
                                                  "  -- larger than 150 kB" if size > 150e3
                                                  else ""), flush=True)
            relative = os.path.relpath(output, ROOT)
            lines.append("<!-- %s -->\n![%s](%s)\n\n*%s*  \n`%s`\n" % (
                section, alt, relative, caption,
                command_line(run, kind, options, relative)))
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write("\n".join(lines))
        print("readme_figures: %d figures in %s, %.0f s (runs %.0f s)"
              % (len(chosen), args.output_dir, time.time() - started,
                 sum(t for _, t in timings)))
    finally:
        if temporary is not None:
            temporary.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
