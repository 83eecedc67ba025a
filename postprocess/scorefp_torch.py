#!/usr/bin/python3
"""Score models for scorefp in PyTorch: processes, data sets, exact scores, export.

scorefp reads a learned score as a TorchScript file with a ``scorefp.json`` extra file
(``postprocess/SCORE_MODEL_FORMAT.md``). This module writes such files and provides what
training and cross-checking need (notation of ``MATH.md``: x_t = m(t) x_0 + sqrt(v(t)) z):

* Processes, as TorchScript-able modules with ``m(t)``, ``v(t)``, ``a(t)``, ``g2(t)``
  and ``entries()`` (scorefp's section Process as text): :class:`VPProcess`,
  :class:`VEProcess`, :class:`OUProcess`; :func:`make_process`,
  :func:`process_from_entries`.
* Data sets: :func:`sample_data` ("blob", "8gaussians", "checkerboard" and the mixtures
  of :data:`MIXTURES`), :func:`mixture_parameters`.
* The exact score of a Gaussian mixture, :class:`GaussianMixtureScore` (float64,
  log-sum-exp, differentiable, ``torch.jit.script``-able), and :class:`Reparametrised`,
  the same field as a model in another parametrisation (noise, data, velocity,
  potential), time input (t, sigma, edm, step) and input scaling (none, x/m).
* :func:`export_score` (script or trace, check, save with the metadata),
  :func:`load_metadata`, :func:`load_score` and :class:`ModelScore`, which turns any
  model back into s(x, t) with the formulas of SCORE_MODEL_FORMAT.md (what scorefp does).
* Fokker-Planck residuals by autograd (exact, no trace estimator):
  :func:`score_residual` (score form, Lai et al.), :func:`log_residual` (log form,
  Deveney et al.), :func:`jacobian`, :func:`curl`, :func:`residual_report`;
  :func:`fisher_report` (relative Fisher divergence against an exact mixture score).

Typical use::

    import torch, scorefp_torch as st

    vp = st.VPProcess()
    exact = st.exact_score("blob", vp)                     # s(x, t), a torch.nn.Module
    model = st.Reparametrised(exact, "noise", time_input="sigma")
    st.export_score(model, "blob-noise.pt", parametrisation="noise",
                    time_input="sigma", process=vp, data="blob")
    score = st.load_score("blob-noise.pt")                 # back to s(x, t)
    r = st.score_residual(score, x, t, vp)                 # ~ round-off

Command line (``/usr/bin/python3 postprocess/scorefp_torch.py --help``)::

    scorefp_torch.py export-exact --data blob --process VP --parametrisation noise \\
        --time-input sigma --out /tmp/blob-noise.pt
    scorefp_torch.py info MODEL.pt
    scorefp_torch.py residual MODEL.pt [MODEL.pt ...] --times 0.1,0.3,0.6,1.0
    scorefp_torch.py fisher MODEL.pt [MODEL.pt ...]

Conventions: processes and models compute in the dtype of their inputs (float64 here);
m, v in the parametrisations and time inputs are the transition coefficients from the
process's Start time t0 (m(t)/m(t0), v(t) - (m(t)/m(t0))^2 v(t0), as scorefp's
ForwardProcess::transition_*), equal to m(t), v(t) for t0 = 0; the velocity
parametrisation is accepted where m^2 + v = 1 (VP, and OU with OU diffusion = 2 OU rate).
"""

import argparse
import decimal
import json
import math
import sys
import zipfile
from typing import Dict

import torch

# TorchScript's optimising graph executor (torch 1.13), which takes over from a module's
# second call, returns non-finite Hessians of Softplus networks differentiated twice
# with create_graph; scorefp (torchscript_score.cc) turns it off too, so both evaluate
# the same way.
torch._C._set_graph_executor_optimize(False)

#: The ``format`` value of the metadata this module writes.
FORMAT = "scorefp score model 1"
#: The name of the extra file that holds the metadata.
METADATA_FILE = "scorefp.json"
PARAMETRISATIONS = ("score", "noise", "data", "velocity", "potential")
TIME_INPUTS = ("t", "sigma", "edm", "step")
INPUT_SCALINGS = ("none", "x/m")
DTYPES = {"float64": torch.float64, "float32": torch.float32}


# --------------------------------------------------------------------------------------
# Numbers as scorefp writes them
# --------------------------------------------------------------------------------------

def format_number(x):
    """The shortest text that reads back as the double x, as scorefp's C++ writes it.

    That is std::to_chars: the shortest round-trip digits, in fixed notation unless the
    scientific one (exponent with at least two digits) is shorter. "0.1", "20", "1e-05".
    """
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        raise ValueError("A process entry must be a finite number, not %r." % x)
    if x == 0.0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    sign, digits, exponent = decimal.Decimal(repr(abs(x))).as_tuple()
    text = "".join(str(k) for k in digits).rstrip("0") or "0"
    exponent += len(digits) - len(text)  # value = int(text) * 10**exponent
    n = len(text)
    scientific_exponent = exponent + n - 1
    scientific = text[0] + ("." + text[1:] if n > 1 else "") + "e" + (
        "-" if scientific_exponent < 0 else "+") + "%02d" % abs(scientific_exponent)
    if exponent >= 0:
        fixed = text + "0" * exponent
    elif n + exponent > 0:
        fixed = text[:n + exponent] + "." + text[n + exponent:]
    else:
        fixed = "0." + "0" * (-(n + exponent)) + text
    best = scientific if len(scientific) < len(fixed) else fixed
    return ("-" if x < 0 else "") + best


# --------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------

class Process(torch.nn.Module):
    """An affine forward process dX = -a(t) X dt + g(t) dW (MATH.md section 1).

    Subclasses define ``m(t)`` = exp(-int_0^t a), ``v(t)`` (the variance from t = 0),
    ``a(t)``, ``g2(t)`` = g(t)^2 and ``_t_from_sigma0_squared``, the inverse of
    v(t) / m(t)^2. Every method takes and returns tensors (any shape, the dtype of t),
    so processes can be submodules of scripted models.

    Data are placed at ``start_time`` t0 (default 0), as in scorefp: the law of X_t given
    X_t0 = x0 is N(transition_m(t) x0, transition_v(t) I); for t0 = 0 these are m and v.
    The parametrisations and time inputs of SCORE_MODEL_FORMAT.md use the transition
    coefficients.
    """

    def __init__(self, type_name: str, start_time: float, final_time: float):
        super().__init__()
        self.type_name = type_name
        self.start_time = float(start_time)
        self.final_time = float(final_time)
        if not self.final_time > self.start_time >= 0.0:
            raise ValueError("The process needs 0 <= Start time < Final time (got %r, %r)."
                             % (start_time, final_time))

    def transition_m(self, t: torch.Tensor) -> torch.Tensor:
        """m(t) / m(t0): the mean factor of X_t given X_t0."""
        if self.start_time == 0.0:
            return self.m(t)
        return self.m(t) / self.m(torch.full_like(t, self.start_time))

    def transition_v(self, t: torch.Tensor) -> torch.Tensor:
        """v(t) - (m(t)/m(t0))^2 v(t0): the variance of X_t given X_t0."""
        if self.start_time == 0.0:
            return self.v(t)
        ratio = self.transition_m(t)
        return self.v(t) - ratio * ratio * self.v(torch.full_like(t, self.start_time))

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        """sigma(t) = sqrt(v) / m (transition coefficients)."""
        return torch.sqrt(self.transition_v(t)) / self.transition_m(t)

    def t_from_sigma(self, sigma: torch.Tensor) -> torch.Tensor:
        """The inverse of sigma(t), in closed form."""
        if self.start_time == 0.0:
            return self._t_from_sigma0_squared(sigma * sigma)
        t0 = torch.full_like(sigma, self.start_time)
        m0 = self.m(t0)
        return self._t_from_sigma0_squared((sigma * sigma + self.v(t0)) / (m0 * m0))

    def time_input(self, t: torch.Tensor, kind: str, steps: int) -> torch.Tensor:
        """The model's time input for time t: kind is "t", "sigma", "edm" or "step"."""
        if kind == "t":
            return t
        if kind == "sigma":
            return self.sigma(t)
        if kind == "edm":
            return 0.25 * torch.log(self.sigma(t))
        if kind == "step":
            return (steps - 1) * (t - self.start_time) / (self.final_time - self.start_time)
        raise ValueError("unknown time input")

    def time_from_input(self, tau: torch.Tensor, kind: str, steps: int) -> torch.Tensor:
        """The time t for the model's time input tau (the inverse of time_input)."""
        if kind == "t":
            return tau
        if kind == "sigma":
            return self.t_from_sigma(tau)
        if kind == "edm":
            return self.t_from_sigma(torch.exp(4.0 * tau))
        if kind == "step":
            return self.start_time + tau * (self.final_time - self.start_time) / (steps - 1)
        raise ValueError("unknown time input")

    @torch.jit.ignore
    def entries(self) -> Dict[str, str]:
        """scorefp's section Process as text: Type, Start time, Final time, settings."""
        result = {"Type": self.type_name, "Start time": format_number(self.start_time),
                  "Final time": format_number(self.final_time)}
        result.update({k: format_number(v) for k, v in self.settings().items()})
        return result

    @torch.jit.ignore
    def settings(self) -> Dict[str, float]:
        """The process's own entries (beyond Type, Start time, Final time) as numbers."""
        raise NotImplementedError

    @torch.jit.ignore
    def mean_square_is_one(self) -> bool:
        """Whether m^2 + v = 1 (VP; OU with q = 2r): the velocity parametrisation's need."""
        return False

    def extra_repr(self):
        return ", ".join("%s=%s" % kv for kv in self.entries().items())


class VPProcess(Process):
    """Variance preserving: beta(t) = beta_min + (beta_max - beta_min) t, B = int_0^t beta,
    m = exp(-B/2), v = 1 - exp(-B), a = beta/2, g^2 = beta."""

    def __init__(self, beta_min=0.1, beta_max=20.0, start_time=0.0, final_time=1.0):
        super().__init__("VP", start_time, final_time)
        self.beta_min = float(beta_min)
        self.beta_max = float(beta_max)
        if not 0.0 < self.beta_min <= self.beta_max:
            raise ValueError("VP needs 0 < beta min <= beta max.")

    def integrated_beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + (self.beta_max - self.beta_min) * t

    def m(self, t: torch.Tensor) -> torch.Tensor:
        return torch.exp(-0.5 * self.integrated_beta(t))

    def v(self, t: torch.Tensor) -> torch.Tensor:
        return -torch.expm1(-self.integrated_beta(t))

    def a(self, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.beta(t)

    def g2(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta(t)

    def _t_from_sigma0_squared(self, s2: torch.Tensor) -> torch.Tensor:
        # v / m^2 = e^B - 1, and B(t) = b0 t + (b1 - b0) t^2 / 2 solved stably for t.
        b = torch.log1p(s2)
        d = self.beta_max - self.beta_min
        return 2.0 * b / (self.beta_min + torch.sqrt(self.beta_min ** 2 + 2.0 * d * b))

    @torch.jit.ignore
    def settings(self):
        return {"beta min": self.beta_min, "beta max": self.beta_max}

    @torch.jit.ignore
    def mean_square_is_one(self):
        return True


class VEProcess(Process):
    """Variance exploding: sigma(t) = sigma_min (sigma_max/sigma_min)^t, m = 1,
    v = sigma^2 - sigma_min^2 (the exact transition variance from t = 0), a = 0,
    g^2 = 2 sigma^2 ln(sigma_max/sigma_min)."""

    def __init__(self, sigma_min=0.01, sigma_max=50.0, start_time=0.0, final_time=1.0):
        super().__init__("VE", start_time, final_time)
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)
        if not 0.0 < self.sigma_min < self.sigma_max:
            raise ValueError("VE needs 0 < sigma min < sigma max.")
        self.log_ratio = math.log(self.sigma_max / self.sigma_min)

    def noise_level(self, t: torch.Tensor) -> torch.Tensor:
        """sigma_min (sigma_max/sigma_min)^t (Song et al.'s sigma(t), not sqrt(v)/m)."""
        return self.sigma_min * torch.exp(self.log_ratio * t)

    def m(self, t: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(t)

    def v(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_min ** 2 * torch.expm1(2.0 * self.log_ratio * t)

    def a(self, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(t)

    def g2(self, t: torch.Tensor) -> torch.Tensor:
        level = self.noise_level(t)
        return 2.0 * self.log_ratio * level * level

    def _t_from_sigma0_squared(self, s2: torch.Tensor) -> torch.Tensor:
        return torch.log1p(s2 / self.sigma_min ** 2) / (2.0 * self.log_ratio)

    @torch.jit.ignore
    def settings(self):
        return {"sigma min": self.sigma_min, "sigma max": self.sigma_max}


class OUProcess(Process):
    """Ornstein-Uhlenbeck: a = r, g^2 = q, m = exp(-r t), v = q (1 - exp(-2 r t)) / (2 r)
    (defaults r = 1, q = 2: stationary law N(0, I))."""

    def __init__(self, rate=1.0, diffusion=2.0, start_time=0.0, final_time=1.0):
        super().__init__("OU", start_time, final_time)
        self.rate = float(rate)
        self.diffusion = float(diffusion)
        if not (self.rate > 0.0 and self.diffusion > 0.0):
            raise ValueError("OU needs OU rate > 0 and OU diffusion > 0.")

    def m(self, t: torch.Tensor) -> torch.Tensor:
        return torch.exp(-self.rate * t)

    def v(self, t: torch.Tensor) -> torch.Tensor:
        return -self.diffusion * torch.expm1(-2.0 * self.rate * t) / (2.0 * self.rate)

    def a(self, t: torch.Tensor) -> torch.Tensor:
        return torch.full_like(t, self.rate)

    def g2(self, t: torch.Tensor) -> torch.Tensor:
        return torch.full_like(t, self.diffusion)

    def _t_from_sigma0_squared(self, s2: torch.Tensor) -> torch.Tensor:
        return torch.log1p(2.0 * self.rate * s2 / self.diffusion) / (2.0 * self.rate)

    @torch.jit.ignore
    def settings(self):
        return {"OU rate": self.rate, "OU diffusion": self.diffusion}

    @torch.jit.ignore
    def mean_square_is_one(self):
        return abs(self.diffusion - 2.0 * self.rate) <= 1e-12 * self.diffusion


#: Process type -> (class, {entry name: keyword argument}).
PROCESSES = {
    "VP": (VPProcess, {"beta min": "beta_min", "beta max": "beta_max"}),
    "VE": (VEProcess, {"sigma min": "sigma_min", "sigma max": "sigma_max"}),
    "OU": (OUProcess, {"OU rate": "rate", "OU diffusion": "diffusion"}),
}


def make_process(type_name, **parameters):
    """A process by type ("VP", "VE", "OU") with keyword arguments of its class, e.g.
    make_process("OU", rate=1, diffusion=1, final_time=10)."""
    if type_name not in PROCESSES:
        raise ValueError("Unknown process type %r; this module knows %s."
                         % (type_name, ", ".join(PROCESSES)))
    return PROCESSES[type_name][0](**parameters)


def process_from_entries(entries):
    """The process that scorefp's section Process entries (text or numbers) describe:
    {"Type": "VP", "Start time": "0", "Final time": "1", "beta min": "0.1", ...}."""
    entries = dict(entries)
    type_name = entries.pop("Type", None)
    if type_name not in PROCESSES:
        raise ValueError("Unknown process type %r; this module knows %s."
                         % (type_name, ", ".join(PROCESSES)))
    names = dict(PROCESSES[type_name][1], **{"Start time": "start_time",
                                              "Final time": "final_time"})
    unknown = sorted(set(entries) - set(names))
    if unknown:
        raise ValueError("Process entries %s are not entries of process %s (known: %s)."
                         % (", ".join(unknown), type_name, ", ".join(names)))
    return make_process(type_name, **{names[k]: float(v) for k, v in entries.items()})


# --------------------------------------------------------------------------------------
# Data sets
# --------------------------------------------------------------------------------------

def _blob():
    points = [(-2, -2), (-2, 2), (2, -2), (2, 2), (0, 0), (-4, 0), (4, 0), (0, -4), (0, 4)]
    return [1.0 / 9] * 9, [[0.65 * a, 0.65 * b] for a, b in points], [0.0845] * 9


def _eight_gaussians():
    means = [[4 / math.sqrt(2) * math.cos(k * math.pi / 4),
              4 / math.sqrt(2) * math.sin(k * math.pi / 4)] for k in range(8)]
    return [1.0 / 8] * 8, means, [(0.5 / math.sqrt(2)) ** 2] * 8


#: Gaussian mixtures by name: () -> (weights [K], means [K][d], covariances: [K] (isotropic)
#: or [K][d] (diagonal)). The parameters are those of scorefp's data sets of the same name.
MIXTURES = {
    "blob": _blob,
    "8gaussians": _eight_gaussians,
    "gaussian1d": lambda: ([0.3, 0.7], [[-1.0], [1.0]], [0.1, 0.2]),
    "normal1d": lambda: ([1.0], [[0.5]], [0.04]),
    "gaussian3d": lambda: ([0.5, 0.5], [[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0]], [0.2, 0.2]),
}

#: What the data sets are, for --help texts.
DATA_DESCRIPTIONS = {
    "blob": "2D, 9 equal-weight Gaussians, means 0.65 {(+-2,+-2), (0,0), (+-4,0), (0,+-4)}, "
            "covariance 0.0845 I (Deveney et al.)",
    "8gaussians": "2D, 8 equal-weight Gaussians, means (4/sqrt 2)(cos k pi/4, sin k pi/4), "
                  "covariance (0.5/sqrt 2)^2 I = 0.125 I (FFJORD)",
    "checkerboard": "2D, uniform on the 8 squares [-3+1.5i, -1.5+1.5i] x [-3+1.5j, -1.5+1.5j], "
                    "i, j in 0..3, i+j even (density 1/18; sampling only, no exact score)",
    "gaussian1d": "1D, weights 0.3, 0.7, means -1, 1, variances 0.1, 0.2",
    "normal1d": "1D, the single Gaussian N(0.5, 0.2^2)",
    "gaussian3d": "3D, weights 0.5, 0.5, means (0.5,0,0) and (-0.5,0,0), covariance 0.2 I",
}
DATA_SETS = tuple(DATA_DESCRIPTIONS)

CHECKERBOARD_SIDE = 1.5
CHECKERBOARD_LOWER = -3.0


def checkerboard_corners():
    """Lower-left corners of the checkerboard's 8 squares, in scorefp's order
    (index i + 4 j, kept where i + j is even)."""
    corners = []
    for index in range(16):
        i, j = index % 4, index // 4
        if (i + j) % 2 == 0:
            corners.append([CHECKERBOARD_LOWER + CHECKERBOARD_SIDE * i,
                            CHECKERBOARD_LOWER + CHECKERBOARD_SIDE * j])
    return corners


def mixture_parameters(name):
    """(weights, means, covariances) of the Gaussian mixture data set `name` (MIXTURES)."""
    if name not in MIXTURES:
        raise ValueError("%r is not a Gaussian-mixture data set; these are: %s."
                         % (name, ", ".join(MIXTURES)))
    return MIXTURES[name]()


def _generator(generator):
    if generator is None or isinstance(generator, int):
        g = torch.Generator()
        g.manual_seed(0 if generator is None else generator)
        return g
    return generator


def sample_data(name, n, generator=None, dtype=torch.float64):
    """n samples [n, d] of the data set `name` (DATA_SETS); generator: a torch.Generator
    or an integer seed (default seed 0)."""
    g = _generator(generator)
    if name == "checkerboard":
        corners = torch.tensor(checkerboard_corners(), dtype=dtype)
        cells = torch.randint(len(corners), (n,), generator=g)
        return corners[cells] + CHECKERBOARD_SIDE * torch.rand(n, 2, generator=g, dtype=dtype)
    weights, means, covariances = mixture_parameters(name)
    means = torch.tensor(means, dtype=dtype)
    std = torch.sqrt(_diagonal_covariances(covariances, means.shape[1], dtype))
    k = torch.multinomial(torch.tensor(weights, dtype=dtype), n, replacement=True, generator=g)
    return means[k] + std[k] * torch.randn(n, means.shape[1], generator=g, dtype=dtype)


def data_dimension(name):
    """The dimension of data set `name`."""
    if name == "checkerboard":
        return 2
    return len(mixture_parameters(name)[1][0])


def _diagonal_covariances(covariances, d, dtype):
    """[K, d] variances from [K] (isotropic), [K, d] (diagonal) or [K, d, d] (diagonal
    matrices)."""
    c = torch.as_tensor(covariances, dtype=dtype)
    if c.dim() == 1:
        return c[:, None].expand(-1, d).clone()
    if c.dim() == 2 and c.shape[1] == d:
        return c.clone()
    if c.dim() == 3 and c.shape[1:] == (d, d):
        diagonal = torch.diagonal(c, dim1=1, dim2=2)
        if torch.any(c - torch.diag_embed(diagonal) != 0):
            raise ValueError("GaussianMixtureScore takes isotropic or diagonal covariances.")
        return diagonal.clone()
    raise ValueError("Covariances must be [K] (isotropic), [K, d] (diagonal) or [K, d, d]; "
                     "got shape %s for d = %d." % (tuple(c.shape), d))


# --------------------------------------------------------------------------------------
# The exact score of a Gaussian mixture, and the same field in other parametrisations
# --------------------------------------------------------------------------------------

class GaussianMixtureScore(torch.nn.Module):
    """The exact score of p_t = sum_k w_k N(m mu_k, m^2 Sigma_k + v I) (MATH.md section 5).

    GaussianMixtureScore(weights [K], means [K, d], covariances [K] | [K, d] | [K, d, d]
    (isotropic or diagonal), process). forward(x [n, d], t [n]) -> s [n, d];
    log_density(x, t) -> log p_t(x) [n]. Log-sum-exp throughout; differentiable in x and
    t; torch.jit.script-able. Weights are normalised.
    """

    def __init__(self, weights, means, covariances, process, dtype=torch.float64):
        super().__init__()
        w = torch.as_tensor(weights, dtype=dtype).reshape(-1)
        if torch.any(w <= 0):
            raise ValueError("Mixture weights must be positive.")
        mu = torch.as_tensor(means, dtype=dtype).reshape(w.shape[0], -1)
        variances = _diagonal_covariances(covariances, mu.shape[1], dtype)
        if variances.shape[0] != w.shape[0] or torch.any(variances < 0):
            raise ValueError("Give one non-negative covariance per mixture component.")
        self.register_buffer("log_weights", torch.log(w / w.sum()))
        self.register_buffer("means", mu)
        self.register_buffer("variances", variances)
        self.process = process
        self.dimension = int(mu.shape[1])

    def _components(self, x: torch.Tensor, t: torch.Tensor):
        m = self.process.transition_m(t)[:, None, None]
        v = self.process.transition_v(t)[:, None, None]
        c = m * m * self.variances[None] + v                      # [n, K, d]
        diff = x[:, None, :] - m * self.means[None]                 # [n, K, d]
        logits = self.log_weights[None] - 0.5 * (
            diff * diff / c + torch.log(2.0 * math.pi * c)).sum(-1)  # [n, K]
        return logits, diff, c

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        logits, diff, c = self._components(x, t)
        gamma = torch.softmax(logits, dim=1)
        return -(gamma[:, :, None] * diff / c).sum(1)

    @torch.jit.export
    def log_density(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        logits, diff, c = self._components(x, t)
        return torch.logsumexp(logits, dim=1)


def exact_score(name, process, dtype=torch.float64):
    """GaussianMixtureScore of the mixture data set `name` (MIXTURES) under `process`."""
    weights, means, covariances = mixture_parameters(name)
    return GaussianMixtureScore(weights, means, covariances, process, dtype=dtype)


def _check_choice(value, choices, what):
    if value not in choices:
        raise ValueError("Unknown %s %r: it must be one of %s." % (what, value, ", ".join(choices)))


class Reparametrised(torch.nn.Module):
    """The field of a score module as a model in another convention.

    Reparametrised(score, parametrisation, time_input="t", input_scaling="none",
    steps=1000, process=None): forward(x_in [n, d], tau [n]) inverts the time input
    (tau -> t, closed form), undoes the input scaling (x = m x_in for "x/m"), evaluates
    s = score(x, t) and returns, with transition m, v of the process:
    score s; noise -sqrt(v) s; data (x + v s) / m; velocity m eps - sqrt(v) x0
    (m^2 + v = 1 only); potential score.log_density(x, t) (the score module needs a
    log_density method, as GaussianMixtureScore has). process defaults to score.process.
    """

    def __init__(self, score, parametrisation="score", time_input="t", input_scaling="none",
                 steps=1000, process=None):
        super().__init__()
        _check_choice(parametrisation, PARAMETRISATIONS, "parametrisation")
        _check_choice(time_input, TIME_INPUTS, "time input")
        _check_choice(input_scaling, INPUT_SCALINGS, "input scaling")
        self.process = score.process if process is None else process
        if parametrisation == "velocity" and not self.process.mean_square_is_one():
            raise ValueError("The velocity parametrisation needs m^2 + v = 1 (VP, or OU "
                             "with OU diffusion = 2 OU rate).")
        if parametrisation == "potential" and not hasattr(score, "log_density"):
            raise ValueError("The potential parametrisation needs a score module with a "
                             "log_density(x, t) method.")
        if time_input == "step" and int(steps) < 2:
            raise ValueError("The step time input needs steps >= 2.")
        self.score = score
        self.parametrisation = parametrisation
        self.time_input = time_input
        self.input_scaling = input_scaling
        self.steps = int(steps)
        self.dimension = int(getattr(score, "dimension", 0))

    def forward(self, x_in: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        t = self.process.time_from_input(tau, self.time_input, self.steps)
        m = self.process.transition_m(t)[:, None]
        x = x_in * m if self.input_scaling == "x/m" else x_in
        if self.parametrisation == "potential":
            return self.score.log_density(x, t)
        s = self.score(x, t)
        if self.parametrisation == "score":
            return s
        v = self.process.transition_v(t)[:, None]
        eps = -torch.sqrt(v) * s
        if self.parametrisation == "noise":
            return eps
        x0 = (x + v * s) / m
        if self.parametrisation == "data":
            return x0
        return m * eps - torch.sqrt(v) * x0


# --------------------------------------------------------------------------------------
# Export and load
# --------------------------------------------------------------------------------------

def _model_dtype(model):
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            for name, dtype in DTYPES.items():
                if tensor.dtype == dtype:
                    return name
            raise ValueError("The model computes in %s; scorefp reads float64 or float32 models."
                             % tensor.dtype)
    return "float64"


def _model_dimension(model):
    d = getattr(model, "dimension", None)
    if isinstance(d, int) and d > 0:
        return d
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            return module.in_features - 1
    raise ValueError("Cannot tell the model's dimension: pass dimension=d.")


def _example_times(n, time_input, process, steps, generator, dtype):
    u = torch.rand(n, generator=generator, dtype=dtype)
    if process is not None:
        t0, t1 = process.start_time, process.final_time
        t = t0 + (t1 - t0) * (0.02 + 0.98 * u)
        return process.time_input(t, time_input, steps or 1000)
    if time_input == "t":
        return 0.02 + 0.98 * u
    if time_input == "sigma":
        return torch.exp(6.0 * u - 3.0)
    if time_input == "edm":
        return 2.0 * u - 1.0
    return (steps - 1) * u


def export_score(model, path, parametrisation="score", time_input="t", process=None,
                 dimension=None, steps=None, input_scaling="none", data=None, description="",
                 check_points=8):
    """Write `model` as a scorefp TorchScript score model with its scorefp.json metadata.

    model: a torch.nn.Module (or ScriptModule) with forward(x [n, d], tau [n]) returning
    [n, d] (or [n] / [n, 1] for parametrisation "potential"). It is scripted with
    torch.jit.script, or traced with example inputs if scripting fails. The output is
    checked on `check_points` random points for shape, finiteness and differentiability
    in x. process: a Process, a dict of section Process entries, or None (then the file
    records none). steps: required for time input "step". dtype is detected from the
    model's parameters and buffers (float64 when it has none). Returns the metadata dict.
    Raises ValueError for an unknown parametrisation, time input or input scaling, or a
    model that fails the checks.
    """
    _check_choice(parametrisation, PARAMETRISATIONS, "parametrisation")
    _check_choice(time_input, TIME_INPUTS, "time input")
    _check_choice(input_scaling, INPUT_SCALINGS, "input scaling")
    if time_input == "step" and steps is None:
        raise ValueError("The time input 'step' needs the number of steps (steps=N).")
    if steps is not None and (int(steps) != steps or steps < 2):
        raise ValueError("steps must be an integer >= 2, not %r." % (steps,))
    if isinstance(process, dict):
        entries = {k: v if isinstance(v, str) else format_number(v) for k, v in process.items()}
        process = process_from_entries(process)
    elif process is not None:
        entries = process.entries()
    if parametrisation == "velocity" and process is not None and not process.mean_square_is_one():
        raise ValueError("The velocity parametrisation needs m^2 + v = 1 (VP, or OU with "
                         "OU diffusion = 2 OU rate); the process is %s." % process.type_name)
    dtype_name = _model_dtype(model)
    dtype = DTYPES[dtype_name]
    d = int(dimension) if dimension is not None else _model_dimension(model)
    if not 1 <= d <= 3:
        raise ValueError("scorefp reads models in dimension 1, 2 or 3, not %d." % d)

    g = torch.Generator()
    g.manual_seed(1234)
    n = max(2, int(check_points))
    x = 2.0 * torch.randn(n, d, generator=g, dtype=dtype)
    tau = _example_times(n, time_input, process, steps, g, dtype)

    if isinstance(model, torch.jit.ScriptModule):
        module = model
    else:
        try:
            module = torch.jit.script(model)
        except Exception as error:  # noqa: BLE001 -- anything scripting rejects: trace
            print("scorefp_torch.export_score: torch.jit.script failed (%s); tracing "
                  "instead." % str(error).splitlines()[0], file=sys.stderr)
            module = torch.jit.trace(model, (x, tau), check_trace=False)

    x_check = x.clone().requires_grad_(True)
    out = module(x_check, tau)
    shapes = [(n,), (n, 1)] if parametrisation == "potential" else [(n, d)]
    if tuple(out.shape) not in shapes:
        raise ValueError("The model's output has shape %s for %d points in %dD; a %s model "
                         "must return %s." % (tuple(out.shape), n, d, parametrisation,
                                              " or ".join(str(list(s)) for s in shapes)))
    if not torch.all(torch.isfinite(out)):
        raise ValueError("The model's output is not finite at the check points.")
    if (not out.requires_grad
            or torch.autograd.grad(out.sum(), x_check, allow_unused=True)[0] is None):
        raise ValueError("The model's output is not differentiable in x (autograd).")

    metadata = {"format": FORMAT, "dimension": d, "parametrisation": parametrisation,
                "time input": time_input}
    if steps is not None:
        metadata["steps"] = int(steps)
    metadata["input scaling"] = input_scaling
    metadata["dtype"] = dtype_name
    if process is not None:
        metadata["process"] = entries
    if data is not None:
        metadata["data"] = str(data)
    metadata["description"] = str(description)
    torch.jit.save(module, path, _extra_files={METADATA_FILE: json.dumps(metadata, indent=2)})
    return metadata


def load_metadata(path):
    """The scorefp.json metadata of a TorchScript model file, as a dict."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [name for name in archive.namelist()
                     if name.endswith("/extra/" + METADATA_FILE)]
            if names:
                return json.loads(archive.read(names[0]).decode("utf-8"))
    except zipfile.BadZipFile:
        pass
    extra = {METADATA_FILE: ""}
    torch.jit.load(path, map_location="cpu", _extra_files=extra)
    if not extra[METADATA_FILE]:
        raise ValueError("%s has no %s extra file: it was not written by export_score."
                         % (path, METADATA_FILE))
    return json.loads(extra[METADATA_FILE])


class ModelScore:
    """s(x, t) of a model in any convention of SCORE_MODEL_FORMAT.md (what scorefp does).

    ModelScore(module, process, parametrisation="score", time_input="t",
    input_scaling="none", steps=None, dtype=None): calling it with x [n, d], t [n]
    returns s [n, d], differentiable in x and t (a potential's gradient is taken with
    create_graph=True). potential(x, t) returns u for a potential model. Conversions:
    noise s = -eps/sqrt(v); data s = (m x0 - x)/v; velocity eps = m v_hat + sqrt(v) x;
    potential s = grad_x u, all with the process's transition m, v.
    """

    def __init__(self, module, process, parametrisation="score", time_input="t",
                 input_scaling="none", steps=None, dtype=None):
        _check_choice(parametrisation, PARAMETRISATIONS, "parametrisation")
        _check_choice(time_input, TIME_INPUTS, "time input")
        _check_choice(input_scaling, INPUT_SCALINGS, "input scaling")
        if process is None:
            raise ValueError("ModelScore needs the process the model was made for.")
        if time_input == "step" and steps is None:
            raise ValueError("The time input 'step' needs the number of steps.")
        self.module, self.process = module, process
        self.parametrisation, self.time_input = parametrisation, time_input
        self.input_scaling, self.steps = input_scaling, int(steps or 1000)
        self.dtype = DTYPES[dtype] if isinstance(dtype, str) else dtype

    def _evaluate(self, x, t):
        tau = self.process.time_input(t, self.time_input, self.steps)
        x_in = x / self.process.transition_m(t)[:, None] if self.input_scaling == "x/m" else x
        if self.dtype is not None and self.dtype != x.dtype:
            return self.module(x_in.to(self.dtype), tau.to(self.dtype)).to(x.dtype)
        return self.module(x_in, tau)

    def potential(self, x, t):
        """u(x, t) [n] of a potential model."""
        if self.parametrisation != "potential":
            raise ValueError("The model is a %s model, not a potential." % self.parametrisation)
        return self._evaluate(x, t).reshape(-1)

    def __call__(self, x, t):
        if self.parametrisation == "potential":
            if not x.requires_grad:
                x = x.detach().requires_grad_(True)
            u = self.potential(x, t)
            return torch.autograd.grad(u.sum(), x, create_graph=True)[0]
        out = self._evaluate(x, t)
        if self.parametrisation == "score":
            return out
        m = self.process.transition_m(t)[:, None]
        v = self.process.transition_v(t)[:, None]
        if self.parametrisation == "noise":
            return -out / torch.sqrt(v)
        if self.parametrisation == "data":
            return (m * out - x) / v
        eps = m * out + torch.sqrt(v) * x
        return -eps / torch.sqrt(v)


def load_score(path, process=None):
    """ModelScore of a model file written by export_score: torch.jit.load plus the
    metadata; process (a Process or entries) overrides the recorded one."""
    metadata = load_metadata(path)
    module = torch.jit.load(path, map_location="cpu")
    if process is None:
        if "process" not in metadata:
            raise ValueError("%s records no process: pass process=..." % path)
        process = process_from_entries(metadata["process"])
    elif isinstance(process, dict):
        process = process_from_entries(process)
    score = ModelScore(module, process, metadata["parametrisation"], metadata["time input"],
                       metadata.get("input scaling", "none"), metadata.get("steps"),
                       metadata.get("dtype", "float64"))
    score.metadata = metadata
    return score


# --------------------------------------------------------------------------------------
# Fokker-Planck residuals by autograd (MATH.md section 3)
# --------------------------------------------------------------------------------------

def _leaf(tensor):
    return tensor.detach().clone().requires_grad_(True)


def _grad(output, inputs, create_graph):
    g = torch.autograd.grad(output, inputs, create_graph=create_graph, retain_graph=True,
                            allow_unused=True)[0]
    return torch.zeros_like(inputs) if g is None else g


def gradient_score(potential):
    """The score s = grad_x u of a potential u(x, t) -> [n] (or [n, 1]), as a callable
    whose result keeps the graph (for residuals and training)."""
    def score(x, t):
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        u = potential(x, t).reshape(-1)
        return _grad(u.sum(), x, True)
    return score


def jacobian(score, x, t, create_graph=False):
    """(grad s)_ij = d s_i / d x_j [n, d, d] by autograd (x, t are taken as new leaves)."""
    x, t = _leaf(x), _leaf(t)
    s = score(x, t)
    return torch.stack([_grad(s[:, i].sum(), x, create_graph) for i in range(s.shape[1])], 1)


def curl(score, x, t):
    """The curl of s: 2D d1 s2 - d2 s1 [n]; 3D [n, 3]. Zero for a gradient field."""
    j = jacobian(score, x, t)
    if j.shape[1] == 2:
        return j[:, 1, 0] - j[:, 0, 1]
    if j.shape[1] == 3:
        return torch.stack([j[:, 2, 1] - j[:, 1, 2], j[:, 0, 2] - j[:, 2, 0],
                            j[:, 1, 0] - j[:, 0, 1]], 1)
    raise ValueError("The curl is defined in 2D and 3D only.")


def score_residual(score, x, t, process, create_graph=False, parts=False):
    """The score-form residual r = ds/dt - grad[g^2/2 (div s + |s|^2) + a x.s] [n, d].

    score: a callable (x [n, d], t [n]) -> [n, d], point by point (no coupling between
    points); x, t are taken as new leaves unless create_graph (then they must require
    grad). d backward passes give div s and ds/dt exactly. With
    create_graph the result is differentiable in the model's parameters (a training
    penalty). With parts, returns (r, ds/dt, grad phi).
    """
    if not create_graph:
        x, t = _leaf(x), _leaf(t)
    s = score(x, t)
    d = s.shape[1]
    divergence, ds_dt = 0.0, []
    for i in range(d):
        # One backward pass per component gives the row d s_i / d x and d s_i / d t.
        g_x, g_t = torch.autograd.grad(s[:, i].sum(), (x, t), create_graph=True,
                                       retain_graph=True, allow_unused=True)
        divergence = divergence + (0.0 if g_x is None else g_x[:, i])
        ds_dt.append(torch.zeros_like(t) if g_t is None else g_t)
    ds_dt = torch.stack(ds_dt, 1)
    phi = 0.5 * process.g2(t) * (divergence + (s * s).sum(1)) + process.a(t) * (x * s).sum(1)
    grad_phi = _grad(phi.sum(), x, create_graph)
    r = ds_dt - grad_phi
    if not create_graph:
        r, ds_dt = r.detach(), ds_dt.detach()
    return (r, ds_dt, grad_phi) if parts else r


def log_residual(potential, x, t, process, create_graph=False, parts=False):
    """The log-form residual R = du/dt - [g^2/2 (lap u + |grad u|^2) + a x.grad u + a d] [n].

    potential: a callable (x [n, d], t [n]) -> u [n] (or [n, 1]); x, t are taken as new
    leaves unless create_graph (then they must require grad). Zero for u = log p_t. With
    parts, returns (R, du/dt, the bracket).
    """
    if not create_graph:
        x, t = _leaf(x), _leaf(t)
    u = potential(x, t).reshape(-1)
    d = x.shape[1]
    grad_u, du_dt = torch.autograd.grad(u.sum(), (x, t), create_graph=True, retain_graph=True,
                                        allow_unused=True)
    if grad_u is None:
        grad_u = torch.zeros_like(x)
    if du_dt is None:
        du_dt = torch.zeros_like(t)
    laplacian = sum(_grad(grad_u[:, i].sum(), x, create_graph)[:, i] for i in range(d))
    a = process.a(t)
    bracket = (0.5 * process.g2(t) * (laplacian + (grad_u * grad_u).sum(1))
               + a * (x * grad_u).sum(1) + a * d)
    r = du_dt - bracket
    if not create_graph:
        r, du_dt, bracket = r.detach(), du_dt.detach(), bracket.detach()
    return (r, du_dt, bracket) if parts else r


def residual_report(score, process, data, times=(0.1, 0.3, 0.6, 1.0), samples=2000, seed=0,
                    chunk=1000):
    """{t: mean |r|^2} for the score-form residual r of `score` at `samples` points drawn
    from p_t (the data set `data` pushed forward by the process), i.e. the p_t-weighted
    mean square residual (a Monte Carlo estimate, the same points for every score given
    the seed)."""
    g = _generator(seed)
    result = {}
    for t_value in times:
        x0 = sample_data(data, samples, g)
        z = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
        t = torch.full((samples,), float(t_value), dtype=x0.dtype)
        x = process.transition_m(t)[:, None] * x0 + torch.sqrt(process.transition_v(t))[:, None] * z
        total = 0.0
        for start in range(0, samples, chunk):
            r = score_residual(score, x[start:start + chunk], t[start:start + chunk], process)
            total += float((r.detach() ** 2).sum())
        result[float(t_value)] = total / samples
    return result


def fisher_report(score, process, data, times=(0.1, 0.3, 0.6, 1.0), samples=2000, seed=0):
    """{t: E|s_hat - s|^2 / E|s|^2} over `samples` points of p_t, s the exact score of the
    Gaussian-mixture data set `data` (the relative Fisher divergence; 0 for the exact
    score). Same sampling as residual_report."""
    exact = exact_score(data, process)
    g = _generator(seed)
    result = {}
    for t_value in times:
        x0 = sample_data(data, samples, g)
        z = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
        t = torch.full((samples,), float(t_value), dtype=x0.dtype)
        x = process.transition_m(t)[:, None] * x0 + torch.sqrt(process.transition_v(t))[:, None] * z
        s = exact(x, t)
        error = (score(x, t).detach() - s) ** 2
        result[float(t_value)] = float(error.sum() / (s * s).sum())
    return result


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------

def _numbers(text):
    return [float(p) for p in text.replace(",", " ").split()]


def _process_from_args(args):
    parameters = {"start_time": args.start_time, "final_time": args.final_time}
    extra = {"VP": {"beta_min": args.beta_min, "beta_max": args.beta_max},
             "VE": {"sigma_min": args.sigma_min, "sigma_max": args.sigma_max},
             "OU": {"rate": args.ou_rate, "diffusion": args.ou_diffusion}}[args.process]
    parameters.update({k: v for k, v in extra.items() if v is not None})
    return make_process(args.process, **parameters)


def add_report_arguments(parser, data_sets):
    """The arguments the residual and fisher commands share."""
    parser.add_argument("models", nargs="+")
    parser.add_argument("--times", default="0.1,0.3,0.6,1.0",
                        help="comma-separated times (default 0.1,0.3,0.6,1.0)")
    parser.add_argument("--samples", type=int, default=2000,
                        help="samples of p_t per time (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--data", choices=data_sets,
                        help="data set (default: the model's metadata)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")


def add_process_arguments(parser):
    """--process and its parameters (defaults: scorefp's)."""
    parser.add_argument("--process", choices=sorted(PROCESSES), default="VP",
                        help="forward process (default VP)")
    parser.add_argument("--start-time", type=float, default=0.0, help="Start time t0 (default 0)")
    parser.add_argument("--final-time", type=float, default=1.0, help="Final time T (default 1)")
    parser.add_argument("--beta-min", type=float, help="VP beta min (default 0.1)")
    parser.add_argument("--beta-max", type=float, help="VP beta max (default 20)")
    parser.add_argument("--sigma-min", type=float, help="VE sigma min (default 0.01)")
    parser.add_argument("--sigma-max", type=float, help="VE sigma max (default 50)")
    parser.add_argument("--ou-rate", type=float, help="OU rate r (default 1)")
    parser.add_argument("--ou-diffusion", type=float, help="OU diffusion q (default 2)")


def _custom_mixture(args):
    weights = _numbers(args.weights)
    means = [_numbers(p) for p in args.means.split(";")]
    covariances = [_numbers(p) for p in args.variances.split(";")]
    d = len(means[0])
    if len(means) != len(weights) or len(covariances) != len(weights) or any(
            len(m) != d for m in means):
        raise ValueError("--weights, --means and --variances must describe the same number of "
                         "components of one dimension.")
    diagonal = []
    for c in covariances:
        if len(c) == 1:
            diagonal.append(c * d)
        elif len(c) == d:
            diagonal.append(c)
        elif len(c) == d * d:
            matrix = torch.tensor(c, dtype=torch.float64).reshape(d, d)
            if torch.any(matrix - torch.diag(torch.diagonal(matrix)) != 0):
                raise ValueError("--variances: only isotropic or diagonal covariances.")
            diagonal.append(torch.diagonal(matrix).tolist())
        else:
            raise ValueError("--variances: give 1, d or d*d numbers per component.")
    return weights, means, diagonal


def _command_export_exact(args):
    process = _process_from_args(args)
    dtype = DTYPES[args.dtype]
    if args.data == "custom":
        if not (args.weights and args.means and args.variances):
            raise ValueError("--data custom needs --weights, --means and --variances.")
        weights, means, covariances = _custom_mixture(args)
        data = args.data_name or "custom Gaussian mixture"
    else:
        weights, means, covariances = mixture_parameters(args.data)
        data = args.data
    exact = GaussianMixtureScore(weights, means, covariances, process, dtype=dtype)
    steps = args.steps if (args.time_input == "step" or args.steps is not None) else None
    model = Reparametrised(exact, args.parametrisation, args.time_input, args.input_scaling,
                           steps or 1000)
    if args.data == "custom":
        what = "weights %s; means %s; variances %s" % (
            ", ".join(format_number(w) for w in weights),
            "; ".join(", ".join(format_number(c) for c in mu) for mu in means),
            "; ".join(", ".join(format_number(c) for c in cov) for cov in covariances))
    else:
        what = DATA_DESCRIPTIONS[args.data]
    label = data if args.data == "custom" else "the Gaussian mixture " + data
    settings = ", ".join("%s = %s" % kv for kv in process.entries().items())
    description = args.description or (
        "exact score of %s (%s) under %s, written by scorefp_torch.py export-exact"
        % (label, what, settings))
    metadata = export_score(model, args.out, args.parametrisation, args.time_input, process,
                            dimension=exact.dimension, steps=steps,
                            input_scaling=args.input_scaling, data=data,
                            description=description)
    if not args.quiet:
        print("wrote %s: %s" % (args.out, json.dumps(metadata)))


def _command_info(args):
    for path in args.models:
        print(json.dumps(load_metadata(path), indent=2))


def _command_report(args, fisher):
    times = _numbers(args.times)
    rows = []
    for path in args.models:
        score = load_score(path)
        data = args.data or score.metadata.get("data")
        known = MIXTURES if fisher else DATA_SETS
        if data not in known:
            raise ValueError("%s: data set %r is not one of %s; pass --data."
                             % (path, data, ", ".join(known)))
        report = (fisher_report if fisher else residual_report)(
            score, score.process, data, times, args.samples, args.seed)
        rows.append((path, report))
    width = max(len(p) for p, _ in rows)
    if fisher:
        print("relative Fisher divergence E|s_hat - s|^2 / E|s|^2 over p_t against the exact "
              "score (%d samples per time, seed %d)" % (args.samples, args.seed))
    else:
        print("p_t-weighted mean |r|^2 of the score-form residual (%d samples per time, seed %d)"
              % (args.samples, args.seed))
    print("%-*s " % (width, "model") + " ".join("%12s" % ("t=%g" % t) for t in times)
          + " %12s" % "mean")
    for path, report in rows:
        values = [report[t] for t in times]
        print("%-*s " % (width, path) + " ".join("%12.5g" % v for v in values)
              + " %12.5g" % (sum(values) / len(values)))


def _command_residual(args):
    _command_report(args, False)


def _command_fisher(args):
    _command_report(args, True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="scorefp TorchScript score models: write exact Gaussian-mixture models, "
                    "show metadata, measure Fokker-Planck residuals.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    data_help = "\n".join("  %-13s %s" % (k, DATA_DESCRIPTIONS[k]) for k in MIXTURES)
    export = commands.add_parser(
        "export-exact", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="write the exact score of a Gaussian mixture as a TorchScript model",
        description="Write the exact score of a Gaussian-mixture data set under a process as a "
                    "TorchScript model in the chosen parametrisation, time input and input "
                    "scaling, with its scorefp.json metadata (SCORE_MODEL_FORMAT.md).\n\n"
                    "Data sets (--data):\n" + data_help +
                    "\n  custom        --weights W1,W2,.. --means 'M1;M2;..' --variances "
                    "'C1;C2;..'\n                (coordinates separated by commas; per component "
                    "1, d or d*d covariance\n                numbers: isotropic, diagonal or a "
                    "diagonal matrix)\n\n"
                    "Example:\n  /usr/bin/python3 postprocess/scorefp_torch.py export-exact "
                    "--data blob --process VP \\\n      --parametrisation noise --time-input "
                    "sigma --out /tmp/blob-noise.pt")
    export.add_argument("--data", required=True, choices=list(MIXTURES) + ["custom"],
                        help="the Gaussian mixture (see above)")
    add_process_arguments(export)
    export.add_argument("--parametrisation", choices=PARAMETRISATIONS, default="score",
                        help="what the model returns (default score)")
    export.add_argument("--time-input", choices=TIME_INPUTS, default="t",
                        help="the model's time input (default t)")
    export.add_argument("--input-scaling", choices=INPUT_SCALINGS, default="none",
                        help="whether the model sees x or x/m(t) (default none)")
    export.add_argument("--steps", type=int,
                        help="N of time input step (default 1000; recorded when given or when "
                             "the time input is step)")
    export.add_argument("--dtype", choices=sorted(DTYPES), default="float64",
                        help="precision of the model's buffers and arithmetic (default float64)")
    export.add_argument("--weights", help="custom: component weights")
    export.add_argument("--means", help="custom: component means")
    export.add_argument("--variances", help="custom: component covariances")
    export.add_argument("--data-name", help="custom: the metadata's data text")
    export.add_argument("--description", help="the metadata's description (default: the "
                                               "mixture and process)")
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument("--quiet", action="store_true", help="print nothing")
    export.set_defaults(run=_command_export_exact)

    info = commands.add_parser("info", help="print the scorefp.json metadata of model files")
    info.add_argument("models", nargs="+")
    info.set_defaults(run=_command_info)

    residual = commands.add_parser(
        "residual", help="p_t-weighted mean |r|^2 of the score-form residual of model files",
        description="For each model file: the mean of |r|^2, r the score-form Fokker-Planck "
                    "residual (MATH.md section 3) by autograd, over samples of p_t of the "
                    "model's data set and process (from its metadata), at each time.")
    add_report_arguments(residual, DATA_SETS)
    residual.set_defaults(run=_command_residual)

    fisher = commands.add_parser(
        "fisher", help="relative Fisher divergence of model files against the exact score",
        description="For each model file whose data set is a Gaussian mixture (blob, "
                    "8gaussians, ...): E|s_hat - s|^2 / E|s|^2 over samples of p_t, s the exact "
                    "score, at each time.")
    add_report_arguments(fisher, list(MIXTURES))
    fisher.set_defaults(run=_command_fisher)

    args = parser.parse_args(argv)
    torch.set_num_threads(getattr(args, "threads", 1))
    try:
        args.run(args)
    except ValueError as error:
        print("scorefp_torch.py: error: %s" % error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
