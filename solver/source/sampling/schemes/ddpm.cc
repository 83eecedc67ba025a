// Sampler/Scheme = ddpm: ancestral sampling (Ho et al. 2020) with beta = g^2 h,
//   x <- (x + beta s) / sqrt(1 - beta) + sqrt(beta) z   (MATH.md section 4).
#include <scorefp/core/input_error.h>
#include <scorefp/sampling/scheme.h>

#include <cmath>
#include <iomanip>
#include <sstream>

namespace scorefp
{
  namespace
  {
    std::string format(const double x)
    {
      std::ostringstream s;
      s << std::setprecision(3) << x;
      return s.str();
    }

    class Ddpm : public SchemeWithStep<Ddpm>
    {
    public:
      bool probability_flow() const override { return false; }
      void check_grid(const ForwardProcess &process, const std::vector<double> &times) const override
      {
        const unsigned int n_steps = times.size() - 1;
        for (unsigned int k = 0; k < n_steps; ++k)
          {
            const double beta = process.diffusion_squared(times[k]) * (times[k] - times[k + 1]);
            if (!(beta < 1.0))
              throw InputError("The ddpm scheme needs g(t)^2 h < 1 at every step, but with " +
                               std::to_string(n_steps) + " steps it is " + format(beta) +
                               " at step " + std::to_string(k) + " (t = " + format(times[k]) +
                               "); expected more steps.");
          }
      }

      template <typename S>
      void advance(StepContext<S>    &c,
                   const unsigned int k,
                   const double       t0,
                   const double       t1,
                   std::vector<S>    &x) const
      {
        const double beta = c.process.diffusion_squared(t0) * (t0 - t1); // < 1, check_grid
        c.score(t0, x, c.s);
        c.noise(k, 0, c.z);
        const double root_keep = std::sqrt(1.0 - beta);
        combine(x, 1.0 / root_keep, c.s, beta / root_keep, c.z, std::sqrt(beta));
      }
    };
  } // namespace

  SCOREFP_REGISTER(SchemeRegistry,
                   "ddpm",
                   "ancestral sampling (needs g^2 h < 1 at every step).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<Ddpm>(); })
} // namespace scorefp
