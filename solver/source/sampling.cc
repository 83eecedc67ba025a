// The reverse-time schemes of MATH.md section 4, written once over a scalar type S:
// S = double moves particles; S = Affine (below) moves Gaussian laws exactly.
#include <scorefp/input_error.h>
#include <scorefp/random.h>
#include <scorefp/sampling.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

namespace scorefp
{
  namespace
  {
    const std::vector<std::pair<Scheme, std::string>> &scheme_table()
    {
      static const std::vector<std::pair<Scheme, std::string>> table = {
          {Scheme::euler_maruyama, "euler-maruyama"},
          {Scheme::exponential_integrator, "exponential-integrator"},
          {Scheme::ddpm, "ddpm"},
          {Scheme::ode_euler, "ode-euler"},
          {Scheme::ode_heun, "ode-heun"},
          {Scheme::ode_rk4, "ode-rk4"},
          {Scheme::ode_rk45, "ode-rk45"},
          {Scheme::edm_heun, "edm-heun"},
          {Scheme::predictor_corrector, "predictor-corrector"}};
      return table;
    }
  } // namespace

  std::string scheme_selection()
  {
    std::string s;
    for (const auto &[scheme, name] : scheme_table())
      s += (s.empty() ? "" : "|") + name;
    return s;
  }

  Scheme parse_scheme(const std::string &name)
  {
    for (const auto &[scheme, n] : scheme_table())
      if (n == name)
        return scheme;
    throw InputError("'" + name + "' is not a sampler scheme; expected one of " +
                     scheme_selection() + ".");
  }

  std::string scheme_name(const Scheme scheme)
  {
    for (const auto &[s, name] : scheme_table())
      if (s == scheme)
        return name;
    return "?";
  }

  double noise_level(const ForwardProcess &process, const double t)
  {
    return std::sqrt(process.transition_variance(t)) / process.transition_mean_factor(t);
  }

  std::vector<double> make_time_grid(const ForwardProcess &process,
                                     const unsigned int    n_steps,
                                     const std::string    &grid,
                                     const double          rho,
                                     const double          epsilon)
  {
    const double        T = process.final_time;
    std::vector<double> times(n_steps + 1);
    if (grid == "uniform")
      for (unsigned int k = 0; k <= n_steps; ++k)
        times[k] = T - (T - epsilon) * k / n_steps;
    else if (grid == "edm")
      {
        // Karras et al. (2022), eq. 5, with N steps between sigma(T) and sigma(epsilon).
        const double a = std::pow(noise_level(process, T), 1.0 / rho);
        const double b = std::pow(noise_level(process, epsilon), 1.0 / rho);
        times[0]       = T;
        times[n_steps] = epsilon;
        for (unsigned int k = 1; k < n_steps; ++k)
          {
            const double sigma = std::pow(a + (b - a) * k / n_steps, rho);
            double       lo = epsilon, hi = T;
            for (unsigned int i = 0; i < 200 && hi - lo > 1e-15 * T; ++i)
              {
                const double mid                              = 0.5 * (lo + hi);
                (noise_level(process, mid) < sigma ? lo : hi) = mid;
              }
            times[k] = 0.5 * (lo + hi);
          }
      }
    else
      throw InputError("Sampler/Time grid '" + grid + "' is unknown; expected uniform or edm.");
    return times;
  }

  namespace
  {
    class ExactScore : public ScoreModel
    {
    public:
      ExactScore(const ForwardProcess &process, const DataDistribution &data)
          : process(process)
          , data(data)
      {
      }
      unsigned int dimension() const override { return data.dimension(); }
      void evaluate(const double t, const double *x, const std::size_t n, double *s) const override
      {
        const auto field =
            data.transported(process.transition_mean_factor(t), process.transition_variance(t));
        const unsigned int d = dimension();
        for (std::size_t i = 0; i < n; ++i)
          field->score(x + i * d, s + i * d);
      }
      std::string description() const override { return "exact"; }

    private:
      const ForwardProcess   &process;
      const DataDistribution &data;
    };

    class PerturbedScore : public ScoreModel
    {
    public:
      PerturbedScore(std::unique_ptr<ScoreModel> exact, const double amplitude, const double width)
          : exact(std::move(exact))
          , amplitude(amplitude)
          , width(width)
      {
      }
      unsigned int dimension() const override { return exact->dimension(); }
      void evaluate(const double t, const double *x, const std::size_t n, double *s) const override
      {
        exact->evaluate(t, x, n, s);
        const unsigned int d = dimension();
        for (std::size_t i = 0; i < n; ++i)
          {
            double r2 = 0.0;
            for (unsigned int j = 0; j < d; ++j)
              r2 += x[i * d + j] * x[i * d + j];
            // grad phi = -A x / w^2 exp(-|x|^2 / (2 w^2)).
            const double f = -amplitude / (width * width) * std::exp(-0.5 * r2 / (width * width));
            for (unsigned int j = 0; j < d; ++j)
              s[i * d + j] += f * x[i * d + j];
          }
      }
      std::string description() const override
      {
        std::ostringstream s;
        s << "exact + grad(" << amplitude << " exp(-|x|^2/(2*" << width << "^2)))";
        return s.str();
      }

    private:
      std::unique_ptr<ScoreModel> exact;
      double                      amplitude, width;
    };
  } // namespace

  std::unique_ptr<ScoreModel> exact_score(const ForwardProcess   &process,
                                          const DataDistribution &data)
  {
    return std::make_unique<ExactScore>(process, data);
  }

  std::unique_ptr<ScoreModel>
  perturbed_score(std::unique_ptr<ScoreModel> exact, const double amplitude, const double width)
  {
    return std::make_unique<PerturbedScore>(std::move(exact), amplitude, width);
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
    // The start variable of a step, its predictor noise and up to 8 corrector draws.
    constexpr unsigned int n_slots = 10;

    /**
     * A Gaussian random variable as an affine form c + sum_j a_j xi_j in independent
     * standard normals: xi_0 stands for the state at the start of the step, xi_1.. for
     * the step's noise draws. With the exact score of Gaussian data every scheme is
     * affine, so a step maps such forms to such forms and the output law is exact.
     */
    struct Affine
    {
      double                      c = 0.0;
      std::array<double, n_slots> a{};
    };

    Affine operator+(Affine x, const Affine &y)
    {
      x.c += y.c;
      for (unsigned int j = 0; j < n_slots; ++j)
        x.a[j] += y.a[j];
      return x;
    }
    Affine operator-(Affine x, const Affine &y)
    {
      x.c -= y.c;
      for (unsigned int j = 0; j < n_slots; ++j)
        x.a[j] -= y.a[j];
      return x;
    }
    Affine operator*(const double s, Affine x)
    {
      x.c *= s;
      for (double &a : x.a)
        a *= s;
      return x;
    }
    Affine operator*(const Affine &x, const double s)
    {
      return s * x;
    }
    Affine operator/(const Affine &x, const double s)
    {
      return (1.0 / s) * x;
    }

    /// One scheme on a batch of states (n points of dimension d, point-major), with
    /// the score and the noise supplied by the caller.
    template <typename S>
    class Stepper
    {
    public:
      using Batch = std::vector<S>;

      Stepper(const ForwardProcess &process, const SamplerSettings &settings)
          : process(process)
          , settings(settings)
      {
      }

      /// s = score(t, x).
      std::function<void(double, const Batch &, Batch &)> score;
      /// z = fresh standard normals for (step, draw).
      std::function<void(unsigned int, unsigned int, Batch &)> noise;
      /// Score evaluations per point.
      unsigned long long evaluations = 0;

      void step(const unsigned int k, const double t0, const double t1, Batch &x)
      {
        const std::size_t n = x.size();
        for (Batch *b : {&s, &z, &k1, &k2, &k3, &k4, &y})
          b->resize(n);
        const double h  = t0 - t1;
        const double a0 = process.drift_rate(t0), g0 = process.diffusion_squared(t0);
        // A step that ends where v = 0 (epsilon = start time) cannot evaluate the score
        // there (degenerate data); it is taken with its Euler part, as in EDM.
        const bool ends_degenerate = !(process.transition_variance(t1) > 0.0);
        switch (settings.scheme)
          {
          case Scheme::euler_maruyama:
          case Scheme::predictor_corrector:
            evaluate(t0, x, s);
            noise(k, 0, z);
            for (std::size_t i = 0; i < n; ++i)
              x[i] = x[i] + h * (a0 * x[i] + g0 * s[i]) + std::sqrt(g0 * h) * z[i];
            break;
          case Scheme::exponential_integrator:
            {
              // e^A with A = int_{t1}^{t0} a = log(m(t1) / m(t0)).
              const double eA =
                  process.transition_mean_factor(t1) / process.transition_mean_factor(t0);
              evaluate(t0, x, s);
              noise(k, 0, z);
              for (std::size_t i = 0; i < n; ++i)
                x[i] = eA * x[i] + 2.0 * (eA - 1.0) * s[i] + std::sqrt(eA * eA - 1.0) * z[i];
              break;
            }
          case Scheme::ddpm:
            {
              const double beta = g0 * h; // < 1, checked with the grid
              evaluate(t0, x, s);
              noise(k, 0, z);
              for (std::size_t i = 0; i < n; ++i)
                x[i] = (x[i] + beta * s[i]) / std::sqrt(1.0 - beta) + std::sqrt(beta) * z[i];
              break;
            }
          case Scheme::ode_euler:
            ode(t0, x, k1);
            for (std::size_t i = 0; i < n; ++i)
              x[i] = x[i] + h * k1[i];
            break;
          case Scheme::ode_heun:
            ode(t0, x, k1);
            for (std::size_t i = 0; i < n; ++i)
              y[i] = x[i] + h * k1[i];
            if (ends_degenerate)
              x = y;
            else
              {
                ode(t1, y, k2);
                for (std::size_t i = 0; i < n; ++i)
                  x[i] = x[i] + 0.5 * h * (k1[i] + k2[i]);
              }
            break;
          case Scheme::ode_rk4:
            {
              ode(t0, x, k1);
              if (ends_degenerate)
                {
                  for (std::size_t i = 0; i < n; ++i)
                    x[i] = x[i] + h * k1[i];
                  break;
                }
              const double tm = 0.5 * (t0 + t1);
              for (std::size_t i = 0; i < n; ++i)
                y[i] = x[i] + 0.5 * h * k1[i];
              ode(tm, y, k2);
              for (std::size_t i = 0; i < n; ++i)
                y[i] = x[i] + 0.5 * h * k2[i];
              ode(tm, y, k3);
              for (std::size_t i = 0; i < n; ++i)
                y[i] = x[i] + h * k3[i];
              ode(t1, y, k4);
              for (std::size_t i = 0; i < n; ++i)
                x[i] = x[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
              break;
            }
          case Scheme::edm_heun:
            {
              // Karras et al., Algorithm 1: Heun in sigma = sqrt(v)/m on y = x/m, where
              // dy/dsigma = -sigma m s(m y, t) (the PF-ODE of y = X_0 + sigma Z).
              const double m0 = process.transition_mean_factor(t0);
              const double m1 = process.transition_mean_factor(t1);
              const double s0 = noise_level(process, t0), s1 = noise_level(process, t1);
              evaluate(t0, x, s);
              for (std::size_t i = 0; i < n; ++i)
                {
                  k1[i] = -s0 * m0 * s[i];               // dy/dsigma at t0
                  y[i]  = x[i] / m0 + (s1 - s0) * k1[i]; // Euler in y
                  k3[i] = m1 * y[i];
                }
              if (ends_degenerate)
                x = k3;
              else
                {
                  evaluate(t1, k3, k2);
                  for (std::size_t i = 0; i < n; ++i)
                    x[i] = m1 * (x[i] / m0 + 0.5 * (s1 - s0) * (k1[i] - s1 * m1 * k2[i]));
                }
              break;
            }
          case Scheme::ode_rk45:
            throw InputError("ode-rk45 has no fixed step; it runs through run_particles.");
          }

        const unsigned int corrector_steps = std::max(
            settings.corrector_steps, settings.scheme == Scheme::predictor_corrector ? 1u : 0u);
        if (corrector_steps > 0 && !ends_degenerate)
          {
            const double delta = langevin_step(process, settings, t1);
            for (unsigned int c = 0; c < corrector_steps; ++c)
              {
                evaluate(t1, x, s);
                noise(k, 1 + c, z);
                for (std::size_t i = 0; i < n; ++i)
                  x[i] = x[i] + delta * s[i] + std::sqrt(2.0 * delta) * z[i];
              }
          }
      }

    private:
      void evaluate(const double t, const Batch &x, Batch &out)
      {
        score(t, x, out);
        ++evaluations;
      }

      // The probability-flow velocity in reversed time, dx/dtau = a x + g^2/2 s.
      void ode(const double t, const Batch &x, Batch &out)
      {
        evaluate(t, x, out);
        const double a = process.drift_rate(t), g2 = process.diffusion_squared(t);
        for (std::size_t i = 0; i < x.size(); ++i)
          out[i] = a * x[i] + 0.5 * g2 * out[i];
      }

      const ForwardProcess  &process;
      const SamplerSettings &settings;
      Batch                  s, z, k1, k2, k3, k4, y;
    };

    // Dormand-Prince 5(4) on one particle, dx/dt = -a x - g^2/2 s from T down to
    // epsilon, with its own step sequence (rank- and batch-independent).
    void rk45_particle(const ForwardProcess  &process,
                       const ScoreModel      &score,
                       const SamplerSettings &settings,
                       double                *x,
                       SamplerCounters       &counters)
    {
      static constexpr double c[7]    = {0, 1. / 5, 3. / 10, 4. / 5, 8. / 9, 1, 1};
      static constexpr double A[7][6] = {
          {0, 0, 0, 0, 0, 0},
          {1. / 5, 0, 0, 0, 0, 0},
          {3. / 40, 9. / 40, 0, 0, 0, 0},
          {44. / 45, -56. / 15, 32. / 9, 0, 0, 0},
          {19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729, 0, 0},
          {9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656, 0},
          {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84}};
      static constexpr double e[7] = {
          71. / 57600, 0, -71. / 16695, 71. / 1920, -17253. / 339200, 22. / 525, -1. / 40};
      const unsigned int  d = score.dimension();
      std::vector<double> k(7 * d), stage(d), next(d);
      const auto          f = [&](const double t, const double *y, double *out) {
        score.evaluate(t, y, 1, out);
        ++counters.score_evaluations;
        const double a = process.drift_rate(t), g2 = process.diffusion_squared(t);
        for (unsigned int j = 0; j < d; ++j)
          out[j] = -a * y[j] - 0.5 * g2 * out[j];
      };
      const double t_end = settings.times.back();
      double       t     = settings.times.front();
      double       h     = -(t - t_end) / (settings.times.size() - 1);
      f(t, x, &k[0]);
      while (t > t_end)
        {
          if (t + h < t_end)
            h = t_end - t;
          for (unsigned int s = 1; s < 7; ++s)
            {
              for (unsigned int j = 0; j < d; ++j)
                {
                  double sum = 0.0;
                  for (unsigned int r = 0; r < s; ++r)
                    sum += A[s][r] * k[r * d + j];
                  stage[j] = x[j] + h * sum;
                }
              f(t + c[s] * h, stage.data(), &k[s * d]);
              if (s == 6)
                next = stage;
            }
          double error = 0.0;
          for (unsigned int j = 0; j < d; ++j)
            {
              double err = 0.0;
              for (unsigned int s = 0; s < 7; ++s)
                err += e[s] * k[s * d + j];
              const double scale =
                  settings.rk45_absolute +
                  settings.rk45_relative * std::max(std::abs(x[j]), std::abs(next[j]));
              error += (h * err / scale) * (h * err / scale);
            }
          error = std::sqrt(error / d);
          if (error <= 1.0)
            {
              t = (t + h < t_end + 1e-14 * std::abs(h)) ? t_end : t + h;
              std::copy(next.begin(), next.end(), x);
              std::copy(k.begin() + 6 * d, k.end(), k.begin()); // first same as last
            }
          else
            ++counters.rejected_steps;
          h *= std::min(5.0, std::max(0.2, 0.9 * std::pow(std::max(error, 1e-12), -0.2)));
          if (!std::isfinite(error) || std::abs(h) < 1e-14 * process.final_time)
            throw SolverFailure("ode-rk45: the step size collapsed at t = " + std::to_string(t) +
                                "; the score may not be finite there.");
        }
    }
  } // namespace

  SamplerCounters run_particles(const ForwardProcess                            &process,
                                const DataDistribution                          &data,
                                const ScoreModel                                &score,
                                const SamplerSettings                           &settings,
                                const unsigned long long                         first,
                                const unsigned long long                         n,
                                std::vector<double>                             &x,
                                const std::function<void(unsigned int, double)> &progress)
  {
    const unsigned int d  = data.dimension();
    const double       T  = settings.times.front();
    const double       mT = process.transition_mean_factor(T);
    const double       vT = process.transition_variance(T);
    x.assign(n * d, 0.0);
    // Substream 0 of particle i starts it; substream 1 + 16 k + draw is step k's noise.
    for (unsigned long long i = 0; i < n; ++i)
      {
        CounterRng rng(settings.seed, first + i, 0);
        double    *xi = &x[i * d];
        if (settings.start_exact)
          data.sample_transported(rng, mT, vT, xi);
        else
          for (unsigned int j = 0; j < d; ++j)
            xi[j] = std::sqrt(vT) * rng.normal();
      }

    SamplerCounters counters;
    if (settings.scheme == Scheme::ode_rk45)
      {
        for (unsigned long long i = 0; i < n; ++i)
          {
            rk45_particle(process, score, settings, &x[i * d], counters);
            if (progress && (i + 1) % 1024 == 0)
              progress(0, settings.times.back());
          }
        return counters;
      }

    Stepper<double> stepper(process, settings);
    stepper.score = [&](const double t, const std::vector<double> &y, std::vector<double> &s) {
      score.evaluate(t, y.data(), n, s.data());
    };
    stepper.noise = [&](const unsigned int k, const unsigned int draw, std::vector<double> &z) {
      for (unsigned long long i = 0; i < n; ++i)
        {
          CounterRng rng(settings.seed, first + i, 1 + 16ULL * k + draw);
          for (unsigned int j = 0; j < d; ++j)
            z[i * d + j] = rng.normal();
        }
    };
    for (unsigned int k = 0; k + 1 < settings.times.size(); ++k)
      {
        stepper.step(k, settings.times[k], settings.times[k + 1], x);
        if (progress)
          progress(k + 1, settings.times[k + 1]);
      }
    for (const double xi : x)
      if (!std::isfinite(xi))
        throw SolverFailure("The " + scheme_name(settings.scheme) +
                            " sampler produced a non-finite particle; the score or the step "
                            "sizes are not suitable.");
    counters.score_evaluations = stepper.evaluations * n;
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
    if (settings.scheme == Scheme::ode_rk45)
      throw InputError("ode-rk45 chooses its steps per particle, so its output law is not "
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

    Stepper<Affine> stepper(process, settings);
    stepper.score = [&](const double t, const std::vector<Affine> &y, std::vector<Affine> &s) {
      const double m = process.transition_mean_factor(t), v = process.transition_variance(t);
      for (std::size_t i = 0; i < d; ++i)
        {
          // s_i = -(x_i - m mu_i) / (m^2 lambda_i + v): affine in x_i.
          Affine shifted = y[i];
          shifted.c -= m * data.mean[i];
          s[i] = shifted * (-1.0 / (m * m * data.variance[i] + v));
        }
    };
    stepper.noise = [&](unsigned int, const unsigned int draw, std::vector<Affine> &z) {
      for (Affine &zi : z)
        {
          zi             = Affine{};
          zi.a[1 + draw] = 1.0;
        }
    };
    for (unsigned int k = 0; k + 1 < settings.times.size(); ++k)
      {
        stepper.step(k, settings.times[k], settings.times[k + 1], x);
        // The step's output is Gaussian: its variance collects every slot; the next
        // step sees it as c + sigma xi_0 with fresh noise slots.
        for (Affine &xi : x)
          {
            double variance = 0.0;
            for (const double a : xi.a)
              variance += a * a;
            xi.a.fill(0.0);
            xi.a[0] = std::sqrt(variance);
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
