// The empirical law's kernel (solver/source/data/empirical_law.h): evaluations per
// second of log p and the score by the k-d tree's truncated sums and by the sum over
// every point, for N = 1e3, 1e4, 1e5 points in 2D (and N = 1e5 in 3D) and
// v = 1e-3 ... 1, with the mean number of points in the truncation ball and the largest
// difference between the two. Query points are drawn from the law itself,
// x = m y_j + sqrt(v) z. Each timing stops after `budget` seconds (at least 20
// evaluations), so that the whole run takes well under a minute.
//
//   build/bench/empirical_law_benchmark
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "data/empirical_law.h"

using namespace scorefp;

namespace
{
  constexpr double       m       = 0.8;
  constexpr unsigned int n_query = 4000;
  constexpr double       budget  = 1.0; // seconds per timing

  // A mixture of four Gaussians (standard deviation 0.6, centres at +-2 in the first two
  // coordinates), as in tests/data/unit_empirical_law.cc.
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

  struct Timing
  {
    double       per_second  = 0;
    unsigned int evaluations = 0;
  };

  // log p and the score at the query points in order, until all are done or the budget
  // is spent; results into log_p[q] and score[q d ..].
  template <typename Evaluate>
  Timing time_evaluations(const std::vector<double> &x,
                          const unsigned int         d,
                          const double               v,
                          const unsigned int         limit,
                          Evaluate                 &&evaluate,
                          std::vector<double>       &log_p,
                          std::vector<double>       &score)
  {
    using clock               = std::chrono::steady_clock;
    const auto          start = clock::now();
    std::vector<double> D(d);
    Timing              t;
    double              elapsed = 0;
    while (t.evaluations < limit)
      {
        const unsigned int q = t.evaluations;
        evaluate(&x[q * d], log_p[q], D.data());
        for (unsigned int k = 0; k < d; ++k)
          score[q * d + k] = (m * D[k] - x[q * d + k]) / v;
        ++t.evaluations;
        elapsed = std::chrono::duration<double>(clock::now() - start).count();
        if (t.evaluations >= 20 && elapsed > budget)
          break;
      }
    t.per_second = t.evaluations / elapsed;
    return t;
  }

  void row(const unsigned int d, const std::size_t N, const double v)
  {
    const auto             y      = draw_points(N, d, 1234 + d);
    const auto             points = std::make_shared<const EmpiricalPoints>(d, y);
    const EmpiricalMixture law(points, m, v);

    std::mt19937_64                            rng(42);
    std::normal_distribution<double>           normal;
    std::uniform_int_distribution<std::size_t> pick(0, N - 1);
    std::vector<double>                        x(n_query * d);
    for (unsigned int q = 0; q < n_query; ++q)
      {
        const std::size_t j = pick(rng);
        for (unsigned int k = 0; k < d; ++k)
          x[q * d + k] = m * y[j * d + k] + std::sqrt(v) * normal(rng);
      }

    std::vector<double> log_p(n_query), score(n_query * d), log_p_ref(n_query),
        score_ref(n_query * d);
    const Timing tree = time_evaluations(
        x,
        d,
        v,
        n_query,
        [&](const double *p, double &l, double *D) { law.evaluate(p, l, D, nullptr); },
        log_p,
        score);
    // Brute force on a subsample: about 4e6 point evaluations (40 queries at N = 1e5).
    const unsigned int brute_limit =
        std::min<unsigned int>(n_query, std::max<std::size_t>(20, 4000000 / N));
    const Timing brute = time_evaluations(
        x,
        d,
        v,
        brute_limit,
        [&](const double *p, double &l, double *D) { law.evaluate_brute_force(p, l, D, nullptr); },
        log_p_ref,
        score_ref);

    // Mean ball size over the tree's query points (not timed).
    double ball = 0;
    for (unsigned int q = 0; q < tree.evaluations; ++q)
      ball += law.truncation_count(&x[q * d]);
    ball /= tree.evaluations;

    // The largest differences where both ran: log p relative, the score relative to the
    // largest score.
    const unsigned int both             = std::min(tree.evaluations, brute.evaluations);
    double             log_p_difference = 0, score_difference = 0, score_max = 0;
    for (unsigned int q = 0; q < both; ++q)
      {
        log_p_difference =
            std::max(log_p_difference,
                     std::abs(log_p[q] - log_p_ref[q]) / std::max(1.0, std::abs(log_p_ref[q])));
        for (unsigned int k = 0; k < d; ++k)
          {
            score_difference =
                std::max(score_difference, std::abs(score[q * d + k] - score_ref[q * d + k]));
            score_max = std::max(score_max, std::abs(score_ref[q * d + k]));
          }
      }
    std::printf("| %u | %6zu | %5.0e | %9.1f | %5.1f%% | %10.0f | %5u | %10.0f | %5u | %8.1f "
                "| %7.1e | %7.1e |\n",
                d,
                N,
                v,
                ball,
                100.0 * ball / N,
                tree.per_second,
                tree.evaluations,
                brute.per_second,
                brute.evaluations,
                tree.per_second / brute.per_second,
                log_p_difference,
                score_difference / score_max);
    std::fflush(stdout);
  }
} // namespace

int
main()
{
  std::printf("Empirical law (1/N) sum_i N(m y_i, v I), m = %.1f, points from a mixture of four "
              "Gaussians over about [-4, 4]^d;\nlog p + score per query point x = m y_j + "
              "sqrt(v) z; truncation L = ln N + 40; at most %.0f s per timing.\n\n",
              m,
              budget);
  std::printf("| d | N | v | mean ball | ball/N | tree eval/s | (n) | brute eval/s | (n) | "
              "speed-up | max dlog p | max ds |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const std::size_t N : {1000, 10000, 100000})
    for (const double v : {1e-3, 1e-2, 1e-1, 1.0})
      row(2, N, v);
  for (const double v : {1e-3, 1e-2, 1e-1, 1.0})
    row(3, 100000, v);
  std::printf("\n(n): query points evaluated in the timing; max dlog p: largest |difference| "
              "of log p relative to max(1, |log p|), max ds: of a score component relative to "
              "the largest, over the queries both evaluated.\n");
  return 0;
}
