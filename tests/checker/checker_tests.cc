// The checker's calibration and power: samples drawn from the reference itself are
// rejected at rate alpha over repeated draws; samples whose variance is 5% off are
// rejected at N = 10^5. Runs under mpirun (the null draws are shared among ranks).
#include <scorefp/checker/checker.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/core/random.h>
#include <scorefp/io/sample_files.h>

#include <deal.II/base/mpi.h>
#include <deal.II/base/parameter_handler.h>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

using namespace scorefp;

namespace
{
  const std::string blob_case = R"(
set Task = check
set Dimension = 2
subsection Process
  set Type = VP
end
subsection Initial data
  set Type = blob
end
subsection Mesh
  set Box lower corner = -5
  set Box upper corner = 5
  set Coarse subdivisions = 5
  set Refinement levels = 2
end
subsection Discretization
  set Polynomial degree = 2
end
subsection Checker
  set Null draws = 19
  set Level = 0.1
  set MMD features = 64
  set Sliced directions = 16
end
subsection Output
  set Quiet = true
end
)";

  const std::string mixture_1d_case = R"(
set Task = check
set Dimension = 1
subsection Process
  set Type = VP
end
subsection Initial data
  set Type = gaussian mixture
  set Weights = 0.3, 0.7
  set Means = -1; 1.5
  set Covariances = 0.2; 0.1
end
subsection Mesh
  set Box lower corner = -5
  set Box upper corner = 5
  set Coarse subdivisions = 10
  set Refinement levels = 3
end
subsection Checker
  set Null draws = 19
  set Level = 0.1
  set MMD features = 64
end
subsection Output
  set Quiet = true
end
)";

  // The case with Checker/Statistics = `statistics` (and, if not empty, the refinement
  // level replaced: the energy distance in 2D costs N x cloud + N^2 per sample set).
  std::string with_statistics(std::string        text,
                              const std::string &statistics,
                              const std::string &refinement = "")
  {
    const std::string checker = "subsection Checker\n";
    text.insert(text.find(checker) + checker.size(), "  set Statistics = " + statistics + "\n");
    if (!refinement.empty())
      {
        const std::string entry = "set Refinement levels = ";
        const auto        at    = text.find(entry) + entry.size();
        text.replace(at, text.find('\n', at) - at, refinement);
      }
    return text;
  }

  std::string temporary(const std::string &name)
  {
    return ::testing::TempDir() + "checker_" +
           std::to_string(dealii::Utilities::MPI::this_mpi_process(MPI_COMM_WORLD)) + "_" + name;
  }

  Parameters parameters(const std::string &text,
                        const std::string &samples,
                        const double       t,
                        const unsigned int null_draws = 19)
  {
    const std::string file = temporary("case.prm");
    std::ofstream(file) << text;
    dealii::ParameterHandler prm;
    declare_parameters(prm);
    return read_parameters(prm,
                           file,
                           {"Checker/Samples file=" + samples,
                            "Checker/Time=" + std::to_string(t),
                            "Checker/Null draws=" + std::to_string(null_draws)});
  }

  // The check of a parsed case (as Task = check runs it, without progress lines).
  CheckResult check(const Parameters &p)
  {
    return check_samples({p.process,
                          p.data,
                          p.mesh,
                          p.checker,
                          p.dimension,
                          p.discretization.degree,
                          p.use_scaled_coordinates()},
                         MPI_COMM_WORLD);
  }

  // N exact draws of p_t (each rank writes its own copy), the deviations from the mean
  // of p_t scaled by sqrt(variance_factor).
  std::string draw(const Parameters   &p,
                   const double        t,
                   const std::size_t   n,
                   const std::uint64_t seed,
                   const double        variance_factor = 1.0)
  {
    const auto          process = create_process(p.process);
    const auto          data    = create_data(p.data, p.dimension);
    const double        m = process->transition_mean_factor(t), v = process->transition_variance(t);
    const unsigned int  d    = p.dimension;
    const auto          mean = data->mean();
    std::vector<double> x(n * d);
    for (std::size_t k = 0; k < n; ++k)
      {
        CounterRng rng(seed, k);
        data->sample_transported(rng, m, v, &x[k * d]);
        for (unsigned int j = 0; j < d; ++j)
          x[k * d + j] = m * mean[j] + std::sqrt(variance_factor) * (x[k * d + j] - m * mean[j]);
      }
    const std::string file = temporary("samples.npy");
    write_npy(file, x, {n, d});
    return file;
  }

  // null_draws + 1 must be a multiple of 10 (P(p <= 0.1) = 0.1 exactly) and at least
  // K / 0.1 for K statistics (the overall verdict's level alpha / K must be reachable).
  void false_rejection_rate(const std::string &text,
                            const double       t,
                            const std::size_t  n,
                            const unsigned int null_draws)
  {
    const Parameters          p0          = parameters(text, "unused.npy", t, null_draws);
    const unsigned int        repetitions = 100;
    std::vector<unsigned int> rejected;
    unsigned int              overall = 0;
    std::vector<std::string>  names;
    for (unsigned int r = 0; r < repetitions; ++r)
      {
        const Parameters  p      = parameters(text, draw(p0, t, n, 1000 + r), t, null_draws);
        const CheckResult result = check(p);
        rejected.resize(result.statistics.size());
        names.clear();
        for (unsigned int s = 0; s < result.statistics.size(); ++s)
          {
            rejected[s] += !result.statistics[s].pass;
            names.push_back(result.statistics[s].name);
          }
        overall += !result.pass;
      }
    // A calibrated p-value is <= 0.1 with probability exactly 0.1;
    // over 100 repetitions the count is Binomial(100, 0.1): 10 +- 3.
    for (unsigned int s = 0; s < rejected.size(); ++s)
      {
        EXPECT_GE(rejected[s], 3u) << names[s];
        EXPECT_LE(rejected[s], 19u) << names[s];
      }
    EXPECT_LE(overall, 19u) << "Bonferroni verdict";
  }
} // namespace

TEST(Checker, FalseRejectionRateIsNearAlpha2D)
{
  false_rejection_rate(blob_case, 0.3, 2000, 29);
}

TEST(Checker, FalseRejectionRateIsNearAlpha1D)
{
  false_rejection_rate(mixture_1d_case, 0.05, 1000, 49);
}

TEST(Checker, EnergyDistanceFalseRejectionRateIsNearAlpha2D)
{
  false_rejection_rate(with_statistics(blob_case, "energy distance", "1"), 0.3, 300, 29);
}

TEST(Checker, EnergyDistanceFalseRejectionRateIsNearAlpha1D)
{
  false_rejection_rate(with_statistics(mixture_1d_case, "energy distance"), 0.05, 1000, 49);
}

TEST(Checker, EnergyDistanceRejectsAFivePercentVarianceErrorAtN1e5)
{
  // 1D, where the energy distance is exact in O(N log N); listed after W2 (and
  // "sliced W2", which does not apply in 1D), it is reported second and K = 2.
  const std::string text  = with_statistics(mixture_1d_case, "W2, sliced W2, energy distance");
  const double      t     = 0.05;
  const Parameters  p0    = parameters(text, "unused.npy", t, 59);
  const CheckResult exact = check(parameters(text, draw(p0, t, 100000, 5), t, 59));
  ASSERT_EQ(exact.statistics.size(), 2u);
  EXPECT_EQ(exact.statistics.back().name, "energy distance");
  EXPECT_TRUE(exact.pass) << "exact samples";
  const CheckResult wide = check(parameters(text, draw(p0, t, 100000, 5, 1.05), t, 59));
  EXPECT_FALSE(wide.pass) << "variance 5% too large";
  EXPECT_LE(wide.statistics.back().p_value, 0.05)
      << "energy distance " << wide.statistics.back().value << ", null median "
      << wide.statistics.back().null_median;
}

TEST(Checker, RejectsAFivePercentVarianceErrorAtN1e5)
{
  for (const auto &[text, t] : {std::pair{blob_case, 0.3}, std::pair{mixture_1d_case, 0.05}})
    {
      const Parameters p0 = parameters(text, "unused.npy", t, 49);
      // 49 null draws: the overall verdict tests each of up to 5 statistics at 0.1/5.
      const CheckResult exact =
          check(parameters(text, draw(p0, t, 100000, 5), t, 49));
      EXPECT_TRUE(exact.pass) << "exact samples, dimension " << p0.dimension;
      const CheckResult wide =
          check(parameters(text, draw(p0, t, 100000, 5, 1.05), t, 49));
      std::ostringstream report;
      for (const auto &s : wide.statistics)
        report << s.name << " = " << s.value << " (p " << s.p_value << ", null median "
               << s.null_median << "); ";
      EXPECT_FALSE(wide.pass) << "variance 5% too large, dimension " << p0.dimension << ": "
                              << report.str();
      for (const auto &s : wide.statistics)
        {
          if (s.name == "sliced W2" || s.name == "W2" || s.name == "chi^2 over cells")
            {
              EXPECT_LE(s.p_value, 0.05) << s.name << " at dimension " << p0.dimension;
            }
        }
    }
}
