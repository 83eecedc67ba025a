// The score Fokker-Planck equation and the log-density equation (MATH.md section 2):
// their boundary data, Newton's method and the post-processing (section Score).
#pragma once

#include <string>

namespace scorefp
{
  class ParameterBinder;

  struct ScoreParameters
  {
    enum class BoundaryData
    {
      exact,    // the closed-form law at each stage time
      gaussian  // the moment-matched Gaussian far field
    };
    BoundaryData boundary_condition        = BoundaryData::exact;
    double       newton_tolerance          = 1e-6;
    unsigned int maximum_newton_iterations = 10;
    bool         companion_density         = false;
    double       bulk_mass                 = 0.99;
    double       tail_threshold            = 1e-6;
    double       perturbation_amplitude    = 0.1;
    double       perturbation_width        = 1.0;
    unsigned int n_tail_shells             = 20;

    void bind(ParameterBinder &binder);
  };

  /// "exact" or "gaussian": the name parameter files and summary.json use.
  std::string boundary_data_name(const ScoreParameters::BoundaryData data);
} // namespace scorefp
