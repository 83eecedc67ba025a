"""scorefp from Python: run a case, check samples, evaluate a reference file.

Each call starts the scorefp executable (under ``mpirun`` for ``ranks`` > 1) in a
directory of its own and reads back what it wrote, so a Python test suite needs nothing
but NumPy::

    import numpy as np
    import scorefp

    summary = scorefp.run("params/demo.prm", ranks=2, set={"Mesh/Refinement levels": 3})
    print(summary["errors"]["max_over_output_times"]["L2"], summary.directory)

    result = scorefp.check(samples, reference="reference.h5", time=1e-3)
    assert result.passed, result.report()

    values = scorefp.evaluate("reference.h5", points=np.zeros((1, 2)), times=[0.5])
    values.density[0, 0], values.score[0, 0]

A run that scorefp rejects raises :class:`ScorefpError`, whose message is scorefp's own
one-sentence error. Which executable runs: the ``executable`` argument, else the
environment variable ``SCOREFP_EXECUTABLE``, else ``scorefp`` on ``PATH`` (an installed
scorefp), else ``build/scorefp`` of the source tree this package sits in.

The figures are in :mod:`scorefp.figures` (matplotlib, imported on demand).
"""

from .api import (CheckResult, Evaluation, RunResult, ScorefpError, StatisticResult, check,
                  evaluate, find_executable, parameter_file_text, run)

__version__ = "0.1.0"

__all__ = ["run", "check", "evaluate", "ScorefpError", "RunResult", "CheckResult",
           "StatisticResult", "Evaluation", "find_executable", "parameter_file_text"]
