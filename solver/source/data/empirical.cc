// Empirical data (Chen et al., MATH.md section 5): the uniform law on N points y_i, read
// from a samples file, drawn with a seed from another data set, or drawn from one of
// FFJORD's toy sets that have no density (moons, swissroll, pinwheel, 2spirals). For
// t > 0 its law is the mixture (1/N) sum_i N(m y_i, v I) (empirical_law.h); at t = 0 it
// is a sum of point masses, so finite-element runs start at a Start time > 0, or smooth
// the points with a Gaussian kernel of bandwidth h (Bandwidth), which makes the data the
// kernel density estimate and the law at every t the mixture with v + m^2 h^2.
#include <scorefp/core/input_error.h>
#include <scorefp/data/data_set.h>
#include <scorefp/io/sample_files.h>

#include <cmath>
#include <sstream>

#include "data/empirical_law.h"
#include "shared_entries.h"

namespace scorefp
{
  namespace
  {
    constexpr double pi = 3.14159265358979323846;

    /// The entries every empirical set reads: how many points, their seed, the kernel.
    struct DrawParameters
    {
      unsigned int n_points = 1000;
      unsigned int seed     = 0;
      std::string  bandwidth = "none";

      void bind(ParameterBinder &b)
      {
        data_entries::bind_points(b, n_points, seed);
        data_entries::bind_bandwidth(b, bandwidth);
      }
    };

    /// Bandwidth h of the Gaussian kernel: a number >= 0, or Scott's rule
    /// h = sigma N^(-1/(d+4)), or Silverman's h = sigma (4 / ((d + 2) N))^(1/(d+4)), with
    /// sigma^2 the mean of the coordinates' sample variances. `rule` receives its name.
    double bandwidth_of(const std::string         &text,
                        const std::vector<double> &points,
                        const unsigned int         d,
                        std::string               &rule)
    {
      const std::size_t N = points.size() / d;
      if (text == "scott" || text == "silverman")
        {
          double variance = 0.0;
          for (unsigned int j = 0; j < d; ++j)
            {
              double mean = 0.0, second = 0.0;
              for (std::size_t i = 0; i < N; ++i)
                mean += points[i * d + j];
              mean /= N;
              for (std::size_t i = 0; i < N; ++i)
                second += (points[i * d + j] - mean) * (points[i * d + j] - mean);
              variance += second / std::max<std::size_t>(N - 1, 1);
            }
          const double sigma = std::sqrt(variance / d);
          rule               = text == "scott" ? "Scott's rule" : "Silverman's rule";
          const double h =
              text == "scott" ?
                  sigma * std::pow(double(N), -1.0 / (d + 4)) :
                  sigma * std::pow(4.0 / ((d + 2.0) * double(N)), 1.0 / (d + 4));
          if (!(h > 0))
            throw InputError("Initial data/Bandwidth: " + rule +
                             " gives h = 0 for points that all coincide; give a positive number.");
          return h;
        }
      rule = "given";
      return parse_bandwidth(text);
    }

    class EmpiricalData : public DataDistribution
    {
    public:
      EmpiricalData(const unsigned int  d,
                    std::vector<double> points,
                    std::string         source,
                    const std::string  &bandwidth_text)
          : source(std::move(source))
      {
        h            = bandwidth_of(bandwidth_text, points, d, rule);
        this->points = std::make_shared<const EmpiricalPoints>(d, std::move(points));
      }

      unsigned int dimension() const override { return points->dimension(); }

      bool has_closed_form(const double m, const double v) const override
      {
        return v + m * m * h * h > 0;
      }

      std::unique_ptr<DensityField> transported(const double m, const double v) const override
      {
        if (!has_closed_form(m, v))
          throw InputError(no_closed_form(0.0, 0.0, "place the data before the start (Process/Data time) or set a Bandwidth"));
        return std::make_unique<EmpiricalMixture>(points, m, v + m * m * h * h);
      }

      bool has_score_divergence() const override { return true; }

      double scale() const override
      {
        double second = 0.0;
        for (const double y : points->points())
          second += y * y;
        return std::sqrt(second / points->points().size() + h * h);
      }

      std::string description() const override
      {
        std::ostringstream s;
        s << "the empirical law of " << points->size() << " points " << source;
        if (h > 0)
          s << " smoothed by a Gaussian kernel of bandwidth h = " << h << " (" << rule << ")";
        return s.str();
      }

      std::vector<double> mean() const override
      {
        const unsigned int  d = dimension();
        std::vector<double> mu(d, 0.0);
        const auto         &y = points->points();
        for (std::size_t i = 0; i < points->size(); ++i)
          for (unsigned int j = 0; j < d; ++j)
            mu[j] += y[i * d + j];
        for (double &x : mu)
          x /= points->size();
        return mu;
      }

      /// The covariance of the empirical law (divided by N) plus h^2 I.
      std::vector<double> covariance() const override
      {
        const unsigned int        d  = dimension();
        const std::vector<double> mu = mean();
        std::vector<double>       c(d * d, 0.0);
        const auto               &y = points->points();
        for (std::size_t i = 0; i < points->size(); ++i)
          for (unsigned int a = 0; a < d; ++a)
            for (unsigned int b = 0; b < d; ++b)
              c[a * d + b] += (y[i * d + a] - mu[a]) * (y[i * d + b] - mu[b]);
        for (double &x : c)
          x /= points->size();
        for (unsigned int a = 0; a < d; ++a)
          c[a * d + a] += h * h;
        return c;
      }

      void sample(CounterRng &rng, double *x) const override
      {
        const unsigned int d = dimension();
        const std::size_t  i = std::min<std::size_t>(points->size() - 1,
                                                    std::size_t(rng.uniform() * points->size()));
        for (unsigned int j = 0; j < d; ++j)
          x[j] = points->points()[i * d + j] + (h > 0 ? h * rng.normal() : 0.0);
      }

      std::shared_ptr<const EmpiricalPoints> empirical_points() const override { return points; }

    private:
      std::shared_ptr<const EmpiricalPoints> points;
      std::string                            source, rule;
      double                                 h = 0.0;
    };

    /// N exact draws of `data` (point i from stream i of the seed: the same set on every
    /// rank and for every rank count).
    std::vector<double> draw(const DataDistribution &data, const unsigned int n, const unsigned int seed)
    {
      const unsigned int  d = data.dimension();
      std::vector<double> y(std::size_t(n) * d);
      for (unsigned int i = 0; i < n; ++i)
        {
          CounterRng rng(seed, i, 7);
          data.sample(rng, &y[std::size_t(i) * d]);
        }
      return y;
    }

    // Type = empirical.
    struct EmpiricalParameters
    {
      std::string    points_file, points_from = "blob";
      DrawParameters draws;

      void bind(ParameterBinder &b)
      {
        b.add("Points file",
              points_file,
              "empirical: a .npy (N x d float64/float32) or CSV file of the N data points, e.g. "
              "a training set or your own samples (relative paths are relative to the working "
              "directory).");
        b.add("Points from",
              points_from,
              "empirical without a Points file: draw Number of points points with Seed from this "
              "data set (its default entries), e.g. circles2 or blob.");
        draws.bind(b);
      }
    };

    class EmpiricalSet : public DataSet
    {
    public:
      explicit EmpiricalSet(const EmpiricalParameters &p)
          : p(p)
      {
      }

      void check(const unsigned int dimension) const override
      {
        if (p.points_file.empty())
          {
            const auto &member =
                DataRegistry::instance().get(p.points_from, "Initial data/Points from");
            if (member.name == "empirical")
              throw InputError("Initial data/Points from must name a data set other than "
                               "'empirical'.");
            member.create_default()->check(dimension);
            if (p.draws.n_points == 0)
              throw InputError("Initial data/Number of points must be at least 1.");
          }
        parse_bandwidth_text(p.draws.bandwidth);
      }

      std::unique_ptr<DataDistribution> create(const unsigned int dimension) const override
      {
        check(dimension);
        if (!p.points_file.empty())
          {
            SampleSet set = read_samples(p.points_file, dimension, "Initial data/Points file");
            return std::make_unique<EmpiricalData>(
                dimension, std::move(set.values), "from " + p.points_file, p.draws.bandwidth);
          }
        const auto source =
            DataRegistry::instance().get(p.points_from, "Initial data/Points from").create_default();
        const auto data = source->create(dimension);
        return std::make_unique<EmpiricalData>(dimension,
                                               draw(*data, p.draws.n_points, p.draws.seed),
                                               "drawn from " + data->description() +
                                                   " with seed " + std::to_string(p.draws.seed),
                                               p.draws.bandwidth);
      }

    private:
      EmpiricalParameters p;
    };

    /// FFJORD's toy sets without a density: each draws one point from a generator.
    class ToyGenerator : public DataDistribution
    {
    public:
      using Draw = void (*)(CounterRng &, double *);
      ToyGenerator(std::string name, Draw f)
          : name(std::move(name))
          , f(f)
      {
      }
      unsigned int dimension() const override { return 2; }
      bool has_closed_form(const double, const double) const override { return false; }
      std::unique_ptr<DensityField> transported(const double, const double) const override
      {
        throw InputError("Initial data: " + name + " has no density; it is used through the "
                         "empirical law of points drawn from it.");
      }
      double              scale() const override { return 1.0; }
      std::string         description() const override { return name; }
      std::vector<double> mean() const override { return {0.0, 0.0}; }
      std::vector<double> covariance() const override { return {1.0, 0.0, 0.0, 1.0}; }
      void                sample(CounterRng &rng, double *x) const override { f(rng, x); }

    private:
      std::string name;
      Draw        f;
    };

    // The generators follow FFJORD's toy_data with a random position along each curve
    // where it places points on a regular grid (np.linspace).
    void moons(CounterRng &rng, double *x)
    {
      const double angle = pi * rng.uniform();
      double       a, b;
      if (rng.uniform() < 0.5)
        {
          a = std::cos(angle);
          b = std::sin(angle);
        }
      else
        {
          a = 1.0 - std::cos(angle);
          b = 0.5 - std::sin(angle);
        }
      x[0] = 2.0 * (a + 0.1 * rng.normal()) - 1.0;
      x[1] = 2.0 * (b + 0.1 * rng.normal()) - 0.2;
    }

    void swissroll(CounterRng &rng, double *x)
    {
      const double t = 1.5 * pi * (1.0 + 2.0 * rng.uniform());
      x[0]           = (t * std::cos(t) + rng.normal()) / 5.0;
      x[1]           = (t * std::sin(t) + rng.normal()) / 5.0;
    }

    void pinwheel(CounterRng &rng, double *x)
    {
      const unsigned int arm   = std::min(4u, unsigned(rng.uniform() * 5));
      const double       a     = 1.0 + 0.3 * rng.normal();
      const double       b     = 0.1 * rng.normal();
      const double       angle = 2.0 * pi * arm / 5.0 + 0.25 * std::exp(a);
      x[0]                     = 2.0 * (a * std::cos(angle) + b * std::sin(angle));
      x[1]                     = 2.0 * (-a * std::sin(angle) + b * std::cos(angle));
    }

    void two_spirals(CounterRng &rng, double *x)
    {
      const double n    = std::sqrt(rng.uniform()) * 540.0 * 2.0 * pi / 360.0;
      const double sign = rng.uniform() < 0.5 ? 1.0 : -1.0;
      const double dx   = -std::cos(n) * n + 0.5 * rng.uniform();
      const double dy   = std::sin(n) * n + 0.5 * rng.uniform();
      x[0]              = sign * dx / 3.0 + 0.1 * rng.normal();
      x[1]              = sign * dy / 3.0 + 0.1 * rng.normal();
    }

    class ToySet : public DataSet
    {
    public:
      ToySet(std::string name, ToyGenerator::Draw f, const DrawParameters &p)
          : name(std::move(name))
          , f(f)
          , p(p)
      {
      }

      void check(const unsigned int dimension) const override
      {
        if (dimension != 2)
          throw InputError("Initial data/Type '" + name + "' is a 2D data set; set Dimension = 2.");
        if (p.n_points == 0)
          throw InputError("Initial data/Number of points must be at least 1.");
        parse_bandwidth_text(p.bandwidth);
      }

      std::unique_ptr<DataDistribution> create(const unsigned int dimension) const override
      {
        check(dimension);
        const ToyGenerator generator(name, f);
        return std::make_unique<EmpiricalData>(2,
                                               draw(generator, p.n_points, p.seed),
                                               "drawn from FFJORD's " + name + " with seed " +
                                                   std::to_string(p.seed),
                                               p.bandwidth);
      }

    private:
      std::string        name;
      ToyGenerator::Draw f;
      DrawParameters     p;
    };

    const std::string toy_documentation =
        " (FFJORD's toy data; no density): the empirical law of Number of points points drawn "
        "with Seed, smoothed by Bandwidth.";
  } // namespace

  SCOREFP_REGISTER(DataRegistry,
                   "empirical",
                   "the empirical law of N points (Chen et al.) in any dimension, from Points "
                   "file, or else drawn from the data set Points from; for t > 0 the mixture (1/N) "
                   "sum N(m y_i, v I), at t = 0 point masses (finite-element runs need Start "
                   "time > 0 or a Bandwidth).",
                   EmpiricalParameters,
                   [](const EmpiricalParameters &p) { return std::make_unique<EmpiricalSet>(p); })

  SCOREFP_REGISTER(DataRegistry,
                   "moons",
                   "two interleaved half circles" + toy_documentation,
                   DrawParameters,
                   [](const DrawParameters &p) { return std::make_unique<ToySet>("moons", moons, p); })

  SCOREFP_REGISTER(DataRegistry,
                   "swissroll",
                   "a spiral band" + toy_documentation,
                   DrawParameters,
                   [](const DrawParameters &p) {
                     return std::make_unique<ToySet>("swissroll", swissroll, p);
                   })

  SCOREFP_REGISTER(DataRegistry,
                   "pinwheel",
                   "five curved arms" + toy_documentation,
                   DrawParameters,
                   [](const DrawParameters &p) {
                     return std::make_unique<ToySet>("pinwheel", pinwheel, p);
                   })

  SCOREFP_REGISTER(DataRegistry,
                   "2spirals",
                   "two interleaved spirals" + toy_documentation,
                   DrawParameters,
                   [](const DrawParameters &p) {
                     return std::make_unique<ToySet>("2spirals", two_spirals, p);
                   })
} // namespace scorefp
