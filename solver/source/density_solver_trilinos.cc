// Explicit instantiation of the density solver for the TrilinosBackend.
#include "density_solver.templates.h"

namespace scorefp
{
  template DensityRunResult solve_density<1, TrilinosBackend>(
      const Parameters &, const unsigned int, const std::string &, const bool, const MPI_Comm);
  template DensityRunResult solve_density<2, TrilinosBackend>(
      const Parameters &, const unsigned int, const std::string &, const bool, const MPI_Comm);
  template DensityRunResult solve_density<3, TrilinosBackend>(
      const Parameters &, const unsigned int, const std::string &, const bool, const MPI_Comm);
} // namespace scorefp
