// Reverse-time samplers (MATH.md sections 3-4): the schemes, their time grids, the
// score fields that drive them, particles split across MPI ranks, and the exact law of
// every scheme for Gaussian data. One implementation of each scheme serves both the
// particles and the exact law: the step is written once over a scalar type that is
// either a number (a particle coordinate) or an affine form in Gaussian variables.
#pragma once

#include <scorefp/initial_data.h>
#include <scorefp/processes.h>

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace scorefp
{
  struct Parameters;

  enum class Scheme
  {
    euler_maruyama,
    exponential_integrator,
    ddpm,
    ode_euler,
    ode_heun,
    ode_rk4,
    ode_rk45,
    edm_heun,
    predictor_corrector
  };

  /// "euler-maruyama|exponential-integrator|...", the names parameter files use.
  std::string scheme_selection();
  Scheme      parse_scheme(const std::string &name);
  std::string scheme_name(const Scheme scheme);

  /// The noise-to-signal ratio sigma(t) = sqrt(v(t)) / m(t) of data placed at the
  /// start time: X_t / m(t) = X_0 + sigma(t) Z.
  double noise_level(const ForwardProcess &process, const double t);

  /// T = t_0 > t_1 > ... > t_N = epsilon: uniform in t, or the EDM grid in sigma(t)
  /// with exponent rho, mapped back to t by bisection (sigma is increasing in t).
  std::vector<double> make_time_grid(const ForwardProcess &process,
                                     const unsigned int    n_steps,
                                     const std::string    &grid,
                                     const double          rho,
                                     const double          epsilon);

  /// A score field s(x, t) evaluated for a batch of n points (n*d values, point-major).
  class ScoreModel
  {
  public:
    virtual ~ScoreModel()                  = default;
    virtual unsigned int dimension() const = 0;
    virtual void
    evaluate(const double t, const double *x, const std::size_t n, double *s) const = 0;
    virtual std::string description() const                                         = 0;
  };

  /// The closed-form score of the law at time t of data placed at the start time.
  std::unique_ptr<ScoreModel> exact_score(const ForwardProcess   &process,
                                          const DataDistribution &data);

  /// The exact score plus grad phi, phi = A exp(-|x|^2 / (2 w^2)) (the bump of the
  /// score solver's residual study): a gradient field that is not the score.
  std::unique_ptr<ScoreModel>
  perturbed_score(std::unique_ptr<ScoreModel> exact, const double amplitude, const double width);

  struct SamplerSettings
  {
    Scheme              scheme = Scheme::euler_maruyama;
    std::vector<double> times; // t_0 = T > ... > t_N = epsilon
    bool                start_exact     = false;
    unsigned int        corrector_steps = 0;
    double              snr             = 0.16;
    /// Eigenvalues of Cov X_0 (d entries): the Langevin step rule for Gaussian data.
    std::vector<double> data_spectrum{1.0};
    /// E|s(X_t, t)|^2 under the law of X_t, if set: replaces the Gaussian value
    /// sum_i 1/(m^2 lambda_i + v) in the Langevin step (multimodal data have a much
    /// larger Fisher information than their moment-matched Gaussian).
    std::function<double(double)> fisher_information;
    double                        rk45_relative = 1e-5;
    double                        rk45_absolute = 1e-7;
    std::uint64_t                 seed          = 1;
  };

  /// The Langevin corrector step at time t: delta = 2 r^2 E|z|^2 / E|s|^2 (Song et al.'s
  /// rule) with the expectations taken under the law of X_t rather than over the batch
  /// of particles, so that the step does not depend on them: E|s|^2 is
  /// settings.fisher_information(t) if set, else that of the Gaussian
  /// N(m mu, m^2 Cov X_0 + v I), sum_i 1/(m^2 lambda_i + v) (exact for Gaussian data).
  double
  langevin_step(const ForwardProcess &process, const SamplerSettings &settings, const double t);

  /// The Langevin corrector step at time t: delta = 2 r^2 E|z|^2 / E|s|^2 (Song et al.'s
  /// rule) with the expectations taken under the law of X_t rather than over the batch
  /// of particles, so that the step does not depend on them: E|s|^2 is
  /// settings.fisher_information(t) if set, else that of the Gaussian
  /// N(m mu, m^2 Cov X_0 + v I), sum_i 1/(m^2 lambda_i + v) (exact for Gaussian data).
  double
  langevin_step(const ForwardProcess &process, const SamplerSettings &settings, const double t);

  struct SamplerCounters
  {
    unsigned long long score_evaluations = 0; // per particle, summed over particles
    unsigned long long rejected_steps    = 0; // ode-rk45
  };

  /// Run particles [first, first + n) of a sampler: their start (prior N(0, v(T) I) or
  /// the exact p_T) and every step. Particle i draws from the streams of (seed, i)
  /// only, so the result does not depend on how particles are split. x gets n*d values.
  /// `progress(k, t_k)` is called after every step (may be empty).
  SamplerCounters run_particles(const ForwardProcess                            &process,
                                const DataDistribution                          &data,
                                const ScoreModel                                &score,
                                const SamplerSettings                           &settings,
                                const unsigned long long                         first,
                                const unsigned long long                         n,
                                std::vector<double>                             &x,
                                const std::function<void(unsigned int, double)> &progress = {});

  /// A Gaussian law with diagonal covariance.
  struct DiagonalLaw
  {
    std::vector<double> mean, variance;
  };

  /// W2 between two diagonal Gaussians: sqrt(|m1 - m2|^2 + sum (sqrt(c1) - sqrt(c2))^2).
  double wasserstein2(const DiagonalLaw &a, const DiagonalLaw &b);

  /// The forward law at time t of N(mean, diag(variance)) data placed at the start time.
  DiagonalLaw forward_law(const ForwardProcess &process, const DiagonalLaw &data, const double t);

  /// The exact output law of a fixed-step scheme with the exact score, for Gaussian
  /// data with diagonal covariance: each coordinate is an affine form in the start
  /// variable and the step's noise draws, pushed through the same step code as the
  /// particles (MATH.md section 4). Throws InputError for ode-rk45.
  DiagonalLaw exact_law(const ForwardProcess  &process,
                        const DiagonalLaw     &data,
                        const SamplerSettings &settings);

  /// The settings of p.sampler with the given scheme, step count, epsilon and start.
  SamplerSettings sampler_settings(const Parameters       &p,
                                   const ForwardProcess   &process,
                                   const DataDistribution &data,
                                   const std::string      &scheme,
                                   const unsigned int      n_steps,
                                   const double            epsilon,
                                   const std::string      &start,
                                   const ScoreModel       *score = nullptr);

  /// Task = sample: run the sampler of p on every rank's share of the particles, write
  /// the samples (.npy, optional .csv) and their metadata (.json), print a summary and,
  /// for Gaussian data, the exact-law W2 of the same scheme. Collective.
  void run_sampler_task(const Parameters &p, const MPI_Comm communicator);

  /// Task = scheme table. Collective.
  void run_scheme_table_task(const Parameters &p, const MPI_Comm communicator);
} // namespace scorefp
