// The data-set family (Initial data/Type): every registered member is usable from its
// defaults, the selection is the registry's, and DataParameters survives the trip
// through its parameter-file entries (which reference files store).
#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/data/data_set.h>

#include <deal.II/base/parameter_handler.h>

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace scorefp;

namespace
{
  std::string input_error_of(const std::function<void()> &f)
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

  // Section Initial data as --print-parameters declares it.
  void declare_section(dealii::ParameterHandler &prm)
  {
    ParameterBinder declaring(prm, ParameterBinder::Mode::declare);
    DataParameters  defaults;
    declaring.subsection("Initial data", [&]() { defaults.bind(declaring); });
  }

  // Some points of R^d at which two laws are compared.
  std::vector<std::vector<double>> points(const unsigned int d)
  {
    std::vector<std::vector<double>> result;
    for (const double x : {-1.3, 0.2, 0.9})
      {
        std::vector<double> point(d);
        for (unsigned int j = 0; j < d; ++j)
          point[j] = x + 0.1 * j;
        result.push_back(point);
      }
    return result;
  }
} // namespace

TEST(DataRegistry, EveryDataSetIsCreatedFromItsDefaultsInADimensionItSupports)
{
  const auto &registry = DataRegistry::instance();
  ASSERT_FALSE(registry.names().empty());
  for (const std::string &name : registry.names())
    {
      const auto set = registry.get(name).create_default();
      ASSERT_NE(set, nullptr) << name;
      unsigned int supported = 0;
      for (const unsigned int d : {1u, 2u, 3u})
        {
          // A dimension a data set does not support is an InputError, nothing else.
          const std::string error = input_error_of([&]() {
            const auto data = set->create(d);
            ASSERT_EQ(data->dimension(), d) << name;
            DataParameters p;
            p.type                 = name;
            p.smoothing_variance   = 0.01; // every score is then defined
            const auto  smoothed   = create_data(p, d);
            // circles2 has no closed-form law after t = 0; its density at t = 0 instead.
            const bool  closed     = data->has_closed_form(0.8, 0.3);
            EXPECT_EQ(smoothed->has_closed_form(0.8, 0.3 - 0.64 * 0.01), closed) << name;
            if (!closed)
              {
                for (const auto &x : points(d))
                  EXPECT_TRUE(std::isfinite(data->transported(0.8, 0.0)->log_value(x.data())))
                      << name;
                ++supported;
                return;
              }
            const auto  law        = data->transported(0.8, 0.3);
            const auto  blurred    = smoothed->transported(0.8, 0.3 - 0.64 * 0.01);
            for (const auto &x : points(d))
              {
                EXPECT_TRUE(std::isfinite(law->log_value(x.data()))) << name;
                EXPECT_NEAR(law->log_value(x.data()), blurred->log_value(x.data()), 1e-12)
                    << name << " in " << d << "D";
              }
            EXPECT_EQ(p.undefined_score(), "") << name;
            ++supported;
          });
          if (!error.empty())
            {
              EXPECT_EQ(error.find('\n'), std::string::npos) << name << ": " << error;
            }
        }
      EXPECT_GE(supported, 1u) << name << " cannot be created from its defaults in 1D to 3D";
    }
}

TEST(DataRegistry, TypeSelectsExactlyTheRegisteredNames)
{
  const auto                 &registry = DataRegistry::instance();
  const std::vector<std::string> names = registry.names();
  // The names parameter files use: the syntax must not change.
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{
                "gaussian mixture", "blob", "8gaussians", "checkerboard", "diagonal gaussian",
                "circles2", "rings", "empirical", "moons", "swissroll", "pinwheel", "2spirals"}));

  dealii::ParameterHandler prm;
  declare_section(prm);
  std::ostringstream listing;
  prm.print_parameters(listing, dealii::ParameterHandler::Description);
  EXPECT_NE(listing.str().find("set Type                =   Any one of " + registry.joined(", ")),
            std::string::npos)
      << listing.str();
  // Every entry of today's section is declared once, with its default.
  prm.enter_subsection("Initial data");
  EXPECT_EQ(prm.get("Type"), "blob");
  EXPECT_EQ(prm.get("Weights"), "1");
  EXPECT_EQ(prm.get("Means"), "0");
  EXPECT_EQ(prm.get("Covariances"), "1");
  EXPECT_EQ(prm.get("Variances"), "1");
  EXPECT_EQ(prm.get("Variances file"), "");
  EXPECT_EQ(prm.get("Smoothing variance"), "0");
  for (const auto &name : names)
    EXPECT_NO_THROW(prm.set("Type", name)) << name;
  EXPECT_ANY_THROW(prm.set("Type", "9gaussians"));
  prm.leave_subsection();
  EXPECT_NE(input_error_of([]() { DataParameters::from_entries({{"Type", "9gaussians"}}, 2); })
                .find("Initial data/Type"),
            std::string::npos);
}

TEST(DataParameters, EntriesReadBackAsTheSameDataSet)
{
  const std::vector<std::pair<DataParameters, unsigned int>> cases = {
      {DataParameters::gaussian_mixture(
           {0.25, 0.75}, {-1, 0.5, 1, 0}, {0.2, 0.05, 0.05, 0.1, 0.3, 0, 0, 0.3}),
       2},
      {DataParameters::gaussian_mixture({1, 2, 3}, {-1, 0, 2}, {0.5, 0.25, 1}), 1},
      {DataParameters::from_entries({{"Type", "diagonal gaussian"},
                                     {"Variances", "0.5, 2, 0.1"},
                                     {"Means", "1"},
                                     {"Smoothing variance", "0.001"}},
                                    3),
       3},
      {DataParameters::from_entries({{"Type", "checkerboard"}, {"Smoothing variance", "0.02"}}, 2),
       2},
      {DataParameters{}, 2}};
  for (const auto &[p, d] : cases)
    {
      const auto           entries = p.entries();
      const DataParameters q       = DataParameters::from_entries(entries, d);
      EXPECT_EQ(q.entries(), entries) << p.type;
      EXPECT_TRUE(q == DataParameters::from_entries(q.entries(), d)) << p.type;
      ASSERT_GE(entries.size(), 2u);
      EXPECT_EQ(entries[0], (std::pair<std::string, std::string>{"Type", p.type}));
      EXPECT_EQ(entries[1].first, "Smoothing variance");
      // The same law, to the last bit.
      const auto a = create_data(p, d), b = create_data(q, d);
      EXPECT_EQ(a->description(), b->description());
      for (const auto &x : points(d))
        EXPECT_EQ(a->transported(0.7, 0.2)->log_value(x.data()),
                  b->transported(0.7, 0.2)->log_value(x.data()));
    }
  // A mixture written by gaussian_mixture() keeps its numbers exactly.
  const std::vector<double> means{0.1, 1.0 / 3.0}, covariances{2.0 / 7.0, 0.01, 0.01, 1e-3};
  const auto                data =
      create_data(DataParameters::gaussian_mixture({1.0}, means, covariances), 2);
  const auto &mixture = dynamic_cast<const GaussianMixture &>(*data);
  EXPECT_EQ(mixture.component_means(), means);
  EXPECT_EQ(mixture.component_covariances(), covariances);
}

TEST(DataParameters, MistakesAreNamedWhenParsedOrCreated)
{
  // Shapes that do not fit the dimension: when resolved (parse time), in one sentence.
  const std::string shapes = input_error_of([]() {
    DataParameters::from_entries(
        {{"Type", "gaussian mixture"}, {"Weights", "1, 1"}, {"Means", "0, 0"}}, 2);
  });
  EXPECT_NE(shapes.find("Weights has 2 components"), std::string::npos) << shapes;
  EXPECT_NE(input_error_of([]() {
              DataParameters::from_entries({{"Type", "gaussian mixture"}, {"Means", "0, 0"}}, 3);
            }).find("Initial data/Means: component 0 has 2 coordinates; expected 3."),
            std::string::npos);
  EXPECT_NE(input_error_of([]() {
              DataParameters::from_entries(
                  {{"Type", "gaussian mixture"}, {"Covariances", "1, x"}}, 1);
            }).find("Initial data/Covariances: 'x'"),
            std::string::npos);
  // Unknown entries and values outside a pattern.
  EXPECT_NE(input_error_of([]() { DataParameters::from_entries({{"Wieghts", "1"}}, 2); })
                .find("Initial data/Wieghts"),
            std::string::npos);
  EXPECT_NE(
      input_error_of([]() { DataParameters::from_entries({{"Smoothing variance", "-1"}}, 2); })
          .find("Smoothing variance"),
      std::string::npos);
  // Nothing is read while parsing: a missing variances file is reported on creation.
  const DataParameters missing = DataParameters::from_entries(
      {{"Type", "diagonal gaussian"}, {"Variances file", "/nonexistent/v.npy"}}, 2);
  EXPECT_NE(input_error_of([&]() { create_data(missing, 2); }).find("/nonexistent/v.npy"),
            std::string::npos);
  // A 2D data set in 3D.
  EXPECT_NE(input_error_of([]() {
              DataParameters p;
              p.type = "8gaussians";
              create_data(p, 3);
            }).find("'8gaussians' is a 2D data set"),
            std::string::npos);
}

TEST(DataParameters, TheCheckerboardNeedsSmoothingForItsScore)
{
  DataParameters p;
  p.type = "checkerboard";
  EXPECT_EQ(p.undefined_score(), "the checkerboard, whose score is undefined off its squares");
  p.smoothing_variance = 0.01;
  EXPECT_EQ(p.undefined_score(), "");
  for (const std::string name : {"blob", "8gaussians", "gaussian mixture", "diagonal gaussian"})
    {
      DataParameters q;
      q.type = name;
      EXPECT_EQ(q.undefined_score(), "") << name;
    }
}
