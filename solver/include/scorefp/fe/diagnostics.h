// What a run measures and reports: error norms against the exact density, mass,
// and the record of one run that the output module turns into files.
#pragma once

#include <scorefp/fe/fe_parameters.h>

#include <limits>
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

  /// Errors of the mean and covariance of p_h (normalised by its mass) against the
  /// forward moments m E X_0 and m^2 Cov X_0 + v I, which every data set has in closed
  /// form: max |mean_h - mean| / sigma and max |C_h - C| / sigma^2 over the entries,
  /// sigma^2 = tr C / d.
  struct MomentErrors
  {
    double mean = 0.0, covariance = 0.0;
    void   take_maximum(const MomentErrors &other);
  };

  struct DensityDiagnostics
  {
    double       mass       = 0.0; // integral of p_h over the domain
    double       exact_mass = 0.0;
    ErrorNorms   errors;
    MomentErrors moments;
  };

  /// What every run reports about itself: the case, the discretisation, the cost.
  struct RunRecord
  {
    unsigned int       dimension = 0, n_ranks = 0, refinement_level = 0, degree = 0;
    unsigned long long n_dofs = 0, n_cells = 0;
    double             start_time = 0.0, final_time = 0.0;
    std::string        backend, process, data, time_method;
    bool               scaled_coordinates = false;
    unsigned int       n_steps = 0, n_rejected_steps = 0;
    unsigned long long linear_iterations = 0;
    double             wall_seconds      = 0.0;
  };

  /// Everything a density run reports (summary.json, convergence tables, tests).
  struct DensityRunResult : RunRecord
  {
    double       initial_mass = 0.0, final_mass = 0.0;
    /// False when the data set has no closed-form law at the output times (circles2):
    /// the errors are NaN and only the moments and mass are checks.
    bool         has_errors = true;
    ErrorNorms   final_errors, max_errors; // max over output times
    MomentErrors final_moment_errors, max_moment_errors;
    std::vector<MomentErrors> output_moment_errors;
    unsigned int n_preconditioner_builds = 0;
    /// Output times with the solution's errors there.
    std::vector<double>     output_times;
    std::vector<ErrorNorms> output_errors;
    std::vector<double>     output_masses;
    /// Point values at the output times (points file), [time][point]; original coordinates.
    std::vector<std::vector<double>> point_values, exact_point_values;
  };
} // namespace scorefp

namespace scorefp
{
  /// Errors of a computed score s_h against the exact score s, in the original
  /// coordinates: relative L2 errors over the domain, over the highest-density region
  /// holding `Score/Bulk mass` of the probability, over the tail where
  /// p < `Score/Tail threshold` max p; and the Fisher divergence int p |s_h - s|^2.
  struct ScoreErrors
  {
    double l2 = 0.0, l2_bulk = 0.0, l2_tail = 0.0, fisher = 0.0;
    void   take_maximum(const ScoreErrors &other);
  };

  /// Fokker-Planck residuals of a score field (MATH.md section 3), as p-weighted L2
  /// norms sqrt(int p |r|^2) in the original coordinates; NaN where the field's
  /// representation does not give them (see the README).
  struct ResidualNorms
  {
    double score_form = std::numeric_limits<double>::quiet_NaN();
    double log_form   = std::numeric_limits<double>::quiet_NaN();
  };

  /// The residuals of the fields scorefp compares at one output time.
  struct ResidualReport
  {
    double        time = 0.0;
    ResidualNorms computed, exact, perturbed, density_quotient;
  };

  /// The tail problem quantified at one output time: RMS score errors in shells of |x|
  /// for the score FPE solution s_h and for grad p_h / p_h from the density solver.
  struct TailShell
  {
    double       radius_min = 0.0, radius_max = 0.0;
    double       exact_density_max = 0.0; // max of p over the shell's quadrature points
    double       rms_score_error = 0.0, rms_quotient_error = 0.0, rms_difference = 0.0;
    unsigned int n_quotient_undefined = 0; // points where p_h <= 0
  };

  struct ScoreRunResult : RunRecord
  {
    Equation           equation = Equation::score; // score or log_density
    std::string        boundary_condition;
    unsigned long long newton_iterations = 0;
    unsigned int       n_jacobians       = 0;

    /// False when the data set has no closed-form law at the output times (circles2):
    /// the errors are NaN and the companion density is the check.
    bool        has_errors = true;
    ScoreErrors final_errors, max_errors;
    /// Log-density form only: p_h = e^u / Z against the exact density, and Z.
    ErrorNorms final_density_errors, max_density_errors;
    double     normalisation = std::numeric_limits<double>::quiet_NaN();

    std::vector<double>      output_times;
    std::vector<ScoreErrors> output_errors;
    /// With a companion density solve: errors of grad p_h / p_h at the output times.
    std::vector<ScoreErrors>            quotient_errors;
    /// With a companion density: the p_h-weighted relative L2 difference between the
    /// score s_h and grad p_h / p_h at the output times, the agreement of the score and
    /// density equations (the check of data without a closed-form law).
    std::vector<double>                 score_density_differences;
    std::vector<ResidualReport>         residuals;
    std::vector<std::vector<TailShell>> tail_shells; // per output time (companion runs)
  };
} // namespace scorefp
