// EDM (Karras et al. 2022, MATH.md section 1): sigma(t) = t, a = 0, g^2 = 2t, v = t^2.
#include <scorefp/process/process_registry.h>

namespace scorefp
{
  namespace
  {
    class EdmProcess : public ForwardProcess
    {
    public:
      double      drift_rate(const double) const override { return 0.0; }
      double      diffusion_squared(const double t) const override { return 2.0 * t; }
      double      mean_factor(const double) const override { return 1.0; }
      double      variance(const double t) const override { return t * t; }
      std::string name() const override { return "EDM"; }
      bool        variance_explodes() const override { return true; }
    };
  } // namespace

  SCOREFP_REGISTER(ProcessRegistry,
                   "EDM",
                   "Karras et al. 2022, a = 0 and sigma(t) = t (the final time is the final "
                   "noise level).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<EdmProcess>(); });
} // namespace scorefp
