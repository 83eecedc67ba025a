// energy distance (any dimension): the energy distance between the empirical law F_N
// of the samples and the reference law G of the quadrature cloud (Szekely and Rizzo),
//
//   E(F_N, G) = 2 E|X - Y| - E|X - X'| - E|Y - Y'|,   X, X' ~ F_N,  Y, Y' ~ G,
//
// with every expectation over G a sum over the cloud, sum_q w_q f(y_q) / sum_q w_q (the
// reference conditioned on the domain, negative finite-element weights kept, as for
// MMD^2), and E|X - X'| the V-statistic (1/N^2) sum_{i,j} |x_i - x_j|, so that E >= 0
// for non-negative weights and E = 0 only for F_N = G. E|Y - Y'| does not depend on the
// samples; it is computed once so that the value is the distance itself. Null values
// come from the check's null sample sets, like the others.
//
// Cost, for N samples and Q cloud points:
//  - 1D: O((N + Q) log(N + Q)) per sample set, exact, by sorting: with the points in
//    ascending order, sum_{i<j} (x_j - x_i) = sum_j x_j (2j - N + 1) (j from 0), and
//    sum_q w_q |x - y_q| follows from the prefix sums of w_q and w_q y_q at x;
//  - d > 1: the direct sums, O(N Q + N^2) per sample set (and Q^2 once). That is
//    fine for the sizes of the tests (N ~ 10^3, Q ~ 10^4) but slow for N = 10^5 in 2D,
//    which is why the statistic is not in the default Checker/Statistics.
#include <scorefp/checker/statistic.h>
#include <scorefp/core/input_error.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>

namespace scorefp
{
  namespace
  {
    double distance(const double *x, const double *y, const unsigned int d)
    {
      double s = 0.0;
      for (unsigned int j = 0; j < d; ++j)
        s += (x[j] - y[j]) * (x[j] - y[j]);
      return std::sqrt(s);
    }

    /// sum_{i,j} |x_i - x_j| / N^2 of sorted values.
    double mean_pair_distance_1d(const std::vector<double> &sorted)
    {
      const double N   = static_cast<double>(sorted.size());
      double       sum = 0.0;
      for (std::size_t j = 0; j < sorted.size(); ++j)
        sum += sorted[j] * (2.0 * static_cast<double>(j) - N + 1.0);
      return 2.0 * sum / (N * N);
    }

    class PreparedEnergyDistance : public PreparedStatistic
    {
    public:
      explicit PreparedEnergyDistance(const QuadratureCloud &cloud)
          : dim(cloud.dimension)
      {
        const std::size_t n = cloud.size();
        if (dim == 0 || n == 0 || cloud.points.size() != n * dim)
          throw InputError("The energy distance needs a non-empty cloud with dimension times "
                           "its number of weights coordinates.");
        total = std::accumulate(cloud.weights.begin(), cloud.weights.end(), 0.0);
        if (!(total > 0.0) || !std::isfinite(total))
          throw InputError("The energy distance needs a cloud of positive total weight.");
        // Points of weight 0 add nothing to any sum.
        for (std::size_t q = 0; q < n; ++q)
          if (cloud.weights[q] != 0.0)
            {
              weights.push_back(cloud.weights[q]);
              points.insert(points.end(),
                            cloud.points.begin() + q * dim,
                            cloud.points.begin() + (q + 1) * dim);
            }
        if (dim == 1)
          {
            // Sorted points with the prefix sums of w and w y.
            std::vector<std::pair<double, double>> sorted(weights.size());
            for (std::size_t q = 0; q < weights.size(); ++q)
              sorted[q] = {points[q], weights[q]};
            std::sort(sorted.begin(), sorted.end());
            prefix_weight.assign(sorted.size() + 1, 0.0);
            prefix_moment.assign(sorted.size() + 1, 0.0);
            double pairs = 0.0; // sum_{q<r} w_q w_r (y_r - y_q)
            for (std::size_t q = 0; q < sorted.size(); ++q)
              {
                points[q]  = sorted[q].first;
                weights[q] = sorted[q].second;
                pairs += weights[q] * (points[q] * prefix_weight[q] - prefix_moment[q]);
                prefix_weight[q + 1] = prefix_weight[q] + weights[q];
                prefix_moment[q + 1] = prefix_moment[q] + weights[q] * points[q];
              }
            reference_term = 2.0 * pairs / (total * total);
          }
        else
          {
            double pairs = 0.0;
            for (std::size_t q = 0; q < weights.size(); ++q)
              {
                double row = 0.0;
                for (std::size_t r = q + 1; r < weights.size(); ++r)
                  row += weights[r] * distance(&points[q * dim], &points[r * dim], dim);
                pairs += weights[q] * row;
              }
            reference_term = 2.0 * pairs / (total * total);
          }
      }

      double value(const SampleView &samples) const override
      {
        if (samples.dimension() != dim || samples.size() == 0)
          throw InputError("The energy distance received " + std::to_string(samples.size()) +
                           " samples of dimension " + std::to_string(samples.dimension()) +
                           " for a reference of dimension " + std::to_string(dim) +
                           "; expected at least one sample of equal dimension.");
        const double N = static_cast<double>(samples.size());
        double       cross, within;
        if (dim == 1)
          {
            // sum_q w_q |x - y_q| = x (2 W_k - W) - 2 M_k + M_Q for the k points y_q <= x,
            // W_k and M_k the prefix sums of w and w y: one walk through both sorted sets.
            const std::vector<double> &x = samples.sorted();
            const std::size_t          Q = weights.size();
            std::size_t                k = 0;
            cross                        = 0.0;
            for (const double xi : x)
              {
                while (k < Q && points[k] <= xi)
                  ++k;
                cross += xi * (2.0 * prefix_weight[k] - prefix_weight[Q]) -
                         2.0 * prefix_moment[k] + prefix_moment[Q];
              }
            cross /= N * total;
            within = mean_pair_distance_1d(x);
          }
        else
          {
            const std::vector<double> &x = samples.values();
            const std::size_t          n = samples.size();
            cross                        = 0.0;
            for (std::size_t i = 0; i < n; ++i)
              {
                double row = 0.0;
                for (std::size_t q = 0; q < weights.size(); ++q)
                  row += weights[q] * distance(&x[i * dim], &points[q * dim], dim);
                cross += row;
              }
            cross /= N * total;
            double pairs = 0.0;
            for (std::size_t i = 0; i < n; ++i)
              for (std::size_t j = i + 1; j < n; ++j)
                pairs += distance(&x[i * dim], &x[j * dim], dim);
            within = 2.0 * pairs / (N * N);
          }
        return 2.0 * cross - within - reference_term;
      }

    private:
      unsigned int        dim;
      double              total = 0.0;
      std::vector<double> points, weights;              // sorted by position in 1D
      std::vector<double> prefix_weight, prefix_moment; // 1D only
      double              reference_term = 0.0;         // E|Y - Y'|
    };

    class EnergyDistance : public Statistic
    {
    public:
      bool applies_in(const unsigned int) const override { return true; }

      std::unique_ptr<PreparedStatistic>
      prepare(const ReferenceLaw &reference, const std::size_t, const std::uint64_t) const override
      {
        return std::make_unique<PreparedEnergyDistance>(reference.cloud);
      }
    };
  } // namespace

  SCOREFP_REGISTER(StatisticRegistry,
                   "energy distance",
                   "energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'| between the samples X and "
                   "the reference Y (sums over the quadrature cloud; exact by sorting in 1D, "
                   "direct sums of cost N x cloud + N^2 in d > 1, so not in the default list).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<EnergyDistance>(); })
} // namespace scorefp
