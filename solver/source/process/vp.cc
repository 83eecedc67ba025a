// VP (MATH.md section 1): a = beta/2, g^2 = beta, m = e^{-B/2}, v = 1 - e^{-B}.
#include <scorefp/process/beta_schedule.h>
#include <scorefp/process/process_registry.h>

#include <cmath>

namespace scorefp
{
  namespace
  {
    class VariancePreservingProcess : public ForwardProcess
    {
    public:
      explicit VariancePreservingProcess(const BetaSchedule &schedule)
          : schedule(schedule)
      {
      }
      double drift_rate(const double t) const override { return 0.5 * schedule.beta(t); }
      double diffusion_squared(const double t) const override { return schedule.beta(t); }
      double mean_factor(const double t) const override
      {
        return std::exp(-0.5 * schedule.integrated_beta(t));
      }
      double variance(const double t) const override
      {
        return -std::expm1(-schedule.integrated_beta(t));
      }
      std::string name() const override { return "VP"; }

    private:
      BetaSchedule schedule;
    };
  } // namespace

  SCOREFP_REGISTER(ProcessRegistry,
                   "VP",
                   "variance preserving, a = beta/2 and g^2 = beta with beta linear from beta "
                   "min at t = 0 to beta max at t = 1.",
                   BetaSchedule,
                   [](const BetaSchedule &p) {
                     return std::make_unique<VariancePreservingProcess>(p);
                   });
} // namespace scorefp
