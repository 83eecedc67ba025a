// The empirical law's kernel (solver/source/data/empirical_law.h): the k-d tree's
// truncated sums against the sum over every point, normalisation, the score and its
// divergence against finite differences, the memorisation limit, the far tails, and
// concurrent calls.
#include <scorefp/data/data_distribution.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

// A library-internal header (solver/source is on the tests' include path).
#include "data/empirical_law.h"

using namespace scorefp;

namespace
{
  // N points in R^d from a mixture of four Gaussians (standard deviation 0.6) whose
  // centres are at +-2 in the first two coordinates: spread over about [-4, 4]^d.
  std::vector<double> draw_points(const std::size_t N, const unsigned int d, const unsigned seed)
  {
    std::mt19937_64                  rng(seed);
    std::normal_distribution<double> normal;
    std::uniform_int_distribution<>  component(0, 3);
    std::vector<double>              y(N * d);
    for (std::size_t i = 0; i < N; ++i)
      {
        const int c = component(rng);
        for (unsigned int k = 0; k < d; ++k)
          {
            const double centre = k == 0   ? (c % 2 ? 2.0 : -2.0)
                                  : k == 1 ? (c / 2 ? 2.0 : -2.0)
                                           : 0.0;
            y[i * d + k]        = centre + 0.6 * normal(rng);
          }
      }
    return y;
  }

  double max_norm(const std::vector<double> &y, const unsigned int d)
  {
    double result = 0;
    for (std::size_t i = 0; i < y.size() / d; ++i)
      {
        double r = 0;
        for (unsigned int k = 0; k < d; ++k)
          r += y[i * d + k] * y[i * d + k];
        result = std::max(result, std::sqrt(r));
      }
    return result;
  }

  // 200 query points: 140 drawn from the law itself (x = m y_j + sqrt(v) z), 30 uniform
  // in [-8, 8]^d, 30 at distance 30 from the origin in random directions (far tails).
  std::vector<double> query_points(const std::vector<double> &y,
                                   const unsigned int         d,
                                   const double               m,
                                   const double               v,
                                   const unsigned             seed)
  {
    std::mt19937_64                            rng(seed);
    std::normal_distribution<double>           normal;
    std::uniform_real_distribution<double>     uniform(-8, 8);
    std::uniform_int_distribution<std::size_t> pick(0, y.size() / d - 1);
    std::vector<double>                        x(200 * d);
    for (unsigned int q = 0; q < 200; ++q)
      {
        double *p = &x[q * d];
        if (q < 140)
          {
            const std::size_t j = pick(rng);
            for (unsigned int k = 0; k < d; ++k)
              p[k] = m * y[j * d + k] + std::sqrt(v) * normal(rng);
          }
        else if (q < 170)
          for (unsigned int k = 0; k < d; ++k)
            p[k] = uniform(rng);
        else
          {
            double r = 0;
            for (unsigned int k = 0; k < d; ++k)
              {
                p[k] = normal(rng);
                r += p[k] * p[k];
              }
            for (unsigned int k = 0; k < d; ++k)
              p[k] *= 30 / std::sqrt(r);
          }
      }
    return x;
  }

  // The indexed path against brute force at 200 query points, with the tolerances:
  //   log p:  1e-12 max(1, |log p|)                      (relative; absolute near log p = 0)
  //   D:      1e-12 max_i |y_i|                          (absolute, on the data's scale)
  //   score:  1e-12 (m max_i |y_i| + |x|) / v            (the round-off of (m D - x) / v)
  //   trace:  1e-12 tr + e^-40 diam^2                    (relative, plus the truncation's
  //                                                       bound: the points left out weigh
  //                                                       at most e^-40 in all)
  //   div:    (m^2 / v^2) tol(trace) + 1e-12 d / v
  void expect_tree_matches_brute_force(const unsigned int d, const std::size_t N, const double v)
  {
    const double m      = 0.8;
    const auto   y      = draw_points(N, d, 17 + d);
    const double y_max  = max_norm(y, d);
    const auto   points = std::make_shared<const EmpiricalPoints>(d, y);
    ASSERT_EQ(points->size(), N);
    ASSERT_EQ(points->dimension(), d);
    const EmpiricalMixture law(points, m, v);
    const auto             x = query_points(y, d, m, v, 99 + d);

    double diameter_squared = 0;
    for (unsigned int k = 0; k < d; ++k)
      diameter_squared += std::pow(points->upper_corner()[k] - points->lower_corner()[k], 2);

    std::vector<double> D(d), D_ref(d), s(d), s_fast(d);
    std::size_t         summed = 0;
    for (unsigned int q = 0; q < 200; ++q)
      {
        const double *p = &x[q * d];
        double        log_p, log_p_ref, trace, trace_ref, divergence;
        law.evaluate(p, log_p, D.data(), &trace);
        law.evaluate_brute_force(p, log_p_ref, D_ref.data(), &trace_ref);
        ASSERT_TRUE(law.score_divergence(p, s.data(), divergence));
        law.score(p, s_fast.data());
        summed += law.truncation_count(p);

        double x_norm = 0;
        for (unsigned int k = 0; k < d; ++k)
          x_norm += p[k] * p[k];
        x_norm = std::sqrt(x_norm);

        ASSERT_TRUE(std::isfinite(log_p_ref)) << "q = " << q;
        EXPECT_NEAR(log_p, log_p_ref, 1e-12 * std::max(1.0, std::abs(log_p_ref)))
            << "d = " << d << ", v = " << v << ", q = " << q;
        EXPECT_EQ(law.log_value(p), log_p);
        const double score_tolerance = 1e-12 * (m * y_max + x_norm) / v;
        for (unsigned int k = 0; k < d; ++k)
          {
            EXPECT_NEAR(D[k], D_ref[k], 1e-12 * y_max)
                << "d = " << d << ", v = " << v << ", q = " << q;
            const double s_ref = (m * D_ref[k] - p[k]) / v;
            EXPECT_NEAR(s[k], s_ref, score_tolerance)
                << "d = " << d << ", v = " << v << ", q = " << q;
            EXPECT_EQ(s_fast[k], s[k]);
          }
        const double trace_tolerance = 1e-12 * trace_ref + std::exp(-40.0) * diameter_squared;
        EXPECT_NEAR(trace, trace_ref, trace_tolerance)
            << "d = " << d << ", v = " << v << ", q = " << q;
        EXPECT_GE(trace_ref, 0.0);
        const double divergence_ref = m * m / (v * v) * trace_ref - d / v;
        EXPECT_NEAR(divergence, divergence_ref, m * m / (v * v) * trace_tolerance + 1e-12 * d / v)
            << "d = " << d << ", v = " << v << ", q = " << q;
      }
    // The tree must actually truncate at small v (and sum every point at large v).
    if (v <= 1e-2)
      {
        EXPECT_LT(summed, 200 * N / 2) << "d = " << d << ", v = " << v;
      }
    if (v >= 25)
      {
        EXPECT_EQ(summed, 200 * N) << "d = " << d << ", v = " << v;
      }
  }
} // namespace

TEST(EmpiricalLaw, TreeMatchesBruteForceIn2D)
{
  for (const double v : {1e-4, 1e-2, 1.0, 25.0})
    expect_tree_matches_brute_force(2, 10000, v);
}

TEST(EmpiricalLaw, TreeMatchesBruteForceIn1DAnd3D)
{
  for (const unsigned int d : {1u, 3u})
    for (const double v : {1e-4, 1e-2, 1.0, 25.0})
      expect_tree_matches_brute_force(d, 1000, v);
}

TEST(EmpiricalLaw, IntegratesToOneIn1D)
{
  // Trapezoid rule on [-20, 20], h = 1e-3: spectrally accurate for a smooth density that
  // vanishes at the ends.
  const auto points = std::make_shared<const EmpiricalPoints>(1, draw_points(7, 1, 3));
  for (const double v : {0.01, 0.3, 2.0})
    {
      const EmpiricalMixture law(points, 0.8, v);
      const double           L = 20, h = 1e-3;
      const int              n    = int(std::lround(2 * L / h));
      double                 mass = 0;
      for (int i = 0; i <= n; ++i)
        {
          const double x = -L + i * h;
          mass += (i == 0 || i == n ? 0.5 : 1.0) * h * law.value(&x);
        }
      EXPECT_NEAR(mass, 1.0, 1e-12) << "v = " << v;
    }
}

TEST(EmpiricalLaw, ScoreAndDivergenceAreTheFiniteDifferences)
{
  // Central differences with step h: error O(h^2) relative, plus round-off O(eps / h).
  for (const unsigned int d : {1u, 2u, 3u})
    for (const double v : {0.05, 0.5, 3.0})
      {
        const auto             y = draw_points(40, d, 5);
        const EmpiricalMixture law(std::make_shared<const EmpiricalPoints>(d, y), 0.8, v);
        const auto             x = query_points(y, d, 0.8, v, 7);
        for (unsigned int q = 0; q < 200; q += 10)
          {
            std::vector<double> p(&x[q * d], &x[q * d] + d), s(d), s_plus(d), s_minus(d);
            double              divergence, unused;
            law.score_divergence(p.data(), s.data(), divergence);
            const double h             = 1e-4 * std::sqrt(v);
            double       fd_divergence = 0, s_norm = 0;
            for (unsigned int k = 0; k < d; ++k)
              s_norm += s[k] * s[k];
            s_norm = std::sqrt(s_norm);
            for (unsigned int k = 0; k < d; ++k)
              {
                const double c        = p[k];
                p[k]                  = c + h;
                const double log_plus = law.log_value(p.data());
                law.score_divergence(p.data(), s_plus.data(), unused);
                p[k]                   = c - h;
                const double log_minus = law.log_value(p.data());
                law.score_divergence(p.data(), s_minus.data(), unused);
                p[k] = c;
                EXPECT_NEAR(
                    (log_plus - log_minus) / (2 * h), s[k], 1e-6 * (s_norm + 1 / std::sqrt(v)))
                    << "d = " << d << ", v = " << v << ", q = " << q;
                fd_divergence += (s_plus[k] - s_minus[k]) / (2 * h);
              }
            EXPECT_NEAR(fd_divergence, divergence, 1e-6 * (std::abs(divergence) + d / v))
                << "d = " << d << ", v = " << v << ", q = " << q;
          }
      }
}

TEST(EmpiricalLaw, MemorisesTheTrainingPointsAsVTendsToZero)
{
  // v = 1e-12: a point m y_j sees its neighbours with weights exp(-m^2 |y_i - y_j|^2 /
  // (2 v)), negligible unless |y_i - y_j| < 1e-5 (none of these points is that close).
  const unsigned int     d = 2;
  const auto             y = draw_points(10000, d, 23);
  const double           m = 0.8, v = 1e-12;
  const EmpiricalMixture law(std::make_shared<const EmpiricalPoints>(d, y), m, v);
  std::vector<double>    D(d);
  for (std::size_t j = 0; j < 10000; j += 50)
    {
      const double x[2] = {m * y[j * d], m * y[j * d + 1]};
      law.denoiser(x, D.data());
      for (unsigned int k = 0; k < d; ++k)
        EXPECT_NEAR(D[k], y[j * d + k], 1e-12) << "j = " << j;
    }
}

TEST(EmpiricalLaw, LogDensityIsAccurateFarInTheTails)
{
  // |x| = 50, v = 0.01: every exp(-|x - m y_i|^2 / (2 v)) underflows (exponents near
  // -1e5); log p against the log-sum-exp in long double over the three points.
  const std::vector<double> y = {0.5, -1.0, 1.5, 0.25, -2.0, 2.0};
  const double              m = 0.8, v = 0.01;
  const EmpiricalMixture    law(std::make_shared<const EmpiricalPoints>(2, y), m, v);
  for (const double angle : {0.0, 0.7, 2.0, 4.0})
    {
      const double x[2] = {50 * std::cos(angle), 50 * std::sin(angle)};
      long double  exponents[3], top = -1e300L;
      for (int i = 0; i < 3; ++i)
        {
          const long double a = x[0] - (long double)m * y[2 * i],
                            b = x[1] - (long double)m * y[2 * i + 1];
          exponents[i]        = -(a * a + b * b) / (2 * (long double)v);
          top                 = std::max(top, exponents[i]);
        }
      long double sum = 0;
      for (int i = 0; i < 3; ++i)
        sum += std::exp(exponents[i] - top);
      const long double expected =
          top + std::log(sum) - std::log(3.0L) - std::log(2 * 3.14159265358979323846264L * v);
      const double log_p = law.log_value(x);
      ASSERT_TRUE(std::isfinite(log_p));
      EXPECT_LT(log_p, -1e5);
      EXPECT_NEAR(log_p, double(expected), 1e-14 * std::abs(double(expected)));
      EXPECT_EQ(law.value(x), 0.0);
      std::vector<double> s(2);
      double              divergence;
      law.score_divergence(x, s.data(), divergence);
      EXPECT_TRUE(std::isfinite(s[0]) && std::isfinite(s[1]) && std::isfinite(divergence));
    }
}

TEST(EmpiricalLaw, ConcurrentCallsAgreeWithSerialOnes)
{
  const unsigned int     d = 2;
  const auto             y = draw_points(5000, d, 31);
  const EmpiricalMixture law(std::make_shared<const EmpiricalPoints>(d, y), 0.8, 0.01);
  const auto             x = query_points(y, d, 0.8, 0.01, 8);
  std::vector<double>    serial(200 * (d + 1)), parallel(200 * (d + 1));
  for (unsigned int q = 0; q < 200; ++q)
    law.score_divergence(&x[q * d], &serial[q * (d + 1)], serial[q * (d + 1) + d]);
  std::vector<std::thread> threads;
  for (unsigned int t = 0; t < 4; ++t)
    threads.emplace_back([&, t]() {
      for (unsigned int q = t; q < 200; q += 4)
        law.score_divergence(&x[q * d], &parallel[q * (d + 1)], parallel[q * (d + 1) + d]);
    });
  for (auto &thread : threads)
    thread.join();
  EXPECT_EQ(serial, parallel);
}

TEST(EmpiricalLaw, NearestAndBallQueriesUseTheGivenOrder)
{
  // The points are stored again in the tree's order; the queries answer with the
  // indices of the points as given, like a search over every point.
  for (const unsigned int d : {1u, 2u, 3u})
    {
      const auto            y = draw_points(3000, d, 41);
      const EmpiricalPoints points(d, y);
      EXPECT_EQ(points.points(), y);
      const auto                                  x = query_points(y, d, 1.0, 0.1, 43);
      std::vector<std::pair<std::size_t, double>> found;
      for (unsigned int q = 0; q < 200; q += 7)
        {
          const double                               *p = &x[q * d];
          std::vector<std::pair<double, std::size_t>> all(3000);
          for (std::size_t i = 0; i < 3000; ++i)
            {
              double r = 0;
              for (unsigned int k = 0; k < d; ++k)
                r += std::pow(p[k] - y[i * d + k], 2);
              all[i] = {r, i};
            }
          std::sort(all.begin(), all.end());
          double            distance_squared;
          const std::size_t nearest = points.nearest(p, distance_squared);
          EXPECT_EQ(nearest, all[0].second) << "d = " << d << ", q = " << q;
          EXPECT_NEAR(distance_squared, all[0].first, 1e-12 * (1 + all[0].first));
          // A radius halfway between two consecutive distances: no point on the edge.
          const double radius_squared = 0.5 * (all[99].first + all[100].first);
          points.within(p, radius_squared, found);
          std::vector<std::size_t> expected, got;
          for (std::size_t i = 0; i < 100; ++i)
            expected.push_back(all[i].second);
          for (const auto &f : found)
            got.push_back(f.first);
          std::sort(expected.begin(), expected.end());
          std::sort(got.begin(), got.end());
          EXPECT_EQ(got, expected) << "d = " << d << ", q = " << q;
        }
    }
}

TEST(EmpiricalLaw, RejectsBadInput)
{
  EXPECT_THROW(EmpiricalPoints(2, {}), std::invalid_argument);              // no point
  EXPECT_THROW(EmpiricalPoints(2, {1.0, 2.0, 3.0}), std::invalid_argument); // 1.5 points
  EXPECT_THROW(EmpiricalPoints(0, {1.0}), std::invalid_argument);           // dimension 0
  EXPECT_THROW(EmpiricalPoints(1, {1.0, NAN}), std::invalid_argument);      // not finite
  const auto points = std::make_shared<const EmpiricalPoints>(1, std::vector<double>{1.0});
  EXPECT_THROW(EmpiricalMixture(points, 0.8, 0.0), std::invalid_argument);
  EXPECT_THROW(EmpiricalMixture(points, 0.0, 1.0), std::invalid_argument);
  EXPECT_THROW(EmpiricalMixture(nullptr, 0.8, 1.0), std::invalid_argument);
}
