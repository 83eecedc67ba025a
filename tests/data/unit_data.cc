// The closed-form laws of MATH.md section 5: normalisation, moments under the forward
// map m X_0 + sqrt(v) Z, explicit formulas, and the named data sets of section 6.
#include <scorefp/data/data_distribution.h>
#include <scorefp/core/input_error.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

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

namespace
{
  // A 2D mixture with three correlated components of different shapes.
  GaussianMixture full_covariance_mixture()
  {
    return GaussianMixture(2,
                           {0.2, 0.5, 0.3},
                           {-1, 0.5, 1, 0, 0, -1.5},
                           {0.2, 0.05, 0.05, 0.1, 0.3, -0.1, -0.1, 0.25, 0.08, 0, 0, 0.5});
  }

  // The score against central differences of log_value, relative to max(1, |score|).
  void expect_score_is_gradient_of_log_value(const DensityField       &f,
                                             const std::vector<double> x,
                                             const double              tolerance = 1e-6)
  {
    const unsigned int  d = x.size();
    std::vector<double> s(d);
    f.score(x.data(), s.data());
    for (unsigned int j = 0; j < d; ++j)
      {
        const double        h = 1e-5;
        std::vector<double> plus(x), minus(x);
        plus[j] += h;
        minus[j] -= h;
        const double difference = (f.log_value(plus.data()) - f.log_value(minus.data())) / (2 * h);
        ASSERT_TRUE(std::isfinite(s[j])) << "x_" << j << " = " << x[j];
        EXPECT_NEAR(s[j], difference, tolerance * std::max(1.0, std::abs(s[j])))
            << "component " << j << " at x = (" << x[0] << ", " << x[d - 1] << ")";
      }
  }

  void expect_log_value_is_log_of_value(const DensityField &f, const std::vector<double> x)
  {
    const double p = f.value(x.data());
    ASSERT_GT(p, 1e-300);
    EXPECT_NEAR(f.log_value(x.data()), std::log(p), 1e-13 * std::max(1.0, std::abs(std::log(p))));
  }

  // Midpoint rule on [-L, L]^d with n points per axis: mass, mean and row-major second
  // moments. Spectrally accurate for smooth densities that vanish at the edges.
  struct FullMoments
  {
    double              mass = 0;
    std::vector<double> mean, covariance;
  };

  FullMoments quadrature_moments(const DensityField &f,
                                 const unsigned int  d,
                                 const double        L,
                                 const unsigned int  n)
  {
    FullMoments m;
    m.mean.assign(d, 0.0);
    std::vector<double> second(d * d, 0.0), x(d);
    const double        h        = 2 * L / n;
    unsigned int        n_points = 1;
    for (unsigned int j = 0; j < d; ++j)
      n_points *= n;
    for (unsigned int index = 0; index < n_points; ++index)
      {
        double weight = 1;
        for (unsigned int j = 0, rest = index; j < d; ++j, rest /= n)
          {
            x[j] = -L + (rest % n + 0.5) * h;
            weight *= h;
          }
        weight *= f.value(x.data());
        m.mass += weight;
        for (unsigned int i = 0; i < d; ++i)
          {
            m.mean[i] += weight * x[i];
            for (unsigned int j = 0; j < d; ++j)
              second[i * d + j] += weight * x[i] * x[j];
          }
      }
    for (double &mu : m.mean)
      mu /= m.mass;
    m.covariance.resize(d * d);
    for (unsigned int i = 0; i < d; ++i)
      for (unsigned int j = 0; j < d; ++j)
        m.covariance[i * d + j] = second[i * d + j] / m.mass - m.mean[i] * m.mean[j];
    return m;
  }

  // Long-double reference for the 1D checkerboard law (cells [-3,-1.5] and [0,1.5],
  // weight 1/2 each) at points outside [-3, 3], where both normal arguments of every
  // cell are on one side: sum of differences of tail probabilities, no cancellation.
  long double
  checkerboard_1d_reference(const long double x, const long double m, const long double v)
  {
    const long double sd = std::sqrt(v), r = 1 / std::sqrt(2.0L), side = 1.5L;
    long double       p = 0;
    for (const long double a : {-3.0L, 0.0L})
      {
        const long double z1 = (x - m * a) / sd, z2 = (x - m * (a + side)) / sd;
        const long double q = x > 0 ? std::erfc(z2 * r) - std::erfc(z1 * r) // upper tails
                                    : std::erfc(-z1 * r) - std::erfc(-z2 * r);
        p += 0.5L * 0.5L * q / (m * side);
      }
    return p;
  }

  // A law concentrated on the line x = y: its covariance is singular.
  class OnTheDiagonal : public DataDistribution
  {
  public:
    unsigned int                  dimension() const override { return 2; }
    std::unique_ptr<DensityField> transported(const double, const double) const override
    {
      return nullptr;
    }
    double              scale() const override { return 1; }
    std::string         description() const override { return "diagonal"; }
    std::vector<double> mean() const override { return {1, 2}; }
    std::vector<double> covariance() const override { return {0.5, 0.5, 0.5, 0.5}; }
    void                sample(CounterRng &rng, double *x) const override
    {
      x[0] = x[1] = 1.5 + std::sqrt(2.0) * 0.5 * rng.normal();
    }
  };
} // namespace

TEST(Scores, MixtureScoreIsTheGradientOfLogValue)
{
  const GaussianMixture g = full_covariance_mixture();
  for (const auto &[m, v] : {std::pair{1.0, 0.0}, std::pair{0.7, 0.2}})
    {
      const auto law = g.transported(m, v);
      for (const std::vector<double> &x :
           {std::vector<double>{0.1, 0.2}, {-0.8, 0.4}, {0.6, -1.2}, {2.5, -3}, {-7, 6}, {15, 12}})
        expect_score_is_gradient_of_log_value(*law, x);
    }
  const auto blob = named("blob");
  const auto law  = blob->transported(0.9, 0.05);
  for (const std::vector<double> &x :
       {std::vector<double>{0.1, 0.2}, {0.6, 0.7}, {-1.9, 2.4}, {-5, -5}, {30, -12}})
    expect_score_is_gradient_of_log_value(*law, x);
}

TEST(Scores, CheckerboardScoreIsTheGradientOfLogValue)
{
  const double m = 0.8, v = 0.3;
  // z2 = 30 for the right-most column: where log Q switches to its asymptotic series.
  const double switch_point = 3 * m + 30 * std::sqrt(v);
  const auto   board2       = named("checkerboard")->transported(m, v);
  for (const std::vector<double> &x : {std::vector<double>{0.1, 0.2},
                                       {-2.1, 1.3},
                                       {1.2, 1.2},
                                       {0.0, -0.6},
                                       {6, -1},
                                       {-9, 14},
                                       {switch_point, 0.5},
                                       {-switch_point, -switch_point},
                                       {80, -60}})
    expect_score_is_gradient_of_log_value(*board2, x);

  const auto board3 = Checkerboard(3).transported(m, v);
  for (const std::vector<double> &x :
       {std::vector<double>{0.3, -0.4, 1.1}, {-2.0, 2.2, -0.7}, {5, -6, 0.2}, {-15, 2, 40}})
    expect_score_is_gradient_of_log_value(*board3, x);
}

TEST(Scores, CheckerboardScoreIsZeroWithoutBlur)
{
  const auto   p0    = named("checkerboard")->transported(1, 0);
  const double on[2] = {-2.25, -2.25}, out[2] = {7, 1};
  double       s_on[2] = {1, 1}, s_out[2] = {1, 1};
  p0->score(on, s_on);
  p0->score(out, s_out);
  EXPECT_EQ(s_on[0], 0.0);
  EXPECT_EQ(s_on[1], 0.0);
  EXPECT_EQ(s_out[0], 0.0);
  EXPECT_EQ(s_out[1], 0.0);
  EXPECT_NEAR(p0->log_value(on), std::log(1.0 / 18), 1e-14);
  EXPECT_EQ(p0->log_value(out), -std::numeric_limits<double>::infinity());
}

TEST(Scores, LogValueIsTheLogarithmOfValue)
{
  const GaussianMixture g     = full_covariance_mixture();
  const auto            law   = g.transported(0.7, 0.2);
  const auto            blob  = named("blob")->transported(1, 0);
  const auto            board = named("checkerboard")->transported(0.8, 0.3);
  const auto            cube  = Checkerboard(3).transported(0.6, 0.5);
  for (const std::vector<double> &x :
       {std::vector<double>{0.1, 0.2}, {-0.8, 0.4}, {2.5, -3}, {-5, 4}, {-7, 6}})
    {
      expect_log_value_is_log_of_value(g, x);
      expect_log_value_is_log_of_value(*law, x);
      expect_log_value_is_log_of_value(*blob, x);
      expect_log_value_is_log_of_value(*board, x);
    }
  for (const std::vector<double> &x :
       {std::vector<double>{0.1, 0.2, -0.3}, {1.7, -2.2, 0.4}, {6, 0, -7}})
    expect_log_value_is_log_of_value(*cube, x);
}

TEST(Scores, MixtureIsFiniteAndFollowsTheNearestComponentFarInTheTails)
{
  // Every component underflows at |x| = 50 with variance 0.08; the nearest mean,
  // (1, 1) with the smallest |x - mu|, dominates by a factor exp(-98 / 0.16).
  const double          var = 0.08;
  const GaussianMixture g(2, {0.3, 0.7}, {0, 0, 1, 1}, {var, var});
  const double          x[2] = {50, 0};
  EXPECT_EQ(g.value(x), 0.0);
  const double dominant =
      std::log(0.7) - std::log(2 * M_PI * var) - (49.0 * 49.0 + 1.0) / (2 * var);
  EXPECT_NEAR(g.log_value(x), dominant, 1e-12 * std::abs(dominant));
  double s[2];
  g.score(x, s);
  EXPECT_NEAR(s[0], -(50 - 1) / var, 1e-12 * 49 / var);
  EXPECT_NEAR(s[1], -(0 - 1) / var, 1e-12 * 49 / var);

  // Full covariances, |x| = 50 along a diagonal: still finite and equal to central
  // differences of log_value.
  const GaussianMixture h    = full_covariance_mixture();
  const double          y[2] = {-50 / std::sqrt(2.0), 50 / std::sqrt(2.0)};
  EXPECT_EQ(h.value(y), 0.0);
  EXPECT_TRUE(std::isfinite(h.log_value(y)));
  expect_score_is_gradient_of_log_value(h, {y[0], y[1]});
}

TEST(Scores, CheckerboardIsFiniteAndAccurateFarInTheTails)
{
  // 1D: cells [-3, -1.5] and [0, 1.5]. At x = 100 with v = 0.1 only the upper tail of
  // the right cell counts: p = (1/2) (Q(z2) - Q(z1)) / 1.5 with z2 = 98.5 / sqrt(0.1).
  const double sd  = std::sqrt(0.1);
  const auto   law = Checkerboard(1).transported(1, 0.1);
  for (const double sign : {1.0, -1.0})
    {
      const double x = sign * 100;
      const double z = sign > 0 ? (100 - 1.5) / sd : (100 - 3) / sd; // nearest edge
      EXPECT_EQ(law->value(&x), 0.0);
      // log Q(z) = -z^2/2 - log(z sqrt(2 pi)) + log(1 - 1/z^2 + 3/z^4 - ...), and the
      // far edge adds a factor 1 - exp(-O(1000)) = 1.
      const double expected = std::log(0.5 / 1.5) - 0.5 * z * z -
                              std::log(z * std::sqrt(2 * M_PI)) +
                              std::log1p(-1 / (z * z) + 3 / (z * z * z * z));
      EXPECT_NEAR(law->log_value(&x), expected, 1e-13 * std::abs(expected));
      // Score = -phi(z) / (sd Q(z)) = -(z + 1/z - 2/z^3 + ...) / sd: (x - edge)/v to 1e-5.
      double s;
      law->score(&x, &s);
      EXPECT_NEAR(s, -sign * (z + 1 / z - 2 / (z * z * z)) / sd, 1e-12 * z / sd);
    }

  // Against a long-double reference across the switch to the asymptotic series
  // (z = 30) and where double erfc underflows (z > 37).
  const double m = 1.2, v = 0.25;
  const auto   board = Checkerboard(1).transported(m, v);
  for (const double z : {5.0, 20.0, 29.999, 30.001, 37.0, 40.0, 60.0, 100.0})
    for (const double x : {1.5 * m + z * std::sqrt(v), -3 * m - z * std::sqrt(v)})
      {
        const double reference = std::log(checkerboard_1d_reference(x, m, v));
        EXPECT_NEAR(board->log_value(&x), reference, 1e-14 * std::abs(reference))
            << "z = " << z << ", x = " << x;
        expect_score_is_gradient_of_log_value(*board, {x});
      }
}

TEST(SmoothedData, SmoothedMixtureIsTheMixtureWithCovariancePlusSI)
{
  const std::vector<double> weights{0.25, 0.75}, means{-1, 0.5, 1, 0},
      covariances{0.2, 0.05, 0.05, 0.1, 0.3, 0, 0, 0.3};
  DataParameters p                = DataParameters::gaussian_mixture(weights, means, covariances);
  p.smoothing_variance            = 0.01;
  const auto            smoothed  = create_data(p, 2);
  const GaussianMixture plain(2, weights, means, covariances);
  const GaussianMixture widened(2, weights, means, {0.21, 0.05, 0.05, 0.11, 0.31, 0, 0, 0.31});

  EXPECT_EQ(smoothed->description(),
            "Gaussian mixture with 2 components, smoothed by N(0, 0.01 I)");
  EXPECT_NEAR(smoothed->scale(), std::sqrt(plain.scale() * plain.scale() + 0.01), 1e-15);
  EXPECT_NEAR(smoothed->scale(), widened.scale(), 1e-15);
  const auto mean = smoothed->mean(), covariance = smoothed->covariance();
  const auto wide_mean = widened.mean(), wide_covariance = widened.covariance();
  for (unsigned int i = 0; i < 2; ++i)
    EXPECT_NEAR(mean[i], wide_mean[i], 1e-15);
  for (unsigned int i = 0; i < 4; ++i)
    EXPECT_NEAR(covariance[i], wide_covariance[i], 1e-15);

  for (const auto &[m, v] : {std::pair{1.0, 0.0}, std::pair{0.6, 0.4}})
    {
      const auto a = smoothed->transported(m, v), b = widened.transported(m, v);
      for (const std::vector<double> &x : {std::vector<double>{0.1, 0.2}, {-1.3, 0.9}, {3, -2}})
        {
          EXPECT_NEAR(a->value(x.data()), b->value(x.data()), 1e-14 * b->value(x.data()));
          double sa[2], sb[2];
          a->score(x.data(), sa);
          b->score(x.data(), sb);
          for (unsigned int j = 0; j < 2; ++j)
            EXPECT_NEAR(sa[j], sb[j], 1e-13 * std::max(1.0, std::abs(sb[j])));
        }
    }
  // Smoothing changes the law: the unsmoothed mixture differs.
  const double x[2] = {1.0, 0.0};
  EXPECT_GT(std::abs(plain.value(x) - smoothed->transported(1, 0)->value(x)), 1e-3);

  // The checkerboard: smoothed by s, transported with (m, v) = blurred by v + m^2 s.
  DataParameters c;
  c.type               = "checkerboard";
  c.smoothing_variance = 0.05;
  const auto   board   = create_data(c, 2);
  const auto   blurred = Checkerboard(2).transported(0.8, 0.3 + 0.64 * 0.05);
  const double y[2]    = {1.4, -0.2};
  EXPECT_NEAR(board->transported(0.8, 0.3)->log_value(y), blurred->log_value(y), 1e-14);
  EXPECT_NEAR(board->covariance()[0], 3.0 + 0.05, 1e-14);
  EXPECT_NEAR(board->covariance()[1], 0.5625, 1e-14);
}

TEST(SmoothedData, RejectsNegativeOrNonFiniteVariances)
{
  DataParameters p;
  p.type = "blob";
  for (const double s :
       {-0.1, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()})
    {
      p.smoothing_variance = s;
      EXPECT_THROW(create_data(p, 2), InputError) << s;
    }
  p.smoothing_variance = 0;
  EXPECT_EQ(create_data(p, 2)->description(), "Gaussian mixture with 9 components");
}

TEST(MomentMatching, MixturesMatchTheirMeanAndCovarianceComputedByHand)
{
  // Blob: means 0.65 q_k over 9 points, covariance 0.0845 I.
  const double q[9][2] = {
      {-2, -2}, {-2, 2}, {2, -2}, {2, 2}, {0, 0}, {-4, 0}, {4, 0}, {0, -4}, {0, 4}};
  double mean[2] = {0, 0}, second[4] = {0, 0, 0, 0};
  for (const auto &p : q)
    for (unsigned int i = 0; i < 2; ++i)
      {
        mean[i] += 0.65 * p[i] / 9;
        for (unsigned int j = 0; j < 2; ++j)
          second[2 * i + j] += 0.65 * 0.65 * p[i] * p[j] / 9;
      }
  const auto blob      = named("blob");
  const auto blob_mean = blob->mean(), blob_covariance = blob->covariance();
  for (unsigned int i = 0; i < 2; ++i)
    for (unsigned int j = 0; j < 2; ++j)
      EXPECT_NEAR(blob_covariance[2 * i + j],
                  second[2 * i + j] - mean[i] * mean[j] + (i == j ? 0.0845 : 0.0),
                  1e-14);
  EXPECT_NEAR(blob_covariance[0], 0.65 * 0.65 * 48 / 9 + 0.0845, 1e-14);
  EXPECT_NEAR(blob_mean[0], 0.0, 1e-15);

  const double m = 0.6, v = 0.4;
  {
    const auto matched = blob->moment_matched(m, v);
    const auto gauss   = dynamic_cast<const GaussianMixture *>(matched.get());
    ASSERT_NE(gauss, nullptr);
    const double c = m * m * (0.65 * 0.65 * 48 / 9 + 0.0845) + v;
    EXPECT_NEAR(gauss->covariance()[0], c, 1e-14);
    EXPECT_NEAR(gauss->covariance()[1], 0.0, 1e-14);
    EXPECT_NEAR(gauss->covariance()[3], c, 1e-14);
    const double x[2] = {1.1, -0.7};
    double       s[2];
    matched->score(x, s);
    EXPECT_NEAR(s[0], -x[0] / c, 1e-14);
    EXPECT_NEAR(s[1], -x[1] / c, 1e-14);
    EXPECT_NEAR(matched->value(x),
                std::exp(-(x[0] * x[0] + x[1] * x[1]) / (2 * c)) / (2 * M_PI * c),
                1e-15);
  }

  // Two correlated components, weights 1/4, 3/4, means (-1, 0.5), (1, 0):
  // mean (0.5, 0.125); covariance sum_k w_k (Sigma_k + (mu_k - mu)(mu_k - mu)^T).
  GaussianMixture g(2, {0.25, 0.75}, {-1, 0.5, 1, 0}, {0.2, 0.05, 0.05, 0.1, 0.3, 0, 0, 0.3});
  const double    mu[2] = {0.5, 0.125}, cov[4] = {1.025, -0.175, -0.175, 0.296875};
  for (unsigned int i = 0; i < 2; ++i)
    EXPECT_NEAR(g.mean()[i], mu[i], 1e-15);
  for (unsigned int i = 0; i < 4; ++i)
    EXPECT_NEAR(g.covariance()[i], cov[i], 1e-15);
  const auto   matched = g.moment_matched(m, v);
  const double c[4]    = {m * m * cov[0] + v, m * m * cov[1], m * m * cov[2], m * m * cov[3] + v};
  const double det     = c[0] * c[3] - c[1] * c[2];
  const double x[2] = {0.9, -0.6}, r[2] = {x[0] - m * mu[0], x[1] - m * mu[1]};
  double       s[2];
  matched->score(x, s);
  EXPECT_NEAR(s[0], -(c[3] * r[0] - c[1] * r[1]) / det, 1e-14);
  EXPECT_NEAR(s[1], -(-c[2] * r[0] + c[0] * r[1]) / det, 1e-14);
  const double quadratic = (c[3] * r[0] * r[0] - 2 * c[1] * r[0] * r[1] + c[0] * r[1] * r[1]) / det;
  EXPECT_NEAR(matched->value(x), std::exp(-quadratic / 2) / (2 * M_PI * std::sqrt(det)), 1e-14);
}

TEST(MomentMatching, CheckerboardMatchesQuadratureOfTheForwardLaw)
{
  // The moment-matched Gaussian at (m, v) has the mean and covariance of the forward
  // law m X0 + sqrt(v) Z, which the midpoint rule computes to near round-off.
  const double m = 0.8, v = 0.3;
  for (const unsigned int d : {1u, 2u, 3u})
    {
      const Checkerboard board(d);
      const auto         law     = board.transported(m, v);
      const auto         moments = quadrature_moments(*law, d, 7, d == 3 ? 56 : 70);
      const auto         matched = board.moment_matched(m, v);
      const auto         gauss   = dynamic_cast<const GaussianMixture *>(matched.get());
      ASSERT_NE(gauss, nullptr);
      EXPECT_NEAR(moments.mass, 1.0, 1e-12);
      for (unsigned int i = 0; i < d; ++i)
        EXPECT_NEAR(gauss->mean()[i], moments.mean[i], 1e-11) << "d = " << d;
      for (unsigned int i = 0; i < d * d; ++i)
        EXPECT_NEAR(gauss->covariance()[i], moments.covariance[i], 1e-11) << "d = " << d;
    }
  // The 1D board is not centred (cells [-3,-1.5], [0,1.5]); the 2D board is correlated.
  EXPECT_NEAR(Checkerboard(1).mean()[0], -0.75, 1e-15);
  EXPECT_NEAR(Checkerboard(2).covariance()[1], 0.5625, 1e-15);
}

TEST(MomentMatching, SingularCovarianceIsAnInputErrorUnlessBlurred)
{
  const OnTheDiagonal line;
  EXPECT_THROW(line.moment_matched(1, 0), InputError);
  const auto   matched = line.moment_matched(2, 0.5);
  const double x[2]    = {2, 4}; // the mean m (1, 2): the score vanishes there
  double       s[2];
  matched->score(x, s);
  EXPECT_NEAR(s[0], 0.0, 1e-15);
  EXPECT_NEAR(s[1], 0.0, 1e-15);
}
