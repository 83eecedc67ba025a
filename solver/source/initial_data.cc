#include <scorefp/initial_data.h>
#include <scorefp/input_error.h>

#include <cmath>
#include <numeric>
#include <sstream>

namespace scorefp
{
  namespace
  {
    constexpr double pi = 3.14159265358979323846;

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

    private:
      const std::vector<std::vector<double>> corners;
      double                                 cell_weight, m, standard_deviation;
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
  }

  double GaussianMixture::value(const double *x) const
  {
    double        sum = 0.0;
    double        z[8];
    const double *l = cholesky.data();
    for (unsigned int k = 0; k < weights.size(); ++k, l += dim * dim)
      {
        // Solve L z = x - mu_k by forward substitution; the exponent is -|z|^2/2.
        double squared_norm = 0.0;
        for (unsigned int i = 0; i < dim; ++i)
          {
            double s = x[i] - means[k * dim + i];
            for (unsigned int j = 0; j < i; ++j)
              s -= l[i * dim + j] * z[j];
            z[i] = s / l[i * dim + i];
            squared_norm += z[i] * z[i];
          }
        sum += std::exp(log_prefactor[k] - 0.5 * squared_norm);
      }
    return sum;
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

  std::unique_ptr<DataDistribution> create_data(const DataParameters &p,
                                                const unsigned int    dimension)
  {
    if (p.type == "gaussian mixture")
      return std::make_unique<GaussianMixture>(dimension, p.weights, p.means, p.covariances);
    if (p.type == "checkerboard")
      return std::make_unique<Checkerboard>(dimension);
    if (p.type == "blob" || p.type == "8gaussians")
      {
        if (dimension != 2)
          throw InputError("Initial data/Type '" + p.type +
                           "' is a 2D data set; set Dimension = 2 or use 'gaussian mixture'.");
        std::vector<double> weights, means, covariances;
        if (p.type == "blob")
          {
            // Deveney et al.: 9 Gaussians, means 0.65 {(+-2,+-2),(0,0),(+-4,0),(0,+-4)}.
            const double points[9][2] = {
                {-2, -2}, {-2, 2}, {2, -2}, {2, 2}, {0, 0}, {-4, 0}, {4, 0}, {0, -4}, {0, 4}};
            for (const auto &q : points)
              {
                weights.push_back(1.0);
                means.push_back(0.65 * q[0]);
                means.push_back(0.65 * q[1]);
                covariances.push_back(0.0845);
              }
          }
        else
          {
            // FFJORD: means (4/sqrt2)(cos k pi/4, sin k pi/4), covariance (0.5/sqrt2)^2 I.
            for (unsigned int k = 0; k < 8; ++k)
              {
                weights.push_back(1.0);
                means.push_back(4.0 / std::sqrt(2.0) * std::cos(k * pi / 4));
                means.push_back(4.0 / std::sqrt(2.0) * std::sin(k * pi / 4));
                covariances.push_back(0.125);
              }
          }
        return std::make_unique<GaussianMixture>(2, weights, means, covariances);
      }
    throw InputError("Initial data/Type '" + p.type +
                     "' is not a known data set; expected one of gaussian mixture, blob, "
                     "8gaussians, checkerboard.");
  }
} // namespace scorefp
