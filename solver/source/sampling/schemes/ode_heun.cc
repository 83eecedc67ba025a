// Sampler/Scheme = ode-heun: Heun's method (explicit trapezoidal rule, 2 score
// evaluations) on the probability-flow ODE (MATH.md section 4), order 2.
#include <scorefp/sampling/scheme.h>

namespace scorefp
{
  namespace
  {
    class OdeHeun : public SchemeWithStep<OdeHeun>
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
          c.y[i] = x[i] + h * c.k1[i];
        if (c.ends_degenerate(t1))
          x = c.y;
        else
          {
            c.velocity(t1, c.y, c.k2);
            for (std::size_t i = 0; i < x.size(); ++i)
              x[i] = x[i] + 0.5 * h * (c.k1[i] + c.k2[i]);
          }
      }
    };
  } // namespace

  SCOREFP_REGISTER(SchemeRegistry,
                   "ode-heun",
                   "Heun on the probability-flow ODE.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<OdeHeun>(); })
} // namespace scorefp
