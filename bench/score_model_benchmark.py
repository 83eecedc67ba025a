#!/usr/bin/python3
"""TorchScript score models inside scorefp against PyTorch's own batched evaluation.

    /usr/bin/python3 bench/score_model_benchmark.py [--build build] [--quick]

For each shipped model of tests/data/models (and the exact blob score as TorchScript):

* scorefp: Task = sample with Sampler/Score = torchscript, ode-euler, one rank, one
  libtorch thread (Sampler/Model threads = 1), batches of Sampler/Model batch size
  points; evaluations per second = particles x steps / the timer's "sample" section;
* PyTorch: the same TorchScript module loaded by torch.jit.load in this interpreter,
  torch.set_num_threads(1), forward on batches of the same size under no_grad (the
  potential models with their gradient, as scorefp does); evaluations per second;
* the cost of a full score check: params/check-score-blob.prm on 1 and 2 ranks (the
  timer's "check" section: errors, residuals and curl by autograd at 57600 points x 5 times).

Printed side by side in one table. Needs Debian's python3-torch and numpy.
"""
import argparse
import os
import re
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp_launch  # noqa: E402
import scorefp_torch  # noqa: E402


def section_seconds(stdout, name):
    match = re.search(r"\|\s*%s\s*\|\s*\d+\s*\|\s*([0-9.e+-]+)s" % re.escape(name), stdout)
    if not match:
        raise RuntimeError("no timer section %r in scorefp's output:\n%s" % (name, stdout))
    return float(match.group(1))


def scorefp_rate(model, particles, steps, batch, build, mpirun, work):
    out = os.path.join(work, "sample-" + os.path.basename(model))
    result = scorefp_launch.run(
        ["params/sample-vp-2d.prm", "--set", "Sampler/Score=torchscript",
         "--set", "Sampler/Model file=" + model, "--set", "Sampler/Scheme=ode-euler",
         "--set", "Sampler/Steps=%d" % steps, "--set", "Sampler/Particles=%d" % particles,
         "--set", "Sampler/Model batch size=%d" % batch, "--set", "Sampler/Model threads=1",
         "--set", "Output/Directory=" + out], 1, build, mpirun, cwd=ROOT, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return particles * steps / section_seconds(result.stdout, "sample")


def pytorch_rate(model, particles, steps, batch):
    score = scorefp_torch.load_score(model)
    x = torch.randn(particles, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    potential = score.parametrisation == "potential"
    start = time.perf_counter()
    for k in range(steps):
        t = 1.0 - k * (1.0 - 1e-3) / steps
        for first in range(0, particles, batch):
            xb = x[first:first + batch]
            tb = torch.full((xb.shape[0],), t, dtype=torch.float64)
            if potential:
                score(xb, tb).detach()
            else:
                with torch.no_grad():
                    score(xb, tb)
    return particles * steps / (time.perf_counter() - start)


def check_seconds(ranks, build, mpirun, work):
    out = os.path.join(work, "check-%d" % ranks)
    result = scorefp_launch.run(["params/check-score-blob.prm", "--set", "Output/Directory=" + out,
                                 "--set", "Score check/Write VTU=false"],
                                ranks, build, mpirun, cwd=ROOT, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return section_seconds(result.stdout, "check")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--mpirun", default="mpirun")
    parser.add_argument("--quick", action="store_true", help="fewer particles and steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    particles, steps, batch = (4096, 5, 4096) if args.quick else (16384, 20, 4096)
    models = os.path.join(ROOT, "tests", "data", "models")
    with tempfile.TemporaryDirectory() as work:
        exact = os.path.join(work, "exact-blob.pt")
        scorefp_torch.main(["export-exact", "--data", "blob", "--out", exact, "--quiet"])
        files = [exact] + [os.path.join(models, name) for name in sorted(os.listdir(models))
                           if name.endswith(".pt")]
        print("Score-model evaluations per second, 1 rank, 1 thread, batches of %d, %d particles x %d steps"
              % (batch, particles, steps))
        print("| model | scorefp eval/s | PyTorch eval/s | scorefp / PyTorch |")
        print("|---|---|---|---|")
        for model in files:
            ours = scorefp_rate(model, particles, steps, batch, args.build, args.mpirun, work)
            theirs = pytorch_rate(model, particles, steps, batch)
            print("| %s | %.3g | %.3g | %.2f |" % (os.path.basename(model), ours, theirs, ours / theirs))
        print()
        print("Full score check, params/check-score-blob.prm (80 x 80 cells, 9 Gauss points, 5 times)")
        print("| ranks | check seconds |")
        print("|---|---|")
        for ranks in [1, 2]:
            print("| %d | %.2f |" % (ranks, check_seconds(ranks, args.build, args.mpirun, work)))


if __name__ == "__main__":
    main()
