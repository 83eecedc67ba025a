// The cosine schedule (Nichol & Dhariwal 2021, MATH.md section 1): its closed-form m and
// v against an RK4 integration of m' = -a m, v' = -2 a v + g^2, g^2 = 2a, and the
// clipping of beta = 2a near t = 1.
#include <scorefp/core/input_error.h>
#include <scorefp/process/forward_process.h>

#include <gtest/gtest.h>

#include <cmath>

using namespace scorefp;

namespace
{
  std::unique_ptr<ForwardProcess> cosine(const std::string &final_time,
                                         const std::string &beta_max = "")
  {
    std::vector<std::pair<std::string, std::string>> entries = {{"Type", "cosine"},
                                                                {"Final time", final_time}};
    if (!beta_max.empty())
      entries.emplace_back("cosine beta max", beta_max);
    return create_process(ProcessParameters::from_entries(entries));
  }

  // Classical RK4 on (m, v) from t = 0 with n steps.
  void integrate(const ForwardProcess &process, const double t1, double &m, double &v)
  {
    const unsigned int n   = 200000;
    const double       h   = t1 / n;
    auto               rhs = [&](double t, double m_, double v_, double &dm, double &dv) {
      const double a = process.drift_rate(t);
      dm             = -a * m_;
      dv             = -2 * a * v_ + process.diffusion_squared(t);
    };
    m = 1;
    v = 0;
    for (unsigned int k = 0; k < n; ++k)
      {
        const double t = k * h;
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

TEST(Cosine, ClosedFormsSolveTheMomentOdes)
{
  const auto process = cosine("0.99");
  for (const double t : {0.1, 0.5, 0.9, 0.99})
    {
      double m, v;
      integrate(*process, t, m, v);
      EXPECT_NEAR(process->mean_factor(t), m, 1e-8) << "t = " << t;
      EXPECT_NEAR(process->variance(t), v, 1e-8) << "t = " << t;
      EXPECT_NEAR(process->diffusion_squared(t), 2 * process->drift_rate(t), 1e-14 * process->diffusion_squared(t));
    }
  EXPECT_TRUE(process->diffusion_is_twice_drift_rate());
  EXPECT_FALSE(process->variance_explodes());
  EXPECT_EQ(process->name(), "cosine");
}

TEST(Cosine, MatchesNicholDhariwal)
{
  const auto   process = cosine("0.99");
  const double s       = 0.008;
  const auto   f       = [&](const double t) {
    const double c = std::cos(0.5 * M_PI * (t + s) / (1 + s));
    return c * c;
  };
  for (const double t : {1e-4, 0.3, 0.7, 0.95})
    {
      const double alpha_bar = f(t) / f(0);
      EXPECT_NEAR(process->mean_factor(t), std::sqrt(alpha_bar), 1e-14);
      EXPECT_NEAR(process->variance(t), 1 - alpha_bar, 1e-14);
      EXPECT_NEAR(process->drift_rate(t),
                  M_PI / (2 * (1 + s)) * std::tan(0.5 * M_PI * (t + s) / (1 + s)),
                  1e-12 * process->drift_rate(t));
    }
  // Small t keeps its relative accuracy: v ~ 2 a(0) t.
  EXPECT_NEAR(process->variance(1e-10), 2 * process->drift_rate(0) * 1e-10, 1e-6 * 2 * process->drift_rate(0) * 1e-10);
}

TEST(Cosine, ClippedBetaSolvesTheMomentOdesBeyondOne)
{
  // beta = 2a reaches 50 near t = 0.96; then a stays 25 up to T = 1.2.
  const auto process = cosine("1.2", "50");
  EXPECT_NEAR(process->drift_rate(1.0), 25.0, 1e-12);
  EXPECT_NEAR(process->drift_rate(1.2), 25.0, 1e-12);
  EXPECT_LT(process->drift_rate(0.9), 25.0);
  for (const double t : {0.9, 1.0, 1.2})
    {
      double m, v;
      integrate(*process, t, m, v);
      EXPECT_NEAR(process->mean_factor(t), m, 1e-8) << "t = " << t;
      EXPECT_NEAR(process->variance(t), v, 1e-8) << "t = " << t;
    }
  // The default clip (1000) leaves t <= 0.99 untouched.
  const auto unclipped = cosine("0.99", "1e300");
  const auto defaulted = cosine("0.99");
  EXPECT_EQ(unclipped->mean_factor(0.99), defaulted->mean_factor(0.99));
  EXPECT_EQ(unclipped->drift_rate(0.99), defaulted->drift_rate(0.99));
}

TEST(Cosine, EntriesRoundTrip)
{
  ProcessParameters p;
  p.type       = "cosine";
  p.final_time = 0.99;
  const auto entries = p.entries();
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(p.value("cosine offset"), "0.008");
  EXPECT_EQ(p.value("cosine beta max"), "1000");
  EXPECT_EQ(ProcessParameters::from_entries(entries).entries(), entries);
  p.set("cosine beta max", 0.0);
  EXPECT_THROW(create_process(p), InputError);
}
