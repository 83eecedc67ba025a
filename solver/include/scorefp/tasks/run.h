// A case from start to finish: run_case hands it to the task it names (TaskRegistry);
// the finite-element solves dispatch on the dimension and backend named in the
// parameters, the one place where run-time choices meet template instances.
#pragma once

#include <scorefp/checker/checker.h>
#include <scorefp/fe/diagnostics.h>
#include <scorefp/reverse/reverse_law.h>
#include <scorefp/tasks/parameters.h>

#include <mpi.h>

#include <memory>
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

  /// What Task = reverse law builds from a case before solving: the process, the data,
  /// the score model of section Sampler, the start law and the inputs that refer to
  /// them. Throws InputError for bad input (a model or start file that does not fit).
  struct ReverseLawCase
  {
    ReverseLawCase();
    ~ReverseLawCase();
    std::unique_ptr<ForwardProcess>   process;
    std::unique_ptr<DataDistribution> data;
    std::unique_ptr<ScoreModel>       score;
    std::unique_ptr<DensityField>     start; // null: the prior
    ReverseLawInputs                  inputs;
  };
  std::unique_ptr<ReverseLawCase> make_reverse_law_case(const Parameters &p);

  /// The error of the induced laws at eps split into its sources (Reverse law/Error
  /// split): each row is one solve of every law of the case on its finest mesh, with the
  /// exact or the given score and the exact p_T or the prior; distances to p_eps.
  struct ErrorSplitRow
  {
    std::string               source; // "floor", "initialisation", "score", "total"
    std::string               score, start;
    std::vector<LawDistances> laws; // in the order of the case's laws
  };
  struct ErrorSplit
  {
    unsigned int               refinement_level = 0;
    std::vector<ReverseLaw>    laws;
    std::vector<ErrorSplitRow> rows;
    /// Truncation: p = p_0 (the data), q = p_eps, by Gauss quadrature on the mesh.
    LawDistances truncation;
  };
  ErrorSplit reverse_law_error_split(const Parameters     &p,
                                     const ReverseLawCase &setup,
                                     const MPI_Comm        communicator);

  /// A particle sampler (section Sampler) checked against the induced law of its own
  /// score and against p_eps (Reverse law/Check sampler): the discretisation row of the
  /// error split. A scheme that passes against its law but fails against p_eps is
  /// accurate in time and wrong because of its score; one that fails against its law
  /// takes too few steps.
  struct SamplerCheck
  {
    std::string        scheme;
    unsigned int       n_steps     = 0;
    unsigned long long n_particles = 0;
    ReverseLaw         law         = ReverseLaw::sde; // the ODE law for probability-flow schemes
    std::string        samples_file, law_file;
    CheckResult        against_law, against_p_eps;
  };
  /// Run the sampler of section Sampler with the case's score and start, write its
  /// particles to directory/sampler-samples.npy, and check them with the statistics of
  /// section Checker against law_file (the reference file of the induced law the scheme
  /// follows) and against the closed-form p_eps. Collective.
  SamplerCheck check_sampler_against_law(const Parameters     &p,
                                         const ReverseLawCase &setup,
                                         const std::string    &law_file,
                                         const std::string    &directory,
                                         const MPI_Comm        communicator);

  /// Dispatch the reverse-time laws of `inputs` on the dimension and backend of p.
  std::vector<ReverseLawRunResult> solve_reverse_law_case(const Parameters       &p,
                                                          const ReverseLawInputs &inputs,
                                                          const unsigned int      refinement_level,
                                                          const std::string      &output_directory,
                                                          const bool              write_files,
                                                          const MPI_Comm          communicator);

  /// Observed rates log2(e_{k-1} / e_k) between successive levels (one per level;
  /// the first is NaN). Each level halves the mesh size.
  std::vector<double> observed_rates(const std::vector<double>       &errors,
                                     const std::vector<unsigned int> &levels);

  /// Run the task p names (tasks/*_task.cc). Collective. Returns the exit status: 0,
  /// or 4 when a check fails.
  int
  run_case(const Parameters &p, const dealii::ParameterHandler &prm, const MPI_Comm communicator);
} // namespace scorefp
