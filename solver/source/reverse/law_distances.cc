#include <scorefp/reverse/law_distances.h>

#include <algorithm>
#include <cmath>

namespace scorefp
{
  void LawDistanceSums::add(const double p, const double q, const double JxW)
  {
    sums[0] += std::abs(p - q) * JxW;
    sums[1] += (p - q) * (p - q) * JxW;
    if (p > 0 && q > 0)
      {
        const double r = std::sqrt(p) - std::sqrt(q);
        sums[2] += r * r * JxW;
        sums[3] += p * std::log(p / q) * JxW;
        sums[4] += q * std::log(q / p) * JxW;
      }
    else
      sums[5] += std::max(p, 0.0) * JxW + std::max(q, 0.0) * JxW;
  }

  LawDistances LawDistanceSums::distances(const double c_d) const
  {
    LawDistances d;
    d.l1                = sums[0];
    d.l2                = std::sqrt(sums[1] / c_d);
    d.hellinger_squared = 0.5 * sums[2];
    d.kl_pq             = sums[3];
    d.kl_qp             = sums[4];
    d.clipped_mass      = sums[5];
    return d;
  }
} // namespace scorefp
