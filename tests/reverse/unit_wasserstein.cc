// Exact 1D Wasserstein distances from interval masses (reverse/wasserstein_1d.h), and the
// sliced W2 and MMD^2 of weighted clouds (reverse/cloud_distances.h).
#include <scorefp/reverse/cloud_distances.h>
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

// Sliced W2 and MMD^2 from a weighted cloud (reverse/cloud_distances.h): two centred
// Gaussians with diagonal covariances on a 2D midpoint grid against their closed forms
// for the same directions, W2_theta = |sqrt(theta' A theta) - sqrt(theta' B theta)| and
// E k(X, Y) = l^2 / sqrt(det(l^2 I + A + B)). The sliced W2's smoothing window (one grid
// spacing) changes it by O(window^2): halving the spacing divides the error by about 3.
TEST(CloudDistances, SlicedW2AndMmdOfTwoGaussians)
{
  const double a[2] = {0.3, 0.8}, b[2] = {0.5, 0.6}, L = 6.0;
  const auto   grid = [&](const unsigned int n) {
    const double h = 2 * L / n;
    LawCloud     cloud;
    cloud.dim = 2;
    cloud.masses.resize(2);
    for (unsigned int i = 0; i < n; ++i)
      for (unsigned int j = 0; j < n; ++j)
        {
          const double x = -L + (i + 0.5) * h, y = -L + (j + 0.5) * h;
          cloud.points.insert(cloud.points.end(), {x, y});
          for (unsigned int k = 0; k < 2; ++k)
            {
              const double *v = k == 0 ? a : b;
              cloud.masses[k].push_back(std::exp(-0.5 * (x * x / v[0] + y * y / v[1])) /
                                        (2 * M_PI * std::sqrt(v[0] * v[1])) * h * h);
            }
        }
    return cloud;
  };
  const unsigned int        n_directions = 16;
  const std::vector<double> theta        = sliced_directions(2, n_directions);
  double                    sw2          = 0;
  for (unsigned int t = 0; t < n_directions; ++t)
    {
      const double c2 = theta[2 * t] * theta[2 * t], s2 = theta[2 * t + 1] * theta[2 * t + 1];
      const double d  = std::sqrt(c2 * a[0] + s2 * a[1]) - std::sqrt(c2 * b[0] + s2 * b[1]);
      sw2 += d * d / n_directions;
    }
  std::vector<double> errors;
  for (const unsigned int n : {100u, 200u})
    {
      const double sliced = sliced_wasserstein2(
          grid(n), {{0, 1}}, theta, L * std::sqrt(2.0), 2 * L / n, MPI_COMM_SELF)[0];
      errors.push_back(std::abs(sliced - std::sqrt(sw2)));
    }
  EXPECT_LE(errors[0], 5e-3 * std::sqrt(sw2));
  EXPECT_GE(errors[0] / errors[1], 2.5) << errors[0] << " -> " << errors[1];

  const LawCloud cloud  = grid(80);
  const double   l      = 0.7;
  const auto     kernel = [l](const double *A, const double *B) {
    return l * l / std::sqrt((l * l + A[0] + B[0]) * (l * l + A[1] + B[1]));
  };
  const double mmd2 = kernel(a, a) + kernel(b, b) - 2 * kernel(a, b);
  EXPECT_NEAR(mmd_squared(cloud, {{0, 1}}, l, MPI_COMM_SELF)[0], mmd2, 1e-6 * mmd2);
  // A law against itself: zero.
  EXPECT_NEAR(
      sliced_wasserstein2(cloud, {{0, 0}}, theta, L * std::sqrt(2.0), 0.15, MPI_COMM_SELF)[0],
      0.0,
      1e-12);
}
