// Ornstein-Uhlenbeck (MATH.md section 1): a = r, g^2 = q, m = e^{-rt},
// v = q (1 - e^{-2rt}) / (2r).
#include <scorefp/core/parameter_binder.h>
#include <scorefp/process/process_registry.h>

#include <deal.II/base/patterns.h>

#include <cmath>

namespace scorefp
{
  namespace
  {
    struct OrnsteinUhlenbeckParameters
    {
      double rate      = 1.0;
      double diffusion = 2.0;

      void bind(ParameterBinder &b)
      {
        namespace Patterns = dealii::Patterns;
        b.add("OU rate",
              rate,
              "OU: drift rate r in dX = -r X dt + sqrt(q) dW, units 1/time.",
              Patterns::Double(0));
        b.add("OU diffusion",
              diffusion,
              "OU: diffusion q = g^2, units of data^2/time (q = 2r gives the stationary law "
              "N(0, I)).",
              Patterns::Double(0));
        b.require(rate > 0 && diffusion > 0, "Process/OU rate and OU diffusion must be positive.");
      }
    };

    class OrnsteinUhlenbeckProcess : public ForwardProcess
    {
    public:
      explicit OrnsteinUhlenbeckProcess(const OrnsteinUhlenbeckParameters &p)
          : rate(p.rate)
          , q(p.diffusion)
      {
      }
      double drift_rate(const double) const override { return rate; }
      double diffusion_squared(const double) const override { return q; }
      double mean_factor(const double t) const override { return std::exp(-rate * t); }
      double variance(const double t) const override
      {
        return -q * std::expm1(-2.0 * rate * t) / (2.0 * rate);
      }
      std::string name() const override { return "OU"; }

    private:
      double rate, q;
    };
  } // namespace

  SCOREFP_REGISTER(ProcessRegistry,
                   "OU",
                   "Ornstein-Uhlenbeck, constant rate a = OU rate and diffusion g^2 = OU "
                   "diffusion.",
                   OrnsteinUhlenbeckParameters,
                   [](const OrnsteinUhlenbeckParameters &p) {
                     return std::make_unique<OrnsteinUhlenbeckProcess>(p);
                   });
} // namespace scorefp
