#!/usr/bin/python3
"""Figures of scorefp runs: one command per figure, each reading a run's output directory.

    /usr/bin/python3 postprocess/scorefp/figures.py KIND RUN_DIR [-o OUT.png] [options]
    PYTHONPATH=postprocess /usr/bin/python3 -m scorefp.figures KIND RUN_DIR ...

    from scorefp import figures
    figures.errors("output/demo")                      # -> ["output/demo/figure-errors.png"]
    figures.fields("output/score-vp-2d", time=0.5, output="fields.pdf")

KIND          reads                                  shows
errors        statistics.csv (+ summary.json)        relative errors against t (density,
                                                     score or log-density run; a multi-level
                                                     run's level-N/statistics.csv), --dt
convergence   summary.json "convergence"             error against n_dofs or h, log-log,
                                                     observed rates, reference slope p + 1
schemes       scheme_table.json or .csv              (sliced) W2 against steps per scheme,
                                                     exact-draw spread as a band
fields        solution.pvd + .pvtu (1D, 2D)          density and score arrows at --time, and
                                                     the error field
tails         tail_shells.csv                        score FPE's error against grad p_h/p_h's
                                                     by radius
score-check   score-check.pvd + score-check.csv      residual and curl cell fields at --time,
                                                     per-time quantities
all           whatever the directory holds           every figure above that it can draw

Every figure is written as PNG (default RUN_DIR/figure-KIND.png); with --pdf, or an output
ending in .pdf, as PDF too (next to each other, same stem). Every function returns the
list of files written. An input that is missing or malformed stops with one sentence
naming the file and what was expected (FigureInputError, a SystemExit), not a traceback.

Self-contained: NumPy, matplotlib (Agg, through its object interface: no pyplot, no global
backend change) and the standard library; the figures that read VTU import ParaView's
vtkmodules when they are called.
"""

import argparse
import csv
import glob
import json
import math
import os
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
import matplotlib
# The Agg canvas directly: no pyplot, so importing this module changes no global backend.
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib import colors as mcolors
from matplotlib import lines as mlines
from matplotlib import tri as mtri
from matplotlib import ticker as mticker

__all__ = ["errors", "convergence", "schemes", "fields", "tails", "score_check", "all_figures",
           "FigureInputError", "KINDS", "main"]

DPI = 100                     # README figures: 100 dpi, a few tens of kB each
ONE_PANEL = (7.0, 4.5)        # inches
TWO_PANELS = (12.0, 4.8)
THREE_PANELS = (15.5, 5.0)


class FigureInputError(SystemExit):
    """A missing or malformed input: its message is one sentence naming the file."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


def _fail(kind, path, what):
    raise FigureInputError("figures %s: %s: %s" % (kind, path, what))


# ---------------------------------------------------------------------------------------
# Reading a run directory
# ---------------------------------------------------------------------------------------

def _require_directory(kind, run_dir):
    if not os.path.isdir(run_dir):
        _fail(kind, run_dir, "no such directory; expected a scorefp run's Output/Directory")


def _read_json(kind, path, what):
    if not os.path.isfile(path):
        _fail(kind, path, "no such file; expected " + what)
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        _fail(kind, path, "not valid JSON (%s); expected %s"
              % (str(e).splitlines()[0] if str(e) else type(e).__name__, what))
    if not isinstance(data, dict):
        _fail(kind, path, "not a JSON object; expected " + what)
    return data


def _optional_json(path):
    """summary.json and friends for titles only: None when absent or unreadable."""
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _read_csv(kind, path, what, required=(), text_columns=()):
    """A CSV file as {column: numpy array} (floats; text_columns kept as str), checked to
    have the required columns and at least one row."""
    if not os.path.isfile(path):
        _fail(kind, path, "no such file; expected " + what)
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        _fail(kind, path, "cannot be read as CSV (%s); expected %s" % (e, what))
    if not header:
        _fail(kind, path, "is empty; expected " + what)
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        _fail(kind, path, "has no column%s %s (columns: %s); expected %s"
              % ("s" if len(missing) > 1 else "", ", ".join(missing), ",".join(header), what))
    if not rows:
        _fail(kind, path, "has a header but no rows; expected " + what)
    table = {}
    for column in header:
        values = []
        for number, row in enumerate(rows, start=2):
            value = row.get(column)
            if value is None:
                _fail(kind, path, "line %d has fewer fields than the header; expected %s"
                      % (number, what))
            value = value.strip()
            if column in text_columns:
                values.append(value)
                continue
            try:
                values.append(float(value) if value else float("nan"))
            except ValueError:
                _fail(kind, path, "line %d, column %s: %r is not a number; expected %s"
                      % (number, column, value, what))
        table[column] = np.array(values, dtype=object if column in text_columns else float)
    return table


def read_parameters(path):
    """A deal.II parameter file (the run's parameters.prm) as {"Section/Key": "value"}; {}
    when it cannot be read (it only names things in titles)."""
    result = {}
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return result
    sections = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line.startswith("subsection "):
            sections.append(line[len("subsection "):].strip())
        elif line == "end":
            if sections:
                sections.pop()
        elif line.startswith("set ") and "=" in line:
            key, value = line[4:].split("=", 1)
            result["/".join(sections + [key.strip()])] = value.strip()
    return result


def _case_name(run_dir):
    return os.path.basename(os.path.normpath(os.path.abspath(run_dir)))


def describe_run(run_dir, mesh=True):
    """A short title for the run: its directory name, dimension, process, data, elements
    and (mesh=True) the cells and DoFs, from summary.json and parameters.prm when present."""
    summary = _optional_json(os.path.join(run_dir, "summary.json")) or {}
    prm = read_parameters(os.path.join(run_dir, "parameters.prm"))
    parts = []
    dimension = summary.get("dimension", prm.get("Dimension"))
    process = summary.get("process", prm.get("Process/Type"))
    if dimension is not None and process is not None:
        parts.append("%sD %s" % (dimension, process))
    data = prm.get("Initial data/Type") or summary.get("data")
    if data:
        parts.append(str(data))
    equation = summary.get("equation")
    if equation and equation != "density":
        parts.append(equation + " equation")
    degree = summary.get("polynomial_degree")
    if degree is not None:
        element = "Q%d" % degree + ("^d" if equation == "score" else "")
        if mesh and summary.get("n_cells"):
            element += ", %d cells" % summary["n_cells"]
        if mesh and summary.get("n_dofs"):
            element += ", %d DoFs" % summary["n_dofs"]
        parts.append(element)
    name = _case_name(run_dir)
    return name + (": " + ", ".join(parts) if parts else "")


def _title(what, case, width=75):
    """'what: case' on one line, or on two when it is longer than width characters."""
    return "%s: %s" % (what, case) if len(what) + len(case) + 2 <= width else \
        "%s\n%s" % (what, case)


def _pvd_datasets(kind, path, what):
    """[(time, absolute file)] of a ParaView collection, sorted by time."""
    if not os.path.isfile(path):
        _fail(kind, path, "no such file; expected " + what)
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError) as e:
        _fail(kind, path, "not a readable XML file (%s); expected %s" % (e, what))
    datasets = []
    for element in root.iter("DataSet"):
        try:
            time = float(element.get("timestep"))
            name = element.get("file")
        except (TypeError, ValueError):
            _fail(kind, path, "a DataSet has no numeric timestep or no file; expected " + what)
        if not name:
            _fail(kind, path, "a DataSet has no file; expected " + what)
        datasets.append((time, os.path.join(os.path.dirname(path), name)))
    if not datasets:
        _fail(kind, path, "lists no DataSet; expected " + what)
    return sorted(datasets, key=lambda d: d[0])


def _pick_time(datasets, time):
    """The dataset at the output time nearest to time (None: the last)."""
    if time is None:
        return datasets[-1]
    return min(datasets, key=lambda d: abs(d[0] - time))


class Mesh:
    """The points, cells and point data of one .vtu/.pvtu file (all pieces merged)."""

    def __init__(self, points, offsets, connectivity, cell_types, point_data, grid):
        self.points = points              # (n, 3) float64
        self.offsets = offsets            # (n_cells + 1,) into connectivity
        self.connectivity = connectivity
        self.cell_types = cell_types
        self.point_data = point_data      # name -> (n,) or (n, k) float64
        self._grid = grid                 # the vtkUnstructuredGrid (parametric coordinates)

    def field(self, kind, path, name):
        if name not in self.point_data:
            _fail(kind, path, "has no field %s (fields: %s)"
                  % (name, ", ".join(sorted(self.point_data))))
        return self.point_data[name]

    def parametric_coordinates(self, cell_id):
        cell = self._grid.GetCell(int(cell_id))
        n = cell.GetNumberOfPoints()
        pointer = cell.GetParametricCoords()
        return np.array([pointer[i] for i in range(3 * n)], dtype=float).reshape(n, 3)


def read_vtu(path, kind="fields"):
    """A .vtu or .pvtu file as a Mesh (ParaView's vtkmodules, imported here)."""
    if not os.path.isfile(path):
        _fail(kind, path, "no such file; expected a VTU file written by scorefp")
    if path.endswith(".pvtu"):
        try:
            pieces = [p.get("Source") for p in ElementTree.parse(path).getroot().iter("Piece")]
        except (ElementTree.ParseError, OSError) as e:
            _fail(kind, path, "not a readable XML file (%s); expected a .pvtu file" % e)
        if not pieces:
            _fail(kind, path, "lists no Piece; expected a .pvtu file with one piece per rank")
        for piece in pieces:
            piece_path = os.path.join(os.path.dirname(path), piece or "")
            if not piece or not os.path.isfile(piece_path):
                _fail(kind, piece_path, "no such file; expected the piece that %s lists"
                      % os.path.basename(path))
    try:
        from vtkmodules.vtkIOXML import (vtkXMLPUnstructuredGridReader,
                                         vtkXMLUnstructuredGridReader)
        from vtkmodules.util import numpy_support
    except ImportError:
        _fail(kind, path, "cannot be read without ParaView's Python package vtkmodules "
              "(python3-vtk9 or paraview); run figures with /usr/bin/python3")
    try:
        from vtkmodules.vtkCommonCore import vtkObject
        vtkObject.GlobalWarningDisplayOff()     # errors become our one sentence
    except ImportError:
        pass
    reader = (vtkXMLPUnstructuredGridReader if path.endswith(".pvtu")
              else vtkXMLUnstructuredGridReader)()
    failed = []
    reader.AddObserver("ErrorEvent", lambda caller, event: failed.append(event))
    reader.SetFileName(path)
    reader.Update()
    grid = reader.GetOutput()
    if failed or grid is None or grid.GetNumberOfPoints() == 0 or grid.GetNumberOfCells() == 0:
        _fail(kind, path, "VTK could not read it or it holds no cells; expected an "
              "unstructured grid written by scorefp")
    points = numpy_support.vtk_to_numpy(grid.GetPoints().GetData()).astype(float)
    cells = grid.GetCells()
    offsets = numpy_support.vtk_to_numpy(cells.GetOffsetsArray()).astype(np.int64)
    connectivity = numpy_support.vtk_to_numpy(cells.GetConnectivityArray()).astype(np.int64)
    cell_types = numpy_support.vtk_to_numpy(grid.GetCellTypesArray()).astype(int)
    data = grid.GetPointData()
    point_data = {}
    for i in range(data.GetNumberOfArrays()):
        array = data.GetArray(i)
        if array is not None and array.GetName():
            point_data[array.GetName()] = numpy_support.vtk_to_numpy(array).astype(float)
    return Mesh(points, offsets, connectivity, cell_types, point_data, grid)


# VTK cell types by the dimension of the cell.
_CELLS_1D = {3, 21, 35, 68}                   # line, quadratic, cubic, Lagrange curve
_CELLS_2D = {5, 9, 22, 23, 28, 69, 70}        # triangles and quadrilaterals, Lagrange too


def _lattice_triangles(parametric):
    """Local triangles (k, 3) splitting a high-order quadrilateral or triangle whose nodes
    lie on a lattice of the reference cell; None when they do not."""
    n = len(parametric)
    r, s = parametric[:, 0], parametric[:, 1]
    order = int(round(math.sqrt(n))) - 1
    if order >= 1 and (order + 1) ** 2 == n:             # quadrilateral lattice
        i, j = np.rint(r * order).astype(int), np.rint(s * order).astype(int)
        if np.allclose(i, r * order, atol=1e-6) and np.allclose(j, s * order, atol=1e-6):
            index = -np.ones((order + 1, order + 1), dtype=int)
            index[i, j] = np.arange(n)
            if (index >= 0).all():
                triangles = []
                for a in range(order):
                    for b in range(order):
                        p, q = index[a, b], index[a + 1, b]
                        u, v = index[a + 1, b + 1], index[a, b + 1]
                        triangles += [(p, q, u), (p, u, v)]
                return np.array(triangles)
    order = int(round((math.sqrt(8 * n + 1) - 3) / 2))
    if order >= 1 and (order + 1) * (order + 2) // 2 == n:  # triangle lattice
        i, j = np.rint(r * order).astype(int), np.rint(s * order).astype(int)
        if np.allclose(i, r * order, atol=1e-6) and np.allclose(j, s * order, atol=1e-6):
            index = {(a, b): k for k, (a, b) in enumerate(zip(i, j))}
            if len(index) == n:
                triangles = []
                for a in range(order):
                    for b in range(order - a):
                        triangles.append((index[a, b], index[a + 1, b], index[a, b + 1]))
                        if a + b + 1 < order:
                            triangles.append((index[a + 1, b], index[a + 1, b + 1],
                                              index[a, b + 1]))
                return np.array(triangles)
    return None


class Surface:
    """A 2D mesh split into triangles: the matplotlib Triangulation on the distinct points
    (`unique`: the index of each distinct point's first copy), and for every triangle the
    cell it lies in."""

    def __init__(self, mesh, kind, path):
        dimension_2 = np.isin(mesh.cell_types, list(_CELLS_2D))
        if not dimension_2.any():
            _fail(kind, path, "holds no 2D cells (types %s); expected a 2D run"
                  % sorted(set(mesh.cell_types.tolist())))
        triangles, owners = [], []
        sizes = np.diff(mesh.offsets)
        cell_ids = np.nonzero(dimension_2)[0]
        groups = {}
        for cell in cell_ids:
            groups.setdefault((int(mesh.cell_types[cell]), int(sizes[cell])), []).append(cell)
        for (cell_type, size), ids in groups.items():
            ids = np.array(ids)
            nodes = mesh.connectivity[mesh.offsets[ids][:, None] + np.arange(size)]
            local = _lattice_triangles(mesh.parametric_coordinates(ids[0]))
            if local is not None:
                triangles.append(nodes[:, local].reshape(-1, 3))
                owners.append(np.repeat(ids, len(local)))
                continue
            for cell, cell_nodes in zip(ids, nodes):       # any other cell: split by Delaunay
                xy = mesh.points[cell_nodes, :2]
                local = mtri.Triangulation(xy[:, 0], xy[:, 1]).triangles
                triangles.append(cell_nodes[local])
                owners.append(np.full(len(local), cell))
        triangles = np.concatenate(triangles)
        self.cell_of_triangle = np.concatenate(owners)
        self.triangles_by_copy = triangles
        xy = mesh.points[:, :2]
        scale = max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-300)
        keys = np.rint((xy - xy.min(axis=0)) / scale * 1e6).astype(np.int64)
        _, self.unique, inverse = np.unique(keys, axis=0, return_index=True,
                                            return_inverse=True)
        inverse = inverse.reshape(-1)
        self.triangulation = mtri.Triangulation(xy[self.unique, 0], xy[self.unique, 1],
                                                inverse[triangles])
        self.extent = (xy[:, 0].min(), xy[:, 0].max(), xy[:, 1].min(), xy[:, 1].max())

    def nodal(self, values):
        """A continuous point field on the distinct points."""
        return np.asarray(values)[self.unique]

    def per_triangle(self, mesh, values):
        """A cell field (constant on each cell) on the triangles: the mean over the cell's
        points."""
        values = np.asarray(values)
        sizes = np.diff(mesh.offsets)
        cells = self.cell_of_triangle
        sums = np.add.reduceat(values[mesh.connectivity], mesh.offsets[:-1]) \
            if len(mesh.connectivity) else np.zeros(0)
        means = sums / np.maximum(sizes, 1)
        return means[cells]

    def nodal_mean(self, triangle_values):
        """Per-triangle values averaged onto the distinct points (for contour lines of a
        cell field)."""
        vertices = self.triangulation.triangles.reshape(-1)
        weights = np.repeat(np.asarray(triangle_values, dtype=float), 3)
        n = len(self.unique)
        return (np.bincount(vertices, weights, minlength=n)
                / np.maximum(np.bincount(vertices, minlength=n), 1))

    def interpolate(self, values, n):
        """values on an n x n grid across the mesh (masked outside), for arrows."""
        x0, x1, y0, y1 = self.extent
        margin = 0.5 / n
        xs = x0 + (x1 - x0) * np.linspace(margin, 1 - margin, n)
        ys = y0 + (y1 - y0) * np.linspace(margin, 1 - margin, n)
        X, Y = np.meshgrid(xs, ys)
        return X, Y, mtri.LinearTriInterpolator(self.triangulation, self.nodal(values))(X, Y)


# ---------------------------------------------------------------------------------------
# Writing figures
# ---------------------------------------------------------------------------------------

def _new_figure(size, default):
    figure = Figure(figsize=tuple(size) if size else default)
    FigureCanvasAgg(figure)
    return figure


def _output_paths(kind, run_dir, output, pdf):
    name = "figure-%s" % kind
    if output is None:
        output = os.path.join(run_dir, name + ".png")
    elif os.path.isdir(output):
        output = os.path.join(output, name + ".png")
    stem, extension = os.path.splitext(output)
    extension = extension.lower()
    if extension == ".pdf":
        return stem + ".png", output
    if extension != ".png":
        _fail(kind, output, "unknown output format; expected a name ending in .png or .pdf")
    return output, (stem + ".pdf" if pdf else None)


def _save(figure, kind, run_dir, output, pdf, dpi):
    png, pdf_path = _output_paths(kind, run_dir, output, pdf)
    written = []
    for path, options in ((png, {"dpi": dpi}), (pdf_path, {})):
        if path is None:
            continue
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
            figure.savefig(path, **options)
        except OSError as e:
            _fail(kind, path, "cannot be written (%s)" % (e.strerror or e))
        written.append(path)
    return written


def _log_axis_positive(axis, values):
    """Log scale on y when there is something positive to show."""
    values = np.asarray(values, dtype=float)
    if np.any(np.isfinite(values) & (values > 0)):
        axis.set_yscale("log")


def _math_number(text):
    """A number for mathtext: 1e-06 as 10^{-6}, 2.5e-07 as 2.5 \\cdot 10^{-7}."""
    try:
        value = float(text)
    except ValueError:
        return text
    if value <= 0 or not math.isfinite(value):
        return "%g" % value
    exponent = math.floor(math.log10(value) + 1e-12)
    mantissa = value / 10.0 ** exponent
    if abs(exponent) < 3:
        return "%g" % value
    if abs(mantissa - 1) < 1e-9:
        return "10^{%d}" % exponent
    return "%g \\cdot 10^{%d}" % (mantissa, exponent)


def _positive(values):
    values = np.array(values, dtype=float)
    values[~(np.isfinite(values) & (values > 0))] = np.nan
    return values


# ---------------------------------------------------------------------------------------
# 1. errors: error against time
# ---------------------------------------------------------------------------------------

_DENSITY_COLUMNS = [("relative_L1", r"relative $L^1$"),
                    ("relative_L2", r"relative $L^2$"),
                    ("relative_Linf", r"relative $L^\infty$")]
_SCORE_COLUMNS = [("score_relative_L2", r"relative $L^2$ of $s_h$ (domain)"),
                  ("score_relative_L2_bulk", r"relative $L^2$, bulk ({bulk} of the mass)"),
                  ("score_relative_L2_tail", r"relative $L^2$, tail ($p < {tail}\,\max p$)"),
                  ("fisher_divergence", r"Fisher divergence $\int p\,|s_h-s|^2$"),
                  ("density_relative_L2", r"relative $L^2$ of $p_h=e^{u_h}/Z$")]
_QUOTIENT_KEYS = {"score_relative_L2": "relative_L2",
                  "score_relative_L2_bulk": "relative_L2_bulk",
                  "score_relative_L2_tail": "relative_L2_tail"}


def errors(run_dir, output=None, pdf=False, dpi=DPI, size=None, dt=False, quotient=True):
    """Relative errors against time from RUN_DIR/statistics.csv (one row per step): a
    density run's L1, L2, Linf; a score or log-density run's score errors (domain, bulk,
    tail) and Fisher divergence, with the companion density's grad p_h/p_h at the output
    times as open circles (quotient=True); a multi-level run's relative L2 per level. dt:
    the step size on a second axis."""
    kind = "errors"
    _require_directory(kind, run_dir)
    what = "the statistics.csv of a density or score run (Task = solve)"
    path = os.path.join(run_dir, "statistics.csv")
    levels = sorted(glob.glob(os.path.join(run_dir, "level-*", "statistics.csv")),
                    key=lambda p: int("".join(c for c in os.path.basename(os.path.dirname(p))
                                              if c.isdigit()) or 0))
    figure = _new_figure(size, (ONE_PANEL[0], ONE_PANEL[1] + 0.8))
    axis = figure.add_subplot(1, 1, 1)
    plotted = []
    single = os.path.isfile(path) or not levels
    if single:
        table = _read_csv(kind, path, what, required=("time", "dt"))
        columns = _SCORE_COLUMNS if "score_relative_L2" in table else _DENSITY_COLUMNS
        present = [(c, label) for c, label in columns if c in table]
        if not present:
            _fail(kind, path, "has neither relative_L2 (density run) nor score_relative_L2 "
                  "(score run) columns; expected " + what)
        time = table["time"]
        colours = {}
        prm = read_parameters(os.path.join(run_dir, "parameters.prm"))
        try:
            bulk = "%g%%" % (100 * float(prm.get("Score/Bulk mass", "0.99")))
        except ValueError:
            bulk = prm["Score/Bulk mass"]
        names = {"bulk": bulk, "tail": _math_number(prm.get("Score/Tail threshold", "1e-6"))}
        for index, (column, label) in enumerate(present):
            label = label.replace("{bulk}", names["bulk"]).replace("{tail}", names["tail"])
            style = "--" if column == "fisher_divergence" else "-"
            line, = axis.plot(time, _positive(table[column]), style, marker=".", markersize=4,
                              color="C%d" % index, label=label)
            colours[column] = line.get_color()
            plotted.append(table[column])
        summary = _optional_json(os.path.join(run_dir, "summary.json")) or {}
        if quotient and columns is _SCORE_COLUMNS:
            outputs = [o for o in summary.get("outputs", []) if isinstance(o, dict)
                       and isinstance(o.get("density_quotient_errors"), dict)]
            first = True
            for column, key in _QUOTIENT_KEYS.items():
                if column not in colours:
                    continue
                t = [o.get("time") for o in outputs]
                e = [o["density_quotient_errors"].get(key) for o in outputs]
                pairs = [(a, b) for a, b in zip(t, e) if isinstance(a, (int, float))
                         and isinstance(b, (int, float))]
                if pairs:
                    axis.plot([a for a, _ in pairs], _positive([b for _, b in pairs]), "o",
                              mfc="none", color=colours[column], markersize=7,
                              label=(r"$\nabla p_h/p_h$ of the companion density (circles)"
                                     if first else None))
                    first = False
                    plotted.append([b for _, b in pairs])
        axis.set_ylabel(r"relative error $\Vert p_h - p\Vert / \Vert p\Vert$ (dimensionless)"
                        if columns is _DENSITY_COLUMNS else "score error (dimensionless)")
    else:
        for index, level_path in enumerate(levels):
            table = _read_csv(kind, level_path, what, required=("time",))
            column = "relative_L2" if "relative_L2" in table else "score_relative_L2"
            if column not in table:
                _fail(kind, level_path, "has no relative_L2 or score_relative_L2 column; "
                      "expected " + what)
            axis.plot(table["time"], _positive(table[column]), marker=".", markersize=4,
                      color=matplotlib.colormaps["viridis"](0.85 * index
                                                            / max(len(levels) - 1, 1)),
                      label="%s, %s" % (os.path.basename(os.path.dirname(level_path)),
                                        column.replace("_", " ")))
            plotted.append(table[column])
        time = table["time"]
        axis.set_ylabel(r"relative $L^2$ error (dimensionless)")
    _log_axis_positive(axis, np.concatenate([np.asarray(p, dtype=float) for p in plotted]))
    axis.set_xlabel("time t (dimensionless)")
    axis.grid(True, which="major", alpha=0.3)
    if dt and single:
        second = axis.twinx()
        steps = table["dt"]
        mask = steps > 0
        second.step(time[mask], steps[mask], where="pre", color="0.45", linewidth=1.0,
                    label="step size dt (right axis)")
        _log_axis_positive(second, steps[mask])
        second.set_ylabel("step size dt", color="0.35")
        handles, labels = axis.get_legend_handles_labels()
        more, more_labels = second.get_legend_handles_labels()
    else:
        handles, labels = axis.get_legend_handles_labels()
        more, more_labels = [], []
    # Below the axes: the curves fill the plot, the legend would hide some.
    axis.legend(handles + more, labels + more_labels, fontsize=8, loc="upper center",
                bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    axis.set_title(_title("Error against time", describe_run(run_dir, mesh=single)),
                   fontsize=10)
    figure.tight_layout()
    return _save(figure, kind, run_dir, output, pdf, dpi)


# ---------------------------------------------------------------------------------------
# 2. convergence: error against n_dofs or h
# ---------------------------------------------------------------------------------------

def _mesh_size(prm, level):
    """h of a box mesh at a refinement level (largest cell edge), None for other meshes."""
    if prm.get("Mesh/Geometry", "box") != "box":
        return None
    try:
        lower = [float(v) for v in prm["Mesh/Box lower corner"].split(",")]
        upper = [float(v) for v in prm["Mesh/Box upper corner"].split(",")]
        subdivisions = [float(v) for v in prm["Mesh/Coarse subdivisions"].split(",")]
    except (KeyError, ValueError):
        return None
    n = max(len(lower), len(upper), len(subdivisions))
    lower, upper, subdivisions = ([v[0]] * n if len(v) == 1 else v
                                  for v in (lower, upper, subdivisions))
    return max((b - a) / c for a, b, c in zip(lower, upper, subdivisions)) / 2.0 ** level


def _slope_triangle(axis, x0, x1, y0, y1, slope, label):
    """A slope triangle under the segment (x0, y0) - (x1, y1) of a log-log plot: its
    hypotenuse has the given slope and spans the middle half of the segment, a factor 0.4
    below it, with the right angle below the hypotenuse and the label by the vertical leg."""
    (xa, ya), (xb, yb) = sorted([(x0, y0), (x1, y1)])
    la, lb = math.log(xa), math.log(xb)
    xa, xb = math.exp(la + 0.25 * (lb - la)), math.exp(lb - 0.25 * (lb - la))
    y_mid = 0.4 * math.exp(0.5 * (math.log(ya) + math.log(yb)))
    x_mid = math.sqrt(xa * xb)
    ya, yb = y_mid * (xa / x_mid) ** slope, y_mid * (xb / x_mid) ** slope
    corner = (xb, ya) if slope > 0 else (xa, yb)
    axis.plot([xa, xb, corner[0], xa], [ya, yb, corner[1], ya], color="0.3", linewidth=1.0)
    y_text = math.sqrt(ya * yb)
    if slope > 0:
        axis.text(xb * 1.03, y_text, label, fontsize=8, va="center", ha="left", color="0.2")
    else:
        axis.text(xa / 1.03, y_text, label, fontsize=8, va="center", ha="right", color="0.2")


def convergence(run_dir, output=None, pdf=False, dpi=DPI, size=None, x="dofs"):
    """Error against the number of DoFs (x="dofs") or the mesh size h (x="h", box meshes)
    from summary.json's "convergence" (a run with several refinement levels), log-log,
    with the observed rates of the main norm annotated, each norm's last rate in the
    legend, and a slope triangle of the expected rate p + 1 (in h; -(p+1)/d in DoFs)."""
    kind = "convergence"
    _require_directory(kind, run_dir)
    path = os.path.join(run_dir, "summary.json")
    what = ("the summary.json of a run with several refinement levels (its \"convergence\" "
            "list: n_dofs, errors and rates per level)")
    summary = _read_json(kind, path, what)
    levels = summary.get("convergence")
    if not isinstance(levels, list) or len(levels) < 2:
        _fail(kind, path, "has no \"convergence\" list of two or more levels; expected " + what
              + " -- run with e.g. --set 'Mesh/Refinement levels=2,3,4'")
    try:
        n_dofs = np.array([float(level["n_dofs"]) for level in levels])
        level_numbers = [int(level.get("refinement_level", i)) for i, level in enumerate(levels)]
        norms = [k for k, v in levels[0]["errors"].items() if isinstance(v, (int, float))]
        values = {k: np.array([float(level["errors"][k]) for level in levels]) for k in norms}
        rates = {k: [level.get("rates", {}).get(k) for level in levels] for k in norms}
    except (KeyError, TypeError, ValueError, AttributeError):
        _fail(kind, path, "a \"convergence\" entry lacks n_dofs or numeric errors; expected "
              + what)
    if not norms:
        _fail(kind, path, "the \"convergence\" entries have no errors; expected " + what)
    dimension = int(summary.get("dimension", 2))
    degree = summary.get("polynomial_degree")
    prm = read_parameters(os.path.join(run_dir, "parameters.prm"))
    if x == "h":
        sizes = [_mesh_size(prm, level) for level in level_numbers]
        if any(s is None for s in sizes):
            sizes = list(n_dofs ** (-1.0 / dimension))
            xlabel = r"$N^{-1/d}$ (mesh size proxy, dimensionless; not a box mesh)"
        else:
            xlabel = "mesh size h (largest cell edge, dimensionless)"
        abscissa = np.array(sizes, dtype=float)
        exponent = 1.0
    elif x == "dofs":
        abscissa = n_dofs
        xlabel = "number of degrees of freedom N"
        exponent = -1.0 / dimension
    else:
        raise ValueError("x must be 'dofs' or 'h', not %r" % x)
    main = next((k for k in ("L2", "relative_L2") if k in norms), norms[0])
    figure = _new_figure(size, ONE_PANEL)
    axis = figure.add_subplot(1, 1, 1)
    markers = "osd^v<>"
    for index, norm in enumerate(norms):
        last = next((r for r in reversed(rates[norm]) if isinstance(r, (int, float))), None)
        label = norm.replace("_", " ") + ("  (last rate %.2f)" % last if last is not None else "")
        axis.loglog(abscissa, _positive(values[norm]), marker=markers[index % len(markers)],
                    color="C%d" % index, label=label)
    # Observed rates of the main norm, at the middle of each segment.
    for i in range(1, len(levels)):
        rate = rates[main][i]
        if not isinstance(rate, (int, float)):
            continue
        xm = math.sqrt(abscissa[i - 1] * abscissa[i])
        ym = math.sqrt(values[main][i - 1] * values[main][i]) if \
            values[main][i - 1] > 0 and values[main][i] > 0 else None
        if ym:
            axis.annotate("%.2f" % rate, (xm, ym), textcoords="offset points", xytext=(6, 6),
                          fontsize=8, color="C%d" % norms.index(main))
    if isinstance(degree, int) and len(levels) >= 2 and values[main][-1] > 0:
        expected = degree + 1
        slope = expected * exponent
        _slope_triangle(axis, abscissa[-2], abscissa[-1], values[main][-2], values[main][-1],
                        slope, ("p + 1 = %d" % expected) if x == "h" else
                        "-(p + 1)/d\n= %.3g" % slope)
    axis.set_xlabel(xlabel)
    axis.set_ylabel("error at the final time (dimensionless)")
    axis.grid(True, which="both", alpha=0.25)
    axis.legend(fontsize=8, loc="best", title="observed %s rates (in h) annotated"
                % main.replace("_", " "), title_fontsize=8)
    axis.set_title("Convergence: %s, levels %s" % (describe_run(run_dir, mesh=False),
                                                   ", ".join(str(n) for n in level_numbers)),
                   fontsize=10)
    figure.tight_layout()
    return _save(figure, kind, run_dir, output, pdf, dpi)


# ---------------------------------------------------------------------------------------
# 3. schemes: the sampler tables
# ---------------------------------------------------------------------------------------

_DETERMINISTIC = ("ode-", "edm-")
_MEASURE_LABELS = {"sliced_w2_to_p_epsilon": r"sliced $W_2$ to $p_\varepsilon$",
                   "w2_to_data": r"$W_2$ of the output law to the data $p_0$",
                   "w2_to_p_epsilon": r"$W_2$ of the output law to $p_\varepsilon$"}


def _scheme_entries(kind, run_dir):
    """The table's entries (list of dicts) and its JSON header (or {} from the CSV)."""
    json_path = os.path.join(run_dir, "scheme_table.json")
    csv_path = os.path.join(run_dir, "scheme_table.csv")
    what = "the scheme_table.json or scheme_table.csv of a Task = scheme table run"
    if os.path.isfile(json_path):
        data = _read_json(kind, json_path, what)
        entries = data.get("entries")
        if not isinstance(entries, list) or not entries or not all(
                isinstance(e, dict) and {"scheme", "steps"} <= set(e) for e in entries):
            _fail(kind, json_path, "has no \"entries\" list with scheme and steps; expected "
                  + what)
        return entries, data, json_path
    if not os.path.isfile(csv_path):
        _fail(kind, csv_path, "no such file (nor scheme_table.json); expected " + what)
    table = _read_csv(kind, csv_path, what, required=("start", "epsilon", "scheme", "steps"),
                      text_columns=("start", "scheme"))
    entries = [{c: table[c][i] for c in table} for i in range(len(table["scheme"]))]
    return entries, {}, csv_path


def schemes(run_dir, output=None, pdf=False, dpi=DPI, size=None, measure=None):
    """Error against the number of steps, log-log, one line per scheme (SDE schemes solid,
    ODE schemes dashed), one panel per start and early-stopping epsilon, from a scheme
    table (scheme_table.json, else .csv). Particle tables (non-Gaussian data): the sliced
    W2 to p_epsilon with the spread of the same statistic over exact draws of the same size
    (median dashed, median to 90% quantile shaded). Exact tables (Gaussian data): measure
    "w2_to_data" (default) or "w2_to_p_epsilon", with a slope -1 guide."""
    kind = "schemes"
    _require_directory(kind, run_dir)
    entries, header, path = _scheme_entries(kind, run_dir)
    particles = any("sliced_w2_to_p_epsilon" in e for e in entries)
    available = [m for m in _MEASURE_LABELS if any(m in e for e in entries)]
    if measure is None:
        measure = "sliced_w2_to_p_epsilon" if particles else "w2_to_data"
    if measure not in available:
        _fail(kind, path, "has no %s values (it has %s); expected a scheme table with that "
              "column" % (measure, ", ".join(available) or "none"))
    panels = []
    for e in entries:
        key = (str(e.get("start", "")), float(e.get("epsilon", 0.0)))
        if key not in panels:
            panels.append(key)
    starts = list(dict.fromkeys(k[0] for k in panels))
    epsilons = list(dict.fromkeys(k[1] for k in panels))
    rows, columns = len(starts), len(epsilons)
    default = (ONE_PANEL[0] + 2.4, ONE_PANEL[1] + 0.3) if len(panels) == 1 else \
        (min(4.0 * columns + 2.6, 20.0), 3.4 * rows + 0.9)
    figure = _new_figure(size, default)
    scheme_names = list(dict.fromkeys(str(e["scheme"]) for e in entries))
    axes = {}
    for r, start in enumerate(starts):
        for c, epsilon in enumerate(epsilons):
            if (start, epsilon) not in panels:
                continue
            first = next(iter(axes.values()), None)
            axis = figure.add_subplot(rows, columns, r * columns + c + 1, sharey=first)
            axes[start, epsilon] = axis
    try:
        for (start, epsilon), axis in axes.items():
            mine = [e for e in entries if str(e.get("start", "")) == start
                    and float(e.get("epsilon", 0.0)) == epsilon]
            all_steps = sorted({int(e["steps"]) for e in mine})
            for index, scheme in enumerate(scheme_names):
                rows_ = sorted((int(e["steps"]), float(e[measure])) for e in mine
                               if str(e["scheme"]) == scheme and e.get(measure) is not None)
                if not rows_:
                    continue
                axis.plot([s for s, _ in rows_], _positive([v for _, v in rows_]),
                          "--" if scheme.startswith(_DETERMINISTIC) else "-",
                          marker="o", markersize=4, color="C%d" % (index % 10), label=scheme)
            if particles:
                medians = [float(e["exact_draws_median"]) for e in mine
                           if e.get("exact_draws_median") is not None]
                upper = [float(e["exact_draws_90"]) for e in mine
                         if e.get("exact_draws_90") is not None]
                if medians and upper:
                    span = [all_steps[0] / 1.15, all_steps[-1] * 1.15]
                    axis.fill_between(span, [np.median(medians)] * 2, [np.median(upper)] * 2,
                                      color="0.6", alpha=0.35, linewidth=0,
                                      label="exact draws: median to 90% quantile")
                    axis.plot(span, [np.median(medians)] * 2, ":", color="0.3", linewidth=1.2)
            elif len(all_steps) >= 2:
                # Slope -1 guide through the first step count at the table's median error.
                values = [float(e[measure]) for e in mine if e.get(measure) is not None
                          and float(e[measure]) > 0]
                if values:
                    y0 = float(np.median(values))
                    xs = np.array([all_steps[0], all_steps[-1]], dtype=float)
                    axis.plot(xs, y0 * xs[0] / xs, color="0.5", linewidth=0.8, linestyle="-.",
                              label="slope -1")
            axis.set_xscale("log")
            _log_axis_positive(axis, [e.get(measure) for e in mine
                                      if isinstance(e.get(measure), (int, float))])
            axis.set_xticks(all_steps)
            axis.set_xticklabels([str(s) for s in all_steps])
            axis.xaxis.set_minor_formatter(mticker.NullFormatter())
            axis.grid(True, which="both", alpha=0.25)
            axis.set_xlabel("number of steps")
            axis.set_title("start %s, early stopping $\\varepsilon$ = %g" % (start, epsilon),
                           fontsize=9)
    except (KeyError, TypeError, ValueError):
        _fail(kind, path, "an entry has a non-numeric steps, epsilon or %s; expected the "
              "scheme table scorefp writes" % measure)
    for (start, epsilon), axis in axes.items():
        if epsilon == epsilons[0]:
            axis.set_ylabel(_MEASURE_LABELS[measure] + " (dimensionless)", fontsize=9)
    handles, labels = next(iter(axes.values())).get_legend_handles_labels()
    corner = axes[max(axes, key=lambda k: (-starts.index(k[0]), epsilons.index(k[1])))]
    prm = read_parameters(os.path.join(run_dir, "parameters.prm"))
    process = header.get("process") or prm.get("Process/Type", "")
    data = prm.get("Initial data/Type") or header.get("data", "")
    particles_note = ""
    if particles and prm.get("Scheme table/Particles"):
        try:
            particles_note = ", {:,} particles per entry".format(
                int(prm["Scheme table/Particles"]))
        except ValueError:
            particles_note = ", %s particles per entry" % prm["Scheme table/Particles"]
    figure.suptitle("Samplers: %s%s%s%s" % (_case_name(run_dir),
                                             ": %sD %s" % (prm["Dimension"], process)
                                             if prm.get("Dimension") else
                                             (": " + process if process else ""),
                                             ", " + data if data else "", particles_note),
                    fontsize=10)
    corner.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8,
                  title="solid: SDE, dashed: ODE", title_fontsize=8, frameon=False)
    figure.tight_layout()
    return _save(figure, kind, run_dir, output, pdf, dpi)


# ---------------------------------------------------------------------------------------
# 4. fields: density and score maps at one output time
# ---------------------------------------------------------------------------------------

def _colorbar(figure, artist, axis, label):
    bar = figure.colorbar(artist, ax=axis, shrink=0.9)
    bar.set_label(label, fontsize=9)
    return bar


def _symmetric_levels(values, n=20):
    """Contour levels symmetric about zero at round numbers, covering the values."""
    values = np.asarray(values, dtype=float)
    bound = float(np.nanmax(np.abs(values))) if values.size else 0.0
    bound = bound if bound > 0 and np.isfinite(bound) else 1.0
    return mticker.MaxNLocator(nbins=n, symmetric=True).tick_values(-bound, bound)


def _filled_density(axis, surface, values, cmap="viridis"):
    """Filled contours of a density from 0 to its maximum: the round-off negative values a
    finite-element density has in the tails are drawn as 0 (the error panel shows them)."""
    values = np.nan_to_num(np.asarray(values, dtype=float))
    top = float(values.max())
    levels = mticker.MaxNLocator(nbins=20).tick_values(0.0, top) if top > 0 else \
        np.linspace(-1.0, 1.0, 3)
    return axis.tricontourf(surface.triangulation, np.clip(values, levels[0], levels[-1]),
                            levels=levels, cmap=cmap)


def _magnitude(vectors):
    vectors = np.asarray(vectors, dtype=float)
    return np.sqrt((vectors ** 2).sum(axis=1)) if vectors.ndim == 2 else np.abs(vectors)


def fields(run_dir, output=None, pdf=False, dpi=DPI, size=None, time=None, arrows=20):
    """The solution at the output time nearest to `time` (default: the last) from
    RUN_DIR/solution.pvd. 2D density runs: p_h as filled contours and the error p_h - p.
    2D score and log-density runs: the density (p_h of a log-density run, else the exact
    p) with the score s_h as arrows on an arrows x arrows grid, and log10 |s_h - s|.
    1D runs: the same as curves. 3D runs are for ParaView."""
    kind = "fields"
    _require_directory(kind, run_dir)
    pvd = os.path.join(run_dir, "solution.pvd")
    datasets = _pvd_datasets(kind, pvd, "the solution.pvd of a solve run with "
                             "Output/Write VTU = true")
    t, path = _pick_time(datasets, time)
    mesh = read_vtu(path, kind)
    data = mesh.point_data
    is_score = "score" in data
    if not is_score and "density" not in data:
        _fail(kind, path, "has neither density nor score fields (fields: %s); expected the "
              "output of a density or score run" % ", ".join(sorted(data)))
    density_name = "density" if "density" in data else "exact_density"
    density = mesh.field(kind, path, density_name)
    title = "%s, t = %.4g" % (describe_run(run_dir), t)
    types = set(mesh.cell_types.tolist())
    if types <= _CELLS_1D:
        return _fields_1d(mesh, kind, path, run_dir, output, pdf, dpi, size, title, is_score)
    if not types & _CELLS_2D:
        _fail(kind, path, "holds 3D cells; figures draws 1D and 2D runs (open %s in "
              "ParaView for 3D)" % os.path.basename(pvd))
    surface = Surface(mesh, kind, path)
    figure = _new_figure(size, TWO_PANELS)
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    artist = _filled_density(left, surface, surface.nodal(density))
    _colorbar(figure, artist, left,
              {"density": r"$p_h(t, x)$", "exact_density": r"exact density $p(t, x)$"}
              [density_name])
    if is_score:
        score = mesh.field(kind, path, "score")
        X, Y, u = surface.interpolate(score[:, 0], arrows)
        _, _, v = surface.interpolate(score[:, 1], arrows)
        left.quiver(X, Y, u, v, color="white", edgecolor="black", linewidth=0.3, width=0.004,
                    pivot="mid", angles="xy")
        left.set_title(r"%s and the score $s_h$ (arrows, $\propto |s_h|$)"
                       % ("$p_h = e^{u_h}/Z$" if density_name == "density" else
                          "exact density $p$"), fontsize=9)
        error = _magnitude(mesh.field(kind, path, "score_error"))
        error = np.log10(np.maximum(surface.nodal(error), 1e-300))
        # Six decades below the largest error at most: the boundary nodes carry the exact
        # Dirichlet data, an error of round-off that would swamp the colours.
        finite = error[error > -299]
        high = float(np.ceil(finite.max())) if finite.size else 0.0
        low = max(float(np.floor(np.percentile(finite, 2))), high - 6.0) if finite.size \
            else high - 1.0
        if high <= low:
            high = low + 1
        artist = right.tricontourf(surface.triangulation, np.clip(error, low, high),
                                   levels=np.linspace(low, high, 2 * int(high - low) + 1),
                                   cmap="magma")
        _colorbar(figure, artist, right, r"$\log_{10} |s_h - s|$")
        right.set_title(r"score error $|s_h - s|$ (log scale)", fontsize=9)
    else:
        left.set_title(r"density $p_h$", fontsize=9)
        error = surface.nodal(mesh.field(kind, path, "error"))
        artist = right.tricontourf(surface.triangulation, error,
                                   levels=_symmetric_levels(error), cmap="RdBu_r")
        bar = _colorbar(figure, artist, right, r"$p_h - p$")
        bar.formatter.set_powerlimits((-2, 2))
        bar.update_ticks()
        right.set_title(r"error $p_h - p$ (exact density: closed form)", fontsize=9)
    for axis in (left, right):
        axis.set_aspect("equal")
        axis.set_xlabel("$x_1$")
        axis.set_ylabel("$x_2$")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    return _save(figure, kind, run_dir, output, pdf, dpi)


def _fields_1d(mesh, kind, path, run_dir, output, pdf, dpi, size, title, is_score):
    x = mesh.points[:, 0]
    order = np.argsort(x, kind="stable")
    keep = np.concatenate([[True], np.diff(x[order]) > 1e-9 * max(np.ptp(x), 1e-300)])
    index = order[keep]
    figure = _new_figure(size, TWO_PANELS)
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    data = mesh.point_data
    if is_score:
        score = data["score"]
        score = score[:, 0] if score.ndim == 2 else score
        left.plot(x[index], score[index], label=r"$s_h$")
        if "exact_score" in data:
            exact = data["exact_score"]
            left.plot(x[index], (exact[:, 0] if exact.ndim == 2 else exact)[index], "--",
                      label="exact score $s$")
        left.set_ylabel("score")
        error = _magnitude(mesh.field(kind, path, "score_error"))
        right.semilogy(x[index], _positive(error[index]))
        right.set_ylabel(r"$|s_h - s|$")
    else:
        left.plot(x[index], data["density"][index], label=r"$p_h$")
        if "exact_density" in data:
            left.plot(x[index], data["exact_density"][index], "--", label="exact $p$")
        left.set_ylabel("density")
        right.plot(x[index], mesh.field(kind, path, "error")[index])
        right.set_ylabel(r"$p_h - p$")
        right.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    left.legend(fontsize=8)
    for axis in (left, right):
        axis.set_xlabel("x")
        axis.grid(True, alpha=0.3)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    return _save(figure, kind, run_dir, output, pdf, dpi)


# ---------------------------------------------------------------------------------------
# 5. tails: score FPE against grad p_h / p_h by radius
# ---------------------------------------------------------------------------------------

def tails(run_dir, output=None, pdf=False, dpi=DPI, size=None, times=None):
    """RMS errors by shell of |x| from RUN_DIR/tail_shells.csv (a score run with Score/
    Companion density = true): the score FPE's s_h (solid) against grad p_h/p_h of the
    density solution (dashed; red crosses where p_h <= 0 at some points of the shell), one
    colour per output time (times: a list; default every time), log scale, and below the
    largest exact density in each shell."""
    kind = "tails"
    _require_directory(kind, run_dir)
    path = os.path.join(run_dir, "tail_shells.csv")
    what = ("the tail_shells.csv of a score run with Score/Companion density = true "
            "(time, shell, radius_min, radius_max, exact_density_max, rms_score_error, "
            "rms_quotient_error, ...)")
    table = _read_csv(kind, path, what, required=(
        "time", "radius_min", "radius_max", "exact_density_max", "rms_score_error",
        "rms_quotient_error"))
    all_times = list(dict.fromkeys(table["time"].tolist()))
    if times is not None:
        chosen = []
        for wanted in times:
            nearest = min(all_times, key=lambda s: abs(s - wanted))
            if nearest not in chosen:
                chosen.append(nearest)
        all_times = sorted(chosen)
    figure = _new_figure(size, (ONE_PANEL[0] + 2.6, ONE_PANEL[1] + 1.8))
    grid = figure.add_gridspec(2, 1, height_ratios=(3, 1.3), hspace=0.08)
    top = figure.add_subplot(grid[0])
    bottom = figure.add_subplot(grid[1], sharex=top)
    undefined = table.get("quotient_undefined_points")
    colormap = matplotlib.colormaps["viridis"]
    flagged = False
    for index, t in enumerate(all_times):
        rows = table["time"] == t
        radius = 0.5 * (table["radius_min"][rows] + table["radius_max"][rows])
        colour = colormap(0.9 * index / max(len(all_times) - 1, 1))
        top.semilogy(radius, _positive(table["rms_score_error"][rows]), "-o", markersize=3,
                     color=colour, label="t = %.3g" % t)
        quotient = _positive(table["rms_quotient_error"][rows])
        top.semilogy(radius, quotient, "--", color=colour, linewidth=1.2)
        if undefined is not None:
            bad = undefined[rows] > 0
            if bad.any():
                top.plot(radius[bad], np.where(np.isfinite(quotient[bad]), quotient[bad],
                                               np.nan), "x", color="red", markersize=6,
                         label=None if flagged else r"$p_h \leq 0$ at some points")
                flagged = True
        bottom.semilogy(radius, _positive(table["exact_density_max"][rows]), "-",
                        color=colour)
    style_handles = [mlines.Line2D([], [], color="0.2", marker="o", markersize=3,
                                             label="score FPE $s_h$"),
                     mlines.Line2D([], [], color="0.2", linestyle="--",
                                             label=r"$\nabla p_h / p_h$ (density FPE)")]
    handles, labels = top.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i].startswith("$p_h"))
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    top.legend(style_handles + handles, [h.get_label() for h in style_handles] + labels,
               fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    top.set_ylabel("RMS score error over the shell")
    top.grid(True, which="major", alpha=0.3)
    top.tick_params(labelbottom=False)
    densities = _positive(table["exact_density_max"])
    if np.isfinite(densities).any():
        top_density = float(np.nanmax(densities))
        bottom.set_ylim(max(float(np.nanmin(densities)) / 3, top_density * 1e-30),
                        top_density * 3)
    bottom.set_ylabel(r"max $p$ in shell", fontsize=9)
    bottom.set_xlabel("radius |x| (shell centre, dimensionless)")
    bottom.grid(True, which="major", alpha=0.3)
    top.set_title(_title("Tails", describe_run(run_dir)), fontsize=10)
    figure.subplots_adjust(left=0.09, right=0.74, top=0.93, bottom=0.1)
    return _save(figure, kind, run_dir, output, pdf, dpi)


# ---------------------------------------------------------------------------------------
# 6. score-check: residual and curl of a checked score
# ---------------------------------------------------------------------------------------

_CHECK_COLUMNS = [("l2_error_bulk", r"relative $L^2$ error, bulk"),
                  ("fisher_divergence", r"Fisher divergence $\int p|\hat s - s|^2$"),
                  ("score_residual", r"score-FPE residual $\sqrt{\int p|r|^2}$"),
                  ("log_residual", r"log-form residual $\sqrt{\int p R^2}$"),
                  ("curl", r"curl $\int p |\mathrm{curl}\,\hat s|^2$")]


def score_check(run_dir, output=None, pdf=False, dpi=DPI, size=None, time=None):
    """A Task = check score run at the checked time nearest to `time` (default: the last):
    the RMS score-FPE residual per cell (log colours) and the curl per cell from
    score-check.pvd, and per-time errors, Fisher divergence, residuals and curl from
    score-check.csv (the chosen time marked)."""
    kind = "score-check"
    _require_directory(kind, run_dir)
    csv_path = os.path.join(run_dir, "score-check.csv")
    table = _read_csv(kind, csv_path, "the score-check.csv of a Task = check score run",
                      required=("time", "score_residual", "curl"))
    pvd = os.path.join(run_dir, "score-check.pvd")
    datasets = _pvd_datasets(kind, pvd, "the score-check.pvd of a Task = check score run "
                             "with Score check/Write VTU = true")
    t, path = _pick_time(datasets, time)
    mesh = read_vtu(path, kind)
    residual = mesh.field(kind, path, "score_residual")
    curl = mesh.field(kind, path, "curl")
    surface = Surface(mesh, kind, path)
    figure = _new_figure(size, THREE_PANELS)
    grid = figure.add_gridspec(1, 3, width_ratios=(1, 1, 1.05), wspace=0.32)
    first, second, third = (figure.add_subplot(grid[i]) for i in range(3))
    values = surface.per_triangle(mesh, residual)
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size:
        norm = mcolors.LogNorm(vmin=max(positive.min(), positive.max() * 1e-8),
                               vmax=positive.max())
        shown = np.where(values > 0, values, norm.vmin)
    else:
        norm, shown = None, np.nan_to_num(values)
    artist = first.tripcolor(surface.triangulation, facecolors=shown, norm=norm,
                             cmap="inferno", shading="flat")
    _colorbar(figure, artist, first, r"RMS of $|r|$ over the cell")
    first.set_title("score-FPE residual r of the model (per cell)", fontsize=9)
    summary = _optional_json(os.path.join(run_dir, "summary.json")) or {}
    entry = next((e for e in summary.get("times", []) if isinstance(e, dict)
                  and isinstance(e.get("time"), (int, float)) and abs(e["time"] - t) < 1e-9), {})
    threshold = entry.get("bulk_threshold")
    if "density" in mesh.point_data and isinstance(threshold, (int, float)) and threshold > 0:
        density = surface.nodal_mean(surface.per_triangle(mesh, mesh.point_data["density"]))
        if density.min() < threshold < density.max():
            for axis in (first, second):
                axis.tricontour(surface.triangulation, density, levels=[threshold],
                                colors="cyan" if axis is first else "black",
                                linewidths=1.0, linestyles="--")
            first.plot([], [], "--", color="cyan", label="bulk: 99% of the mass")
            first.legend(fontsize=7, loc="lower left")
    values = np.nan_to_num(surface.per_triangle(mesh, curl))
    bound = float(np.abs(values).max()) or 1.0
    artist = second.tripcolor(surface.triangulation, facecolors=values, cmap="RdBu_r",
                              vmin=-bound, vmax=bound, shading="flat")
    bar = _colorbar(figure, artist, second, "curl (per cell)")
    bar.formatter.set_powerlimits((-2, 2))
    bar.update_ticks()
    second.set_title(r"curl $\partial_1\hat s_2 - \partial_2\hat s_1$ (zero for a score)"
                     if "score_y" in mesh.point_data else "curl", fontsize=9)
    for axis in (first, second):
        axis.set_aspect("equal")
        axis.set_xlabel("$x_1$")
        axis.set_ylabel("$x_2$")
    shown_values = []
    for index, (column, label) in enumerate(_CHECK_COLUMNS):
        if column in table and np.isfinite(table[column]).any():
            third.plot(table["time"], _positive(table[column]), "-o", markersize=4,
                       color="C%d" % index, label=label)
            shown_values.append(table[column])
    _log_axis_positive(third, np.concatenate(shown_values))
    third.axvline(t, color="0.5", linestyle=":", linewidth=1.0)
    third.set_xlabel("time t (dimensionless)")
    third.set_ylabel("per-time quantity (dimensionless)")
    third.grid(True, which="major", alpha=0.3)
    third.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
                 frameon=False)
    third.set_title("every checked time (dotted: the maps' time)", fontsize=9)
    model = str(summary.get("score", ""))
    if "'" in model:
        model = os.path.basename(model.split("'")[1])
    prm = read_parameters(os.path.join(run_dir, "parameters.prm"))
    case = describe_run(run_dir)
    figure.suptitle("Score check: %s%s, t = %.3g%s" % (
        case, (", model " + model) if model else "", t,
        (", reference: " + prm["Score check/Reference"]) if prm.get("Score check/Reference")
        else ""), fontsize=10)
    figure.subplots_adjust(left=0.04, right=0.98, top=0.88, bottom=0.25)
    return _save(figure, kind, run_dir, output, pdf, dpi)


# ---------------------------------------------------------------------------------------
# Every figure a directory allows, and the command line
# ---------------------------------------------------------------------------------------

def _possible(run_dir):
    """The kinds whose input files the directory holds."""
    has = lambda *names: os.path.isfile(os.path.join(run_dir, *names))  # noqa: E731
    kinds = []
    if has("statistics.csv") or glob.glob(os.path.join(run_dir, "level-*", "statistics.csv")):
        kinds.append("errors")
    summary = _optional_json(os.path.join(run_dir, "summary.json")) or {}
    if isinstance(summary.get("convergence"), list) and len(summary["convergence"]) >= 2:
        kinds.append("convergence")
    if has("scheme_table.json") or has("scheme_table.csv"):
        kinds.append("schemes")
    if has("solution.pvd") and summary.get("dimension", 2) in (1, 2):
        kinds.append("fields")
    if has("tail_shells.csv"):
        kinds.append("tails")
    if has("score-check.csv") and has("score-check.pvd") and summary.get("dimension", 2) == 2:
        kinds.append("score-check")
    return kinds


def all_figures(run_dir, output=None, pdf=False, dpi=DPI, size=None):
    """Every figure the directory's files allow, each with its default name (in output
    when it is a directory, else in run_dir)."""
    _require_directory("all", run_dir)
    kinds = _possible(run_dir)
    if not kinds:
        _fail("all", run_dir, "holds none of statistics.csv, summary.json with convergence, "
              "scheme_table.json, solution.pvd, tail_shells.csv, score-check.csv; expected a "
              "scorefp run's Output/Directory")
    written = []
    for kind in kinds:
        target = None
        if output is not None:
            os.makedirs(output, exist_ok=True)
            target = os.path.join(output, "figure-%s.png" % kind)
        written += KINDS[kind](run_dir, output=target, pdf=pdf, dpi=dpi, size=size)
    return written


KINDS = {"errors": errors, "convergence": convergence, "schemes": schemes, "fields": fields,
         "tails": tails, "score-check": score_check, "all": all_figures}
# The reverse-time laws get their figure here once scorefp writes them.


_HELP = {"errors": "relative errors against time (statistics.csv)",
         "convergence": "error against DoFs or h, log-log, observed rates (summary.json)",
         "schemes": "sampler error against steps per scheme (scheme_table.json/.csv)",
         "fields": "density, score arrows and error field at one time (solution.pvd)",
         "tails": "score FPE against grad p_h/p_h by radius (tail_shells.csv)",
         "score-check": "residual and curl maps, per-time quantities (score-check.*)",
         "all": "every figure the directory's files allow"}


def _add_arguments(kind, parser):
    if kind == "errors":
        parser.add_argument("--dt", action="store_true", help="the step size on a second axis")
        parser.add_argument("--no-quotient", dest="quotient", action="store_false",
                            help="score runs: leave out grad p_h/p_h at the output times")
    elif kind == "convergence":
        parser.add_argument("--x", choices=("dofs", "h"), default="dofs",
                            help="abscissa: number of DoFs (default) or mesh size h")
    elif kind == "schemes":
        parser.add_argument("--measure", choices=sorted(_MEASURE_LABELS),
                            help="the column to plot (default: sliced_w2_to_p_epsilon for "
                                 "particle tables, w2_to_data for exact ones)")
    elif kind in ("fields", "score-check"):
        parser.add_argument("--time", type=float,
                            help="output time to draw (nearest one; default: the last)")
        if kind == "fields":
            parser.add_argument("--arrows", type=int, default=20,
                                help="score arrows per direction (default 20)")
    elif kind == "tails":
        parser.add_argument("--time", type=float, action="append", dest="times",
                            help="an output time to draw (repeatable; default: all)")


def main(argv=None):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("run_dir", metavar="RUN_DIR", help="the run's Output/Directory")
    common.add_argument("-o", "--output", help="output file (.png, or .pdf for PDF and PNG); "
                        "default RUN_DIR/figure-KIND.png")
    common.add_argument("--pdf", action="store_true", help="also write a PDF next to the PNG")
    common.add_argument("--dpi", type=float, default=DPI, help="PNG resolution (default %d)"
                        % DPI)
    common.add_argument("--size", type=float, nargs=2, metavar=("WIDTH", "HEIGHT"),
                        help="figure size in inches")
    parser = argparse.ArgumentParser(
        prog="figures.py", description="Figures of a scorefp run, read from its output "
        "directory. Writes RUN_DIR/figure-KIND.png unless -o says otherwise.")
    commands = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, function in KINDS.items():
        sub = commands.add_parser(kind, parents=[common], help=_HELP[kind],
                                  description=(function.__doc__ or "").strip())
        _add_arguments(kind, sub)
    args = vars(parser.parse_args(argv))
    kind = args.pop("kind")
    run_dir = args.pop("run_dir")
    if args.get("dpi") is not None and args["dpi"] <= 0:
        parser.error("--dpi must be positive")
    if args.get("arrows") is not None and args["arrows"] < 1:
        parser.error("--arrows must be at least 1")
    try:
        written = KINDS[kind](run_dir, **args)
    except FigureInputError as e:
        print(e.message, file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
