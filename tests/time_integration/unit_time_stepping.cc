// The DIRK integrator on a scalar linear ODE with a time-dependent rate, y' = -k(t) y
// (mass M = 1), whose exact solution is known: observed orders and error estimates.
#include <scorefp/time_integration/dirk_integrator.h>
#include <scorefp/core/input_error.h>
#include <scorefp/time_integration/time_stepping.h>

#include <deal.II/lac/vector.h>

#include <gtest/gtest.h>

#include <cmath>

using namespace scorefp;
using VectorType = dealii::Vector<double>;

namespace
{
  // k(t) = 1 + t: y(t) = y0 exp(-(t + t^2/2)).
  double rate(const double t)
  {
    return 1.0 + t;
  }
  double exact(const double t)
  {
    return std::exp(-(t + 0.5 * t * t));
  }

  OdeOperators<VectorType> scalar_operators()
  {
    OdeOperators<VectorType> ops;
    ops.apply_rhs = [](double t, const VectorType &y, VectorType &F) {
      F = y;
      F *= -rate(t);
    };
    ops.solve_stage = [](double t, double gamma_h, const VectorType &rhs, VectorType &Y, bool) {
      Y = rhs;
      Y /= 1.0 + gamma_h * rate(t);
      return 1u;
    };
    ops.solve_mass = [](const VectorType &rhs, VectorType &x) {
      x = rhs;
      return 1u;
    };
    ops.apply_mass = [](const VectorType &x, VectorType &Mx) { Mx = x; };
    return ops;
  }

  double error_with_steps(const DirkTableau &tableau, const unsigned int n)
  {
    DirkIntegrator<VectorType> integrator(tableau, scalar_operators());
    VectorType                 y(1), y_new(1);
    y(0)           = 1.0;
    const double T = 1.0, h = T / n;
    for (unsigned int k = 0; k < n; ++k)
      {
        integrator.step(k * h, h, y, y_new, false);
        y = y_new;
      }
    return std::abs(y(0) - exact(T));
  }
} // namespace

class Tableaus : public ::testing::TestWithParam<std::string>
{
};

TEST_P(Tableaus, ConvergeAtTheirStatedOrder)
{
  const DirkTableau tableau = load_dirk_tableau(GetParam());
  double            sum_b = 0, sum_bc = 0;
  for (unsigned int i = 0; i < tableau.n_stages(); ++i)
    {
      sum_b += tableau.b[i];
      sum_bc += tableau.b[i] * tableau.c[i];
    }
  EXPECT_NEAR(sum_b, 1.0, 1e-14);
  EXPECT_NEAR(sum_bc, 0.5, 1e-14);

  const double e1 = error_with_steps(tableau, 8), e2 = error_with_steps(tableau, 16);
  const double observed = std::log2(e1 / e2);
  EXPECT_GT(observed, tableau.order - 0.3) << tableau.name << ": errors " << e1 << ", " << e2;
}

INSTANTIATE_TEST_SUITE_P(Offered, Tableaus, ::testing::ValuesIn(dirk_tableau_names()));

TEST(Tableaus, EmbeddedEstimateScalesWithTheEmbeddedOrder)
{
  // The estimate |y - y_embedded| is the local error of the embedded method, O(h^(p+1))
  // with p = 3 for ARK436L2SA: halving h divides it by 16 or more.
  const DirkTableau tableau = load_dirk_tableau("ARK436L2SA_DIRK_6_3_4");
  ASSERT_EQ(tableau.embedded_order, 3u);
  EXPECT_TRUE(tableau.stiffly_accurate);
  DirkIntegrator<VectorType> integrator(tableau, scalar_operators());
  auto                       estimate = [&](const double h) {
    VectorType y(1), y_new(1);
    y(0) = exact(0.3);
    return integrator.step(0.3, h, y, y_new, true).relative_error;
  };
  const double ratio = estimate(0.1) / estimate(0.05);
  EXPECT_GT(ratio, 12.0);
  EXPECT_GT(estimate(0.1), 0.0);
}

TEST(Tableaus, UnknownNameIsAnInputError)
{
  EXPECT_THROW(load_dirk_tableau("RK4"), InputError);
}

TEST(StepSizeController, ShrinksOnRejectionGrowsOnSmallErrorsAndHitsTargets)
{
  TimeSteppingParameters p;
  StepSizeController     c(p, 3);
  EXPECT_TRUE(c.adaptive());
  EXPECT_FALSE(c.accept(1.5));
  EXPECT_LT(c.next_step(0.1, 1.5, false), 0.1);
  EXPECT_GT(c.next_step(0.1, 0.01, true), 0.1);
  EXPECT_LE(c.next_step(0.1, 0.0, true), 0.4 + 1e-15);
  EXPECT_DOUBLE_EQ(StepSizeController::clip_to_target(0.0, 0.3, 0.25), 0.25);
  EXPECT_DOUBLE_EQ(StepSizeController::clip_to_target(0.0, 0.2, 0.25), 0.125);
  EXPECT_DOUBLE_EQ(StepSizeController::clip_to_target(0.0, 0.1, 0.25), 0.1);
  p.fixed_step = 0.01;
  StepSizeController fixed(p, 3);
  EXPECT_TRUE(fixed.accept(100.0));
  EXPECT_EQ(fixed.next_step(0.01, 100.0, true), 0.01);
}
