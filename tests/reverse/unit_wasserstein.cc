// Exact 1D Wasserstein distances from interval masses (reverse/wasserstein_1d.h).
#include <scorefp/reverse/wasserstein_1d.h>

#include <gtest/gtest.h>

#include <cmath>

using namespace scorefp;

namespace
{
  /// n equal intervals of [lower, upper] with the masses of density f (midpoint rule
  /// per interval is exact for the piecewise-constant densities used here).
  std::vector<Interval1d> intervals(const double lower, const double upper, const unsigned int n)
  {
    std::vector<Interval1d> result(n);
    for (unsigned int k = 0; k < n; ++k)
      {
        result[k].left  = lower + (upper - lower) * k / n;
        result[k].right = lower + (upper - lower) * (k + 1) / n;
      }
    return result;
  }
} // namespace

// Uniform on [0, 1] against uniform on [s, 1 + s]: every W_p is s.
TEST(Wasserstein1d, ShiftedUniformLaws)
{
  auto         cells = intervals(-1, 3, 400);
  const double shift = 0.37;
  for (auto &c : cells)
    {
      const double mid = 0.5 * (c.left + c.right);
      c.mass[0]        = (mid > 0 && mid < 1) ? c.right - c.left : 0;
      c.mass[1]        = (mid > shift && mid < 1 + shift) ? c.right - c.left : 0;
    }
  // The shift falls inside an interval (0.37 is not a multiple of 0.01): the second
  // law is then the uniform one discretised on the grid, shifted by 0.37 +- 0.005.
  const auto [w1, w2] = wasserstein_1d(cells, 0, 1);
  EXPECT_NEAR(w1, shift, 0.006);
  EXPECT_NEAR(w2, shift, 0.006);
}

// Uniform on [0, 1] against uniform on [0, 2]: W1 = 1/2, W2 = 1/sqrt(3) (quantiles u
// and 2u); the grid holds both exactly.
TEST(Wasserstein1d, ScaledUniformLawsExactly)
{
  auto cells = intervals(0, 4, 40);
  for (auto &c : cells)
    {
      c.mass[0] = c.right <= 1 + 1e-12 ? (c.right - c.left) : 0;
      c.mass[1] = c.right <= 2 + 1e-12 ? 0.5 * (c.right - c.left) : 0;
      c.mass[2] = -1e-3; // an undershoot everywhere: counts as zero
    }
  cells[0].mass[2]    = 1;
  const auto [w1, w2] = wasserstein_1d(cells, 0, 1);
  EXPECT_NEAR(w1, 0.5, 1e-14);
  EXPECT_NEAR(w2, 1 / std::sqrt(3.0), 1e-14);
  const auto [same1, same2] = wasserstein_1d(cells, 1, 1);
  EXPECT_EQ(same1, 0.0);
  EXPECT_EQ(same2, 0.0);
  // All of the third law on [0, 0.1]: W1 against uniform [0, 1] is 0.5 - 0.05.
  EXPECT_NEAR(wasserstein_1d(cells, 0, 2).first, 0.45, 1e-14);
}
