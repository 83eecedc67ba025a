// The empirical law's kernel (empirical_law.h): a nanoflann k-d tree on the points, the
// truncation ball of each query point, and log-sum-exp sums over it.
#include "data/empirical_law.h"

#include <scorefp/simd/kernels.h>

#include <nanoflann.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace scorefp
{
  namespace
  {
    constexpr double pi = 3.14159265358979323846;

    // A work array of n doubles, on the stack for the usual small dimensions (written
    // by hand: the standard library has no small-buffer vector, and a heap allocation
    // per call would cost as much as the sums at small v).
    class Scratch
    {
    public:
      explicit Scratch(const std::size_t n)
          : data(n <= sizeof(local) / sizeof(double) ? local : (heap.resize(n), heap.data()))
      {
      }
      Scratch(const Scratch &)            = delete;
      Scratch &operator=(const Scratch &) = delete;
      double  *get() { return data; }

    private:
      double              local[32];
      std::vector<double> heap;
      double             *data;
    };
  } // namespace

  // nanoflann reads the points through an adaptor (kdtree_get_point_count, kdtree_get_pt,
  // kdtree_get_bbox); the tree keeps a reference to it, so both live here. The adaptor
  // reads `ordered`: the points as given while the tree is built, then in the tree's
  // order (see the constructor).
  struct EmpiricalPoints::Index
  {
    struct Adaptor
    {
      const EmpiricalPoints *owner;

      std::size_t kdtree_get_point_count() const { return owner->n_points; }
      double      kdtree_get_pt(const std::size_t i, const std::size_t k) const
      {
        return owner->ordered[i * owner->dim + k];
      }
      // The bounding box is known already: hand it over instead of a second pass.
      template <class BoundingBox>
      bool kdtree_get_bbox(BoundingBox &box) const
      {
        for (unsigned int k = 0; k < owner->dim; ++k)
          {
            box[k].low  = owner->lower[k];
            box[k].high = owner->upper[k];
          }
        return true;
      }
    };
    // Squared Euclidean distances (nanoflann's L2 adaptors take and return SQUARED
    // distances and radii), dimension at run time (DIM = -1), size_t indices.
    using Metric = nanoflann::L2_Adaptor<double, Adaptor, double, std::size_t>;
    using Tree   = nanoflann::KDTreeSingleIndexAdaptor<Metric, Adaptor, -1, std::size_t>;

    Adaptor adaptor;
    Tree    tree;

    explicit Index(const EmpiricalPoints *owner)
        : adaptor{owner}
        , tree(owner->dim, adaptor, nanoflann::KDTreeSingleIndexAdaptorParams(leaf_size))
    {
    }

    // Points per leaf: larger leaves cost more distance evaluations per query, smaller
    // ones more tree levels; 16 to 64 are within the benchmark's noise in 2D and 3D.
    static constexpr std::size_t leaf_size = 32;
  };

  EmpiricalPoints::EmpiricalPoints(const unsigned int dimension, std::vector<double> points)
      : dim(dimension)
      , n_points(0)
      , coordinates(std::move(points))
  {
    if (dim == 0)
      throw std::invalid_argument("EmpiricalPoints: the dimension must be at least 1.");
    if (coordinates.empty())
      throw std::invalid_argument("EmpiricalPoints: there must be at least one point.");
    if (coordinates.size() % dim != 0)
      throw std::invalid_argument("EmpiricalPoints: " + std::to_string(coordinates.size()) +
                                  " coordinates are not a whole number of points of dimension " +
                                  std::to_string(dim) + ".");
    for (const double c : coordinates)
      if (!std::isfinite(c))
        throw std::invalid_argument("EmpiricalPoints: a coordinate is not finite.");
    n_points = coordinates.size() / dim;
    lower.assign(coordinates.begin(), coordinates.begin() + dim);
    upper = lower;
    for (std::size_t i = 1; i < n_points; ++i)
      for (unsigned int k = 0; k < dim; ++k)
        {
          lower[k] = std::min(lower[k], coordinates[i * dim + k]);
          upper[k] = std::max(upper[k], coordinates[i * dim + k]);
        }
    ordered = coordinates;
    index   = std::make_unique<Index>(this);
    // Put the points in the tree's order, by hand: nanoflann's index array vAcc (a public
    // member) lists the points leaf by leaf, and its queries read point vAcc[j] for the
    // j-th position of a leaf. Storing point vAcc[j] at position j and making vAcc the
    // identity keeps every node valid and lets a query (and the sums it feeds) read a
    // leaf's points from consecutive memory instead of all over the array: at N = 1e5 in
    // 2D this makes the evaluation 1.5 to 2 times faster. nanoflann 1.4 has no option
    // for it. The points as given stay in `coordinates` (points()).
    auto &permutation = index->tree.vAcc;
    given_index.assign(permutation.begin(), permutation.end());
    for (std::size_t j = 0; j < n_points; ++j)
      {
        std::copy_n(coordinates.begin() + given_index[j] * dim, dim, ordered.begin() + j * dim);
        permutation[j] = j;
      }
  }

  EmpiricalPoints::~EmpiricalPoints() = default;

  std::size_t EmpiricalPoints::nearest(const double *y, double &distance_squared) const
  {
    std::size_t j = 0;
    index->tree.knnSearch(y, 1, &j, &distance_squared);
    return given_index[j];
  }

  void EmpiricalPoints::within(const double                                *y,
                               const double                                 radius_squared,
                               std::vector<std::pair<std::size_t, double>> &found) const
  {
    // Unsorted: the sums do not need the order, and sorting would cost more than them.
    index->tree.radiusSearch(y, radius_squared, found, nanoflann::SearchParams(32, 0, false));
    for (auto &point : found)
      point.first = given_index[point.first];
  }

  double EmpiricalPoints::box_distance_squared(const double *y) const
  {
    double result = 0;
    for (unsigned int k = 0; k < dim; ++k)
      {
        const double gap = std::max({lower[k] - y[k], 0.0, y[k] - upper[k]});
        result += gap * gap;
      }
    return result;
  }

  double EmpiricalPoints::farthest_corner_squared(const double *y) const
  {
    double result = 0;
    for (unsigned int k = 0; k < dim; ++k)
      {
        const double gap = std::max(std::abs(y[k] - lower[k]), std::abs(y[k] - upper[k]));
        result += gap * gap;
      }
    return result;
  }

  EmpiricalMixture::EmpiricalMixture(std::shared_ptr<const EmpiricalPoints> points,
                                     const double                           m,
                                     const double                           v)
      : points(std::move(points))
      , scale(m)
      , variance(v)
      , exponent(0)
  {
    if (!this->points)
      throw std::invalid_argument("EmpiricalMixture: no points.");
    if (!(m > 0) || !std::isfinite(m))
      throw std::invalid_argument("EmpiricalMixture: m must be positive, not " + std::to_string(m) +
                                  ".");
    if (!(v > 0) || !std::isfinite(v))
      throw std::invalid_argument("EmpiricalMixture: v must be positive, not " + std::to_string(v) +
                                  " (at v = 0 the law has no density).");
    exponent = std::log(double(this->points->size())) + 40.0;
  }

  namespace
  {
    // The sums over the points relative to a reference point y_r (the nearest): the
    // weights w_i = exp(-(|x - m y_i|^2 - |x - m y_r|^2) / (2 v)) <= 1 (about), their sum
    // S, the weighted mean of y_i - y_r and the weighted sum of squares about it. The
    // mean and the sum of squares are updated point by point as in West (1979) (Welford's
    // algorithm with weights, written by hand: a few lines): one pass with no
    // cancellation, so that the k-d tree's search can feed the points straight in
    // without storing them.
    class WeightedSums
    {
    public:
      WeightedSums(const double      *x,
                   const double      *y_r,
                   const unsigned int d,
                   const double       m,
                   const double       v,
                   double            *mean)
          : x(x)
          , y_r(y_r)
          , d(d)
          , m(m)
          , half_precision(0.5 / v)
          , mean(mean)
          , work(d)
          , e_r(work.get())
      {
        std::fill(mean, mean + d, 0.0);
        for (unsigned int k = 0; k < d; ++k)
          e_r[k] = x[k] - m * y_r[k];
      }

      void add(const double *y)
      {
        ++count;
        // |x - m y|^2 - |x - m y_r|^2 as m (y_r - y).(e + e_r), e = x - m y: accurate where
        // both squares are large (far in the tails at small v) and their difference is
        // not.
        double delta = 0;
        for (unsigned int k = 0; k < d; ++k)
          delta += (y_r[k] - y[k]) * (x[k] - m * y[k] + e_r[k]);
        const double exponent = -m * delta * half_precision;
        // Below exp(-746) the weight is exactly 0 in double: skipped before exp(), which
        // is slow for such arguments (the brute-force sum meets many); a weight that
        // underflows to 0 contributes nothing either (and would make w / S = 0 / 0).
        if (exponent < -746.0)
          return;
        const double w = std::exp(exponent);
        if (w == 0)
          return;
        const double S_before = S;
        S += w;
        const double f = w / S;
        double       q = 0;
        for (unsigned int k = 0; k < d; ++k)
          {
            const double dz = y[k] - y_r[k] - mean[k];
            mean[k] += f * dz;
            q += dz * dz;
          }
        // w (z - mean_before).(z - mean_after) = w (S_before / S) |z - mean_before|^2 >= 0.
        squares += w * (S_before / S) * q;
      }

      /// log of sum_i w_i (>= 0: the reference point's weight is 1).
      double log_sum() const { return std::log(S); }
      /// sum_i gamma_i |y_i - D|^2.
      double trace() const { return squares / S; }
      /// |x - m y_r|^2.
      double reference_squared() const
      {
        double r = 0;
        for (unsigned int k = 0; k < d; ++k)
          r += e_r[k] * e_r[k];
        return r;
      }

      std::size_t count = 0;

    private:
      const double      *x, *y_r;
      const unsigned int d;
      const double       m, half_precision;
      double            *mean;
      Scratch            work;
      double            *e_r;
      double             S = 0, squares = 0;
    };

    // A nanoflann result set (the interface of its RadiusResultSet: size, full,
    // worstDist, addPoint) that adds every point of the ball to the sums instead of
    // storing it; indices are positions in the tree's order.
    class BallSums
    {
    public:
      BallSums(WeightedSums &sums, const double *ordered, const unsigned int d, const double radius)
          : sums(sums)
          , ordered(ordered)
          , d(d)
          , radius(radius)
      {
      }
      std::size_t size() const { return sums.count; }
      bool        full() const { return true; }
      double      worstDist() const { return radius; }
      bool        addPoint(const double distance_squared, const std::size_t i)
      {
        if (distance_squared < radius)
          sums.add(ordered + i * d);
        return true;
      }

    private:
      WeightedSums &sums;
      const double *ordered;
      unsigned int  d;
      double        radius;
    };
  } // namespace

  // Inside the mixture every point is read from P.ordered (the tree's order).
  EmpiricalMixture::Summed EmpiricalMixture::sums(
      const double *x, const bool brute_force, double &log_p, double *offset, double *trace) const
  {
    const EmpiricalPoints &P = *points;
    const unsigned int     d = P.dimension();
    const std::size_t      N = P.size();
    const double           m = scale, v = variance;
    const double          *y      = P.ordered.data();
    const auto             finish = [&](const WeightedSums &s, const std::size_t r) -> Summed {
      log_p = -std::log(double(N)) - 0.5 * d * std::log(2 * pi * v) -
              s.reference_squared() / (2 * v) + s.log_sum();
      if (trace)
        *trace = s.trace();
      return {y + r * d, s.count};
    };

    // The tree: y-space coordinates q = x / m, where the ball is
    // |q - y_i|^2 <= d0^2 / m^2 + 2 v L / m^2.
    Scratch work(d);
    double *q = work.get();
    for (unsigned int k = 0; k < d; ++k)
      q[k] = x[k] / m;
    const double width    = 2 * v * exponent / (m * m);
    const double farthest = P.farthest_corner_squared(q);
    // Where the ball holds the whole bounding box, every point is summed directly: the
    // tree would return all N of them after visiting every leaf, slower than the plain
    // loop. The box distance bounds d0 from below, so this is often known before any
    // search.
    if (!brute_force && P.box_distance_squared(q) + width < farthest)
      {
        double      d0_squared;
        std::size_t r;
        P.index->tree.knnSearch(q, 1, &r, &d0_squared);
        // The relative margin keeps the nearest point itself inside nanoflann's strict
        // "distance < radius" test even where the width is below its round-off.
        const double radius_squared = d0_squared * (1 + 1e-12) + width;
        if (radius_squared < farthest)
          {
            WeightedSums s(x, y + r * d, d, m, v, offset);
            BallSums     ball(s, y, d, radius_squared);
            P.index->tree.radiusSearchCustomCallback(
                q, ball, nanoflann::SearchParams(32, 0, false));
            return finish(s, r);
          }
      }

    // Every point: the reference is the nearest in x-space, found first.
    std::size_t r  = 0;
    double      r2 = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < N; ++i)
      {
        double di = 0;
        for (unsigned int k = 0; k < d; ++k)
          {
            const double e = x[k] - m * y[i * d + k];
            di += e * e;
          }
        if (di < r2)
          {
            r  = i;
            r2 = di;
          }
      }
    WeightedSums s(x, y + r * d, d, m, v, offset);
    for (std::size_t i = 0; i < N; ++i)
      s.add(y + i * d);
    return finish(s, r);
  }

  std::size_t EmpiricalMixture::truncation_count(const double *x) const
  {
    Scratch work(points->dimension());
    double  log_p;
    return sums(x, false, log_p, work.get(), nullptr).count;
  }

  void EmpiricalMixture::evaluate(const double *x,
                                  double       &log_p,
                                  double       *D,
                                  double       *trace_covariance) const
  {
    const double *y_r = sums(x, false, log_p, D, trace_covariance).reference;
    for (unsigned int k = 0; k < points->dimension(); ++k)
      D[k] += y_r[k];
  }

  void EmpiricalMixture::evaluate_brute_force(const double *x,
                                              double       &log_p,
                                              double       *D,
                                              double       *trace_covariance) const
  {
    const double *y_r = sums(x, true, log_p, D, trace_covariance).reference;
    for (unsigned int k = 0; k < points->dimension(); ++k)
      D[k] += y_r[k];
  }

  double EmpiricalMixture::log_value(const double *x) const
  {
    Scratch work(points->dimension());
    double  log_p;
    sums(x, false, log_p, work.get(), nullptr);
    return log_p;
  }

  double EmpiricalMixture::value(const double *x) const
  {
    return std::exp(log_value(x));
  }

  void EmpiricalMixture::denoiser(const double *x, double *D) const
  {
    double log_p;
    evaluate(x, log_p, D, nullptr);
  }

  void EmpiricalMixture::score(const double *x, double *s) const
  {
    // s = (m D - x) / v = (m offset - (x - m y_r)) / v: no cancellation of m y_r with x.
    double        log_p;
    const double *y_r = sums(x, false, log_p, s, nullptr).reference;
    for (unsigned int k = 0; k < points->dimension(); ++k)
      s[k] = (scale * s[k] - (x[k] - scale * y_r[k])) / variance;
  }

  bool EmpiricalMixture::score_divergence(const double *x, double *s, double &divergence) const
  {
    double             log_p, trace;
    const double      *y_r = sums(x, false, log_p, s, &trace).reference;
    const unsigned int d   = points->dimension();
    for (unsigned int k = 0; k < d; ++k)
      s[k] = (scale * s[k] - (x[k] - scale * y_r[k])) / variance;
    divergence = scale * scale / (variance * variance) * trace - d / variance;
    return true;
  }

  bool EmpiricalMixture::sums_every_point(const double *x) const
  {
    // The test of sums(): the ball |q - y_i|^2 <= d0^2 + width in y-space coordinates
    // q = x / m holds the bounding box (d0 bounded below by the box distance).
    const EmpiricalPoints &P = *points;
    const unsigned int     d = P.dimension();
    double                 q[GaussianMixture::max_dimension];
    if (d > GaussianMixture::max_dimension)
      return false;
    for (unsigned int k = 0; k < d; ++k)
      q[k] = x[k] / scale;
    const double width = 2 * variance * exponent / (scale * scale);
    return !(P.box_distance_squared(q) + width < P.farthest_corner_squared(q));
  }

  void EmpiricalMixture::score_batch(const double      *x,
                                     const std::size_t  n,
                                     const unsigned int d,
                                     double            *s) const
  {
    if (simd::active() == simd::InstructionSet::none || d > GaussianMixture::max_dimension)
      return DensityField::score_batch(x, n, d, s);
    std::call_once(kernel_made, [this]() {
      std::vector<double> means(points->ordered);
      for (double &mu : means)
        mu *= scale;
      kernel = std::make_shared<const simd::Mixture>(
          simd::Mixture::equal_weights(points->dimension(), std::move(means), variance));
    });
    // The points that sum every component go through the kernel together; the rest
    // through the tree, one at a time.
    std::vector<std::size_t> all;
    std::vector<double>      gathered, scores;
    for (std::size_t i = 0; i < n; ++i)
      if (sums_every_point(x + i * d))
        all.push_back(i);
      else
        score(x + i * d, s + i * d);
    if (all.empty())
      return;
    gathered.resize(all.size() * d);
    scores.resize(all.size() * d);
    for (std::size_t j = 0; j < all.size(); ++j)
      std::copy_n(x + all[j] * d, d, gathered.begin() + j * d);
    simd::mixture_score(*kernel, gathered.data(), all.size(), scores.data());
    for (std::size_t j = 0; j < all.size(); ++j)
      std::copy_n(scores.begin() + j * d, d, s + all[j] * d);
  }
} // namespace scorefp
