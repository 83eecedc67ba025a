// The Euler-Maruyama step of the reverse SDE (MATH.md section 4), shared by the
// schemes euler-maruyama and predictor-corrector (its predictor).
#pragma once

#include <scorefp/sampling/scheme.h>

#include <cmath>

namespace scorefp
{
  /// x <- (1 + h a) x + h g^2 s + g sqrt(h) z.
  template <typename S>
  void euler_maruyama_step(StepContext<S>    &c,
                           const unsigned int k,
                           const double       t0,
                           const double       t1,
                           std::vector<S>    &x)
  {
    const double h  = t0 - t1;
    const double a0 = c.process.drift_rate(t0), g0 = c.process.diffusion_squared(t0);
    c.score(t0, x, c.s);
    c.noise(k, 0, c.z);
    combine(x, 1.0 + h * a0, c.s, h * g0, c.z, std::sqrt(g0 * h));
  }
} // namespace scorefp
