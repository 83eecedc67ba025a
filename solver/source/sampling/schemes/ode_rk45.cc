// Sampler/Scheme = ode-rk45: the adaptive Dormand-Prince 5(4) pair on the
// probability-flow ODE dx/dt = -a x - g^2/2 s from T down to epsilon, each particle
// with its own step sequence (rank- and batch-independent). It has no step count (Steps
// sets the first step), no corrector and no Gaussian output law.
#include <scorefp/core/input_error.h>
#include <scorefp/sampling/sampling.h>
#include <scorefp/sampling/scheme.h>
#include <scorefp/time_integration/dormand_prince.h>

#include <algorithm>
#include <cmath>

namespace scorefp
{
  namespace
  {
    class OdeRk45 : public Scheme
    {
    public:
      bool probability_flow() const override { return true; }
      bool fixed_steps() const override { return false; }

      void step(
          StepContext<double> &, unsigned int, double, double, std::vector<double> &) const override
      {
        throw InputError("ode-rk45 has no fixed step; it runs through run_particles.");
      }
      void step(
          StepContext<Affine> &, unsigned int, double, double, std::vector<Affine> &) const override
      {
        throw InputError("ode-rk45 chooses its steps per particle, so its output law is not "
                         "Gaussian; the exact law is available for fixed-step schemes only.");
      }

      void integrate_particle(const ForwardProcess  &process,
                              const ScoreModel      &score,
                              const SamplerSettings &settings,
                              double                *x,
                              SamplerCounters       &counters) const override
      {
        using DP                = DormandPrince;
        constexpr const auto &c = DP::c;
        constexpr const auto &A = DP::A;
        constexpr const auto &e = DP::e;
        const unsigned int    d = score.dimension();
        std::vector<double>   k(7 * d), stage(d), next(d);
        const auto            f = [&](const double t, const double *y, double *out) {
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
            h = DP::next_step(h, error);
            if (!std::isfinite(error) || std::abs(h) < 1e-14 * process.final_time)
              throw SolverFailure("ode-rk45: the step size collapsed at t = " + std::to_string(t) +
                                  "; the score may not be finite there.");
          }
      }
    };
  } // namespace

  SCOREFP_REGISTER(SchemeRegistry,
                   "ode-rk45",
                   "adaptive Dormand-Prince 5(4) on the probability-flow ODE, per particle "
                   "(Sampler/RK45 tolerances; Steps sets the first step).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<OdeRk45>(); })
} // namespace scorefp
