// Sampler/Scheme = ode-rk4: the classical Runge-Kutta method (4 score evaluations) on
// the probability-flow ODE (MATH.md section 4), order 4.
#include <scorefp/sampling/scheme.h>

namespace scorefp
{
  namespace
  {
    class OdeRk4 : public SchemeWithStep<OdeRk4>
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
        const std::size_t n = x.size();
        const double      h = t0 - t1;
        c.velocity(t0, x, c.k1);
        if (c.ends_degenerate(t1))
          {
            for (std::size_t i = 0; i < n; ++i)
              x[i] = x[i] + h * c.k1[i];
            return;
          }
        const double tm = 0.5 * (t0 + t1);
        for (std::size_t i = 0; i < n; ++i)
          c.y[i] = x[i] + 0.5 * h * c.k1[i];
        c.velocity(tm, c.y, c.k2);
        for (std::size_t i = 0; i < n; ++i)
          c.y[i] = x[i] + 0.5 * h * c.k2[i];
        c.velocity(tm, c.y, c.k3);
        for (std::size_t i = 0; i < n; ++i)
          c.y[i] = x[i] + h * c.k3[i];
        c.velocity(t1, c.y, c.k4);
        for (std::size_t i = 0; i < n; ++i)
          x[i] = x[i] + h / 6.0 * (c.k1[i] + 2.0 * c.k2[i] + 2.0 * c.k3[i] + c.k4[i]);
      }
    };
  } // namespace

  SCOREFP_REGISTER(SchemeRegistry,
                   "ode-rk4",
                   "RK4 on the probability-flow ODE.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<OdeRk4>(); })
} // namespace scorefp
