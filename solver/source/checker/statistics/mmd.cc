// MMD^2: the squared maximum mean discrepancy of a Gaussian kernel by random Fourier
// features, between the samples and the reference conditioned on the domain (MATH.md
// section 7).
#include <scorefp/checker/statistic.h>
#include <scorefp/checker/statistics.h>
#include <scorefp/core/parameter_binder.h>

#include <deal.II/base/patterns.h>

namespace scorefp
{
  namespace
  {
    struct MmdParameters
    {
      unsigned int features  = 256;
      double       bandwidth = 0.0; // 0: the reference's own scale

      void bind(ParameterBinder &b)
      {
        b.add("MMD features",
              features,
              "Random Fourier features of the Gaussian kernel of MMD^2.",
              dealii::Patterns::Integer(1));
        b.add("MMD bandwidth",
              bandwidth,
              "Kernel width l; 0: the reference's own scale (root mean variance per "
              "coordinate).",
              dealii::Patterns::Double(0));
      }
    };

    class PreparedMmd : public PreparedStatistic
    {
    public:
      PreparedMmd(const ReferenceLaw &reference, const MmdParameters &p, const std::uint64_t seed)
          : mmd(reference.cloud,
                p.bandwidth > 0 ? p.bandwidth : statistics::reference_scale(reference.cloud),
                p.features,
                seed)
      {
      }

      double value(const SampleView &samples) const override
      {
        return mmd(samples.values(), samples.dimension());
      }

    private:
      statistics::FourierMmd mmd;
    };

    class Mmd : public Statistic
    {
    public:
      explicit Mmd(const MmdParameters &p)
          : parameters(p)
      {
      }

      bool applies_in(const unsigned int) const override { return true; }

      std::unique_ptr<PreparedStatistic> prepare(const ReferenceLaw &reference,
                                                 const std::size_t,
                                                 const std::uint64_t seed) const override
      {
        return std::make_unique<PreparedMmd>(reference, parameters, seed);
      }

    private:
      MmdParameters parameters;
    };
  } // namespace

  SCOREFP_REGISTER(StatisticRegistry,
                   "MMD^2",
                   "MMD^2 of the Gaussian kernel of width MMD bandwidth by MMD features random "
                   "Fourier features fixed by the seed.",
                   MmdParameters,
                   [](const MmdParameters &p) { return std::make_unique<Mmd>(p); })
} // namespace scorefp
