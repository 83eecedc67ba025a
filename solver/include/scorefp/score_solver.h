// The score Fokker-Planck equation for s = grad log p, in the elliptic curl-free form
//   ds/dt = g^2/2 Laplace s + (grad s)(g^2 s + a x) + a s,
// and the log-density equation for u = log p,
//   du/dt = g^2/2 (Laplace u + |grad u|^2) + a x . grad u + a d
// (MATH.md section 2), by continuous elements, DIRK steps and Newton's method, with
// Dirichlet data from the exact law or its moment-matched Gaussian. This header is all
// the rest of scorefp sees of it.
#pragma once

#include <scorefp/diagnostics.h>
#include <scorefp/parameters.h>

#include <mpi.h>

#include <string>

namespace scorefp
{
  /// Solve the equation p.equation ("score" or "log-density") on refinement level
  /// `refinement_level`, writing files under output_directory (none if write_files is
  /// false). With p.score.companion_density the density FPE is solved first on the same
  /// mesh, and grad p_h / p_h is compared with the score. Collective over communicator.
  /// Throws InputError / SolverFailure.
  template <int dim, typename Backend>
  ScoreRunResult solve_score(const Parameters  &p,
                             const unsigned int refinement_level,
                             const std::string &output_directory,
                             const bool         write_files,
                             const MPI_Comm     communicator);
} // namespace scorefp
