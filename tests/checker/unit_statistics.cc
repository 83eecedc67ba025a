// The checker's statistics (MATH.md section 7) against hand-computed values and closed
// forms: W1/W2 through quantile functions, Kolmogorov-Smirnov, sliced W2, MMD^2 by
// random Fourier features, chi-squared over merged cells with null draws, and the
// calibrated p-value.
#include <scorefp/core/input_error.h>
#include <scorefp/core/random.h>
#include <scorefp/fe/quadrature_cloud.h>
#include <scorefp/checker/checker_parameters.h>
#include <scorefp/checker/statistic.h>
#include <scorefp/checker/statistics.h>

#include <boost/math/distributions/normal.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

using namespace scorefp;
using namespace scorefp::statistics;

namespace
{
  const double pi = 3.14159265358979323846;

  // The standard normal density on a uniform grid of n points on [-L, L]^d (weights
  // density * h^d), every point in cell 0 (one cell).
  QuadratureCloud gaussian_cloud(const unsigned int d, const unsigned int n, const double L)
  {
    QuadratureCloud cloud;
    cloud.dimension      = d;
    cloud.n_cells        = 1;
    const double h       = 2 * L / (n - 1);
    std::size_t  n_total = 1;
    for (unsigned int j = 0; j < d; ++j)
      n_total *= n;
    for (std::size_t q = 0; q < n_total; ++q)
      {
        std::size_t index = q;
        double      r2    = 0;
        for (unsigned int j = 0; j < d; ++j)
          {
            const double x = -L + h * (index % n);
            index /= n;
            cloud.points.push_back(x);
            r2 += x * x;
          }
        cloud.weights.push_back(std::exp(-r2 / 2) / std::pow(2 * pi, d / 2.0) * std::pow(h, d));
        cloud.cells.push_back(0);
      }
    return cloud;
  }

  // Deterministic "samples" of N(0, 1): the quantiles Phi^{-1}((i - 1/2) / n) + shift.
  std::vector<double> normal_quantiles(const unsigned int n, const double shift)
  {
    const boost::math::normal_distribution<double> normal;
    std::vector<double>                            x(n);
    for (unsigned int i = 0; i < n; ++i)
      x[i] = boost::math::quantile(normal, (i + 0.5) / n) + shift;
    return x;
  }

  // The product of 1D quantile samples in 2D (n^2 points, point-major), shifted.
  std::vector<double>
  normal_quantiles_2d(const unsigned int n, const double shift_x, const double shift_y)
  {
    const std::vector<double> x = normal_quantiles(n, 0.0);
    std::vector<double>       samples;
    for (unsigned int i = 0; i < n; ++i)
      for (unsigned int j = 0; j < n; ++j)
        {
          samples.push_back(x[i] + shift_x);
          samples.push_back(x[j] + shift_y);
        }
    return samples;
  }
} // namespace

TEST(Statistics, Weighted1DBreakpoints)
{
  // Two equal points: G is the uniform CDF on [-1/2, 3/2].
  const Weighted1D two = Weighted1D::from_points({1.0, 0.0}, {3.0, 3.0});
  EXPECT_EQ(two.x, (std::vector<double>{-0.5, 0.0, 1.0, 1.5}));
  EXPECT_EQ(two.cdf, (std::vector<double>{0.0, 0.25, 0.75, 1.0}));
  EXPECT_DOUBLE_EQ(two.quantile(0.5), 0.5);
  EXPECT_DOUBLE_EQ(two.quantile(0.1), -0.3);
  EXPECT_DOUBLE_EQ(two.cdf_at(0.25), 0.375);
  EXPECT_DOUBLE_EQ(two.cdf_at(-1.0), 0.0);
  EXPECT_DOUBLE_EQ(two.cdf_at(2.0), 1.0);

  // Negative weights are clipped, duplicates merged.
  const Weighted1D clipped = Weighted1D::from_points({0.0, 1.0, 0.0, 2.0}, {0.5, 1.0, 0.5, -3.0});
  EXPECT_EQ(clipped.x, (std::vector<double>{-0.5, 0.0, 1.0, 2.0, 2.5}));
  EXPECT_EQ(clipped.cdf, (std::vector<double>{0.0, 0.25, 0.75, 1.0, 1.0}));

  // A single point is a point mass.
  const Weighted1D point = Weighted1D::from_points({4.0, 4.0}, {1.0, 2.0});
  EXPECT_DOUBLE_EQ(point.quantile(0.3), 4.0);
  EXPECT_DOUBLE_EQ(point.cdf_at(3.9), 0.0);
  EXPECT_DOUBLE_EQ(point.cdf_at(4.0), 1.0);

  EXPECT_THROW(Weighted1D::from_points({0.0, 1.0}, {-1.0, 0.0}), InputError);
  EXPECT_THROW(Weighted1D::from_points({0.0, 1.0}, {1.0}), InputError);
}

TEST(Statistics, WassersteinHandComputed)
{
  // Reference uniform on [-1/2, 3/2], so G^{-1}(u) = 2u - 1/2. Samples {0, 1}: the
  // difference is 1/2 - 2u on (0, 1/2] and 3/2 - 2u on (1/2, 1], each a sign change
  // through 0: W1 = 4 triangles of area 1/16, W2^2 = 2 * (1/2) (1/12) = 1/12.
  const Weighted1D ref = Weighted1D::from_points({0.0, 1.0}, {1.0, 1.0});
  EXPECT_NEAR(wasserstein_p({0.0, 1.0}, ref, 1), 0.25, 1e-15);
  EXPECT_NEAR(wasserstein_p({0.0, 1.0}, ref, 2), std::sqrt(1.0 / 12), 1e-15);
  // One sample at 10: W1 = 10 - E U = 9.5, W2^2 = (10 - E U)^2 + Var U = 90.25 + 1/3.
  EXPECT_NEAR(wasserstein_p({10.0}, ref, 1), 9.5, 1e-13);
  EXPECT_NEAR(wasserstein_p({10.0}, ref, 2), std::sqrt(90.25 + 1.0 / 3), 1e-13);

  // One sample at 1/4: the difference 3/4 - 2u changes sign inside the piece
  // [1/4, 3/4]: W1 = 0.375 * 0.75 / 2 + 0.625 * 1.25 / 2, W2^2 = (1/4 - E U)^2 + Var U.
  EXPECT_NEAR(wasserstein_p({0.25}, ref, 1), 0.53125, 1e-15);
  EXPECT_NEAR(wasserstein_p({0.25}, ref, 2), std::sqrt(0.0625 + 1.0 / 3), 1e-15);

  EXPECT_THROW(wasserstein_p({1.0, 0.0}, ref, 1), InputError);
  EXPECT_THROW(wasserstein_p({0.0, 1.0}, ref, 3), InputError);
  EXPECT_THROW(wasserstein_p({}, ref, 2), InputError);
}

TEST(Statistics, WassersteinOfAShiftedNormal)
{
  // A fine cloud for N(0, 1) against N(0, 1) quantile samples shifted by delta:
  // W1 = W2 = delta up to the quantile and cloud resolution.
  const Weighted1D ref = Weighted1D::from_cloud(gaussian_cloud(1, 20001, 8.0));
  EXPECT_LT(wasserstein_p(normal_quantiles(10000, 0.0), ref, 1), 3e-4);
  EXPECT_LT(wasserstein_p(normal_quantiles(10000, 0.0), ref, 2), 5e-3);
  for (const double delta : {0.3, -0.05})
    {
      const std::vector<double> samples = normal_quantiles(10000, delta);
      EXPECT_NEAR(wasserstein_p(samples, ref, 1), std::abs(delta), 2e-4);
      EXPECT_NEAR(wasserstein_p(samples, ref, 2), std::abs(delta), 2e-4);
    }
}

TEST(Statistics, KolmogorovSmirnov)
{
  // Q(lambda) against the series summed to 30 digits.
  EXPECT_NEAR(kolmogorov_survival(1.36), 0.04948587675537791, 1e-14);
  EXPECT_NEAR(kolmogorov_survival(1.0), 0.2699996716773545, 1e-14);
  EXPECT_NEAR(kolmogorov_survival(0.5), 0.9639452436648751, 1e-14);
  EXPECT_NEAR(kolmogorov_survival(1.18), 0.1234538094297657, 1e-14);
  EXPECT_NEAR(kolmogorov_survival(2.0), 0.0006709252557796953, 1e-16);
  EXPECT_NEAR(kolmogorov_survival(0.3), 0.9999906941986654, 1e-14);
  EXPECT_EQ(kolmogorov_survival(0.0), 1.0);
  EXPECT_EQ(kolmogorov_survival(1e-3), 1.0);

  // Against G uniform on [-1/2, 3/2]: samples {1, 1.4} have G = 0.75, 0.95, so
  // D = max(1/2 - 0.75, 0.75 - 0, 1 - 0.95, 0.95 - 1/2) = 0.75.
  const Weighted1D uniform = Weighted1D::from_points({0.0, 1.0}, {1.0, 1.0});
  EXPECT_NEAR(kolmogorov_smirnov({1.0, 1.4}, uniform).statistic, 0.75, 1e-15);
  EXPECT_NEAR(kolmogorov_smirnov({-0.25, 0.5}, uniform).statistic, 0.5, 1e-15);

  // Quantile samples have D = 1/(2N) against the exact CDF, and the fine cloud's G is
  // the normal CDF up to O(h^2).
  const Weighted1D  ref   = Weighted1D::from_cloud(gaussian_cloud(1, 20001, 8.0));
  const unsigned    N     = 1000;
  KolmogorovSmirnov exact = kolmogorov_smirnov(normal_quantiles(N, 0.0), ref);
  EXPECT_NEAR(exact.statistic, 0.5 / N, 1e-6);
  EXPECT_GT(exact.p_value, 0.999);

  // Shifted by delta: D = max |Phi(x) - Phi(x - delta)| = 2 Phi(delta/2) - 1, +- 1/(2N).
  const double      delta   = 0.2;
  KolmogorovSmirnov shifted = kolmogorov_smirnov(normal_quantiles(N, delta), ref);
  const double      D = 2 * boost::math::cdf(boost::math::normal_distribution<>(), delta / 2) - 1;
  EXPECT_NEAR(shifted.statistic, D, 0.5 / N + 1e-6);
  const double root_N = std::sqrt(double(N));
  EXPECT_DOUBLE_EQ(shifted.p_value,
                   kolmogorov_survival((root_N + 0.12 + 0.11 / root_N) * shifted.statistic));
  EXPECT_LT(shifted.p_value, 1e-3);
}

TEST(Statistics, SlicedWassersteinOfAShift)
{
  const std::vector<double> directions = random_directions(2, 16, 7);
  for (unsigned int k = 0; k < 16; ++k)
    EXPECT_NEAR(std::hypot(directions[2 * k], directions[2 * k + 1]), 1.0, 1e-15);
  EXPECT_EQ(directions, random_directions(2, 16, 7));
  EXPECT_NE(directions, random_directions(2, 16, 8));

  // Both laws are centred, so W2^2 of the shifted samples along theta is exactly
  // (theta . delta)^2 + W2^2 of the unshifted ones.
  const SlicedWasserstein sw(gaussian_cloud(2, 201, 8.0), directions);
  EXPECT_EQ(sw.n_directions(), 16u);
  const double base = sw(normal_quantiles_2d(100, 0.0, 0.0), 2);
  EXPECT_LT(base, 0.04);
  const double delta[2] = {0.3, -0.2};
  double       mean_2   = 0;
  for (unsigned int k = 0; k < 16; ++k)
    mean_2 += std::pow(directions[2 * k] * delta[0] + directions[2 * k + 1] * delta[1], 2) / 16;
  const double shifted = sw(normal_quantiles_2d(100, delta[0], delta[1]), 2);
  EXPECT_NEAR(shifted * shifted, mean_2 + base * base, 1e-10);
  EXPECT_GT(mean_2, 0.01);

  EXPECT_THROW(sw(std::vector<double>(6, 0.0), 3), InputError);
  EXPECT_THROW(SlicedWasserstein(gaussian_cloud(2, 5, 1.0), {1.0, 1.0}), InputError);
}

TEST(Statistics, FourierMmd)
{
  // Samples that are the cloud's support with its weights: MMD^2 = 0.
  QuadratureCloud small;
  small.dimension = 2;
  small.points    = {0, 0, 1, 0, 0, 2};
  small.weights   = {1, 2, 1};
  small.cells     = {0, 0, 0};
  small.n_cells   = 1;
  const FourierMmd small_mmd(small, 1.0, 64, 3);
  EXPECT_NEAR(small_mmd({0, 0, 1, 0, 1, 0, 0, 2}, 2), 0.0, 1e-15);
  EXPECT_GT(small_mmd({0, 0, 1, 0, 0, 2}, 2), 1e-4);

  // N(0, I) against N(delta, I) quantile samples with l = 1 and R = 400 features.
  const QuadratureCloud cloud = gaussian_cloud(2, 161, 8.0);
  EXPECT_NEAR(reference_scale(cloud), 1.0, 1e-10);
  const unsigned int R = 400;
  const FourierMmd   mmd(cloud, 1.0, R, 11);
  ASSERT_EQ(mmd.frequencies().size(), 2 * R);
  double previous = -1;
  for (const double delta : {0.0, 0.25, 0.5, 1.0})
    {
      const double value = mmd(normal_quantiles_2d(100, delta, 0.0), 2);
      EXPECT_GT(value, previous);
      previous = value;
      // For these frequencies: |phi_P - phi_Q|^2 = 2 exp(-|omega|^2) (1 - cos(omega . delta)).
      std::vector<double> g(R);
      for (unsigned int r = 0; r < R; ++r)
        {
          const double *w = &mmd.frequencies()[2 * r];
          g[r] = 2 * std::exp(-(w[0] * w[0] + w[1] * w[1])) * (1 - std::cos(w[0] * delta));
        }
      const double mean = std::accumulate(g.begin(), g.end(), 0.0) / R;
      EXPECT_NEAR(value, mean, 2e-4 + 0.01 * mean);
      // The Gaussian-kernel MMD^2 between N(0, I) and N(delta, I) in 2D is the mean of g
      // over omega ~ N(0, I): 2 (l^2 / (l^2 + 2)) (1 - exp(-delta^2 / (2 (l^2 + 2)))).
      double variance = 0;
      for (const double x : g)
        variance += (x - mean) * (x - mean) / (R - 1);
      const double exact = 2.0 / 3.0 * (1 - std::exp(-delta * delta / 6));
      EXPECT_NEAR(mean, exact, 4 * std::sqrt(variance / R) + 1e-12);
      if (delta == 1.0)
        {
          EXPECT_NEAR(value, exact, 0.1 * exact);
        }
    }
  EXPECT_THROW(FourierMmd(cloud, 0.0, R, 1), InputError);
}

TEST(Statistics, ChiSquaredMerging)
{
  // Expected counts 50, 30, 10, 6, 4 and 0 outside: the smallest three form a group.
  const ChiSquaredBins bins({0.5, 0.3, 0.1, 0.06, 0.04}, 0.0, 100);
  ASSERT_EQ(bins.n_bins(), 4u);
  EXPECT_EQ(bins.outside(), 5u);
  EXPECT_EQ(bins.bin_of(0), 3u);
  EXPECT_EQ(bins.bin_of(1), 2u);
  EXPECT_EQ(bins.bin_of(2), 1u);
  EXPECT_EQ(bins.bin_of(3), 0u);
  EXPECT_EQ(bins.bin_of(4), 0u);
  EXPECT_EQ(bins.bin_of(bins.outside()), 0u);
  const std::vector<double> expected = bins.expected_counts();
  EXPECT_NEAR(expected[0], 10, 1e-12);
  EXPECT_NEAR(expected[3], 50, 1e-12);

  // Exact expected counts give 0; moving 2 samples between groups of 10 gives 0.8.
  std::vector<int> cells;
  for (const auto &[cell, count] :
       std::vector<std::pair<int, int>>{{0, 50}, {1, 30}, {2, 10}, {3, 6}, {4, 2}, {-1, 2}})
    cells.insert(cells.end(), count, cell);
  const std::vector<std::uint64_t> counts = bins.counts(cells);
  EXPECT_EQ(counts, (std::vector<std::uint64_t>{10, 10, 30, 50}));
  EXPECT_NEAR(bins.statistic(counts), 0.0, 1e-12);
  EXPECT_NEAR(bins.statistic({12, 8, 30, 50}), 0.8, 1e-12);
  EXPECT_NEAR(bins.p_value(0.8), 0.8494670333918255, 1e-12); // chi^2 with 3 dof
  EXPECT_THROW(bins.statistic({12, 8, 30, 49}), InputError);
  EXPECT_THROW(bins.counts({0, 1}), InputError);

  // Ten cells of expected count 2: groups of 3 + outside, 3, 3, and a short last one
  // (1 cell) merged into the previous group.
  const ChiSquaredBins short_last(std::vector<double>(10, 0.1), 0.0, 20);
  ASSERT_EQ(short_last.n_bins(), 3u);
  EXPECT_EQ(short_last.bin_of(9), short_last.bin_of(6));
  EXPECT_NEAR(short_last.group_probabilities()[2], 0.4, 1e-12);

  // One group only: no test possible.
  EXPECT_THROW(ChiSquaredBins({0.97, 0.02, 0.01}, 0.0, 100), InputError);
}

TEST(Statistics, ChiSquaredNullDraws)
{
  // 300 cells of very unequal masses (one negative, clipped) and mass outside.
  std::vector<double> masses(300);
  for (unsigned int c = 0; c < masses.size(); ++c)
    masses[c] = std::exp(-0.5 * std::pow((c - 150.0) / 40.0, 2));
  masses[7]                       = -1e-3;
  const double              total = std::accumulate(masses.begin(), masses.end(), 1e-3);
  const std::uint64_t       N     = 5000;
  const ChiSquaredBins      bins(masses, 0.002 * total, N);
  const unsigned int        k        = bins.n_bins();
  const std::vector<double> expected = bins.expected_counts();
  EXPECT_GT(k, 50u);
  EXPECT_NEAR(
      std::accumulate(bins.group_probabilities().begin(), bins.group_probabilities().end(), 0.0),
      1.0,
      1e-12);
  for (const double e : expected)
    EXPECT_GE(e, 5.0);
  EXPECT_LT(bins.bin_of(bins.outside()), k);

  // Under the null, E chi^2 = k - 1 exactly (for multinomial counts) and Var ~ 2 (k - 1).
  const unsigned int draws = 2000;
  double             sum = 0, below = 0;
  for (unsigned int r = 0; r < draws; ++r)
    {
      const std::vector<std::uint64_t> counts = bins.multinomial_counts(5, r);
      const double                     t      = bins.statistic(counts);
      sum += t;
      below += bins.p_value(t) < 0.1;
    }
  EXPECT_EQ(bins.multinomial_counts(5, 3), bins.multinomial_counts(5, 3));
  EXPECT_NE(bins.multinomial_counts(5, 3), bins.multinomial_counts(5, 4));
  EXPECT_NEAR(sum / draws, k - 1.0, 4 * std::sqrt(2 * (k - 1.0) / draws));
  EXPECT_NEAR(below / draws, 0.1, 0.03);
}

TEST(Statistics, CalibratedPValue)
{
  EXPECT_DOUBLE_EQ(calibrated_p_value(3.0, {1, 2, 3, 4, 5}), 4.0 / 6);
  EXPECT_DOUBLE_EQ(calibrated_p_value(10.0, {1, 2, 3, 4, 5}), 1.0 / 6);
  EXPECT_DOUBLE_EQ(calibrated_p_value(0.0, {1, 2, 3, 4, 5}), 1.0);
  EXPECT_DOUBLE_EQ(calibrated_p_value(1.0, {}), 1.0);
}

TEST(Statistics, RegistryAndDefaultSelection)
{
  const StatisticRegistry &registry = StatisticRegistry::instance();
  for (const std::string name :
       {"W1", "W2", "KS", "sliced W2", "MMD^2", "chi^2 over cells", "energy distance"})
    EXPECT_TRUE(registry.contains(name)) << name;
  // Today's statistics in today's order: 1D W1, W2, KS, MMD^2, chi^2; d > 1 sliced W2,
  // MMD^2, chi^2 (the report's order and the Bonferroni count K).
  const CheckerParameters  defaults;
  std::vector<std::string> one_d, two_d;
  for (const auto &s : defaults.statistics)
    {
      const auto member = registry.get(s.name).create_default();
      if (member->applies_in(1))
        one_d.push_back(s.name);
      if (member->applies_in(2))
        two_d.push_back(s.name);
    }
  EXPECT_EQ(one_d, (std::vector<std::string>{"W1", "W2", "KS", "MMD^2", "chi^2 over cells"}));
  EXPECT_EQ(two_d, (std::vector<std::string>{"sliced W2", "MMD^2", "chi^2 over cells"}));
}

// The projections' sort: the bucket path (values of a law with a density), the radix
// fallback (heavy tails, non-finite values) and ties all give std::sort's order.
TEST(Statistics, SortAscendingEqualsStdSort)
{
  CounterRng rng(17, 3);
  std::vector<std::vector<double>> sets(4);
  for (unsigned int i = 0; i < 100000; ++i)
    {
      const double z = rng.normal();
      sets[0].push_back(z);                                   // normal: buckets
      sets[1].push_back(z / (rng.uniform() - 0.5) * 1e-3);    // Cauchy-like: radix
      sets[2].push_back(std::round(4 * z) / 4);               // many ties
      sets[3].push_back(i == 77 ? INFINITY : -z);             // not finite: radix
    }
  for (std::size_t k = 0; k < sets.size(); ++k)
    {
      std::vector<double> expected = sets[k], got = sets[k];
      std::sort(expected.begin(), expected.end());
      sort_ascending(got);
      EXPECT_EQ(got, expected) << "set " << k;
    }
}
