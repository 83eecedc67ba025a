// The density Fokker-Planck equation dp/dt = div(a x p) + g^2/2 Laplace p (MATH.md
// section 2), by continuous Q_p finite elements and diagonally implicit Runge-Kutta
// steps on the finite-element skeleton (fe/finite_element_run.h). This header is all
// the rest of scorefp sees of it.
#pragma once

#include <scorefp/fe/diagnostics.h>
#include <scorefp/fe/finite_element_case.h>
#include <scorefp/fe/finite_element_run.h>

#include <mpi.h>

#include <string>

namespace scorefp
{
  /// Solve the density FPE of the case on refinement level `refinement_level`, writing
  /// files under output_directory (none if write_files is false) and, if `reference` is
  /// given, a reference file through the writer it makes. Collective over communicator.
  /// Throws InputError / SolverFailure.
  template <int dim, typename Backend>
  DensityRunResult
  solve_density(const FiniteElementCase                                            &parameters,
                const unsigned int                                                  refinement_level,
                const std::string                                                  &output_directory,
                const bool                                                          write_files,
                const MPI_Comm                                                      communicator,
                const SolutionWriterFactory<dim, typename Backend::Vector> &reference = {});
} // namespace scorefp
