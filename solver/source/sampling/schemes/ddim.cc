// Sampler/Scheme = ddim: DDIM with eta = 0 (Song, Meng & Ermon 2021), which is
// DPM-Solver++(1) (Lu et al. 2022) for any affine process (MATH.md section 4): with
// sigma = sqrt(v), lambda = log(m / sigma), the data prediction
// x0_hat(x, t) = (x + v s) / m and h = lambda(t1) - lambda(t0) > 0,
//   x <- (sigma1 / sigma0) x - m1 (e^{-h} - 1) x0_hat(x, t0),
// order 1. e^{-h} = (sigma1 m0) / (sigma0 m1) stays finite where v(t1) = 0, where the
// step returns m1 x0_hat.
#include <scorefp/sampling/scheme.h>

#include <cmath>

namespace scorefp
{
  namespace
  {
    class Ddim : public SchemeWithStep<Ddim>
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
        const double m0 = c.process.transition_mean_factor(t0);
        const double m1 = c.process.transition_mean_factor(t1);
        const double v0 = c.process.transition_variance(t0);
        const double ratio = std::sqrt(c.process.transition_variance(t1) / v0); // sigma1/sigma0
        const double decay = ratio * m0 / m1;                                    // e^{-h}
        c.score(t0, x, c.s);
        for (std::size_t i = 0; i < x.size(); ++i)
          x[i] = ratio * x[i] + m1 * (1.0 - decay) * ((x[i] + v0 * c.s[i]) / m0);
      }
    };
  } // namespace

  SCOREFP_REGISTER(SchemeRegistry,
                   "ddim",
                   "DDIM (eta = 0, = DPM-Solver++(1)) in the data prediction x0_hat = (x + v "
                   "s)/m; best on Time grid = log-snr.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<Ddim>(); })
} // namespace scorefp
