// The samplers against closed forms: the exact law of each scheme for Gaussian data
// converges at the scheme's order, agrees with 10^6 particles of the same scheme, and
// the particles do not depend on how they are split.
#include <scorefp/core/input_error.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/fe/quadrature_cloud.h>
#include <scorefp/sampling/sampling.h>
#include <scorefp/checker/statistics.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace scorefp;

namespace
{
  std::unique_ptr<ForwardProcess> vp()
  {
    ProcessParameters p;
    p.type = "VP";
    return create_process(p);
  }

  SamplerSettings settings(const ForwardProcess &process,
                           const std::string    &scheme,
                           const unsigned int    steps,
                           const double          epsilon,
                           const bool            start_exact,
                           const TimeGrid        grid = TimeGrid::uniform)
  {
    SamplerSettings s = settings_for_scheme(scheme);
    s.times         = make_time_grid(process, steps, grid, 7.0, epsilon);
    s.start_exact   = start_exact;
    s.data_spectrum = {0.5, 0.04};
    return s;
  }

  // W2 of the exact output law to p_epsilon: the discretisation error alone when the
  // sampler starts from the exact p_T.
  double discretisation_error(const std::string &scheme,
                              const unsigned int steps,
                              const TimeGrid     grid = TimeGrid::uniform)
  {
    const auto        process = vp();
    const DiagonalLaw data{{0.7, -0.3}, {0.5, 0.04}};
    const double      epsilon = 1e-2;
    const DiagonalLaw law =
        exact_law(*process, data, settings(*process, scheme, steps, epsilon, true, grid));
    return wasserstein2(law, forward_law(*process, data, epsilon));
  }
} // namespace

TEST(Sampling, TimeGrids)
{
  const auto                process = vp();
  const std::vector<double> uniform = make_time_grid(*process, 4, TimeGrid::uniform, 7, 0.2);
  EXPECT_DOUBLE_EQ(uniform.front(), 1.0);
  EXPECT_DOUBLE_EQ(uniform[1], 0.8);
  EXPECT_DOUBLE_EQ(uniform.back(), 0.2);
  // EDM: sigma_i^(1/rho) equally spaced between sigma(T) and sigma(epsilon).
  const std::vector<double> edm = make_time_grid(*process, 10, TimeGrid::edm, 7, 1e-3);
  ASSERT_EQ(edm.size(), 11u);
  const double a = std::pow(noise_level(*process, 1.0), 1.0 / 7);
  const double b = std::pow(noise_level(*process, 1e-3), 1.0 / 7);
  for (unsigned int i = 0; i <= 10; ++i)
    {
      EXPECT_NEAR(std::pow(noise_level(*process, edm[i]), 1.0 / 7), a + (b - a) * i / 10, 1e-9);
      if (i > 0)
        {
          EXPECT_LT(edm[i], edm[i - 1]);
        }
    }
}

// Weak order: W2 of the exact law to p_epsilon falls by 2^order per halving of h.
TEST(Sampling, ExactLawConvergesAtTheSchemeOrder)
{
  const std::vector<std::pair<std::string, double>> orders = {{"euler-maruyama", 1},
                                                         {"exponential-integrator", 1},
                                                         {"ddpm", 1},
                                                         {"ode-euler", 1},
                                                         {"ode-heun", 2},
                                                         {"edm-heun", 2},
                                                         {"ode-rk4", 4}};
  for (const auto &[scheme, order] : orders)
    {
      const unsigned int n     = order == 4 ? 20 : 200;
      const double       e1    = discretisation_error(scheme, n);
      const double       e2    = discretisation_error(scheme, 2 * n);
      const double       e4    = discretisation_error(scheme, 4 * n);
      const double       rate1 = std::log2(e1 / e2), rate2 = std::log2(e2 / e4);
      EXPECT_NEAR(rate2, order, 0.15 * order)
          << scheme << " errors " << e1 << " " << e2 << " " << e4 << ", rates "
          << rate1 << " " << rate2;
    }
}

// With the exact start and many steps every scheme approaches p_epsilon; from the
// prior N(0, v(T) I) the initialisation error of VP (m(T) ~ 7e-3) remains.
TEST(Sampling, ExactLawErrorSources)
{
  const auto        process = vp();
  const DiagonalLaw data{{0.7, -0.3}, {0.5, 0.04}};
  const DiagonalLaw target = forward_law(*process, data, 1e-3);
  const DiagonalLaw exact_start =
      exact_law(*process, data, settings(*process, "ode-rk4", 400, 1e-3, true));
  EXPECT_LT(wasserstein2(exact_start, target), 1e-7);
  const DiagonalLaw prior =
      exact_law(*process, data, settings(*process, "ode-rk4", 400, 1e-3, false));
  // The PF-ODE flow is affine: from N(0, v(T)) instead of N(m mu, m^2 lambda + v) its
  // output differs by the flow's slope times the start's mean and spread error.
  const double w2_prior = wasserstein2(prior, target);
  EXPECT_GT(w2_prior, 1e-4);
  EXPECT_LT(w2_prior, 2e-2);
  // A Gaussian started exactly stays Gaussian: the stochastic schemes converge too.
  const DiagonalLaw em =
      exact_law(*process, data, settings(*process, "euler-maruyama", 4000, 1e-3, true));
  EXPECT_LT(wasserstein2(em, target), 5e-3);
}

// The exact-law W2 of a scheme agrees with the W2 of 10^6 particles of the same scheme
// (1D: sorted particles against the data's Gaussian), within sampling error.
TEST(Sampling, ExactLawAgreesWithParticles)
{
  const auto        process = vp();
  const double      mu = 0.4, lambda = 0.3;
  GaussianMixture   data(1, {1.0}, {mu}, {lambda});
  const DiagonalLaw law0{{mu}, {lambda}};
  const auto        score = exact_score(*process, data);
  // A fine cloud of N(mu, lambda): the reference of the particle W2.
  QuadratureCloud cloud;
  cloud.dimension      = 1;
  const unsigned int M = 40001;
  const double       s = std::sqrt(lambda), h = 16 * s / (M - 1);
  for (unsigned int i = 0; i < M; ++i)
    {
      const double x = mu - 8 * s + i * h;
      cloud.points.push_back(x);
      cloud.weights.push_back(h * std::exp(-0.5 * (x - mu) * (x - mu) / lambda) /
                              std::sqrt(2 * M_PI * lambda));
      cloud.cells.push_back(0);
    }
  cloud.n_cells        = 1;
  const auto reference = statistics::Weighted1D::from_cloud(cloud);

  for (const std::string scheme : {"euler-maruyama",
                              "ddpm",
                              "exponential-integrator",
                              "ode-heun",
                              "edm-heun",
                              "predictor-corrector"})
    {
      // ddpm needs g^2 h < 1: beta(1) = 20 allows 21 steps and more.
      SamplerSettings set =
          settings(*process, scheme, scheme == "ddpm" ? 25 : 8, 1e-3, false);
      set.data_spectrum         = {lambda};
      const double        exact = wasserstein2(exact_law(*process, law0, set), law0);
      std::vector<double> x;
      run_particles(*process, data, *score, set, 0, 1000000, x);
      std::sort(x.begin(), x.end());
      const double particles = statistics::wasserstein_p(x, reference, 2.0);
      // Sampling noise of W2 at N = 10^6 is about 1e-3 here.
      EXPECT_NEAR(particles, exact, 3e-3 + 0.03 * exact)
          << scheme << ": exact law " << exact << ", particles " << particles;
      EXPECT_GT(exact, 0.01) << scheme << ": 8 steps should leave a visible error";
    }
}

// Particle i depends on (seed, i) only: any split across ranks gives the same samples.
TEST(Sampling, ParticlesDoNotDependOnTheSplit)
{
  const auto                        process = vp();
  std::unique_ptr<DataDistribution> data    = create_data(DataParameters{}, 2); // the blob
  const auto                        score   = exact_score(*process, *data);
  for (const std::string scheme : {"predictor-corrector", "ode-rk45"})
    {
      SamplerSettings     set = settings(*process, scheme, 20, 1e-3, true);
      std::vector<double> all, first, second;
      run_particles(*process, *data, *score, set, 0, 100, all);
      run_particles(*process, *data, *score, set, 0, 37, first);
      run_particles(*process, *data, *score, set, 37, 63, second);
      first.insert(first.end(), second.begin(), second.end());
      EXPECT_EQ(all, first) << scheme;
    }
}

// Adaptive RK45 against the exact PF-ODE flow of Gaussian data, which is affine:
// x_eps = m_eps mu + sqrt(var_eps / var_T) (x_T - m_T mu).
TEST(Sampling, Rk45FollowsTheExactFlow)
{
  const auto      process = vp();
  GaussianMixture data(1, {1.0}, {0.5}, {0.2});
  const auto      score = exact_score(*process, data);
  SamplerSettings set   = settings(*process, "ode-rk45", 10, 1e-3, true);
  set.rk45_relative     = 1e-8;
  set.rk45_absolute     = 1e-10;
  std::vector<double> start, end;
  SamplerSettings     none = set;
  none.times               = {1.0, 1.0}; // no step: the start itself
  run_particles(*process, data, *score, none, 0, 50, start);
  const SamplerCounters counters = run_particles(*process, data, *score, set, 0, 50, end);
  const DiagonalLaw     law0{{0.5}, {0.2}};
  const DiagonalLaw T = forward_law(*process, law0, 1.0), eps = forward_law(*process, law0, 1e-3);
  for (unsigned int i = 0; i < 50; ++i)
    {
      const double flow =
          eps.mean[0] + std::sqrt(eps.variance[0] / T.variance[0]) * (start[i] - T.mean[0]);
      EXPECT_NEAR(end[i], flow, 1e-6);
    }
  EXPECT_GT(counters.score_evaluations, 50u * 6);
}

// The perturbed score is the exact score plus grad phi, phi = A exp(-|x|^2 / (2 w^2)),
// and a larger amplitude moves the particles further from the exact-score ones.
TEST(Sampling, PerturbedScore)
{
  const auto      process = vp();
  GaussianMixture data(2, {1.0}, {0.3, -0.2}, {0.5, 0.1, 0.1, 0.4});
  const auto      exact     = exact_score(*process, data);
  const auto      perturbed = perturbed_score(exact_score(*process, data), 0.3, 0.8);
  const double    x[2]      = {0.4, -0.9};
  double          s[2], p[2];
  exact->evaluate(0.2, x, 1, s);
  perturbed->evaluate(0.2, x, 1, p);
  const double bump = 0.3 * std::exp(-0.5 * (0.16 + 0.81) / 0.64) / 0.64;
  EXPECT_NEAR(p[0], s[0] - bump * 0.4, 1e-14);
  EXPECT_NEAR(p[1], s[1] + bump * 0.9, 1e-14);

  SamplerSettings     set = settings(*process, "ode-heun", 50, 1e-3, true);
  std::vector<double> reference, small, large;
  run_particles(*process, data, *exact, set, 0, 200, reference);
  run_particles(
      *process, data, *perturbed_score(exact_score(*process, data), 0.01, 0.8), set, 0, 200, small);
  run_particles(
      *process, data, *perturbed_score(exact_score(*process, data), 0.1, 0.8), set, 0, 200, large);
  double d_small = 0.0, d_large = 0.0;
  for (std::size_t i = 0; i < reference.size(); ++i)
    {
      d_small += std::abs(small[i] - reference[i]);
      d_large += std::abs(large[i] - reference[i]);
    }
  EXPECT_GT(d_small, 0.0);
  // The deviation is linear in a small amplitude.
  EXPECT_NEAR(d_large / d_small, 10.0, 1.0);
}

// The log-SNR grid: lambda = -log sigma(t) equally spaced between T and epsilon.
TEST(Sampling, LogSnrTimeGrid)
{
  const auto                process = vp();
  const std::vector<double> grid    = make_time_grid(*process, 10, TimeGrid::log_snr, 7, 1e-3);
  ASSERT_EQ(grid.size(), 11u);
  EXPECT_DOUBLE_EQ(grid.front(), 1.0);
  EXPECT_DOUBLE_EQ(grid.back(), 1e-3);
  const double a = -std::log(noise_level(*process, 1.0));
  const double b = -std::log(noise_level(*process, 1e-3));
  for (unsigned int i = 0; i <= 10; ++i)
    EXPECT_NEAR(-std::log(noise_level(*process, grid[i])), a + (b - a) * i / 10, 1e-9);
  // Epsilon = start time has an infinite log-SNR: named, not a grid of NaNs.
  EXPECT_THROW(make_time_grid(*process, 10, TimeGrid::log_snr, 7, 0.0), InputError);
}

// DDIM and DPM-Solver++(2M) on their log-SNR grid (MATH.md section 4): N(0, 0.05) data,
// VP, exact start, epsilon = 1e-3; the exact law's W2 to p_epsilon falls at orders 1
// and 2.
TEST(Sampling, DdimAndDpmSolverConvergeAtTheirOrders)
{
  const auto        process = vp();
  const DiagonalLaw data{{0.0}, {0.05}};
  const double      epsilon = 1e-3;
  const auto        error   = [&](const std::string &scheme, const unsigned int steps) {
    const DiagonalLaw law = exact_law(
        *process, data, settings(*process, scheme, steps, epsilon, true, TimeGrid::log_snr));
    return wasserstein2(law, forward_law(*process, data, epsilon));
  };
  for (const auto &[scheme, order] :
       std::vector<std::pair<std::string, double>>{{"ddim", 1}, {"dpm-solver++(2m)", 2}})
    {
      const double e1 = error(scheme, 25), e2 = error(scheme, 50), e4 = error(scheme, 100);
      const double rate1 = std::log2(e1 / e2), rate2 = std::log2(e2 / e4);
      EXPECT_NEAR(rate2, order, 0.15 * order) << scheme << " errors " << e1 << " " << e2 << " "
                                              << e4 << ", rates " << rate1 << " " << rate2;
    }
  // 2M is more accurate than DDIM at the same number of score evaluations.
  EXPECT_LT(error("dpm-solver++(2m)", 20), 0.5 * error("ddim", 20));
}

// The particles of DDIM and DPM-Solver++(2M) follow their exact laws, also with
// Langevin corrector steps, whose noise the exact law of the multistep scheme must
// keep apart from the data prediction it carries between steps.
TEST(Sampling, DdimAndDpmSolverParticlesAgreeWithTheExactLaw)
{
  const auto        process = vp();
  const double      mu = 0.4, lambda = 0.3;
  GaussianMixture   data(1, {1.0}, {mu}, {lambda});
  const DiagonalLaw law0{{mu}, {lambda}};
  const auto        score = exact_score(*process, data);
  for (const std::string scheme : {"ddim", "dpm-solver++(2m)"})
    for (const unsigned int correctors : {0u, 2u})
      {
        SamplerSettings set = settings(*process, scheme, 6, 1e-3, false, TimeGrid::log_snr);
        set.data_spectrum   = {lambda};
        set.corrector_steps = correctors;
        set.snr             = 0.3;
        const DiagonalLaw   law = exact_law(*process, law0, set);
        std::vector<double> x;
        const unsigned int  N = 400000;
        run_particles(*process, data, *score, set, 0, N, x);
        double mean = 0.0, second = 0.0;
        for (const double xi : x)
          {
            mean += xi / N;
            second += xi * xi / N;
          }
        const double variance = second - mean * mean;
        // Standard errors: sqrt(var/N) ~ 1e-3 for the mean, var sqrt(2/N) for the variance.
        EXPECT_NEAR(mean, law.mean[0], 5 * std::sqrt(variance / N))
            << scheme << ", " << correctors << " corrector steps";
        EXPECT_NEAR(variance, law.variance[0], 5 * variance * std::sqrt(2.0 / N))
            << scheme << ", " << correctors << " corrector steps";
        EXPECT_GT(wasserstein2(law, law0), 1e-3) << scheme << ": 6 steps leave an error";
      }
}

// Every scheme is a registry member, and the checks are the schemes' own.
TEST(Sampling, SchemeRegistry)
{
  const auto names = SchemeRegistry::instance().names();
  for (const std::string name : {"euler-maruyama",
                                 "exponential-integrator",
                                 "ddpm",
                                 "ode-euler",
                                 "ode-heun",
                                 "ode-rk4",
                                 "ode-rk45",
                                 "edm-heun",
                                 "predictor-corrector",
                                 "ddim",
                                 "dpm-solver++(2m)"})
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  EXPECT_FALSE(create_scheme("ode-rk45")->fixed_steps());
  EXPECT_EQ(create_scheme("predictor-corrector")->minimum_corrector_steps(), 1u);
  EXPECT_THROW(create_scheme("euler", "Sampler/Scheme"), InputError);
  ProcessParameters ve;
  ve.type = "VE";
  EXPECT_THROW(create_scheme("exponential-integrator")->check(*create_process(ve), "Scheme"),
               InputError);
  EXPECT_NO_THROW(create_scheme("exponential-integrator")->check(*vp(), "Scheme"));
  const auto process = vp();
  EXPECT_THROW(create_scheme("ddpm")->check_grid(
                   *process, make_time_grid(*process, 10, TimeGrid::uniform, 7, 1e-3)),
               InputError);
}
