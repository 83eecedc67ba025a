// Reading what users give (parameter files, overrides, point lists) and writing JSON:
// every mistake becomes one InputError sentence that names the culprit.
#include <scorefp/core/input_error.h>
#include <scorefp/io/io.h>
#include <scorefp/io/json.h>
#include <scorefp/io/sample_files.h>
#include <scorefp/tasks/parameters.h>

#include <deal.II/base/parameter_handler.h>

#include <gtest/gtest.h>

#include <tuple>

#include <cstdio>
#include <fstream>
#include <sstream>

using namespace scorefp;

namespace
{
  std::string write_temporary(const std::string &name, const std::string &text)
  {
    const std::string path = ::testing::TempDir() + name;
    std::ofstream(path) << text;
    return path;
  }

  // The message of the InputError that f throws ("" if none).
  template <typename F>
  std::string input_error_of(F f)
  {
    try
      {
        f();
      }
    catch (const InputError &e)
      {
        return e.what();
      }
    return "";
  }

  std::string read_error(const std::string              &prm_text,
                         const std::vector<std::string> &overrides = {})
  {
    const std::string file = write_temporary("case.prm", prm_text);
    return input_error_of([&]() {
      dealii::ParameterHandler prm;
      declare_parameters(prm);
      read_parameters(prm, file, overrides);
    });
  }
} // namespace

TEST(Parameters, DefaultsParseAndOverridesApply)
{
  const std::string file = write_temporary(
      "ok.prm", "set Dimension = 1\nsubsection Initial data\n set Type = gaussian mixture\nend\n");
  dealii::ParameterHandler prm;
  declare_parameters(prm);
  const Parameters p =
      read_parameters(prm, file, {"Time stepping/Tolerance=1e-7", "Mesh/Refinement levels=2,3"});
  EXPECT_EQ(p.dimension, 1u);
  EXPECT_EQ(p.time_stepping.tolerance, 1e-7);
  EXPECT_EQ(p.mesh.refinement_levels, (std::vector<unsigned int>{2, 3}));
  EXPECT_EQ(p.mesh.lower_corner, (std::vector<double>{-5.0}));
  EXPECT_FALSE(p.use_scaled_coordinates());
}

TEST(Parameters, MixtureEntriesArePerComponent)
{
  const std::string        file = write_temporary("mix.prm", R"(set Dimension = 2
subsection Initial data
  set Type = gaussian mixture
  set Weights = 1, 3
  set Means = 0, 1; 2, 3
  set Covariances = 0.5; 1, 0.2, 0.2, 2
end
)");
  dealii::ParameterHandler prm;
  declare_parameters(prm);
  const Parameters p = read_parameters(prm, file, {});
  const auto  data    = create_data(p.data, 2);
  const auto &mixture = dynamic_cast<const GaussianMixture &>(*data);
  EXPECT_EQ(mixture.component_means(), (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(mixture.component_covariances(),
            (std::vector<double>{0.5, 0, 0, 0.5, 1, 0.2, 0.2, 2}));
}

TEST(Parameters, MistakesNameTheirCulprit)
{
  EXPECT_NE(read_error("set Dimensoin = 2\n").find("Dimensoin"), std::string::npos);
  EXPECT_NE(read_error("set Dimension = 4\n").find("Dimension"), std::string::npos);
  EXPECT_NE(read_error("subsection Process\n set Type = VX\nend\n").find("VX"), std::string::npos);
  EXPECT_NE(read_error("subsection Mesh\n set Box lower corner = 1, 2, 3\nend\n")
                .find("Box lower corner"),
            std::string::npos);
  EXPECT_NE(read_error("subsection Initial data\n set Type = gaussian mixture\n set Weights = "
                       "1, 1\n set Means = 0, 0\nend\n")
                .find("Weights has 2 components"),
            std::string::npos);
  EXPECT_NE(
      read_error(
          "subsection Initial data\n set Type = gaussian mixture\n set Covariances = 1, x\nend\n")
          .find("'x'"),
      std::string::npos);
  EXPECT_NE(read_error("", {"Time stepping/Tolerence=1"}).find("Tolerence"), std::string::npos);
  EXPECT_NE(read_error("", {"Time stepping/Tolerance"}).find("has no '='"), std::string::npos);
  EXPECT_NE(read_error("subsection Process\n set Final time = 0\nend\n").find("Final time"),
            std::string::npos);
  const std::string missing = input_error_of([]() {
    dealii::ParameterHandler prm;
    declare_parameters(prm);
    read_parameters(prm, "/nonexistent/case.prm", {});
  });
  EXPECT_NE(missing.find("/nonexistent/case.prm"), std::string::npos);
  // One sentence: no line breaks, no deal.II stack trace.
  EXPECT_EQ(read_error("set Dimensoin = 2\n").find('\n'), std::string::npos);
}

TEST(PointsCsv, ReadByTheTableReaderWithTheEntryNamed)
{
  const auto points = [](const std::string &name, const std::string &text) {
    return read_samples(write_temporary(name, text), 2, "Output/Points file");
  };
  const SampleSet ok = points("p.csv", "x,y\n# comment\n0, 1\n-2.5,3e-1\n");
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok(1, 0), -2.5);
  EXPECT_EQ(ok(1, 1), 0.3);
  for (const auto &[name, text, expected] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"q.csv", "0,1\n2\n", "line 2"},
           {"r.csv", "0,1\n2,abc\n", "line 2"},
           {"s.csv", "0,nan\n", "line 1"},
           {"t.csv", "x,y\n", "no samples"}})
    {
      const std::string message = input_error_of([&]() { points(name, text); });
      EXPECT_EQ(message.rfind("Output/Points file '", 0), 0u) << message;
      EXPECT_NE(message.find(expected), std::string::npos) << message;
    }
  EXPECT_NE(input_error_of([]() { read_samples("/nonexistent.csv", 2, "Output/Points file"); })
                .find("Output/Points file '/nonexistent.csv' does not exist"),
            std::string::npos);
}

TEST(Json, NumbersKeepEveryDigitNonFiniteBecomeNullAndFilesReadBack)
{
  Json json;
  json["a"]    = 0.1;
  json["third"] = 1.0 / 3.0;
  json["n"]    = 3ull;
  json["s"]    = "q\"uote";
  json["b"]    = true;
  json["nan"]  = std::nan("");
  json["list"] = std::vector<double>{1.0, 2.0};
  const std::string file = ::testing::TempDir() + "scorefp-json-test.json";
  write_json_atomically(file, json);
  const Json back = read_json(file, "Test file");
  EXPECT_EQ(back["a"].get<double>(), 0.1);
  EXPECT_EQ(back["third"].get<double>(), 1.0 / 3.0);
  EXPECT_EQ(back["n"].get<unsigned long long>(), 3ull);
  EXPECT_EQ(back["s"].get<std::string>(), "q\"uote");
  EXPECT_TRUE(back["nan"].is_null());
  EXPECT_EQ(back["list"].get<std::vector<double>>(), (std::vector<double>{1.0, 2.0}));
  // Keys stay in the order written.
  EXPECT_EQ(back.begin().key(), "a");
  std::ofstream(file) << "{\"a\": ";
  EXPECT_NE(input_error_of([&]() { read_json(file, "Test file"); }).find("is not valid JSON"),
            std::string::npos);
  EXPECT_NE(input_error_of([]() { read_json("/nonexistent.json", "Test file"); })
                .find("'/nonexistent.json' cannot be opened"),
            std::string::npos);
}
