// The Dormand-Prince 5(4) pair (Dormand & Prince 1980; the tableau of MATLAB's ode45 and
// SciPy's RK45), shared by the ode-rk45 sampler and the PF-ODE likelihood. SUNDIALS'
// ARKode has the same table, but both users integrate many small systems whose
// right-hand side is one batched score evaluation per stage, which ARKode's one-vector
// interface would take apart.
#pragma once

#include <algorithm>
#include <cmath>

namespace scorefp
{
  struct DormandPrince
  {
    static constexpr unsigned int stages  = 7;
    static constexpr double       c[7]    = {0, 1. / 5, 3. / 10, 4. / 5, 8. / 9, 1, 1};
    static constexpr double       A[7][6] = {
              {0, 0, 0, 0, 0, 0},
              {1. / 5, 0, 0, 0, 0, 0},
              {3. / 40, 9. / 40, 0, 0, 0, 0},
              {44. / 45, -56. / 15, 32. / 9, 0, 0, 0},
              {19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729, 0, 0},
              {9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656, 0},
              {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84}};
    /// The fifth-order weights minus the embedded fourth-order ones (the error estimate).
    static constexpr double e[7] = {
        71. / 57600, 0, -71. / 16695, 71. / 1920, -17253. / 339200, 22. / 525, -1. / 40};

    /// The next step size after a step with error norm `error` (1 = the tolerance):
    /// the usual 0.9 error^(-1/5), limited to a factor between 0.2 and 5.
    static double next_step(const double h, const double error)
    {
      return h * std::min(5.0, std::max(0.2, 0.9 * std::pow(std::max(error, 1e-12), -0.2)));
    }
  };
} // namespace scorefp
