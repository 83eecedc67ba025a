// Sampler/Scheme = dpm-solver++(2m): the multistep DPM-Solver++(2M) of Lu et al. (2022)
// (MATH.md section 4): the DDIM step with the data prediction replaced by
//   D_i = (1 + 1/(2 r_i)) x0_hat_{i-1} - 1/(2 r_i) x0_hat_{i-2},  r_i = h_{i-1} / h_i,
// where x0_hat_{i-1} is the prediction at the start of the step and x0_hat_{i-2} the one
// of the step before, kept in the step context; order 2. The first step is DDIM, and so
// is a step ending where v = 0 (h infinite, the extrapolation undefined).
#include <scorefp/sampling/sampling.h>
#include <scorefp/sampling/scheme.h>

#include <cmath>

namespace scorefp
{
  namespace
  {
    class DpmSolver2M : public SchemeWithStep<DpmSolver2M>
    {
    public:
      bool probability_flow() const override { return true; }
      template <typename S>
      void advance(StepContext<S>    &c,
                   const unsigned int k,
                   const double       t0,
                   const double       t1,
                   std::vector<S>    &x) const
      {
        const std::size_t n     = x.size();
        const double      m0    = c.process.transition_mean_factor(t0);
        const double      m1    = c.process.transition_mean_factor(t1);
        const double      v0    = c.process.transition_variance(t0);
        const double      ratio = std::sqrt(c.process.transition_variance(t1) / v0);
        const double      decay = ratio * m0 / m1; // e^{-h}
        c.score(t0, x, c.s);
        for (std::size_t i = 0; i < n; ++i)
          c.y[i] = (x[i] + v0 * c.s[i]) / m0; // x0_hat_{i-1}
        const bool multistep = k > 0 && c.history.size() == 1 && !c.ends_degenerate(t1);
        if (multistep)
          {
            // h = lambda(t1) - lambda(t0) with lambda = -log(sigma/m).
            const double t_previous = c.settings.times[k - 1];
            const double h          = std::log(noise_level(c.process, t0) /
                                        noise_level(c.process, t1));
            const double h_previous = std::log(noise_level(c.process, t_previous) /
                                               noise_level(c.process, t0));
            const double w          = 0.5 * h / h_previous; // 1 / (2 r)
            for (std::size_t i = 0; i < n; ++i)
              c.k1[i] = (1.0 + w) * c.y[i] - w * c.history[0][i];
          }
        else
          c.k1 = c.y;
        for (std::size_t i = 0; i < n; ++i)
          x[i] = ratio * x[i] + m1 * (1.0 - decay) * c.k1[i];
        c.history.resize(1);
        c.history[0] = c.y;
      }
    };
  } // namespace

  SCOREFP_REGISTER(SchemeRegistry,
                   "dpm-solver++(2m)",
                   "the multistep DPM-Solver++(2M) in the data prediction (first step DDIM); "
                   "best on Time grid = log-snr.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<DpmSolver2M>(); })
} // namespace scorefp
