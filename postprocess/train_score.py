#!/usr/bin/python3
"""Train a small score model by denoising score matching and export it for scorefp.

2D data sets blob, checkerboard, 8gaussians (scorefp_torch.DATA_DESCRIPTIONS) under the
VP, VE or OU process; float64 throughout; deterministic given --seed (torch.manual_seed for
the initial weights, one seeded torch.Generator for data, times and noise; one thread).

Models (input (x, t); --time-feature feeds sqrt(t) or log(t + 1e-3) instead of t):

* ``--model direct``: MLP 3 -> W -> W -> W -> 2 (W = 128, SiLU or Softplus) returning the
  score; exported with parametrisation "score".
* ``--model potential`` (Deveney et al.): MLP 3 -> W -> W -> W -> 1 (W = 80, Softplus
  with beta = 100) returning u(x, t); the score s = grad_x u is taken by autograd with
  create_graph; exported with parametrisation "potential".

Loss, per batch of data x0, times t ~ U(t0 + eps, T) and noise z, x_t = m x0 + sqrt(v) z:

    DSM = mean |sqrt(v) s(x_t, t) + z|^2          (weighting lambda(t) = v(t))
    + w_log   * mean R(x_t, t)^2                  (--log-penalty, potential model only)
    + w_score * mean |r(x_t, t)|^2                (--score-penalty, either model)

with R, r the log-form and score-form Fokker-Planck residuals (MATH.md section 3,
scorefp_torch.log_residual / score_residual, exact autograd derivatives) at the DSM
points (the first --penalty-batch of them, on every --penalty-every-th iteration).
Adam with learning rate --lr, decayed geometrically to --lr-final at the last iteration.

Example (tests/data/models/make_models.sh has the shipped models' commands):

    /usr/bin/python3 postprocess/train_score.py --data blob --process VP --model direct \\
        --iterations 2000 --batch 512 --seed 1 --out blob-vp-direct.pt
"""

import argparse
import os
import shlex
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scorefp_torch as st  # noqa: E402

ACTIVATIONS = {"silu": torch.nn.SiLU, "softplus": torch.nn.Softplus}


TIME_FEATURES = ("t", "sqrt", "log")


def time_feature(t: torch.Tensor, kind: str) -> torch.Tensor:
    """What the network's time input is: t, sqrt(t) or log(t + 1e-3)."""
    if kind == "sqrt":
        return torch.sqrt(t)
    if kind == "log":
        return torch.log(t + 1e-3)
    return t


def mlp(inputs, width, depth, outputs, activation, beta):
    """inputs -> width (depth hidden layers, each Linear then the activation) -> outputs."""
    layers, size = [], inputs
    for _ in range(depth):
        layers.append(torch.nn.Linear(size, width))
        layers.append(torch.nn.Softplus(beta=beta) if activation == "softplus"
                      else ACTIVATIONS[activation]())
        size = width
    layers.append(torch.nn.Linear(size, outputs))
    return torch.nn.Sequential(*layers)


class DirectScore(torch.nn.Module):
    """MLP (x, t) -> s: (d + 1) -> width x depth -> d."""

    def __init__(self, dimension=2, width=128, depth=3, activation="silu", beta=1.0,
                 time_feature="t"):
        super().__init__()
        self.time_feature = time_feature
        self.net = mlp(dimension + 1, width, depth, dimension, activation, beta)
        self.dimension = dimension

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, time_feature(t, self.time_feature)[:, None]], 1))


class PotentialScore(torch.nn.Module):
    """MLP (x, t) -> u (Deveney et al.): (d + 1) -> width x depth -> 1; s = grad_x u."""

    def __init__(self, dimension=2, width=80, depth=3, activation="softplus", beta=100.0,
                 time_feature="t"):
        super().__init__()
        self.time_feature = time_feature
        self.net = mlp(dimension + 1, width, depth, 1, activation, beta)
        self.dimension = dimension

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, time_feature(t, self.time_feature)[:, None]], 1)).squeeze(-1)


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].rstrip(".") + ". Loss: denoising score matching with "
        "weighting v(t), plus optional Fokker-Planck residual penalties; the result is a "
        "TorchScript file with scorefp.json metadata (postprocess/SCORE_MODEL_FORMAT.md).",
        epilog="Data sets: " + "; ".join("%s: %s" % (k, st.DATA_DESCRIPTIONS[k])
                                         for k in ("blob", "checkerboard", "8gaussians")))
    parser.add_argument("--data", choices=("blob", "checkerboard", "8gaussians"), default="blob",
                        help="2D data set (default blob)")
    st.add_process_arguments(parser)
    parser.add_argument("--model", choices=("direct", "potential"), default="direct",
                        help="direct: the MLP returns the score; potential: it returns u and "
                             "s = grad u (default direct)")
    parser.add_argument("--width", type=int,
                        help="hidden width (default 128 direct, 80 potential)")
    parser.add_argument("--depth", type=int, default=3, help="hidden layers (default 3)")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS),
                        help="default silu (direct), softplus (potential)")
    parser.add_argument("--softplus-beta", type=float,
                        help="Softplus beta (default 100 potential, 1 direct)")
    parser.add_argument("--time-feature", choices=TIME_FEATURES, default="t",
                        help="the network's time input, computed inside the model from t: t, "
                             "sqrt(t) or log(t + 1e-3) (default t; the file's time input is t "
                             "in every case)")
    parser.add_argument("--iterations", type=int, default=2000, help="Adam steps (default 2000)")
    parser.add_argument("--batch", type=int, default=512, help="DSM batch size (default 512)")
    parser.add_argument("--penalty-batch", type=int,
                        help="how many of the DSM points the penalties use (default: all)")
    parser.add_argument("--penalty-every", type=int, default=1,
                        help="compute the penalties on every N-th iteration only, with their "
                             "full weight (default 1: every iteration)")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    parser.add_argument("--lr-final", type=float, default=1e-4,
                        help="learning rate at the last iteration, reached geometrically "
                             "(default 1e-4; equal to --lr for a constant rate)")
    parser.add_argument("--eps", type=float, default=1e-3,
                        help="smallest training time t0 + eps (default 1e-3)")
    parser.add_argument("--log-penalty", type=float, default=0.0,
                        help="weight of mean R^2, the log-form residual (potential model only; "
                             "default 0)")
    parser.add_argument("--score-penalty", type=float, default=0.0,
                        help="weight of mean |r|^2, the score-form residual (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--print-every", type=int, default=250,
                        help="progress line every N iterations (default 250): iteration, mean "
                             "loss, DSM and penalties over the last N, elapsed seconds")
    parser.add_argument("--evaluate", action="store_true",
                        help="after training, print the p_t-weighted mean |r|^2 at t = 0.1, "
                             "0.3, 0.6, 1 (scorefp_torch.residual_report)")
    parser.add_argument("--out", required=True, help="TorchScript file to write")
    args = parser.parse_args(argv)
    if args.log_penalty > 0 and args.model != "potential":
        parser.error("--log-penalty needs --model potential (the log form needs u).")
    if args.log_penalty < 0 or args.score_penalty < 0:
        parser.error("penalty weights must be >= 0.")
    if args.penalty_every < 1:
        parser.error("--penalty-every must be >= 1.")
    return args


def build_model(args):
    if args.model == "direct":
        return DirectScore(2, args.width or 128, args.depth, args.activation or "silu",
                           args.softplus_beta or 1.0, args.time_feature)
    return PotentialScore(2, args.width or 80, args.depth, args.activation or "softplus",
                          args.softplus_beta or 100.0, args.time_feature)


def model_score(model, kind):
    """The score callable of a trained module (direct: itself; potential: grad u)."""
    return model if kind == "direct" else st.gradient_score(model)


def train(args, log=print):
    """Train per args; returns (model, final mean loss)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    process = st._process_from_args(args)
    model = build_model(args).double()
    score = model_score(model, args.model)
    generator = torch.Generator()
    generator.manual_seed(args.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    decay = 1.0
    if args.lr_final is not None and args.iterations > 1:
        decay = (args.lr_final / args.lr) ** (1.0 / (args.iterations - 1))
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimiser, decay)
    t_low, t_high = process.start_time + args.eps, process.final_time
    n_penalty = min(args.penalty_batch or args.batch, args.batch)

    start = time.time()
    sums, count, penalised, last = [0.0, 0.0, 0.0, 0.0], 0, 0, float("nan")
    for iteration in range(1, args.iterations + 1):
        x0 = st.sample_data(args.data, args.batch, generator)
        t = t_low + (t_high - t_low) * torch.rand(args.batch, generator=generator,
                                                  dtype=torch.float64)
        z = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
        m = process.transition_m(t)[:, None]
        sqrt_v = torch.sqrt(process.transition_v(t))[:, None]
        x = (m * x0 + sqrt_v * z).requires_grad_(True)
        t = t.requires_grad_(True)
        dsm = ((sqrt_v * score(x, t) + z) ** 2).sum(1).mean()
        loss = dsm
        log_term = score_term = torch.zeros((), dtype=torch.float64)
        penalise = iteration % args.penalty_every == 0
        if penalise:
            penalised += 1
        if args.log_penalty > 0 and penalise:
            log_term = (st.log_residual(model, x[:n_penalty], t[:n_penalty], process,
                                        create_graph=True) ** 2).mean()
            loss = loss + args.log_penalty * log_term
        if args.score_penalty > 0 and penalise:
            score_term = (st.score_residual(score, x[:n_penalty], t[:n_penalty], process,
                                            create_graph=True) ** 2).sum(1).mean()
            loss = loss + args.score_penalty * score_term
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        scheduler.step()
        for k, value in enumerate((loss, dsm, log_term, score_term)):
            sums[k] += float(value)
        count += 1
        if iteration % args.print_every == 0 or iteration == args.iterations:
            last = sums[0] / count
            line = "iteration %6d  loss %.5f  dsm %.5f" % (iteration, last, sums[1] / count)
            if args.log_penalty > 0:
                line += "  log-residual^2 %.4g" % (sums[2] / max(penalised, 1))
            if args.score_penalty > 0:
                line += "  score-residual^2 %.4g" % (sums[3] / max(penalised, 1))
            log(line + "  elapsed %.1f s" % (time.time() - start), flush=True)
            sums, count, penalised = [0.0, 0.0, 0.0, 0.0], 0, 0
    return model, process, last, time.time() - start


def main(argv=None):
    args = parse_arguments(argv)
    command = "postprocess/train_score.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    model, process, loss, elapsed = train(args)
    # No timings here: the same command writes the same file.
    description = ("trained by denoising score matching (weighting v(t), t ~ U(t0 + %g, T)), "
                   "%s model, seed %d, %d iterations of batch %d, final mean loss %.5f, "
                   "torch %s; command: %s"
                   % (args.eps, args.model, args.seed, args.iterations, args.batch, loss,
                      torch.__version__, command))
    parametrisation = "score" if args.model == "direct" else "potential"
    export_path = args.out
    st.export_score(model, export_path, parametrisation=parametrisation, time_input="t",
                    process=process, dimension=2, input_scaling="none", data=args.data,
                    description=description)
    print("wrote %s (%s, %.1f s of training)" % (export_path, parametrisation, elapsed))
    if args.evaluate:
        report = st.residual_report(st.load_score(export_path), process, args.data)
        print("p_t-weighted mean |r|^2: " + ", ".join("t=%g: %.5g" % kv for kv in report.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
