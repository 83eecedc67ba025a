// Sampler/Scheme = exponential-integrator (MATH.md section 4): exact in the linear part
// when g^2 = 2a (VP, and OU with q = 2r); A = int_{t1}^{t0} a,
//   x <- e^A x + 2 (e^A - 1) s + sqrt(e^{2A} - 1) z.
#include <scorefp/core/input_error.h>
#include <scorefp/sampling/scheme.h>

#include <cmath>

namespace scorefp
{
  namespace
  {
    class ExponentialIntegrator : public SchemeWithStep<ExponentialIntegrator>
    {
    public:
      bool probability_flow() const override { return false; }
      void check(const ForwardProcess &process, const std::string &entry) const override
      {
        // The update is exact for the linear part only if g^2 = 2a.
        for (const double t : {process.start_time, process.final_time})
          if (std::abs(process.diffusion_squared(t) - 2.0 * process.drift_rate(t)) >
              1e-12 * process.diffusion_squared(t))
            throw InputError(entry +
                             " = exponential-integrator needs g^2 = 2a (VP, or OU with OU "
                             "diffusion = 2 OU rate); the " +
                             process.name() + " process does not have it.");
      }

      template <typename S>
      void advance(StepContext<S>    &c,
                   const unsigned int k,
                   const double       t0,
                   const double       t1,
                   std::vector<S>    &x) const
      {
        // e^A with A = int_{t1}^{t0} a = log(m(t1) / m(t0)).
        const double eA =
            c.process.transition_mean_factor(t1) / c.process.transition_mean_factor(t0);
        c.score(t0, x, c.s);
        c.noise(k, 0, c.z);
        combine(x, eA, c.s, 2.0 * (eA - 1.0), c.z, std::sqrt(eA * eA - 1.0));
      }
    };
  } // namespace

  SCOREFP_REGISTER(SchemeRegistry,
                   "exponential-integrator",
                   "the exponential integrator of the reverse SDE (VP and OU with q = 2r).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<ExponentialIntegrator>(); })
} // namespace scorefp
