// MMD^2: the squared maximum mean discrepancy of a Gaussian kernel by random Fourier
// features, between the samples and the reference conditioned on the domain (MATH.md
// section 7), with its asymptotic null law: N MMD^2 -> sum_j lambda_j chi^2_1, lambda_j
// the eigenvalues of (1/R) times the covariance of the 2R features under the reference.
#include <scorefp/checker/statistic.h>
#include <scorefp/checker/statistics.h>
#include <scorefp/simd/kernels.h>
#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>

#include <deal.II/base/patterns.h>
#include <deal.II/lac/full_matrix.h>
#include <deal.II/lac/lapack_full_matrix.h>
#include <deal.II/lac/lapack_templates.h>
#include <deal.II/lac/vector.h>

#include <algorithm>
#include <numeric>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

namespace scorefp
{
  namespace
  {
    using Lanes = double __attribute__((vector_size(32)));

    /// Rows i, i + 1 of C += A W^T from column i - i % 4 on (the upper triangle) for the
    /// even i of `pairs` / 2 (C: n x n, row-major; A, W: n rows of b entries; n and b
    /// multiples of 4). Written by hand rather than by BLAS: the system
    /// BLAS may be the reference one (0.8 GFlop/s measured here for the 512 x 512 x Q
    /// product, 15 s at Q = 25600), while this blocked kernel of GCC vector lanes runs
    /// several times faster, and with a fixed order of the sums.
    __attribute__((target_clones("avx2", "default"))) void
    accumulate_gram(const double                    *A,
                    const double                    *W,
                    const std::size_t                n,
                    const std::size_t                b,
                    const std::vector<unsigned int> &pairs,
                    double                          *C)
    {
      for (const unsigned int pair : pairs)
        for (std::size_t i = 2 * std::size_t(pair), j = i - i % 4; j < n; j += 4)
          {
            Lanes acc[2][4] = {};
            for (std::size_t q = 0; q < b; q += 4)
              {
                Lanes a[2], w[4];
                for (unsigned int k = 0; k < 2; ++k)
                  std::memcpy(&a[k], A + (i + k) * b + q, sizeof(Lanes));
                for (unsigned int k = 0; k < 4; ++k)
                  std::memcpy(&w[k], W + (j + k) * b + q, sizeof(Lanes));
                for (unsigned int k = 0; k < 2; ++k)
                  for (unsigned int l = 0; l < 4; ++l)
                    acc[k][l] += a[k] * w[l];
              }
            for (unsigned int k = 0; k < 2; ++k)
              for (unsigned int l = 0; l < 4; ++l)
                C[(i + k) * n + j + l] +=
                    (acc[k][l][0] + acc[k][l][1]) + (acc[k][l][2] + acc[k][l][3]);
          }
    }

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
          null_law = statistics::weighted_chi_squared_draws(law_summary(), seed, draws);
        const double x       = static_cast<double>(n_samples) * value;
        const auto   at_most = std::lower_bound(null_law.begin(), null_law.end(), x);
        return (1.0 + static_cast<double>(null_law.end() - at_most)) / (draws + 1.0);
      }

      /// The parts of the asymptotic law: pairs of rows of G = F^T diag(w) F, F the
      /// cloud's features (Q x 2R), shared over the ranks (PreparedStatistic::law_parts).
      unsigned int n_law_parts() const override { return (2 * mmd.n_features() + 3) / 4 * 2; }

      std::vector<unsigned int> all_law_parts() const
      {
        std::vector<unsigned int> all(n_law_parts());
        std::iota(all.begin(), all.end(), 0u);
        return all;
      }

      /// Rows 2k, 2k + 1 of G = sum_q w_q f(x_q) f(x_q)^T (weights normalised to sum 1)
      /// from column 2k - 2k % 4 on, for the k of `which`, in that order.
      std::vector<double> law_parts(const std::vector<unsigned int> &which) const override
      {
        const unsigned int R = mmd.n_features(), d = cloud.dimension;
        const std::size_t  padded = 2 * static_cast<std::size_t>(n_law_parts());
        double             total = 0.0, largest = 0.0;
        for (const double w : cloud.weights)
          {
            total += w;
            largest = std::max(largest, std::abs(w));
          }
        // Points of weight below 1e-14 of the largest change no entry by more than 1e-14
        // times their number (entries are O(1), the eigenvalues that matter >= 1e-6):
        // dropped, which saves much where the law fills part of the mesh.
        std::vector<std::size_t> kept;
        for (std::size_t q = 0; q < cloud.size(); ++q)
          if (std::abs(cloud.weights[q]) > 1e-14 * largest)
            kept.push_back(q);
        std::vector<double> rows(padded * padded, 0.0);
        const std::size_t   block = 256;
        std::vector<double> points, phase, sine, cosine;
        std::vector<double> features(padded * block), weighted(padded * block);
        for (std::size_t begin = 0; begin < kept.size(); begin += block)
          {
            const std::size_t m = std::min(kept.size() - begin, block);
            points.resize(m * d);
            for (std::size_t q = 0; q < m; ++q)
              for (unsigned int j = 0; j < d; ++j)
                points[q * d + j] = cloud.points[kept[begin + q] * d + j];
            std::fill(features.begin(), features.end(), 0.0); // zero padding
            std::fill(weighted.begin(), weighted.end(), 0.0);
            sine.resize(m);
            cosine.resize(m);
            for (unsigned int r = 0; r < R; ++r)
              {
                mmd.phases(points, r, phase);
                simd::sin_cos(phase.data(), sine.data(), cosine.data(), m);
                for (std::size_t q = 0; q < m; ++q)
                  {
                    const double w                = cloud.weights[kept[begin + q]] / total;
                    features[r * block + q]       = cosine[q];
                    features[(R + r) * block + q] = sine[q];
                    weighted[r * block + q]       = w * cosine[q];
                    weighted[(R + r) * block + q] = w * sine[q];
                  }
              }
            accumulate_gram(features.data(), weighted.data(), padded, block, which, rows.data());
          }
        std::vector<double> result;
        for (const unsigned int k : which)
          for (std::size_t i = 2 * k; i < 2 * k + 2; ++i)
            result.insert(result.end(),
                          rows.begin() + i * padded + (2 * k - 2 * k % 4),
                          rows.begin() + (i + 1) * padded);
        return result;
      }

      /// The eigenvalues lambda_j (computed from the parts on first use).
      std::vector<double> law_summary() const override
      {
        if (lambda.empty())
          {
            if (gram.empty())
              set_law(law_parts(all_law_parts()));
            lambda = eigenvalues();
          }
        return lambda;
      }

      void set_law_summary(const std::vector<double> &summary) const override
      {
        lambda = summary;
      }

      std::size_t law_summary_length() const override { return 2 * mmd.n_features(); }

      std::size_t law_part_length(const unsigned int k) const override
      {
        return 2 * (2 * static_cast<std::size_t>(n_law_parts()) - (2 * k - 2 * k % 4));
      }

      void set_law(const std::vector<double> &all_parts) const override
      {
        const std::size_t padded = 2 * static_cast<std::size_t>(n_law_parts());
        gram.assign(padded * padded, 0.0);
        std::size_t at = 0;
        for (std::size_t k = 0; k < n_law_parts(); ++k)
          for (std::size_t i = 2 * k; i < 2 * k + 2; ++i)
            for (std::size_t j = 2 * k - 2 * k % 4; j < padded; ++j)
              gram[i * padded + j] = all_parts.at(at++);
      }

    private:
      /// Draws of the limit law: see weighted_chi_squared_draws for the choice.
      static constexpr unsigned int draws = 100000;

      /// MMD^2 = (1/R) |mean of f(x_i) - E_ref f|^2 with f(x) = (cos omega_r . x,
      /// sin omega_r . x)_r, so N MMD^2 -> sum_j lambda_j chi^2_1 under H0 (central limit
      /// theorem) with lambda_j the eigenvalues of (1/R) Cov_ref(f). Cov_ref(f) = G - mu
      /// mu^T with G from set_law() (weights normalised to sum 1 as FourierMmd does,
      /// negative finite-element weights kept; negative eigenvalues they may cause are
      /// dropped), mu = (Re phi_ref, Im phi_ref).
      std::vector<double> eigenvalues() const
      {
        const unsigned int R = mmd.n_features(), n = 2 * R;
        const std::size_t  padded = 2 * static_cast<std::size_t>(n_law_parts());
        std::vector<double> mu(n);
        for (unsigned int r = 0; r < R; ++r)
          {
            mu[r]     = mmd.reference_real()[r];
            mu[R + r] = mmd.reference_imaginary()[r];
          }
        // The upper triangle, column-major for LAPACK (symmetric: row-major alike).
        dealii::LAPACKFullMatrix<double> covariance(n, n);
        std::vector<double>              a(static_cast<std::size_t>(n) * n);
        for (unsigned int i = 0; i < n; ++i)
          for (unsigned int j = i; j < n; ++j)
            a[static_cast<std::size_t>(j) * n + i] = a[static_cast<std::size_t>(i) * n + j] =
                (gram[i * padded + j] - mu[i] * mu[j]) / R;
        // Eigenvalues only (dsyev, jobz = N): LAPACKFullMatrix's symmetric solver
        // computes the eigenvectors too, which costs several times more.
        const dealii::types::blas_int size = n, lwork = 64 * n;
        dealii::types::blas_int       info = 0;
        std::vector<double>           lambda(n), work(lwork);
        dealii::syev("N", "U", &size, a.data(), &size, lambda.data(), work.data(), &lwork, &info);
        if (info != 0)
          throw InputError("The eigenvalues of the MMD^2 features' covariance did not converge "
                           "(LAPACK dsyev info " + std::to_string(info) + ").");
        return lambda;
      }

      const QuadratureCloud              &cloud;
      statistics::FourierMmd              mmd;
      std::size_t                         n_samples;
      std::uint64_t                       seed;
      mutable std::vector<double>         null_law; // sorted draws of the limit law
      mutable std::vector<double>         gram;     // sum_q w_q f f^T, upper triangle
      mutable std::vector<double>         lambda;   // its eigenvalues (or the cache's)
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
