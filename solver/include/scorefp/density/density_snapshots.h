// What a score run keeps of a density solve on its own mesh: the density and its time
// derivative at each output time, to compare grad p_h / p_h with the score.
#pragma once

#include <scorefp/density/density_solver.h>
#include <scorefp/fe/linear_algebra.h>

#include <deal.II/distributed/tria_base.h>
#include <deal.II/dofs/dof_handler.h>

#include <memory>
#include <vector>

namespace scorefp
{
  template <int dim, typename Backend>
  struct DensitySnapshots
  {
    std::shared_ptr<const dealii::DoFHandler<dim>> dof_handler;
    std::vector<double>                            times;
    /// In mesh coordinates (q = c^d p), with ghost entries: q_h and dq_h/dt.
    std::vector<typename Backend::Vector> densities, derivatives;
  };

  /// solve_density() on a mesh the caller owns (refined already), keeping snapshots.
  template <int dim, typename Backend>
  DensityRunResult solve_density_on(const FiniteElementCase                        &parameters,
                                    const dealii::parallel::TriangulationBase<dim> &mesh,
                                    const unsigned int              refinement_level,
                                    const std::string              &output_directory,
                                    const bool                      write_files,
                                    DensitySnapshots<dim, Backend> &snapshots);
} // namespace scorefp
