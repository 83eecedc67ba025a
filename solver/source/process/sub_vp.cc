// sub-VP (MATH.md section 1): a = beta/2, g^2 = beta (1 - e^{-2B}), m = e^{-B/2},
// v = (1 - e^{-B})^2.
#include <scorefp/process/beta_schedule.h>
#include <scorefp/process/process_registry.h>

#include <cmath>

namespace scorefp
{
  namespace
  {
    class SubVariancePreservingProcess : public ForwardProcess
    {
    public:
      explicit SubVariancePreservingProcess(const BetaSchedule &schedule)
          : schedule(schedule)
      {
      }
      double drift_rate(const double t) const override { return 0.5 * schedule.beta(t); }
      double diffusion_squared(const double t) const override
      {
        return -schedule.beta(t) * std::expm1(-2.0 * schedule.integrated_beta(t));
      }
      double mean_factor(const double t) const override
      {
        return std::exp(-0.5 * schedule.integrated_beta(t));
      }
      double variance(const double t) const override
      {
        const double one_minus = -std::expm1(-schedule.integrated_beta(t));
        return one_minus * one_minus;
      }
      std::string name() const override { return "sub-VP"; }

    private:
      BetaSchedule schedule;
    };
  } // namespace

  SCOREFP_REGISTER(ProcessRegistry,
                   "sub-VP",
                   "the VP drift with the smaller diffusion g^2 = beta (1 - e^{-2B}) of Song et "
                   "al. 2021 (same beta schedule as VP).",
                   BetaSchedule,
                   [](const BetaSchedule &p) {
                     return std::make_unique<SubVariancePreservingProcess>(p);
                   });
} // namespace scorefp
