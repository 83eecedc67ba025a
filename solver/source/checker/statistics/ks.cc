// KS (1D): the Kolmogorov-Smirnov distance between the empirical CDF of the samples
// and the reference's CDF, with Stephens' asymptotic p-value (MATH.md section 7).
#include <scorefp/checker/statistic.h>
#include <scorefp/checker/statistics.h>

#include <cmath>

namespace scorefp
{
  namespace
  {
    class PreparedKolmogorovSmirnov : public PreparedStatistic
    {
    public:
      PreparedKolmogorovSmirnov(const ReferenceLaw &reference, const std::size_t n_samples)
          : law(statistics::Weighted1D::from_cloud(reference.cloud))
          , root_n(std::sqrt(static_cast<double>(n_samples)))
      {
      }

      double value(const SampleView &samples) const override
      {
        return statistics::kolmogorov_smirnov(samples.sorted(), law).statistic;
      }

      bool has_asymptotic_law() const override { return true; }

      /// Q(lambda), lambda = (sqrt(N) + 0.12 + 0.11/sqrt(N)) D, as kolmogorov_smirnov().
      double asymptotic_p_value(const double value) const override
      {
        return statistics::kolmogorov_survival((root_n + 0.12 + 0.11 / root_n) * value);
      }

    private:
      statistics::Weighted1D law;
      double                 root_n;
    };

    class KolmogorovSmirnov : public Statistic
    {
    public:
      bool applies_in(const unsigned int dimension) const override { return dimension == 1; }

      std::unique_ptr<PreparedStatistic> prepare(const ReferenceLaw &reference,
                                                 const std::size_t   n_samples,
                                                 const std::uint64_t) const override
      {
        return std::make_unique<PreparedKolmogorovSmirnov>(reference, n_samples);
      }
    };
  } // namespace

  SCOREFP_REGISTER(StatisticRegistry,
                   "KS",
                   "(1D) Kolmogorov-Smirnov distance sup |F_N - G|, with Stephens' asymptotic "
                   "p-value besides the calibrated one.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<KolmogorovSmirnov>(); })
} // namespace scorefp
