// The PF-ODE log-likelihood by characteristics (likelihood/likelihood.h): the closed-form
// divergence of mixture scores against finite differences; started from the exact p_T
// the ODE's law is p_eps (blob, VP); from the prior, Gaussian data follow Pierret &
// Galerne's ODE-induced law N(0, c lambda_eps / lambda_T) (MATH.md section 3) for VP,
// VE (sigma max = 50) and OU; results do not depend on how the points are split; a
// perturbed score moves log q; a score without divergence is one sentence.
#include <scorefp/core/input_error.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/likelihood/likelihood.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/score_source/score_source.h>

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

using namespace scorefp;

namespace
{
  std::unique_ptr<ForwardProcess> process_named(const std::string &type)
  {
    ProcessParameters p;
    p.type = type;
    if (type == "VE")
      p.set("sigma max", 50.0);
    return create_process(p);
  }

  GaussianMixture blob()
  {
    const double q[9][2] = {
        {-2, -2}, {-2, 2}, {2, -2}, {2, 2}, {0, 0}, {-4, 0}, {4, 0}, {0, -4}, {0, 4}};
    std::vector<double> weights, means, covariances;
    for (const auto &c : q)
      {
        weights.push_back(1.0);
        means.push_back(0.65 * c[0]);
        means.push_back(0.65 * c[1]);
        covariances.push_back(0.0845);
      }
    return GaussianMixture(2, weights, means, covariances);
  }

  std::vector<double> random_points(const std::size_t n, const unsigned int d, const double scale)
  {
    std::mt19937_64                  rng(42);
    std::normal_distribution<double> normal(0.0, scale);
    std::vector<double>              x(n * d);
    for (double &v : x)
      v = normal(rng);
    return x;
  }

  /// The largest |log q_eps - log p_eps| at the points for the PF-ODE of `score` started
  /// from the exact p_T of the data, and the score evaluations it took.
  std::pair<double, unsigned long long>
  largest_log_ratio_from_exact_start(const ScoreModel          &score,
                                     const ForwardProcess      &process,
                                     const DataDistribution    &data,
                                     LikelihoodParameters       p,
                                     const std::vector<double> &x)
  {
    p.start        = LikelihoodParameters::Start::exact;
    const double T = process.final_time;
    const auto   start =
        data.transported(process.transition_mean_factor(T), process.transition_variance(T));
    const auto           exact = data.transported(process.transition_mean_factor(p.time),
                                        process.transition_variance(p.time));
    const unsigned int   d     = data.dimension();
    const FlowLikelihood r =
        flow_log_likelihood(score, process, start.get(), p, x.data(), x.size() / d);
    double largest = 0.0;
    for (std::size_t i = 0; i < x.size() / d; ++i)
      largest = std::max(largest, std::abs(r.log_q[i] - exact->log_value(&x[d * i])));
    return {largest, r.evaluations};
  }

  class NoDivergence : public ScoreModel
  {
  public:
    unsigned int dimension() const override { return 1; }
    void         evaluate(double, const double *x, std::size_t n, double *s) const override
    {
      for (std::size_t i = 0; i < n; ++i)
        s[i] = -x[i];
    }
    std::string description() const override { return "a table without derivatives"; }
  };
} // namespace

TEST(Likelihood, MixtureScoreDivergenceMatchesFiniteDifferences)
{
  // A 3D mixture with full covariances, and the blob far in its tails.
  const GaussianMixture mixture(
      3,
      {1.0, 2.0},
      {0.5, -1.0, 0.3, -0.7, 0.8, 1.1},
      {1.0, 0.3, 0.1, 0.3, 0.8, -0.2, 0.1, -0.2, 0.6, 0.4, 0.0, 0.1, 0.0, 0.9, 0.2, 0.1, 0.2, 1.3});
  const auto transported = mixture.transported(0.7, 0.4);
  for (const auto &x : std::vector<std::vector<double>>{{0, 0, 0}, {1.2, -0.4, 2.0}, {-3, 2, 1}})
    {
      double              divergence = 0, fd = 0;
      std::vector<double> s(3), plus(3), minus(3);
      ASSERT_TRUE(transported->score_divergence(x.data(), s.data(), divergence));
      transported->score(x.data(), plus.data());
      for (unsigned int j = 0; j < 3; ++j)
        EXPECT_NEAR(s[j], plus[j], 1e-14 * (1 + std::abs(s[j])));
      const double h = 1e-5;
      for (unsigned int j = 0; j < 3; ++j)
        {
          std::vector<double> xp = x, xm = x;
          xp[j] += h;
          xm[j] -= h;
          transported->score(xp.data(), plus.data());
          transported->score(xm.data(), minus.data());
          fd += (plus[j] - minus[j]) / (2 * h);
        }
      EXPECT_NEAR(divergence, fd, 1e-7 * (1 + std::abs(fd)));
    }
  const auto   far  = blob().transported(0.9, 0.05);
  const double x[2] = {40.0, -25.0};
  double       s[2], divergence;
  ASSERT_TRUE(far->score_divergence(x, s, divergence));
  // Far out the nearest component dominates: div s -> -2 / (m^2 sigma^2 + v).
  EXPECT_NEAR(divergence, -2.0 / (0.81 * 0.0845 + 0.05), 1e-9);
}

TEST(Likelihood, ExactStartGivesTheExactLawOfTheBlob)
{
  const auto            process = process_named("VP");
  const GaussianMixture data    = blob();
  const auto            score   = exact_score(*process, data);
  LikelihoodParameters  p;
  p.time               = 1e-3;
  p.relative_tolerance = 1e-10;
  p.absolute_tolerance = 1e-12;
  p.batch_size         = 16;
  const auto [worst, evaluations] =
      largest_log_ratio_from_exact_start(*score, *process, data, p, random_points(64, 2, 1.5));
  EXPECT_LT(worst, 1e-6);
  EXPECT_GT(evaluations, 0u);
}

TEST(Likelihood, PriorStartFollowsTheOdeInducedGaussianLaw)
{
  // Gaussian data N(0, diag(0.5, 2)) from the prior N(0, c I), c = v(T): the ODE-induced
  // law at eps is N(0, c lambda_eps / lambda_T) per coordinate.
  for (const std::string type : {"VP", "VE", "OU"})
    {
      const auto             process = process_named(type);
      const DiagonalGaussian data({0.0, 0.0}, {0.5, 2.0});
      const auto             score = exact_score(*process, data);
      LikelihoodParameters   p;
      p.time                      = type == "VE" ? 1e-2 : 1e-3;
      p.relative_tolerance        = 1e-10;
      p.absolute_tolerance        = 1e-12;
      const double              c = process->transition_variance(1.0);
      const std::vector<double> x = random_points(32, 2, 1.0);
      const FlowLikelihood      r = flow_log_likelihood(*score, *process, nullptr, p, x.data(), 32);
      double                    worst = 0.0;
      for (std::size_t i = 0; i < 32; ++i)
        {
          double log_q = 0.0;
          for (unsigned int j = 0; j < 2; ++j)
            {
              const double lambda   = j == 0 ? 0.5 : 2.0;
              const auto   lambda_t = [&](const double t) {
                const double m = process->transition_mean_factor(t);
                return m * m * lambda + process->transition_variance(t);
              };
              const double variance = c * lambda_t(p.time) / lambda_t(1.0);
              log_q -=
                  0.5 * (x[2 * i + j] * x[2 * i + j] / variance + std::log(2 * M_PI * variance));
            }
          worst = std::max(worst, std::abs(r.log_q[i] - log_q));
        }
      EXPECT_LT(worst, 1e-6) << type;
    }
}

TEST(Likelihood, ResultsDoNotDependOnHowThePointsAreSplit)
{
  const auto            process = process_named("VP");
  const GaussianMixture data    = blob();
  const auto            score   = exact_score(*process, data);
  LikelihoodParameters  p;
  p.batch_size                  = 64;
  const std::vector<double> x   = random_points(300, 2, 1.5);
  const FlowLikelihood      all = flow_log_likelihood(*score, *process, nullptr, p, x.data(), 300);
  const FlowLikelihood head = flow_log_likelihood(*score, *process, nullptr, p, x.data(), 128, 0);
  const FlowLikelihood tail =
      flow_log_likelihood(*score, *process, nullptr, p, x.data() + 2 * 128, 172, 128);
  for (std::size_t i = 0; i < 300; ++i)
    EXPECT_EQ(all.log_q[i], i < 128 ? head.log_q[i] : tail.log_q[i - 128]) << i;
}

TEST(Likelihood, PerturbedScoreMovesTheLawAndDivergenceMatches)
{
  const auto            process   = process_named("VP");
  const GaussianMixture data      = blob();
  const auto            perturbed = perturbed_score(exact_score(*process, data), 0.5, 1.0);
  ASSERT_TRUE(perturbed->has_divergence());
  // Its divergence against finite differences of its values.
  const double x[2] = {0.4, -0.9}, h = 1e-5, t = 0.3;
  double       s[2], divergence, fd            = 0.0;
  perturbed->evaluate_divergence(t, x, 1, s, &divergence);
  for (unsigned int j = 0; j < 2; ++j)
    {
      double xp[2] = {x[0], x[1]}, xm[2] = {x[0], x[1]}, sp[2], sm[2];
      xp[j] += h;
      xm[j] -= h;
      perturbed->evaluate(t, xp, 1, sp);
      perturbed->evaluate(t, xm, 1, sm);
      fd += (sp[j] - sm[j]) / (2 * h);
    }
  EXPECT_NEAR(divergence, fd, 1e-6);
  const double largest =
      largest_log_ratio_from_exact_start(
          *perturbed, *process, data, LikelihoodParameters(), random_points(16, 2, 1.0))
          .first;
  EXPECT_GT(largest, 1e-2);
}

TEST(Likelihood, ScoreWithoutDivergenceIsOneSentence)
{
  const auto           process = process_named("VP");
  NoDivergence         score;
  LikelihoodParameters p;
  const double         x = 0.3;
  try
    {
      flow_log_likelihood(score, *process, nullptr, p, &x, 1);
      FAIL() << "expected an InputError";
    }
  catch (const InputError &e)
    {
      EXPECT_NE(std::string(e.what()).find("a table without derivatives has no divergence"),
                std::string::npos)
          << e.what();
    }
}
