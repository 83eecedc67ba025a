// Distances and goodness-of-fit tests between a sample set and a reference law given as
// a weighted quadrature cloud (MATH.md section 7): 1D Wasserstein distances through
// quantile functions, the Kolmogorov-Smirnov test, sliced W2 over fixed seeded
// directions, MMD^2 with a Gaussian kernel by random Fourier features, and the
// chi-squared test over mesh cells with an extra bin for the mass outside the domain.
//
// A sample set is a std::vector<double> with N*d entries, point-major, and its
// dimension d. All randomness comes from CounterRng and is fixed by a seed.
// Plain C++17 and boost::math: no deal.II, no MPI.
#pragma once

#include <scorefp/fe/quadrature_cloud.h>

#include <cstdint>
#include <vector>

namespace scorefp
{
  namespace statistics
  {
    /// A reference law on the line built from weighted points: negative weights are
    /// clipped to 0, the rest normalised to total 1, points at the same position merged.
    /// Its CDF G is continuous and piecewise linear through the midpoints of the steps
    /// of the cumulative weight: G(x_(q)) = sum_{j<q} w_j + w_q / 2, with G = 0 half the
    /// first gap before the first point and G = 1 half the last gap after the last one.
    /// (One distinct point gives a point mass: x = {x0, x0}, cdf = {0, 1}.)
    struct Weighted1D
    {
      /// Breakpoints, non-decreasing, and G at them (cdf.front() = 0, cdf.back() = 1).
      std::vector<double> x, cdf;

      /// The law of the points x with weights w (any order). Throws InputError if the
      /// sizes differ or no weight is positive.
      static Weighted1D from_points(const std::vector<double> &x, const std::vector<double> &w);
      /// The law of a one-dimensional cloud.
      static Weighted1D from_cloud(const QuadratureCloud &cloud);
      /// The law of theta . X for X the cloud's law and theta (cloud.dimension entries).
      static Weighted1D from_projection(const QuadratureCloud &cloud, const double *theta);

      /// G^{-1}(u) for u in [0, 1] (clamped), linear between the breakpoints.
      double quantile(const double u) const;
      /// G(t), 0 left of the support and 1 right of it.
      double cdf_at(const double t) const;
    };

    /// W_p(F_N, G) = (int_0^1 |F_N^{-1}(u) - G^{-1}(u)|^p du)^{1/p} for p = 1 or 2, where
    /// F_N is the empirical law of the sorted samples (weights 1/N). Exact: the integrand
    /// is |c + b u|^p on each piece between the merged breakpoints of both quantile
    /// functions. Throws InputError for other p, no samples or unsorted samples.
    double
    wasserstein_p(const std::vector<double> &sorted_samples, const Weighted1D &ref, const double p);

    struct KolmogorovSmirnov
    {
      double statistic, p_value;
    };

    /// D = max_i max(i/N - G(x_i), G(x_i) - (i-1)/N) over the sorted samples x_1..x_N,
    /// with the asymptotic p-value Q(lambda), lambda = (sqrt(N) + 0.12 + 0.11/sqrt(N)) D
    /// (Stephens' correction).
    KolmogorovSmirnov kolmogorov_smirnov(const std::vector<double> &sorted_samples,
                                         const Weighted1D          &ref);

    /// The Kolmogorov survival function Q(lambda) = 2 sum_{j>=1} (-1)^{j-1} exp(-2 j^2
    /// lambda^2) = P(sup |Brownian bridge| > lambda), in [0, 1].
    double kolmogorov_survival(const double lambda);

    /// n unit vectors in R^d (n*d entries, direction-major): direction k is a standard
    /// normal vector drawn from CounterRng(seed, k), normalised.
    std::vector<double>
    random_directions(const unsigned int d, const unsigned int n, const std::uint64_t seed);

    /// Sliced W2 against a fixed reference cloud over fixed directions:
    /// SW2 = sqrt(mean_k W2^2(theta_k . samples, theta_k . reference)). The projected
    /// reference laws are built once (memory: 2 doubles per cloud point and direction).
    class SlicedWasserstein
    {
    public:
      /// directions: unit vectors, n*d entries with d = cloud.dimension; throws
      /// InputError if their size does not fit or one is not of unit length.
      SlicedWasserstein(const QuadratureCloud &cloud, const std::vector<double> &directions);

      /// SW2 between the samples (N*d entries, point-major) and the reference.
      double operator()(const std::vector<double> &samples, const unsigned int d) const;

      /// W2^2 along directions begin .. end - 1 (the ranks share the directions out).
      std::vector<double> direction_terms(const std::vector<double> &samples,
                                          const unsigned int         d,
                                          const unsigned int         begin,
                                          const unsigned int         end) const;
      /// SW2 from the W2^2 of all directions, summed in their order.
      double combine(const std::vector<double> &terms) const;

      unsigned int n_directions() const { return static_cast<unsigned int>(projected.size()); }

    private:
      unsigned int            dim;
      std::vector<double>     directions;
      std::vector<Weighted1D> projected;
    };

    /// sqrt of the mean over coordinates of the variance of the cloud's law (weights
    /// divided by their sum, signs kept): the default MMD bandwidth.
    double reference_scale(const QuadratureCloud &cloud);

    /// MMD^2 for the kernel k_R(x, y) = (1/R) sum_r cos(omega_r . (x - y)) with R random
    /// Fourier features omega_r ~ N(0, l^{-2} I) (omega_r = z / l, z drawn from
    /// CounterRng(seed, r)): a positive definite kernel fixed by the seed whose mean over
    /// the frequencies is the Gaussian kernel exp(-|x - y|^2 / (2 l^2)). The V-statistic
    /// MMD^2 = (1/R) sum_r |phi_N(omega_r) - phi_ref(omega_r)|^2, where phi_N is the mean
    /// of exp(i omega . x) over the samples and phi_ref = sum_q w_q exp(i omega . x_q) /
    /// sum_q w_q (the reference conditioned on the domain; negative weights kept).
    class FourierMmd
    {
    public:
      FourierMmd(const QuadratureCloud &cloud,
                 const double           bandwidth,
                 const unsigned int     n_features,
                 const std::uint64_t    seed);

      /// MMD^2 (>= 0) between the samples (N*d entries, point-major) and the reference.
      double operator()(const std::vector<double> &samples, const unsigned int d) const;

      /// |phi_N(omega_r) - phi_ref(omega_r)|^2 for r = begin .. end - 1 (the ranks share
      /// the features out); phi_N's sums in a fixed order, so each term is the same
      /// whichever rank computes it.
      std::vector<double> feature_terms(const std::vector<double> &samples,
                                        const unsigned int         d,
                                        const unsigned int         begin,
                                        const unsigned int         end) const;
      /// MMD^2 from the terms of all features, summed in their order.
      double combine(const std::vector<double> &terms) const;

      unsigned int n_features() const { return static_cast<unsigned int>(reference_cos.size()); }
      /// The frequencies omega_r, R*d entries, frequency-major.
      const std::vector<double> &frequencies() const { return omega; }
      /// phi_ref(omega_r): real and imaginary parts.
      const std::vector<double> &reference_real() const { return reference_cos; }
      const std::vector<double> &reference_imaginary() const { return reference_sin; }
      /// omega_r . x for the points (n*d entries, point-major) into phase (n entries).
      void phases(const std::vector<double> &points,
                  const unsigned int         r,
                  std::vector<double>       &phase) const;

    private:
      unsigned int        dim;
      std::vector<double> omega;
      // Reference characteristic function at omega_r: real and imaginary parts.
      std::vector<double> reference_cos, reference_sin;
    };

    /// Sum of the cloud's weights per cell (n_cells entries, negative weights kept).
    std::vector<double> cell_masses(const QuadratureCloud &cloud);

    /// The chi-squared goodness-of-fit test over mesh cells for N samples. Bins are the
    /// cells plus one "outside" bin (index n_cells) with probabilities from the cell
    /// masses and mass_outside (negative ones clipped to 0, then normalised to sum 1).
    /// Bins sorted by expected count N pi ascending are merged in that order into groups
    /// of expected count >= 5; a short last group joins the previous one. The test then
    /// runs over the groups.
    class ChiSquaredBins
    {
    public:
      /// Throws InputError if there are fewer than two groups (N too small).
      ChiSquaredBins(const std::vector<double> &cell_masses,
                     const double               mass_outside,
                     const std::uint64_t        n_samples);

      /// Index of the bin meaning "outside the domain" in bin_of().
      unsigned int outside() const { return n_cells; }
      /// The group of a cell (0 .. n_cells-1) or of outside().
      unsigned int bin_of(const unsigned int cell) const;
      /// Number of groups.
      unsigned int n_bins() const { return static_cast<unsigned int>(probabilities.size()); }
      /// Group probabilities (sum 1) and expected counts N * probability.
      const std::vector<double> &group_probabilities() const { return probabilities; }
      std::vector<double>        expected_counts() const;

      /// Counts per group of samples given by their cell (-1 = outside); N entries.
      std::vector<std::uint64_t> counts(const std::vector<int> &cell_of_sample) const;
      /// sum over groups (O - E)^2 / E; the counts must sum to N.
      double statistic(const std::vector<std::uint64_t> &counts) const;
      /// Asymptotic p-value: P(chi^2_{n_bins-1} >= statistic).
      double p_value(const double statistic) const;
      /// Group counts of N samples from the reference: Multinomial(N, group
      /// probabilities) by sequential conditional binomials, fixed by (seed, draw).
      /// std::binomial_distribution makes the draws depend on the standard library.
      std::vector<std::uint64_t> multinomial_counts(const std::uint64_t seed,
                                                    const std::uint64_t draw) const;

    private:
      unsigned int              n_cells;
      std::uint64_t             n_samples;
      std::vector<unsigned int> group_of_bin; // n_cells + 1 entries
      std::vector<double>       probabilities;
      std::vector<double>       probability_suffix; // sum of probabilities[g..]
    };


    /// Sort ascending (a radix sort for long arrays; the order of std::sort).
    void sort_ascending(std::vector<double> &values);

    /// Samples of Q = sum_j lambda_j Z_j^2 with Z_j independent standard normals
    /// (the asymptotic null law of N MMD^2), sorted ascending: draw m from
    /// CounterRng(seed, m, substream 0x6e756c6c). Non-positive lambdas are dropped, and
    /// the smallest eigenvalues whose variance 2 sum lambda^2 is below 1e-6 of the
    /// total count by their mean (sum lambda) only.
    std::vector<double> weighted_chi_squared_draws(std::vector<double> lambda,
                                                   const std::uint64_t seed,
                                                   const unsigned int  draws);

    /// Monte Carlo p-value of an observed statistic against R statistics computed on
    /// draws from the reference: (1 + #{T_null >= observed}) / (R + 1).
    double calibrated_p_value(const double observed, const std::vector<double> &null_statistics);
  } // namespace statistics
} // namespace scorefp
