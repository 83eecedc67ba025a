"""Read scorefp reference files with h5py and numpy.

A reference file is what a scorefp density or score run writes with
``Output/Reference file``: the finite-element density (and score) at every output
time, with the mesh, a weighted quadrature cloud, a tabulated grid and the moments.
The layout is documented in ``postprocess/REFERENCE_FORMAT.md``.

Typical use::

    from scorefp_reference import Reference

    with Reference("output/demo/reference.h5") as ref:
        print(ref.process["Type"], ref.data["Type"], ref.times)
        snap = ref.snapshot(-1)                  # the last output time
        expectation = snap.cloud_weights @ f(snap.cloud_points)   # E f(X_t)
        X0, X1 = snap.grid_mesh()                # grid coordinates, "ij" indexing
        density = snap.grid_density              # p_h on that grid (0 outside the mesh)

All coordinates returned here are physical (original) coordinates x, except
``Reference.vertices``, which are mesh coordinates xi = x / c(t) (multiply by
``Snapshot.scale`` for a given output time).
"""

import os

import numpy as np

#: The format string of the files scorefp writes (version 2).
FORMAT = "scorefp reference 2"
#: Every format this module reads, by version number.
FORMATS = {1: "scorefp reference 1", 2: FORMAT}

#: Version 1 stored the process coefficients as root attributes; their entry names.
_VERSION_1_PROCESS_ENTRIES = {
    "start_time": "Start time", "final_time": "Final time", "beta_min": "beta min",
    "beta_max": "beta max", "sigma_min": "sigma min", "sigma_max": "sigma max",
    "ou_rate": "OU rate", "ou_diffusion": "OU diffusion",
}


class ReferenceFormatError(ValueError):
    """The file exists but is not a (readable) scorefp reference file."""


def _decode(value):
    """HDF5 attribute values as plain Python values (str, int, float)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


class Snapshot:
    """One output time of a reference file, read into numpy arrays.

    Attributes (d = dimension, n_q = number of cloud points):

    - ``index``, ``time``, ``scale`` (c(t); physical x = c xi), ``mass`` (integral
      of p_h over the mesh, equal to ``cloud_weights.sum()``)
    - ``mean`` (d,), ``covariance`` (d, d): moments of p_h normalised by its mass
    - ``density_dofs`` (n_cells, dofs_per_cell): cell-local values of
      q_h = c^d p_h in mesh coordinates, FE_Q local order
    - ``score_dofs`` (n_cells, d, dofs_per_cell) or None: score runs only, the
      mesh-coordinate score s_xi, component by component in FE_Q local order
    - ``score_source``: "finite_element" (score runs) or "log_density_gradient"
      (grad p_h / p_h, density runs): what ``cloud_score`` and ``grid_score`` hold
    - ``cloud_points`` (n_q, d), ``cloud_weights`` (n_q,) = p_h(x_q) JxW_q,
      ``cloud_cells`` (n_q,) int64, ``cloud_score`` (n_q, d)
    - ``grid_axes``: list of d 1D arrays; ``grid_density`` (n_0, ..., n_{d-1}),
      0 outside the mesh; ``grid_score`` (n_0, ..., n_{d-1}, d), NaN outside
    """

    def __init__(self, group, index, dimension):
        self.index = index
        self.time = float(group.attrs["time"])
        self.scale = float(group.attrs["scale"])
        self.mass = float(group.attrs["mass"])
        self.score_source = _decode(group.attrs["score_source"])
        self.mean = group["mean"][()]
        self.covariance = group["covariance"][()]
        self.density_dofs = group["density_dofs"][()]
        self.score_dofs = group["score_dofs"][()] if "score_dofs" in group else None
        cloud = group["cloud"]
        self.cloud_points = cloud["points"][()]
        self.cloud_weights = cloud["weights"][()]
        self.cloud_cells = cloud["cells"][()]
        self.cloud_score = cloud["score"][()]
        grid = group["grid"]
        self.grid_axes = [grid["x%d" % j][()] for j in range(dimension)]
        self.grid_density = grid["density"][()]
        self.grid_score = grid["score"][()]

    def grid_mesh(self):
        """The grid's coordinate arrays (numpy.meshgrid with indexing="ij"), each of
        the shape of ``grid_density``."""
        return np.meshgrid(*self.grid_axes, indexing="ij")

    def grid_points(self):
        """The grid points as an (n_0 * ... * n_{d-1}, d) array, in the order of
        ``grid_density.ravel()``."""
        return np.stack([x.ravel() for x in self.grid_mesh()], axis=-1)

    def expectation(self, f):
        """E f(X) under p_h by the cloud: sum_q w_q f(x_q). ``f`` maps an (n_q, d)
        array to (n_q,) or (n_q, k) values."""
        return np.tensordot(self.cloud_weights, f(self.cloud_points), axes=(0, 0))

    def __repr__(self):
        return "Snapshot(index=%d, time=%g, mass=%.12g)" % (self.index, self.time, self.mass)


class Reference:
    """A scorefp reference file (format version 1 or 2).

    ``Reference(path)`` opens the file and checks its format; it raises
    FileNotFoundError for a missing file and ReferenceFormatError for anything that
    is not a scorefp reference of a format version this module reads.

    Attributes: ``path``; ``format_version`` (1 or 2); ``metadata`` (dict of the root
    attributes: format, scorefp_version, equation, dimension, degree, data_description
    (version 1: data), scaled_coordinates, geometry, score_source, n_snapshots,
    parameters = the full parameter text of the run); ``process`` and ``data``
    (dicts {entry: text} of the parameter-file entries of the run's process, section
    Process, and data set, section Initial data: the attributes of ``/process`` and
    ``/data``; for version-1 files rebuilt from the root attributes and the parameter
    text); ``data_description``; ``dimension``, ``degree``, ``equation``,
    ``has_score``; ``times`` (numpy array of the output times); ``vertices``
    (n_vertices, d) mesh coordinates and ``cells`` (n_cells, 2^d) vertex indices in
    deal.II order; ``unit_support_points`` (dofs_per_cell, d) of FE_Q in local order.
    """

    def __init__(self, path):
        import h5py  # imported here so that the module can be imported without it

        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(
                "Reference file '%s' does not exist; expected a file written by a scorefp "
                "run with Output/Reference file." % self.path)
        if not h5py.is_hdf5(self.path):
            raise ReferenceFormatError(
                "Reference file '%s' is not an HDF5 file; expected a scorefp reference "
                "file." % self.path)
        self._file = h5py.File(self.path, "r")
        try:
            attrs = self._file.attrs
            if "format" not in attrs:
                raise ReferenceFormatError(
                    "Reference file '%s' is not a scorefp reference (it has no 'format' "
                    "attribute)." % self.path)
            found = _decode(attrs["format"])
            versions = {text: version for version, text in FORMATS.items()}
            if found not in versions:
                raise ReferenceFormatError(
                    "Reference file '%s' has format '%s'; this reader reads %s."
                    % (self.path, found, " or ".join("'%s'" % f for f in FORMATS.values())))
            self.format_version = versions[found]
            self.metadata = {key: _decode(value) for key, value in attrs.items()}
            if self.format_version == 1:
                self.process, self.data = _version_1_entries(self.metadata)
                self.data_description = self.metadata["data"]
            else:
                self.process = _entries(self._file["process"])
                self.data = _entries(self._file["data"])
                self.data_description = self.metadata["data_description"]
            self.dimension = int(self.metadata["dimension"])
            self.degree = int(self.metadata["degree"])
            self.equation = self.metadata["equation"]
            self.has_score = self.equation == "score"
            self.vertices = self._file["mesh/vertices"][()]
            self.cells = self._file["mesh/cells"][()]
            self.unit_support_points = self._file["fe/unit_support_points"][()]
            n = int(self.metadata["n_snapshots"])
            self._names = ["%04d" % i for i in range(n)]
            self.times = np.array(
                [float(self._file["snapshots"][name].attrs["time"]) for name in self._names])
        except KeyError as error:
            self._file.close()
            raise ReferenceFormatError(
                "Reference file '%s' is inconsistent: %s is missing." % (self.path, error))
        except Exception:
            self._file.close()
            raise

    @property
    def n_snapshots(self):
        """The number of output times in the file."""
        return len(self._names)

    def snapshot(self, i):
        """The output time number ``i`` (negative numbers count from the end) as a
        Snapshot: cloud, grid, moments and finite-element values as numpy arrays."""
        name = self._names[i]
        index = self._names.index(name)
        return Snapshot(self._file["snapshots"][name], index, self.dimension)

    def __len__(self):
        return self.n_snapshots

    def __iter__(self):
        for i in range(self.n_snapshots):
            yield self.snapshot(i)

    def close(self):
        """Close the HDF5 file (the arrays already returned stay valid)."""
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return "Reference('%s': %s, %dD %s, %d snapshots)" % (
            self.path, self.equation, self.dimension, self.process.get("Type"),
            self.n_snapshots)


def _entries(group):
    """The string attributes of a group as {name: text}, in the order written."""
    return {key: _decode(value) for key, value in group.attrs.items()}


def _version_1_entries(metadata):
    """(process, data) entry dicts of a version-1 file: the process from its named
    root attributes, the data set from section Initial data of the parameter text
    (empty when the file has no parameter text)."""
    process = {"Type": metadata["process"]}
    for attribute, entry in _VERSION_1_PROCESS_ENTRIES.items():
        process[entry] = repr(float(metadata[attribute]))
    prefix = "Initial data/"
    data = {key[len(prefix):]: value
            for key, value in parameter_sections(metadata.get("parameters", "")).items()
            if key.startswith(prefix) and "/" not in key[len(prefix):]}
    return process, data


# ---------------------------------------------------------------------------------
# Closed forms (MATH.md sections 1 and 5) for the processes scorefp knows, so that a
# reference of Gaussian-mixture data can be compared with its exact law.

def _process_entries(process):
    """The process entries of a Reference, or the entries themselves."""
    return process.process if isinstance(process, Reference) else process


def mean_factor_and_variance(process, t):
    """m(t) and v(t) (MATH.md section 1, for a process started at t = 0) of the process
    whose parameter-file entries are given (``Reference.process``, or the Reference)."""
    entries = _process_entries(process)
    name = entries["Type"]

    def number(key):
        return float(entries[key])

    if name in ("VP", "sub-VP"):
        b0, b1 = number("beta min"), number("beta max")
        B = b0 * t + 0.5 * (b1 - b0) * t * t
        m = np.exp(-0.5 * B)
        v = 1 - np.exp(-B) if name == "VP" else (1 - np.exp(-B)) ** 2
        return m, v
    if name == "VE":
        smin, smax = number("sigma min"), number("sigma max")
        return 1.0, (smin * (smax / smin) ** t) ** 2 - smin ** 2
    if name == "EDM":
        return 1.0, t * t
    if name == "OU":
        r, q = number("OU rate"), number("OU diffusion")
        return np.exp(-r * t), q * (1 - np.exp(-2 * r * t)) / (2 * r)
    raise ValueError("unknown process '%s'" % name)


def transition(process, t):
    """The law of X_t given X_{t0} for data placed at the data time t0 (Process/Data
    time, else the start time): N(m X_{t0}, v I) with (m, v) returned here
    (``process``: ``Reference.process``, or the Reference)."""
    entries = _process_entries(process)
    t0 = float(entries.get("Data time", entries.get("Start time", "0")))
    m, v = mean_factor_and_variance(entries, t)
    m0, v0 = mean_factor_and_variance(entries, t0)
    ratio = m / m0
    return ratio, max(0.0, v - ratio * ratio * v0)


def parameter_sections(text):
    """The PRM text of the ``parameters`` attribute as {"Section/Key": value}."""
    entries, path = {}, []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("subsection "):
            path.append(line[len("subsection "):].strip())
        elif line == "end":
            path.pop()
        elif line.startswith("set ") and "=" in line:
            key, value = line[4:].split("=", 1)
            entries["/".join(path + [key.strip()])] = value.strip()
    return entries


def gaussian_mixture_data(reference):
    """(weights, means, covariances) of the run's data when it is a Gaussian mixture
    (``Reference.data["Type"] == "gaussian mixture"``), smoothing included; None
    otherwise."""
    entries = reference.data
    if entries.get("Type") != "gaussian mixture":
        return None
    d = reference.dimension

    def numbers(text):
        return [float(x) for x in text.replace(",", " ").split()]

    weights = np.array(numbers(entries["Weights"]))
    weights /= weights.sum()
    means = [numbers(c) for c in entries["Means"].split(";")]
    covariances = []
    for c in entries["Covariances"].split(";"):
        c = numbers(c)
        covariances.append(c[0] * np.eye(d) if len(c) == 1 else np.reshape(c, (d, d)))
    smoothing = float(entries.get("Smoothing variance", "0"))
    covariances = [C + smoothing * np.eye(d) for C in covariances]
    return weights, np.array(means), np.array(covariances)


def gaussian_mixture_density(points, weights, means, covariances):
    """sum_k w_k N(x; mu_k, C_k) at points (n, d)."""
    points = np.atleast_2d(points)
    d = points.shape[1]
    total = np.zeros(len(points))
    for w, mu, C in zip(weights, means, covariances):
        L = np.linalg.cholesky(C)
        z = np.linalg.solve(L, (points - mu).T)
        log_det = 2 * np.sum(np.log(np.diag(L)))
        total += w * np.exp(-0.5 * np.sum(z * z, axis=0) - 0.5 * (d * np.log(2 * np.pi) + log_det))
    return total


def exact_density(reference, t, points):
    """The exact density at time t and points (n, d) for Gaussian-mixture data
    (MATH.md section 5: N(m mu_k, m^2 C_k + v I)); None for other data."""
    data = gaussian_mixture_data(reference)
    if data is None:
        return None
    weights, means, covariances = data
    m, v = transition(reference.process, t)
    d = reference.dimension
    return gaussian_mixture_density(
        points, weights, m * means, m * m * covariances + v * np.eye(d)[None, :, :])
