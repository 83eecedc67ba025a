// Sampler/Scheme = ode-euler: the explicit Euler method on the probability-flow ODE
// dx/dtau = a x + g^2/2 s (MATH.md section 4), order 1.
#include <scorefp/sampling/scheme.h>

namespace scorefp
{
  namespace
  {
    class OdeEuler : public SchemeWithStep<OdeEuler>
    {
    public:
      bool probability_flow() const override { return true; }
      template <typename S>
      void advance(StepContext<S> &c,
                   const unsigned int,
                   const double    t0,
                   const double    t1,
                   std::vector<S> &x) const
      {
        const double h = t0 - t1;
        c.velocity(t0, x, c.k1);
        for (std::size_t i = 0; i < x.size(); ++i)
          x[i] = x[i] + h * c.k1[i];
      }
    };
  } // namespace

  SCOREFP_REGISTER(SchemeRegistry,
                   "ode-euler",
                   "Euler on the probability-flow ODE.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<OdeEuler>(); })
} // namespace scorefp
