// The density Fokker-Planck equation dp/dt = div(a x p) + g^2/2 Laplace p (MATH.md
// section 2), by continuous Q_p finite elements and diagonally implicit Runge-Kutta
// steps. This header is all the rest of scorefp sees of it.
#pragma once

#include <scorefp/diagnostics.h>
#include <scorefp/parameters.h>

#include <mpi.h>

#include <string>

namespace scorefp
{
  /// Solve the density FPE described by p on refinement level `refinement_level`,
  /// writing files under output_directory (none if write_files is false).
  /// Collective over communicator. Throws InputError / SolverFailure.
  template <int dim, typename Backend>
  DensityRunResult solve_density(const Parameters  &p,
                                 const unsigned int refinement_level,
                                 const std::string &output_directory,
                                 const bool         write_files,
                                 const MPI_Comm     communicator);
} // namespace scorefp
