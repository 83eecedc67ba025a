// Initial distributions (MATH.md sections 5-6) and their exact laws under the affine
// forward processes: if X_0 ~ p0 then m X_0 + sqrt(v) Z has a closed-form density.
// Plain C++ on coordinate arrays, independent of the mesh dimension template.
#pragma once

#include <scorefp/core/random.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace scorefp
{
  class ParameterBinder;
  class EmpiricalPoints;
  namespace simd
  {
    struct Mixture;
  }

  /// Section Initial data: the data set chosen by Type (a name of DataRegistry, see
  /// data/data_set.h; one file per data set in source/data/), the smoothing common to all
  /// data sets, and the entries the selected data set read, kept as text. A plain value:
  /// copyable, comparable and buildable by hand (gaussian_mixture(), from_entries()).
  struct DataParameters
  {
    std::string type = "blob";
    /// The data set is convolved with N(0, smoothing_variance I) before it is placed at
    /// the start time (0 = the data set itself).
    double smoothing_variance = 0.0;
    /// The selected data set's own entries ("Weights" -> "1, 3", keys relative to section
    /// Initial data) as the parameter file gave or defaulted them. The data set parses
    /// them again when it is created (create_data()); entries it does not read are
    /// ignored, as in a parameter file. Empty: its defaults.
    std::vector<std::pair<std::string, std::string>> settings;

    /// Declare or parse the entries of section Initial data: Type, every data set's own
    /// entries (each declared once even when several data sets read it), Smoothing
    /// variance. Parsing reads (and checks) only the selected data set's entries.
    void bind(ParameterBinder &binder);
    /// Check what the data set can check for `dimension` without reading any file (the
    /// shapes of a mixture's components); InputError otherwise.
    void resolve(const unsigned int dimension) const;

    /// The parameter-file entries of the selected data set: Type, Smoothing variance and
    /// the data set's own entries, as text.
    std::vector<std::pair<std::string, std::string>> entries() const;
    /// The parameters that entries() (or any subset of section Initial data's entries,
    /// the others taking their defaults) describe, checked for `dimension`.
    static DataParameters
    from_entries(const std::vector<std::pair<std::string, std::string>> &entries,
                 const unsigned int                                      dimension);

    /// Type "gaussian mixture" with K = weights.size() components in dimension
    /// d = means.size() / K: K d means, and K variances (s I) or K d^2 row-major
    /// covariances; the entries a parameter file would give for them.
    static DataParameters gaussian_mixture(const std::vector<double> &weights,
                                           const std::vector<double> &means,
                                           const std::vector<double> &covariances);

    /// Empty when the score of the (smoothed) data set is defined everywhere, as score
    /// and log-density runs and samplers need; otherwise what the data set is, for a
    /// message ("the checkerboard, whose score is undefined off its squares").
    std::string undefined_score() const;

    bool operator==(const DataParameters &other) const;
  };

  /// A density on R^d that can be evaluated pointwise, with its logarithm and score.
  class DensityField
  {
  public:
    virtual ~DensityField()                     = default;
    virtual double value(const double *x) const = 0;
    /// log p(x), accurate where p(x) underflows (the default is std::log(value(x))).
    virtual double log_value(const double *x) const;
    /// The score grad log p(x), written into s[0..d).
    virtual void score(const double *x, double *s) const = 0;
    /// The score into s[0..d) and its divergence (the Laplacian of log p) into
    /// divergence, in closed form; false (nothing written) for a field without one.
    virtual bool score_divergence(const double *x, double *s, double &divergence) const;
    /// The score at n points of dimension d (point-major x and s, n*d values each). The
    /// default calls score() point by point; fields with a vectorised kernel
    /// (simd/kernels.h) use it.
    virtual void
    score_batch(const double *x, const std::size_t n, const unsigned int d, double *s) const;
  };

  class DataDistribution
  {
  public:
    virtual ~DataDistribution()            = default;
    virtual unsigned int dimension() const = 0;
    /// The law of m X_0 + sqrt(v) Z, Z ~ N(0, I): the forward law at time t with
    /// m = m(t), v = v(t). v = 0 gives the data density itself (scaled by m). Throws
    /// InputError where has_closed_form(m, v) is false.
    virtual std::unique_ptr<DensityField> transported(const double m, const double v) const = 0;
    /// True if transported(m, v) exists in closed form. Not every data set has one:
    /// circles2 has a density at v = 0 only (its p_t is what the solvers compute), an
    /// empirical set only for v > 0 (at v = 0 it is a sum of Dirac masses). Exact
    /// draws (sample_transported) and the moments exist for every data set.
    virtual bool has_closed_form(const double m, const double v) const;
    /// The sentence of a caller that needs transported(m, v) where there is none:
    /// "<description> has no closed-form law at t = <t> (<why>); <remedy>."
    std::string no_closed_form(const double t, const double v, const std::string &remedy) const;
    /// sqrt(E|X_0|^2 / d): the data scale c0 of the scaled coordinates.
    virtual double      scale() const       = 0;
    virtual std::string description() const = 0;
    /// E X_0 (d entries).
    virtual std::vector<double> mean() const = 0;
    /// Cov X_0 (d*d entries, row-major).
    virtual std::vector<double> covariance() const = 0;
    /// True if the fields transported() makes give score_divergence() in closed form.
    virtual bool has_score_divergence() const { return false; }
    /// The field of the moment-matched Gaussian N(m E X_0, m^2 Cov X_0 + v I): the
    /// far-field score of the law of m X_0 + sqrt(v) Z. Throws InputError if that
    /// covariance is singular.
    std::unique_ptr<DensityField> moment_matched(const double m, const double v) const;

    /// The points of an empirical data set with their search index (nullptr for the
    /// others): the training set against which outputs are checked for memorisation.
    virtual std::shared_ptr<const EmpiricalPoints> empirical_points() const { return nullptr; }

    /// One exact draw X_0 ~ p0 into x[0..d), from the caller's generator.
    virtual void sample(CounterRng &rng, double *x) const = 0;

    /// One exact draw of m X_0 + sqrt(v) Z (the law transported() describes): sample()
    /// followed by d standard normals from the same generator.
    void sample_transported(CounterRng &rng, const double m, const double v, double *x) const;

    /// True (with mean and variances filled) when p0 is a Gaussian with diagonal
    /// covariance: then every sampler with the exact score is an affine map per
    /// coordinate, and its output law is known exactly (MATH.md section 4).
    virtual bool diagonal_gaussian(std::vector<double> &mean, std::vector<double> &variances) const;
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
    /// log p(x) by log-sum-exp over the components.
    double log_value(const double *x) const override;
    /// sum_k gamma_k(x) (-Sigma_k^{-1} (x - mu_k)), responsibilities by log-sum-exp:
    /// finite and accurate far in the tails where every component underflows.
    void score(const double *x, double *s) const override;
    /// div s = sum_k gamma_k (|Sigma_k^{-1}(x - mu_k)|^2 - tr Sigma_k^{-1}) - |s|^2
    /// (from grad gamma_k = gamma_k (s_k - s)), with the same log-sum-exp weights.
    bool   score_divergence(const double *x, double *s, double &divergence) const override;
    /// score() at n points by the vectorised kernel of simd/kernels.h, or point by point
    /// when simd::active() is none (the reference path).
    void   score_batch(const double      *x,
                       const std::size_t  n,
                       const unsigned int d,
                       double            *s) const override;
    bool   has_score_divergence() const override { return true; }
    double              scale() const override;
    std::string         description() const override;
    std::vector<double> mean() const override;
    std::vector<double> covariance() const override;
    void                sample(CounterRng &rng, double *x) const override;
    bool                diagonal_gaussian(std::vector<double> &mean,
                                          std::vector<double> &variances) const override;

    /// The normalised weights, K d means and K d^2 row-major covariances.
    const std::vector<double> &component_weights() const { return weights; }
    const std::vector<double> &component_means() const { return means; }
    const std::vector<double> &component_covariances() const { return covariances; }

    /// Largest dimension the pointwise evaluation supports (fixed work arrays).
    static constexpr unsigned int max_dimension = 8;

  private:
    unsigned int        dim;
    std::vector<double> weights, means, covariances;
    // Per component: lower Cholesky factor of Sigma_k, log(w_k / sqrt((2 pi)^d det)) and
    // tr Sigma_k^{-1}.
    std::vector<double> cholesky, log_prefactor, trace_precision;
    // The same mixture as the vector kernels read it (precision matrices).
    std::shared_ptr<const simd::Mixture> kernel;
  };

  /// Uniform density on the cells of a 4^d checkerboard of side 1.5 in [-3, 3]^d whose
  /// integer coordinates sum to an even number (Deveney et al.; 8 squares in 2D,
  /// density 1/18 on them). Its forward law is a product of normal-CDF differences,
  /// whose log_value and score are evaluated in log space (finite far in the tails).
  /// For v = 0 the law is piecewise constant and its score is only defined for v > 0:
  /// score() then returns 0 everywhere (inside and outside the support).
  class Checkerboard : public DataDistribution
  {
  public:
    explicit Checkerboard(const unsigned int dimension);
    unsigned int                  dimension() const override { return dim; }
    std::unique_ptr<DensityField> transported(const double m, const double v) const override;
    double                        scale() const override;
    std::string                   description() const override;
    /// Mean of the cell centres.
    std::vector<double> mean() const override;
    /// Covariance of the cell centres plus side^2/12 I (uniform within a cell).
    std::vector<double> covariance() const override;
    void                sample(CounterRng &rng, double *x) const override;

    static constexpr double side  = 1.5;
    static constexpr double lower = -3.0;

  private:
    unsigned int                     dim;
    std::vector<std::vector<double>> cell_lower_corners;
  };

  /// N(mu, diag(lambda)) in any dimension (e.g. the CIFAR-10 pixel covariance spectrum,
  /// d = 3072, of Pierret & Galerne). Variances may be zero (a degenerate direction).
  class DiagonalGaussian : public DataDistribution
  {
  public:
    DiagonalGaussian(std::vector<double> mean, std::vector<double> variances);
    unsigned int                  dimension() const override { return mu.size(); }
    std::unique_ptr<DensityField> transported(const double m, const double v) const override;
    double                        scale() const override;
    std::string                   description() const override;
    std::vector<double>           mean() const override { return mu; }
    /// Dense d x d: meant for small d only.
    std::vector<double> covariance() const override;
    void                sample(CounterRng &rng, double *x) const override;
    bool                diagonal_gaussian(std::vector<double> &mean,
                                          std::vector<double> &variances) const override;
    bool                has_score_divergence() const override { return true; }

  private:
    std::vector<double> mu, lambda;
  };

  /// The data set named in the parameters in `dimension` (reading the files its entries
  /// name), convolved with N(0, smoothing_variance I) when smoothing_variance > 0; throws
  /// InputError on bad input.
  std::unique_ptr<DataDistribution> create_data(const DataParameters &p,
                                                const unsigned int    dimension);
} // namespace scorefp
