// chi^2 over cells: the chi-squared goodness-of-fit test of the samples' counts per mesh
// cell (plus a bin for the mass outside the domain), bins merged to expected counts
// >= 5 (MATH.md section 7). Its null values come from multinomial counts, not from
// null sample sets.
#include <scorefp/checker/statistic.h>
#include <scorefp/checker/statistics.h>

namespace scorefp
{
  namespace
  {
    class PreparedChiSquared : public PreparedStatistic
    {
    public:
      PreparedChiSquared(const ReferenceLaw &reference,
                         const std::size_t   n_samples,
                         const std::uint64_t seed)
          : bins(statistics::cell_masses(reference.cloud),
                 reference.cloud.mass_outside,
                 n_samples)
          , seed(seed)
      {
      }

      double value(const SampleView &samples) const override
      {
        return bins.statistic(bins.counts(samples.cells()));
      }

      /// The group counts of null draw r are Multinomial(N, group probabilities), drawn
      /// from CounterRng(seed, r): exact and much cheaper than locating N samples.
      double null_value(const SampleView &, const std::uint64_t draw) const override
      {
        return bins.statistic(bins.multinomial_counts(seed, draw));
      }

      bool needs_null_samples() const override { return false; }

      bool has_asymptotic_law() const override { return true; }

      double asymptotic_p_value(const double value) const override { return bins.p_value(value); }

    private:
      statistics::ChiSquaredBins bins;
      std::uint64_t              seed;
    };

    class ChiSquared : public Statistic
    {
    public:
      bool applies_in(const unsigned int) const override { return true; }

      std::unique_ptr<PreparedStatistic> prepare(const ReferenceLaw &reference,
                                                 const std::size_t   n_samples,
                                                 const std::uint64_t seed) const override
      {
        return std::make_unique<PreparedChiSquared>(reference, n_samples, seed);
      }
    };
  } // namespace

  SCOREFP_REGISTER(StatisticRegistry,
                   "chi^2 over cells",
                   "chi-squared test of the counts per mesh cell and outside the mesh, cells "
                   "merged to expected counts >= 5, with its asymptotic p-value besides the "
                   "calibrated one.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<ChiSquared>(); })
} // namespace scorefp
