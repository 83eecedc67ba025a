// Initial data/Type = circles2 and rings: radially symmetric 2D data sets.
//
// circles2 (Deveney et al., MATH.md section 6): radius R ~ N(1.3, 0.2^2) or N(2.8, 0.2^2)
// with weight 1/2 each, uniform angle. Its density at t = 0 is the radial profile over
// 2 pi r; for t > 0 there is no closed form (the solvers compute p_t).
//
// rings (FFJORD's toy_data): uniform on the circles of radii 0.75, 1.5, 2.25 and 3
// (weight 1/4 each) plus N(0, 0.08^2 I) noise. A circle convolved with a Gaussian has a
// closed form (a modified Bessel function), so rings has a closed-form law at every t.
#include <scorefp/core/input_error.h>
#include <scorefp/data/data_set.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

namespace scorefp
{
  namespace
  {
    constexpr double pi = 3.14159265358979323846;

    // log I_0(z) and I_1(z)/I_0(z) for z >= 0. std::cyl_bessel_i overflows beyond
    // z ~ 700, where the asymptotic series (Abramowitz & Stegun 9.7.1, four terms:
    // relative error below 2e-12 at z = 500) takes over; the standard library has no
    // exponentially scaled Bessel function.
    double log_bessel_i0(const double z)
    {
      if (z < 500.0)
        return std::log(std::cyl_bessel_i(0.0, z));
      const double u = 1.0 / (8.0 * z);
      return z - 0.5 * std::log(2.0 * pi * z) +
             std::log1p(u + 4.5 * u * u + 37.5 * u * u * u);
    }

    double bessel_ratio(const double z)
    {
      if (z < 1e-8)
        return 0.5 * z;
      if (z < 500.0)
        return std::cyl_bessel_i(1.0, z) / std::cyl_bessel_i(0.0, z);
      const double u = 1.0 / (8.0 * z);
      return (1.0 - 3.0 * u - 7.5 * u * u - 52.5 * u * u * u) /
             (1.0 + u + 4.5 * u * u + 37.5 * u * u * u);
    }

    double log_sum_exp(const std::vector<double> &a)
    {
      const double top = *std::max_element(a.begin(), a.end());
      if (!std::isfinite(top))
        return top;
      double sum = 0.0;
      for (const double x : a)
        sum += std::exp(x - top);
      return top + std::log(sum);
    }

    /// Uniform angle, radius R_k + noise: the common part of both data sets.
    class RadialData : public DataDistribution
    {
    public:
      RadialData(std::vector<double> weights, std::vector<double> radii, const double sigma)
          : weights(std::move(weights))
          , radii(std::move(radii))
          , sigma(sigma)
      {
      }

      unsigned int dimension() const override { return 2; }
      std::vector<double> mean() const override { return {0.0, 0.0}; }
      std::vector<double> covariance() const override
      {
        const double c = 0.5 * second_moment();
        return {c, 0.0, 0.0, c};
      }
      double scale() const override { return std::sqrt(0.5 * second_moment()); }

    protected:
      unsigned int component(CounterRng &rng) const
      {
        const double u = rng.uniform();
        unsigned int k = 0;
        double       c = weights[0];
        while (u > c && k + 1 < weights.size())
          c += weights[++k];
        return k;
      }

      /// E|X_0|^2.
      virtual double second_moment() const = 0;

      std::vector<double> weights, radii;
      double              sigma;
    };

    /// What both radial fields share: log weights and rings' radii, evaluated in log
    /// space (value() from log_value()).
    class RadialField : public DensityField
    {
    public:
      RadialField(const std::vector<double> &weights, std::vector<double> rho)
          : log_weights(weights.size())
          , rho(std::move(rho))
      {
        for (unsigned int k = 0; k < weights.size(); ++k)
          log_weights[k] = std::log(weights[k]);
      }

      double value(const double *x) const override { return std::exp(log_value(x)); }

    protected:
      std::vector<double> log_weights, rho;
    };

    /// (1/(2 pi s)) exp(-(r^2 + rho^2)/(2 s)) I_0(r rho / s): the uniform law on the circle
    /// of radius rho convolved with N(0, s I), mixed over the rings.
    class RingsField : public RadialField
    {
    public:
      RingsField(const std::vector<double> &weights, std::vector<double> rho, const double s)
          : RadialField(weights, std::move(rho))
          , s(s)
      {
      }

      double log_value(const double *x) const override
      {
        std::vector<double> terms;
        exponents(x, terms);
        return log_sum_exp(terms);
      }

      void score(const double *x, double *out) const override
      {
        std::vector<double> terms;
        exponents(x, terms);
        const double total = log_sum_exp(terms);
        const double r     = std::hypot(x[0], x[1]);
        // d/dr log p_k = (-r + rho_k I_1/I_0(r rho_k / s)) / s, along x / r; the
        // Bessel term over r tends to rho_k^2 / (2 s) at the origin.
        double radial_over_r = 0.0;
        for (unsigned int k = 0; k < rho.size(); ++k)
          {
            const double z     = r * rho[k] / s;
            const double ratio = z < 1e-8 ? 0.5 * rho[k] * rho[k] / s : rho[k] * bessel_ratio(z) / r;
            radial_over_r += std::exp(terms[k] - total) * (ratio - 1.0) / s;
          }
        out[0] = radial_over_r * x[0];
        out[1] = radial_over_r * x[1];
      }

    private:
      void exponents(const double *x, std::vector<double> &terms) const
      {
        const double r = std::hypot(x[0], x[1]);
        terms.resize(rho.size());
        for (unsigned int k = 0; k < rho.size(); ++k)
          {
            const double z = r * rho[k] / s;
            terms[k] = log_weights[k] - std::log(2.0 * pi * s) - (r * r + rho[k] * rho[k]) / (2.0 * s) +
                       log_bessel_i0(z);
          }
      }

      double s;
    };

    /// The law of m X_0 for circles2: radius ~ N(m R_k, (m sigma)^2) folded at 0 (a
    /// negative draw lands at |R| on the opposite side, which the uniform angle makes the
    /// same law), over 2 pi r: p(x) = sum_k w_k [phi(r - rho_k) + phi(r + rho_k)] / (2 pi r).
    /// The density has an integrable 1/r singularity at the origin of weight ~1e-9
    /// (phi at 6.5 standard deviations): values there are taken at r = 1e-8 m sigma, and
    /// the score at the origin is 0 (the radial symmetry).
    class Circles2Field : public RadialField
    {
    public:
      Circles2Field(const std::vector<double> &weights, std::vector<double> rho, const double sigma)
          : RadialField(weights, std::move(rho))
          , sigma(sigma)
      {
      }

      double log_value(const double *x) const override
      {
        std::vector<double> terms;
        const double        r = radius(x);
        exponents(r, terms);
        return log_sum_exp(terms) - std::log(2.0 * pi * r);
      }

      void score(const double *x, double *out) const override
      {
        const double r0 = std::hypot(x[0], x[1]);
        if (r0 == 0.0)
          {
            out[0] = out[1] = 0.0;
            return;
          }
        const double        r = radius(x);
        std::vector<double> terms;
        exponents(r, terms);
        const double total  = log_sum_exp(terms);
        double       radial = -1.0 / r;
        for (unsigned int k = 0; k < rho.size(); ++k)
          {
            radial -= std::exp(terms[2 * k] - total) * (r - rho[k]) / (sigma * sigma);
            radial -= std::exp(terms[2 * k + 1] - total) * (r + rho[k]) / (sigma * sigma);
          }
        out[0] = radial * x[0] / r0;
        out[1] = radial * x[1] / r0;
      }

    private:
      double radius(const double *x) const
      {
        return std::max(std::hypot(x[0], x[1]), 1e-8 * sigma);
      }

      void exponents(const double r, std::vector<double> &terms) const
      {
        terms.resize(2 * rho.size());
        const double log_norm = -0.5 * std::log(2.0 * pi) - std::log(sigma);
        for (unsigned int k = 0; k < rho.size(); ++k)
          {
            const double a = (r - rho[k]) / sigma, b = (r + rho[k]) / sigma;
            terms[2 * k]     = log_weights[k] + log_norm - 0.5 * a * a;
            terms[2 * k + 1] = log_weights[k] + log_norm - 0.5 * b * b;
          }
      }

      double sigma;
    };

    class Circles2 : public RadialData
    {
    public:
      Circles2()
          : RadialData({0.5, 0.5}, {1.3, 2.8}, 0.2)
      {
      }

      std::string description() const override
      {
        return "circles2 (radius ~ N(1.3, 0.2^2) or N(2.8, 0.2^2), uniform angle)";
      }

      bool has_closed_form(const double, const double v) const override { return v == 0.0; }

      std::unique_ptr<DensityField> transported(const double m, const double v) const override
      {
        if (v != 0.0)
          throw InputError("Initial data: circles2 has no closed-form law after t = 0 (v = " +
                           std::to_string(v) + "); its p_t is what Task = solve computes.");
        std::vector<double> rho = radii;
        for (double &r : rho)
          r *= m;
        return std::make_unique<Circles2Field>(weights, rho, m * sigma);
      }

      void sample(CounterRng &rng, double *x) const override
      {
        const unsigned int k     = component(rng);
        const double       r     = radii[k] + sigma * rng.normal();
        const double       angle = 2.0 * pi * rng.uniform();
        x[0]                     = r * std::cos(angle);
        x[1]                     = r * std::sin(angle);
      }

    private:
      double second_moment() const override
      {
        double e = 0.0;
        for (unsigned int k = 0; k < radii.size(); ++k)
          e += weights[k] * (radii[k] * radii[k] + sigma * sigma);
        return e;
      }
    };

    class Rings : public RadialData
    {
    public:
      Rings()
          : RadialData({0.25, 0.25, 0.25, 0.25}, {0.75, 1.5, 2.25, 3.0}, 0.08)
      {
      }

      std::string description() const override
      {
        return "rings (uniform on circles of radii 0.75, 1.5, 2.25, 3, plus N(0, 0.08^2 I))";
      }

      std::unique_ptr<DensityField> transported(const double m, const double v) const override
      {
        std::vector<double> rho = radii;
        for (double &r : rho)
          r *= m;
        return std::make_unique<RingsField>(weights, rho, m * m * sigma * sigma + v);
      }

      void sample(CounterRng &rng, double *x) const override
      {
        const unsigned int k     = component(rng);
        const double       angle = 2.0 * pi * rng.uniform();
        x[0]                     = radii[k] * std::cos(angle) + sigma * rng.normal();
        x[1]                     = radii[k] * std::sin(angle) + sigma * rng.normal();
      }

    private:
      double second_moment() const override
      {
        double e = 2.0 * sigma * sigma;
        for (unsigned int k = 0; k < radii.size(); ++k)
          e += weights[k] * radii[k] * radii[k];
        return e;
      }
    };

    template <typename Data>
    class RadialSet : public DataSet
    {
    public:
      explicit RadialSet(const std::string &name)
          : name(name)
      {
      }

      void check(const unsigned int dimension) const override
      {
        if (dimension != 2)
          throw InputError("Initial data/Type '" + name + "' is a 2D data set; set Dimension = 2.");
      }

      std::unique_ptr<DataDistribution> create(const unsigned int dimension) const override
      {
        check(dimension);
        return std::make_unique<Data>();
      }

    private:
      std::string name;
    };
  } // namespace

  SCOREFP_REGISTER(DataRegistry,
                   "circles2",
                   "two noisy rings of Deveney et al. in 2D: radius ~ N(1.3, 0.2^2) or N(2.8, "
                   "0.2^2), uniform angle. Closed-form density at t = 0 only: p_t is what the "
                   "solvers compute (score runs use Score/Boundary condition = gaussian).",
                   NoParameters,
                   [](const NoParameters &) {
                     return std::make_unique<RadialSet<Circles2>>("circles2");
                   })

  SCOREFP_REGISTER(DataRegistry,
                   "rings",
                   "FFJORD's rings in 2D: uniform on circles of radii 0.75, 1.5, 2.25, 3 plus "
                   "N(0, 0.08^2 I); closed-form law at every t (a Bessel function).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<RadialSet<Rings>>("rings"); })
} // namespace scorefp
