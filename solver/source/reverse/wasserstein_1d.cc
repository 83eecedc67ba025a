#include <scorefp/reverse/wasserstein_1d.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace scorefp
{
  namespace
  {
    /// The normalised CDF at the interval ends x_0 < ... < x_n.
    std::vector<double> cdf(const std::vector<Interval1d> &intervals, const unsigned int which)
    {
      std::vector<double> F(intervals.size() + 1, 0.0);
      for (std::size_t k = 0; k < intervals.size(); ++k)
        F[k + 1] = F[k] + std::max(0.0, intervals[k].mass[which]);
      if (!(F.back() > 0))
        throw std::invalid_argument("wasserstein_1d: a density without positive mass.");
      for (double &f : F)
        f /= F.back();
      return F;
    }

    /// The quantile function of the piecewise-linear CDF F at u in (0, 1).
    double quantile(const std::vector<double> &x, const std::vector<double> &F, const double u)
    {
      // The first interval whose right-end CDF value reaches u (intervals of zero mass
      // have F flat and are passed over: their quantile jumps).
      const auto        it    = std::lower_bound(F.begin() + 1, F.end(), u);
      const std::size_t k     = std::min<std::size_t>(it - F.begin(), F.size() - 1);
      const double      width = F[k] - F[k - 1];
      const double      theta = width > 0 ? (u - F[k - 1]) / width : 1.0;
      return x[k - 1] + std::clamp(theta, 0.0, 1.0) * (x[k] - x[k - 1]);
    }
  } // namespace

  std::pair<double, double> wasserstein_1d(const std::vector<Interval1d> &intervals,
                                           const unsigned int             a,
                                           const unsigned int             b)
  {
    if (intervals.empty())
      return {0.0, 0.0};
    std::vector<double> x(intervals.size() + 1);
    x[0] = intervals[0].left;
    for (std::size_t k = 0; k < intervals.size(); ++k)
      x[k + 1] = intervals[k].right;
    const std::vector<double> Fa = cdf(intervals, a), Fb = cdf(intervals, b);

    // W1: F_a - F_b is linear on each interval; |.| integrated exactly.
    double w1 = 0.0;
    for (std::size_t k = 0; k < intervals.size(); ++k)
      {
        const double d0 = Fa[k] - Fb[k], d1 = Fa[k + 1] - Fb[k + 1], h = x[k + 1] - x[k];
        if (d0 * d1 >= 0)
          w1 += 0.5 * (std::abs(d0) + std::abs(d1)) * h;
        else
          w1 += 0.5 * (d0 * d0 + d1 * d1) / (std::abs(d0) + std::abs(d1)) * h;
      }

    // W2: between consecutive values of either CDF both quantile functions are linear
    // in u, so the 2-point Gauss rule (exact for cubics) integrates their squared
    // difference exactly; it never evaluates at a jump.
    std::vector<double> levels(Fa);
    levels.insert(levels.end(), Fb.begin(), Fb.end());
    std::sort(levels.begin(), levels.end());
    levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
    const double g          = 0.5 / std::sqrt(3.0);
    double       w2_squared = 0.0;
    for (std::size_t k = 0; k + 1 < levels.size(); ++k)
      {
        const double u0 = levels[k], u1 = levels[k + 1], du = u1 - u0;
        if (!(du > 0))
          continue;
        for (const double offset : {0.5 - g, 0.5 + g})
          {
            const double u = u0 + offset * du;
            const double d = quantile(x, Fa, u) - quantile(x, Fb, u);
            w2_squared += 0.5 * du * d * d;
          }
      }
    return {w1, std::sqrt(w2_squared)};
  }
} // namespace scorefp
