// The sample checker (MATH.md section 7): samples that someone's sampler produced,
// tested against a reference law (the closed form, or a reference file's snapshot)
// with statistics whose null distribution is drawn from the reference itself.
#pragma once

#include <mpi.h>

namespace dealii
{
  class TimerOutput;
}

#include <string>
#include <vector>

namespace scorefp
{
  struct Parameters;

  /// One statistic of a check: its value on the samples, its calibrated p-value (from
  /// the null draws) and, where a classical one exists, the asymptotic p-value.
  struct CheckStatistic
  {
    std::string name;
    double      value              = 0.0;
    double      p_value            = 1.0;
    double      asymptotic_p_value = -1.0; // < 0: none
    double      null_median        = 0.0;
    double      null_95            = 0.0;
    bool        pass               = true;
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
    std::vector<CheckStatistic> statistics;
    /// Every statistic passes at level alpha / K (Bonferroni over the K statistics).
    bool pass = true;
  };

  /// Check the samples of p.checker against the reference at their time. Collective:
  /// the null draws are shared out among the ranks by draw number, so the result does
  /// not depend on the number of ranks.
  /// The timer (may be null) gets the sections "read samples", "reference",
  /// "observed statistics" and "null draws".
  CheckResult check_samples(const Parameters    &p,
                            const MPI_Comm       communicator,
                            dealii::TimerOutput *timer = nullptr);

  /// Task = check: check_samples, print the summary, write check.json. Returns true
  /// when the samples pass.
  bool run_check_task(const Parameters &p, const MPI_Comm communicator);
} // namespace scorefp
