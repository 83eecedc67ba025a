#include <scorefp/core/input_error.h>
#include <scorefp/core/random.h>
#include <scorefp/checker/statistics.h>
#include <scorefp/simd/kernels.h>

#include <boost/math/distributions/chi_squared.hpp>

#include <algorithm>
#include <functional>
#include <cstring>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <utility>

namespace scorefp
{
  namespace statistics
  {
    namespace
    {
      constexpr double pi = 3.14159265358979323846;

      // A sort key with the order of the doubles (NaN aside): flip all bits of negative
      // numbers, the sign bit of the others.
      std::uint64_t sort_key(const double v)
      {
        std::uint64_t u;
        std::memcpy(&u, &v, sizeof u);
        return (u >> 63) != 0 ? ~u : (u | 0x8000000000000000ULL);
      }

      double from_sort_key(std::uint64_t u)
      {
        u = (u >> 63) != 0 ? (u & 0x7fffffffffffffffULL) : ~u;
        double v;
        std::memcpy(&v, &u, sizeof v);
        return v;
      }

      // Throws unless the samples hold a positive whole number of points of dimension d.
      std::size_t
      n_points(const std::vector<double> &samples, const unsigned int d, const char *what)
      {
        if (d == 0 || samples.empty() || samples.size() % d != 0)
          throw InputError(std::string(what) + " received " + std::to_string(samples.size()) +
                           " sample coordinates for dimension " + std::to_string(d) +
                           "; expected a positive multiple of the dimension.");
        return samples.size() / d;
      }

      // Throws unless the sample set of a 1D statistic is non-empty and sorted.
      void check_sorted(const std::vector<double> &sorted_samples, const char *what)
      {
        if (sorted_samples.empty())
          throw InputError(std::string(what) + " received no samples; expected at least one.");
        if (!std::is_sorted(sorted_samples.begin(), sorted_samples.end()))
          throw InputError(std::string(what) +
                           " received unsorted samples; expected them in ascending order.");
      }

      // int_0^1 |F_N^{-1} - G^{-1}|^p du for p = 1 or 2, exactly: walk through the
      // merged breakpoints i/N of the empirical quantile and ref.cdf of the reference
      // quantile; on each piece [a, b] the integrand is |f|^p with f linear, f(a) = fa,
      // f(b) = fb. Written by hand: no C++ library at hand computes W_p between an
      // empirical and a piecewise-linear quantile function (POT and scipy are Python).
      double
      quantile_distance_power(const std::vector<double> &sorted, const Weighted1D &ref, int p)
      {
        const std::size_t N         = sorted.size();
        const std::size_t m         = ref.x.size();
        const double      inverse_N = 1.0 / static_cast<double>(N);
        const double     *x         = ref.x.data();
        const double     *G         = ref.cdf.data();
        double            integral  = 0.0;
        double            u         = 0.0;
        std::size_t       i = 0, k = 0;
        while (i < N && k + 1 < m)
          {
            const double uf = (i + 1 == N) ? 1.0 : static_cast<double>(i + 1) * inverse_N;
            const double ug = G[k + 1];
            const double b  = std::min(uf, ug);
            if (b > u)
              {
                // G^{-1} is linear on [G[k], G[k+1]], which contains [u, b].
                const double slope = (x[k + 1] - x[k]) / (G[k + 1] - G[k]);
                const double fa    = sorted[i] - (x[k] + slope * (u - G[k]));
                const double fb    = sorted[i] - (x[k] + slope * (b - G[k]));
                const double h     = b - u;
                if (p == 2)
                  integral += h * (fa * fa + fa * fb + fb * fb) / 3.0;
                else if ((fa >= 0.0) == (fb >= 0.0))
                  integral += h * std::abs(fa + fb) / 2.0;
                else // f changes sign inside: two triangles
                  integral += h * (fa * fa + fb * fb) / (2.0 * (std::abs(fa) + std::abs(fb)));
                u = b;
              }
            if (uf <= ug)
              ++i;
            if (ug <= uf)
              ++k;
          }
        return integral;
      }
    } // namespace

    Weighted1D Weighted1D::from_points(const std::vector<double> &x, const std::vector<double> &w)
    {
      if (x.size() != w.size())
        throw InputError("A weighted 1D law received " + std::to_string(x.size()) + " points and " +
                         std::to_string(w.size()) +
                         " weights; expected as many weights as points.");
      std::vector<std::pair<double, double>> points;
      points.reserve(x.size());
      double total = 0.0;
      for (std::size_t q = 0; q < x.size(); ++q)
        {
          const double weight = std::max(w[q], 0.0);
          points.emplace_back(x[q], weight);
          total += weight;
        }
      if (!(total > 0.0) || !std::isfinite(total))
        throw InputError("A weighted 1D law received no positive weight; expected a positive, "
                         "finite total weight.");
      std::sort(points.begin(), points.end());
      // Merge points at the same position, so that G is a function of x.
      std::size_t n = 0;
      for (std::size_t q = 0; q < points.size(); ++q)
        if (n > 0 && points[q].first == points[n - 1].first)
          points[n - 1].second += points[q].second;
        else
          points[n++] = points[q];
      points.resize(n);

      Weighted1D law;
      if (n == 1)
        {
          law.x   = {points[0].first, points[0].first};
          law.cdf = {0.0, 1.0};
          return law;
        }
      law.x.resize(n + 2);
      law.cdf.resize(n + 2);
      law.x[0]      = points[0].first - 0.5 * (points[1].first - points[0].first);
      law.cdf[0]    = 0.0;
      double before = 0.0; // sum of the weights left of point q
      for (std::size_t q = 0; q < n; ++q)
        {
          law.x[q + 1] = points[q].first;
          // Rounding must not push G above 1 or below its previous value.
          law.cdf[q + 1] =
              std::min(std::max((before + 0.5 * points[q].second) / total, law.cdf[q]), 1.0);
          before += points[q].second;
        }
      law.x[n + 1]   = points[n - 1].first + 0.5 * (points[n - 1].first - points[n - 2].first);
      law.cdf[n + 1] = 1.0;
      return law;
    }

    Weighted1D Weighted1D::from_cloud(const QuadratureCloud &cloud)
    {
      if (cloud.dimension != 1)
        throw InputError("A 1D law was requested from a cloud of dimension " +
                         std::to_string(cloud.dimension) + "; expected dimension 1.");
      return from_points(cloud.points, cloud.weights);
    }

    Weighted1D Weighted1D::from_projection(const QuadratureCloud &cloud, const double *theta)
    {
      const unsigned int d = cloud.dimension;
      if (cloud.points.size() != static_cast<std::size_t>(cloud.size()) * d)
        throw InputError("A quadrature cloud has " + std::to_string(cloud.points.size()) +
                         " coordinates for " + std::to_string(cloud.size()) +
                         " weights; expected dimension times the number of weights.");
      std::vector<double> projection(cloud.size());
      for (std::size_t q = 0; q < projection.size(); ++q)
        {
          double s = 0.0;
          for (unsigned int j = 0; j < d; ++j)
            s += theta[j] * cloud.points[q * d + j];
          projection[q] = s;
        }
      return from_points(projection, cloud.weights);
    }

    double Weighted1D::quantile(const double u) const
    {
      if (!(u > 0.0))
        return x.front();
      if (u >= 1.0)
        return x.back();
      // The first breakpoint with G > u; G[k] <= u < G[k+1] and G[k+1] > G[k].
      const std::size_t k = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin() - 1;
      return x[k] + (x[k + 1] - x[k]) * (u - cdf[k]) / (cdf[k + 1] - cdf[k]);
    }

    double Weighted1D::cdf_at(const double t) const
    {
      if (t < x.front())
        return 0.0;
      if (t >= x.back())
        return 1.0;
      // x[k] <= t < x[k+1] with x[k+1] > x[k].
      const std::size_t k = std::upper_bound(x.begin(), x.end(), t) - x.begin() - 1;
      return cdf[k] + (cdf[k + 1] - cdf[k]) * (t - x[k]) / (x[k + 1] - x[k]);
    }

    double
    wasserstein_p(const std::vector<double> &sorted_samples, const Weighted1D &ref, const double p)
    {
      check_sorted(sorted_samples, "The Wasserstein distance");
      if (p == 1.0)
        return quantile_distance_power(sorted_samples, ref, 1);
      if (p == 2.0)
        return std::sqrt(quantile_distance_power(sorted_samples, ref, 2));
      throw InputError("The Wasserstein distance received p = " + std::to_string(p) +
                       "; expected p = 1 or p = 2.");
    }

    double kolmogorov_survival(const double lambda)
    {
      // Written by hand: boost::math gained kolmogorov_smirnov_distribution only in 1.75
      // (this system has 1.74). Two series of the same function, each used where it
      // converges in a few terms without cancellation.
      if (!(lambda > 0.0))
        return 1.0;
      double q = 0.0;
      if (lambda < 1.18)
        {
          // 1 - Q = sqrt(2 pi) / lambda sum_{j>=1} exp(-(2j-1)^2 pi^2 / (8 lambda^2)).
          double sum = 0.0;
          for (int j = 1; j <= 20; ++j)
            {
              const double term =
                  std::exp(-(2 * j - 1) * (2 * j - 1) * pi * pi / (8.0 * lambda * lambda));
              sum += term;
              if (term < 1e-17 * sum)
                break;
            }
          q = 1.0 - std::sqrt(2.0 * pi) / lambda * sum;
        }
      else
        {
          double sign = 1.0;
          for (int j = 1; j <= 100; ++j)
            {
              const double term = std::exp(-2.0 * j * j * lambda * lambda);
              q += 2.0 * sign * term;
              sign = -sign;
              if (term < 1e-17)
                break;
            }
        }
      return std::min(std::max(q, 0.0), 1.0);
    }

    KolmogorovSmirnov kolmogorov_smirnov(const std::vector<double> &sorted_samples,
                                         const Weighted1D          &ref)
    {
      check_sorted(sorted_samples, "The Kolmogorov-Smirnov test");
      const std::size_t N         = sorted_samples.size();
      const double      inverse_N = 1.0 / static_cast<double>(N);
      const std::size_t m         = ref.x.size();
      double            D         = 0.0;
      // G at the sorted samples by one walk through the breakpoints (instead of a binary
      // search per sample): k is the last breakpoint with x[k] <= sample.
      std::size_t k = 0;
      for (std::size_t i = 0; i < N; ++i)
        {
          const double t = sorted_samples[i];
          while (k + 1 < m && ref.x[k + 1] <= t)
            ++k;
          double G;
          if (t < ref.x.front())
            G = 0.0;
          else if (k + 1 >= m)
            G = 1.0;
          else
            G = ref.cdf[k] +
                (ref.cdf[k + 1] - ref.cdf[k]) * (t - ref.x[k]) / (ref.x[k + 1] - ref.x[k]);
          D = std::max(D, std::max((i + 1) * inverse_N - G, G - i * inverse_N));
        }
      const double root_N = std::sqrt(static_cast<double>(N));
      return {D, kolmogorov_survival((root_N + 0.12 + 0.11 / root_N) * D)};
    }

    std::vector<double>
    random_directions(const unsigned int d, const unsigned int n, const std::uint64_t seed)
    {
      if (d == 0)
        throw InputError("Random directions were requested in dimension 0; expected d >= 1.");
      std::vector<double> directions(static_cast<std::size_t>(n) * d);
      for (unsigned int k = 0; k < n; ++k)
        {
          CounterRng rng(seed, k);
          double    *theta = &directions[static_cast<std::size_t>(k) * d];
          double     norm2 = 0.0;
          while (!(norm2 > 0.0)) // a zero vector has probability 0; draw again
            {
              norm2 = 0.0;
              for (unsigned int j = 0; j < d; ++j)
                {
                  theta[j] = rng.normal();
                  norm2 += theta[j] * theta[j];
                }
            }
          const double norm = std::sqrt(norm2);
          for (unsigned int j = 0; j < d; ++j)
            theta[j] /= norm;
        }
      return directions;
    }

    SlicedWasserstein::SlicedWasserstein(const QuadratureCloud     &cloud,
                                         const std::vector<double> &directions_)
        : dim(cloud.dimension)
        , directions(directions_)
    {
      if (dim == 0 || directions.empty() || directions.size() % dim != 0)
        throw InputError("Sliced Wasserstein received " + std::to_string(directions.size()) +
                         " direction coordinates for dimension " + std::to_string(dim) +
                         "; expected a positive multiple of the dimension.");
      const std::size_t n = directions.size() / dim;
      projected.reserve(n);
      for (std::size_t k = 0; k < n; ++k)
        {
          const double *theta = &directions[k * dim];
          double        norm2 = 0.0;
          for (unsigned int j = 0; j < dim; ++j)
            norm2 += theta[j] * theta[j];
          if (std::abs(norm2 - 1.0) > 1e-10)
            throw InputError("Sliced Wasserstein direction " + std::to_string(k) + " has length " +
                             std::to_string(std::sqrt(norm2)) + "; expected unit vectors.");
          projected.push_back(Weighted1D::from_projection(cloud, theta));
        }
    }

    std::vector<double> SlicedWasserstein::direction_terms(const std::vector<double> &samples,
                                                           const unsigned int         d,
                                                           const unsigned int         begin,
                                                           const unsigned int         end) const
    {
      if (d != dim)
        throw InputError("Sliced Wasserstein received samples of dimension " + std::to_string(d) +
                         " for a reference of dimension " + std::to_string(dim) +
                         "; expected equal dimensions.");
      const std::size_t   N = n_points(samples, d, "Sliced Wasserstein");
      std::vector<double> projection(N); // one buffer for all directions
      std::vector<double> terms;
      for (std::size_t k = begin; k < std::min<std::size_t>(end, projected.size()); ++k)
        {
          const double *theta = &directions[k * d];
          for (std::size_t i = 0; i < N; ++i)
            {
              const double *x = &samples[i * d];
              double        s = 0.0;
              for (unsigned int j = 0; j < d; ++j)
                s += theta[j] * x[j];
              projection[i] = s;
            }
          sort_ascending(projection);
          terms.push_back(quantile_distance_power(projection, projected[k], 2));
        }
      return terms;
    }

    double SlicedWasserstein::combine(const std::vector<double> &terms) const
    {
      double sum = 0.0;
      for (const double t : terms)
        sum += t;
      return std::sqrt(sum / static_cast<double>(projected.size()));
    }

    double SlicedWasserstein::operator()(const std::vector<double> &samples,
                                         const unsigned int         d) const
    {
      return combine(direction_terms(samples, d, 0, n_directions()));
    }

    double reference_scale(const QuadratureCloud &cloud)
    {
      const unsigned int d = cloud.dimension;
      const std::size_t  n = cloud.size();
      if (d == 0 || n == 0 || cloud.points.size() != n * d)
        throw InputError("The reference scale needs a non-empty cloud with dimension times "
                         "its number of weights coordinates.");
      double              total = 0.0;
      std::vector<double> mean(d, 0.0), second(d, 0.0);
      for (std::size_t q = 0; q < n; ++q)
        {
          total += cloud.weights[q];
          for (unsigned int j = 0; j < d; ++j)
            {
              const double x = cloud.points[q * d + j];
              mean[j] += cloud.weights[q] * x;
              second[j] += cloud.weights[q] * x * x;
            }
        }
      if (!(total > 0.0))
        throw InputError("The reference scale needs a cloud of positive total weight.");
      double variance = 0.0;
      for (unsigned int j = 0; j < d; ++j)
        {
          const double m = mean[j] / total;
          variance += std::max(second[j] / total - m * m, 0.0);
        }
      return std::sqrt(variance / d);
    }

    FourierMmd::FourierMmd(const QuadratureCloud &cloud,
                           const double           bandwidth,
                           const unsigned int     n_features,
                           const std::uint64_t    seed)
        : dim(cloud.dimension)
    {
      if (!(bandwidth > 0.0) || !std::isfinite(bandwidth))
        throw InputError("The MMD bandwidth is " + std::to_string(bandwidth) +
                         "; expected a positive number.");
      if (n_features == 0)
        throw InputError("The MMD needs at least one random Fourier feature.");
      const std::size_t n = cloud.size();
      if (dim == 0 || n == 0 || cloud.points.size() != n * dim)
        throw InputError("The MMD needs a non-empty cloud with dimension times its number of "
                         "weights coordinates.");
      omega.resize(static_cast<std::size_t>(n_features) * dim);
      for (unsigned int r = 0; r < n_features; ++r)
        {
          CounterRng rng(seed, r);
          for (unsigned int j = 0; j < dim; ++j)
            omega[r * dim + j] = rng.normal() / bandwidth;
        }
      const double total = std::accumulate(cloud.weights.begin(), cloud.weights.end(), 0.0);
      if (!(total > 0.0))
        throw InputError("The MMD needs a cloud of positive total weight.");
      // phi_ref(omega_r) = sum_q w_q exp(i omega_r . x_q) / sum_q w_q, feature by feature.
      reference_cos.assign(n_features, 0.0);
      reference_sin.assign(n_features, 0.0);
      std::vector<double> phase(n), sine(n), cosine(n);
      for (unsigned int r = 0; r < n_features; ++r)
        {
          phases(cloud.points, r, phase);
          simd::sin_cos(phase.data(), sine.data(), cosine.data(), n);
          for (std::size_t q = 0; q < n; ++q)
            {
              reference_cos[r] += cloud.weights[q] * cosine[q];
              reference_sin[r] += cloud.weights[q] * sine[q];
            }
          reference_cos[r] /= total;
          reference_sin[r] /= total;
        }
    }

    void FourierMmd::phases(const std::vector<double> &points,
                            const unsigned int         r,
                            std::vector<double>       &phase) const
    {
      // Coordinate by coordinate, so that the loop over the points vectorises.
      const std::size_t n = points.size() / dim;
      const double     *w = &omega[static_cast<std::size_t>(r) * dim];
      phase.resize(n);
      for (std::size_t i = 0; i < n; ++i)
        phase[i] = w[0] * points[i * dim];
      for (unsigned int j = 1; j < dim; ++j)
        for (std::size_t i = 0; i < n; ++i)
          phase[i] += w[j] * points[i * dim + j];
    }

    std::vector<double> FourierMmd::feature_terms(const std::vector<double> &samples,
                                                  const unsigned int         d,
                                                  const unsigned int         begin,
                                                  const unsigned int         end) const
    {
      if (d != dim)
        throw InputError("The MMD received samples of dimension " + std::to_string(d) +
                         " for a reference of dimension " + std::to_string(dim) +
                         "; expected equal dimensions.");
      const std::size_t N = n_points(samples, d, "The MMD");
      // The sums of cos and sin of omega_r . x over the samples for the features of
      // [begin, end), in one pass over the points (simd::fourier_sums: each feature's
      // sum in a fixed order, whichever rank computes it).
      const unsigned int  last  = std::min<unsigned int>(end, reference_cos.size());
      const unsigned int  count = last > begin ? last - begin : 0;
      std::vector<double> sum_cos(count, 0.0), sum_sin(count, 0.0), terms;
      simd::fourier_sums(&omega[static_cast<std::size_t>(begin) * d],
                         count,
                         samples.data(),
                         nullptr,
                         N,
                         d,
                         sum_cos.data(),
                         sum_sin.data());
      for (unsigned int k = 0; k < count; ++k)
        {
          const double dc = sum_cos[k] / N - reference_cos[begin + k];
          const double ds = sum_sin[k] / N - reference_sin[begin + k];
          terms.push_back(dc * dc + ds * ds);
        }
      return terms;
    }

    double FourierMmd::combine(const std::vector<double> &terms) const
    {
      double mmd2 = 0.0;
      for (const double t : terms)
        mmd2 += t;
      return mmd2 / static_cast<double>(reference_cos.size());
    }

    double FourierMmd::operator()(const std::vector<double> &samples, const unsigned int d) const
    {
      return combine(feature_terms(samples, d, 0, n_features()));
    }

    std::vector<double> cell_masses(const QuadratureCloud &cloud)
    {
      if (cloud.cells.size() != cloud.weights.size())
        throw InputError("A quadrature cloud has " + std::to_string(cloud.cells.size()) +
                         " cell indices for " + std::to_string(cloud.weights.size()) +
                         " weights; expected one cell per point.");
      std::vector<double> masses(cloud.n_cells, 0.0);
      for (std::size_t q = 0; q < cloud.weights.size(); ++q)
        {
          if (cloud.cells[q] >= cloud.n_cells)
            throw InputError("A quadrature point lies in cell " + std::to_string(cloud.cells[q]) +
                             "; expected a cell below n_cells = " + std::to_string(cloud.n_cells) +
                             ".");
          masses[cloud.cells[q]] += cloud.weights[q];
        }
      return masses;
    }

    ChiSquaredBins::ChiSquaredBins(const std::vector<double> &cell_masses,
                                   const double               mass_outside,
                                   const std::uint64_t        n_samples_)
        : n_cells(static_cast<unsigned int>(cell_masses.size()))
        , n_samples(n_samples_)
    {
      // Bin probabilities: cells, then outside; negative masses clipped.
      std::vector<double> pi(cell_masses.size() + 1);
      for (unsigned int b = 0; b < n_cells; ++b)
        pi[b] = std::max(cell_masses[b], 0.0);
      pi[n_cells]        = std::max(mass_outside, 0.0);
      const double total = std::accumulate(pi.begin(), pi.end(), 0.0);
      if (!(total > 0.0) || !std::isfinite(total))
        throw InputError("The chi-squared test received no positive cell mass; expected a "
                         "positive, finite total mass.");
      for (double &p : pi)
        p /= total;

      // Merge bins in ascending order of expected count (ties by index) into groups of
      // expected count >= 5.
      const double              N = static_cast<double>(n_samples);
      std::vector<unsigned int> order(pi.size());
      std::iota(order.begin(), order.end(), 0u);
      std::stable_sort(order.begin(), order.end(), [&pi](unsigned int a, unsigned int b) {
        return pi[a] < pi[b];
      });
      group_of_bin.assign(pi.size(), 0);
      double group_probability = 0.0;
      for (const unsigned int b : order)
        {
          group_of_bin[b] = static_cast<unsigned int>(probabilities.size());
          group_probability += pi[b];
          if (N * group_probability >= 5.0)
            {
              probabilities.push_back(group_probability);
              group_probability = 0.0;
            }
        }
      if (group_of_bin[order.back()] == probabilities.size())
        {
          // The last group is short: it joins the previous group if there is one.
          if (probabilities.empty())
            probabilities.push_back(group_probability);
          else
            {
              probabilities.back() += group_probability;
              for (unsigned int &g : group_of_bin)
                g = std::min(g, static_cast<unsigned int>(probabilities.size() - 1));
            }
        }
      if (probabilities.size() < 2)
        throw InputError("The chi-squared test with " + std::to_string(n_samples) +
                         " samples has fewer than two groups of at least 5 expected counts; "
                         "expected more samples or more mass spread over the cells.");
      probability_suffix.assign(probabilities.size() + 1, 0.0);
      for (std::size_t g = probabilities.size(); g-- > 0;)
        probability_suffix[g] = probability_suffix[g + 1] + probabilities[g];
    }

    unsigned int ChiSquaredBins::bin_of(const unsigned int cell) const
    {
      if (cell > n_cells)
        throw InputError("The chi-squared test received cell " + std::to_string(cell) +
                         "; expected a cell below " + std::to_string(n_cells) +
                         " or the outside bin " + std::to_string(n_cells) + ".");
      return group_of_bin[cell];
    }

    std::vector<double> ChiSquaredBins::expected_counts() const
    {
      std::vector<double> expected(probabilities);
      for (double &e : expected)
        e *= static_cast<double>(n_samples);
      return expected;
    }

    std::vector<std::uint64_t> ChiSquaredBins::counts(const std::vector<int> &cell_of_sample) const
    {
      if (cell_of_sample.size() != n_samples)
        throw InputError("The chi-squared test received " + std::to_string(cell_of_sample.size()) +
                         " samples; expected " + std::to_string(n_samples) + ".");
      std::vector<std::uint64_t> result(probabilities.size(), 0);
      for (const int cell : cell_of_sample)
        {
          if (cell < -1 || cell >= static_cast<long>(n_cells))
            throw InputError("The chi-squared test received cell " + std::to_string(cell) +
                             "; expected -1 (outside) or a cell below " + std::to_string(n_cells) +
                             ".");
          ++result[group_of_bin[cell < 0 ? n_cells : static_cast<unsigned int>(cell)]];
        }
      return result;
    }

    double ChiSquaredBins::statistic(const std::vector<std::uint64_t> &counts) const
    {
      if (counts.size() != probabilities.size())
        throw InputError("The chi-squared statistic received " + std::to_string(counts.size()) +
                         " counts; expected one per group (" +
                         std::to_string(probabilities.size()) + ").");
      if (std::accumulate(counts.begin(), counts.end(), std::uint64_t(0)) != n_samples)
        throw InputError("The chi-squared counts do not sum to the number of samples " +
                         std::to_string(n_samples) + ".");
      double chi2 = 0.0;
      for (std::size_t g = 0; g < counts.size(); ++g)
        {
          const double expected = static_cast<double>(n_samples) * probabilities[g];
          const double excess   = static_cast<double>(counts[g]) - expected;
          chi2 += excess * excess / expected;
        }
      return chi2;
    }

    double ChiSquaredBins::p_value(const double statistic) const
    {
      if (!(statistic > 0.0))
        return 1.0;
      const boost::math::chi_squared_distribution<double> chi2(n_bins() - 1.0);
      return boost::math::cdf(boost::math::complement(chi2, statistic));
    }

    std::vector<std::uint64_t> ChiSquaredBins::multinomial_counts(const std::uint64_t seed,
                                                                  const std::uint64_t draw) const
    {
      CounterRng                 rng(seed, draw);
      std::vector<std::uint64_t> result(probabilities.size(), 0);
      std::uint64_t              remaining = n_samples;
      for (std::size_t g = 0; g + 1 < probabilities.size() && remaining > 0; ++g)
        {
          // Written by hand: neither the standard library nor boost has a multinomial
          // distribution. Given the counts of the groups before g, group g's count is
          // Binomial(remaining, p_g / sum_{h>=g} p_h).
          const double p = std::min(probabilities[g] / probability_suffix[g], 1.0);
          std::binomial_distribution<std::uint64_t> binomial(remaining, p);
          result[g] = binomial(rng);
          remaining -= result[g];
        }
      result.back() += remaining;
      return result;
    }


    namespace
    {
      /// Sort by a bucket per value over [min, max] followed by insertion within the
      /// buckets: linear for the projections of samples of a law with a density (a
      /// bucket holds about one value), exact whatever the values (the bucket index
      /// (v - min) * scale is monotone in v, so insertion only reorders within a
      /// bucket). False (values untouched) if the values are not finite or a bucket
      /// holds more than 64 of them (heavy tails squeeze the rest together): then the
      /// radix sort is the safer choice.
      bool bucket_sort(std::vector<double> &values)
      {
        const std::size_t n  = values.size();
        double            lo = values[0], hi = values[0];
        for (const double v : values)
          {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
          }
        if (!std::isfinite(lo) || !std::isfinite(hi) || !(hi > lo) ||
            !std::isfinite(double(n) / (hi - lo)))
          return false;
        const double               scale = double(n - 1) / (hi - lo);
        std::vector<std::uint32_t> bucket(n), start(n + 1, 0);
        for (std::size_t i = 0; i < n; ++i)
          {
            bucket[i] = static_cast<std::uint32_t>(std::min<double>((values[i] - lo) * scale, n - 1));
            ++start[bucket[i] + 1];
          }
        std::uint32_t largest = 0;
        for (std::size_t b = 1; b <= n; ++b)
          {
            largest = std::max(largest, start[b]);
            start[b] += start[b - 1];
          }
        if (largest > 64)
          return false;
        std::vector<double> sorted(n);
        for (std::size_t i = 0; i < n; ++i)
          sorted[start[bucket[i]]++] = values[i];
        for (std::size_t i = 1; i < n; ++i)
          {
            const double v = sorted[i];
            std::size_t  j = i;
            for (; j > 0 && sorted[j - 1] > v; --j)
              sorted[j] = sorted[j - 1];
            sorted[j] = v;
          }
        values.swap(sorted);
        return true;
      }
    } // namespace

    void sort_ascending(std::vector<double> &values)
    {
      // A bucket sort where it is linear (bucket_sort), else a
      // least-significant-digit radix sort on 11-bit digits of the order-preserving
      // 64-bit keys: measured 2-3 times faster than std::sort for 10^6 normal
      // projections (the sliced W2 sorts one set per direction), and the same order
      // (ties are equal doubles; -0 comes before +0, which no sum here can tell).
      const std::size_t n = values.size();
      if (n < 4096)
        {
          std::sort(values.begin(), values.end());
          return;
        }
      if (n < (std::size_t(1) << 32) && bucket_sort(values))
        return;
      constexpr unsigned int bits = 11, passes = 6;
      constexpr std::size_t  buckets = std::size_t(1) << bits;
      std::vector<std::uint64_t> keys(n), other(n);
      std::vector<std::size_t>   count(passes * buckets, 0);
      for (std::size_t i = 0; i < n; ++i)
        {
          const std::uint64_t key = sort_key(values[i]);
          keys[i]                 = key;
          for (unsigned int p = 0; p < passes; ++p)
            ++count[p * buckets + ((key >> (p * bits)) & (buckets - 1))];
        }
      for (unsigned int p = 0; p < passes; ++p)
        {
          std::size_t *c = &count[p * buckets];
          if (c[(keys[0] >> (p * bits)) & (buckets - 1)] == n)
            continue; // every key has this digit: nothing to move
          std::size_t sum = 0;
          for (std::size_t j = 0; j < buckets; ++j)
            {
              const std::size_t t = c[j];
              c[j]                = sum;
              sum += t;
            }
          for (std::size_t i = 0; i < n; ++i)
            other[c[(keys[i] >> (p * bits)) & (buckets - 1)]++] = keys[i];
          keys.swap(other);
        }
      for (std::size_t i = 0; i < n; ++i)
        values[i] = from_sort_key(keys[i]);
    }

    std::vector<double> weighted_chi_squared_draws(std::vector<double> lambda,
                                                   const std::uint64_t seed,
                                                   const unsigned int  draws)
    {
      // By simulation rather than Imhof's integral: Q has up to 2R = 512 terms whose
      // eigenvalues fall off quickly, and Imhof's integrand then decays slowly and
      // oscillates with the observed value, which needs care with the truncation and
      // the step; 10^5 seeded draws of the few dominant terms cost ~0.1 s once per
      // check, give the p-value to a Monte Carlo error of at most 0.0016 (0.0002 near
      // alpha / K), far below the error of the Monte Carlo method with Null draws
      // sample sets, and are deterministic for a given Checker/Seed.
      lambda.erase(std::remove_if(lambda.begin(), lambda.end(), [](double l) { return !(l > 0.0); }),
                   lambda.end());
      std::sort(lambda.begin(), lambda.end(), std::greater<double>());
      double total_variance = 0.0;
      for (const double l : lambda)
        total_variance += l * l;
      double mean_rest = 0.0, variance_rest = 0.0;
      while (!lambda.empty() &&
             variance_rest + lambda.back() * lambda.back() <= 1e-6 * total_variance)
        {
          variance_rest += lambda.back() * lambda.back();
          mean_rest += lambda.back();
          lambda.pop_back();
        }
      std::vector<double> q(draws);
      for (unsigned int m = 0; m < draws; ++m)
        {
          CounterRng rng(seed, m, 0x6e756c6cULL);
          double     sum = mean_rest;
          for (const double l : lambda)
            {
              const double z = rng.normal();
              sum += l * z * z;
            }
          q[m] = sum;
        }
      std::sort(q.begin(), q.end());
      return q;
    }

    double calibrated_p_value(const double observed, const std::vector<double> &null_statistics)
    {
      const auto exceeding = std::count_if(null_statistics.begin(),
                                           null_statistics.end(),
                                           [observed](double t) { return t >= observed; });
      return (1.0 + static_cast<double>(exceeding)) /
             (static_cast<double>(null_statistics.size()) + 1.0);
    }
  } // namespace statistics
} // namespace scorefp
