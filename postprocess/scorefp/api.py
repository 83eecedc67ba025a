"""run, check and evaluate: scorefp's tasks as Python functions (see the package docstring).

Standard library and NumPy only. Every call works in a directory of its own (a new
temporary directory unless ``output`` names one), writes its inputs there (the parameter
file of a dict case, the samples, the points), runs scorefp and parses its outputs.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

# scorefp_launch (the MPI environment and command line, shared with the tests and the
# benchmarks) sits next to this package, in the source tree and when installed.
try:
    import scorefp_launch
except ImportError:  # imported as postprocess.scorefp: make postprocess/ importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import scorefp_launch


class ScorefpError(RuntimeError):
    """scorefp rejected the run or failed: the message is scorefp's own sentence.

    Attributes: ``returncode``, ``command`` (list), ``stdout``, ``stderr``, ``kind``
    ("error" for bad input, "solver failure", "internal error", or "exit" when scorefp
    printed no sentence)."""

    def __init__(self, message, returncode, command, stdout, stderr, kind):
        super().__init__(message)
        self.returncode = returncode
        self.command = command
        self.stdout = stdout
        self.stderr = stderr
        self.kind = kind


class RunResult(dict):
    """The parsed result file of a run (``summary.json``; for tasks that write none,
    ``check.json``, ``scheme_table.json`` or ``samples.npy.json``), with

    - ``directory``: the output directory (every file the run wrote is there),
    - ``file``: the path of the parsed file (None when the task writes none),
    - ``returncode``: 0, or 4 for ``Task = check`` when the samples fail,
    - ``stdout``: what scorefp printed."""

    def __init__(self, values, directory, file, returncode, stdout):
        super().__init__(values)
        self.directory = directory
        self.file = file
        self.returncode = returncode
        self.stdout = stdout


#: The result files run() parses, in the order it looks for them.
RESULT_FILES = ("summary.json", "check.json", "scheme_table.json", "samples.npy.json")

#: Exit statuses that are results, not errors: Task = check ends with 4 when samples fail.
_RESULT_STATUSES = (0, 4)

_SOURCE_TREE_EXECUTABLE = os.path.join(scorefp_launch.ROOT, "build", "scorefp")


def find_executable(executable=None):
    """The scorefp executable run() starts (see the package docstring for the order);
    FileNotFoundError naming every place looked at when there is none."""
    candidates = []
    if executable is not None:
        candidates.append(scorefp_launch.executable_path(executable))
    elif os.environ.get("SCOREFP_EXECUTABLE"):
        candidates.append(scorefp_launch.executable_path(os.environ["SCOREFP_EXECUTABLE"]))
    else:
        on_path = shutil.which("scorefp")
        if on_path:
            candidates.append(on_path)
        candidates.append(_SOURCE_TREE_EXECUTABLE)
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    where = " or ".join(candidates)
    if executable is None and not os.environ.get("SCOREFP_EXECUTABLE"):
        where = "on PATH or at " + where
    raise FileNotFoundError("no scorefp executable %s; build scorefp (scripts/demo), "
                            "pass executable=..., or set SCOREFP_EXECUTABLE" % where)


def _format_value(value):
    """A Python value as a parameter-file value: true/false, comma-separated lists,
    numbers with every digit."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(_format_value(v) for v in value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _nested(parameters):
    """{"Section/Sub/key": v} and nested dicts alike as one nested dict."""
    tree = {}
    for key, value in parameters.items():
        parts = [p for p in str(key).split("/") if p]
        if not parts:
            raise ValueError("an empty parameter name in %r" % (parameters,))
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError("'%s' is both an entry and a section" % key)
        if isinstance(value, dict):
            merged = node.setdefault(parts[-1], {})
            if not isinstance(merged, dict):
                raise ValueError("'%s' is both an entry and a section" % key)
            for sub_key, sub_value in _nested(value).items():
                merged[sub_key] = sub_value
        else:
            node[parts[-1]] = value
    return tree


def parameter_file_text(parameters):
    """A dict case as the text of a deal.II parameter file: nested dicts (or
    "Section/key" names) are subsections, the rest entries."""

    def lines(tree, indent):
        out = []
        for key, value in tree.items():
            if isinstance(value, dict):
                out.append("%ssubsection %s" % (indent, key))
                out.extend(lines(value, indent + "  "))
                out.append("%send" % indent)
            else:
                out.append("%sset %s = %s" % (indent, key, _format_value(value)))
        return out

    return "\n".join(lines(_nested(parameters), "")) + "\n"


def _set_arguments(overrides):
    """--set arguments for {"Section/key": value} (nested dicts flattened)."""
    arguments = []

    def flatten(tree, prefix):
        for key, value in tree.items():
            if isinstance(value, dict):
                flatten(value, prefix + key + "/")
            else:
                arguments.extend(["--set", "%s%s=%s" % (prefix, key, _format_value(value))])

    flatten(_nested(overrides or {}), "")
    return arguments


def _error_sentence(stderr, stdout, returncode):
    """(kind, message): scorefp's error line, without its "scorefp: KIND: " prefix."""
    for line in (stderr or "").splitlines() + (stdout or "").splitlines():
        for kind in ("error", "solver failure", "internal error"):
            prefix = "scorefp: %s" % kind
            if line.startswith(prefix):
                message = line[len(prefix):].lstrip(":").strip()
                return kind, message or line
    tail = "\n".join((stderr or stdout or "").strip().splitlines()[-5:])
    return "exit", "scorefp exited with status %d%s" % (returncode,
                                                       (": " + tail) if tail else "")


def _output_directory(output):
    if output is None:
        return tempfile.mkdtemp(prefix="scorefp-")
    os.makedirs(output, exist_ok=True)
    return os.path.abspath(output)


def _execute(arguments, ranks, executable, mpirun, cwd, timeout, quiet):
    """Start scorefp; ScorefpError unless it ends with a result status."""
    program = find_executable(executable)
    if ranks < 1:
        raise ValueError("ranks must be at least 1 (got %r)" % (ranks,))
    command = scorefp_launch.program_command(program, arguments, ranks, mpirun)
    if quiet:
        command += ["--set", "Output/Quiet=true"]
    completed = subprocess.run(command, cwd=cwd, env=scorefp_launch.mpi_environment(),
                               capture_output=True, text=True, timeout=timeout)
    if completed.returncode not in _RESULT_STATUSES:
        kind, message = _error_sentence(completed.stderr, completed.stdout,
                                        completed.returncode)
        raise ScorefpError(message, completed.returncode, command, completed.stdout,
                           completed.stderr, kind)
    return completed


def run(case, ranks=1, set=None, output=None, executable=None, mpirun="mpirun", cwd=None,
        timeout=None, quiet=True):
    """Run one scorefp case and return its parsed result file as a :class:`RunResult`.

    - ``case``: a parameter file (``.prm`` or ``.json``) or a dict of parameters, nested
      (``{"Process": {"Type": "VP"}}``) or by path (``{"Process/Type": "VP"}``).
    - ``set``: overrides, ``{"Mesh/Refinement levels": 3}`` (as ``--set``).
    - ``output``: the output directory; default a new temporary directory (returned as
      ``.directory``), so that parallel tests do not share one.
    - ``cwd``: where relative paths of the case resolve (default: the current
      directory). ``quiet``: no progress lines (they are in ``.stdout`` otherwise).

    Raises ScorefpError with scorefp's sentence when scorefp rejects the case."""
    cwd = os.path.abspath(cwd or os.getcwd())
    directory = _output_directory(output)
    if isinstance(case, dict):
        parameter_file = os.path.join(directory, "case.prm")
        with open(parameter_file, "w") as f:
            f.write(parameter_file_text(case))
    else:
        parameter_file = os.path.join(cwd, os.fspath(case))
        if not os.path.isfile(parameter_file):
            raise FileNotFoundError("no parameter file %s" % parameter_file)
    arguments = [parameter_file] + _set_arguments(set) + \
        ["--set", "Output/Directory=%s" % directory]
    completed = _execute(arguments, ranks, executable, mpirun, cwd, timeout, quiet)
    for name in RESULT_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path) as f:
                return RunResult(json.load(f), directory, path, completed.returncode,
                                 completed.stdout)
    return RunResult({}, directory, None, completed.returncode, completed.stdout)


@dataclasses.dataclass
class StatisticResult:
    """One statistic of a check: its value, p-value, asymptotic p-value where one exists
    (else None), the null median and 95% quantile (None when the p-value is asymptotic),
    whether it passed at the Bonferroni level, and the null law of its p-value
    ("asymptotic", "cached", "computed and cached" or "monte carlo")."""
    name: str
    value: float
    p_value: float
    asymptotic_p_value: object
    null_median: float
    null_95: object
    passed: bool
    null: str = "monte carlo"


@dataclasses.dataclass
class CheckResult:
    """The verdict of ``Task = check`` on a sample set (check.json, parsed)."""
    passed: bool
    level: float
    n_samples: int
    dimension: int
    time: float
    reference: str
    null_draws: int
    n_outside_mesh: int
    statistics: dict
    directory: str
    raw: dict

    @property
    def p_values(self):
        """{statistic name: calibrated p-value}."""
        return {name: s.p_value for name, s in self.statistics.items()}

    def __bool__(self):
        return self.passed

    def report(self):
        """The verdict as scorefp prints it: one line per statistic."""
        lines = ["%d samples (%dD) at t = %g against %s: %s at level %g"
                 % (self.n_samples, self.dimension, self.time, self.reference,
                    "PASS" if self.passed else "FAIL", self.level)]
        for s in self.statistics.values():
            lines.append("  %-18s value %.4g  p-value %.4f  null 95%% %s  %s  (%s)"
                         % (s.name, s.value, s.p_value,
                            "-" if s.null_95 is None else "%.4g" % s.null_95,
                            "pass" if s.passed else "FAIL", s.null))
        return "\n".join(lines)


def _samples_array(samples):
    array = np.asarray(samples, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError("samples must be an N x d array with N, d >= 1 (got shape %s)"
                         % (np.shape(samples),))
    if not np.all(np.isfinite(array)):
        raise ValueError("samples contain %d non-finite values"
                         % int(np.sum(~np.isfinite(array))))
    return np.ascontiguousarray(array)


def check(samples, reference=None, time=None, case=None, ranks=1, set=None, level=None,
          null_draws=None, seed=None, statistics=None, output=None, executable=None,
          mpirun="mpirun", cwd=None, timeout=None):
    """Check samples against a scorefp reference and return a :class:`CheckResult`.

    - ``samples``: an N x d NumPy array (written to ``samples.npy`` in the output
      directory), or the path of a samples file (``.npy``/``.csv``).
    - ``reference``: a reference file (HDF5, written by a scorefp density or score run)
      whose density at ``time`` is the law; or None for the closed form of ``case``.
    - ``case``: a parameter file or dict naming Process, Initial data and Mesh for the
      closed form (``params/check-vp-2d.prm`` is one); its Checker entries are the
      defaults the arguments here override.
    - ``time``: the time the samples represent (required for arrays).
    - ``level``, ``null_draws``, ``seed``, ``statistics`` (a list of names, e.g.
      ``["sliced W2", "MMD^2"]``): the Checker entries of the same names.

    A failing sample set is a result (``passed`` False), not an exception; bad input
    raises ScorefpError with scorefp's sentence."""
    cwd = os.path.abspath(cwd or os.getcwd())
    directory = _output_directory(output)
    if isinstance(samples, (str, os.PathLike)):
        samples_file = os.path.join(cwd, os.fspath(samples))
        dimension = None
    else:
        array = _samples_array(samples)
        samples_file = os.path.join(directory, "samples.npy")
        np.save(samples_file, array)
        dimension = array.shape[1]
        if time is None:
            raise ValueError("time is required for samples given as an array: the time "
                             "t at which they should follow p_t")
    checker = {"Samples file": samples_file}
    if time is not None:
        checker["Time"] = float(time)
    if reference is not None:
        checker["Reference"] = "file"
        checker["Reference file"] = os.path.join(cwd, os.fspath(reference))
    elif case is None:
        raise ValueError("check needs a reference file or a case with the closed-form law "
                         "(Process, Initial data, Mesh)")
    else:
        checker["Reference"] = "closed form"
    for entry, value in (("Level", level), ("Null draws", null_draws), ("Seed", seed),
                         ("Statistics", statistics)):
        if value is not None:
            checker[entry] = value
    overrides = {"Task": "check", "Checker": checker}
    if dimension is not None:
        overrides["Dimension"] = dimension
    overrides.update(_nested(set or {}))
    base = case if case is not None else {"Task": "check"}
    result = run(base, ranks=ranks, set=overrides, output=directory, executable=executable,
                 mpirun=mpirun, cwd=cwd, timeout=timeout)
    if result.file is None or os.path.basename(result.file) != "check.json":
        raise ScorefpError("scorefp wrote no check.json in %s" % directory, result.returncode,
                           [], result.stdout, "", "exit")
    stats = {}
    for entry in result["statistics"]:
        stats[entry["name"]] = StatisticResult(
            entry["name"], entry["value"], entry["p_value"], entry.get("asymptotic_p_value"),
            entry["null_median"], entry["null_95"], entry["pass"],
            entry.get("null", "monte carlo"))
    return CheckResult(result["pass"], result["level"], result["n_samples"],
                       result["dimension"], result["time"], result["reference"],
                       result["null_draws"], result["n_outside_mesh"], stats, directory,
                       dict(result))


@dataclasses.dataclass
class Evaluation:
    """A reference file's density and score at points and times (``Task = evaluate``):
    ``times`` (T,), ``points`` (N, d), ``density`` (T, N), ``score`` (T, N, d),
    ``inside`` (T, N) booleans (False: outside the mesh, density 0 and the score of the
    moment-matched Gaussian)."""
    times: np.ndarray
    points: np.ndarray
    density: np.ndarray
    score: np.ndarray
    inside: np.ndarray
    directory: str


def evaluate(reference_file, points, times=None, score=None, ranks=1, output=None,
             executable=None, mpirun="mpirun", cwd=None, timeout=None):
    """A reference file's density and score at ``points`` (N x d array, or N for 1D)
    and ``times`` (default: every snapshot), as an :class:`Evaluation`.
    ``score``: "log-density gradient" (grad p_h / p_h, default) or "finite-element"
    (the score run's own field)."""
    cwd = os.path.abspath(cwd or os.getcwd())
    directory = _output_directory(output)
    points = _samples_array(points)
    points_file = os.path.join(directory, "points.npy")
    np.save(points_file, points)
    evaluation = {"Reference file": os.path.join(cwd, os.fspath(reference_file)),
                  "Points file": points_file, "Output file": "evaluation.csv"}
    if times is not None:
        evaluation["Times"] = [float(t) for t in np.atleast_1d(times)]
    if score is not None:
        evaluation["Score"] = score
    run({"Task": "evaluate", "Dimension": points.shape[1], "Evaluation": evaluation},
        ranks=ranks, output=directory, executable=executable, mpirun=mpirun, cwd=cwd,
        timeout=timeout)
    return read_evaluation(os.path.join(directory, "evaluation.csv"), points.shape[1],
                           directory)


def read_evaluation(path, dimension, directory=None):
    """evaluation.csv (time, point, x0.., density, s0.., inside) as an Evaluation."""
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    d = dimension
    times = np.unique(table[:, 0])
    n_points = int(table[:, 1].max()) + 1
    if table.shape[0] != times.size * n_points or table.shape[1] != 2 * d + 4:
        raise ValueError("%s: expected %d columns and one row per time and point"
                         % (path, 2 * d + 4))
    order = np.lexsort((table[:, 1], table[:, 0]))
    table = table[order].reshape(times.size, n_points, -1)
    return Evaluation(times, table[0, :, 2:2 + d], table[:, :, 2 + d],
                      table[:, :, 3 + d:3 + 2 * d], table[:, :, 3 + 2 * d] != 0,
                      directory or os.path.dirname(os.path.abspath(path)))
