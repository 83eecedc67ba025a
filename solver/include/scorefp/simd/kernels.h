// Vectorised particle kernels: counter-based standard normals, Gaussian-mixture scores
// and the one-step scheme update for blocks of particles, and the sines, cosines and
// random-feature sums of the checker's MMD^2; explicit SIMD (xsimd) compiled for
// AVX-512 and AVX2 and chosen at run time, with the scalar code of random.h,
// GaussianMixture and libm as the reference path (InstructionSet::none).
//
// Why xsimd (Debian's libxsimd-dev, header-only): one kernel, written once over
// xsimd::batch<double, Arch>, compiles for every instruction set we dispatch to, and
// it brings the vectorised exp, log, sincos and sqrt (1-2 ulp) as well as the 64-bit
// integer multiplies the counter-based generator needs. SLEEF has the math functions
// only (the integer hashing and the loads would be raw intrinsics per instruction
// set); Highway's per-target compilation machinery is heavier than two translation
// units with their own -m flags.
//
// Every lane is one particle (or point) and lanes never mix: a particle's values do not
// depend on which block, rank or position it has, so samples stay bit-identical for any number
// of MPI ranks (on one instruction set). Against the scalar path they agree to
// round-off (the vector exp/log/sin/cos are not libm's).
//
// This header is light on purpose (no xsimd): the kernels live in
// solver/source/simd/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace scorefp
{
  namespace simd
  {
    enum class InstructionSet
    {
      none,   ///< the scalar reference code
      avx2,   ///< AVX2 with FMA, 4 doubles per register
      avx512, ///< AVX-512 F/CD/DQ/BW/VL, 8 doubles per register
    };

    /// "none", "avx2", "avx512".
    std::string name(const InstructionSet set);
    /// "auto|none|avx2|avx512": the pattern of a parameter entry that chooses one.
    std::string choices();
    /// The widest set this processor supports.
    InstructionSet best_available();
    /// The set the kernels use now (process-wide; best_available() until select()).
    InstructionSet active();
    /// True if `choice` (one of choices()) can run on this processor.
    bool available(const std::string &choice);
    /// Use `choice` ("auto" = best_available()); InputError naming `entry` if the
    /// processor does not support it.
    void select(const std::string &choice, const std::string &entry);

    /// z[i*d + j] = the j-th CounterRng(seed, first + i, substream).normal(), for
    /// i < n and j < d: the normals of random.h, in blocks of particles.
    void normals(const std::uint64_t seed,
                 const std::uint64_t first,
                 const std::size_t   n,
                 const std::uint64_t substream,
                 const unsigned int  d,
                 double             *z);

    /// A Gaussian mixture p(x) = sum_k exp(c_k - (x - mu_k)^T P_k (x - mu_k) / 2) as the
    /// kernels read it: c_k = log(w_k / sqrt((2 pi)^d det Sigma_k)), P_k = Sigma_k^{-1}.
    struct Mixture
    {
      unsigned int        dimension = 0;
      std::vector<double> means;          ///< K*d
      std::vector<double> precisions;     ///< K*d*d, row-major, symmetric
      std::vector<double> log_prefactors; ///< K
      /// Set by prepare(): every P_k is a multiple p_k I.
      bool isotropic = false;
      /// Set by prepare(): every P_k is the same p I. Then the term -p |x|^2 / 2 is common
      /// to all exponents and cancels in the responsibilities: e_k = b_k + p mu_k . x with
      /// b_k = c_k - p |mu_k|^2 / 2, and s = p (sum_k gamma_k mu_k - x).
      bool                shared_precision = false;
      std::vector<double> shared_offsets; ///< b_k

      std::size_t size() const { return log_prefactors.size(); }
      /// Fill the flags and offsets from dimension, means, precisions, log_prefactors.
      void prepare();
      /// The mixture of K equal components N(mu_k, variance I) (an empirical law):
      /// shared_precision set, precisions holding the one matrix (d*d values).
      static Mixture equal_weights(const unsigned int d, std::vector<double> means,
                                   const double variance);
    };

    /// The score s = grad log p at n points (point-major x and s, n*d values each):
    /// sum_k gamma_k (-P_k (x - mu_k)) with the responsibilities gamma_k by log-sum-exp,
    /// finite far in the tails. Needs active() != none.
    void mixture_score(const Mixture &mixture, const double *x, const std::size_t n, double *s);

    /// x <- alpha x + beta s + gamma z over n values: the update of the one-step
    /// stochastic schemes (Euler-Maruyama, DDPM, the exponential integrator, the
    /// Langevin corrector). Every value is computed by the same instructions wherever
    /// it sits in the array.
    void combine(const std::size_t n,
                 const double      alpha,
                 double           *x,
                 const double      beta,
                 const double     *s,
                 const double      gamma,
                 const double     *z);

    /// sine[i] = sin(phase[i]), cosine[i] = cos(phase[i]) for i < n (the random
    /// features of MMD^2): xsimd's sincos, within 1-2 ulp of libm, whose reduction
    /// holds for any finite phase; the reference path (none) is std::sin, std::cos.
    void sin_cos(const double *phase, double *sine, double *cosine, const std::size_t n);

    /// The random-feature sums of MMD^2 in one pass over the points: cos_sum[r] +=
    /// sum_i w_i cos(omega_r . x_i) and sin_sum[r] += sum_i w_i sin(omega_r . x_i) over n
    /// points x (point-major, d coordinates) and R frequencies omega (R*d,
    /// frequency-major); weights may be null (all 1). The reference path (none) sums
    /// point by point; the vector sets a register of points at a time, each frequency's
    /// sum in one fixed order (the same sums to round-off).
    void fourier_sums(const double      *omega,
                      const std::size_t  R,
                      const double      *x,
                      const double      *weights,
                      const std::size_t  n,
                      const unsigned int d,
                      double            *cos_sum,
                      double            *sin_sum);
  } // namespace simd
} // namespace scorefp
