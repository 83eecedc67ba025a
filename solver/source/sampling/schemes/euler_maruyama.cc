// Sampler/Scheme = euler-maruyama: x <- x + h (a x + g^2 s) + g sqrt(h) z (MATH.md
// section 4), weak order 1.
#include "sampling/schemes/euler_maruyama_step.h"

namespace scorefp
{
  namespace
  {
    class EulerMaruyama : public SchemeWithStep<EulerMaruyama>
    {
    public:
      bool probability_flow() const override { return false; }
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
                   "euler-maruyama",
                   "Euler-Maruyama on the reverse SDE.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<EulerMaruyama>(); })
} // namespace scorefp
