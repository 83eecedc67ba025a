// Explicit instantiation of the density solver for the PETScBackend.
#include "density_solver.templates.h"

namespace scorefp
{
  template DensityRunResult solve_density<1, PETScBackend>(
      const Parameters &, const unsigned int, const std::string &, const bool, const MPI_Comm);
  template DensityRunResult solve_density<2, PETScBackend>(
      const Parameters &, const unsigned int, const std::string &, const bool, const MPI_Comm);
  template DensityRunResult solve_density<3, PETScBackend>(
      const Parameters &, const unsigned int, const std::string &, const bool, const MPI_Comm);
} // namespace scorefp
