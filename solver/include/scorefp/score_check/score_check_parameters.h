// Section Score check: what Task = check score computes (score_check.h).
#pragma once

#include <string>
#include <vector>

namespace scorefp
{
  class ParameterBinder;

  struct ScoreCheckParameters
  {
    enum class Reference
    {
      closed_form,
      reference_file
    };
    std::vector<double> times{0.1, 0.3, 0.6, 1.0};
    Reference           reference = Reference::closed_form;
    std::string         reference_file;
    unsigned int        quadrature_points = 3;
    double              bulk_mass         = 0.99;
    double              tail_threshold    = 1e-6;
    std::string         points_file;
    bool                write_vtu = true;

    void bind(ParameterBinder &binder);
  };
} // namespace scorefp
