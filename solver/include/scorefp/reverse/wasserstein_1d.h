// Exact 1D Wasserstein distances between densities known by their masses on intervals
// (MATH.md section 7: W_p through the quantile functions). Plain C++, no mesh.
#pragma once

#include <array>
#include <utility>
#include <vector>

namespace scorefp
{
  /// An interval [left, right] and the mass each of up to five densities puts on it.
  struct Interval1d
  {
    double                left = 0.0, right = 0.0;
    std::array<double, 5> mass{};
  };

  /// (W1, W2) between densities a and b (indices into Interval1d::mass), each uniform
  /// within every interval: their CDFs are linear between the interval ends, and so
  /// are their quantile functions between the CDF values, so both integrals
  /// W1 = int |F_a - F_b| dx and W2^2 = int_0^1 |F_a^-1 - F_b^-1|^2 du are exact for
  /// these piecewise-linear CDFs. Intervals must be sorted and adjacent; negative
  /// masses (finite-element undershoots) count as 0, and each density is normalised.
  std::pair<double, double> wasserstein_1d(const std::vector<Interval1d> &intervals,
                                           const unsigned int             a,
                                           const unsigned int             b);
} // namespace scorefp
