// The law of an empirical data set (Chen et al., MATH.md section 5): X_0 uniform on N
// points y_i in R^d, so that m X_0 + sqrt(v) Z, v > 0, has the density
//
//   p(x)  = (1/N) sum_i N(x; m y_i, v I),
//   D(x)  = E[X_0 | x] = sum_i gamma_i y_i,  gamma_i = softmax_i(-|x - m y_i|^2 / (2 v)),
//   score = (m D(x) - x) / v,
//   div score = (m^2 / v^2) tr Cov_gamma(y) - d / v,
//
// D the optimal denoiser and Cov_gamma = sum_i gamma_i (y_i - D)(y_i - D)^T the posterior
// covariance of X_0.
//
// Truncation. With d0^2 = min_i |x - m y_i|^2 every point with |x - m y_i|^2 > d0^2 + 2 v L
// has relative weight below exp(-L); with L = ln N + 40 all of them together weigh less
// than exp(-40) ~ 4e-18 of the nearest point's, under double round-off. So only the
// points in that ball are summed; they are found by a k-d tree on the points y_i
// (unscaled, built once and shared by every time t), queried at x / m with the radius
// divided by m. Sums are log-sum-exp relative to the nearest point, finite where every
// exp(-|x - m y_i|^2 / (2 v)) underflows. The k-d tree is Debian's header-only nanoflann
// (libnanoflann-dev): a mature exact nearest-neighbour and radius search, in any
// dimension, whose const queries may run concurrently.
#pragma once

#include <scorefp/data/data_distribution.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace scorefp
{
  /// The points y_i and their k-d tree, built once and shared by every EmpiricalMixture.
  class EmpiricalPoints
  {
  public:
    /// N * d coordinates, row-major (point i is points[i d .. i d + d)). Throws
    /// std::invalid_argument if d = 0, there is no point or the size is not a multiple
    /// of d.
    EmpiricalPoints(unsigned int dimension, std::vector<double> points);
    /// Out of line: the index type (nanoflann's) is only known in the source file.
    ~EmpiricalPoints();
    EmpiricalPoints(const EmpiricalPoints &)            = delete;
    EmpiricalPoints &operator=(const EmpiricalPoints &) = delete;

    unsigned int               dimension() const { return dim; }
    std::size_t                size() const { return n_points; }
    const std::vector<double> &points() const { return coordinates; }
    /// Point i (d coordinates).
    const double *point(const std::size_t i) const { return coordinates.data() + i * dim; }

    /// The index of the point nearest to y, and its squared distance.
    std::size_t nearest(const double *y, double &distance_squared) const;
    /// The points with |y - y_i|^2 < radius_squared, as (index, squared distance) in no
    /// particular order (the previous contents of `found` are replaced).
    void within(const double                                *y,
                const double                                 radius_squared,
                std::vector<std::pair<std::size_t, double>> &found) const;

    /// The points' bounding box, d lower and d upper corners.
    const std::vector<double> &lower_corner() const { return lower; }
    const std::vector<double> &upper_corner() const { return upper; }
    /// Squared distance from y to the nearest point of the bounding box (0 inside): a
    /// lower bound of every |y - y_i|^2.
    double box_distance_squared(const double *y) const;
    /// Squared distance from y to the farthest corner of the bounding box: an upper bound
    /// of every |y - y_i|^2.
    double farthest_corner_squared(const double *y) const;

  private:
    friend class EmpiricalMixture;
    unsigned int dim;
    std::size_t  n_points;
    /// The points as given, their bounding box, and the points again in the tree's order
    /// (the points of a leaf next to each other in memory: the sums over a ball read
    /// them sequentially), with the given index of each.
    std::vector<double>      coordinates, lower, upper, ordered;
    std::vector<std::size_t> given_index;
    struct Index;
    std::unique_ptr<Index> index;
  };

  /// (1/N) sum_i N(m y_i, v I), v > 0: the law of m X_0 + sqrt(v) Z for the empirical X_0.
  /// Every method is const and keeps its work arrays on its own stack: one object may be
  /// evaluated from several threads at once.
  class EmpiricalMixture : public DensityField
  {
  public:
    /// Throws std::invalid_argument unless m > 0, v > 0 and points is not null.
    EmpiricalMixture(std::shared_ptr<const EmpiricalPoints> points, double m, double v);

    double value(const double *x) const override;
    /// log p(x) by log-sum-exp: finite and accurate far in the tails.
    double log_value(const double *x) const override;
    void   score(const double *x, double *s) const override;
    /// score() at n points; the points whose truncation ball holds every data point go
    /// through the vector kernel of simd/kernels.h (all N components), the others
    /// through the tree.
    void score_batch(const double      *x,
                     const std::size_t  n,
                     const unsigned int d,
                     double            *s) const override;
    /// The score and div score = (m^2 / v^2) tr Cov_gamma(y) - d / v; returns true.
    bool score_divergence(const double *x, double *s, double &divergence) const override;
    /// The optimal denoiser D(x) = E[X_0 | m X_0 + sqrt(v) Z = x] into D[0..d).
    void denoiser(const double *x, double *D) const;
    /// log p, D and the weighted trace tr Cov_gamma(y) in one pass over the points in the
    /// truncation ball (what the others call); trace_covariance may be nullptr.
    void evaluate(const double *x, double &log_p, double *D, double *trace_covariance) const;
    /// The same by summing over every point (the reference of the tests and benchmark).
    void
    evaluate_brute_force(const double *x, double &log_p, double *D, double *trace_covariance) const;

    /// The number of points evaluate() sums over at x: the tree's candidates in the
    /// truncation ball, or N where the ball holds every point (for statistics, e.g. the
    /// benchmark's mean count).
    std::size_t truncation_count(const double *x) const;

    double m() const { return scale; }
    double v() const { return variance; }
    /// L = ln N + 40: the truncation ball is |x - m y_i|^2 <= d0^2 + 2 v L.
    double                 truncation_exponent() const { return exponent; }
    const EmpiricalPoints &data_points() const { return *points; }

  private:
    std::shared_ptr<const EmpiricalPoints> points;
    double                                 scale, variance, exponent;
    // The mixture as the vector kernel reads it, made on first use.
    mutable std::once_flag                         kernel_made;
    mutable std::shared_ptr<const simd::Mixture>   kernel;

    /// True where the truncation ball of x holds the bounding box of the points: every
    /// point is summed (sums() skips the tree there).
    bool sums_every_point(const double *x) const;

    /// What sums() found: the reference point y_r (the nearest) and how many points
    /// were summed.
    struct Summed
    {
      const double *reference;
      std::size_t   count;
    };
    /// log p, offset[0..d) = sum_i gamma_i (y_i - y_r) and, if trace is not null,
    /// tr Cov_gamma(y), summed over the truncation ball of x (over every point where the
    /// ball holds them all, or if brute_force).
    Summed
    sums(const double *x, bool brute_force, double &log_p, double *offset, double *trace) const;
  };
} // namespace scorefp
