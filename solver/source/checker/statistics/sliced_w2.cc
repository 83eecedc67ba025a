// sliced W2 (d > 1): the root mean square of the W2 distances between the projections of
// the samples and of the reference on fixed seeded directions (MATH.md section 7).
#include <scorefp/checker/statistic.h>
#include <scorefp/checker/statistics.h>
#include <scorefp/core/parameter_binder.h>

#include <deal.II/base/patterns.h>

#include <string>

namespace scorefp
{
  namespace
  {
    struct SlicedParameters
    {
      unsigned int directions = 32;

      void bind(ParameterBinder &b)
      {
        b.add("Sliced directions",
              directions,
              "Directions of the sliced W2.",
              dealii::Patterns::Integer(1));
      }
    };

    class PreparedSliced : public PreparedStatistic
    {
    public:
      PreparedSliced(const ReferenceLaw &reference, const unsigned int n, const std::uint64_t seed)
          : sliced(reference.cloud,
                   statistics::random_directions(reference.cloud.dimension, n, seed))
      {
      }

      double value(const SampleView &samples) const override
      {
        return sliced(samples.values(), samples.dimension());
      }

      unsigned int n_parts() const override { return sliced.n_directions(); }

      std::vector<double> parts(const SampleView  &samples,
                                const unsigned int begin,
                                const unsigned int end) const override
      {
        return sliced.direction_terms(samples.values(), samples.dimension(), begin, end);
      }

      double combine(const std::vector<double> &all_parts) const override
      {
        return sliced.combine(all_parts);
      }

    private:
      statistics::SlicedWasserstein sliced;
    };

    class SlicedW2 : public Statistic
    {
    public:
      explicit SlicedW2(const SlicedParameters &p)
          : settings(p)
      {
      }

      bool applies_in(const unsigned int dimension) const override { return dimension > 1; }

      std::unique_ptr<PreparedStatistic> prepare(const ReferenceLaw &reference,
                                                 const std::size_t,
                                                 const std::uint64_t seed) const override
      {
        return std::make_unique<PreparedSliced>(reference, settings.directions, seed);
      }

      std::string parameters() const override
      {
        return "directions = " + std::to_string(settings.directions);
      }

    private:
      SlicedParameters settings;
    };
  } // namespace

  SCOREFP_REGISTER(StatisticRegistry,
                   "sliced W2",
                   "(d > 1) sliced W2, sqrt of the mean over Sliced directions seeded unit "
                   "vectors theta of W2^2 between theta . samples and theta . reference.",
                   SlicedParameters,
                   [](const SlicedParameters &p) { return std::make_unique<SlicedW2>(p); })
} // namespace scorefp
