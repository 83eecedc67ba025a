#include <scorefp/fe/diagnostics.h>

#include <algorithm>
#include <cmath>

namespace scorefp
{
  void ErrorNorms::take_maximum(const ErrorNorms &other)
  {
    l1   = std::max(l1, other.l1);
    l2   = std::max(l2, other.l2);
    linf = std::max(linf, other.linf);
  }

  void MomentErrors::take_maximum(const MomentErrors &other)
  {
    mean       = std::max(mean, other.mean);
    covariance = std::max(covariance, other.covariance);
  }

  void ScoreErrors::take_maximum(const ScoreErrors &other)
  {
    // NaN (an empty tail region) must not hide a number.
    const auto larger = [](const double a, const double b) {
      return std::isnan(a) || b > a ? b : a;
    };
    l2      = larger(l2, other.l2);
    l2_bulk = larger(l2_bulk, other.l2_bulk);
    l2_tail = larger(l2_tail, other.l2_tail);
    fisher  = larger(fisher, other.fisher);
  }

} // namespace scorefp
