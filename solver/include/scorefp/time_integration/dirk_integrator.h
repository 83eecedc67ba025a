// One step of a diagonally implicit Runge-Kutta method for M y' = F(t, y), with the
// embedded error estimate measured in the mass norm: the step's relative L2 error.
// Generic in the vector type (PETSc or Trilinos) and in the operator: the density
// equation's F = -K(t) y is linear (one linear solve per stage), the score and
// log-density equations' F is not (Newton inside solve_stage).
#pragma once

#include <scorefp/time_integration/time_stepping.h>

#include <cmath>
#include <functional>
#include <vector>

namespace scorefp
{
  template <typename VectorType>
  struct OdeOperators
  {
    /// F(t, y) (a dual vector: the right-hand side of the mass-matrix form).
    std::function<void(double t, const VectorType &y, VectorType &F)> apply_rhs;
    /// Solve M Y - gamma_h F(t, Y) = rhs, i.e. (M + gamma_h K(t)) Y = rhs for a linear
    /// F = -K y; Y holds a starting guess. final_stage is true when Y becomes y_{n+1}
    /// (stiffly accurate methods): for the density its residual alone decides how well
    /// mass is conserved. Returns linear iterations.
    std::function<unsigned int(
        double t, double gamma_h, const VectorType &rhs, VectorType &Y, bool final_stage)>
        solve_stage;
    /// Solve M x = rhs. Returns iterations.
    std::function<unsigned int(const VectorType &rhs, VectorType &x)> solve_mass;
    /// Mx = M x.
    std::function<void(const VectorType &x, VectorType &Mx)> apply_mass;
  };

  struct StepReport
  {
    /// ||y_{n+1} - y^embedded_{n+1}||_M / ||y_{n+1}||_M; 0 without error control.
    double       relative_error    = 0.0;
    unsigned int linear_iterations = 0;
  };

  template <typename VectorType>
  class DirkIntegrator
  {
  public:
    DirkIntegrator(const DirkTableau &tableau, const OdeOperators<VectorType> &operators)
        : tableau(tableau)
        , ops(operators)
    {
    }

    /// Advance y_old at time t by h into y_new. The error estimate costs one mass
    /// solve and is skipped when estimate_error is false (fixed steps).
    StepReport step(const double      t,
                    const double      h,
                    const VectorType &y_old,
                    VectorType       &y_new,
                    const bool        estimate_error)
    {
      const unsigned int s = tableau.n_stages();
      // Work vectors are laid out like y once; later steps reuse them.
      if (stage_rhs.size() != s || rhs.size() != y_old.size())
        {
          stage_rhs.resize(s);
          for (auto &F : stage_rhs)
            F.reinit(y_old, true);
          mass_y_old.reinit(y_old, true);
          rhs.reinit(y_old, true);
          stage.reinit(y_old, true);
        }

      StepReport report;
      ops.apply_mass(y_old, mass_y_old);
      stage = y_old;
      for (unsigned int i = 0; i < s; ++i)
        {
          const double t_stage = t + tableau.c[i] * h;
          rhs                  = mass_y_old;
          for (unsigned int j = 0; j < i; ++j)
            if (tableau.a[i][j] != 0.0)
              rhs.add(h * tableau.a[i][j], stage_rhs[j]);
          if (tableau.a[i][i] != 0.0)
            report.linear_iterations += ops.solve_stage(
                t_stage, h * tableau.a[i][i], rhs, stage, tableau.stiffly_accurate && i + 1 == s);
          else if (i == 0)
            stage = y_old; // explicit first stage of an ESDIRK method
          else
            report.linear_iterations += ops.solve_mass(rhs, stage);
          ops.apply_rhs(t_stage, stage, stage_rhs[i]);
        }

      if (tableau.stiffly_accurate)
        y_new = stage;
      else
        {
          rhs = mass_y_old;
          for (unsigned int j = 0; j < s; ++j)
            rhs.add(h * tableau.b[j], stage_rhs[j]);
          y_new = stage;
          report.linear_iterations += ops.solve_mass(rhs, y_new);
        }

      if (estimate_error)
        {
          // M e = h sum_j (b_j - bhat_j) F_j, and ||e||_M^2 = e . (M e).
          rhs = 0.0;
          for (unsigned int j = 0; j < s; ++j)
            rhs.add(h * (tableau.b[j] - tableau.b_embedded[j]), stage_rhs[j]);
          stage = 0.0;
          report.linear_iterations += ops.solve_mass(rhs, stage);
          const double error_squared = stage * rhs;
          ops.apply_mass(y_new, mass_y_old);
          const double norm_squared = y_new * mass_y_old;
          report.relative_error =
              std::sqrt(std::abs(error_squared) / std::max(norm_squared, 1e-300));
        }
      return report;
    }

  private:
    const DirkTableau              tableau;
    const OdeOperators<VectorType> ops;
    std::vector<VectorType>        stage_rhs;
    VectorType                     mass_y_old, rhs, stage;
  };
} // namespace scorefp
