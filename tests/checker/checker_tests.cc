// The checker's calibration and power: samples drawn from the reference itself are
// rejected at rate alpha over repeated draws; samples whose variance is 5% off are
// rejected at N = 10^5; with Checker/Null method = monte carlo (the method of record)
// and auto (asymptotic laws of MMD^2, chi^2 and KS, cached Monte Carlo nulls of the
// others). The null cache: equal to Monte Carlo bit for bit, read back, damaged files
// recomputed. Runs under mpirun (the null draws are shared among ranks).
#include <scorefp/checker/checker.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/core/random.h>
#include <scorefp/io/sample_files.h>
#include <scorefp/core/input_error.h>
#include <scorefp/io/json.h>

#include <deal.II/base/mpi.h>
#include <deal.II/base/parameter_handler.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
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

  // extra: further --set overrides ("Checker/Null method=auto", ...). Without one for
  // Checker/Null method the case uses monte carlo, the method whose calibration the
  // older tests check.
  Parameters parameters(const std::string              &text,
                        const std::string              &samples,
                        const double                    t,
                        const unsigned int              null_draws = 19,
                        const std::vector<std::string> &extra      = {})
  {
    const std::string file = temporary("case.prm");
    std::ofstream(file) << text;
    dealii::ParameterHandler prm;
    declare_parameters(prm);
    std::vector<std::string> overrides = {"Checker/Samples file=" + samples,
                                          "Checker/Time=" + std::to_string(t),
                                          "Checker/Null draws=" + std::to_string(null_draws)};
    bool method = false;
    for (const auto &e : extra)
      method = method || e.rfind("Checker/Null method=", 0) == 0;
    if (!method)
      overrides.push_back("Checker/Null method=monte carlo");
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    return read_parameters(prm, file, overrides);
  }

  // The check of a parsed case (as Task = check runs it, without progress lines).
  CheckResult check(const Parameters &p, const MPI_Comm communicator = MPI_COMM_WORLD)
  {
    return check_samples({p.process,
                          p.data,
                          p.mesh,
                          p.checker,
                          p.dimension,
                          p.discretization.degree,
                          p.use_scaled_coordinates(),
                          -1.0,
                          temporary("output")},
                         communicator);
  }

  // A directory all ranks name alike (rank 0 alone writes the cache), emptied.
  std::string shared_directory(const std::string &name)
  {
    const std::string directory = ::testing::TempDir() + "checker_shared_" + name;
    MPI_Barrier(MPI_COMM_WORLD);
    if (dealii::Utilities::MPI::this_mpi_process(MPI_COMM_WORLD) == 0)
      std::filesystem::remove_all(directory);
    MPI_Barrier(MPI_COMM_WORLD);
    return directory;
  }

  std::vector<std::string> cache_files(const std::string &directory)
  {
    std::vector<std::string> files;
    if (std::filesystem::exists(directory))
      for (const auto &entry : std::filesystem::directory_iterator(directory))
        files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    return files;
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
  void false_rejection_rate(const std::string              &text,
                            const double                    t,
                            const std::size_t               n,
                            const unsigned int              null_draws,
                            const std::vector<std::string> &extra = {})
  {
    const Parameters          p0          = parameters(text, "unused.npy", t, null_draws, extra);
    const unsigned int        repetitions = 100;
    std::vector<unsigned int> rejected;
    unsigned int              overall = 0;
    std::vector<std::string>  names;
    for (unsigned int r = 0; r < repetitions; ++r)
      {
        const Parameters  p = parameters(text, draw(p0, t, n, 1000 + r), t, null_draws, extra);
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

// Null method = auto: MMD^2 and chi^2 by their asymptotic laws, sliced W2 from a null
// cache computed once (the same 199 null values for every repetition, so its false
// rejection rate is alpha up to the spread of that one null set).
TEST(Checker, FalseRejectionRateIsNearAlphaWithAutoNulls2D)
{
  false_rejection_rate(blob_case,
                       0.3,
                       2000,
                       199,
                       {"Checker/Null method=auto",
                        "Checker/Null cache=" + shared_directory("calibration")});
}

TEST(Checker, RejectsAFivePercentVarianceErrorAtN1e5WithAutoNulls)
{
  const double                   t     = 0.3;
  const std::vector<std::string> extra = {"Checker/Null method=auto",
                                          "Checker/Null cache=" + shared_directory("power")};
  const Parameters  p0    = parameters(blob_case, "unused.npy", t, 49, extra);
  const CheckResult exact = check(parameters(blob_case, draw(p0, t, 100000, 5), t, 49, extra));
  EXPECT_TRUE(exact.pass) << "exact samples";
  const CheckResult wide =
      check(parameters(blob_case, draw(p0, t, 100000, 5, 1.05), t, 49, extra));
  EXPECT_FALSE(wide.pass) << "variance 5% too large";
  EXPECT_EQ(wide.null_sets_drawn, 0u) << "the second check reads the sliced W2 null cache";
  for (const auto &s : wide.statistics)
    {
      EXPECT_EQ(s.null, s.name == "sliced W2" ? "cached" : "asymptotic") << s.name;
      EXPECT_LE(s.p_value, 0.05) << s.name << " = " << s.value;
    }
}

// N MMD^2 -> sum_j lambda_j chi^2_1: the asymptotic p-values agree with 199 Monte Carlo
// null draws within their error, on exact samples and on samples of the wrong variance.
TEST(Checker, AsymptoticMmdAgreesWithMonteCarlo)
{
  const std::string text = with_statistics(blob_case, "MMD^2");
  const double      t    = 0.3;
  const Parameters  p0   = parameters(text, "unused.npy", t, 199);
  for (const auto &[seed, factor] : {std::pair{11, 1.0},
                                     std::pair{12, 1.0},
                                     std::pair{13, 1.0},
                                     std::pair{14, 1.1},
                                     std::pair{15, 1.15}})
    {
      const std::string samples = draw(p0, t, 2000, seed, factor);
      const CheckResult mc      = check(parameters(text, samples, t, 199));
      const CheckResult automatic =
          check(parameters(text, samples, t, 199, {"Checker/Null method=auto"}));
      ASSERT_EQ(mc.statistics.size(), 1u);
      const CheckStatistic &m = mc.statistics[0], &a = automatic.statistics[0];
      EXPECT_EQ(a.null, "asymptotic");
      EXPECT_EQ(automatic.null_sets_drawn, 0u) << "no null sample set is drawn";
      EXPECT_EQ(a.value, m.value);
      EXPECT_EQ(a.p_value, m.asymptotic_p_value) << "monte carlo reports the same law";
      // The Monte Carlo p-value's binomial standard error, and 1/200 for its grain.
      const double error = std::sqrt(a.p_value * (1 - a.p_value) / 199) + 1.0 / 200;
      EXPECT_LE(std::abs(a.p_value - m.p_value), 3.5 * error)
          << "seed " << seed << ", variance factor " << factor << ": asymptotic " << a.p_value
          << ", Monte Carlo " << m.p_value;
    }
}

// The cached null values are the Monte Carlo ones bit for bit; the second check reads
// them; damaged, edited or foreign cache files are recomputed, never trusted.
TEST(Checker, NullCacheEqualsMonteCarloAndSurvivesDamage)
{
  const bool        root    = dealii::Utilities::MPI::this_mpi_process(MPI_COMM_WORLD) == 0;
  const std::string cache   = shared_directory("cache");
  const std::string text    = with_statistics(blob_case, "sliced W2, MMD^2, chi^2 over cells");
  const double      t       = 0.3;
  const Parameters  p0      = parameters(text, "unused.npy", t, 39);
  const std::string samples = draw(p0, t, 2000, 21, 1.02);
  const std::vector<std::string> automatic = {"Checker/Null method=auto",
                                              "Checker/Null cache=" + cache};
  const CheckResult mc = check(parameters(text, samples, t, 39));
  EXPECT_EQ(mc.null_sets_drawn, 39u);
  for (const auto &s : mc.statistics)
    EXPECT_EQ(s.null, "monte carlo");

  const auto expect_equal_to_mc = [&](const CheckResult &r, const std::string &sliced_null) {
    ASSERT_EQ(r.statistics.size(), 3u);
    EXPECT_EQ(r.statistics[0].null, sliced_null);
    EXPECT_EQ(r.statistics[0].value, mc.statistics[0].value);
    EXPECT_EQ(r.statistics[0].p_value, mc.statistics[0].p_value);
    EXPECT_EQ(r.statistics[0].null_median, mc.statistics[0].null_median);
    EXPECT_EQ(r.statistics[0].null_95, mc.statistics[0].null_95);
    EXPECT_EQ(r.statistics[1].null, "asymptotic");
    EXPECT_EQ(r.statistics[2].null, "asymptotic");
    EXPECT_EQ(r.statistics[1].p_value, mc.statistics[1].asymptotic_p_value);
    EXPECT_EQ(r.statistics[2].p_value, mc.statistics[2].asymptotic_p_value);
  };
  const CheckResult cold = check(parameters(text, samples, t, 39, automatic));
  expect_equal_to_mc(cold, "computed and cached");
  EXPECT_EQ(cold.null_sets_drawn, 39u);
  const std::vector<std::string> files = cache_files(cache);
  ASSERT_EQ(files.size(), 2u) << "sliced W2's null values and MMD^2's asymptotic law";
  const std::string file = files[0].find("sliced") != std::string::npos ? files[0] : files[1];
  const std::string law  = files[0].find("sliced") != std::string::npos ? files[1] : files[0];
  EXPECT_NE(law.find("-law-"), std::string::npos) << law;
  const CheckResult warm = check(parameters(text, samples, t, 39, automatic));
  expect_equal_to_mc(warm, "cached");
  EXPECT_EQ(warm.null_sets_drawn, 0u) << "a warm cache draws no null sample set";

  // A damaged law is computed again: the same p-values.
  if (root)
    {
      std::ifstream      in(law);
      std::ostringstream content;
      content << in.rdbuf();
      std::ofstream(law) << content.str().substr(0, content.str().size() / 2);
    }
  MPI_Barrier(MPI_COMM_WORLD);
  expect_equal_to_mc(check(parameters(text, samples, t, 39, automatic)), "cached");

  // Damage: each is detected, recomputed (the same values) and the file rewritten.
  std::string       original;
  {
    std::ifstream      in(file);
    std::ostringstream s;
    s << in.rdbuf();
    original = s.str();
  }
  const std::vector<std::function<std::string(std::string)>> damages = {
      [](std::string text) { return text.substr(0, text.size() / 2); }, // truncated
      [](std::string text) {                                             // a value edited
        Json json = Json::parse(text);
        json["values"][3] = json["values"][3].get<double>() * 1.5;
        return json.dump(1);
      },
      [](std::string text) { // another provenance
        Json json          = Json::parse(text);
        json["provenance"] = json["provenance"].get<std::string>() + " ";
        return json.dump(1);
      },
      [](std::string text) { // a value not finite
        Json json         = Json::parse(text);
        json["values"][0] = "nan";
        return json.dump(1);
      },
      [](std::string text) { // one value short
        Json json = Json::parse(text);
        json["values"].erase(json["values"].size() - 1);
        return json.dump(1);
      }};
  for (std::size_t k = 0; k < damages.size(); ++k)
    {
      if (root)
        std::ofstream(file) << damages[k](original);
      MPI_Barrier(MPI_COMM_WORLD);
      const CheckResult again = check(parameters(text, samples, t, 39, automatic));
      expect_equal_to_mc(again, "computed and cached");
      EXPECT_EQ(again.null_sets_drawn, 39u) << "damage " << k;
      const CheckResult read = check(parameters(text, samples, t, 39, automatic));
      expect_equal_to_mc(read, "cached");
    }

  // A cache that cannot be written: the check completes, its null values drawn now.
  const std::string blocked = shared_directory("blocked");
  if (root)
    std::ofstream(blocked) << "a file, not a directory";
  MPI_Barrier(MPI_COMM_WORLD);
  const CheckResult unwritable = check(
      parameters(text, samples, t, 39, {"Checker/Null method=auto", "Checker/Null cache=" + blocked + "/x"}));
  expect_equal_to_mc(unwritable, "monte carlo");

  // Only asymptotic statistics: no null sample set; only MMD^2's law written.
  const std::string empty = shared_directory("unused");
  const CheckResult asymptotic =
      check(parameters(with_statistics(blob_case, "MMD^2, chi^2 over cells"),
                       samples,
                       t,
                       39,
                       {"Checker/Null method=auto", "Checker/Null cache=" + empty}));
  EXPECT_EQ(asymptotic.null_sets_drawn, 0u);
  ASSERT_EQ(cache_files(empty).size(), 1u);
  EXPECT_NE(cache_files(empty)[0].find("-law-"), std::string::npos);

  // Another N is another key for the null values (the law does not depend on N): a
  // third file (the samples file is drawn anew).
  check(parameters(text, draw(p0, t, 1500, 22), t, 39, automatic));
  EXPECT_EQ(cache_files(cache).size(), 3u);
}

// Observed values (MMD^2's features and sliced W2's directions are shared over the
// ranks) and p-values are the same on 1 rank and on 2.
TEST(Checker, OneAndTwoRanksAgree)
{
  const std::string text    = with_statistics(blob_case, "sliced W2, MMD^2, chi^2 over cells");
  const double      t       = 0.3;
  const Parameters  p0      = parameters(text, "unused.npy", t, 39);
  const std::string samples = draw(p0, t, 3000, 31, 1.03);
  for (const std::string method : {"monte carlo", "auto"})
    {
      const std::vector<std::string> extra = {"Checker/Null method=" + method,
                                              "Checker/Null cache=" + temporary("ranks")};
      const CheckResult all  = check(parameters(text, samples, t, 39, extra), MPI_COMM_WORLD);
      const CheckResult self = check(parameters(text, samples, t, 39, extra), MPI_COMM_SELF);
      ASSERT_EQ(all.statistics.size(), self.statistics.size());
      for (std::size_t s = 0; s < all.statistics.size(); ++s)
        {
          EXPECT_EQ(all.statistics[s].value, self.statistics[s].value) << method;
          EXPECT_EQ(all.statistics[s].p_value, self.statistics[s].p_value) << method;
        }
    }
}

TEST(Checker, MisspeltNullMethodIsRejected)
{
  try
    {
      parameters(blob_case, "unused.npy", 0.3, 19, {"Checker/Null method=montecarlo"});
      FAIL() << "a misspelt Null method was accepted";
    }
  catch (const InputError &e)
    {
      const std::string message = e.what();
      EXPECT_NE(message.find("Null method"), std::string::npos) << message;
      EXPECT_NE(message.find("monte carlo"), std::string::npos) << message;
      EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 0) << message;
    }
}
