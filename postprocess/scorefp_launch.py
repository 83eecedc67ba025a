"""Launching scorefp from Python: the one place that knows how.

The tests (tests/cli/cli_tests.py, tests/cases/run_case.py, postprocess/test_reference.py)
and the benchmarks (bench/bench_common.py) all start the program through this module, so
the MPI environment and the command line are written once. Standard library only.

    import sys, os
    sys.path.insert(0, os.path.join(ROOT, "postprocess"))
    import scorefp_launch

    result = scorefp_launch.run(["params/demo.prm", "--set", "Output/Quiet=true"],
                                ranks=2, build="build")
    print(result.returncode, result.stdout)
"""

import os
import shlex
import subprocess
import sys

# The repository root: the parent of this file's folder (parameter files in params/
# name their inputs relative to it).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What scripts/env.sh exports, plus oversubscription: OpenMPI refuses to run as root
# unless told to (CI and fresh machines run as root), each rank runs one thread (the
# cores belong to MPI), and tests may start more ranks than there are cores.
MPI_VARIABLES = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMP_NUM_THREADS": "1",
    "DEAL_II_NUM_THREADS": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
}


def mpi_environment(base=None):
    """A copy of base (default: os.environ) with the MPI variables above set."""
    environment = dict(os.environ if base is None else base)
    environment.update(MPI_VARIABLES)
    return environment


def executable_path(build):
    """The absolute path scorefp has in the build directory build (or build itself when
    it is not a directory, i.e. names the executable); not checked."""
    path = os.path.abspath(build)
    return os.path.join(path, "scorefp") if os.path.isdir(path) else path


def executable(build):
    """executable_path(build), checked: FileNotFoundError naming the path when there is
    no executable file there."""
    path = executable_path(build)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise FileNotFoundError("no scorefp executable at %s (build first, or pass --build DIR)"
                                % path)
    return path


def program_command(program, args, ranks, mpirun="mpirun"):
    """[mpirun, -np, ranks, --oversubscribe, program, *args] for a given executable path."""
    return [mpirun, "-np", str(ranks), "--oversubscribe", program] + [str(a) for a in args]


def command(args, ranks, build, mpirun="mpirun", check_executable=True):
    """The command line [mpirun, -np, ranks, --oversubscribe, scorefp, *args]; the
    executable is checked unless check_executable is False (dry runs)."""
    program = executable(build) if check_executable else executable_path(build)
    return program_command(program, args, ranks, mpirun)


def format_command(cmd):
    """cmd as one shell-quoted line (what `run` echoes)."""
    return " ".join(shlex.quote(part) for part in cmd)


def run(args, ranks, build, mpirun="mpirun", cwd=ROOT, timeout=None, capture=True,
        stdout=None, echo=True, environment=None):
    """Run scorefp with args on ranks MPI ranks from cwd (default: the repository root)
    and return the subprocess.CompletedProcess.

    The command is echoed first ("$ ..."), unless echo is False. With capture (default)
    stdout and stderr are captured as text; otherwise they go to stdout (a file object,
    e.g. a log, stderr joined to it) or are inherited. A run that exceeds timeout
    seconds raises subprocess.TimeoutExpired, as subprocess.run does."""
    cmd = command(args, ranks, build, mpirun)
    if echo:
        print("$ " + format_command(cmd), flush=True)
    environment = mpi_environment(environment)
    if capture:
        return subprocess.run(cmd, cwd=cwd, env=environment, capture_output=True, text=True,
                              timeout=timeout)
    return subprocess.run(cmd, cwd=cwd, env=environment, stdout=stdout,
                          stderr=subprocess.STDOUT if stdout is not None else None,
                          text=True, timeout=timeout)


if __name__ == "__main__":
    # python3 postprocess/scorefp_launch.py BUILD RANKS ARGS...: run and pass the status on.
    if len(sys.argv) < 3:
        sys.exit("usage: scorefp_launch.py BUILD_DIR RANKS [scorefp arguments...]")
    sys.exit(run(sys.argv[3:], int(sys.argv[2]), sys.argv[1], capture=False).returncode)
