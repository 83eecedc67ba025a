// A case from start to finish: the dimension and backend named in the parameters
// choose the solver instantiation; a list of refinement levels becomes a convergence
// study; the run's record goes to summary.json.
#pragma once

#include <scorefp/fe/diagnostics.h>
#include <scorefp/tasks/parameters.h>

#include <mpi.h>

#include <vector>

namespace dealii
{
  class ParameterHandler;
}

namespace scorefp
{
  /// Dispatch one density solve on the dimension and backend of p.
  DensityRunResult solve_density_case(const Parameters  &p,
                                      const unsigned int refinement_level,
                                      const std::string &output_directory,
                                      const bool         write_files,
                                      const MPI_Comm     communicator);

  /// Dispatch one score or log-density solve on the dimension and backend of p.
  ScoreRunResult solve_score_case(const Parameters  &p,
                                  const unsigned int refinement_level,
                                  const std::string &output_directory,
                                  const bool         write_files,
                                  const MPI_Comm     communicator);

  /// Observed rates log2(e_{k-1} / e_k) between successive levels (one per level;
  /// the first is NaN). Each level halves the mesh size.
  std::vector<double> observed_rates(const std::vector<double>       &errors,
                                     const std::vector<unsigned int> &levels);

  /// Task = solve: run every refinement level of p (the equation it names), echo the
  /// parameters into the output directory, print the convergence table, write
  /// summary.json. The other tasks go to the sampler and the checker. Collective.
  /// Returns the exit status: 0, or 4 when a check fails.
  int
  run_case(const Parameters &p, const dealii::ParameterHandler &prm, const MPI_Comm communicator);
} // namespace scorefp
