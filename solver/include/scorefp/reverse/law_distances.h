// Distances between two densities known at quadrature points (MATH.md section 7), as
// the reverse-time laws report them: sums accumulated point by point (on each rank),
// added up, and turned into the distances.
#pragma once

#include <limits>

namespace scorefp
{
  /// Distances between two densities p and q: ||p - q||_1 (= 2 TV), ||p - q||_2, the
  /// squared Hellinger distance 1/2 int (sqrt p - sqrt q)^2, KL(p || q) and KL(q || p).
  /// Where either density is not positive (a finite-element undershoot) the KL and
  /// Hellinger integrands are skipped and the probability the other puts there is
  /// counted in clipped_mass.
  struct LawDistances
  {
    double l1 = 0.0, l2 = 0.0, hellinger_squared = 0.0, kl_pq = 0.0, kl_qp = 0.0;
    double clipped_mass = 0.0;
    /// 1D only: W1 and W2 from the two cumulative distribution functions (NaN in 2D/3D).
    double w1 = std::numeric_limits<double>::quiet_NaN();
    double w2 = std::numeric_limits<double>::quiet_NaN();
    /// From quadrature clouds (reverse/cloud_distances.h): the sliced W2 (d > 1; at eps,
    /// and for the ODE-SDE gap at every output time) and MMD^2 of the Gaussian kernel of
    /// Reverse law/MMD bandwidth (at eps); NaN where not computed.
    double sliced_w2 = std::numeric_limits<double>::quiet_NaN();
    double mmd2      = std::numeric_limits<double>::quiet_NaN();
  };

  /// The quadrature sums behind LawDistances.
  struct LawDistanceSums
  {
    /// |p - q|, (p - q)^2, (sqrt p - sqrt q)^2, p log p/q, q log q/p, clipped mass.
    double sums[6] = {0, 0, 0, 0, 0, 0};

    /// Add one quadrature point of weight JxW.
    void add(const double p, const double q, const double JxW);
    /// The distances from sums added up over all points (and ranks). The sums were
    /// taken in coordinates xi = x / c in d dimensions, c_d = c^d: every distance but
    /// the L2 norm is the same in x, which is c^{-d/2} times that in xi.
    LawDistances distances(const double c_d = 1.0) const;
  };
} // namespace scorefp
