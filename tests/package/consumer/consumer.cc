// Uses an installed scorefp through its public headers and registries and checks the
// numbers against the closed forms of MATH.md (sections 1, 5 and 6): the VP forward
// process, the blob data set and a Gaussian mixture carried by it. Prints every number
// it compares and exits non-zero on the first mismatch or exception.
#include <scorefp/data/data_set.h>
#include <scorefp/process/process_registry.h>

#include <deal.II/base/mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace
{
  int failures = 0;

  void compare(const std::string &what, const double got, const double expected)
  {
    const double tolerance = 1e-12 * std::max(1.0, std::abs(expected));
    const bool   ok        = std::abs(got - expected) <= tolerance;
    std::printf("%-44s %.17g (closed form %.17g)%s\n", what.c_str(), got, expected,
                ok ? "" : "  MISMATCH");
    if (!ok)
      ++failures;
  }

  void require(const bool condition, const std::string &what)
  {
    std::printf("%-44s %s\n", what.c_str(), condition ? "yes" : "NO");
    if (!condition)
      ++failures;
  }
} // namespace

int main(int argc, char **argv)
{
  dealii::Utilities::MPI::MPI_InitFinalize mpi(argc, argv, 1);
  try
    {
      using namespace scorefp;
      std::printf("processes: %s\n", ProcessRegistry::instance().joined(", ").c_str());
      std::printf("data sets: %s\n", DataRegistry::instance().joined(", ").c_str());
      // The members register from static objects in libscorefp.
      require(ProcessRegistry::instance().contains("VP"), "process VP registered");
      require(DataRegistry::instance().contains("blob"), "data set blob registered");

      // VP with beta max = 10 (section 1): B(t) = b0 t + (b1 - b0) t^2 / 2,
      // m = exp(-B/2), v = 1 - exp(-B).
      ProcessParameters process_parameters;
      process_parameters.type = "VP";
      process_parameters.set("beta max", 10.0);
      const auto   process = create_process(process_parameters);
      const double t = 0.5, b0 = 0.1, b1 = 10.0;
      const double B = b0 * t + 0.5 * (b1 - b0) * t * t;
      const double m = std::exp(-B / 2), v = 1 - std::exp(-B);
      compare("VP m(0.5)", process->mean_factor(t), m);
      compare("VP v(0.5)", process->variance(t), v);
      compare("VP g^2(0.5)", process->diffusion_squared(t), b0 + (b1 - b0) * t);

      // blob from its defaults (section 6): mean 0, covariance
      // (0.0845 + 0.65^2 * 48/9) I, since the x (and y) coordinates of the nine means
      // have squares summing to 48.
      const auto blob = DataRegistry::instance().get("blob").create_default()->create(2);
      const auto mean = blob->mean();
      const auto cov  = blob->covariance();
      const double variance = 0.0845 + 0.65 * 0.65 * 48.0 / 9.0;
      compare("blob mean x", mean[0], 0.0);
      compare("blob mean y", mean[1], 0.0);
      compare("blob variance x", cov[0], variance);
      compare("blob covariance xy", cov[1], 0.0);
      compare("blob variance y", cov[3], variance);

      // A 2D mixture of N(mu_k, s_k I) carried by VP to t (section 5): the law of
      // m X_0 + sqrt(v) Z is sum_k w_k N(m mu_k, (m^2 s_k + v) I).
      const std::vector<double> w = {0.25, 0.75}, mu = {-1, 0.5, 2, -1}, s = {0.5, 0.2};
      const auto   mixture = create_data(DataParameters::gaussian_mixture(w, mu, s), 2);
      const double x[2]    = {0.3, -0.4};
      double       density = 0;
      for (unsigned int k = 0; k < 2; ++k)
        {
          const double c  = m * m * s[k] + v;
          const double dx = x[0] - m * mu[2 * k], dy = x[1] - m * mu[2 * k + 1];
          density += w[k] / (2 * std::acos(-1.0) * c) * std::exp(-(dx * dx + dy * dy) / (2 * c));
        }
      compare("mixture density at (0.3, -0.4), t = 0.5", mixture->transported(m, v)->value(x),
              density);
      compare("mixture mean x", mixture->mean()[0], w[0] * mu[0] + w[1] * mu[2]);
      const double second_moment = w[0] * (s[0] + mu[0] * mu[0]) + w[1] * (s[1] + mu[2] * mu[2]);
      const double mean_x        = w[0] * mu[0] + w[1] * mu[2];
      compare("mixture variance x", mixture->covariance()[0], second_moment - mean_x * mean_x);
    }
  catch (const std::exception &e)
    {
      std::printf("exception: %s\n", e.what());
      return 2;
    }
  if (failures != 0)
    {
      std::printf("consumer: %d mismatches\n", failures);
      return 1;
    }
  std::printf("consumer: all numbers match\n");
  return 0;
}
