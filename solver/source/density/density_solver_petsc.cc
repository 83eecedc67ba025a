// Explicit instantiation of the density solver for the PETScBackend.
#include "density/density_solver.templates.h"

#define SCOREFP_INSTANTIATE(dim)                                                        \
  template DensityRunResult solve_density<dim, PETScBackend>(                          \
      const FiniteElementCase &,                                                        \
      const unsigned int,                                                               \
      const std::string &,                                                              \
      const bool,                                                                       \
      const MPI_Comm,                                                                   \
      const SolutionWriterFactory<dim, typename PETScBackend::Vector> &);               \
  template DensityRunResult solve_density_on<dim, PETScBackend>(                       \
      const FiniteElementCase &,                                                        \
      const dealii::parallel::TriangulationBase<dim> &,                                 \
      const unsigned int,                                                               \
      const std::string &,                                                              \
      const bool,                                                                       \
      DensitySnapshots<dim, PETScBackend> &);

namespace scorefp
{
  SCOREFP_INSTANTIATE(1)
  SCOREFP_INSTANTIATE(2)
  SCOREFP_INSTANTIATE(3)
} // namespace scorefp
