#include <scorefp/data/data_distribution.h>
#include <scorefp/core/input_error.h>
#include <scorefp/data/data_set.h>
#include <scorefp/simd/kernels.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

namespace scorefp
{
  namespace
  {
    constexpr double pi           = 3.14159265358979323846;
    constexpr double log_sqrt_2pi = 0.91893853320467274178; // log(sqrt(2 pi))
    constexpr double infinity     = std::numeric_limits<double>::infinity();

    // Cholesky factorisation of a small (d <= 3, or a few more) dense SPD matrix.
    // Written by hand: deal.II's LAPACKFullMatrix would work but costs a heavy
    // header for a 3x3 matrix evaluated once per mixture component.
    bool cholesky_factor(const unsigned int d, const double *a, double *l)
    {
      for (unsigned int i = 0; i < d * d; ++i)
        l[i] = 0.0;
      for (unsigned int j = 0; j < d; ++j)
        {
          double diagonal = a[j * d + j];
          for (unsigned int k = 0; k < j; ++k)
            diagonal -= l[j * d + k] * l[j * d + k];
          if (!(diagonal > 0.0))
            return false;
          l[j * d + j] = std::sqrt(diagonal);
          for (unsigned int i = j + 1; i < d; ++i)
            {
              double s = a[i * d + j];
              for (unsigned int k = 0; k < j; ++k)
                s -= l[i * d + k] * l[j * d + k];
              l[i * d + j] = s / l[j * d + j];
            }
        }
      return true;
    }

    // For Sigma = L L^T (L lower triangular): z = L^{-1} (x - mu) by forward substitution,
    // and if y is given, y = L^{-T} z = Sigma^{-1} (x - mu) by back substitution.
    // Returns |z|^2, so the Gaussian exponent is -|z|^2 / 2.
    double whiten(const unsigned int d,
                  const double      *l,
                  const double      *mu,
                  const double      *x,
                  double            *z,
                  double            *y)
    {
      double squared_norm = 0.0;
      for (unsigned int i = 0; i < d; ++i)
        {
          double s = x[i] - mu[i];
          for (unsigned int j = 0; j < i; ++j)
            s -= l[i * d + j] * z[j];
          z[i] = s / l[i * d + i];
          squared_norm += z[i] * z[i];
        }
      if (y != nullptr)
        for (unsigned int i = d; i-- > 0;)
          {
            double s = z[i];
            for (unsigned int j = i + 1; j < d; ++j)
              s -= l[j * d + i] * y[j];
            y[i] = s / l[i * d + i];
          }
      return squared_norm;
    }

    // Streaming log-sum-exp of terms exp(e_k), optionally weighting vectors g_k:
    // after all add() calls, log sum_k exp(e_k) = log_sum() and
    // sum_k gamma_k g_k = weighted_sum / sum with gamma_k = exp(e_k) / sum_k exp(e_k).
    // Nothing over- or underflows: every stored number is relative to the largest e_k.
    struct LogSumExp
    {
      double max = -infinity, sum = 0.0;

      // Adds exp(e); rescales the d entries of weighted_sum if e is the new maximum and
      // returns the weight exp(e - max) of the new term (0 for e = -infinity).
      double add(const double e, const unsigned int d = 0, double *weighted_sum = nullptr)
      {
        if (e == -infinity)
          return 0.0;
        if (e > max)
          {
            const double rescale = std::exp(max - e);
            sum *= rescale;
            for (unsigned int i = 0; i < d; ++i)
              weighted_sum[i] *= rescale;
            max = e;
          }
        const double weight = std::exp(e - max);
        sum += weight;
        return weight;
      }

      double log_sum() const { return sum > 0.0 ? max + std::log(sum) : -infinity; }
    };

    // log(1 - exp(a)) for a <= 0 without cancellation (Maechler, "Accurately computing
    // log(1 - exp(-|a|))", 2012).
    double log1m_exp(const double a)
    {
      return a > -std::log(2.0) ? std::log(-std::expm1(a)) : std::log1p(-std::exp(a));
    }

    // Upper-tail probability Q(z) = 1 - Phi(z) = erfc(z / sqrt 2) / 2. std::erfc underflows
    // near z = 37 and loses digits in the subnormal range before that, so from z = 30 on
    // Q(z) = phi(z) / z * series(z) with the asymptotic series
    // sum_k (-1)^k (2k-1)!! / z^{2k}, truncated after k = 8 (below 1e-19 relative there).
    constexpr double asymptotic_tail = 30.0;

    double tail_series(const double z)
    {
      const double u      = 1.0 / (z * z);
      double       series = 1.0, term = 1.0;
      for (unsigned int k = 1; k <= 8; ++k)
        {
          term *= -(2.0 * k - 1.0) * u;
          series += term;
        }
      return series;
    }

    // log Q(z) for z >= 0.
    double log_upper_tail(const double z)
    {
      if (z < asymptotic_tail)
        return std::log(0.5 * std::erfc(z / std::sqrt(2.0)));
      return -0.5 * z * z - std::log(z) - log_sqrt_2pi + std::log(tail_series(z));
    }

    // The hazard phi(z) / Q(z) for z >= 0 (about z + 1/z far out), without forming
    // differences of large logarithms.
    double hazard(const double z)
    {
      if (z < asymptotic_tail)
        return std::exp(-0.5 * z * z - log_sqrt_2pi) / (0.5 * std::erfc(z / std::sqrt(2.0)));
      return z / tail_series(z);
    }

    // log(Phi(z1) - Phi(z2)) for z1 > z2, given delta = z1 - z2 and sum = z1 + z2 (computed
    // by the caller without cancellation), and if derivative is given, the logarithmic
    // derivative (phi(z1) - phi(z2)) / (Phi(z1) - Phi(z2)).
    // With both arguments in one tail, the difference of the tail probabilities on that
    // side: Q(lo) - Q(hi) = Q(lo) (1 - Q(hi) / Q(lo)) with 0 <= lo < hi, so nothing
    // cancels or underflows, and phi(lo) - phi(hi) = phi(lo) (1 - exp(-delta |sum| / 2)).
    // Across 0, erf(z1) and -erf(z2) add up and all the numbers are moderate.
    double log_normal_cdf_difference(
        const double z1, const double z2, const double delta, const double sum, double *derivative)
    {
      if (z2 >= 0.0 || z1 <= 0.0)
        {
          const bool   upper          = z2 >= 0.0;
          const double lo             = upper ? z2 : -z1;
          const double hi             = upper ? z1 : -z2;
          const double log_q_lo       = log_upper_tail(lo);
          const double log_tail_ratio = log_upper_tail(hi) - log_q_lo; // log(Q(hi) / Q(lo))
          if (derivative != nullptr)
            // Upper tail: (phi(z1) - phi(z2)) / D = -(phi(lo) - phi(hi)) / D; lower: +.
            *derivative = (upper ? -1.0 : 1.0) * hazard(lo) *
                          -std::expm1(-0.5 * delta * std::abs(sum)) / -std::expm1(log_tail_ratio);
          return log_q_lo + log1m_exp(log_tail_ratio);
        }
      const double r          = 1.0 / std::sqrt(2.0);
      const double difference = 0.5 * (std::erf(z1 * r) - std::erf(z2 * r));
      // phi(z1) - phi(z2) = phi(z2) expm1(-delta sum / 2) = -phi(z1) expm1(delta sum / 2),
      // relative to the larger of the two (accurate also for sum near 0).
      if (derivative != nullptr)
        *derivative = (sum >= 0.0 ? std::exp(-0.5 * z2 * z2) * std::expm1(-0.5 * delta * sum)
                                  : -std::exp(-0.5 * z1 * z1) * std::expm1(0.5 * delta * sum)) /
                      (std::sqrt(2.0 * pi) * difference);
      return std::log(difference);
    }

    // Phi(z1) - Phi(z2) for z1 >= z2 without cancellation in either tail.
    double normal_cdf_difference(const double z1, const double z2)
    {
      const double r = 1.0 / std::sqrt(2.0);
      if (z2 > 0.0)
        return 0.5 * (std::erfc(z2 * r) - std::erfc(z1 * r));
      return 0.5 * (std::erfc(-z1 * r) - std::erfc(-z2 * r));
    }

    class TransportedCheckerboard : public DensityField
    {
    public:
      TransportedCheckerboard(const std::vector<std::vector<double>> &corners,
                              const double                            cell_weight,
                              const double                            m,
                              const double                            v)
          : corners(corners)
          , cell_weight(cell_weight)
          , m(m)
          , standard_deviation(std::sqrt(v))
      {
        // Column index (0..3) of every cell along every axis: the 1D factors depend on
        // the column only, so log_value() and score() compute 4 d of them, not 4^d d / 2.
        for (const auto &a : corners)
          for (const double a_j : a)
            columns.push_back(std::lround((a_j - Checkerboard::lower) / Checkerboard::side));
      }

      double value(const double *x) const override
      {
        const double side = Checkerboard::side;
        double       sum  = 0.0;
        for (const auto &a : corners)
          {
            double product = 1.0;
            for (unsigned int j = 0; j < a.size() && product > 0.0; ++j)
              {
                const double lo = m * a[j], hi = m * (a[j] + side);
                if (standard_deviation == 0.0)
                  product *= (x[j] >= lo && x[j] < hi) ? 1.0 / (m * side) : 0.0;
                else
                  product *= normal_cdf_difference((x[j] - lo) / standard_deviation,
                                                   (x[j] - hi) / standard_deviation) /
                             (m * side);
              }
            sum += cell_weight * product;
          }
        return sum;
      }

      double log_value(const double *x) const override
      {
        if (standard_deviation == 0.0)
          return std::log(value(x));
        const unsigned int  d = corners.front().size();
        std::vector<double> log_factor(4 * d);
        factors(x, log_factor.data(), nullptr);
        LogSumExp sum;
        for (unsigned int c = 0; c < corners.size(); ++c)
          sum.add(cell_exponent(c, log_factor.data()));
        return sum.log_sum();
      }

      // Only defined for v > 0: for v = 0 the density is piecewise constant and the
      // score is 0 inside the cells and undefined outside; 0 is returned everywhere.
      void score(const double *x, double *s) const override
      {
        const unsigned int d = corners.front().size();
        for (unsigned int j = 0; j < d; ++j)
          s[j] = 0.0;
        if (standard_deviation == 0.0)
          return;
        std::vector<double> log_factor(4 * d), derivative(4 * d);
        factors(x, log_factor.data(), derivative.data());
        // score = sum_cells gamma_cell grad log(cell term), and the gradient of a
        // product of 1D factors is the vector of their logarithmic derivatives.
        LogSumExp sum;
        for (unsigned int c = 0; c < corners.size(); ++c)
          {
            const double weight = sum.add(cell_exponent(c, log_factor.data()), d, s);
            for (unsigned int j = 0; j < d; ++j)
              s[j] += weight * derivative[4 * j + columns[c * d + j]];
          }
        for (unsigned int j = 0; j < d; ++j)
          s[j] = sum.sum > 0.0 ? s[j] / sum.sum : 0.0;
      }

    private:
      // For every axis j and column i (cells [m a, m (a + side)], a = lower + i side):
      // log_factor[4 j + i] = log((Phi(z1) - Phi(z2)) / (m side)) with
      // z1 = (x_j - m a) / sqrt(v), z2 = (x_j - m (a + side)) / sqrt(v), and if
      // derivative is given, its x_j-derivative (phi(z1) - phi(z2)) / (sqrt(v) (Phi(z1) -
      // Phi(z2))). Requires v > 0.
      void factors(const double *x, double *log_factor, double *derivative) const
      {
        const double       side  = Checkerboard::side;
        const unsigned int d     = corners.front().size();
        const double       delta = m * side / standard_deviation; // z1 - z2
        for (unsigned int j = 0; j < d; ++j)
          for (unsigned int i = 0; i < 4; ++i)
            {
              const double a   = Checkerboard::lower + i * side;
              const double z1  = (x[j] - m * a) / standard_deviation;
              const double z2  = (x[j] - m * (a + side)) / standard_deviation;
              const double sum = (2.0 * x[j] - m * (2.0 * a + side)) / standard_deviation;
              double       d_log;
              log_factor[4 * j + i] =
                  log_normal_cdf_difference(z1, z2, delta, sum, &d_log) - std::log(m * side);
              if (derivative != nullptr)
                derivative[4 * j + i] = d_log / standard_deviation;
            }
      }

      // log of the term of cell c: log(cell weight) + sum_j log_factor[4 j + column].
      double cell_exponent(const unsigned int c, const double *log_factor) const
      {
        const unsigned int d        = corners.front().size();
        double             exponent = std::log(cell_weight);
        for (unsigned int j = 0; j < d; ++j)
          exponent += log_factor[4 * j + columns[c * d + j]];
        return exponent;
      }

      const std::vector<std::vector<double>> corners;
      double                                 cell_weight, m, standard_deviation;
      std::vector<unsigned int>              columns; // cell-major, d per cell
    };

    // The data set convolved with N(0, s I): X_0 = Y + sqrt(s) W, so
    // m X_0 + sqrt(v) Z = m Y + sqrt(v + m^2 s) Z'.
    class SmoothedData : public DataDistribution
    {
    public:
      SmoothedData(std::unique_ptr<DataDistribution> inner, const double variance)
          : inner(std::move(inner))
          , variance(variance)
      {
      }

      unsigned int dimension() const override { return inner->dimension(); }
      bool         has_score_divergence() const override { return inner->has_score_divergence(); }

      std::unique_ptr<DensityField> transported(const double m, const double v) const override
      {
        return inner->transported(m, v + m * m * variance);
      }

      bool has_closed_form(const double m, const double v) const override
      {
        return inner->has_closed_form(m, v + m * m * variance);
      }

      double scale() const override
      {
        const double s = inner->scale();
        return std::sqrt(s * s + variance);
      }

      std::string description() const override
      {
        std::ostringstream s;
        s << inner->description() << ", smoothed by N(0, " << variance << " I)";
        return s.str();
      }

      std::vector<double> mean() const override { return inner->mean(); }

      std::vector<double> covariance() const override
      {
        const unsigned int  d = dimension();
        std::vector<double> c = inner->covariance();
        for (unsigned int i = 0; i < d; ++i)
          c[i * d + i] += variance;
        return c;
      }

      void sample(CounterRng &rng, double *x) const override
      {
        inner->sample(rng, x);
        for (unsigned int i = 0; i < dimension(); ++i)
          x[i] += std::sqrt(variance) * rng.normal();
      }

      bool diagonal_gaussian(std::vector<double> &mean,
                             std::vector<double> &variances) const override
      {
        if (!inner->diagonal_gaussian(mean, variances))
          return false;
        for (double &lambda : variances)
          lambda += variance;
        return true;
      }

    private:
      std::unique_ptr<DataDistribution> inner;
      double                            variance;
    };

    std::string join(const std::vector<double> &values)
    {
      std::ostringstream s;
      for (unsigned int i = 0; i < values.size(); ++i)
        s << (i ? ", " : "") << values[i];
      return s.str();
    }
  } // namespace

  GaussianMixture::GaussianMixture(const unsigned int  dimension,
                                   std::vector<double> weights_in,
                                   std::vector<double> means_in,
                                   std::vector<double> covariances_in)
      : dim(dimension)
      , weights(std::move(weights_in))
      , means(std::move(means_in))
      , covariances(std::move(covariances_in))
  {
    const unsigned int K = weights.size();
    if (dim > max_dimension)
      throw InputError("A Gaussian mixture in dimension " + std::to_string(dim) +
                       " is not supported; the largest dimension is " +
                       std::to_string(max_dimension) + ".");
    if (K == 0)
      throw InputError("Initial data/Weights is empty; expected one weight per mixture component.");
    if (means.size() != K * dim)
      throw InputError("Initial data/Means has " + std::to_string(means.size()) +
                       " numbers; expected " + std::to_string(K * dim) + " (" + std::to_string(K) +
                       " components in dimension " + std::to_string(dim) + ").");
    if (covariances.size() == K)
      {
        // One number per component: an isotropic covariance s I.
        std::vector<double> full(K * dim * dim, 0.0);
        for (unsigned int k = 0; k < K; ++k)
          for (unsigned int i = 0; i < dim; ++i)
            full[k * dim * dim + i * dim + i] = covariances[k];
        covariances = full;
      }
    if (covariances.size() != K * dim * dim)
      throw InputError("Initial data/Covariances has " + std::to_string(covariances.size()) +
                       " numbers; expected " + std::to_string(K * dim * dim) + " (a row-major " +
                       std::to_string(dim) + "x" + std::to_string(dim) +
                       " matrix per component) or " + std::to_string(K) +
                       " (one variance per component).");
    double total = 0.0;
    for (const double w : weights)
      {
        if (!(w > 0.0))
          throw InputError("Initial data/Weights must be positive (got " + join(weights) + ").");
        total += w;
      }
    for (double &w : weights)
      w /= total;

    cholesky.resize(K * dim * dim);
    log_prefactor.resize(K);
    for (unsigned int k = 0; k < K; ++k)
      {
        const double *sigma = &covariances[k * dim * dim];
        for (unsigned int i = 0; i < dim; ++i)
          for (unsigned int j = 0; j < i; ++j)
            if (std::abs(sigma[i * dim + j] - sigma[j * dim + i]) >
                1e-12 * (std::abs(sigma[i * dim + j]) + std::abs(sigma[j * dim + i])))
              throw InputError("Initial data/Covariances: the matrix of component " +
                               std::to_string(k) + " is not symmetric.");
        double *l = &cholesky[k * dim * dim];
        if (!cholesky_factor(dim, sigma, l))
          throw InputError("Initial data/Covariances: the matrix of component " +
                           std::to_string(k) + " is not positive definite.");
        double log_det = 0.0;
        for (unsigned int i = 0; i < dim; ++i)
          log_det += 2.0 * std::log(l[i * dim + i]);
        log_prefactor[k] = std::log(weights[k]) - 0.5 * (dim * std::log(2.0 * pi) + log_det);
      }
    // Sigma_k^{-1} e_i column by column: its trace for the divergence of the score, the
    // whole matrix for the vector kernels.
    trace_precision.assign(K, 0.0);
    auto mixture            = std::make_shared<simd::Mixture>();
    mixture->dimension      = dim;
    mixture->means          = means;
    mixture->log_prefactors = log_prefactor;
    mixture->precisions.resize(K * dim * dim);
    std::vector<double> unit(dim, 0.0), origin(dim, 0.0), z(dim), y(dim);
    for (unsigned int k = 0; k < K; ++k)
      for (unsigned int i = 0; i < dim; ++i)
        {
          unit[i] = 1.0;
          whiten(dim, &cholesky[k * dim * dim], origin.data(), unit.data(), z.data(), y.data());
          trace_precision[k] += y[i];
          for (unsigned int j = 0; j < dim; ++j)
            mixture->precisions[k * dim * dim + j * dim + i] = y[j];
          unit[i] = 0.0;
        }
    mixture->prepare();
    kernel = std::move(mixture);
  }

  void DensityField::score_batch(const double      *x,
                                 const std::size_t  n,
                                 const unsigned int d,
                                 double            *s) const
  {
    for (std::size_t i = 0; i < n; ++i)
      score(x + i * d, s + i * d);
  }

  void GaussianMixture::score_batch(const double      *x,
                                    const std::size_t  n,
                                    const unsigned int,
                                    double            *s) const
  {
    if (simd::active() == simd::InstructionSet::none)
      for (std::size_t i = 0; i < n; ++i)
        score(x + i * dim, s + i * dim);
    else
      simd::mixture_score(*kernel, x, n, s);
  }

  bool DensityField::score_divergence(const double *, double *, double &) const
  {
    return false;
  }

  double DensityField::log_value(const double *x) const
  {
    return std::log(value(x));
  }

  bool DataDistribution::has_closed_form(const double, const double) const { return true; }

  std::string DataDistribution::no_closed_form(const double       t,
                                               const double       v,
                                               const std::string &remedy) const
  {
    std::ostringstream s;
    s << "Initial data: " << description() << " has no closed-form law at t = " << t
      << (v > 0 ? "" : " (where it is the data set itself, a sum of point masses)") << "; "
      << remedy << ".";
    return s.str();
  }

  std::unique_ptr<DensityField> DataDistribution::moment_matched(const double m,
                                                                 const double v) const
  {
    const unsigned int  d                  = dimension();
    std::vector<double> mu                 = mean();
    std::vector<double> c                  = covariance();
    std::vector<double> l                  = c;
    std::vector<double> matched_covariance = c;
    for (double &mu_i : mu)
      mu_i *= m;
    // m^2 Cov + v I, symmetrised against rounding in the covariance.
    for (unsigned int i = 0; i < d; ++i)
      for (unsigned int j = 0; j < d; ++j)
        matched_covariance[i * d + j] =
            m * m * 0.5 * (c[i * d + j] + c[j * d + i]) + (i == j ? v : 0.0);
    // Singular also when rounding leaves a pivot just above 0: each pivot l_ii^2 must be
    // more than 1e-12 of its diagonal entry, or the matrix is singular to working accuracy.
    bool regular = cholesky_factor(d, matched_covariance.data(), l.data());
    for (unsigned int i = 0; i < d && regular; ++i)
      regular = l[i * d + i] * l[i * d + i] > 1e-12 * matched_covariance[i * d + i];
    if (!regular)
      {
        std::ostringstream s;
        s << "The moment-matched Gaussian of the " << description() << " at m = " << m
          << ", v = " << v << " has a singular covariance m^2 Cov X_0 + v I.";
        throw InputError(s.str());
      }
    return std::make_unique<GaussianMixture>(d, std::vector<double>{1.0}, mu, matched_covariance);
  }

  double GaussianMixture::value(const double *x) const
  {
    double        sum = 0.0;
    double        z[max_dimension];
    const double *l = cholesky.data();
    for (unsigned int k = 0; k < weights.size(); ++k, l += dim * dim)
      {
        // Solve L z = x - mu_k by forward substitution; the exponent is -|z|^2/2.
        const double squared_norm = whiten(dim, l, &means[k * dim], x, z, nullptr);
        sum += std::exp(log_prefactor[k] - 0.5 * squared_norm);
      }
    return sum;
  }

  double GaussianMixture::log_value(const double *x) const
  {
    LogSumExp     sum;
    double        z[max_dimension];
    const double *l = cholesky.data();
    for (unsigned int k = 0; k < weights.size(); ++k, l += dim * dim)
      sum.add(log_prefactor[k] - 0.5 * whiten(dim, l, &means[k * dim], x, z, nullptr));
    return sum.log_sum();
  }

  void GaussianMixture::score(const double *x, double *s) const
  {
    // sum_k gamma_k (-Sigma_k^{-1} (x - mu_k)), gamma_k = w_k N_k(x) / p(x): the
    // weights exp(e_k - max_k e_k) are accumulated with the running maximum.
    LogSumExp     sum;
    double        z[max_dimension], y[max_dimension];
    const double *l = cholesky.data();
    for (unsigned int i = 0; i < dim; ++i)
      s[i] = 0.0;
    for (unsigned int k = 0; k < weights.size(); ++k, l += dim * dim)
      {
        const double squared_norm = whiten(dim, l, &means[k * dim], x, z, y);
        const double weight       = sum.add(log_prefactor[k] - 0.5 * squared_norm, dim, s);
        for (unsigned int i = 0; i < dim; ++i)
          s[i] -= weight * y[i];
      }
    for (unsigned int i = 0; i < dim; ++i)
      s[i] = sum.sum > 0.0 ? s[i] / sum.sum : 0.0;
  }

  bool GaussianMixture::score_divergence(const double *x, double *s, double &divergence) const
  {
    // The weighted sums of -y_k (the score) and of |y_k|^2 - tr Sigma_k^{-1}, packed in
    // one array so that LogSumExp rescales both when the maximum moves.
    LogSumExp     sum;
    double        z[max_dimension], y[max_dimension], sums[max_dimension + 1] = {};
    const double *l = cholesky.data();
    for (unsigned int k = 0; k < weights.size(); ++k, l += dim * dim)
      {
        const double squared_norm = whiten(dim, l, &means[k * dim], x, z, y);
        const double weight       = sum.add(log_prefactor[k] - 0.5 * squared_norm, dim + 1, sums);
        double       y2           = 0.0;
        for (unsigned int i = 0; i < dim; ++i)
          {
            sums[i] -= weight * y[i];
            y2 += y[i] * y[i];
          }
        sums[dim] += weight * (y2 - trace_precision[k]);
      }
    double s2 = 0.0;
    for (unsigned int i = 0; i < dim; ++i)
      {
        s[i] = sum.sum > 0.0 ? sums[i] / sum.sum : 0.0;
        s2 += s[i] * s[i];
      }
    divergence = (sum.sum > 0.0 ? sums[dim] / sum.sum : 0.0) - s2;
    return true;
  }

  std::vector<double> GaussianMixture::mean() const
  {
    std::vector<double> mu(dim, 0.0);
    for (unsigned int k = 0; k < weights.size(); ++k)
      for (unsigned int i = 0; i < dim; ++i)
        mu[i] += weights[k] * means[k * dim + i];
    return mu;
  }

  std::vector<double> GaussianMixture::covariance() const
  {
    // Law of total covariance: sum_k w_k (Sigma_k + (mu_k - mu)(mu_k - mu)^T).
    const std::vector<double> mu = mean();
    std::vector<double>       c(dim * dim, 0.0);
    for (unsigned int k = 0; k < weights.size(); ++k)
      for (unsigned int i = 0; i < dim; ++i)
        for (unsigned int j = 0; j < dim; ++j)
          c[i * dim + j] +=
              weights[k] * (covariances[k * dim * dim + i * dim + j] +
                            (means[k * dim + i] - mu[i]) * (means[k * dim + j] - mu[j]));
    return c;
  }

  void DataDistribution::sample_transported(CounterRng  &rng,
                                            const double m,
                                            const double v,
                                            double      *x) const
  {
    sample(rng, x);
    for (unsigned int j = 0; j < dimension(); ++j)
      x[j] = m * x[j] + std::sqrt(v) * rng.normal();
  }

  bool DataDistribution::diagonal_gaussian(std::vector<double> &, std::vector<double> &) const
  {
    return false;
  }

  void GaussianMixture::sample(CounterRng &rng, double *x) const
  {
    // The component by inversion of the cumulative weights, then mu_k + L_k z.
    const double u = rng.uniform();
    unsigned int k = 0;
    double       c = weights[0];
    while (u > c && k + 1 < weights.size())
      c += weights[++k];
    double z[max_dimension];
    for (unsigned int i = 0; i < dim; ++i)
      z[i] = rng.normal();
    const double *l = &cholesky[k * dim * dim];
    for (unsigned int i = 0; i < dim; ++i)
      {
        x[i] = means[k * dim + i];
        for (unsigned int j = 0; j <= i; ++j)
          x[i] += l[i * dim + j] * z[j];
      }
  }

  bool GaussianMixture::diagonal_gaussian(std::vector<double> &mean,
                                          std::vector<double> &variances) const
  {
    if (weights.size() != 1)
      return false;
    for (unsigned int i = 0; i < dim; ++i)
      for (unsigned int j = 0; j < dim; ++j)
        if (i != j && covariances[i * dim + j] != 0.0)
          return false;
    mean.assign(means.begin(), means.end());
    variances.resize(dim);
    for (unsigned int i = 0; i < dim; ++i)
      variances[i] = covariances[i * dim + i];
    return true;
  }

  std::unique_ptr<DensityField> GaussianMixture::transported(const double m, const double v) const
  {
    // p_t = sum_k w_k N(m mu_k, m^2 Sigma_k + v I)   (MATH.md section 5).
    std::vector<double> new_means(means), new_covariances(covariances);
    for (double &mu : new_means)
      mu *= m;
    for (unsigned int k = 0; k < weights.size(); ++k)
      for (unsigned int i = 0; i < dim; ++i)
        for (unsigned int j = 0; j < dim; ++j)
          new_covariances[k * dim * dim + i * dim + j] =
              m * m * covariances[k * dim * dim + i * dim + j] + (i == j ? v : 0.0);
    return std::make_unique<GaussianMixture>(dim, weights, new_means, new_covariances);
  }

  double GaussianMixture::scale() const
  {
    double second_moment = 0.0;
    for (unsigned int k = 0; k < weights.size(); ++k)
      for (unsigned int i = 0; i < dim; ++i)
        second_moment += weights[k] * (means[k * dim + i] * means[k * dim + i] +
                                       covariances[k * dim * dim + i * dim + i]);
    return std::sqrt(second_moment / dim);
  }

  std::string GaussianMixture::description() const
  {
    return "Gaussian mixture with " + std::to_string(weights.size()) + " components";
  }

  Checkerboard::Checkerboard(const unsigned int dimension)
      : dim(dimension)
  {
    unsigned int n_cells = 1;
    for (unsigned int j = 0; j < dim; ++j)
      n_cells *= 4;
    for (unsigned int index = 0; index < n_cells; ++index)
      {
        std::vector<double> corner(dim);
        unsigned int        rest = index, parity = 0;
        for (unsigned int j = 0; j < dim; ++j, rest /= 4)
          {
            corner[j] = lower + side * (rest % 4);
            parity += rest % 4;
          }
        if (parity % 2 == 0)
          cell_lower_corners.push_back(corner);
      }
  }

  std::unique_ptr<DensityField> Checkerboard::transported(const double m, const double v) const
  {
    return std::make_unique<TransportedCheckerboard>(
        cell_lower_corners, 1.0 / cell_lower_corners.size(), m, v);
  }

  double Checkerboard::scale() const
  {
    double second_moment = 0.0; // of the first coordinate; all coordinates agree
    for (const auto &a : cell_lower_corners)
      {
        const double lo = a[0], hi = a[0] + side;
        second_moment += (hi * hi * hi - lo * lo * lo) / (3.0 * side);
      }
    return std::sqrt(second_moment / cell_lower_corners.size());
  }

  std::string Checkerboard::description() const
  {
    return "checkerboard with " + std::to_string(cell_lower_corners.size()) + " cells";
  }

  std::vector<double> Checkerboard::mean() const
  {
    std::vector<double> mu(dim, 0.0);
    for (const auto &a : cell_lower_corners)
      for (unsigned int j = 0; j < dim; ++j)
        mu[j] += a[j] + 0.5 * side;
    for (double &mu_j : mu)
      mu_j /= cell_lower_corners.size();
    return mu;
  }

  std::vector<double> Checkerboard::covariance() const
  {
    // Equal-weight mixture of uniform cells: covariance of the cell centres plus the
    // within-cell variance side^2 / 12 of each (independent) coordinate.
    const std::vector<double> mu = mean();
    std::vector<double>       c(dim * dim, 0.0);
    for (const auto &a : cell_lower_corners)
      for (unsigned int i = 0; i < dim; ++i)
        for (unsigned int j = 0; j < dim; ++j)
          c[i * dim + j] += (a[i] + 0.5 * side - mu[i]) * (a[j] + 0.5 * side - mu[j]);
    for (unsigned int i = 0; i < dim; ++i)
      for (unsigned int j = 0; j < dim; ++j)
        c[i * dim + j] =
            c[i * dim + j] / cell_lower_corners.size() + (i == j ? side * side / 12.0 : 0.0);
    return c;
  }

  void Checkerboard::sample(CounterRng &rng, double *x) const
  {
    const auto n = cell_lower_corners.size();
    const auto k = std::min<std::size_t>(static_cast<std::size_t>(rng.uniform() * n), n - 1);
    for (unsigned int j = 0; j < dim; ++j)
      x[j] = cell_lower_corners[k][j] + side * rng.uniform();
  }

  namespace
  {
    // N(m mu, diag(m^2 lambda + v)) in any dimension.
    class DiagonalGaussianField : public DensityField
    {
    public:
      DiagonalGaussianField(std::vector<double> mean, std::vector<double> variances)
          : mu(std::move(mean))
          , sigma2(std::move(variances))
      {
      }
      double value(const double *x) const override { return std::exp(log_value(x)); }
      double log_value(const double *x) const override
      {
        double sum = 0.0;
        for (unsigned int i = 0; i < mu.size(); ++i)
          sum -= 0.5 * ((x[i] - mu[i]) * (x[i] - mu[i]) / sigma2[i] + std::log(2 * pi * sigma2[i]));
        return sum;
      }
      void score(const double *x, double *s) const override
      {
        for (unsigned int i = 0; i < mu.size(); ++i)
          s[i] = -(x[i] - mu[i]) / sigma2[i];
      }
      bool score_divergence(const double *x, double *s, double &divergence) const override
      {
        score(x, s);
        divergence = 0.0;
        for (const double variance : sigma2)
          divergence -= 1.0 / variance;
        return true;
      }

    private:
      std::vector<double> mu, sigma2;
    };
  } // namespace

  DiagonalGaussian::DiagonalGaussian(std::vector<double> mean, std::vector<double> variances)
      : mu(std::move(mean))
      , lambda(std::move(variances))
  {
    if (lambda.empty())
      throw InputError("Initial data/Variances is empty; expected one variance per coordinate.");
    if (mu.size() == 1 && lambda.size() > 1)
      mu.assign(lambda.size(), mu[0]);
    if (mu.size() != lambda.size())
      throw InputError("Initial data/Means has " + std::to_string(mu.size()) +
                       " coordinates but there are " + std::to_string(lambda.size()) +
                       " variances; expected one mean (for all) or one per variance.");
    for (std::size_t i = 0; i < lambda.size(); ++i)
      if (!(std::isfinite(lambda[i]) && lambda[i] >= 0.0))
        throw InputError("Initial data: variance " + std::to_string(i) + " is " +
                         std::to_string(lambda[i]) + "; expected a finite number >= 0.");
  }

  std::unique_ptr<DensityField> DiagonalGaussian::transported(const double m, const double v) const
  {
    std::vector<double> mean(mu), variances(lambda);
    for (std::size_t i = 0; i < mu.size(); ++i)
      {
        mean[i] *= m;
        variances[i] = m * m * lambda[i] + v;
      }
    return std::make_unique<DiagonalGaussianField>(mean, variances);
  }

  double DiagonalGaussian::scale() const
  {
    double second_moment = 0.0;
    for (std::size_t i = 0; i < mu.size(); ++i)
      second_moment += mu[i] * mu[i] + lambda[i];
    return std::sqrt(second_moment / mu.size());
  }

  std::string DiagonalGaussian::description() const
  {
    return "diagonal Gaussian in dimension " + std::to_string(mu.size());
  }

  std::vector<double> DiagonalGaussian::covariance() const
  {
    const std::size_t   d = mu.size();
    std::vector<double> c(d * d, 0.0);
    for (std::size_t i = 0; i < d; ++i)
      c[i * d + i] = lambda[i];
    return c;
  }

  void DiagonalGaussian::sample(CounterRng &rng, double *x) const
  {
    for (std::size_t i = 0; i < mu.size(); ++i)
      x[i] = mu[i] + std::sqrt(lambda[i]) * rng.normal();
  }

  bool DiagonalGaussian::diagonal_gaussian(std::vector<double> &mean,
                                           std::vector<double> &variances) const
  {
    mean      = mu;
    variances = lambda;
    return true;
  }

  std::unique_ptr<DataDistribution> create_data(const DataParameters &p,
                                                const unsigned int    dimension)
  {
    const double s = p.smoothing_variance;
    if (!(std::isfinite(s) && s >= 0.0))
      throw InputError("Initial data/Smoothing variance must be a finite number >= 0 (got " +
                       join({s}) + ").");
    auto data = create_data_set(p)->create(dimension);
    if (s > 0.0)
      return std::make_unique<SmoothedData>(std::move(data), s);
    return data;
  }
} // namespace scorefp
