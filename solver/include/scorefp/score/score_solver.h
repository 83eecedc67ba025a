// The score Fokker-Planck equation for s = grad log p, in the elliptic curl-free form
//   ds/dt = g^2/2 Laplace s + (grad s)(g^2 s + a x) + a s,
// and the log-density equation for u = log p,
//   du/dt = g^2/2 (Laplace u + |grad u|^2) + a x . grad u + a d
// (MATH.md section 2), by continuous elements, DIRK steps and Newton's method on the
// finite-element skeleton (fe/finite_element_run.h), with Dirichlet data from the exact
// law or its moment-matched Gaussian. This header is all the rest of scorefp sees of it.
#pragma once

#include <scorefp/fe/diagnostics.h>
#include <scorefp/fe/finite_element_case.h>
#include <scorefp/fe/finite_element_run.h>
#include <scorefp/score/score_parameters.h>

#include <mpi.h>

#include <string>

namespace scorefp
{
  /// Solve the equation parameters.equation (score or log-density) on refinement level
  /// `refinement_level`, writing files under output_directory (none if write_files is
  /// false). With score.companion_density, or with a reference writer (whose density is
  /// the companion's), the density FPE is solved first on the same mesh, and
  /// grad p_h / p_h is compared with the score. Collective over communicator.
  /// Throws InputError / SolverFailure.
  template <int dim, typename Backend>
  ScoreRunResult
  solve_score(const FiniteElementCase                                    &parameters,
              const ScoreParameters                                      &score,
              const unsigned int                                          refinement_level,
              const std::string                                          &output_directory,
              const bool                                                  write_files,
              const MPI_Comm                                              communicator,
              const SolutionWriterFactory<dim, typename Backend::Vector> &reference = {});
} // namespace scorefp
