// The reverse-time laws (Task = reverse law) against closed forms: with the exact score
// and the exact start both laws are p_eps (observed spatial rates p + 1 for DGQ1 and
// DGQ2, temporal order of the DIRK method, VP/VE/OU in 1D and 2D, mass, undershoot);
// from the prior, Gaussian data give Pierret & Galerne's laws and their exact W2; a
// perturbed score gives an ODE law whose log density is the characteristics' log q and
// an ODE-SDE gap that converges; rank counts and backends agree; particle samplers pass
// the checker against the law of their own score with many steps and fail with few.
#include <scorefp/likelihood/likelihood.h>
#include <scorefp/reference/reference_field.h>
#include <scorefp/reverse/cloud_distances.h>
#include <scorefp/sampling/scheme.h>
#include <scorefp/score_source/grid_score.h>
#include <scorefp/score_source/score_source.h>
#include <scorefp/tasks/run.h>

#include "common/test_cases.h"

#include <deal.II/base/mpi.h>

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

using namespace scorefp;

namespace
{
  const MPI_Comm world = MPI_COMM_WORLD;

  /// A reverse-law case: the mixture of mixture_case() with the given score source and
  /// start, eps = 1e-3, no files.
  Parameters reverse_case(const unsigned int dim,
                          const std::string &process,
                          const unsigned int degree,
                          const unsigned int coarse,
                          const std::string &score = "exact",
                          const Start        start = Start::exact)
  {
    Parameters p             = mixture_case(dim, process, degree, coarse);
    p.task                   = "reverse law";
    p.sampler.score          = score;
    p.sampler.score_source   = ScoreSourceRegistry::instance().get(score).create_default();
    p.sampler.start          = start;
    p.sampler.early_stopping = 1e-3;
    return p;
  }

  std::vector<ReverseLawRunResult>
  solve(const Parameters &p, const unsigned int level, const MPI_Comm communicator = world)
  {
    const auto setup = make_reverse_law_case(p);
    return solve_reverse_law_case(p, setup->inputs, level, p.output.directory, false, communicator);
  }
} // namespace

// Exact score, exact start: both laws are p_eps up to the discretisation, and the error
// falls at the rate p + 1 of DG elements on smooth solutions (1D VP, the time error
// made negligible by a tight tolerance).
class SpatialRates : public ::testing::TestWithParam<std::pair<unsigned int, double>>
{
};

TEST_P(SpatialRates, BothLawsConvergeToPEps)
{
  const auto [degree, minimum_rate] = GetParam();
  Parameters p                      = reverse_case(1, "VP", degree, 8);
  p.time_stepping.tolerance         = 1e-9;
  p.output.n_output_intervals       = 1;
  const std::vector<unsigned int>  levels{2, 3, 4};
  std::vector<std::vector<double>> errors(2);
  for (const unsigned int level : levels)
    {
      const auto laws = solve(p, level);
      ASSERT_EQ(laws.size(), 2u);
      for (unsigned int k = 0; k < 2; ++k)
        errors[k].push_back(laws[k].at_eps().errors.l2);
    }
  for (unsigned int k = 0; k < 2; ++k)
    {
      const auto rates = observed_rates(errors[k], levels);
      for (unsigned int i = 1; i < levels.size(); ++i)
        EXPECT_GE(rates[i], minimum_rate)
            << (k == 0 ? "ODE" : "SDE") << " law, DGQ" << degree << ": errors " << errors[k][i - 1]
            << " -> " << errors[k][i];
    }
}

INSTANTIATE_TEST_SUITE_P(DGQ1AndDGQ2,
                         SpatialRates,
                         ::testing::Values(std::make_pair(1u, 1.8), std::make_pair(2u, 2.7)));

// The temporal order of the DIRK method with fixed steps, the spatial error made
// negligible (1D, DGQ4 on 128 cells); the ODE law, whose operator changes fastest.
TEST(TimeOrder, FixedStepsGiveTheMethodsOrder)
{
  Parameters p                = reverse_case(1, "VP", 4, 128);
  p.mesh.lower_corner         = {-8.0};
  p.mesh.upper_corner         = {8.0};
  p.output.n_output_intervals = 1;
  p.reverse_law.laws          = ReverseLawParameters::Laws::ode;
  p.time_stepping.method      = "ARK324L2SA_DIRK_4_2_3";
  std::vector<double> errors;
  for (const double h : {1.0 / 16, 1.0 / 32, 1.0 / 64})
    {
      p.time_stepping.fixed_step = h;
      errors.push_back(solve(p, 0).front().at_eps().errors.l2);
    }
  for (unsigned int k = 1; k < errors.size(); ++k)
    EXPECT_GE(std::log2(errors[k - 1] / errors[k]), 2.6)
        << "errors " << errors[k - 1] << " -> " << errors[k];
}

// VP, VE (sigma max = 50, scaled coordinates) and OU in 1D and 2D, exact score and
// start: both laws within a stated tolerance of p_t at every output time, the mass kept
// up to what flows out through the wall, and the
// undershoot of the discontinuous solution below a stated bound.
struct PresetCase
{
  std::string  process;
  unsigned int dim;
};

class Presets : public ::testing::TestWithParam<PresetCase>
{
};

TEST_P(Presets, BothLawsFollowPtAndKeepTheMass)
{
  const auto [process, dim]    = GetParam();
  const unsigned int degree    = dim == 1 ? 3 : 2;
  const unsigned int coarse    = dim == 1 ? 32 : 10;
  const double       tolerance = dim == 1 ? 1e-4 : 1.5e-2;
  Parameters         p         = reverse_case(dim, process, degree, coarse);
  p.time_stepping.tolerance    = 1e-6;
  if (process == "OU")
    p.process.final_time = 2.0;
  const auto laws = solve(p, 1);
  ASSERT_EQ(laws.size(), 2u);
  for (const auto &law : laws)
    {
      const std::string name = reverse_law_name(law.law);
      ASSERT_EQ(law.outputs.size(), 5u);
      for (const auto &o : law.outputs)
        EXPECT_LE(o.errors.l2, tolerance) << name << " law at t = " << o.time;
      // What leaves is the tail at the wall (the ODE law's drift at T points slightly
      // outwards far out); the mass balance holds to the trapezoidal rule of the outflow.
      EXPECT_NEAR(law.at_eps().mass + law.at_eps().outflow, law.outputs.front().mass, 1e-8) << name;
      EXPECT_LE(law.at_eps().outflow, 1e-6) << name;
      EXPECT_GE(law.minimum, -1e-3) << name << ": undershoot min q_h / max q_h";
    }
  // The two laws agree with each other as well as with p_eps.
  EXPECT_LE(laws[1].at_eps().to_first_law.l1, 2 * tolerance);
}

INSTANTIATE_TEST_SUITE_P(VpVeOu,
                         Presets,
                         ::testing::Values(PresetCase{"VP", 1},
                                           PresetCase{"VE", 1},
                                           PresetCase{"OU", 1},
                                           PresetCase{"VP", 2},
                                           PresetCase{"VE", 2},
                                           PresetCase{"OU", 2}),
                         [](const auto &info) {
                           return info.param.process + std::to_string(info.param.dim) + "D";
                         });

// Centred Gaussian data from the prior with the exact score: Pierret & Galerne's
// continuous-time laws (MATH.md section 3), and the exact W2 between Gaussians: the ODE
// law N(0, s2) is at W2 = |sqrt(s2) - sqrt(lambda_eps)| from p_eps, which the CDFs of
// the finite-element solution must give.
TEST(GaussianFromThePrior, PierretGalerneLawsAndTheirW2)
{
  Parameters p              = reverse_case(1, "VP", 3, 64, "exact", Start::prior);
  p.process.final_time      = 0.4; // a visible initialisation error
  p.time_stepping.tolerance = 1e-8;
  p.data.type               = "diagonal gaussian";
  p.data.settings           = {{"Variances", "0.3"}, {"Means", "0"}};
  const auto laws           = solve(p, 1);
  ASSERT_EQ(laws.size(), 2u);
  const auto   process = create_process(p.process);
  const double T = 0.4, eps = 1e-3, lambda = 0.3;
  const double c   = process->transition_variance(T);
  const double m_t = process->transition_mean_factor(eps), m_T = process->transition_mean_factor(T);
  const double l_t = m_t * m_t * lambda + process->transition_variance(eps);
  const double l_T = m_T * m_T * lambda + c;
  const double ode = c * l_t / l_T;
  const double sde = l_t + (c - l_T) * (m_T / m_t) * (m_T / m_t) * l_t * l_t / (l_T * l_T);
  for (const auto &law : laws)
    {
      ASSERT_TRUE(law.has_target);
      const double variance = law.law == ReverseLaw::ode ? ode : sde;
      EXPECT_LE(law.at_eps().errors_to_target.l2, 1e-4) << reverse_law_name(law.law);
      EXPECT_NEAR(law.at_eps().covariance[0], variance, 1e-5) << reverse_law_name(law.law);
      const double w2 = std::abs(std::sqrt(variance) - std::sqrt(l_t));
      EXPECT_NEAR(law.at_eps().to_exact.w2, w2, 2e-3 * w2 + 1e-6) << reverse_law_name(law.law);
      // ... and from the data p_0 = N(0, lambda) itself.
      const double w2_data = std::abs(std::sqrt(variance) - std::sqrt(lambda));
      EXPECT_NEAR(law.at_eps().to_data.w2, w2_data, 2e-3 * w2_data + 1e-6)
          << reverse_law_name(law.law);
    }
  // The initialisation error is visible and differs between the laws.
  EXPECT_GE(laws[0].at_eps().to_exact.w2, 0.01);
  const double gap = std::abs(std::sqrt(ode) - std::sqrt(sde));
  EXPECT_NEAR(laws[1].at_eps().to_first_law.w2, gap, 2e-3 * gap + 1e-6);
}

// The same in 2D, where W2 has no CDF: the sliced W2 and MMD^2 at eps from quadrature
// clouds (reverse/cloud_distances.h) against their closed forms between Gaussians for the
// same directions. Both are metrics (MMD as its square root), so each measured distance
// to p_eps is within the law's own distance to Pierret & Galerne's law (also measured)
// of the closed form, plus a small allowance for the sliced W2's smoothing window.
TEST(GaussianFromThePrior, SlicedW2AndMmdIn2D)
{
  Parameters p         = reverse_case(2, "VP", 2, 5, "exact", Start::prior);
  p.process.final_time = 0.5;
  p.data.type          = "diagonal gaussian";
  p.data.settings      = {{"Variances", "0.4, 0.8"}, {"Means", "0, 0"}};
  p.reverse_law.sliced_directions = 32;
  p.reverse_law.mmd_bandwidth     = 0.8;
  const auto laws                 = solve(p, 2);
  ASSERT_EQ(laws.size(), 2u);

  const auto          process = create_process(p.process);
  const double        T = 0.5, eps = 1e-3, c = process->transition_variance(T);
  const double        m_t = process->transition_mean_factor(eps), m_T = process->transition_mean_factor(T);
  const double        lambda[2] = {0.4, 0.8};
  std::vector<double> p_eps(2), ode(2), sde(2);
  for (unsigned int i = 0; i < 2; ++i)
    {
      const double l_t = m_t * m_t * lambda[i] + process->transition_variance(eps);
      const double l_T = m_T * m_T * lambda[i] + c;
      p_eps[i]         = l_t;
      ode[i]           = c * l_t / l_T;
      sde[i] = l_t + (c - l_T) * (m_T / m_t) * (m_T / m_t) * l_t * l_t / (l_T * l_T);
    }
  const std::vector<double> theta = sliced_directions(2, 32);
  const auto sliced = [&](const std::vector<double> &A, const std::vector<double> &B) {
    double sum = 0;
    for (unsigned int t = 0; t < 32; ++t)
      {
        const double c2 = theta[2 * t] * theta[2 * t], s2 = theta[2 * t + 1] * theta[2 * t + 1];
        const double d  = std::sqrt(c2 * A[0] + s2 * A[1]) - std::sqrt(c2 * B[0] + s2 * B[1]);
        sum += d * d / 32;
      }
    return std::sqrt(sum);
  };
  const double l      = 0.8;
  const auto   kernel = [l](const std::vector<double> &A, const std::vector<double> &B) {
    return l * l / std::sqrt((l * l + A[0] + B[0]) * (l * l + A[1] + B[1]));
  };
  const auto mmd = [&](const std::vector<double> &A, const std::vector<double> &B) {
    return std::sqrt(kernel(A, A) + kernel(B, B) - 2 * kernel(A, B));
  };
  for (const auto &law : laws)
    {
      const auto  &target = law.law == ReverseLaw::ode ? ode : sde;
      const auto  &d      = law.at_eps();
      const double sw     = sliced(target, p_eps), mm = mmd(target, p_eps);
      EXPECT_NEAR(d.to_exact.sliced_w2, sw, d.to_target.sliced_w2 + 2e-3 * sw)
          << reverse_law_name(law.law);
      EXPECT_NEAR(std::sqrt(d.to_exact.mmd2), mm, std::sqrt(d.to_target.mmd2) + 1e-3 * mm)
          << reverse_law_name(law.law);
      // The finite-element law is close enough to the closed-form law for these bounds
      // to mean something (the SDE law's distance to p_eps is the smaller).
      EXPECT_LE(d.to_target.sliced_w2, 0.25 * sliced(sde, p_eps)) << reverse_law_name(law.law);
    }
  const auto  &gap     = laws[1].at_eps().to_first_law;
  const double allowed = laws[0].at_eps().to_target.sliced_w2 + laws[1].at_eps().to_target.sliced_w2;
  EXPECT_NEAR(gap.sliced_w2, sliced(ode, sde), allowed + 2e-3 * sliced(ode, sde));
  EXPECT_NEAR(std::sqrt(gap.mmd2),
              mmd(ode, sde),
              std::sqrt(laws[0].at_eps().to_target.mmd2) +
                  std::sqrt(laws[1].at_eps().to_target.mmd2) + 1e-3 * mmd(ode, sde));
}

// A score that is not the score (the exact one plus a gradient bump): the finite-element
// ODE law's log density at points equals log q by characteristics (Task = likelihood)
// up to the discretisation, with the difference falling under refinement; the ODE-SDE
// gap is not zero and converges.
TEST(PerturbedScore, OdeLawIsTheCharacteristicsLawAndTheGapConverges)
{
  Parameters p                     = reverse_case(1, "VP", 2, 16, "perturbed", Start::prior);
  p.process.final_time             = 0.5;
  p.score.perturbation_amplitude   = 0.2;
  p.score.perturbation_width       = 0.7;
  p.time_stepping.tolerance        = 1e-8;
  p.output.n_output_intervals      = 1;
  const std::vector<double> points = {-2.0, -1.1, -0.3, 0.0, 0.4, 1.2, 2.1};
  const auto                setup  = make_reverse_law_case(p);
  ReverseLawInputs          inputs = setup->inputs;
  inputs.points                    = points;

  LikelihoodParameters l;
  l.time               = 1e-3;
  l.relative_tolerance = 1e-10;
  l.absolute_tolerance = 1e-12;
  const FlowLikelihood exact =
      flow_log_likelihood(*setup->score, *setup->process, nullptr, l, points.data(), points.size());

  std::vector<double> differences, gaps;
  for (const unsigned int level : {2u, 3u, 4u})
    {
      const auto laws = solve_reverse_law_case(p, inputs, level, p.output.directory, false, world);
      double     difference = 0;
      for (std::size_t i = 0; i < points.size(); ++i)
        difference =
            std::max(difference, std::abs(laws[0].at_eps().point_log_values[i] - exact.log_q[i]));
      differences.push_back(difference);
      gaps.push_back(laws[1].at_eps().to_first_law.l1);
    }
  EXPECT_LE(differences.back(), 1e-4);
  EXPECT_GE(differences[1] / differences[2], 6.0) << differences[1] << " -> " << differences[2];
  // The gap is a property of the score, not of the mesh: far from zero, and the same on
  // every level to the time tolerance.
  EXPECT_GE(gaps.back(), 0.1);
  EXPECT_LE(std::abs(gaps[1] - gaps[0]), 1e-3 * gaps[2]);
  EXPECT_LE(std::abs(gaps[2] - gaps[1]), 1e-3 * gaps[2]);
}

// Deveney's comparison, with scores that have derivatives (tabulated on a grid): for the
// perturbed score, the measured W2 between the ODE and SDE laws stays below the computed
// bound at every output time (every eps), the bound and the residual integral grow as
// eps falls, and the perturbed score's residual integral is far above the exact
// score's, whose gap is the finite-element floor.
TEST(GapBound, MeasuredGapStaysBelowTheBound)
{
  Parameters p                   = reverse_case(1, "VP", 2, 16, "perturbed", Start::prior);
  p.score.perturbation_amplitude = 0.2;
  p.score.perturbation_width     = 0.7;
  p.output.n_output_intervals    = 4;
  const auto setup               = make_reverse_law_case(p);
  const auto exact               = exact_score(*setup->process, *setup->data);

  const auto tabulated = [&](const ScoreModel &score) {
    ScoreGrid grid;
    grid.axes.emplace_back();
    for (unsigned int i = 0; i <= 240; ++i)
      grid.axes[0].push_back(-6.0 + 0.05 * i);
    for (unsigned int k = 0; k <= 80; ++k)
      grid.times.push_back(1e-3 * std::pow(1e3, k / 80.0)); // 1e-3 ... 1, geometric
    tabulate_score(score, grid, MPI_COMM_SELF);
    return grid_score(grid, score.description());
  };
  std::vector<ReverseLawRunResult> perturbed, exact_laws;
  for (const bool is_perturbed : {true, false})
    {
      const auto       model  = tabulated(is_perturbed ? *setup->score : *exact);
      ReverseLawInputs inputs = setup->inputs;
      inputs.score            = model.get();
      (is_perturbed ? perturbed : exact_laws) =
          solve_reverse_law_case(p, inputs, 3, p.output.directory, false, world);
    }
  ASSERT_TRUE(perturbed[1].has_gap_bound);
  ASSERT_TRUE(exact_laws[1].has_gap_bound);
  const auto &outputs = perturbed[1].outputs; // from T down to eps
  for (std::size_t k = 1; k < outputs.size(); ++k)
    {
      const auto &o = outputs[k];
      EXPECT_LE(o.to_first_law.w2, o.gap_bound) << "t = " << o.time;
      EXPECT_GE(o.gap_bound, outputs[k - 1].gap_bound) << "t = " << o.time;
      EXPECT_GE(o.residual_integral, outputs[k - 1].residual_integral) << "t = " << o.time;
    }
  const auto &at_eps = perturbed[1].at_eps();
  EXPECT_GE(at_eps.to_first_law.w2, 0.05);
  EXPECT_GE(at_eps.residual_integral, 100 * exact_laws[1].at_eps().residual_integral);
  EXPECT_LE(exact_laws[1].at_eps().to_first_law.w2, 1e-2 * at_eps.to_first_law.w2);
  if (dealii::Utilities::MPI::this_mpi_process(world) == 0)
    for (const auto &o : outputs)
      std::cout << "  t = " << o.time << ": W2 gap " << o.to_first_law.w2 << ", bound "
                << o.gap_bound << ", int ||r|| " << o.residual_integral << " (exact score "
                << exact_laws[1].outputs[&o - &outputs[0]].residual_integral << ")\n";
}

// Any number of ranks gives the one-rank result to solver tolerance (2D VP, both laws).
TEST(ParallelAgreement, AllRanksAgreeWithOneRank)
{
  if (dealii::Utilities::MPI::n_mpi_processes(world) == 1)
    GTEST_SKIP() << "needs more than one rank (ctest runs it under mpirun -np 2)";
  Parameters p              = reverse_case(2, "VP", 2, 8, "perturbed", Start::prior);
  p.time_stepping.tolerance = 1e-6;
  const auto serial         = solve(p, 1, MPI_COMM_SELF);
  const auto parallel       = solve(p, 1, world);
  ASSERT_EQ(serial.size(), parallel.size());
  for (unsigned int k = 0; k < serial.size(); ++k)
    {
      EXPECT_EQ(serial[k].n_steps, parallel[k].n_steps);
      EXPECT_NEAR(serial[k].at_eps().errors.l2, parallel[k].at_eps().errors.l2, 1e-8);
      EXPECT_NEAR(serial[k].at_eps().mass, parallel[k].at_eps().mass, 1e-11);
      EXPECT_NEAR(serial[k].at_eps().to_first_law.l1, parallel[k].at_eps().to_first_law.l1, 1e-8);
    }
}

// PETSc (block Jacobi with ILU) and Trilinos (Ifpack ILU) give the same laws.
TEST(Backends, PetscAgreesWithTrilinos)
{
  Parameters p              = reverse_case(1, "VP", 2, 16, "perturbed", Start::prior);
  p.time_stepping.tolerance = 1e-6;
  p.linear_solver.backend   = LinearSolverParameters::Backend::trilinos;
  const auto trilinos       = solve(p, 1);
  p.linear_solver.backend   = LinearSolverParameters::Backend::petsc;
  const auto petsc          = solve(p, 1);
  ASSERT_EQ(petsc.size(), trilinos.size());
  for (unsigned int k = 0; k < petsc.size(); ++k)
    {
      EXPECT_EQ(petsc[k].n_steps, trilinos[k].n_steps);
      EXPECT_NEAR(petsc[k].at_eps().errors.l2, trilinos[k].at_eps().errors.l2, 1e-8);
      EXPECT_NEAR(petsc[k].at_eps().to_exact.w2, trilinos[k].at_eps().to_exact.w2, 1e-8);
    }
}

// The error split: with the exact score the score rows are the exact-score rows to the
// last digit (the same solves), the floor is far below the initialisation error, and the
// truncation KL(p_0 || p_eps) of Gaussian data is the closed form
// 1/2 (a/b - 1 - ln(a/b)), a = lambda, b = m^2 lambda + v.
TEST(ErrorSplit, RowsAndTruncationAgainstClosedForms)
{
  Parameters p                = reverse_case(1, "VP", 3, 32, "exact", Start::prior);
  p.process.final_time        = 0.4;
  p.time_stepping.tolerance   = 1e-7;
  p.output.n_output_intervals = 1;
  p.data.type                 = "diagonal gaussian";
  p.data.settings             = {{"Variances", "0.3"}, {"Means", "0"}};
  p.reverse_law.error_split   = true;
  const auto       setup      = make_reverse_law_case(p);
  const ErrorSplit split      = reverse_law_error_split(p, *setup, world);
  ASSERT_EQ(split.rows.size(), 4u);
  ASSERT_EQ(split.laws.size(), 2u);
  const auto &floor = split.rows[0], &initialisation = split.rows[1], &score = split.rows[2],
             &total = split.rows[3];
  for (unsigned int k = 0; k < 2; ++k)
    {
      EXPECT_EQ(score.laws[k].l1, floor.laws[k].l1);
      EXPECT_EQ(total.laws[k].l1, initialisation.laws[k].l1);
      EXPECT_LE(floor.laws[k].l1, 1e-4);
      EXPECT_GE(initialisation.laws[k].l1, 100 * floor.laws[k].l1);
    }
  // The ODE law keeps more of the initialisation error than the SDE law.
  EXPECT_GT(initialisation.laws[0].l1, initialisation.laws[1].l1);
  const auto   process = create_process(p.process);
  const double a = 0.3, m = process->transition_mean_factor(1e-3);
  const double b = m * m * a + process->transition_variance(1e-3);
  EXPECT_NEAR(
      split.truncation.kl_pq, 0.5 * (a / b - 1 - std::log(a / b)), 1e-6 * split.truncation.kl_pq);
}

// The discretisation row of the error split: particles of a sampler with a wrong score
// (the exact one plus a gradient bump) are checked against the finite-element law of
// that same score, read back from the law's reference file, and against p_eps. With
// many steps Euler-Maruyama passes against the SDE law and Heun against the ODE law,
// while both fail against p_eps (the score is wrong); with 10 steps Euler-Maruyama
// fails against its own law (the steps are too few). 1D, 2 x 10^4 particles, 99 null
// draws, W1 and KS.
TEST(SamplerCheck, ManyStepsPassAgainstTheirLawFewStepsFail)
{
  Parameters p                   = reverse_case(1, "VP", 2, 16, "perturbed", Start::prior);
  p.score.perturbation_amplitude = 0.2;
  p.score.perturbation_width     = 0.7;
  p.output.reference_file        = "law.h5";
  p.output.directory += "-sampler-check";
  p.sampler.n_particles = 20000;
  p.checker.null_draws  = 99;
  p.checker.statistics  = {{"W1", nullptr}, {"KS", nullptr}};
  const auto       setup  = make_reverse_law_case(p);
  ReverseLawInputs inputs = setup->inputs;
  inputs.points           = {-2.0, -1.1, -0.3, 0.05, 0.4, 1.2, 2.1}; // none on a vertex
  const auto laws = solve_reverse_law_case(p, inputs, 3, p.output.directory, true, world);
  ASSERT_EQ(laws.size(), 2u);
  // The reference files hold the discontinuous laws exactly: the file's density at eps
  // is the solution's at the points.
  for (const auto &law : laws)
    {
      ASSERT_FALSE(law.reference_file.empty());
      const auto          file = ReferenceField::read(law.reference_file);
      std::vector<double> q(inputs.points.size());
      ASSERT_NEAR(file->times().front(), 1e-3, 1e-15);
      file->evaluate(0,
                     inputs.points.data(),
                     inputs.points.size(),
                     q.data(),
                     nullptr,
                     ScoreSource::log_density_gradient);
      for (std::size_t i = 0; i < q.size(); ++i)
        EXPECT_NEAR(std::log(q[i]), law.at_eps().point_log_values[i], 1e-10) << "point " << i;
    }

  const auto check = [&](const std::string &scheme, const unsigned int steps) {
    p.sampler.scheme  = scheme;
    p.sampler.n_steps = steps;
    const std::string &file =
        laws[create_scheme(scheme)->probability_flow() ? 0 : 1].reference_file;
    return check_sampler_against_law(p, *setup, file, p.output.directory, world);
  };
  // A law's file as Reverse law/Compare file: the SDE law's distances to it are its
  // distances to the ODE law (the same field on the same mesh), the ODE law's are zero
  // up to how exactly the file's reader locates points (1e-7).
  {
    Parameters compared                = p;
    compared.output.reference_file     = "";
    compared.reverse_law.compare_file  = laws[0].reference_file;
    const auto compared_setup          = make_reverse_law_case(compared);
    const auto again                   = solve_reverse_law_case(
        compared, compared_setup->inputs, 3, compared.output.directory, false, world);
    ASSERT_TRUE(again[1].has_file);
    for (const auto &o : again[1].outputs)
      {
        // (the file's reader maps points to cells by Newton's method: 1e-7 relative)
        EXPECT_NEAR(o.to_file.l1, o.to_first_law.l1, 1e-6 * o.to_first_law.l1 + 1e-12) << o.time;
        EXPECT_NEAR(o.to_file.w2, o.to_first_law.w2, 1e-6 * o.to_first_law.w2 + 1e-12) << o.time;
      }
    EXPECT_LE(again[0].at_eps().to_file.l1, 1e-6);
  }
  const SamplerCheck sde = check("euler-maruyama", 1000);
  EXPECT_EQ(sde.law, ReverseLaw::sde);
  EXPECT_TRUE(sde.against_law.pass);
  EXPECT_FALSE(sde.against_p_eps.pass);
  const SamplerCheck ode = check("ode-heun", 200);
  EXPECT_EQ(ode.law, ReverseLaw::ode);
  EXPECT_TRUE(ode.against_law.pass);
  EXPECT_FALSE(ode.against_p_eps.pass);
  const SamplerCheck coarse = check("euler-maruyama", 10);
  EXPECT_FALSE(coarse.against_law.pass);
  for (const SamplerCheck *c : {&sde, &ode, &coarse})
    for (const auto &s : c->against_law.statistics)
      if (dealii::Utilities::MPI::this_mpi_process(world) == 0)
        std::cout << "  " << c->scheme << " " << c->n_steps << " steps: " << s.name << " "
                << s.value << " (p " << s.p_value << ") against its law\n";
}
