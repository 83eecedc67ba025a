// Initial distributions (MATH.md sections 5-6) and their exact laws under the affine
// forward processes: if X_0 ~ p0 then m X_0 + sqrt(v) Z has a closed-form density.
// Plain C++ on coordinate arrays, independent of the mesh dimension template.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace scorefp
{
  struct DataParameters
  {
    /// "gaussian mixture", "blob", "8gaussians" or "checkerboard".
    std::string         type = "blob";
    std::vector<double> weights;     // K entries
    std::vector<double> means;       // K*d entries
    std::vector<double> covariances; // K*d*d entries, row-major per component
  };

  /// A density on R^d that can be evaluated pointwise.
  class DensityField
  {
  public:
    virtual ~DensityField()                     = default;
    virtual double value(const double *x) const = 0;
  };

  class DataDistribution
  {
  public:
    virtual ~DataDistribution()            = default;
    virtual unsigned int dimension() const = 0;
    /// The law of m X_0 + sqrt(v) Z, Z ~ N(0, I): the forward law at time t with
    /// m = m(t), v = v(t). v = 0 gives the data density itself (scaled by m).
    virtual std::unique_ptr<DensityField> transported(const double m, const double v) const = 0;
    /// sqrt(E|X_0|^2 / d): the data scale c0 of the scaled coordinates.
    virtual double      scale() const       = 0;
    virtual std::string description() const = 0;
  };

  /// p0 = sum_k w_k N(mu_k, Sigma_k) with full symmetric positive definite Sigma_k.
  class GaussianMixture : public DataDistribution, public DensityField
  {
  public:
    GaussianMixture(const unsigned int  dimension,
                    std::vector<double> weights,
                    std::vector<double> means,
                    std::vector<double> covariances);
    unsigned int                  dimension() const override { return dim; }
    std::unique_ptr<DensityField> transported(const double m, const double v) const override;
    double                        value(const double *x) const override;
    double                        scale() const override;
    std::string                   description() const override;

  private:
    unsigned int        dim;
    std::vector<double> weights, means, covariances;
    // Per component: lower Cholesky factor of Sigma_k and log(w_k / sqrt((2 pi)^d det)).
    std::vector<double> cholesky, log_prefactor;
  };

  /// Uniform density on the cells of a 4^d checkerboard of side 1.5 in [-3, 3]^d whose
  /// integer coordinates sum to an even number (Deveney et al.; 8 squares in 2D,
  /// density 1/18 on them). Its forward law is a product of normal-CDF differences.
  class Checkerboard : public DataDistribution
  {
  public:
    explicit Checkerboard(const unsigned int dimension);
    unsigned int                  dimension() const override { return dim; }
    std::unique_ptr<DensityField> transported(const double m, const double v) const override;
    double                        scale() const override;
    std::string                   description() const override;

    static constexpr double side  = 1.5;
    static constexpr double lower = -3.0;

  private:
    unsigned int                     dim;
    std::vector<std::vector<double>> cell_lower_corners;
  };

  /// Resolve the data set named in the parameters; throws InputError on bad input.
  std::unique_ptr<DataDistribution> create_data(const DataParameters &p,
                                                const unsigned int    dimension);
} // namespace scorefp
