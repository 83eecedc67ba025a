// The vectorised particle kernels (simd/kernels.h) against the scalar reference code:
// normals equal CounterRng's to round-off and do not depend on the block a particle is
// in; mixture scores equal GaussianMixture::score to round-off, far in the tails too;
// samplers give the same particles on every instruction set to round-off and
// bit-identical ones for any split of the particles.
#include <scorefp/core/input_error.h>
#include <scorefp/core/random.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/sampling/sampling.h>
#include <scorefp/score_source/score_source.h>
#include <scorefp/simd/kernels.h>

#include "data/empirical_law.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace scorefp;

namespace
{
  /// The vector sets this processor has (none is the reference).
  std::vector<std::string> vector_sets()
  {
    std::vector<std::string> sets;
    for (const std::string set : {"avx2", "avx512"})
      if (simd::available(set))
        sets.push_back(set);
    return sets;
  }

  /// Restores the process-wide choice at the end of a test.
  struct Selection
  {
    explicit Selection(const std::string &set) { simd::select(set, "test"); }
    ~Selection() { simd::select("auto", "test"); }
  };

  std::vector<double> normals(const std::string  &set,
                              const std::uint64_t first,
                              const std::size_t   n,
                              const unsigned int  d)
  {
    Selection           use(set);
    std::vector<double> z(n * d);
    simd::normals(42, first, n, 17, d, z.data());
    return z;
  }
} // namespace

TEST(SimdKernels, ThisMachineHasAVectorSet)
{
  // The performance figures of the README assume one; a processor without AVX2 runs
  // the reference code (correct, slower).
  EXPECT_FALSE(vector_sets().empty()) << "best: " << simd::name(simd::best_available());
}

TEST(SimdKernels, NormalsEqualTheScalarGeneratorToRoundOff)
{
  for (const std::string &set : vector_sets())
    for (const unsigned int d : {1U, 2U, 3U, 7U})
      {
        // 1001 particles: a tail shorter than a register on every set.
        const std::vector<double> reference = normals("none", 5, 1001, d);
        const std::vector<double> vector    = normals(set, 5, 1001, d);
        double                    largest   = 0.0;
        for (std::size_t i = 0; i < reference.size(); ++i)
          largest = std::max(largest, std::abs(vector[i] - reference[i]));
        EXPECT_LT(largest, 1e-13) << set << ", d = " << d;
        // And the scalar path is CounterRng itself.
        CounterRng rng(42, 5 + 1000, 17);
        for (unsigned int j = 0; j < d; ++j)
          EXPECT_EQ(reference[1000 * d + j], rng.normal());
      }
}

TEST(SimdKernels, NormalsDoNotDependOnTheBlock)
{
  for (const std::string &set : vector_sets())
    {
      const std::vector<double> all  = normals(set, 0, 100, 3);
      const std::vector<double> tail = normals(set, 37, 63, 3);
      EXPECT_TRUE(std::equal(tail.begin(), tail.end(), all.begin() + 37 * 3)) << set;
    }
}

TEST(SimdKernels, MixtureScoresEqualTheScalarOnesToRoundOff)
{
  // The blob (isotropic), a full-covariance mixture in 3D, one in 1D, and one in 5D
  // (the kernel's general path), each at points near the modes and far in the tails.
  std::vector<std::unique_ptr<GaussianMixture>> mixtures;
  DataParameters                                blob;
  auto data = create_data(blob, 2);
  mixtures.push_back(std::make_unique<GaussianMixture>(
      *dynamic_cast<const GaussianMixture *>(data->transported(0.8, 0.3).get())));
  mixtures.push_back(std::make_unique<GaussianMixture>(
      3,
      std::vector<double>{0.2, 0.5, 0.3},
      std::vector<double>{0, 0, 0, 1, -1, 2, -2, 0.5, 0},
      std::vector<double>{1.0, 0.3, 0.1, 0.3, 0.8, -0.2, 0.1, -0.2, 0.5,
                          0.2, 0.0, 0.0, 0.0, 0.3, 0.05, 0.0, 0.05, 0.4,
                          2.0, 0.5, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0, 0.01}));
  mixtures.push_back(std::make_unique<GaussianMixture>(
      1, std::vector<double>{1, 3}, std::vector<double>{-1, 2}, std::vector<double>{0.01, 0.5}));
  std::vector<double> covariances;
  for (unsigned int k = 0; k < 4; ++k)
    for (unsigned int i = 0; i < 5; ++i)
      for (unsigned int j = 0; j < 5; ++j)
        covariances.push_back(i == j ? 0.5 + 0.1 * k + 0.05 * i : 0.02);
  std::vector<double> means(20);
  for (unsigned int i = 0; i < 20; ++i)
    means[i] = std::sin(1.7 * i);
  mixtures.push_back(
      std::make_unique<GaussianMixture>(5, std::vector<double>{1, 2, 3, 4}, means, covariances));

  for (const auto &mixture : mixtures)
    {
      const unsigned int  d = mixture->dimension();
      const std::size_t   n = 203;
      std::vector<double> x(n * d);
      CounterRng          rng(3, d);
      for (std::size_t i = 0; i < n; ++i)
        for (unsigned int j = 0; j < d; ++j)
          // Most points near the modes, every tenth at |x| ~ 30-60.
          x[i * d + j] = (i % 10 == 9 ? 30.0 : 1.5) * rng.normal();
      std::vector<double> reference(n * d), vector(n * d);
      for (std::size_t i = 0; i < n; ++i)
        mixture->score(&x[i * d], &reference[i * d]);
      for (const std::string &set : vector_sets())
        {
          Selection use(set);
          mixture->score_batch(x.data(), n, d, vector.data());
          for (std::size_t i = 0; i < n * d; ++i)
            {
              ASSERT_TRUE(std::isfinite(vector[i])) << set << ", d = " << d << ", i = " << i;
              EXPECT_NEAR(vector[i], reference[i], 1e-12 * (1.0 + std::abs(reference[i])))
                  << set << ", d = " << d << ", i = " << i;
            }
        }
    }
}

// The empirical law (1/N) sum_i N(m y_i, v I): points whose truncation ball holds every
// y_i go through the kernel's shared-precision path (N components, more than it keeps),
// the others through the k-d tree; both agree with the scalar score.
TEST(SimdKernels, EmpiricalScoresEqualTheScalarOnesToRoundOff)
{
  std::vector<double> y(2 * 300);
  CounterRng          rng(11, 2);
  for (double &yi : y)
    yi = rng.normal();
  const auto points = std::make_shared<const EmpiricalPoints>(2, y);
  for (const double v : {1e-3, 0.05, 0.5, 2.0})
    {
      const EmpiricalMixture mixture(points, 0.9, v);
      const std::size_t      n = 301;
      std::vector<double>    x(2 * n), reference(2 * n), vector(2 * n);
      for (double &xi : x)
        xi = (rng.uniform() < 0.1 ? 20.0 : 1.5) * rng.normal();
      for (std::size_t i = 0; i < n; ++i)
        mixture.score(&x[2 * i], &reference[2 * i]);
      for (const std::string &set : vector_sets())
        {
          Selection use(set);
          mixture.score_batch(x.data(), n, 2, vector.data());
          for (std::size_t i = 0; i < 2 * n; ++i)
            EXPECT_NEAR(vector[i], reference[i], 1e-10 * (1.0 + std::abs(reference[i])))
                << set << ", v = " << v << ", i = " << i;
        }
    }
}

TEST(SimdKernels, FourierSumsEqualTheScalarOnesToRoundOff)
{
  const unsigned int  d = 3;
  const std::size_t   n = 1001, R = 37;
  std::vector<double> omega(R * d), x(n * d), weights(n);
  CounterRng          rng(9, 1);
  for (double &o : omega)
    o = 2.0 * rng.normal();
  for (double &xi : x)
    xi = rng.normal();
  for (double &w : weights)
    w = rng.uniform() - 0.2; // negative weights occur in quadrature clouds
  for (const bool weighted : {false, true})
    {
      std::vector<double> cos_reference(R, 0.0), sin_reference(R, 0.0);
      {
        Selection use("none");
        simd::fourier_sums(omega.data(), R, x.data(), weighted ? weights.data() : nullptr, n, d,
                           cos_reference.data(), sin_reference.data());
      }
      for (const std::string &set : vector_sets())
        {
          Selection           use(set);
          std::vector<double> c(R, 1.0), s(R, -1.0); // the kernel adds to what is there
          simd::fourier_sums(omega.data(), R, x.data(), weighted ? weights.data() : nullptr, n,
                             d, c.data(), s.data());
          for (std::size_t r = 0; r < R; ++r)
            {
              EXPECT_NEAR(c[r] - 1.0, cos_reference[r], 1e-11) << set << ", r = " << r;
              EXPECT_NEAR(s[r] + 1.0, sin_reference[r], 1e-11) << set << ", r = " << r;
            }
        }
    }
}

TEST(SimdKernels, SinesAndCosinesEqualLibmToRoundOff)
{
  // Phases of MMD^2's features (|omega . x| up to tens), and far beyond.
  std::vector<double> phase;
  CounterRng          rng(5, 5);
  for (const double scale : {1.0, 30.0, 1e4, 1e8})
    for (unsigned int i = 0; i < 1001; ++i)
      phase.push_back(scale * rng.normal());
  phase.push_back(0.0);
  const std::size_t n = phase.size();
  for (const std::string &set : vector_sets())
    {
      Selection           use(set);
      std::vector<double> sine(n), cosine(n);
      simd::sin_cos(phase.data(), sine.data(), cosine.data(), n);
      for (std::size_t i = 0; i < n; ++i)
        {
          EXPECT_NEAR(sine[i], std::sin(phase[i]), 4e-16) << set << ", phase " << phase[i];
          EXPECT_NEAR(cosine[i], std::cos(phase[i]), 4e-16) << set << ", phase " << phase[i];
        }
    }
}

// A sampler over several blocks gives bit-identical particles for any split, and the
// same particles as the scalar reference path to round-off.
TEST(SimdKernels, SamplersAgreeAcrossSplitsAndInstructionSets)
{
  ProcessParameters pp;
  pp.type                = "VP";
  const auto process     = create_process(pp);
  const auto data        = create_data(DataParameters{}, 2); // the blob
  const auto score       = exact_score(*process, *data);
  const std::size_t    n = 3 * particle_block_size(2) + 123;
  const std::size_t    split = particle_block_size(2) + 1000;
  for (const std::string scheme : {"euler-maruyama", "dpm-solver++(2m)", "predictor-corrector"})
    {
      SamplerSettings set = settings_for_scheme(scheme);
      set.times           = make_time_grid(*process, 50, TimeGrid::uniform, 7.0, 1e-3);
      std::vector<double> reference;
      {
        Selection use("none");
        run_particles(*process, *data, *score, set, 0, n, reference);
      }
      for (const std::string &s : vector_sets())
        {
          Selection           use(s);
          std::vector<double> all, first, second;
          run_particles(*process, *data, *score, set, 0, n, all);
          run_particles(*process, *data, *score, set, 0, split, first);
          run_particles(*process, *data, *score, set, split, n - split, second);
          first.insert(first.end(), second.begin(), second.end());
          EXPECT_EQ(all, first) << scheme << ", " << s;
          double largest = 0.0;
          for (std::size_t i = 0; i < all.size(); ++i)
            largest = std::max(largest, std::abs(all[i] - reference[i]));
          EXPECT_LT(largest, 1e-9) << scheme << ", " << s;
        }
    }
}

TEST(SimdKernels, AnUnknownOrUnsupportedSetIsASentence)
{
  try
    {
      simd::select("avx1024", "Sampler/Vector instructions");
      FAIL() << "no InputError";
    }
  catch (const InputError &e)
    {
      EXPECT_NE(std::string(e.what()).find("Sampler/Vector instructions = 'avx1024'"),
                std::string::npos)
          << e.what();
    }
  EXPECT_TRUE(simd::available("none"));
  EXPECT_TRUE(simd::available("auto"));
  EXPECT_FALSE(simd::available("avx1024"));
}
