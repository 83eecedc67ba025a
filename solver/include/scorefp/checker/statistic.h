// Checker statistics (MATH.md section 7) as a registry: each statistic is one source
// file in solver/source/checker/statistics/ with its own parameters (entries of section
// Checker), its documentation and one registration line,
//
//   SCOREFP_REGISTER(StatisticRegistry, "W1", "documentation ...", NoParameters,
//                    [](const NoParameters &) { return std::make_unique<W1>(); });
//
// Checker/Statistics selects the members and their order (checker_parameters.h).
// A Statistic is what parsing yields: the member with its parameters, before any
// reference is known (nothing is read from disk while parsing). check_samples then
// prepares it against the reference law and the number of samples, and evaluates the
// prepared statistic on the samples and on every null draw.
#pragma once

#include <scorefp/checker/reference_law.h>
#include <scorefp/core/registry.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace scorefp
{
  /// A sample set as the statistics see it: N*d coordinates, point-major. What several
  /// statistics need (the sorted values of a 1D set, the cells of the points) is
  /// computed once, on first use, and shared.
  class SampleView
  {
  public:
    /// locate (may be null) finds the cells of the points, see ReferenceLaw::locate.
    SampleView(const std::vector<double> &values,
               const unsigned int         dimension,
               const std::function<std::vector<int>(const std::vector<double> &)> *locate =
                   nullptr);

    const std::vector<double> &values() const { return coordinates; }
    unsigned int               dimension() const { return dim; }
    std::size_t                size() const { return dim == 0 ? 0 : coordinates.size() / dim; }
    /// All coordinates in ascending order (for 1D statistics).
    const std::vector<double> &sorted() const;
    /// The cell of each point, -1 outside; InputError if no locator was given.
    const std::vector<int> &cells() const;

  private:
    const std::vector<double>                                          &coordinates;
    unsigned int                                                        dim;
    const std::function<std::vector<int>(const std::vector<double> &)> *locator;
    mutable bool                                                        have_sorted = false;
    mutable bool                                                        have_cells  = false;
    mutable std::vector<double>                                         sorted_values;
    mutable std::vector<int>                                            cell_of_point;
  };

  /// A statistic prepared against one reference law and one sample size N. Larger
  /// values mean a worse fit: the calibrated p-value counts null values >= observed.
  class PreparedStatistic
  {
  public:
    virtual ~PreparedStatistic() = default;

    /// The statistic of N samples.
    virtual double value(const SampleView &samples) const = 0;

    /// The statistic of null draw number `draw`. samples: N points drawn from the
    /// reference with the streams draw*N .. draw*N + N - 1 of the check's seed (empty
    /// when no selected statistic needs_null_samples()). By default value(samples).
    virtual double null_value(const SampleView &samples, const std::uint64_t draw) const;

    /// False for statistics that draw their null values themselves (chi^2 draws
    /// multinomial counts); the checker then needs no null sample sets for them.
    virtual bool needs_null_samples() const { return true; }

    /// The classical asymptotic p-value of an observed value; < 0: none.
    virtual double asymptotic_p_value(const double value) const;

    /// Whether asymptotic_p_value() gives a p-value that Checker/Null method = auto may
    /// use instead of the Monte Carlo one.
    virtual bool has_asymptotic_law() const { return false; }

    /// The observed value in parts the ranks share out (MMD^2: one per Fourier feature,
    /// sliced W2: one per direction): value(samples) equals combine() of parts(samples,
    /// 0, n_parts()), and part k does not depend on which other parts are computed with
    /// it, so the value is the same on any number of ranks. By default one part, the
    /// value itself.
    virtual unsigned int n_parts() const { return 1; }
    /// Parts begin .. end - 1 of the value of the samples.
    virtual std::vector<double>
    parts(const SampleView &samples, const unsigned int begin, const unsigned int end) const;
    /// The value from all n_parts() parts, in order.
    virtual double combine(const std::vector<double> &all_parts) const;

    /// The asymptotic law's costly setup in parts the ranks share (MMD^2: pairs of rows
    /// of its features' covariance); 0: none, asymptotic_p_value() builds what it needs.
    /// Otherwise the checker calls law_parts() for some parts on each rank and set_law()
    /// with all of them in order (each part is the same whichever rank computes it).
    virtual unsigned int n_law_parts() const { return 0; }
    /// The number of values of part k.
    virtual std::size_t law_part_length(const unsigned int) const { return 0; }
    /// The concatenated values of the parts `which`, in that order.
    virtual std::vector<double> law_parts(const std::vector<unsigned int> &which) const;
    /// All parts' values in order, concatenated.
    virtual void set_law(const std::vector<double> &all_parts) const;
    /// What the asymptotic law comes down to once set_law() has run (MMD^2: the
    /// eigenvalues), for the null cache; empty: nothing worth caching.
    virtual std::vector<double> law_summary() const { return {}; }
    /// The law from a law_summary() of the same reference and parameters (read from
    /// the null cache): then neither law_parts() nor set_law() is needed.
    virtual void set_law_summary(const std::vector<double> &summary) const { (void)summary; }
    /// The number of values of law_summary() (0: none).
    virtual std::size_t law_summary_length() const { return 0; }
  };

  /// A selected statistic with its parameters, as parsing yields it.
  class Statistic
  {
  public:
    virtual ~Statistic() = default;

    /// Whether the statistic applies to samples of this dimension (others skip it).
    virtual bool applies_in(const unsigned int dimension) const = 0;

    /// The statistic's own parameters in a canonical form ("features = 256, bandwidth
    /// = 0"; empty: none): part of the provenance of cached null values.
    virtual std::string parameters() const { return ""; }

    /// Build what depends on the reference and the sample size. seed: Checker/Seed,
    /// which fixes every random choice of a statistic (directions, frequencies, the
    /// null draws of chi^2).
    virtual std::unique_ptr<PreparedStatistic> prepare(const ReferenceLaw   &reference,
                                                       const std::size_t     n_samples,
                                                       const std::uint64_t   seed) const = 0;
  };

  using StatisticRegistry = Registry<Statistic>;
} // namespace scorefp
