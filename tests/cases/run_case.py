#!/usr/bin/python3
"""Every shipped case as a regression test: run params/NAME.prm, coarsened by the
overrides in tests/cases/NAME.json, and compare its key numbers with the stored ones.

    run_case.py NAME [NAME ...] --build BUILD_DIR --mpirun MPIRUN [--update] [--record FILE]
    run_case.py --all --build BUILD_DIR --mpirun MPIRUN        every case, one after another
    run_case.py --check-coverage                               a case file per params file
    run_case.py --self-test --build BUILD_DIR --mpirun MPIRUN  the runner catches a change

Each case runs (after its prerequisites) in a fresh temporary directory WORK, its
outputs in WORK/NAME; "{work}" in an override stands for WORK, so a case reads the
files its prerequisites wrote there. A mismatch prints one line naming the case, the
number, the expected and the measured value and the tolerance; the exit status is 1
when any case fails. --update rewrites the expected values of the named cases with the
measured ones (for deliberate changes; the tolerances stay); --record FILE merges the
measured values into FILE (tests/cases/baseline.json holds those of the pre-refactor
program). The case file format is described in tests/cases/README.md. Standard library
only (run it with /usr/bin/python3, as ctest does).
"""

import argparse
import csv
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
import scorefp_launch  # noqa: E402

# Files in tests/cases/ that are not cases.
NOT_CASES = {"baseline.json"}
# The quick case the self-test breaks on purpose.
SELF_TEST_CASE = "vp-1d"


class CaseError(Exception):
    """A case file that does not follow the format."""


# ---------------------------------------------------------------------------------------
# Case files


def case_path(name):
    return os.path.join(HERE, name + ".json")


def case_names():
    """Every case file's name (without .json), sorted."""
    return sorted(os.path.splitext(os.path.basename(p))[0]
                  for p in glob.glob(os.path.join(HERE, "*.json"))
                  if os.path.basename(p) not in NOT_CASES)


def load_case(path):
    with open(path) as f:
        case = json.load(f)
    for key in ("ranks", "overrides", "exit_status", "checks"):
        if key not in case:
            raise CaseError("%s: no \"%s\" entry" % (path, key))
    for check in case["checks"]:
        if "file" not in check or not (("path" in check) or ("column" in check and "row" in check)):
            raise CaseError("%s: a check needs \"file\" and either \"path\" (JSON) or \"row\" "
                            "and \"column\" (CSV): %s" % (path, json.dumps(check)))
    return case


def label(check):
    """How a key number is named in messages and in recorded values."""
    if "path" in check:
        return "%s:%s" % (check["file"], check["path"])
    row = check["row"]
    if isinstance(row, dict):
        row = ",".join("%s=%s" % (k, v) for k, v in row.items())
    return "%s[%s]:%s" % (check["file"], row, check["column"])


# ---------------------------------------------------------------------------------------
# Reading key numbers


def split_path(path):
    """'a.b[2].[name=sliced W2].c' -> ['a', 'b', 2, ('name', 'sliced W2'), 'c']: dots
    separate keys, except inside brackets; an integer (also '[2]') indexes a list, '-1'
    its last element; '[key=value]' picks the list element whose key is value."""
    parts = []
    for token in re.findall(r"\[[^\]]*\]|[^.\[\]]+", path):
        inner = token[1:-1] if token.startswith("[") else token
        if "=" in inner and token.startswith("["):
            key, value = inner.split("=", 1)
            parts.append((key.strip(), value.strip()))
        elif re.fullmatch(r"-?\d+", inner):
            parts.append(int(inner))
        else:
            parts.append(inner)
    return parts


def same_value(a, b):
    """Selector comparison: as numbers when both read as numbers, else as text."""
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def json_value(document, path):
    value = document
    for part in split_path(path):
        if isinstance(part, tuple):
            if not isinstance(value, list):
                raise KeyError("[%s=%s] applied to a non-list" % part)
            matches = [item for item in value
                       if isinstance(item, dict) and same_value(item.get(part[0]), part[1])]
            if len(matches) != 1:
                raise KeyError("%d elements with %s = %s" % (len(matches), part[0], part[1]))
            value = matches[0]
        elif isinstance(part, int):
            if not isinstance(value, list) or not -len(value) <= part < len(value):
                raise KeyError("no element %d" % part)
            value = value[part]
        else:
            if not isinstance(value, dict) or part not in value:
                raise KeyError("no key '%s'" % part)
            value = value[part]
    return value


def parse_number(text):
    """A CSV cell as int, float or text."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def csv_value(rows, row, column):
    if isinstance(row, int):
        if not -len(rows) <= row < len(rows):
            raise KeyError("no row %d (%d rows)" % (row, len(rows)))
        selected = rows[row]
    else:
        matches = [r for r in rows if all(same_value(r.get(k), v) for k, v in row.items())]
        if len(matches) != 1:
            raise KeyError("%d rows match" % len(matches))
        selected = matches[0]
    if column not in selected:
        raise KeyError("no column '%s'" % column)
    return parse_number(selected[column])


class Outputs:
    """The files of one run, read once each."""

    def __init__(self, directory):
        self.directory = directory
        self.cache = {}

    def read(self, name):
        if name not in self.cache:
            path = os.path.join(self.directory, name)
            if not os.path.isfile(path):
                self.cache[name] = FileNotFoundError("no file %s" % name)
            elif name.endswith(".csv"):
                with open(path, newline="") as f:
                    self.cache[name] = list(csv.DictReader(f))
            else:
                with open(path) as f:
                    self.cache[name] = json.load(f)
        content = self.cache[name]
        if isinstance(content, Exception):
            raise KeyError(str(content))
        return content

    def value(self, check):
        content = self.read(check["file"])
        if "path" in check:
            return json_value(content, check["path"])
        return csv_value(content, check["row"], check["column"])


# ---------------------------------------------------------------------------------------
# Comparing


def tolerance_text(check):
    parts = []
    if "rtol" in check:
        parts.append("rtol %g" % check["rtol"])
    if "atol" in check:
        parts.append("atol %g" % check["atol"])
    return ", ".join(parts) if parts else "exact"


def agrees(expected, got, check):
    """|got - expected| <= atol + rtol |expected| for numbers (exact without tolerances);
    equality for text, booleans and null."""
    numbers = (int, float)
    if (isinstance(expected, numbers) and not isinstance(expected, bool)
            and isinstance(got, numbers) and not isinstance(got, bool)):
        if math.isnan(expected) or math.isnan(got):
            return math.isnan(expected) and math.isnan(got)
        bound = check.get("atol", 0.0) + check.get("rtol", 0.0) * abs(expected)
        return abs(got - expected) <= bound
    return expected == got


def show(value):
    return "%.10g" % value if isinstance(value, float) else json.dumps(value)


# ---------------------------------------------------------------------------------------
# Running


def run_one(name, case, work, args, ranks=None):
    """Run case name into work/name; (CompletedProcess, seconds, output directory)."""
    out = os.path.join(work, name)
    overrides = [o.replace("{work}", work) for o in case["overrides"]]
    command = ["params/%s.prm" % name, "--set", "Output/Directory=" + out]
    for override in overrides:
        command += ["--set", override]
    start = time.time()
    try:
        result = scorefp_launch.run(command, ranks or case["ranks"], args.build, args.mpirun,
                                    cwd=ROOT, timeout=args.timeout)
    except subprocess.TimeoutExpired as expired:
        result = subprocess.CompletedProcess(expired.cmd, "timeout",
                                             expired.stdout or "", "timed out after %g s" % args.timeout)
    return result, time.time() - start, out


def tail(text, lines=5):
    text = text if isinstance(text, str) else (text or b"").decode(errors="replace")
    return " | ".join(text.strip().splitlines()[-lines:])


def failure_reason(result):
    """scorefp's own error lines of a run (mpirun's epilogue left out), else the end of
    its output."""
    stderr = result.stderr if isinstance(result.stderr, str) else ""
    own = [line.strip() for line in stderr.splitlines() if line.startswith("scorefp: ")]
    return " | ".join(own[:3]) if own else (tail(stderr, 3) or tail(result.stdout, 3))


def run_case(name, args, case=None):
    """Run one case (prerequisites first) and compare; (mismatch lines, measured values,
    seconds of the case's own run)."""
    case = case or load_case(case_path(name))
    work = tempfile.mkdtemp(prefix="scorefp-case-%s-" % name)
    problems, measured = [], {}
    try:
        for prerequisite in case.get("prerequisites", []):
            before = load_case(case_path(prerequisite))
            result, seconds, _ = run_one(prerequisite, before, work, args, args.ranks)
            print("  prerequisite %s: exit %s, %.1f s" % (prerequisite, result.returncode, seconds))
            if result.returncode != before["exit_status"]:
                problems.append("case %s: prerequisite %s exited with %s, expected %s (%s)"
                                % (name, prerequisite, result.returncode, before["exit_status"],
                                   failure_reason(result)))
                return problems, measured, 0.0
        result, seconds, out = run_one(name, case, work, args, args.ranks)
        print("  %s: exit %s, %.1f s" % (name, result.returncode, seconds))
        if result.returncode != case["exit_status"]:
            problems.append("case %s: exit status: expected %s, got %s (%s)"
                            % (name, case["exit_status"], result.returncode, failure_reason(result)))
        outputs = Outputs(out)
        missing_files = {}
        for check in case["checks"]:
            if not os.path.isfile(os.path.join(out, check["file"])):
                missing_files.setdefault(check["file"], []).append(label(check))
                continue
            try:
                got = outputs.value(check)
            except (KeyError, ValueError) as missing:
                problems.append("case %s: %s: expected %s, got nothing (%s)"
                                % (name, label(check), show(check.get("expected")),
                                   str(missing).strip("'\"")))
                continue
            measured[label(check)] = got
            if args.update:
                continue
            if not agrees(check.get("expected"), got, check):
                difference = ""
                if all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       for v in (got, check.get("expected"))):
                    difference = ", difference %.3g" % abs(got - check["expected"])
                problems.append("case %s: %s: expected %s, got %s, tolerance %s%s"
                                % (name, label(check), show(check.get("expected")), show(got),
                                   tolerance_text(check), difference))
        for missing, labels in missing_files.items():
            problems.append("case %s: no %s written, so %d key numbers are missing (%s)"
                            % (name, missing, len(labels), ", ".join(labels)))
        return problems, measured, seconds
    finally:
        if args.keep:
            print("  outputs kept in " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def update_case(name, case, measured):
    """Write the measured values as the expected ones into tests/cases/name.json."""
    for check in case["checks"]:
        check["expected"] = measured[label(check)]
    with open(case_path(name), "w") as f:
        json.dump(case, f, indent=2)
        f.write("\n")


def record(path, name, measured, seconds, problems, args):
    """Merge one case's measured values (and how many of its checks failed) into the
    JSON file path."""
    document = {}
    if os.path.isfile(path):
        with open(path) as f:
            document = json.load(f)
    document.setdefault("binary", scorefp_launch.executable(args.build))
    document.setdefault("ranks", args.ranks or "each case's own (its \"ranks\")")
    document.setdefault("cases", {})
    document["cases"][name] = {"wall_seconds": round(seconds, 2), "mismatches": len(problems),
                               "values": measured}
    document["cases"] = dict(sorted(document["cases"].items()))
    with open(path, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")


def run_cases(names, args):
    failures, total = [], 0.0
    for name in names:
        print("case %s" % name, flush=True)
        case = load_case(case_path(name))
        problems, measured, seconds = run_case(name, args, case)
        total += seconds
        for line in problems:
            print(line, flush=True)
        failures += problems
        if args.update:
            if problems:
                print("case %s: not updated (fix the problems above first)" % name)
            else:
                update_case(name, case, measured)
                print("case %s: %d expected values rewritten" % (name, len(measured)))
        if args.record:
            record(args.record, name, measured, seconds, problems, args)
        print("case %s: %s (%d key numbers)" % (name, "FAILED" if problems else "ok",
                                              len(case["checks"])), flush=True)
    if len(names) > 1:
        print("%d cases, %d mismatches, %.1f s in the cases' own runs"
              % (len(names), len(failures), total))
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------
# Coverage and self-test


def check_coverage():
    """A case file per params/*.prm and a params file per case file."""
    parameter_files = sorted(os.path.splitext(os.path.basename(p))[0]
                             for p in glob.glob(os.path.join(ROOT, "params", "*.prm")))
    cases = case_names()
    problems = ["params/%s.prm has no tests/cases/%s.json" % (n, n)
                for n in parameter_files if n not in cases]
    problems += ["tests/cases/%s.json has no params/%s.prm" % (n, n)
                 for n in cases if n not in parameter_files]
    for name in cases:
        try:
            case = load_case(case_path(name))
        except (CaseError, ValueError) as error:
            problems.append(str(error))
            continue
        for prerequisite in case.get("prerequisites", []):
            if prerequisite not in cases:
                problems.append("tests/cases/%s.json: prerequisite %s has no case file"
                                % (name, prerequisite))
    for line in problems:
        print(line)
    print("coverage: %d parameter files, %d case files, %d problems"
          % (len(parameter_files), len(cases), len(problems)))
    return 1 if problems else 0


def self_test(args):
    """Break one expected value of a quick case on purpose: the runner must fail with one
    line naming the case and the number. The expected values are first measured with
    the build under test, so that the self-test judges the runner, not the build; the
    unbroken measured case must pass."""
    case = load_case(case_path(SELF_TEST_CASE))
    directory = tempfile.mkdtemp(prefix="scorefp-case-self-test-")
    try:
        base = [sys.executable, os.path.abspath(__file__), SELF_TEST_CASE, "--build", args.build,
                "--mpirun", args.mpirun]
        measured_file = os.path.join(directory, "measured.json")
        first = subprocess.run(base + ["--record", measured_file], capture_output=True, text=True)
        measured = {}
        if os.path.isfile(measured_file):
            with open(measured_file) as f:
                measured = json.load(f)["cases"][SELF_TEST_CASE]["values"]
        if any(label(check) not in measured for check in case["checks"]):
            print(first.stdout + first.stderr)
            print("FAIL: case %s did not give every key number, so the runner cannot be tested"
                  % SELF_TEST_CASE)
            return 1
        for check in case["checks"]:
            check["expected"] = measured[label(check)]
        target = next((c for c in case["checks"] if c.get("path") == "errors.final.L2"),
                      next(c for c in case["checks"] if isinstance(c["expected"], float)))
        files = {}
        for kind in ("good", "broken"):
            if kind == "broken":
                target["expected"] = target["expected"] * 1.5 + 1.0
            files[kind] = os.path.join(directory, kind + ".json")
            with open(files[kind], "w") as f:
                json.dump(case, f)
        good = subprocess.run(base + ["--case-file", files["good"]], capture_output=True, text=True)
        bad = subprocess.run(base + ["--case-file", files["broken"]], capture_output=True, text=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(bad.stdout)
    mismatches = [line for line in bad.stdout.splitlines()
                  if line.startswith("case %s: " % SELF_TEST_CASE) and "expected" in line]
    checks = [
        (good.returncode == 0, "the case with its measured values passes (exit %d: %s)"
         % (good.returncode, tail(good.stdout))),
        (bad.returncode != 0, "the case with a wrong value fails (exit %d)" % bad.returncode),
        (len(mismatches) == 1 and label(target) in mismatches[0] and "got" in mismatches[0],
         "exactly one line names case %s and %s" % (SELF_TEST_CASE, label(target))),
    ]
    for ok, message in checks:
        print(("ok: " if ok else "FAIL: ") + message)
    return 0 if all(ok for ok, _ in checks) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help="cases (params/NAME.prm)")
    parser.add_argument("--all", action="store_true", help="run every case")
    parser.add_argument("--build", default=os.path.join(ROOT, "build"),
                        help="build directory holding scorefp (default: build/)")
    parser.add_argument("--mpirun", default="mpirun", help="MPI launcher (default mpirun)")
    parser.add_argument("--update", action="store_true",
                        help="rewrite the expected values with the measured ones")
    parser.add_argument("--record", metavar="FILE", help="merge the measured values into FILE")
    parser.add_argument("--ranks", type=int, default=None,
                        help="run on this many ranks instead of the case's (to study rank dependence)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run (default 600)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--check-coverage", action="store_true",
                        help="fail unless every params/*.prm has a case file and vice versa")
    parser.add_argument("--self-test", action="store_true",
                        help="check that a wrong expected value makes the runner fail")
    parser.add_argument("--case-file", help=argparse.SUPPRESS)  # the self-test's broken case
    args = parser.parse_args()
    if args.check_coverage:
        return check_coverage()
    if args.self_test:
        return self_test(args)
    names = case_names() if args.all else args.names
    if not names:
        parser.error("name a case, or give --all, --check-coverage or --self-test")
    unknown = [n for n in names if not os.path.isfile(case_path(n))]
    if unknown:
        parser.error("no case file tests/cases/%s.json" % unknown[0])
    try:
        scorefp_launch.executable(args.build)
    except FileNotFoundError as error:
        parser.error(str(error))
    if args.case_file:
        if len(names) != 1 or args.update:
            parser.error("--case-file goes with one case name and no --update")
        problems, _, _ = run_case(names[0], args, load_case(args.case_file))
        for line in problems:
            print(line)
        print("case %s: %s" % (names[0], "FAILED" if problems else "ok"))
        return 1 if problems else 0
    return run_cases(names, args)


if __name__ == "__main__":
    sys.exit(main())
