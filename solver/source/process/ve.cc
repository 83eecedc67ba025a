// VE (MATH.md section 1): sigma(t) = sigma_min (sigma_max/sigma_min)^t, a = 0,
// g^2 = 2 sigma^2 ln(sigma_max/sigma_min), m = 1, v = sigma^2 - sigma_min^2.
#include <scorefp/core/parameter_binder.h>
#include <scorefp/process/process_registry.h>

#include <deal.II/base/patterns.h>

#include <cmath>

namespace scorefp
{
  namespace
  {
    struct VarianceExplodingParameters
    {
      double sigma_min = 0.01;
      double sigma_max = 50.0;

      void bind(ParameterBinder &b)
      {
        namespace Patterns = dealii::Patterns;
        b.add("sigma min", sigma_min, "VE: sigma(0), in units of the data.", Patterns::Double(0));
        b.add("sigma max", sigma_max, "VE: sigma(1), in units of the data.", Patterns::Double(0));
        b.require(sigma_min > 0 && sigma_max > sigma_min,
                  "Process/sigma min and sigma max must satisfy 0 < sigma min < sigma max (got " +
                      std::to_string(sigma_min) + " and " + std::to_string(sigma_max) + ").");
      }
    };

    class VarianceExplodingProcess : public ForwardProcess
    {
    public:
      explicit VarianceExplodingProcess(const VarianceExplodingParameters &p)
          : sigma_min(p.sigma_min)
          , log_ratio(std::log(p.sigma_max / p.sigma_min))
      {
      }
      double sigma(const double t) const { return sigma_min * std::exp(log_ratio * t); }
      double drift_rate(const double) const override { return 0.0; }
      double diffusion_squared(const double t) const override
      {
        return 2.0 * sigma(t) * sigma(t) * log_ratio;
      }
      double mean_factor(const double) const override { return 1.0; }
      double variance(const double t) const override
      {
        // sigma_min^2 (e^{2 L t} - 1), written with expm1 to keep small t exact.
        return sigma_min * sigma_min * std::expm1(2.0 * log_ratio * t);
      }
      std::string name() const override { return "VE"; }
      bool        variance_explodes() const override { return true; }

    private:
      double sigma_min, log_ratio;
    };
  } // namespace

  SCOREFP_REGISTER(ProcessRegistry,
                   "VE",
                   "variance exploding, a = 0 and sigma(t) = sigma min (sigma max/sigma "
                   "min)^t (geometric sigma).",
                   VarianceExplodingParameters,
                   [](const VarianceExplodingParameters &p) {
                     return std::make_unique<VarianceExplodingProcess>(p);
                   });
} // namespace scorefp
