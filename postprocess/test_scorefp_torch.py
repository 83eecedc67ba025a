#!/usr/bin/python3
"""Tests of postprocess/scorefp_torch.py and postprocess/train_score.py.

    /usr/bin/python3 postprocess/test_scorefp_torch.py [-v]

Export/load keeps the scorefp.json metadata (SCORE_MODEL_FORMAT.md); the exact
Gaussian-mixture score in every parametrisation, time input and input scaling gives back
the same s to 1e-12 through the format's conversion formulas; autograd Fokker-Planck
residuals of the exact mixture vanish to round-off; a direct MLP has a curl, a potential
model none; bad arguments raise ValueError; the trainer runs and exports; the shipped
models in tests/data/models load. One thread, well under a minute.
"""

import contextlib
import io
import json
import math
import os
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scorefp_torch as st  # noqa: E402
import train_score  # noqa: E402

MODELS = os.path.join(os.path.dirname(HERE), "tests", "data", "models")
SHIPPED = {"blob-vp-direct.pt": "score", "blob-vp-direct-fp.pt": "score",
           "blob-vp-potential.pt": "potential", "blob-vp-potential-fp.pt": "potential"}
F64 = torch.float64


def points(n, d, seed, scale=2.0):
    g = torch.Generator()
    g.manual_seed(seed)
    return scale * torch.randn(n, d, generator=g, dtype=F64)


def relative_error(a, b):
    """max |a - b| / max |b| (max |a - b| where b = 0)."""
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-300)) if float(
        b.abs().max()) > 0 else float((a - b).abs().max())


class TemporaryDirectory(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()


class Numbers(unittest.TestCase):
    def test_shortest_form(self):
        for x, text in [(0.1, "0.1"), (20.0, "20"), (0.0, "0"), (1.0, "1"), (50.0, "50"),
                        (0.01, "0.01"), (-2.5, "-2.5"), (1e-5, "1e-05"), (1e5, "1e+05"),
                        (12345.0, "12345"), (0.0845, "0.0845"), (1.5e300, "1.5e+300")]:
            self.assertEqual(st.format_number(x), text)
            self.assertEqual(float(st.format_number(x)), x)


class Processes(unittest.TestCase):
    def test_entries(self):
        self.assertEqual(st.VPProcess().entries(),
                         {"Type": "VP", "Start time": "0", "Final time": "1",
                          "beta min": "0.1", "beta max": "20"})
        self.assertEqual(st.VEProcess().entries(),
                         {"Type": "VE", "Start time": "0", "Final time": "1",
                          "sigma min": "0.01", "sigma max": "50"})
        self.assertEqual(st.OUProcess(final_time=10, diffusion=1).entries(),
                         {"Type": "OU", "Start time": "0", "Final time": "10",
                          "OU rate": "1", "OU diffusion": "1"})
        for p in (st.VPProcess(0.05, 10), st.VEProcess(), st.OUProcess(2, 3, 0.1, 5)):
            q = st.process_from_entries(p.entries())
            self.assertEqual(q.entries(), p.entries())
        with self.assertRaises(ValueError):
            st.process_from_entries({"Type": "EDM"})
        with self.assertRaises(ValueError):
            st.process_from_entries({"Type": "VP", "sigma min": "1"})

    def test_coefficients(self):
        """m' = -a m and v' = -2 a v + g^2 (autograd); sigma and the time inputs invert."""
        t = torch.tensor([0.02, 0.1, 0.4, 0.8, 1.0], dtype=F64, requires_grad=True)
        for p in (st.VPProcess(), st.VEProcess(), st.OUProcess(), st.OUProcess(1.0, 1.0),
                  st.VPProcess(start_time=0.01), st.OUProcess(start_time=0.3, final_time=2)):
            tt = p.start_time + (p.final_time - p.start_time) * t
            m, v = p.m(tt), p.v(tt)
            dm = (torch.autograd.grad(m.sum(), t, retain_graph=True)[0] if m.requires_grad
                  else torch.zeros_like(t)) / (p.final_time - p.start_time)
            dv = torch.autograd.grad(v.sum(), t)[0] / (p.final_time - p.start_time)
            with torch.no_grad():
                self.assertLess(relative_error(dm, -p.a(tt) * m), 1e-13, p.type_name)
                self.assertLess(relative_error(dv, -2 * p.a(tt) * v + p.g2(tt)), 1e-13)
                self.assertLess(float((p.transition_m(torch.tensor([p.start_time])) - 1).abs()),
                                1e-15)
                self.assertLess(float(p.transition_v(torch.tensor([p.start_time], dtype=F64))
                                      .abs()), 1e-15)
                for kind in st.TIME_INPUTS:
                    back = p.time_from_input(p.time_input(tt, kind, 1000), kind, 1000)
                    self.assertLess(float((back - tt).abs().max()), 1e-13, (p.type_name, kind))
        vp = st.VPProcess()
        self.assertTrue(vp.mean_square_is_one() and st.OUProcess().mean_square_is_one())
        self.assertFalse(st.VEProcess().mean_square_is_one()
                         or st.OUProcess(1.0, 1.0).mean_square_is_one())
        t = torch.linspace(0, 1, 11, dtype=F64)
        self.assertLess(float((vp.m(t) ** 2 + vp.v(t) - 1).abs().max()), 1e-15)


class Data(unittest.TestCase):
    def test_samplers(self):
        a = st.sample_data("blob", 20000, 5)
        self.assertTrue(torch.equal(a, st.sample_data("blob", 20000, 5)))
        self.assertEqual(tuple(a.shape), (20000, 2))
        # blob: mean 0, variance 0.0845 + 0.65^2 * (4*4 + 2*16)/9 per coordinate.
        self.assertLess(float(a.mean(0).abs().max()), 0.05)
        self.assertAlmostEqual(float(a.var(0).mean()), 0.0845 + 0.65 ** 2 * 48 / 9, delta=0.06)
        e = st.sample_data("8gaussians", 20000, 1)
        self.assertAlmostEqual(float((e ** 2).sum(1).mean()), 8 + 2 * 0.125, delta=0.1)
        c = st.sample_data("checkerboard", 20000, 2)
        self.assertTrue(bool(((c >= -3) & (c <= 3)).all()))
        i, j = torch.floor((c[:, 0] + 3) / 1.5), torch.floor((c[:, 1] + 3) / 1.5)
        self.assertTrue(bool(((i + j) % 2 == 0).all()))
        self.assertEqual(len(st.checkerboard_corners()), 8)
        self.assertIn([-3.0, -3.0], st.checkerboard_corners())
        self.assertNotIn([-1.5, -3.0], st.checkerboard_corners())
        self.assertEqual(st.data_dimension("gaussian1d"), 1)
        self.assertEqual(st.data_dimension("gaussian3d"), 3)


class ExactMixture(unittest.TestCase):
    def test_against_formula(self):
        """A one-component mixture: s = -(x - m mu) / (m^2 c + v)."""
        vp = st.VPProcess()
        score = st.GaussianMixtureScore([2.0], [[0.5, -0.3]], [[0.6, 0.1]], vp)
        x, t = points(7, 2, 1), torch.linspace(0.0, 1.0, 7, dtype=F64)
        m, v = vp.m(t)[:, None], vp.v(t)[:, None]
        c = m * m * torch.tensor([0.6, 0.1], dtype=F64) + v
        expected = -(x - m * torch.tensor([0.5, -0.3], dtype=F64)) / c
        self.assertLess(relative_error(score(x, t), expected), 1e-14)
        log_p = (-0.5 * ((x - m * torch.tensor([0.5, -0.3], dtype=F64)) ** 2 / c
                         + torch.log(2 * math.pi * c))).sum(1)
        self.assertLess(relative_error(score.log_density(x, t), log_p), 1e-14)
        scripted = torch.jit.script(score)
        self.assertTrue(torch.equal(scripted(x, t), score(x, t)))

    def test_parametrisations(self):
        """Every parametrisation x time input x input scaling gives back s to 1e-12."""
        t = torch.tensor([0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 1.0], dtype=F64)
        for process in (st.VPProcess(), st.VEProcess(), st.OUProcess()):
            exact = st.exact_score("blob", process)
            x = points(8, 2, 3) * torch.sqrt(process.m(t) ** 2 * 3 + process.v(t))[:, None]
            s = exact(x, t)
            for parametrisation in st.PARAMETRISATIONS:
                if parametrisation == "velocity" and not process.mean_square_is_one():
                    with self.assertRaises(ValueError):
                        st.Reparametrised(exact, parametrisation)
                    continue
                for time_input in st.TIME_INPUTS:
                    for scaling in st.INPUT_SCALINGS:
                        model = st.Reparametrised(exact, parametrisation, time_input, scaling,
                                                  steps=1000)
                        back = st.ModelScore(model, process, parametrisation, time_input,
                                             scaling, steps=1000)(x, t)
                        what = (process.type_name, parametrisation, time_input, scaling)
                        self.assertLess(relative_error(back.detach(), s), 1e-12, what)

    def test_conversion_formulas(self):
        """The outputs are the format's quantities, written out here once more."""
        vp = st.VPProcess()
        exact = st.exact_score("blob", vp)
        t = torch.tensor([0.2, 0.5, 0.9], dtype=F64)
        x = points(3, 2, 4)
        m, v = vp.m(t)[:, None], vp.v(t)[:, None]
        sigma = torch.sqrt(v) / m
        s = exact(x, t)
        eps = st.Reparametrised(exact, "noise", "edm")(x, 0.25 * torch.log(sigma[:, 0]))
        self.assertLess(relative_error(-eps / torch.sqrt(v), s), 1e-12)
        x0 = st.Reparametrised(exact, "data", "sigma", "x/m")(x / m, sigma[:, 0])
        self.assertLess(relative_error((m * x0 - x) / v, s), 1e-12)
        vel = st.Reparametrised(exact, "velocity", "step", steps=11)(x, 10 * t)
        self.assertLess(relative_error(-(m * vel + torch.sqrt(v) * x) / torch.sqrt(v), s),
                        1e-12)

    def test_residuals_vanish(self):
        """Score-form and log-form residuals of the exact mixture are round-off (VP)."""
        vp = st.VPProcess()
        for name in ("blob", "gaussian1d", "gaussian3d"):
            exact = st.exact_score(name, vp)
            for t_value in (0.05, 0.3, 0.7, 1.0):
                t = torch.full((16,), t_value, dtype=F64)
                x = points(16, exact.dimension, 7) * math.sqrt(
                    float(vp.m(t[:1])) ** 2 * 3 + float(vp.v(t[:1])))
                r, ds_dt, grad_phi = st.score_residual(exact, x, t, vp, parts=True)
                scale = float(ds_dt.abs().max() + grad_phi.abs().max())
                self.assertLess(float(r.abs().max()) / scale, 1e-8, (name, t_value))
                big_r, du_dt, bracket = st.log_residual(exact.log_density, x, t, vp, parts=True)
                scale = float(du_dt.abs().max() + bracket.abs().max())
                self.assertLess(float(big_r.abs().max()) / scale, 1e-8, (name, t_value))
        # ... and for VE and OU in 2D, through a loaded noise / potential model.
        for process in (st.VEProcess(), st.OUProcess()):
            exact = st.exact_score("8gaussians", process)
            t = torch.full((8,), 0.4, dtype=F64)
            x = points(8, 2, 8, 3.0)
            r, ds_dt, grad_phi = st.score_residual(
                st.ModelScore(st.Reparametrised(exact, "noise", "sigma"), process, "noise",
                              "sigma"), x, t, process, parts=True)
            self.assertLess(float(r.abs().max() / (ds_dt.abs().max() + grad_phi.abs().max())),
                            1e-8)

    def test_wrong_residual_is_not_small(self):
        """The residual sees a wrong field: the exact score of the wrong process."""
        exact = st.exact_score("blob", st.VPProcess(beta_max=10))
        t = torch.full((16,), 0.3, dtype=F64)
        r, ds_dt, grad_phi = st.score_residual(exact, points(16, 2, 9), t, st.VPProcess(),
                                               parts=True)
        self.assertGreater(float(r.abs().max() / (ds_dt.abs().max() + grad_phi.abs().max())),
                           1e-2)


class ExportLoad(TemporaryDirectory):
    def test_round_trip(self):
        vp = st.VPProcess()
        exact = st.exact_score("blob", vp)
        model = st.Reparametrised(exact, "noise", "step", "x/m", steps=1000)
        path = os.path.join(self.tmp, "m.pt")
        written = st.export_score(model, path, "noise", "step", vp, steps=1000,
                                  input_scaling="x/m", data="blob", description="a test")
        metadata = st.load_metadata(path)
        self.assertEqual(metadata, written)
        self.assertEqual(list(metadata), ["format", "dimension", "parametrisation", "time input",
                                          "steps", "input scaling", "dtype", "process", "data",
                                          "description"])
        self.assertEqual(metadata["format"], "scorefp score model 1")
        self.assertEqual(metadata["dimension"], 2)
        self.assertEqual(metadata["process"], vp.entries())
        self.assertEqual((metadata["parametrisation"], metadata["time input"], metadata["steps"],
                          metadata["input scaling"], metadata["dtype"], metadata["data"],
                          metadata["description"]),
                         ("noise", "step", 1000, "x/m", "float64", "blob", "a test"))
        # The extra file as torch reads it, and the loaded module's values.
        extra = {"scorefp.json": ""}
        loaded = torch.jit.load(path, _extra_files=extra)
        self.assertEqual(json.loads(extra["scorefp.json"]), written)
        x, tau = points(5, 2, 2), torch.tensor([1.0, 100, 400, 800, 999], dtype=F64)
        self.assertTrue(torch.equal(loaded(x, tau), model(x, tau)))
        t = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=F64)
        self.assertLess(relative_error(st.load_score(path)(x, t).detach(), exact(x, t)), 1e-12)

    def test_every_parametrisation_exported(self):
        """Scripted, saved and loaded: still s to 1e-12 (VP, all time inputs)."""
        vp = st.VPProcess()
        exact = st.exact_score("blob", vp)
        t = torch.tensor([0.05, 0.2, 0.6, 1.0], dtype=F64)
        x = points(4, 2, 5)
        path = os.path.join(self.tmp, "p.pt")
        for parametrisation in st.PARAMETRISATIONS:
            for time_input in st.TIME_INPUTS:
                scaling = "x/m" if parametrisation == "data" else "none"
                st.export_score(st.Reparametrised(exact, parametrisation, time_input, scaling, 50),
                                path, parametrisation, time_input, vp, steps=50,
                                input_scaling=scaling)
                back = st.load_score(path)(x, t).detach()
                self.assertLess(relative_error(back, exact(x, t)), 1e-12,
                                (parametrisation, time_input))
                if parametrisation == "potential" and time_input == "edm":
                    # The loaded TorchScript potential differentiates to third order.
                    loaded = st.load_score(path)
                    big_r, du_dt, bracket = st.log_residual(loaded.potential, x, t, vp, parts=True)
                    self.assertLess(float(big_r.abs().max() / bracket.abs().max()), 1e-8)
                    r, ds_dt, grad_phi = st.score_residual(loaded, x, t, vp, parts=True)
                    self.assertLess(float(r.abs().max() / grad_phi.abs().max()), 1e-8)

    def test_rejects(self):
        exact = st.exact_score("blob", st.VPProcess())
        path = os.path.join(self.tmp, "bad.pt")
        for keywords in ({"parametrisation": "epsilon"}, {"time_input": "log-sigma"},
                         {"input_scaling": "x*m"}, {"time_input": "step"},
                         {"steps": 1}):
            with self.assertRaises(ValueError) as caught:
                st.export_score(exact, path, **keywords)
            self.assertTrue(str(caught.exception).endswith("."), str(caught.exception))
        with self.assertRaisesRegex(ValueError, "parametrisation 'epsilon'.*score, noise"):
            st.export_score(exact, path, parametrisation="epsilon")
        with self.assertRaisesRegex(ValueError, "velocity"):
            st.export_score(st.exact_score("blob", st.VEProcess()), path, "velocity",
                            process=st.VEProcess())
        with self.assertRaisesRegex(ValueError, "shape"):  # a score where a potential is due
            st.export_score(exact, path, "potential")
        self.assertFalse(os.path.exists(path))
        with self.assertRaises(ValueError):
            st.Reparametrised(exact, "logit")

    def test_trace_fallback_and_dtype(self):
        class Unscriptable(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = torch.nn.Parameter(torch.ones(2, dtype=torch.float32))
                self.f = lambda x, t: -x * self.scale * (1 + t[:, None])

            def forward(self, x, t):
                return self.f(x, t)

        path = os.path.join(self.tmp, "traced.pt")
        with contextlib.redirect_stderr(io.StringIO()) as err:
            metadata = st.export_score(Unscriptable(), path, dimension=2)
        self.assertIn("tracing", err.getvalue())
        self.assertEqual(metadata["dtype"], "float32")
        self.assertNotIn("process", metadata)
        x = torch.ones(3, 2, dtype=torch.float32)
        out = torch.jit.load(path)(x, torch.zeros(3, dtype=torch.float32))
        self.assertTrue(torch.equal(out, -x))

    def test_command_line(self):
        """export-exact for the 1D and 3D mixtures and a custom one."""
        for data, d, args in (("gaussian1d", 1, ["--parametrisation", "data", "--time-input",
                                                 "edm", "--input-scaling", "x/m"]),
                              ("gaussian3d", 3, ["--parametrisation", "potential", "--process",
                                                 "OU"]),
                              ("custom", 2, ["--weights", "0.3,0.7", "--means", "-1,0; 1.5,0.5",
                                             "--variances", "0.2; 0.1,0.3", "--process", "VE",
                                             "--parametrisation", "noise"])):
            path = os.path.join(self.tmp, data + ".pt")
            self.assertEqual(st.main(["export-exact", "--data", data, "--out", path, "--quiet"]
                                     + args), 0)
            score = st.load_score(path)
            self.assertEqual(score.metadata["dimension"], d)
            self.assertEqual(score.metadata["data"],
                             "custom Gaussian mixture" if data == "custom" else data)
            if data == "custom":
                exact = st.GaussianMixtureScore([0.3, 0.7], [[-1, 0], [1.5, 0.5]],
                                                [[0.2, 0.2], [0.1, 0.3]], score.process)
            else:
                exact = st.exact_score(data, score.process)
            t = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
            x = points(3, d, 6, 1.0)
            self.assertLess(relative_error(score(x, t).detach(), exact(x, t)), 1e-12, data)
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(st.main(["export-exact", "--data", "custom", "--out",
                                      os.path.join(self.tmp, "x.pt")]), 2)
        # float32: computed in single precision, converted at the boundary.
        path = os.path.join(self.tmp, "f32.pt")
        st.main(["export-exact", "--data", "blob", "--dtype", "float32", "--parametrisation",
                 "data", "--time-input", "edm", "--input-scaling", "x/m", "--out", path,
                 "--quiet"])
        score = st.load_score(path)
        self.assertEqual(score.metadata["dtype"], "float32")
        t, x = torch.tensor([0.1, 0.5, 0.9], dtype=F64), points(3, 2, 6, 1.0)
        error = relative_error(score(x, t).detach(), st.exact_score("blob", score.process)(x, t))
        self.assertLess(error, 1e-4)
        self.assertGreater(error, 1e-12)
        self.assertEqual(st.mixture_parameters("gaussian1d"),
                         ([0.3, 0.7], [[-1.0], [1.0]], [0.1, 0.2]))


class Networks(TemporaryDirectory):
    def test_curl(self):
        torch.manual_seed(0)
        x, t = points(32, 2, 10, 1.5), torch.linspace(0.05, 1, 32, dtype=F64)
        direct = train_score.DirectScore().double()
        j = st.jacobian(direct, x, t)
        self.assertGreater(float(st.curl(direct, x, t).abs().max() / j.abs().max()), 1e-2)
        potential = train_score.PotentialScore().double()
        score = st.gradient_score(potential)
        j = st.jacobian(score, x, t)
        self.assertLess(float(st.curl(score, x, t).abs().max() / j.abs().max()), 1e-12)
        exact = st.exact_score("gaussian3d", st.VPProcess())
        x3 = points(8, 3, 11)
        self.assertLess(float(st.curl(exact, x3, t[:8]).abs().max()), 1e-12)

    def test_training_runs(self):
        """Two iterations of each model with its penalty: deterministic, exported."""
        outputs = []
        for args in (["--model", "direct", "--score-penalty", "1e-3"],
                     ["--model", "potential", "--log-penalty", "1e-3", "--score-penalty",
                      "1e-4", "--penalty-batch", "16"],
                     ["--model", "direct", "--data", "checkerboard", "--process", "VE"],
                     ["--model", "potential", "--data", "8gaussians", "--process", "OU"],
                     ["--model", "direct", "--score-penalty", "1e-3"]):
            path = os.path.join(self.tmp, "trained.pt")
            with contextlib.redirect_stdout(io.StringIO()) as out:
                train_score.main(args + ["--iterations", "2", "--batch", "32", "--seed", "3",
                                         "--print-every", "1", "--out", path])
            outputs.append([line.split("elapsed")[0] for line in out.getvalue().splitlines()
                            if line.startswith("iteration")])
            metadata = st.load_metadata(path)
            self.assertEqual(metadata["parametrisation"],
                             "score" if "direct" in args else "potential")
            self.assertEqual(metadata["time input"], "t")
            self.assertIn("seed 3", metadata["description"])
            self.assertIn("train_score.py", metadata["description"])
            score = st.load_score(path)
            x = points(4, 2, 1)
            s = score(x, torch.full((4,), 0.5, dtype=F64))
            self.assertEqual(tuple(s.shape), (4, 2))
            self.assertTrue(bool(torch.isfinite(s).all()))
        self.assertEqual(len(outputs[0]), 2)
        self.assertEqual(outputs[0], outputs[-1])  # the same seed, the same losses
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
            train_score.parse_arguments(["--model", "direct", "--log-penalty", "1", "--out", "x"])


class ShippedModels(unittest.TestCase):
    def test_shipped(self):
        missing = [name for name in SHIPPED if not os.path.exists(os.path.join(MODELS, name))]
        if missing:
            self.skipTest("not made yet: " + ", ".join(missing))
        vp = st.VPProcess()
        exact = st.exact_score("blob", vp)
        x = (st.sample_data("blob", 256, 0) * float(vp.m(torch.tensor(0.5)))
             + 0.1 * points(256, 2, 0))
        t = torch.full((256,), 0.5, dtype=F64)
        for name, parametrisation in SHIPPED.items():
            path = os.path.join(MODELS, name)
            self.assertLess(os.path.getsize(path), 1 << 20)
            score = st.load_score(path)
            self.assertEqual(score.metadata["parametrisation"], parametrisation)
            self.assertEqual(score.metadata["process"], vp.entries())
            self.assertEqual(score.metadata["data"], "blob")
            s = score(x, t).detach()
            # A trained model: within 50% of the exact score in the mean square.
            self.assertLess(float(((s - exact(x, t)) ** 2).sum(1).mean()
                                  / (exact(x, t) ** 2).sum(1).mean()), 0.5, name)
        # The penalties lower the score-form residual (README.md there: 6.9x and 2.7x).
        residual = {name: sum(st.residual_report(st.load_score(os.path.join(MODELS, name)), vp,
                                                 "blob", (0.3, 0.6), 200, 0).values())
                    for name in SHIPPED}
        self.assertLess(residual["blob-vp-direct-fp.pt"], 0.5 * residual["blob-vp-direct.pt"])
        self.assertLess(residual["blob-vp-potential-fp.pt"],
                        0.5 * residual["blob-vp-potential.pt"])


if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main()
