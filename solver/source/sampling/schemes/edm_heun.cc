// Sampler/Scheme = edm-heun: Karras et al. (2022), Algorithm 1: Heun in the noise level
// sigma = sqrt(v)/m on y = x/m, where dy/dsigma = -sigma m s(m y, t) (the PF-ODE of
// y = X_0 + sigma Z), order 2.
#include <scorefp/sampling/sampling.h>
#include <scorefp/sampling/scheme.h>

namespace scorefp
{
  namespace
  {
    class EdmHeun : public SchemeWithStep<EdmHeun>
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
        const std::size_t n  = x.size();
        const double      m0 = c.process.transition_mean_factor(t0);
        const double      m1 = c.process.transition_mean_factor(t1);
        const double s0 = noise_level(c.process, t0), s1 = noise_level(c.process, t1);
        c.score(t0, x, c.s);
        for (std::size_t i = 0; i < n; ++i)
          {
            c.k1[i] = -s0 * m0 * c.s[i];               // dy/dsigma at t0
            c.y[i]  = x[i] / m0 + (s1 - s0) * c.k1[i]; // Euler in y
            c.k3[i] = m1 * c.y[i];
          }
        if (c.ends_degenerate(t1))
          x = c.k3;
        else
          {
            c.score(t1, c.k3, c.k2);
            for (std::size_t i = 0; i < n; ++i)
              x[i] = m1 * (x[i] / m0 + 0.5 * (s1 - s0) * (c.k1[i] - s1 * m1 * c.k2[i]));
          }
      }
    };
  } // namespace

  SCOREFP_REGISTER(SchemeRegistry,
                   "edm-heun",
                   "Heun in sigma = sqrt(v)/m on x/m (Karras et al.).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<EdmHeun>(); })
} // namespace scorefp
