// The linear beta schedule that VP and sub-VP share (MATH.md section 1):
// beta(t) = beta_min + (beta_max - beta_min) t, B(t) = int_0^t beta.
#pragma once

#include <scorefp/core/parameter_binder.h>

#include <deal.II/base/patterns.h>

#include <string>

namespace scorefp
{
  struct BetaSchedule
  {
    double beta_min = 0.1;
    double beta_max = 20.0;

    /// The entries Process/beta min and beta max (declared once for both processes).
    void bind(ParameterBinder &b)
    {
      namespace Patterns = dealii::Patterns;
      b.add("beta min", beta_min, "VP/sub-VP: beta(0), in units of 1/time.", Patterns::Double(0));
      b.add("beta max", beta_max, "VP/sub-VP: beta(1), in units of 1/time.", Patterns::Double(0));
      b.require(beta_min > 0 && beta_max >= beta_min,
                "Process/beta min and beta max must satisfy 0 < beta min <= beta max (got " +
                    std::to_string(beta_min) + " and " + std::to_string(beta_max) + ").");
    }

    double beta(const double t) const { return beta_min + (beta_max - beta_min) * t; }
    double integrated_beta(const double t) const
    {
      return beta_min * t + 0.5 * (beta_max - beta_min) * t * t;
    }
  };
} // namespace scorefp
