// The Euler-Maruyama step of the reverse SDE (MATH.md section 4), shared by the
// schemes euler-maruyama and predictor-corrector (its predictor).
#pragma once

#include <scorefp/sampling/scheme.h>

#include <cmath>

namespace scorefp
{
  /// x <- x + h (a x + g^2 s) + g sqrt(h) z.
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
    for (std::size_t i = 0; i < x.size(); ++i)
      x[i] = x[i] + h * (a0 * x[i] + g0 * c.s[i]) + std::sqrt(g0 * h) * c.z[i];
  }
} // namespace scorefp
