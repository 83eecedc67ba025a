#include <scorefp/reverse/cloud_distances.h>
#include <scorefp/reverse/wasserstein_1d.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace scorefp
{
  std::vector<double> sliced_directions(const unsigned int dim, const unsigned int n_directions)
  {
    std::vector<double> directions;
    if (dim == 1)
      return {1.0};
    const double pi = std::acos(-1.0);
    for (unsigned int k = 0; k < n_directions; ++k)
      {
        if (dim == 2)
          {
            const double angle = pi * k / n_directions;
            directions.insert(directions.end(), {std::cos(angle), std::sin(angle)});
          }
        else
          {
            // Fibonacci lattice on the upper half sphere: heights uniform in (0, 1]
            // (equal areas), longitudes by the golden angle.
            const double z     = (k + 0.5) / n_directions;
            const double r     = std::sqrt(std::max(0.0, 1.0 - z * z));
            const double angle = k * pi * (3.0 - std::sqrt(5.0));
            directions.insert(directions.end(), {r * std::cos(angle), r * std::sin(angle), z});
          }
      }
    return directions;
  }

  namespace
  {
    /// Each law's total positive mass (negative masses count as 0), over all ranks.
    std::vector<double> total_masses(const LawCloud &cloud, const bool positive, const MPI_Comm comm)
    {
      std::vector<double> totals(cloud.masses.size(), 0.0);
      for (std::size_t k = 0; k < cloud.masses.size(); ++k)
        for (const double m : cloud.masses[k])
          totals[k] += positive ? std::max(m, 0.0) : m;
      MPI_Allreduce(MPI_IN_PLACE, totals.data(), int(totals.size()), MPI_DOUBLE, MPI_SUM, comm);
      return totals;
    }
  } // namespace

  std::vector<double> sliced_wasserstein2(const LawCloud                                   &cloud,
                                          const std::vector<std::pair<unsigned, unsigned>> &pairs,
                                          const std::vector<double> &directions,
                                          const double               radius,
                                          const double               window,
                                          const MPI_Comm             communicator)
  {
    if (!(window > 0) || !(radius > 0))
      throw std::invalid_argument("sliced_wasserstein2: window and radius must be positive.");
    const unsigned int d            = cloud.dim;
    const std::size_t  n_laws       = cloud.masses.size();
    const std::size_t  n_atoms      = cloud.points.size() / d;
    const std::size_t  n_directions = directions.size() / d;
    // Bins of width `window` covering [-radius - window, radius + window]: a spread atom
    // overlaps at most two of them.
    const std::size_t n_bins = std::size_t(std::ceil(2 * (radius + window) / window));
    const double      left   = -0.5 * n_bins * window;

    // bins[(direction * n_laws + law) * n_bins + bin]
    std::vector<double> bins(n_directions * n_laws * n_bins, 0.0);
    for (std::size_t t = 0; t < n_directions; ++t)
      {
        const double *theta = &directions[t * d];
        for (std::size_t i = 0; i < n_atoms; ++i)
          {
            double s = 0;
            for (unsigned int j = 0; j < d; ++j)
              s += theta[j] * cloud.points[i * d + j];
            // The window [s - w/2, s + w/2] in bin units starts at u in bin b.
            const double      u        = (s - left) / window - 0.5;
            const double      b        = std::floor(u);
            const double      fraction = u - b; // of the window in bin b + 1
            const std::size_t bin      = std::size_t(std::clamp(b, 0.0, double(n_bins - 2)));
            for (std::size_t k = 0; k < n_laws; ++k)
              {
                const double m    = std::max(cloud.masses[k][i], 0.0);
                double      *row  = &bins[(t * n_laws + k) * n_bins];
                row[bin] += (1.0 - fraction) * m;
                row[bin + 1] += fraction * m;
              }
          }
      }
    MPI_Allreduce(MPI_IN_PLACE, bins.data(), int(bins.size()), MPI_DOUBLE, MPI_SUM, communicator);

    std::vector<double> result(pairs.size(), 0.0);
    for (std::size_t t = 0; t < n_directions; ++t)
      for (std::size_t k = 0; k < pairs.size(); ++k)
        {
          const auto [a, b] = pairs[k];
          std::vector<Interval1d> intervals(n_bins);
          for (std::size_t j = 0; j < n_bins; ++j)
            {
              intervals[j].left    = left + j * window;
              intervals[j].right   = left + (j + 1) * window;
              intervals[j].mass[0] = bins[(t * n_laws + a) * n_bins + j];
              intervals[j].mass[1] = bins[(t * n_laws + b) * n_bins + j];
            }
          const double w2 = wasserstein_1d(intervals, 0, 1).second;
          result[k] += w2 * w2 / n_directions;
        }
    for (double &r : result)
      r = std::sqrt(r);
    return result;
  }

  std::vector<double> mmd_squared(const LawCloud                                   &cloud,
                                  const std::vector<std::pair<unsigned, unsigned>> &pairs,
                                  const double                                      bandwidth,
                                  const MPI_Comm                                    communicator)
  {
    const unsigned int d       = cloud.dim;
    const std::size_t  n_local = cloud.points.size() / d;
    const auto         totals  = total_masses(cloud, false, communicator);

    // Per atom: its coordinates, then the signed normalised difference of each pair.
    const std::size_t   stride = d + pairs.size();
    std::vector<double> local(n_local * stride);
    for (std::size_t i = 0; i < n_local; ++i)
      {
        std::copy_n(&cloud.points[i * d], d, &local[i * stride]);
        for (std::size_t k = 0; k < pairs.size(); ++k)
          local[i * stride + d + k] = cloud.masses[pairs[k].first][i] / totals[pairs[k].first] -
                                      cloud.masses[pairs[k].second][i] / totals[pairs[k].second];
      }
    int n_ranks = 1;
    MPI_Comm_size(communicator, &n_ranks);
    std::vector<int> counts(n_ranks), offsets(n_ranks, 0);
    const int        count = int(local.size());
    MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, communicator);
    std::partial_sum(counts.begin(), counts.end() - 1, offsets.begin() + 1);
    std::vector<double> all(offsets.back() + counts.back());
    MPI_Allgatherv(local.data(),
                   count,
                   MPI_DOUBLE,
                   all.data(),
                   counts.data(),
                   offsets.data(),
                   MPI_DOUBLE,
                   communicator);

    // This rank's rows against every column (the sum is symmetric; the rows are split
    // by owner so that no pair of atoms is summed twice).
    const std::size_t   n_all = all.size() / stride;
    const double        scale = -0.5 / (bandwidth * bandwidth);
    std::vector<double> sums(pairs.size(), 0.0), row(pairs.size());
    for (std::size_t i = 0; i < n_local; ++i)
      {
        const double *x = &local[i * stride];
        std::fill(row.begin(), row.end(), 0.0);
        for (std::size_t j = 0; j < n_all; ++j)
          {
            const double *y  = &all[j * stride];
            double        r2 = 0;
            for (unsigned int l = 0; l < d; ++l)
              r2 += (x[l] - y[l]) * (x[l] - y[l]);
            const double k = std::exp(scale * r2);
            for (std::size_t p = 0; p < pairs.size(); ++p)
              row[p] += k * y[d + p];
          }
        for (std::size_t p = 0; p < pairs.size(); ++p)
          sums[p] += x[d + p] * row[p];
      }
    MPI_Allreduce(MPI_IN_PLACE, sums.data(), int(sums.size()), MPI_DOUBLE, MPI_SUM, communicator);
    return sums;
  }
} // namespace scorefp
