// What a run measures and reports: error norms against the exact density, mass,
// and the record of one run that the output module turns into files.
#pragma once

#include <string>
#include <vector>

namespace scorefp
{
  /// Relative errors ||p_h - p||_X / ||p||_X for X = L1, L2, Linf.
  struct ErrorNorms
  {
    double l1 = 0.0, l2 = 0.0, linf = 0.0;
    void   take_maximum(const ErrorNorms &other);
  };

  struct DensityDiagnostics
  {
    double     mass       = 0.0; // integral of p_h over the domain
    double     exact_mass = 0.0;
    ErrorNorms errors;
  };

  /// Everything a density run reports (summary.json, convergence tables, tests).
  struct DensityRunResult
  {
    unsigned int       dimension = 0, n_ranks = 0, refinement_level = 0, degree = 0;
    unsigned long long n_dofs = 0, n_cells = 0;
    double             start_time = 0.0, final_time = 0.0;
    double             initial_mass = 0.0, final_mass = 0.0;
    ErrorNorms         final_errors, max_errors; // max over output times
    unsigned int       n_steps = 0, n_rejected_steps = 0;
    unsigned long long linear_iterations       = 0;
    unsigned int       n_preconditioner_builds = 0;
    double             wall_seconds            = 0.0;
    std::string        backend, process, data, time_method;
    bool               scaled_coordinates = false;
    /// Output times with the solution's errors there.
    std::vector<double>     output_times;
    std::vector<ErrorNorms> output_errors;
    std::vector<double>     output_masses;
    /// Point values at the output times (points file), [time][point]; original coordinates.
    std::vector<std::vector<double>> point_values, exact_point_values;
  };
} // namespace scorefp
