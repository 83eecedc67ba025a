// Writing reference files (postprocess/REFERENCE_FORMAT.md) from a running solver:
// every rank sends its locally owned cells (CellId, vertices, cell-local values) to
// rank 0, which sorts them by CellId (so the file does not depend on the number of
// ranks), builds the same in-memory ReferenceField a reader builds, and writes the
// mesh, the values and the cloud, grid and moments evaluated from that field.
#pragma once

#include <scorefp/core/input_error.h>
#include <scorefp/fe/finite_element_case.h>
#include <scorefp/reference/reference_field.h>

#include <deal.II/base/mpi.h>
#include <deal.II/distributed/tria_base.h>
#include <deal.II/dofs/dof_handler.h>
#include <deal.II/fe/fe.h>
#include <deal.II/fe/fe_q.h>
#include <deal.II/fe/fe_values.h>
#include <deal.II/fe/mapping_q1.h>
#include <deal.II/lac/vector.h>

#include <mpi.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace scorefp
{
  /// Rank 0's side: the file under construction (a temporary name until finish()).
  /// Implemented in reference_file.cc.
  class ReferenceFileWriter
  {
  public:
    /// Removes a file of that name left by an earlier run and opens path + ".partial".
    ReferenceFileWriter(const std::string               &path,
                        const ReferenceMetadata         &metadata,
                        const std::vector<unsigned int> &grid_points,
                        const std::vector<double>       &grid_lower,
                        const std::vector<double>       &grid_upper);
    /// Without finish(): the temporary file is removed (a failed run leaves no file).
    ~ReferenceFileWriter();

    /// The cells as gathered: n x 4 CellId binary words and n x 2^d x d vertex
    /// coordinates (mesh coordinates). Sorts them by CellId, merges vertices by exact
    /// equality and writes /mesh. Returns the order: sorted cell k is gathered cell
    /// order[k].
    std::vector<unsigned int> set_mesh(const std::vector<unsigned int> &cell_ids,
                                       const std::vector<double>       &cell_vertices);

    /// One output time, values in sorted cell order: density_dofs n x dofs_per_cell
    /// (q_h = c^d p_h, FE_Q local order); score_dofs n x d x dofs_per_cell (s_xi, each
    /// component in FE_Q local order) or empty.
    void add_snapshot(const double               time,
                      const double               scale,
                      const std::vector<double> &density_dofs,
                      const std::vector<double> &score_dofs);

    /// Close the file and rename it to its final name.
    void finish();

  private:
    struct Implementation;
    std::unique_ptr<Implementation> implementation;
  };

  /// Output/Reference file, relative paths taken relative to Output/Directory.
  std::string reference_file_path(const FiniteElementCase &p);

  /// Whether the solve of this refinement level writes the reference file: one is
  /// requested, files are written, and the level is the finest of Mesh/Refinement levels.
  bool writes_reference_file(const FiniteElementCase &p,
                             const unsigned int refinement_level,
                             const bool         write_files);

  /// The root attributes of a run's reference file.
  ReferenceMetadata reference_metadata(const FiniteElementCase &p,
                                       const std::string       &data_description);

  namespace reference_detail
  {
    /// Concatenate every rank's values on rank 0 (empty elsewhere).
    template <typename T>
    std::vector<T> gather_to_root(const std::vector<T> &local,
                                  const MPI_Datatype    type,
                                  const MPI_Comm        communicator)
    {
      const unsigned int n_ranks = dealii::Utilities::MPI::n_mpi_processes(communicator);
      const bool         root    = dealii::Utilities::MPI::this_mpi_process(communicator) == 0;
      const int          count   = static_cast<int>(local.size());
      std::vector<int>   counts(root ? n_ranks : 0), offsets(root ? n_ranks : 0);
      MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, communicator);
      std::vector<T> all;
      if (root)
        {
          int total = 0;
          for (unsigned int r = 0; r < n_ranks; ++r)
            {
              offsets[r] = total;
              total += counts[r];
            }
          all.resize(total);
        }
      MPI_Gatherv(local.data(),
                  count,
                  type,
                  all.data(),
                  counts.data(),
                  offsets.data(),
                  type,
                  0,
                  communicator);
      return all;
    }
  } // namespace reference_detail

  /// The solver's side: collective calls at every output time, then finish().
  template <int dim>
  class ReferenceOutput
  {
  public:
    ReferenceOutput(const FiniteElementCase                        &p,
                    const std::string                              &data_description,
                    const dealii::parallel::TriangulationBase<dim> &triangulation)
        : triangulation(triangulation)
        , communicator(triangulation.get_communicator())
    {
      AssertThrow(!triangulation.has_hanging_nodes(),
                  dealii::ExcMessage("Reference files need a mesh without hanging nodes "
                                     "(scorefp refines globally)."));
      if (dealii::Utilities::MPI::this_mpi_process(communicator) == 0)
        writer = std::make_unique<ReferenceFileWriter>(reference_file_path(p),
                                                       reference_metadata(p, data_description),
                                                       p.output.reference_grid_points,
                                                       p.output.reference_grid_lower,
                                                       p.output.reference_grid_upper);
    }

    /// Collective. q: q_h on density_dofs (FE_Q), with ghost entries; s: s_xi on
    /// score_dofs (FESystem(FE_Q, d)), with ghost entries, or null for density runs.
    template <typename VectorType>
    void add_snapshot(const double                   t,
                      const double                   c,
                      const dealii::DoFHandler<dim> &density_dofs,
                      const VectorType              &q,
                      const dealii::DoFHandler<dim> *score_dofs,
                      const VectorType              *s)
    {
      using namespace dealii;
      const unsigned int n_density = density_dofs.get_fe().n_dofs_per_cell();
      const unsigned int n_score   = score_dofs ? score_dofs->get_fe().n_dofs_per_cell() : 0;
      Vector<double>     local_density(n_density), local_score(n_score);
      write_cells(t,
                  c,
                  [&](const typename Triangulation<dim>::active_cell_iterator &cell,
                      std::vector<double>                                     &density,
                      std::vector<double>                                     &score) {
                    const typename DoFHandler<dim>::active_cell_iterator density_cell(
                        &triangulation, cell->level(), cell->index(), &density_dofs);
                    density_cell->get_dof_values(q, local_density);
                    density.insert(density.end(), local_density.begin(), local_density.end());
                    if (score_dofs == nullptr)
                      return;
                    const typename DoFHandler<dim>::active_cell_iterator score_cell(
                        &triangulation, cell->level(), cell->index(), score_dofs);
                    score_cell->get_dof_values(*s, local_score);
                    // Component-major: [component][FE_Q local index].
                    const auto  &fe    = score_dofs->get_fe();
                    const size_t start = score.size();
                    score.resize(start + n_score);
                    for (unsigned int i = 0; i < n_score; ++i)
                      {
                        const auto [component, index] = fe.system_to_component_index(i);
                        score[start + component * n_density + index] = local_score[i];
                      }
                  });
    }

    /// Collective. A density q_h on any scalar element whose cell-local space is Q_p
    /// of the file's degree (FE_DGQ: the reverse-time laws), with ghost entries: its
    /// values at FE_Q(p)'s unit support points, in FE_Q's local order, which is how the
    /// file stores a cell. The cell polynomial is the same, so a discontinuous field is
    /// stored exactly, cell by cell (the reader evaluates each cell on its own).
    template <typename VectorType>
    void add_density_snapshot(const double                   t,
                              const double                   c,
                              const dealii::DoFHandler<dim> &dofs,
                              const VectorType              &q)
    {
      using namespace dealii;
      const FE_Q<dim>             file_element(dofs.get_fe().degree);
      const Quadrature<dim>       support_points(file_element.get_unit_support_points());
      const MappingQ1<dim>        mapping; // values only: the map does not enter
      FEValues<dim>               values(mapping, dofs.get_fe(), support_points, update_values);
      std::vector<double>         local(support_points.size());
      write_cells(t,
                  c,
                  [&](const typename Triangulation<dim>::active_cell_iterator &cell,
                      std::vector<double>                                     &density,
                      std::vector<double> &) {
                    const typename DoFHandler<dim>::active_cell_iterator dof_cell(
                        &triangulation, cell->level(), cell->index(), &dofs);
                    values.reinit(dof_cell);
                    values.get_function_values(q, local);
                    density.insert(density.end(), local.begin(), local.end());
                  });
    }

    /// Collective: rank 0 closes the file under its final name.
    void finish()
    {
      if (writer)
        writer->finish();
      MPI_Barrier(communicator);
    }

  private:
    /// Gather every rank's owned cells (their values from fill(cell, density, score),
    /// appended) on rank 0, in CellId order, and add them as the snapshot at t.
    template <typename Fill>
    void write_cells(const double t, const double c, const Fill &fill)
    {
      std::vector<unsigned int> ids;
      std::vector<double>       vertices, density, score;
      for (const auto &cell : triangulation.active_cell_iterators())
        if (cell->is_locally_owned())
          {
            if (!mesh_written)
              {
                const auto binary = cell->id().template to_binary<dim>();
                ids.insert(ids.end(), binary.begin(), binary.end());
                for (const unsigned int v : cell->vertex_indices())
                  for (unsigned int j = 0; j < dim; ++j)
                    vertices.push_back(cell->vertex(v)[j]);
              }
            fill(cell, density, score);
          }
      using reference_detail::gather_to_root;
      if (!mesh_written)
        {
          const auto all_ids      = gather_to_root(ids, MPI_UNSIGNED, communicator);
          const auto all_vertices = gather_to_root(vertices, MPI_DOUBLE, communicator);
          if (writer)
            order = writer->set_mesh(all_ids, all_vertices);
          mesh_written = true;
        }
      const auto all_density = gather_to_root(density, MPI_DOUBLE, communicator);
      const auto all_score   = gather_to_root(score, MPI_DOUBLE, communicator);
      if (writer)
        {
          const auto sorted = [this](const std::vector<double> &values) {
            const size_t        n_cells = order.size();
            const size_t        block   = n_cells == 0 ? 0 : values.size() / n_cells;
            std::vector<double> out(values.size());
            for (size_t k = 0; k < n_cells; ++k)
              std::copy_n(values.begin() + order[k] * block, block, out.begin() + k * block);
            return out;
          };
          writer->add_snapshot(t, c, sorted(all_density), sorted(all_score));
        }
    }

    const dealii::parallel::TriangulationBase<dim> &triangulation;
    const MPI_Comm                                  communicator;
    std::unique_ptr<ReferenceFileWriter>            writer; // rank 0 only
    bool                                            mesh_written = false;
    std::vector<unsigned int>                       order;
  };
} // namespace scorefp
