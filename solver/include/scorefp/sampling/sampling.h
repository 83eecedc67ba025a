// Reverse-time samplers (MATH.md sections 3-4): the time grids, the drivers that move
// particles split across MPI ranks or the exact law of Gaussian data through a scheme
// (scheme.h; one implementation of each scheme serves both), and the Langevin corrector.
#pragma once

#include <scorefp/data/data_distribution.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/sampling/sampler_parameters.h>
#include <scorefp/sampling/scheme.h>
#include <scorefp/score_source/score_source.h>

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace scorefp
{
  struct Parameters;

  /// The noise-to-signal ratio sigma(t) = sqrt(v(t)) / m(t) of data placed at the
  /// start time: X_t / m(t) = X_0 + sigma(t) Z.
  double noise_level(const ForwardProcess &process, const double t);

  /// T = t_0 > t_1 > ... > t_N = epsilon: uniform in t; the EDM grid in sigma(t) with
  /// exponent rho; or uniform in lambda = -log sigma(t) (log-snr). The last two are
  /// mapped back to t by bisection (sigma is increasing in t).
  std::vector<double> make_time_grid(const ForwardProcess &process,
                                     const unsigned int    n_steps,
                                     const TimeGrid        grid,
                                     const double          rho,
                                     const double          epsilon);

  struct SamplerSettings
  {
    std::shared_ptr<const Scheme> scheme;      // from SchemeRegistry
    std::string                   scheme_name; // its name, for messages
    std::vector<double>           times;       // t_0 = T > ... > t_N = epsilon
    bool                          start_exact     = false;
    unsigned int                  corrector_steps = 0;
    double                        snr             = 0.16;
    /// Eigenvalues of Cov X_0 (d entries): the Langevin step rule for Gaussian data.
    std::vector<double> data_spectrum{1.0};
    /// E|s(X_t, t)|^2 under the law of X_t, if set: replaces the Gaussian value
    /// sum_i 1/(m^2 lambda_i + v) in the Langevin step (multimodal data have a much
    /// larger Fisher information than their moment-matched Gaussian).
    std::function<double(double)> fisher_information;
    double                        rk45_relative = 1e-5;
    double                        rk45_absolute = 1e-7;
    std::uint64_t                 seed          = 1;

    /// Corrector steps after every step: corrector_steps, at least the scheme's minimum.
    unsigned int effective_corrector_steps() const;
  };

  /// Settings with the scheme called name (InputError for an unknown one).
  SamplerSettings settings_for_scheme(const std::string &name);

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

  /// Particles per block of run_particles() in dimension d.
  unsigned long long particle_block_size(const unsigned int d);

  /// Run particles [first, first + n) of a sampler: their start (prior N(0, v(T) I) or
  /// the exact p_T) and every step, a block of particle_block_size() particles at a
  /// time through all the steps. Particle i draws from the streams of (seed, i) only,
  /// so the result does not depend on how particles are split. x gets n*d values.
  /// `progress(k, t_k, fraction)` is called after every step of every block, with the
  /// fraction of the particle-steps done (may be empty).
  SamplerCounters run_particles(const ForwardProcess                            &process,
                                const DataDistribution                          &data,
                                const ScoreModel                                &score,
                                const SamplerSettings                           &settings,
                                const unsigned long long                         first,
                                const unsigned long long                         n,
                                std::vector<double>                             &x,
                                const std::function<void(unsigned int, double, double)> &progress = {});

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
                                   const Start             start,
                                   const ScoreModel       *score = nullptr);

} // namespace scorefp
