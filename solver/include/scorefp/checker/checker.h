// The sample checker (MATH.md section 7): samples that someone's sampler produced,
// tested against a reference law (the closed form, or a reference file's snapshot)
// with statistics whose null distribution is drawn from the reference itself.
#pragma once

#include <scorefp/checker/checker_parameters.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/mesh/mesh_parameters.h>
#include <scorefp/process/forward_process.h>

#include <mpi.h>

namespace dealii
{
  class TimerOutput;
}

#include <string>
#include <vector>

namespace scorefp
{
  /// What a check reads of a case: the closed-form law comes from the process, the
  /// initial data and the mesh (finest level); the checker's own section says which
  /// samples, which reference and which statistics.
  struct CheckCase
  {
    const ProcessParameters &process;
    const DataParameters    &data;
    const MeshParameters    &mesh;
    const CheckerParameters &checker;
    unsigned int             dimension;
    /// The finite-element degree: the cloud has degree + 2 points per cell direction
    /// unless Checker/Cloud points says otherwise.
    unsigned int polynomial_degree;
    /// The closed-form cloud lives on the mesh stretched by c(t).
    bool scaled_coordinates;
    /// Seconds of wall time between progress lines of the null draws on rank 0;
    /// negative: no progress lines.
    double progress_interval = -1.0;
    /// Output/Directory: the closed form's null cache defaults to <this>/null-cache.
    std::string output_directory = "output";
  };

  /// One statistic of a check: its value on the samples, its calibrated p-value (from
  /// the null draws) and, where a classical one exists, the asymptotic p-value.
  struct CheckStatistic
  {
    std::string name;
    double      value              = 0.0;
    double      p_value            = 1.0;
    double      asymptotic_p_value = -1.0; // < 0: none
    double      null_median        = 0.0;
    double      null_95            = 0.0; // NaN for an asymptotic p-value
    bool        pass               = true;
    /// The null law of p_value: "asymptotic", "cached", "computed and cached" or
    /// "monte carlo" (drawn now: Null method = monte carlo, or a cache not writable).
    std::string null = "monte carlo";
  };

  struct CheckResult
  {
    std::string                 samples_file, reference;
    double                      time       = 0.0;
    unsigned long long          n_samples  = 0;
    unsigned int                dimension  = 0;
    unsigned int                null_draws = 0;
    double                      level      = 0.05;
    unsigned long long          n_outside  = 0;
    /// Null sample sets this check drew from the reference (0 when every p-value came
    /// from an asymptotic law or the cache, or no statistic needs sample sets).
    unsigned long long          null_sets_drawn = 0;
    std::vector<CheckStatistic> statistics;
    /// Every statistic passes at level alpha / K (Bonferroni over the K statistics).
    bool pass = true;
  };

  /// Check the samples of the case's checker section against the reference at their
  /// time with the statistics of Checker/Statistics that apply in the dimension, in
  /// the order of that list (which is the order of the report; the Bonferroni count K
  /// is their number). Collective: the null draws are shared out among the ranks by
  /// draw number, so the result does not depend on the number of ranks.
  /// Checker/Null method = auto takes asymptotic p-values where a statistic has one
  /// and reads the others' null values from the null cache (rank 0 reads and
  /// broadcasts, and writes what was computed); no sample set is drawn when no
  /// statistic needs new null values.
  /// The timer (may be null) gets the sections "read samples", "reference",
  /// "observed statistics", "null cache", "null draws" (only when it draws) and
  /// "p-values" (where the asymptotic laws are built).
  CheckResult check_samples(const CheckCase     &check_case,
                            const MPI_Comm       communicator,
                            dealii::TimerOutput *timer = nullptr);
} // namespace scorefp
