// Sampler/Scheme = predictor-corrector: an Euler-Maruyama predictor followed by at
// least one Langevin corrector step (Song et al. 2021; the corrector is the drivers',
// see langevin_step() in sampling.h).
#include "sampling/schemes/euler_maruyama_step.h"

namespace scorefp
{
  namespace
  {
    class PredictorCorrector : public SchemeWithStep<PredictorCorrector>
    {
    public:
      bool probability_flow() const override { return false; }
      unsigned int minimum_corrector_steps() const override { return 1; }

      template <typename S>
      void advance(StepContext<S>    &c,
                   const unsigned int k,
                   const double       t0,
                   const double       t1,
                   std::vector<S>    &x) const
      {
        euler_maruyama_step(c, k, t0, t1, x);
      }
    };
  } // namespace

  SCOREFP_REGISTER(SchemeRegistry,
                   "predictor-corrector",
                   "euler-maruyama followed by Langevin corrector steps (at least one).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<PredictorCorrector>(); })
} // namespace scorefp
