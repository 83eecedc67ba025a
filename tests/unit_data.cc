// The closed-form laws of MATH.md section 5: normalisation, moments under the forward
// map m X_0 + sqrt(v) Z, explicit formulas, and the named data sets of section 6.
#include <scorefp/initial_data.h>
#include <scorefp/input_error.h>

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

using namespace scorefp;

namespace
{
  // Trapezoidal rule on [-L, L]^2 with n^2 points: spectrally accurate for smooth
  // densities that vanish at the edges.
  struct Moments
  {
    double mass = 0, mean[2] = {0, 0}, second[2] = {0, 0};
  };

  Moments moments_2d(const DensityField &f, const double L, const unsigned int n)
  {
    Moments      m;
    const double h = 2 * L / n;
    for (unsigned int i = 0; i < n; ++i)
      for (unsigned int j = 0; j < n; ++j)
        {
          const double x[2] = {-L + (i + 0.5) * h, -L + (j + 0.5) * h};
          const double w    = f.value(x) * h * h;
          m.mass += w;
          for (unsigned int k = 0; k < 2; ++k)
            {
              m.mean[k] += w * x[k];
              m.second[k] += w * x[k] * x[k];
            }
        }
    return m;
  }

  std::unique_ptr<DataDistribution> named(const std::string &type)
  {
    DataParameters p;
    p.type = type;
    return create_data(p, 2);
  }
} // namespace

TEST(GaussianMixture, MatchesTheExplicitBivariateNormal)
{
  // One component with correlation: compare with the textbook formula.
  const double    sx = 0.8, sy = 0.5, rho = 0.6;
  GaussianMixture g(2, {1.0}, {0.3, -0.2}, {sx * sx, rho * sx * sy, rho * sx * sy, sy * sy});
  const double    x[2] = {0.9, 0.1};
  const double    zx = (x[0] - 0.3) / sx, zy = (x[1] + 0.2) / sy;
  const double    expected =
      std::exp(-(zx * zx - 2 * rho * zx * zy + zy * zy) / (2 * (1 - rho * rho))) /
      (2 * M_PI * sx * sy * std::sqrt(1 - rho * rho));
  EXPECT_NEAR(g.value(x), expected, 1e-14 * expected);
}

TEST(GaussianMixture, TransportedLawHasTheForwardMoments)
{
  // E[m X0 + sqrt(v) Z] = m E X0, Var = m^2 Var X0 + v.
  GaussianMixture g(2, {0.25, 0.75}, {-1, 0.5, 1, 0}, {0.2, 0.05, 0.05, 0.1, 0.3, 0, 0, 0.3});
  const double    m = 0.6, v = 0.4;
  const auto      law    = g.transported(m, v);
  const auto      mom    = moments_2d(*law, 8, 400);
  const double    mean_x = 0.25 * -1 + 0.75 * 1, second_x = 0.25 * (1 + 0.2) + 0.75 * (1 + 0.3);
  EXPECT_NEAR(mom.mass, 1.0, 1e-12);
  EXPECT_NEAR(mom.mean[0], m * mean_x, 1e-12);
  EXPECT_NEAR(
      mom.second[0] - mom.mean[0] * mom.mean[0], m * m * (second_x - mean_x * mean_x) + v, 1e-12);
}

TEST(GaussianMixture, RejectsBadCovariances)
{
  EXPECT_THROW(GaussianMixture(2, {1.0}, {0, 0}, {1, 2, 2, 1}), InputError);   // indefinite
  EXPECT_THROW(GaussianMixture(2, {1.0}, {0, 0}, {1, 0.1, 0, 1}), InputError); // asymmetric
  EXPECT_THROW(GaussianMixture(2, {1.0}, {0}, {1}), InputError);               // mean size
  EXPECT_THROW(GaussianMixture(2, {-1.0}, {0, 0}, {1}), InputError);           // weight
}

TEST(NamedData, BlobAnd8GaussiansAreNormalisedWithTheirStatedSecondMoments)
{
  const auto blob = named("blob");
  const auto mom  = moments_2d(*blob->transported(1, 0), 6, 600);
  EXPECT_NEAR(mom.mass, 1.0, 1e-10);
  // Means 0.65 {(+-2,+-2),(0,0),(+-4,0),(0,+-4)}: E x^2 = 0.65^2 * 48/9 + 0.0845.
  EXPECT_NEAR(mom.second[0], 0.65 * 0.65 * 48 / 9 + 0.0845, 1e-10);
  EXPECT_NEAR(blob->scale(), std::sqrt(0.65 * 0.65 * 48 / 9 + 0.0845), 1e-14);

  const auto eight = named("8gaussians");
  const auto m8    = moments_2d(*eight->transported(1, 0), 7, 700);
  EXPECT_NEAR(m8.mass, 1.0, 1e-10);
  EXPECT_NEAR(m8.second[0] + m8.second[1], 8.0 + 2 * 0.125, 1e-10);
  DataParameters p;
  p.type = "blob";
  EXPECT_THROW(create_data(p, 3), InputError);
}

TEST(Checkerboard, IsUniformOnEightSquaresAndDiffusesWithTheForwardMoments)
{
  const auto   board = named("checkerboard");
  const auto   p0    = board->transported(1, 0);
  const double on[2] = {-3 + 0.75, -3 + 0.75}, off[2] = {-3 + 0.75, -3 + 2.25}, out[2] = {3.5, 0};
  EXPECT_NEAR(p0->value(on), 1.0 / 18, 1e-15);
  EXPECT_EQ(p0->value(off), 0.0);
  EXPECT_EQ(p0->value(out), 0.0);

  // Uniform on each cell: E x^2 = mean over cells of (b^3 - a^3) / (3 side).
  const double m = 0.8, v = 0.3;
  const auto   law = board->transported(m, v);
  const auto   mom = moments_2d(*law, 8, 800);
  EXPECT_NEAR(mom.mass, 1.0, 1e-9);
  EXPECT_NEAR(mom.mean[0], 0.0, 1e-9);
  const double s = board->scale();
  EXPECT_NEAR(mom.second[0], m * m * s * s + v, 1e-9);
  EXPECT_NEAR(s * s, 3.0, 1e-12); // [-3,3] uniform has E x^2 = 3
}
