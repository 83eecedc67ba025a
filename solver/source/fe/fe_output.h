// Pieces of finite-element output and checking that the density and the score solvers
// share: VTU time series in the original coordinates, and the probability the exact
// law puts inside the mesh.
#pragma once

#include <scorefp/fe/diagnostics.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/core/input_error.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/time_integration/time_loop.h>
#include <scorefp/time_integration/time_stepping.h>

#include <deal.II/base/function.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/quadrature.h>
#include <deal.II/distributed/tria_base.h>
#include <deal.II/dofs/dof_handler.h>
#include <deal.II/fe/fe_nothing.h>
#include <deal.II/fe/fe_values.h>
#include <deal.II/fe/mapping.h>
#include <deal.II/numerics/data_out.h>

#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace scorefp
{
  /// DataOut whose patches are stretched from mesh coordinates xi to x = c xi, so that
  /// ParaView shows scaled-coordinate runs in the original coordinates.
  template <int dim>
  class ScaledDataOut : public dealii::DataOut<dim>
  {
  public:
    void scale_coordinates(const double c)
    {
      for (auto &patch : this->patches)
        for (auto &vertex : patch.vertices)
          vertex *= c;
      for (auto &patch : this->patches)
        if (patch.points_are_available)
          for (unsigned int i = 0; i < dim; ++i)
            for (unsigned int k = 0; k < patch.data.n_cols(); ++k)
              patch.data(patch.data.n_rows() - dim + i, k) *= c;
    }

    /// Add the subdomain field, build patches of the given degree (curved cells
    /// unless the geometry is a box), stretch by c, and write the .vtu pieces and the
    /// .pvtu record of output `index`; solution.pvd is rewritten on rank 0 at every
    /// output so that ParaView can follow a running case.
    void write_time_step(const dealii::parallel::TriangulationBase<dim> &triangulation,
                         const dealii::Mapping<dim>                     &mapping,
                         const bool                                      curved,
                         const unsigned int                              degree,
                         const double                                    c,
                         const double                                    t,
                         const std::string                              &directory,
                         const unsigned int                              index,
                         std::vector<std::pair<double, std::string>>    &pvd_records)
    {
      using namespace dealii;
      Vector<float> subdomain(triangulation.n_active_cells());
      subdomain = static_cast<float>(triangulation.locally_owned_subdomain());
      this->add_data_vector(subdomain, "subdomain");
      DataOutBase::VtkFlags flags;
      flags.time                     = t;
      flags.write_higher_order_cells = dim > 1;
      flags.compression_level        = DataOutBase::VtkFlags::best_speed;
      this->set_flags(flags);
      if (curved)
        this->build_patches(mapping, degree, DataOut<dim>::curved_inner_cells);
      else
        this->build_patches(degree);
      if (c != 1.0)
        scale_coordinates(c);
      const MPI_Comm    communicator = triangulation.get_communicator();
      const std::string name =
          this->write_vtu_with_pvtu_record(directory + "/", "solution", index, communicator, 4);
      pvd_records.emplace_back(t, name);
      if (Utilities::MPI::this_mpi_process(communicator) == 0)
        {
          std::ofstream pvd(directory + "/solution.pvd");
          DataOutBase::write_pvd_record(pvd, pvd_records);
        }
    }
  };

  /// The integral of a density over the locally owned cells, summed over ranks.
  template <int dim>
  double integrate_over_mesh(const dealii::parallel::TriangulationBase<dim> &triangulation,
                             const dealii::Mapping<dim>                     &mapping,
                             const dealii::Quadrature<dim>                  &quadrature,
                             const dealii::Function<dim>                    &density)
  {
    using namespace dealii;
    static const FE_Nothing<dim> no_element; // FEValues needs an element; none is used
    FEValues<dim>                fe_values(
        mapping, no_element, quadrature, update_quadrature_points | update_JxW_values);
    std::vector<double> values(quadrature.size());
    double              integral = 0;
    for (const auto &cell : triangulation.active_cell_iterators())
      if (cell->is_locally_owned())
        {
          fe_values.reinit(cell);
          density.value_list(fe_values.get_quadrature_points(), values);
          for (unsigned int q = 0; q < quadrature.size(); ++q)
            integral += values[q] * fe_values.JxW(q);
        }
    return Utilities::MPI::sum(integral, triangulation.get_communicator());
  }

  /// Throws InputError unless the exact law puts at least `minimum` of its mass
  /// inside the mesh (a wall through the data is a wrong problem, not a
  /// discretisation error).
  inline void
  check_mass_in_domain(const double mass, const double minimum, const double t, const bool scaled)
  {
    if (mass >= minimum)
      return;
    std::ostringstream s;
    s << "The domain holds only " << std::setprecision(6) << mass
      << " of the probability at t = " << t << "; expected at least " << minimum
      << " (Mesh/Minimum mass in domain): enlarge the domain in the Mesh section"
      << (scaled ? " (given in scaled coordinates xi = x / c(t))." : ".");
    throw InputError(s.str());
  }

  /// The part of a run's record that says what was solved and how.
  template <int dim>
  void describe_run(RunRecord                     &record,
                    const dealii::DoFHandler<dim> &dof_handler,
                    const unsigned int             refinement_level,
                    const ForwardProcess          &process,
                    const DataDistribution        &data,
                    const DirkTableau             &tableau,
                    const CoordinateScaling       &scaling,
                    const std::string             &backend)
  {
    const auto &triangulation = dof_handler.get_triangulation();
    record.dimension          = dim;
    record.n_ranks = dealii::Utilities::MPI::n_mpi_processes(triangulation.get_communicator());
    record.refinement_level   = refinement_level;
    record.degree             = dof_handler.get_fe().degree;
    record.n_dofs             = dof_handler.n_dofs();
    record.n_cells            = triangulation.n_global_active_cells();
    record.start_time         = process.start_time;
    record.final_time         = process.final_time;
    record.backend            = backend;
    record.process            = process.name();
    record.data               = data.description();
    record.time_method        = tableau.name;
    record.scaled_coordinates = scaling.enabled();
  }

  /// The part of a run's record that says what the time loop cost.
  inline void record_counters(RunRecord &record, const TimeLoopCounters &counters)
  {
    record.n_steps           = counters.n_steps;
    record.n_rejected_steps  = counters.n_rejected_steps;
    record.linear_iterations = counters.linear_iterations;
  }
} // namespace scorefp
