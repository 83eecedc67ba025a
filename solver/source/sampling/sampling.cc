// The drivers of the reverse-time schemes (MATH.md section 4): time grids, the start,
// the Langevin corrector, and the loop over steps, written once over the scalar type S
// of the schemes: S = double moves particles, S = Affine (affine.h) moves Gaussian laws
// exactly. The schemes themselves are in sampling/schemes/, one file each.
#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>
#include <scorefp/core/random.h>
#include <scorefp/sampling/sampling.h>
#include <scorefp/simd/kernels.h>

#include <deal.II/base/exceptions.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace scorefp
{
  std::unique_ptr<Scheme> create_scheme(const std::string &name, const std::string &entry)
  {
    return SchemeRegistry::instance().get(name, entry).create_default();
  }

  void Scheme::integrate_particle(const ForwardProcess &,
                                  const ScoreModel &,
                                  const SamplerSettings &,
                                  double *,
                                  SamplerCounters &) const
  {
    throw std::logic_error("A fixed-step scheme has no per-particle integration.");
  }

  void combine(std::vector<double>       &x,
               const double               alpha,
               const std::vector<double> &s,
               const double               beta,
               const std::vector<double> &z,
               const double               gamma)
  {
    simd::combine(x.size(), alpha, x.data(), beta, s.data(), gamma, z.data());
  }

  unsigned int SamplerSettings::effective_corrector_steps() const
  {
    return std::max(corrector_steps, scheme->minimum_corrector_steps());
  }

  SamplerSettings settings_for_scheme(const std::string &name)
  {
    SamplerSettings s;
    s.scheme      = create_scheme(name);
    s.scheme_name = name;
    return s;
  }

  double noise_level(const ForwardProcess &process, const double t)
  {
    return std::sqrt(process.transition_variance(t)) / process.transition_mean_factor(t);
  }

  std::vector<double> make_time_grid(const ForwardProcess &process,
                                     const unsigned int    n_steps,
                                     const TimeGrid        grid,
                                     const double          rho,
                                     const double          epsilon)
  {
    const double        T = process.final_time;
    std::vector<double> times(n_steps + 1);
    // The time in [epsilon, T] where the noise level is sigma.
    const auto time_of_noise_level = [&](const double sigma) {
      double lo = epsilon, hi = T;
      for (unsigned int i = 0; i < 200 && hi - lo > 1e-15 * T; ++i)
        {
          const double mid                              = 0.5 * (lo + hi);
          (noise_level(process, mid) < sigma ? lo : hi) = mid;
        }
      return 0.5 * (lo + hi);
    };
    switch (grid)
      {
      case TimeGrid::uniform:
        for (unsigned int k = 0; k <= n_steps; ++k)
          times[k] = T - (T - epsilon) * k / n_steps;
        break;
      case TimeGrid::edm:
        {
          // Karras et al. (2022), eq. 5, with N steps between sigma(T) and sigma(epsilon).
          const double a = std::pow(noise_level(process, T), 1.0 / rho);
          const double b = std::pow(noise_level(process, epsilon), 1.0 / rho);
          times[0]       = T;
          times[n_steps] = epsilon;
          for (unsigned int k = 1; k < n_steps; ++k)
            times[k] = time_of_noise_level(std::pow(a + (b - a) * k / n_steps, rho));
          break;
        }
      case TimeGrid::log_snr:
        {
          // Lu et al. (2022): uniform in lambda = -log sigma(t).
          const double sigma_end = noise_level(process, epsilon);
          if (!(sigma_end > 0.0))
            throw InputError("Sampler/Time grid = log-snr needs v(epsilon) > 0, but at epsilon = " +
                             format_number(epsilon) +
                             " the log-SNR is infinite; expected Early stopping above the start "
                             "time.");
          const double a = std::log(noise_level(process, T));
          const double b = std::log(sigma_end);
          times[0]       = T;
          times[n_steps] = epsilon;
          for (unsigned int k = 1; k < n_steps; ++k)
            times[k] = time_of_noise_level(std::exp(a + (b - a) * k / n_steps));
          break;
        }
      }
    return times;
  }

  double
  langevin_step(const ForwardProcess &process, const SamplerSettings &settings, const double t)
  {
    const double m = process.transition_mean_factor(t), v = process.transition_variance(t);
    double       fisher = 0.0;
    if (settings.fisher_information)
      fisher = settings.fisher_information(t);
    else
      for (const double lambda : settings.data_spectrum)
        fisher += 1.0 / (m * m * lambda + v);
    return 2.0 * settings.snr * settings.snr * settings.data_spectrum.size() / fisher;
  }

  namespace
  {
    /// The Langevin step after the step that ends at t1; 0 where there is no corrector
    /// (no corrector steps, or the step ends at v = 0, where the score is not defined).
    template <typename S>
    double corrector_step_size(const StepContext<S> &c, const double t1)
    {
      return c.settings.effective_corrector_steps() > 0 && !c.ends_degenerate(t1)
                 ? langevin_step(c.process, c.settings, t1)
                 : 0.0;
    }

    /// Step k of the scheme from t0 to t1 and the Langevin corrector steps of size
    /// delta after it (corrector_step_size(), computed once per step by the caller: it
    /// may cost thousands of score evaluations).
    template <typename S>
    void step_and_correct(StepContext<S>    &c,
                          const unsigned int k,
                          const double       t0,
                          const double       t1,
                          std::vector<S>    &x,
                          const double       delta)
    {
      c.resize(x.size());
      c.settings.scheme->step(c, k, t0, t1, x);
      const unsigned int corrector_steps = c.settings.effective_corrector_steps();
      if (delta > 0.0)
        {
          for (unsigned int j = 0; j < corrector_steps; ++j)
            {
              c.score(t1, x, c.s);
              c.noise(k, 1 + j, c.z);
              combine(x, 1.0, c.s, delta, c.z, std::sqrt(2.0 * delta));
            }
        }
    }

    /// After a step the state x is Gaussian: c + sigma xi_0 with sigma^2 the sum of
    /// the squares of every slot, so that the next step can use the noise slots afresh.
    /// What the scheme keeps from earlier steps (StepContext::history) is correlated
    /// with x: its forms are expressed in the same new orthonormal basis (Gram-Schmidt:
    /// slot 0 along x, then the history slots), which keeps the joint law exact.
    void collapse(Affine &x, const std::vector<Affine *> &history)
    {
      AssertThrow(history.size() <= affine_history_slots,
                  dealii::ExcMessage("A scheme keeps more than affine_history_slots batches."));
      const std::array<double, affine_slots> old = x.a;
      double                                 variance = 0.0;
      for (const double a : x.a)
        variance += a * a;
      x.a.fill(0.0);
      x.a[0] = std::sqrt(variance);
      if (history.empty())
        return;

      std::vector<std::array<double, affine_slots>> basis;
      std::vector<unsigned int>                     slots;
      if (variance > 0.0)
        {
          basis.push_back(old);
          for (double &b : basis.back())
            b /= x.a[0];
          slots.push_back(0);
        }
      for (std::size_t j = 0; j < history.size(); ++j)
        {
          std::array<double, affine_slots> r = history[j]->a;
          history[j]->a.fill(0.0);
          for (std::size_t b = 0; b < basis.size(); ++b)
            {
              double dot = 0.0;
              for (unsigned int l = 0; l < affine_slots; ++l)
                dot += r[l] * basis[b][l];
              for (unsigned int l = 0; l < affine_slots; ++l)
                r[l] -= dot * basis[b][l];
              history[j]->a[slots[b]] = dot;
            }
          double norm = 0.0;
          for (const double a : r)
            norm += a * a;
          norm = std::sqrt(norm);
          if (norm > 0.0)
            {
              const unsigned int slot = affine_history_slot + j;
              history[j]->a[slot]     = norm;
              for (double &a : r)
                a /= norm;
              basis.push_back(r);
              slots.push_back(slot);
            }
        }
    }
  } // namespace

  unsigned long long particle_block_size(const unsigned int d)
  {
    // About 64 KB per work array (x, s, z and up to four stages): the block's arrays
    // fit in a core's L2 cache.
    return std::max(64U, 8192U / std::max(1U, d));
  }

  SamplerCounters run_particles(const ForwardProcess                            &process,
                                const DataDistribution                          &data,
                                const ScoreModel                                &score,
                                const SamplerSettings                           &settings,
                                const unsigned long long                         first,
                                const unsigned long long                         n,
                                std::vector<double>                             &x,
                                const std::function<void(unsigned int, double, double)> &progress)
  {
    const unsigned int d  = data.dimension();
    const double       T  = settings.times.front();
    const double       mT = process.transition_mean_factor(T);
    const double       vT = process.transition_variance(T);
    x.assign(n * d, 0.0);
    // Substream 0 of particle i starts it; substream 1 + 16 k + draw is step k's noise.
    if (settings.start_exact)
      for (unsigned long long i = 0; i < n; ++i)
        {
          CounterRng rng(settings.seed, first + i, 0);
          data.sample_transported(rng, mT, vT, &x[i * d]);
        }
    else
      {
        simd::normals(settings.seed, first, n, 0, d, x.data());
        for (double &xi : x)
          xi = std::sqrt(vT) * xi;
      }

    SamplerCounters counters;
    if (!settings.scheme->fixed_steps())
      {
        for (unsigned long long i = 0; i < n; ++i)
          {
            settings.scheme->integrate_particle(process, score, settings, &x[i * d], counters);
            if (progress && (i + 1) % 1024 == 0)
              progress(0, settings.times.back(), double(i + 1) / n);
          }
        return counters;
      }

    // The particles go through all the steps a block at a time, so that the block's
    // state, score, noise and stages stay in the cache from step to step (a whole rank's
    // arrays would stream through memory at every step). Particles are independent, and
    // a particle's noise depends on its index alone: the blocks change the order of the
    // work, not the result.
    const unsigned long long block = particle_block_size(d);
    unsigned long long       begin = 0, size = 0;
    StepContext<double>      context(process, settings);
    context.score_function = [&](const double               t,
                                 const std::vector<double> &y,
                                 std::vector<double>       &s) {
      score.evaluate(t, y.data(), size, s.data());
    };
    context.noise_function = [&](const unsigned int   k,
                                 const unsigned int   draw,
                                 std::vector<double> &z) {
      simd::normals(settings.seed, first + begin, size, 1 + 16ULL * k + draw, d, z.data());
    };
    const unsigned int  n_steps = settings.times.size() - 1;
    std::vector<double> delta(n_steps);
    for (unsigned int k = 0; k < n_steps; ++k)
      delta[k] = corrector_step_size(context, settings.times[k + 1]);
    std::vector<double> y;
    for (begin = 0; begin < n; begin += block)
      {
        size = std::min(block, n - begin);
        y.assign(x.begin() + begin * d, x.begin() + (begin + size) * d);
        context.history.clear();
        const unsigned long long evaluations = context.evaluations;
        for (unsigned int k = 0; k < n_steps; ++k)
          {
            step_and_correct(context, k, settings.times[k], settings.times[k + 1], y, delta[k]);
            if (progress)
              progress(k + 1,
                       settings.times[k + 1],
                       (begin + double(k + 1) / n_steps * size) / double(n));
          }
        counters.score_evaluations += (context.evaluations - evaluations) * size;
        std::copy(y.begin(), y.end(), x.begin() + begin * d);
      }
    for (const double xi : x)
      if (!std::isfinite(xi))
        throw SolverFailure("The " + settings.scheme_name +
                            " sampler produced a non-finite particle; the score or the step "
                            "sizes are not suitable.");
    return counters;
  }

  double wasserstein2(const DiagonalLaw &a, const DiagonalLaw &b)
  {
    double sum = 0.0;
    for (std::size_t i = 0; i < a.mean.size(); ++i)
      {
        const double dm = a.mean[i] - b.mean[i];
        const double ds =
            std::sqrt(std::max(a.variance[i], 0.0)) - std::sqrt(std::max(b.variance[i], 0.0));
        sum += dm * dm + ds * ds;
      }
    return std::sqrt(sum);
  }

  DiagonalLaw forward_law(const ForwardProcess &process, const DiagonalLaw &data, const double t)
  {
    const double m = process.transition_mean_factor(t), v = process.transition_variance(t);
    DiagonalLaw  law = data;
    for (std::size_t i = 0; i < law.mean.size(); ++i)
      {
        law.mean[i] *= m;
        law.variance[i] = m * m * data.variance[i] + v;
      }
    return law;
  }

  DiagonalLaw
  exact_law(const ForwardProcess &process, const DiagonalLaw &data, const SamplerSettings &settings)
  {
    if (!settings.scheme->fixed_steps())
      throw InputError(settings.scheme_name +
                       " chooses its steps per particle, so its output law is not "
                       "Gaussian; the exact law is available for fixed-step schemes only.");
    const std::size_t   d = data.mean.size();
    std::vector<Affine> x(d);
    const double        T = settings.times.front();
    const DiagonalLaw   start =
        settings.start_exact ? forward_law(process, data, T)
                               : DiagonalLaw{std::vector<double>(d, 0.0),
                                           std::vector<double>(d, process.transition_variance(T))};
    for (std::size_t i = 0; i < d; ++i)
      {
        x[i].c    = start.mean[i];
        x[i].a[0] = std::sqrt(start.variance[i]);
      }

    StepContext<Affine> context(process, settings);
    context.score_function = [&](const double               t,
                                 const std::vector<Affine> &y,
                                 std::vector<Affine>       &s) {
      const double m = process.transition_mean_factor(t), v = process.transition_variance(t);
      for (std::size_t i = 0; i < d; ++i)
        {
          // s_i = -(x_i - m mu_i) / (m^2 lambda_i + v): affine in x_i.
          Affine shifted = y[i];
          shifted.c -= m * data.mean[i];
          s[i] = shifted * (-1.0 / (m * m * data.variance[i] + v));
        }
    };
    context.noise_function = [&](unsigned int, const unsigned int draw, std::vector<Affine> &z) {
      for (Affine &zi : z)
        {
          zi             = Affine{};
          zi.a[1 + draw] = 1.0;
        }
    };
    std::vector<Affine *> history;
    for (unsigned int k = 0; k + 1 < settings.times.size(); ++k)
      {
        step_and_correct(context,
                         k,
                         settings.times[k],
                         settings.times[k + 1],
                         x,
                         corrector_step_size(context, settings.times[k + 1]));
        // The step's output is Gaussian; the next step sees it as c + sigma xi_0 with
        // fresh noise slots, jointly with what the scheme keeps.
        for (std::size_t i = 0; i < d; ++i)
          {
            history.clear();
            for (auto &batch : context.history)
              history.push_back(&batch[i]);
            collapse(x[i], history);
          }
      }
    DiagonalLaw out{std::vector<double>(d), std::vector<double>(d)};
    for (std::size_t i = 0; i < d; ++i)
      {
        out.mean[i]     = x[i].c;
        out.variance[i] = x[i].a[0] * x[i].a[0];
      }
    return out;
  }
} // namespace scorefp
