// Reading and writing reference files (postprocess/REFERENCE_FORMAT.md): the
// root attributes, the /process and /data groups (the parameter-file entries of the
// run's process and data set, format version 2), the mesh and the snapshots. The
// writer fills the same in-memory field the reader builds and tabulates the cloud,
// grid and moments from it. Version-1 files, which stored the process coefficients by
// name, are still read (read_version_1_metadata).
#include "reference/hdf5_file.h"
#include "reference/mesh_geometry.h"
#include "reference/reference_data.h"
#include "reference/reference_output.h"

#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>
#include <scorefp/reference/reference_field.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <sstream>

#ifndef SCOREFP_VERSION
#define SCOREFP_VERSION "unknown"
#endif

namespace scorefp
{
  using dealii::Point;
  using hdf5::create_group;
  using hdf5::Handle;
  using hdf5::write_attribute;
  using hdf5::write_doubles;
  using hdf5::write_int64;
  using reference_detail::create_field;
  using reference_detail::MeshGeometry;
  using reference_detail::ReferenceData;
  using reference_detail::SnapshotData;
  using reference_detail::sort_and_merge;

  namespace
  {
    std::string snapshot_name(const unsigned int i)
    {
      std::ostringstream s;
      s << std::setw(4) << std::setfill('0') << i;
      return s.str();
    }

    const char *score_source_name(const ScoreSource source)
    {
      return source == ScoreSource::finite_element ? "finite_element" : "log_density_gradient";
    }

    /// The entries "set KEY = VALUE" of one top-level subsection of a parameter text in
    /// deal.II's PRM form (as the `parameters` attribute holds it), in their order.
    hdf5::Entries section_entries(const std::string &text, const std::string &section)
    {
      hdf5::Entries            entries;
      std::vector<std::string> path;
      std::istringstream       in(text);
      std::string              line;
      const auto               trim = [](std::string s) {
        const auto first = s.find_first_not_of(" \t\r");
        if (first == std::string::npos)
          return std::string();
        return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
      };
      while (std::getline(in, line))
        {
          line = trim(line.substr(0, line.find('#')));
          if (line.rfind("subsection ", 0) == 0)
            path.push_back(trim(line.substr(11)));
          else if (line == "end" && !path.empty())
            path.pop_back();
          else if (line.rfind("set ", 0) == 0 && path.size() == 1 && path[0] == section)
            {
              const auto equals = line.find('=');
              if (equals != std::string::npos)
                entries.emplace_back(trim(line.substr(4, equals - 4)),
                                     trim(line.substr(equals + 1)));
            }
        }
      return entries;
    }

    /// Version 1 ("scorefp reference 1"): the process by its coefficients' names as root
    /// attributes, the data set only as a description; its entries are recovered from
    /// the run's parameter text (default DataParameters when the text is empty).
    void read_version_1_metadata(const hdf5::Reader &reader, const hid_t root, ReferenceMetadata &m)
    {
      // Version 1 stored the coefficients of every process; the entries of the one it
      // names are rebuilt from them (the others are ignored, as in a parameter file).
      const auto number = [&](const char *attribute) {
        return format_number(reader.double_attribute(root, attribute));
      };
      m.process =
          ProcessParameters::from_entries({{"Type", reader.string_attribute(root, "process")},
                                           {"Start time", number("start_time")},
                                           {"Final time", number("final_time")},
                                           {"beta min", number("beta_min")},
                                           {"beta max", number("beta_max")},
                                           {"sigma min", number("sigma_min")},
                                           {"sigma max", number("sigma_max")},
                                           {"OU rate", number("ou_rate")},
                                           {"OU diffusion", number("ou_diffusion")}});
      m.data_description       = reader.string_attribute(root, "data");
      const hdf5::Entries data = section_entries(m.parameters, "Initial data");
      if (!data.empty())
        {
          try
            {
              m.data = DataParameters::from_entries(data, m.dimension);
            }
          catch (const InputError &e)
            {
              reader.fail(std::string("the section Initial data of its parameter text cannot "
                                      "be read (") +
                          e.what() + ")");
            }
        }
    }

    /// Version 2: the process and the data set as their parameter-file entries.
    void read_version_2_metadata(const hdf5::Reader &reader, const hid_t root, ReferenceMetadata &m)
    {
      m.data_description   = reader.string_attribute(root, "data_description");
      const Handle process = reader.group(root, "process");
      const Handle data    = reader.group(root, "data");
      try
        {
          m.process = ProcessParameters::from_entries(reader.string_attributes(process, "process"));
          m.data =
              DataParameters::from_entries(reader.string_attributes(data, "data"), m.dimension);
        }
      catch (const InputError &e)
        {
          reader.fail(std::string("its /process or /data entries are not valid (") + e.what() +
                      ")");
        }
    }
  } // namespace

  // ------------------------------------------------------------------- reading

  std::unique_ptr<ReferenceField> ReferenceField::read(const std::string &file)
  {
    if (!std::filesystem::exists(file))
      throw InputError("Reference file '" + file +
                       "' does not exist; expected a file written by a scorefp run with "
                       "Output/Reference file.");
    hdf5::QuietErrors quiet;
    if (H5Fis_hdf5(file.c_str()) <= 0)
      throw InputError("Reference file '" + file +
                       "' is not an HDF5 file; expected a file written by a scorefp run with "
                       "Output/Reference file.");
    Handle h5(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!h5.valid())
      throw InputError("Reference file '" + file + "' cannot be opened as HDF5.");
    const hdf5::Reader reader(file);
    if (!reader.has_attribute(h5, "format"))
      throw InputError("Reference file '" + file +
                       "' is not a scorefp reference (it has no 'format' attribute); expected "
                       "a file written by a scorefp run with Output/Reference file.");
    const std::string format = reader.string_attribute(h5, "format");
    if (format.rfind("scorefp reference ", 0) != 0)
      throw InputError("Reference file '" + file + "' has format '" + format + "'; expected '" +
                       reference_format + "'.");
    ReferenceMetadata m;
    if (format == "scorefp reference 1")
      m.format_version = 1;
    else if (format == "scorefp reference 2")
      m.format_version = 2;
    else
      throw InputError("Reference file '" + file + "' has format version '" + format +
                       "', which this scorefp does not read; expected 'scorefp reference 1' or '" +
                       reference_format + "'.");
    m.scorefp_version      = reader.string_attribute(h5, "scorefp_version");
    m.equation             = reader.string_attribute(h5, "equation");
    m.dimension            = static_cast<unsigned int>(reader.integer_attribute(h5, "dimension"));
    m.degree               = static_cast<unsigned int>(reader.integer_attribute(h5, "degree"));
    m.scaled_coordinates   = reader.integer_attribute(h5, "scaled_coordinates") != 0;
    m.geometry             = reader.string_attribute(h5, "geometry");
    m.parameters           = reader.string_attribute(h5, "parameters");
    const unsigned int dim = m.dimension;
    if (dim < 1 || dim > 3)
      reader.fail("dimension " + std::to_string(dim) + " is not 1, 2 or 3");
    if (m.degree < 1 || m.degree > 7)
      reader.fail("degree " + std::to_string(m.degree) + " is not between 1 and 7");
    if (m.equation != "density" && m.equation != "score")
      reader.fail("equation '" + m.equation + "' is neither 'density' nor 'score'");
    if (m.format_version == 1)
      read_version_1_metadata(reader, h5, m);
    else
      read_version_2_metadata(reader, h5, m);
    const bool with_score = m.equation == "score";

    auto field = create_field(dim, m.degree, with_score);
    field->set_info(m, file);
    const unsigned int nv     = 1u << dim;
    const hsize_t      n_dofs = field->dofs_per_cell();

    const Handle  mesh       = reader.group(h5, "mesh");
    const hsize_t n_vertices = reader.leading_dimension(mesh, "vertices");
    const hsize_t n_cells    = reader.leading_dimension(mesh, "cells");
    if (n_cells == 0)
      reader.fail("the mesh has no cells");
    field->set_mesh(reader.doubles(mesh, "vertices", {n_vertices, dim}),
                    reader.int64(mesh, "cells", {n_cells, nv}));

    const Handle    snapshots   = reader.group(h5, "snapshots");
    const long long n_snapshots = reader.integer_attribute(h5, "n_snapshots");
    for (long long i = 0; i < n_snapshots; ++i)
      {
        const std::string name  = snapshot_name(i);
        const Handle      group = reader.group(snapshots, name);
        SnapshotData      s;
        s.time    = reader.double_attribute(group, "time");
        s.scale   = reader.double_attribute(group, "scale");
        s.mass    = reader.double_attribute(group, "mass");
        s.density = reader.doubles(group, "density_dofs", {n_cells, n_dofs});
        if (with_score)
          s.score = reader.doubles(group, "score_dofs", {n_cells, dim, n_dofs});
        s.mean       = reader.doubles(group, "mean", {dim});
        s.covariance = reader.doubles(group, "covariance", {dim, dim});
        if (!(s.scale > 0))
          reader.fail("snapshot " + name + " has scale " + std::to_string(s.scale));
        if (i > 0 && !(s.time > field->time(i - 1)))
          reader.fail("snapshot times are not increasing at snapshot " + name);
        field->add_snapshot(std::move(s), false);
      }
    if (n_snapshots <= 0)
      reader.fail("it has no snapshots");
    return field;
  }

  // ------------------------------------------------------------------- writing

  std::string reference_file_path(const FiniteElementCase &p)
  {
    const std::filesystem::path file(p.output.reference_file);
    if (file.is_absolute())
      return file.string();
    return (std::filesystem::path(p.output.directory) / file).string();
  }

  bool writes_reference_file(const FiniteElementCase &p,
                             const unsigned int refinement_level,
                             const bool         write_files)
  {
    if (p.output.reference_file.empty() || !write_files)
      return false;
    const auto &levels = p.mesh.refinement_levels;
    // A level that is one of several but not the finest does not write it.
    return levels.empty() ||
           std::find(levels.begin(), levels.end(), refinement_level) == levels.end() ||
           refinement_level >= *std::max_element(levels.begin(), levels.end());
  }

  ReferenceMetadata reference_metadata(const FiniteElementCase &p,
                                       const std::string       &data_description)
  {
    ReferenceMetadata m;
    m.scorefp_version    = SCOREFP_VERSION;
    m.equation           = equation_name(p.equation);
    m.dimension          = p.dimension;
    m.degree             = p.discretization.degree;
    m.process            = p.process;
    m.data               = p.data;
    m.data_description   = data_description;
    m.scaled_coordinates = p.scaled_coordinates;
    m.geometry           = p.mesh.geometry_name();
    m.parameters         = p.output.parameter_text;
    return m;
  }

  struct ReferenceFileWriter::Implementation
  {
    std::string                    path, temporary;
    ReferenceMetadata              metadata;
    std::vector<unsigned int>      grid_points;
    std::vector<double>            grid_lower, grid_upper;
    Handle                         file, snapshots;
    std::unique_ptr<ReferenceData> field;
    bool                           finished = false;
  };

  ReferenceFileWriter::ReferenceFileWriter(const std::string               &path,
                                           const ReferenceMetadata         &metadata,
                                           const std::vector<unsigned int> &grid_points,
                                           const std::vector<double>       &grid_lower,
                                           const std::vector<double>       &grid_upper)
      : implementation(std::make_unique<Implementation>())
  {
    auto &w       = *implementation;
    w.path        = path;
    w.temporary   = path + ".partial";
    w.metadata    = metadata;
    w.grid_points = grid_points;
    w.grid_points.resize(metadata.dimension, grid_points.empty() ? 65 : grid_points.back());
    w.grid_lower                       = grid_lower;
    w.grid_upper                       = grid_upper;
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty())
      std::filesystem::create_directories(parent);
    std::filesystem::remove(path); // a file from an earlier run must not survive a failure
    hdf5::QuietErrors quiet;
    w.file =
        Handle(H5Fcreate(w.temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!w.file.valid())
      throw InputError("Output/Reference file: '" + w.temporary +
                       "' cannot be created; expected a writable location.");
    const hid_t root = w.file;
    write_attribute(root, "format", std::string(reference_format));
    write_attribute(root, "scorefp_version", metadata.scorefp_version);
    write_attribute(root, "equation", metadata.equation);
    write_attribute(root, "dimension", static_cast<long long>(metadata.dimension));
    write_attribute(root, "degree", static_cast<long long>(metadata.degree));
    write_attribute(root, "data_description", metadata.data_description);
    write_attribute(
        root, "scaled_coordinates", static_cast<long long>(metadata.scaled_coordinates));
    write_attribute(root, "geometry", metadata.geometry);
    write_attribute(root, "parameters", metadata.parameters);
    const bool with_score = metadata.equation == "score";
    write_attribute(root,
                    "score_source",
                    std::string(score_source_name(with_score ? ScoreSource::finite_element
                                                             : ScoreSource::log_density_gradient)));
    // The process and the data set as the parameter file names them, whatever they are.
    hdf5::write_entries(root, "process", metadata.process.entries());
    hdf5::write_entries(root, "data", metadata.data.entries());
    w.field = create_field(metadata.dimension, metadata.degree, with_score);
    w.field->set_info(metadata, "");
  }

  ReferenceFileWriter::~ReferenceFileWriter()
  {
    if (implementation && !implementation->finished)
      {
        implementation->snapshots.reset();
        implementation->file.reset();
        std::error_code ignored;
        std::filesystem::remove(implementation->temporary, ignored);
      }
  }

  std::vector<unsigned int> ReferenceFileWriter::set_mesh(const std::vector<unsigned int> &ids,
                                                          const std::vector<double> &cell_vertices)
  {
    auto                     &w   = *implementation;
    const unsigned int        dim = w.metadata.dimension;
    std::vector<unsigned int> order;
    std::vector<double>       vertices;
    std::vector<long long>    cells;
    const auto                flatten = [&](const auto &points, const auto &cell_list) {
      for (const auto &p : points)
        for (unsigned int d = 0; d < dim; ++d)
          vertices.push_back(p[d]);
      for (const auto &c : cell_list)
        for (const unsigned int v : c)
          cells.push_back(v);
    };
    if (dim == 1)
      {
        std::vector<Point<1>>                               points;
        std::vector<typename MeshGeometry<1>::CellVertices> cell_list;
        sort_and_merge<1>(ids, cell_vertices, order, points, cell_list);
        flatten(points, cell_list);
      }
    else if (dim == 2)
      {
        std::vector<Point<2>>                               points;
        std::vector<typename MeshGeometry<2>::CellVertices> cell_list;
        sort_and_merge<2>(ids, cell_vertices, order, points, cell_list);
        flatten(points, cell_list);
      }
    else
      {
        std::vector<Point<3>>                               points;
        std::vector<typename MeshGeometry<3>::CellVertices> cell_list;
        sort_and_merge<3>(ids, cell_vertices, order, points, cell_list);
        flatten(points, cell_list);
      }
    const hsize_t n_vertices = vertices.size() / dim, n_cells = order.size();
    const hsize_t nv = 1u << dim;
    {
      Handle mesh = create_group(w.file, "mesh");
      write_doubles(mesh, "vertices", {n_vertices, dim}, vertices);
      write_int64(mesh, "cells", {n_cells, nv}, cells);
      write_attribute(mesh, "coordinates", std::string("mesh coordinates xi = x / c(t)"));
      write_attribute(mesh, "mapping", std::string("Q1 (d-linear, flat cells)"));
      Handle fe = create_group(w.file, "fe");
      write_attribute(fe, "element", "FE_Q(" + std::to_string(w.metadata.degree) + ")");
      write_attribute(fe, "degree", static_cast<long long>(w.metadata.degree));
      w.field->set_mesh(vertices, cells);
      const hsize_t n_dofs = w.field->dofs_per_cell();
      write_doubles(fe, "unit_support_points", {n_dofs, dim}, w.field->unit_support_points());
      write_int64(fe, "lexicographic_to_local", {n_dofs}, w.field->lexicographic_to_local());
    }
    w.snapshots = create_group(w.file, "snapshots");
    return order;
  }

  void ReferenceFileWriter::add_snapshot(const double               time,
                                         const double               scale,
                                         const std::vector<double> &density_dofs,
                                         const std::vector<double> &score_dofs)
  {
    auto              &w      = *implementation;
    auto              &field  = *w.field;
    const unsigned int dim    = w.metadata.dimension;
    const hsize_t      n      = field.n_cells();
    const hsize_t      n_dofs = field.dofs_per_cell();
    const unsigned int i      = field.n_snapshots();
    AssertThrow(density_dofs.size() == n * n_dofs, dealii::ExcInternalError());
    AssertThrow(score_dofs.size() == (field.has_score() ? n * dim * n_dofs : 0),
                dealii::ExcInternalError());
    SnapshotData s;
    s.time    = time;
    s.scale   = scale;
    s.density = density_dofs;
    s.score   = score_dofs;
    field.add_snapshot(std::move(s), true);
    const SnapshotData &stored = field.snapshot(i);
    const ScoreSource   source =
        field.has_score() ? ScoreSource::finite_element : ScoreSource::log_density_gradient;

    Handle group = create_group(w.snapshots, snapshot_name(i));
    write_attribute(group, "time", time);
    write_attribute(group, "scale", scale);
    write_attribute(group, "mass", stored.mass);
    write_attribute(group, "score_source", std::string(score_source_name(source)));
    write_doubles(group, "density_dofs", {n, n_dofs}, stored.density);
    if (field.has_score())
      write_doubles(group, "score_dofs", {n, dim, n_dofs}, stored.score);
    write_doubles(group, "mean", {dim}, stored.mean);
    write_doubles(group, "covariance", {dim, dim}, stored.covariance);

    {
      const QuadratureCloud cloud = field.cloud(i, w.metadata.degree + 1);
      const hsize_t         n_q   = cloud.size();
      std::vector<double>   score(n_q * dim);
      field.evaluate(i, cloud.points.data(), n_q, nullptr, score.data(), source);
      Handle g = create_group(group, "cloud");
      write_attribute(g, "points_per_direction", static_cast<long long>(w.metadata.degree + 1));
      write_attribute(g, "score_source", std::string(score_source_name(source)));
      write_doubles(g, "points", {n_q, dim}, cloud.points);
      write_doubles(g, "weights", {n_q}, cloud.weights);
      write_int64(
          g, "cells", {n_q}, std::vector<long long>(cloud.cells.begin(), cloud.cells.end()));
      write_doubles(g, "score", {n_q, dim}, score);
    }
    {
      std::vector<double> lower, upper;
      field.bounding_box(i, lower, upper);
      if (!w.grid_lower.empty())
        {
          lower = w.grid_lower;
          upper = w.grid_upper;
        }
      Handle                           g = create_group(group, "grid");
      std::vector<std::vector<double>> axes(dim);
      std::size_t                      n_points = 1;
      std::vector<hsize_t>             shape;
      for (unsigned int d = 0; d < dim; ++d)
        {
          const unsigned int m = w.grid_points[d];
          for (unsigned int k = 0; k < m; ++k)
            axes[d].push_back(k + 1 == m ? upper[d]
                                         : lower[d] + (upper[d] - lower[d]) * k / (m - 1));
          write_doubles(g, "x" + std::to_string(d), {m}, axes[d]);
          n_points *= m;
          shape.push_back(m);
        }
      // C order, last axis fastest: grid/density[i0, ..., i_{d-1}] is at (x0[i0], ...).
      std::vector<double> points(n_points * dim);
      for (std::size_t k = 0; k < n_points; ++k)
        {
          std::size_t rest = k;
          for (int d = dim - 1; d >= 0; --d)
            {
              points[k * dim + d] = axes[d][rest % axes[d].size()];
              rest /= axes[d].size();
            }
        }
      std::vector<double> density(n_points), score(n_points * dim);
      std::vector<char>   inside;
      field.evaluate(i, points.data(), n_points, density.data(), score.data(), source, &inside);
      for (std::size_t k = 0; k < n_points; ++k)
        if (!inside[k])
          for (unsigned int d = 0; d < dim; ++d)
            score[k * dim + d] = std::numeric_limits<double>::quiet_NaN();
      write_attribute(g, "score_source", std::string(score_source_name(source)));
      write_doubles(g, "density", shape, density);
      shape.push_back(dim);
      write_doubles(g, "score", shape, score);
    }
    H5Fflush(w.file, H5F_SCOPE_GLOBAL);
  }

  void ReferenceFileWriter::finish()
  {
    auto &w = *implementation;
    write_attribute(w.file, "n_snapshots", static_cast<long long>(w.field->n_snapshots()));
    w.snapshots.reset();
    w.file.reset();
    std::filesystem::rename(w.temporary, w.path);
    w.finished = true;
  }
} // namespace scorefp
