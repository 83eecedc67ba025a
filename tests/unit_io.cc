// Reading what users give (parameter files, overrides, point lists) and writing JSON:
// every mistake becomes one InputError sentence that names the culprit.
#include <scorefp/input_error.h>
#include <scorefp/io.h>
#include <scorefp/parameters.h>

#include <deal.II/base/parameter_handler.h>

#include <gtest/gtest.h>

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
  EXPECT_EQ(p.data.means, (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(p.data.covariances, (std::vector<double>{0.5, 0, 0, 0.5, 1, 0.2, 0.2, 2}));
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

TEST(PointsCsv, ReadsHeaderCommentsAndRejectsMalformedLines)
{
  const auto ok = read_points_csv(write_temporary("p.csv", "x,y\n# comment\n0, 1\n-2.5,3e-1\n"), 2);
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok[1][0], -2.5);
  EXPECT_EQ(ok[1][1], 0.3);
  EXPECT_NE(input_error_of([]() {
              read_points_csv(write_temporary("q.csv", "0,1\n2\n"), 2);
            }).find("line 2 has 1 coordinates"),
            std::string::npos);
  EXPECT_NE(input_error_of([]() {
              read_points_csv(write_temporary("r.csv", "0,1\n2,abc\n"), 2);
            }).find("line 2"),
            std::string::npos);
  EXPECT_NE(input_error_of([]() {
              read_points_csv(write_temporary("s.csv", "0,nan\n"), 2);
            }).find("line 1"),
            std::string::npos);
  EXPECT_NE(
      input_error_of([]() { read_points_csv("/nonexistent.csv", 2); }).find("cannot be opened"),
      std::string::npos);
  EXPECT_NE(input_error_of([]() {
              read_points_csv(write_temporary("t.csv", "x,y\n"), 2);
            }).find("no points"),
            std::string::npos);
}

TEST(Json, WritesNumbersAsNumbersAndNonFiniteAsNull)
{
  std::ostringstream out;
  JsonWriter         json(out);
  json.begin_object();
  json.value("a", 0.5).value("n", 3ull).value("s", std::string("q\"uote")).value("b", true);
  json.value("nan", std::nan(""));
  json.value("list", std::vector<double>{1.0, 2.0});
  json.end_object();
  EXPECT_EQ(out.str(),
            "{\n  \"a\": 0.5,\n  \"n\": 3,\n  \"s\": \"q\\\"uote\",\n  \"b\": true,\n"
            "  \"nan\": null,\n  \"list\": [1, 2]\n}\n");
}
