// The energy distance of the checker (solver/source/checker/statistics/
// energy_distance.cc) against brute-force sums on small sets in 1D (the sorted path)
// and 2D (the direct path), and against the closed form for two Gaussians in 1D,
// through the statistic registry as check_samples uses it.
#include <scorefp/checker/reference_law.h>
#include <scorefp/checker/statistic.h>
#include <scorefp/core/random.h>

#include <boost/math/distributions/normal.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace scorefp;

namespace
{
  const double pi = 3.14159265358979323846;

  double energy_distance(const QuadratureCloud &cloud, const std::vector<double> &samples)
  {
    ReferenceLaw law;
    law.cloud                 = cloud;
    const unsigned int d      = cloud.dimension;
    const auto         member = StatisticRegistry::instance().get("energy distance").create_default();
    EXPECT_TRUE(member->applies_in(d));
    const auto prepared = member->prepare(law, samples.size() / d, 1);
    return prepared->value(SampleView(samples, d));
  }

  double distance(const double *x, const double *y, const unsigned int d)
  {
    double s = 0;
    for (unsigned int j = 0; j < d; ++j)
      s += (x[j] - y[j]) * (x[j] - y[j]);
    return std::sqrt(s);
  }

  // 2 E|X - Y| - E|X - X'| - E|Y - Y'| by the three double sums, nothing sorted.
  double brute_force(const QuadratureCloud &cloud, const std::vector<double> &x)
  {
    const unsigned int d = cloud.dimension;
    const std::size_t  N = x.size() / d, Q = cloud.size();
    double             W = 0, cross = 0, within = 0, reference = 0;
    for (std::size_t q = 0; q < Q; ++q)
      W += cloud.weights[q];
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t q = 0; q < Q; ++q)
        cross += cloud.weights[q] * distance(&x[i * d], &cloud.points[q * d], d);
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t j = 0; j < N; ++j)
        within += distance(&x[i * d], &x[j * d], d);
    for (std::size_t q = 0; q < Q; ++q)
      for (std::size_t r = 0; r < Q; ++r)
        reference += cloud.weights[q] * cloud.weights[r] *
                     distance(&cloud.points[q * d], &cloud.points[r * d], d);
    return 2 * cross / (N * W) - within / (double(N) * N) - reference / (W * W);
  }

  // A cloud of Q random points with random weights, one of them negative (a
  // finite-element density may undershoot) and one zero.
  QuadratureCloud random_cloud(const unsigned int d, const unsigned int Q)
  {
    QuadratureCloud cloud;
    cloud.dimension = d;
    cloud.n_cells   = 1;
    CounterRng rng(3, 0);
    for (unsigned int q = 0; q < Q; ++q)
      {
        for (unsigned int j = 0; j < d; ++j)
          cloud.points.push_back(rng.normal());
        cloud.weights.push_back(q == 1 ? -0.02 : q == 2 ? 0.0 : rng.uniform());
        cloud.cells.push_back(0);
      }
    return cloud;
  }

  std::vector<double> random_samples(const unsigned int d, const unsigned int N, const double shift)
  {
    CounterRng          rng(4, 0);
    std::vector<double> x(N * d);
    for (double &v : x)
      v = 1.3 * rng.normal() + shift;
    return x;
  }

  // E|Z| for Z ~ N(m, s^2).
  double mean_absolute(const double m, const double s)
  {
    const boost::math::normal_distribution<double> normal;
    return s * std::sqrt(2 / pi) * std::exp(-m * m / (2 * s * s)) +
           m * (1 - 2 * boost::math::cdf(normal, -m / s));
  }
} // namespace

TEST(EnergyDistance, MatchesBruteForceSums)
{
  for (const unsigned int d : {1u, 2u, 3u})
    {
      const QuadratureCloud     cloud = random_cloud(d, 60);
      const std::vector<double> x     = random_samples(d, 45, 0.3);
      const double              exact = brute_force(cloud, x);
      EXPECT_GT(exact, 0.01) << "dimension " << d;
      EXPECT_NEAR(energy_distance(cloud, x), exact, 1e-12 * (1 + std::abs(exact)))
          << "dimension " << d;
    }
  // Ties between samples and cloud points (the walk through both sorted sets).
  QuadratureCloud cloud;
  cloud.dimension = 1;
  cloud.n_cells   = 1;
  cloud.points    = {0, 1, 1, 2};
  cloud.weights   = {0.25, 0.25, 0.25, 0.25};
  cloud.cells     = {0, 0, 0, 0};
  const std::vector<double> x{1, 0, 2, 1, 1};
  EXPECT_NEAR(energy_distance(cloud, x), brute_force(cloud, x), 1e-14);
}

TEST(EnergyDistance, TwoGaussiansIn1DMatchTheClosedForm)
{
  // Reference N(0, 1) on a fine uniform grid of [-10, 10] (spectrally accurate sums of
  // the smooth, rapidly decaying integrands); samples: the N quantiles of N(mu, s^2),
  // whose empirical law is within O(log N / N) of N(mu, s^2) in these terms.
  // Closed form, Z ~ N(m, s^2), E|Z| = s sqrt(2/pi) exp(-m^2 / 2s^2) + m (1 - 2 Phi(-m/s)):
  //   E = 2 E|N(mu, s^2 + 1)| - E|N(0, 2 s^2)| - E|N(0, 2)|.
  QuadratureCloud cloud;
  cloud.dimension    = 1;
  cloud.n_cells      = 1;
  const unsigned int n = 8001;
  const double       h = 20.0 / (n - 1);
  for (unsigned int q = 0; q < n; ++q)
    {
      const double y = -10 + h * q;
      cloud.points.push_back(y);
      cloud.weights.push_back(std::exp(-y * y / 2) / std::sqrt(2 * pi) * h);
      cloud.cells.push_back(0);
    }
  const boost::math::normal_distribution<double> normal;
  const unsigned int                             N = 20000;
  for (const auto &[mu, s] : {std::pair{0.5, 1.2}, std::pair{0.0, 1.0}, std::pair{-1.0, 0.7}})
    {
      std::vector<double> x(N);
      for (unsigned int i = 0; i < N; ++i)
        x[i] = mu + s * boost::math::quantile(normal, (i + 0.5) / N);
      const double exact = 2 * mean_absolute(mu, std::sqrt(s * s + 1)) -
                           mean_absolute(0, std::sqrt(2) * s) - mean_absolute(0, std::sqrt(2));
      EXPECT_NEAR(energy_distance(cloud, x), exact, 2e-4) << "mu = " << mu << ", s = " << s;
    }
}
