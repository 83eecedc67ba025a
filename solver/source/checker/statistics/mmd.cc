// MMD^2: the squared maximum mean discrepancy of a Gaussian kernel by random Fourier
// features, between the samples and the reference conditioned on the domain (MATH.md
// section 7), with its asymptotic null law: N MMD^2 -> sum_j lambda_j chi^2_1, lambda_j
// the eigenvalues of (1/R) times the covariance of the 2R features under the reference.
#include <scorefp/checker/statistic.h>
#include <scorefp/checker/statistics.h>
#include <scorefp/core/parameter_binder.h>

#include <deal.II/base/patterns.h>
#include <deal.II/lac/full_matrix.h>
#include <deal.II/lac/lapack_full_matrix.h>
#include <deal.II/lac/vector.h>

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace scorefp
{
  namespace
  {
    struct MmdParameters
    {
      unsigned int features  = 256;
      double       bandwidth = 0.0; // 0: the reference's own scale

      void bind(ParameterBinder &b)
      {
        b.add("MMD features",
              features,
              "Random Fourier features of the Gaussian kernel of MMD^2.",
              dealii::Patterns::Integer(1));
        b.add("MMD bandwidth",
              bandwidth,
              "Kernel width l; 0: the reference's own scale (root mean variance per "
              "coordinate).",
              dealii::Patterns::Double(0));
      }
    };

    class PreparedMmd : public PreparedStatistic
    {
    public:
      PreparedMmd(const ReferenceLaw &reference,
                  const MmdParameters &p,
                  const std::size_t    n_samples,
                  const std::uint64_t  seed)
          : cloud(reference.cloud)
          , mmd(reference.cloud,
                p.bandwidth > 0 ? p.bandwidth : statistics::reference_scale(reference.cloud),
                p.features,
                seed)
          , n_samples(n_samples)
          , seed(seed)
      {
      }

      double value(const SampleView &samples) const override
      {
        return mmd(samples.values(), samples.dimension());
      }

      unsigned int n_parts() const override { return mmd.n_features(); }

      std::vector<double> parts(const SampleView  &samples,
                                const unsigned int begin,
                                const unsigned int end) const override
      {
        return mmd.feature_terms(samples.values(), samples.dimension(), begin, end);
      }

      double combine(const std::vector<double> &all_parts) const override
      {
        return mmd.combine(all_parts);
      }

      /// The law is that of the reference conditioned on the domain (its moments are sums
      /// over the cloud), while samples and null draws may fall outside the mesh. Their
      /// mean feature is then off by at most 2 mass_outside per component, which shifts
      /// N MMD^2 by up to 4 N mass_outside^2 (cross term aside); the asymptotic law is
      /// used only while that is below 10^-3 of the null's mean, sum lambda.
      bool has_asymptotic_law() const override
      {
        const double m = std::max(cloud.mass_outside, 0.0);
        double       mean_modulus = 0.0; // mean |phi_ref|^2: sum lambda = 1 - that
        for (unsigned int r = 0; r < mmd.n_features(); ++r)
          mean_modulus += mmd.reference_real()[r] * mmd.reference_real()[r] +
                          mmd.reference_imaginary()[r] * mmd.reference_imaginary()[r];
        mean_modulus /= mmd.n_features();
        return 4.0 * static_cast<double>(n_samples) * m * m <= 1e-3 * (1.0 - mean_modulus);
      }

      /// P(sum_j lambda_j Z_j^2 >= N MMD^2): the limit law of N MMD^2 under H0.
      double asymptotic_p_value(const double value) const override
      {
        if (null_law.empty())
          null_law = statistics::weighted_chi_squared_draws(eigenvalues(), seed, draws);
        const double x       = static_cast<double>(n_samples) * value;
        const auto   at_most = std::lower_bound(null_law.begin(), null_law.end(), x);
        return (1.0 + static_cast<double>(null_law.end() - at_most)) / (draws + 1.0);
      }

    private:
      static constexpr unsigned int draws = 100000;

      /// MMD^2 = (1/R) |mean of f(x_i) - E_ref f|^2 with f(x) = (cos omega_r . x,
      /// sin omega_r . x)_r, so N MMD^2 -> sum_j lambda_j chi^2_1 under H0 (central limit
      /// theorem) with lambda_j the eigenvalues of (1/R) Cov_ref(f). Cov_ref(f) = sum_q w_q
      /// f(x_q) f(x_q)^T - mu mu^T with the weights normalised to sum 1 as FourierMmd
      /// does (negative finite-element weights kept; negative eigenvalues they may cause
      /// are dropped), mu = (Re phi_ref, Im phi_ref). The cloud's feature matrix F (Q x
      /// 2R) is built in blocks of points and F^T diag(w) F accumulated by BLAS (gemm).
      std::vector<double> eigenvalues() const
      {
        const unsigned int R = mmd.n_features(), n = 2 * R, d = cloud.dimension;
        const std::size_t  Q = cloud.size();
        double             total = 0.0;
        for (const double w : cloud.weights)
          total += w;
        dealii::LAPACKFullMatrix<double> covariance(n, n);
        const std::size_t                block = 1024;
        std::vector<double>              points, phase, sine, cosine;
        for (std::size_t begin = 0; begin < Q; begin += block)
          {
            const std::size_t end = std::min(Q, begin + block), m = end - begin;
            points.assign(cloud.points.begin() + begin * d, cloud.points.begin() + end * d);
            dealii::LAPACKFullMatrix<double> features(m, n), weighted(m, n);
            sine.resize(m);
            cosine.resize(m);
            for (unsigned int r = 0; r < R; ++r)
              {
                mmd.phases(points, r, phase);
                statistics::sin_cos(phase.data(), sine.data(), cosine.data(), m);
                for (std::size_t q = 0; q < m; ++q)
                  {
                    const double w = cloud.weights[begin + q] / total;
                    features(q, r)     = cosine[q];
                    features(q, R + r) = sine[q];
                    weighted(q, r)     = w * cosine[q];
                    weighted(q, R + r) = w * sine[q];
                  }
              }
            features.Tmmult(covariance, weighted, true);
          }
        std::vector<double> mu(n);
        for (unsigned int r = 0; r < R; ++r)
          {
            mu[r]     = mmd.reference_real()[r];
            mu[R + r] = mmd.reference_imaginary()[r];
          }
        for (unsigned int i = 0; i < n; ++i)
          for (unsigned int j = 0; j < n; ++j)
            covariance(i, j) = (covariance(i, j) - mu[i] * mu[j]) / R;
        // Symmetric up to round-off in the sums; make it exactly so for syevx.
        for (unsigned int i = 0; i < n; ++i)
          for (unsigned int j = 0; j < i; ++j)
            covariance(i, j) = covariance(j, i) = 0.5 * (covariance(i, j) + covariance(j, i));
        covariance.set_property(dealii::LAPACKSupport::symmetric);
        // The eigenvalues lie in [0, trace] and the trace is at most 1 for non-negative
        // weights; the bounds leave room for negative ones.
        dealii::Vector<double>     lambda;
        dealii::FullMatrix<double> vectors;
        covariance.compute_eigenvalues_symmetric(-10.0, 10.0, 0.0, lambda, vectors);
        return std::vector<double>(lambda.begin(), lambda.end());
      }

      const QuadratureCloud              &cloud;
      statistics::FourierMmd              mmd;
      std::size_t                         n_samples;
      std::uint64_t                       seed;
      mutable std::vector<double>         null_law; // sorted draws of the limit law
    };

    class Mmd : public Statistic
    {
    public:
      explicit Mmd(const MmdParameters &p)
          : settings(p)
      {
      }

      bool applies_in(const unsigned int) const override { return true; }

      std::unique_ptr<PreparedStatistic> prepare(const ReferenceLaw &reference,
                                                 const std::size_t   n_samples,
                                                 const std::uint64_t seed) const override
      {
        return std::make_unique<PreparedMmd>(reference, settings, n_samples, seed);
      }

      std::string parameters() const override
      {
        std::ostringstream s;
        s << std::setprecision(17) << "features = " << settings.features
          << ", bandwidth = " << settings.bandwidth;
        return s.str();
      }

    private:
      MmdParameters settings;
    };
  } // namespace

  SCOREFP_REGISTER(StatisticRegistry,
                   "MMD^2",
                   "MMD^2 of the Gaussian kernel of width MMD bandwidth by MMD features random "
                   "Fourier features fixed by the seed.",
                   MmdParameters,
                   [](const MmdParameters &p) { return std::make_unique<Mmd>(p); })
} // namespace scorefp
