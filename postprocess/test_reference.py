#!/usr/bin/env python3
"""Reference files as Python sees them: a short density run and a short score run of
scorefp (mpirun -np 2) write reference files; every dataset and attribute is read
with h5py and checked against postprocess/REFERENCE_FORMAT.md (names, shapes, dtypes),
the cloud weights sum to the mass, the grid density matches the exact Gaussian law,
the finite-element values evaluated from the documented layout reproduce the cloud,
and the reader module reports missing and foreign files clearly.

    python3 postprocess/test_reference.py --build BUILD_DIR [--mpirun mpirun]

(the build directory may also be given as the environment variable SCOREFP_BUILD).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scorefp_reference as sr  # noqa: E402
import scorefp_launch  # noqa: E402

BUILD = os.environ.get("SCOREFP_BUILD", "")
MPIRUN = "mpirun"

CASE = """
set Dimension = 2
set Equation = {equation}
subsection Process
  set Type = VP
end
subsection Initial data
  set Type = gaussian mixture
  set Weights = 1
  set Means = 0.5, -0.3
  set Covariances = 0.6, 0.1, 0.1, 0.4
end
subsection Mesh
  set Coarse subdivisions = 4
  set Refinement levels = {level}
end
subsection Discretization
  set Polynomial degree = {degree}
end
subsection Time stepping
  set Tolerance = 1e-4
end
subsection Output
  set Directory = out-{equation}
  set Number of output intervals = 2
  set Write VTU = false
  set Quiet = true
  set Reference file = reference.h5
  set Reference grid points = 33, 17
end
"""

STRING, INTEGER, FLOAT = "string", "integer", "float"

ROOT_ATTRIBUTES = {
    "format": STRING, "scorefp_version": STRING, "equation": STRING, "dimension": INTEGER,
    "degree": INTEGER, "data_description": STRING, "scaled_coordinates": INTEGER,
    "geometry": STRING, "parameters": STRING, "score_source": STRING, "n_snapshots": INTEGER,
}

#: The entries of the case's process and data set (/process, /data), as text.
PROCESS_ENTRIES = {"Type": "VP", "Start time": "0", "Final time": "1", "beta min": "0.1",
                   "beta max": "20"}
DATA_ENTRIES = {"Type": "gaussian mixture", "Weights": "1", "Means": "0.5, -0.3",
                "Covariances": "0.6, 0.1, 0.1, 0.4"}

#: A version-1 file written before format version 2 (tests/reference/data/README.md)
#: and the overrides of params/reference-vp-2d.prm that wrote it.
SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION_1_FILE = os.path.join(SOURCE, "tests", "reference", "data", "vp-2d-v1.h5")
VERSION_1_CASE = os.path.join(SOURCE, "params", "reference-vp-2d.prm")
VERSION_1_OVERRIDES = [
    "Mesh/Refinement levels=1", "Discretization/Polynomial degree=2",
    "Output/Output times=0.01, 0.1, 0.5, 1", "Output/Reference grid points=9",
    "Time stepping/Tolerance=1e-4", "Output/Quiet=true"]


def run_case(directory, equation, degree, level):
    """Write the case's parameter file into directory and run it on 2 ranks."""
    with open(os.path.join(directory, equation + ".prm"), "w") as out:
        out.write(CASE.format(equation=equation, degree=degree, level=level))
    done = scorefp_launch.run([equation + ".prm"], 2, BUILD, MPIRUN, cwd=directory, timeout=600)
    if done.returncode != 0:
        raise RuntimeError("%s failed:\n%s\n%s" % (scorefp_launch.format_command(done.args),
                                                     done.stdout, done.stderr))
    return os.path.join(directory, "out-" + equation, "reference.h5")


def check_attribute(test, owner, name, value, kind):
    """One attribute of the documented kind (h5py returns str, numpy integers/floats)."""
    where = "%s attribute %s" % (owner, name)
    if kind == STRING:
        test.assertIsInstance(value, str, where)
    elif kind == INTEGER:
        test.assertTrue(np.issubdtype(np.asarray(value).dtype, np.integer), where)
        test.assertEqual(np.asarray(value).dtype, np.int64, where)
    else:
        test.assertEqual(np.asarray(value).dtype, np.float64, where)


def lagrange_1d(nodes, x):
    """Values (len(x), len(nodes)) of the Lagrange polynomials on nodes at x."""
    values = np.ones((len(x), len(nodes)))
    for i, zi in enumerate(nodes):
        for m, zm in enumerate(nodes):
            if m != i:
                values[:, i] *= (x - zm) / (zi - zm)
    return values


def density_from_dofs(h5, snapshot, points, cells):
    """p_h at physical points lying in the given (box) cells, from density_dofs and the
    documented layout: FE_Q local order, lexicographic_to_local, unit support points."""
    d = h5.attrs["dimension"]
    c = snapshot.attrs["scale"]
    vertices = h5["mesh/vertices"][()]
    cell_vertices = h5["mesh/cells"][()]
    lex = h5["fe/lexicographic_to_local"][()]
    nodes = np.unique(h5["fe/unit_support_points"][()][:, 0])
    dofs = snapshot["density_dofs"][()]
    lower = vertices[cell_vertices[cells, 0]]
    upper = vertices[cell_vertices[cells, -1]]
    unit = (points / c - lower) / (upper - lower)
    basis = np.ones((len(points), len(lex)))
    n1 = len(nodes)
    for j in range(d):
        values = lagrange_1d(nodes, unit[:, j])
        index = (np.arange(len(lex)) // n1 ** j) % n1  # lexicographic: x0 fastest
        basis *= values[:, index]
    local = dofs[cells][:, lex]  # coefficients in lexicographic order
    return np.sum(local * basis, axis=1) / c ** d


class ReferenceFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp(prefix="scorefp-reference-py-")
        cls.density_file = run_case(cls.directory, "density", 3, 2)
        cls.score_file = run_case(cls.directory, "score", 2, 1)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.directory, ignore_errors=True)

    def walk_and_check(self, path):
        """Every object and attribute of the file against the documented schema."""
        import h5py
        with h5py.File(path, "r") as h5:
            root = dict(h5.attrs)
            self.assertEqual(set(root), set(ROOT_ATTRIBUTES))
            for name, kind in ROOT_ATTRIBUTES.items():
                check_attribute(self, "/", name, root[name], kind)
            self.assertEqual(root["format"], sr.FORMAT)
            d, degree = int(root["dimension"]), int(root["degree"])
            score = root["equation"] == "score"
            dofs = (degree + 1) ** d
            n_vertices, n_cells = h5["mesh/vertices"].shape[0], h5["mesh/cells"].shape[0]
            ppd = degree + 1
            n_q = n_cells * ppd ** d
            grid = (33, 17)
            expected = {  # name: (shape, dtype, attributes)
                "mesh": (None, None, {"coordinates": STRING, "mapping": STRING}),
                "mesh/vertices": ((n_vertices, d), np.float64, {}),
                "mesh/cells": ((n_cells, 2 ** d), np.int64, {}),
                "fe": (None, None, {"element": STRING, "degree": INTEGER}),
                "fe/unit_support_points": ((dofs, d), np.float64, {}),
                "fe/lexicographic_to_local": ((dofs,), np.int64, {}),
                "snapshots": (None, None, {}),
                "process": (None, None, {key: STRING for key in h5["process"].attrs}),
                "data": (None, None, {key: STRING for key in h5["data"].attrs}),
            }
            for i in range(int(root["n_snapshots"])):
                s = "snapshots/%04d" % i
                expected.update({
                    s: (None, None, {"time": FLOAT, "scale": FLOAT, "mass": FLOAT,
                                     "score_source": STRING}),
                    s + "/density_dofs": ((n_cells, dofs), np.float64, {}),
                    s + "/mean": ((d,), np.float64, {}),
                    s + "/covariance": ((d, d), np.float64, {}),
                    s + "/cloud": (None, None, {"points_per_direction": INTEGER,
                                                "score_source": STRING}),
                    s + "/cloud/points": ((n_q, d), np.float64, {}),
                    s + "/cloud/weights": ((n_q,), np.float64, {}),
                    s + "/cloud/cells": ((n_q,), np.int64, {}),
                    s + "/cloud/score": ((n_q, d), np.float64, {}),
                    s + "/grid": (None, None, {"score_source": STRING}),
                    s + "/grid/density": (grid, np.float64, {}),
                    s + "/grid/score": (grid + (d,), np.float64, {}),
                })
                for j in range(d):
                    expected[s + "/grid/x%d" % j] = ((grid[j],), np.float64, {})
                if score:
                    expected[s + "/score_dofs"] = ((n_cells, d, dofs), np.float64, {})
            seen = {}
            h5.visititems(lambda name, obj: seen.setdefault(name, obj) and None)
            self.assertEqual(set(seen), set(expected))
            for name, obj in seen.items():
                shape, dtype, attributes = expected[name]
                if shape is None:
                    self.assertIsInstance(obj, h5py.Group, name)
                else:
                    self.assertIsInstance(obj, h5py.Dataset, name)
                    self.assertEqual(obj.shape, shape, name)
                    self.assertEqual(obj.dtype, dtype, name)
                    data = obj[()]  # read every dataset
                    if not name.endswith("grid/score"):
                        self.assertTrue(np.all(np.isfinite(data)), name)
                self.assertEqual(set(obj.attrs), set(attributes), name)
                for key, kind in attributes.items():
                    check_attribute(self, name, key, obj.attrs[key], kind)
            source = "finite_element" if score else "log_density_gradient"
            self.assertEqual(root["score_source"], source)
            self.assertEqual(sorted(h5["fe/lexicographic_to_local"][()]), list(range(dofs)))
            self.assertIn("Reference file", root["parameters"])
            # The process and data set as parameter-file entries, in the order written.
            process = {key: value for key, value in h5["process"].attrs.items()}
            self.assertEqual(process, PROCESS_ENTRIES)
            self.assertEqual(list(process)[:3], ["Type", "Start time", "Final time"])
            data = {key: value for key, value in h5["data"].attrs.items()}
            self.assertEqual(data["Type"], "gaussian mixture")
            self.assertEqual(float(data["Smoothing variance"]), 0.0)
            for key, value in DATA_ENTRIES.items():
                self.assertEqual(data[key], value, key)

    def test_density_file_schema(self):
        self.walk_and_check(self.density_file)

    def test_score_file_schema(self):
        self.walk_and_check(self.score_file)

    def test_weights_sum_to_mass_and_moments(self):
        with sr.Reference(self.density_file) as ref:
            self.assertEqual(ref.n_snapshots, 3)
            np.testing.assert_allclose(ref.times, [0.0, 0.5, 1.0])
            for snap in ref:
                self.assertAlmostEqual(snap.cloud_weights.sum(), snap.mass, delta=1e-12)
                self.assertAlmostEqual(snap.mass, 1.0, delta=1e-6)
                mean = snap.expectation(lambda x: x) / snap.mass
                np.testing.assert_allclose(mean, snap.mean, atol=1e-12)
                centred = snap.cloud_points - snap.mean
                covariance = (snap.cloud_weights[:, None, None] * centred[:, :, None]
                              * centred[:, None, :]).sum(axis=0) / snap.mass
                np.testing.assert_allclose(covariance, snap.covariance, atol=1e-12)
                self.assertTrue(np.all((0 <= snap.cloud_cells) & (snap.cloud_cells < len(ref.cells))))

    def test_grid_density_matches_the_exact_gaussian(self):
        with sr.Reference(self.density_file) as ref:
            for snap in ref:
                m, v = sr.transition(ref.process, snap.time)
                mean = m * np.array([0.5, -0.3])
                covariance = m * m * np.array([[0.6, 0.1], [0.1, 0.4]]) + v * np.eye(2)
                exact = sr.gaussian_mixture_density(
                    snap.grid_points(), [1.0], [mean], [covariance]).reshape(33, 17)
                self.assertEqual(snap.grid_density.shape, (33, 17))
                error = np.max(np.abs(snap.grid_density - exact)) / np.max(exact)
                self.assertLess(error, 5e-3, "t = %g" % snap.time)
                # The module's own closed form (from the parameter text) agrees.
                np.testing.assert_allclose(
                    sr.exact_density(ref, snap.time, snap.grid_points()), exact.ravel(),
                    rtol=1e-12, atol=1e-300)
                # The grid spans the mesh's bounding box; grad p_h / p_h is finite inside.
                self.assertEqual(snap.grid_axes[0][0], -5.0)
                self.assertEqual(snap.grid_axes[1][-1], 5.0)
                self.assertTrue(np.all(np.isfinite(snap.grid_score)))

    def test_documented_dof_layout_reproduces_the_cloud(self):
        import h5py
        with h5py.File(self.density_file, "r") as h5:
            for name in ("0000", "0002"):
                s = h5["snapshots/" + name]
                points = s["cloud/points"][()]
                cells = s["cloud/cells"][()]
                weights = s["cloud/weights"][()]
                values = density_from_dofs(h5, s, points, cells)
                # weights = p_h(x_q) JxW_q with Gauss weights on box cells.
                ppd = int(s["cloud"].attrs["points_per_direction"])
                gauss = np.polynomial.legendre.leggauss(ppd)[1] / 2
                vertices = h5["mesh/vertices"][()]
                corners = h5["mesh/cells"][()]
                size = vertices[corners[:, -1]] - vertices[corners[:, 0]]
                volume = np.prod(size * s.attrs["scale"], axis=1)
                w2 = np.outer(gauss, gauss).ravel()  # x0 fastest, as QGauss<2>
                jxw = volume[cells] * np.tile(w2, len(corners))
                np.testing.assert_allclose(values * jxw, weights, rtol=1e-10, atol=1e-14)

    def test_score_file_holds_the_finite_element_score(self):
        with sr.Reference(self.score_file) as ref:
            self.assertTrue(ref.has_score)
            for snap in ref:
                self.assertEqual(snap.score_source, "finite_element")
                self.assertEqual(snap.score_dofs.shape[1], 2)
                # Exact score of N(mean, C): -C^-1 (x - mean), weighted relative error.
                m, v = sr.transition(ref.process, snap.time)
                C = m * m * np.array([[0.6, 0.1], [0.1, 0.4]]) + v * np.eye(2)
                exact = -np.linalg.solve(C, (snap.cloud_points - m * np.array([0.5, -0.3])).T).T
                w = np.maximum(snap.cloud_weights, 0)[:, None]
                error = np.sqrt(np.sum(w * (snap.cloud_score - exact) ** 2) / np.sum(w * exact ** 2))
                self.assertLess(error, 2e-2, "t = %g" % snap.time)

    def test_reader_gives_the_process_and_data_entries(self):
        with sr.Reference(self.density_file) as ref:
            self.assertEqual(ref.format_version, 2)
            self.assertEqual(ref.process, PROCESS_ENTRIES)
            self.assertEqual(ref.data["Type"], "gaussian mixture")
            self.assertEqual(ref.data_description, ref.metadata["data_description"])
            self.assertEqual(sr.transition(ref, 0.5), sr.transition(ref.process, 0.5))

    def test_version_1_file_reads_and_equals_the_version_2_file_of_its_case(self):
        directory = os.path.join(self.directory, "version-1-case")
        os.makedirs(directory)
        arguments = [VERSION_1_CASE]
        for override in VERSION_1_OVERRIDES + ["Output/Directory=" + directory]:
            arguments += ["--set", override]
        done = scorefp_launch.run(arguments, 1, BUILD, MPIRUN, cwd=directory, timeout=600)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        with sr.Reference(VERSION_1_FILE) as old, \
                sr.Reference(os.path.join(directory, "reference.h5")) as new:
            self.assertEqual((old.format_version, new.format_version), (1, 2))
            self.assertEqual(old.metadata["format"], sr.FORMATS[1])
            self.assertEqual(new.metadata["format"], sr.FORMAT)
            # The same process and data set, whichever way the file stores them.
            self.assertEqual(old.process["Type"], new.process["Type"])
            for key, value in new.process.items():
                self.assertEqual(float(old.process[key]) if key != "Type" else old.process[key],
                                 float(value) if key != "Type" else value, key)
            self.assertEqual(old.data["Type"], "blob")
            self.assertEqual(new.data["Type"], "blob")
            self.assertEqual(old.data_description, new.data_description)
            np.testing.assert_array_equal(old.times, new.times)
            np.testing.assert_array_equal(old.cells, new.cells)
            for a, b in zip(old, new):
                for name in ("density_dofs", "cloud_weights", "grid_density", "grid_score",
                             "cloud_score", "mean", "covariance"):
                    x, y = getattr(a, name), getattr(b, name)
                    scale = np.nanmax(np.abs(x))
                    np.testing.assert_allclose(y, x, rtol=0, atol=1e-12 * scale,
                                               err_msg="%s at t = %g" % (name, a.time))

    def test_reader_reports_missing_and_foreign_files(self):
        missing = os.path.join(self.directory, "no-such-file.h5")
        with self.assertRaises(FileNotFoundError) as caught:
            sr.Reference(missing)
        self.assertIn(missing, str(caught.exception))
        text = os.path.join(self.directory, "text.h5")
        with open(text, "w") as out:
            out.write("not HDF5\n")
        with self.assertRaises(sr.ReferenceFormatError) as caught:
            sr.Reference(text)
        self.assertIn("not an HDF5 file", str(caught.exception))
        import h5py
        foreign = os.path.join(self.directory, "foreign.h5")
        with h5py.File(foreign, "w") as h5:
            h5["x"] = np.zeros(3)
        with self.assertRaises(sr.ReferenceFormatError) as caught:
            sr.Reference(foreign)
        self.assertIn("no 'format' attribute", str(caught.exception))

    def test_example_script_runs(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "example_reference.py")
        done = subprocess.run([sys.executable, script, self.density_file], capture_output=True,
                              text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("grid density: max |p_h - p| / max p", done.stdout)
        self.assertEqual(done.stdout.count("mass = "), 3)


def main():
    global BUILD, MPIRUN
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=BUILD, help="CMake build directory (has scorefp)")
    parser.add_argument("--mpirun", default=MPIRUN)
    args, rest = parser.parse_known_args()
    try:
        if not args.build:
            raise FileNotFoundError(args.build)
        scorefp_launch.executable(args.build)
    except FileNotFoundError:
        parser.error("no scorefp executable in --build '%s' (or SCOREFP_BUILD)" % args.build)
    BUILD, MPIRUN = os.path.abspath(args.build), args.mpirun
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
