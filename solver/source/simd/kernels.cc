// The choice of instruction set for the particle kernels, and the scalar reference
// path (the code of random.h and of GaussianMixture, point by point).
#include <scorefp/core/input_error.h>
#include <scorefp/core/random.h>
#include <scorefp/simd/kernels.h>

#include "simd/kernel_table.h"

#include <atomic>
#include <cmath>
#include <stdexcept>

namespace scorefp
{
  namespace simd
  {
    namespace
    {
      bool supported(const InstructionSet set)
      {
        switch (set)
          {
          case InstructionSet::none:
            return true;
          case InstructionSet::avx2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
          case InstructionSet::avx512:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
          }
        return false;
      }

      std::atomic<InstructionSet> &current()
      {
        static std::atomic<InstructionSet> set{best_available()};
        return set;
      }

      const KernelTable &table()
      {
        switch (current().load())
          {
          case InstructionSet::avx512:
            return avx512_kernels();
          case InstructionSet::avx2:
            return avx2_kernels();
          case InstructionSet::none:
            break;
          }
        throw std::logic_error("simd: the vector kernels were called with InstructionSet::none.");
      }
    } // namespace

    std::string name(const InstructionSet set)
    {
      switch (set)
        {
        case InstructionSet::none:
          return "none";
        case InstructionSet::avx2:
          return "avx2";
        case InstructionSet::avx512:
          return "avx512";
        }
      return "none";
    }

    std::string choices() { return "auto|none|avx2|avx512"; }

    InstructionSet best_available()
    {
      for (const InstructionSet set : {InstructionSet::avx512, InstructionSet::avx2})
        if (supported(set))
          return set;
      return InstructionSet::none;
    }

    InstructionSet active() { return current().load(); }

    namespace
    {
      /// The set named `choice` ("auto": the best available); false if none is.
      bool parse(const std::string &choice, InstructionSet &set)
      {
        if (choice == "auto")
          {
            set = best_available();
            return true;
          }
        for (const InstructionSet candidate :
             {InstructionSet::none, InstructionSet::avx2, InstructionSet::avx512})
          if (choice == name(candidate))
            {
              set = candidate;
              return true;
            }
        return false;
      }
    } // namespace

    bool available(const std::string &choice)
    {
      InstructionSet set;
      return parse(choice, set) && supported(set);
    }

    void select(const std::string &choice, const std::string &entry)
    {
      InstructionSet set;
      if (!parse(choice, set))
        throw InputError(entry + " = '" + choice + "' is not an instruction set; expected one of " +
                         choices() + ".");
      if (!supported(set))
        throw InputError(entry + " = " + choice +
                         ", but this processor does not support it; expected auto or one of the "
                         "sets it has (best: " +
                         name(best_available()) + ").");
      current() = set;
    }

    void normals(const std::uint64_t seed,
                 const std::uint64_t first,
                 const std::size_t   n,
                 const std::uint64_t substream,
                 const unsigned int  d,
                 double             *z)
    {
      if (active() != InstructionSet::none)
        return table().normals(seed, first, n, substream, d, z);
      for (std::size_t i = 0; i < n; ++i)
        {
          CounterRng rng(seed, first + i, substream);
          for (unsigned int j = 0; j < d; ++j)
            z[i * d + j] = rng.normal();
        }
    }

    void mixture_score(const Mixture &mixture, const double *x, const std::size_t n, double *s)
    {
      table().mixture_score(mixture, x, n, s);
    }
  } // namespace simd
} // namespace scorefp

namespace scorefp
{
  namespace simd
  {
    void combine(const std::size_t n,
                 const double      alpha,
                 double           *x,
                 const double      beta,
                 const double     *s,
                 const double      gamma,
                 const double     *z)
    {
      if (active() != InstructionSet::none)
        return table().combine(n, alpha, x, beta, s, gamma, z);
      for (std::size_t i = 0; i < n; ++i)
        x[i] = alpha * x[i] + beta * s[i] + gamma * z[i];
    }

    void Mixture::prepare()
    {
      const unsigned int d = dimension;
      const std::size_t  K = size();
      isotropic            = true;
      for (std::size_t k = 0; k < K; ++k)
        for (unsigned int i = 0; i < d; ++i)
          for (unsigned int j = 0; j < d; ++j)
            isotropic = isotropic && precisions[(k * d + i) * d + j] ==
                                         (i == j ? precisions[k * d * d] : 0.0);
      shared_precision = isotropic;
      for (std::size_t k = 0; k < K; ++k)
        shared_precision = shared_precision && precisions[k * d * d] == precisions[0];
      shared_offsets.assign(K, 0.0);
      if (shared_precision)
        for (std::size_t k = 0; k < K; ++k)
          {
            double mu2 = 0.0;
            for (unsigned int j = 0; j < d; ++j)
              mu2 += means[k * d + j] * means[k * d + j];
            shared_offsets[k] = log_prefactors[k] - 0.5 * precisions[0] * mu2;
          }
    }

    Mixture Mixture::equal_weights(const unsigned int  d,
                                   std::vector<double> means,
                                   const double        variance)
    {
      Mixture m;
      m.dimension = d;
      m.means     = std::move(means);
      const std::size_t K = d > 0 ? m.means.size() / d : 0;
      m.precisions.assign(d * d, 0.0);
      for (unsigned int j = 0; j < d; ++j)
        m.precisions[j * d + j] = 1.0 / variance;
      const double c = -std::log(double(K)) - 0.5 * d * std::log(2.0 * M_PI * variance);
      m.log_prefactors.assign(K, c);
      m.isotropic        = true;
      m.shared_precision = true;
      m.shared_offsets.resize(K);
      for (std::size_t k = 0; k < K; ++k)
        {
          double mu2 = 0.0;
          for (unsigned int j = 0; j < d; ++j)
            mu2 += m.means[k * d + j] * m.means[k * d + j];
          m.shared_offsets[k] = c - 0.5 * mu2 / variance;
        }
      return m;
    }

    void fourier_sums(const double      *omega,
                      const std::size_t  R,
                      const double      *x,
                      const double      *weights,
                      const std::size_t  n,
                      const unsigned int d,
                      double            *cos_sum,
                      double            *sin_sum)
    {
      if (active() != InstructionSet::none)
        return table().fourier_sums(omega, R, x, weights, n, d, cos_sum, sin_sum);
      for (std::size_t i = 0; i < n; ++i)
        {
          const double w = weights ? weights[i] : 1.0;
          for (std::size_t r = 0; r < R; ++r)
            {
              double phase = 0.0;
              for (unsigned int j = 0; j < d; ++j)
                phase += omega[r * d + j] * x[i * d + j];
              cos_sum[r] += w * std::cos(phase);
              sin_sum[r] += w * std::sin(phase);
            }
        }
    }

    void sin_cos(const double *phase, double *sine, double *cosine, const std::size_t n)
    {
      if (active() != InstructionSet::none)
        return table().sin_cos(phase, sine, cosine, n);
      for (std::size_t i = 0; i < n; ++i)
        {
          sine[i]   = std::sin(phase[i]);
          cosine[i] = std::cos(phase[i]);
        }
    }
  } // namespace simd
} // namespace scorefp
