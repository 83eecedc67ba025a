// Explicit instantiation of the density solver for the TrilinosBackend.
#include "density_solver.templates.h"

#define SCOREFP_INSTANTIATE(dim)                                                                \
  template DensityRunResult solve_density<dim, TrilinosBackend>(                                \
      const Parameters &, const unsigned int, const std::string &, const bool, const MPI_Comm); \
  template DensityRunResult solve_density_on<dim, TrilinosBackend>(                             \
      const Parameters &,                                                                       \
      const dealii::parallel::TriangulationBase<dim> &,                                         \
      const unsigned int,                                                                       \
      const std::string &,                                                                      \
      const bool,                                                                               \
      DensitySnapshots<dim, TrilinosBackend> &);

namespace scorefp
{
  SCOREFP_INSTANTIATE(1)
  SCOREFP_INSTANTIATE(2)
  SCOREFP_INSTANTIATE(3)
} // namespace scorefp
