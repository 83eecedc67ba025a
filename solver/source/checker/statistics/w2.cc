// W2 (1D): the Wasserstein-2 distance between the empirical law of the samples and the
// reference's 1D law, exactly through their quantile functions (MATH.md section 7).
#include <scorefp/checker/statistic.h>
#include <scorefp/checker/statistics.h>

namespace scorefp
{
  namespace
  {
    class PreparedW2 : public PreparedStatistic
    {
    public:
      explicit PreparedW2(const ReferenceLaw &reference)
          : law(statistics::Weighted1D::from_cloud(reference.cloud))
      {
      }

      double value(const SampleView &samples) const override
      {
        return statistics::wasserstein_p(samples.sorted(), law, 2.0);
      }

    private:
      statistics::Weighted1D law;
    };

    class W2 : public Statistic
    {
    public:
      bool applies_in(const unsigned int dimension) const override { return dimension == 1; }

      std::unique_ptr<PreparedStatistic>
      prepare(const ReferenceLaw &reference, const std::size_t, const std::uint64_t) const override
      {
        return std::make_unique<PreparedW2>(reference);
      }
    };
  } // namespace

  SCOREFP_REGISTER(StatisticRegistry,
                   "W2",
                   "(1D) Wasserstein-2 distance to the reference, exact between the quantile "
                   "functions.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<W2>(); })
} // namespace scorefp
