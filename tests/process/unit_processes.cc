// The closed forms of MATH.md section 1 against the ODEs they solve:
// m' = -a m, v' = -2 a v + g^2 (integrated numerically here), and the scaled-coordinate
// coefficients against finite differences of c(t).
#include <scorefp/core/input_error.h>
#include <scorefp/process/forward_process.h>

#include <gtest/gtest.h>

#include <cmath>

using namespace scorefp;

namespace
{
  ProcessParameters preset(const std::string &type)
  {
    ProcessParameters p;
    p.type = type;
    if (type == "EDM")
      p.final_time = 80;
    if (type == "cosine")
      p.final_time = 0.99;
    if (type == "OU")
      {
        p.set("OU rate", 0.7);
        p.set("OU diffusion", 1.3);
        p.final_time = 3;
      }
    return p;
  }

  // Classical RK4 on (m, v) with many steps: independent of the closed forms.
  void
  integrate(const ForwardProcess &process, const double t0, const double t1, double &m, double &v)
  {
    const unsigned int n   = 20000;
    const double       h   = (t1 - t0) / n;
    auto               rhs = [&](double t, double m_, double v_, double &dm, double &dv) {
      const double a = process.drift_rate(t);
      dm             = -a * m_;
      dv             = -2 * a * v_ + process.diffusion_squared(t);
    };
    for (unsigned int k = 0; k < n; ++k)
      {
        const double t = t0 + k * h;
        double       k1m, k1v, k2m, k2v, k3m, k3v, k4m, k4v;
        rhs(t, m, v, k1m, k1v);
        rhs(t + h / 2, m + h / 2 * k1m, v + h / 2 * k1v, k2m, k2v);
        rhs(t + h / 2, m + h / 2 * k2m, v + h / 2 * k2v, k3m, k3v);
        rhs(t + h, m + h * k3m, v + h * k3v, k4m, k4v);
        m += h / 6 * (k1m + 2 * k2m + 2 * k3m + k4m);
        v += h / 6 * (k1v + 2 * k2v + 2 * k3v + k4v);
      }
  }
} // namespace

class Presets : public ::testing::TestWithParam<std::string>
{
};

TEST_P(Presets, ClosedFormsSolveTheMomentOdes)
{
  const auto   process = create_process(preset(GetParam()));
  const double T       = process->final_time;
  for (const double fraction : {0.1, 0.5, 1.0})
    {
      double m = 1, v = 0;
      integrate(*process, 0.0, fraction * T, m, v);
      EXPECT_NEAR(process->mean_factor(fraction * T), m, 1e-9 * std::max(1.0, m));
      EXPECT_NEAR(process->variance(fraction * T), v, 1e-9 * std::max(1.0, v));
    }
}

TEST_P(Presets, TransitionFromStartTimeSolvesTheMomentOdes)
{
  ProcessParameters p = preset(GetParam());
  p.start_time        = 0.25 * p.final_time;
  const auto process  = create_process(p);
  double     m = 1, v = 0;
  integrate(*process, p.start_time, p.final_time, m, v);
  EXPECT_NEAR(process->transition_mean_factor(p.final_time), m, 1e-9);
  EXPECT_NEAR(process->transition_variance(p.final_time), v, 1e-9 * std::max(1.0, v));
}

TEST_P(Presets, ScaledCoefficientsMatchFiniteDifferencesOfTheScale)
{
  const auto        process = create_process(preset(GetParam()));
  CoordinateScaling scaling(*process, true, 1.3);
  const double      T = process->final_time;
  for (const double t : {0.1 * T, 0.6 * T})
    {
      const double eps     = 1e-6 * T;
      const double c_prime = (scaling.scale(t + eps) - scaling.scale(t - eps)) / (2 * eps);
      const double c       = scaling.scale(t);
      EXPECT_NEAR(scaling.drift_rate(t),
                  process->drift_rate(t) + c_prime / c,
                  1e-6 * (1 + std::abs(scaling.drift_rate(t))));
      EXPECT_NEAR(scaling.diffusion_squared(t),
                  process->diffusion_squared(t) / (c * c),
                  1e-12 * scaling.diffusion_squared(t));
    }
  CoordinateScaling identity(*process, false, 1.3);
  EXPECT_EQ(identity.scale(0.5 * T), 1.0);
  EXPECT_EQ(identity.drift_rate(0.5 * T), process->drift_rate(0.5 * T));
}

INSTANTIATE_TEST_SUITE_P(AllPresets, Presets, ::testing::Values("VP", "sub-VP", "VE", "EDM", "OU", "cosine"));

TEST(Processes, VpMatchesMathMdTable)
{
  const auto   vp = create_process(preset("VP"));
  const double B  = 0.1 * 1 + 0.5 * (20 - 0.1);
  EXPECT_NEAR(vp->mean_factor(1), std::exp(-B / 2), 1e-15);
  EXPECT_NEAR(vp->variance(1), 1 - std::exp(-B), 1e-15);
  const auto ve = create_process(preset("VE"));
  EXPECT_NEAR(ve->variance(1), 50.0 * 50.0 - 0.01 * 0.01, 1e-9);
}

TEST(Processes, RejectsBadParameters)
{
  ProcessParameters p;
  p.type = "VX";
  EXPECT_THROW(create_process(p), InputError);
  p.type      = "VE";
  p.set("sigma max", 0.001);
  EXPECT_THROW(create_process(p), InputError);
  p            = ProcessParameters();
  p.final_time = 0;
  EXPECT_THROW(create_process(p), InputError);
  try
    {
      p.type = "VX";
      create_process(p);
    }
  catch (const InputError &e)
    {
      EXPECT_NE(std::string(e.what()).find("VX"), std::string::npos);
    }
}

TEST(Processes, RegistryKnowsEveryPreset)
{
  // What used to be string compares on Process/Type is asked of the process.
  for (const std::string type : {"VP", "sub-VP", "VE", "EDM", "OU", "cosine"})
    {
      const auto process = create_process(preset(type));
      EXPECT_EQ(process->name(), type);
      EXPECT_EQ(process->variance_explodes(), type == "VE" || type == "EDM") << type;
      EXPECT_EQ(process->diffusion_is_twice_drift_rate(), type == "VP" || type == "cosine")
          << type; // the OU preset above has q = 1.3 != 2r
    }
  ProcessParameters ou;
  ou.type = "OU";
  EXPECT_TRUE(create_process(ou)->diffusion_is_twice_drift_rate()); // q = 2 = 2r
}

TEST(Processes, EntriesRoundTripThroughTheRegistry)
{
  ProcessParameters p = preset("OU");
  p.start_time        = 0.5;
  const std::vector<std::pair<std::string, std::string>> expected = {{"Type", "OU"},
                                                                     {"Start time", "0.5"},
                                                                     {"Final time", "3"},
                                                                     {"OU rate", "0.7"},
                                                                     {"OU diffusion", "1.3"}};
  EXPECT_EQ(p.entries(), expected);
  const ProcessParameters q = ProcessParameters::from_entries(expected);
  EXPECT_EQ(q.type, "OU");
  EXPECT_EQ(q.start_time, 0.5);
  EXPECT_EQ(q.final_time, 3.0);
  EXPECT_EQ(q.entries(), expected);
  EXPECT_TRUE(q == p);
  EXPECT_EQ(create_process(q)->variance(1.0), create_process(p)->variance(1.0));
  // Defaults are filled in: VP has its beta schedule even when nothing was set.
  ProcessParameters vp;
  EXPECT_EQ(vp.value("beta max"), "20");
  EXPECT_EQ(vp.entries().size(), 5u);
  EXPECT_THROW(vp.value("sigma max"), InputError);
  EXPECT_EQ(ProcessParameters().entries().size(), 5u);
  ProcessParameters edm;
  edm.type = "EDM";
  EXPECT_EQ(edm.entries().size(), 3u);
  // Entries of another process are ignored, as in a parameter file.
  const ProcessParameters r = ProcessParameters::from_entries({{"Type", "VE"}, {"beta max", "5"}});
  EXPECT_EQ(r.entries().size(), 5u);
  EXPECT_EQ(r.value("sigma max"), "50");
  EXPECT_THROW(ProcessParameters::from_entries({{"Type", "VX"}}), InputError);
  EXPECT_THROW(ProcessParameters::from_entries({{"No such key", "1"}}), InputError);
  EXPECT_THROW(ProcessParameters::from_entries({{"Type", "VP"}, {"beta min", "30"}}),
               InputError);
}
