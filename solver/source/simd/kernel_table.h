// The kernels of one instruction set, each compiled in its own translation unit with
// that set's -m flags (kernels_avx2.cc, kernels_avx512.cc) and chosen at run time by
// kernels.cc.
#pragma once

#include <scorefp/simd/kernels.h>

namespace scorefp
{
  namespace simd
  {
    struct KernelTable
    {
      void (*normals)(std::uint64_t, std::uint64_t, std::size_t, std::uint64_t, unsigned int,
                      double *);
      void (*mixture_score)(const Mixture &, const double *, std::size_t, double *);
      void (*sin_cos)(const double *, double *, double *, std::size_t);
      void (*fourier_sums)(const double *, std::size_t, const double *, const double *,
                           std::size_t, unsigned int, double *, double *);
      void (*combine)(std::size_t, double, double *, double, const double *, double,
                      const double *);
    };
    const KernelTable &avx2_kernels();
    const KernelTable &avx512_kernels();
  } // namespace simd
} // namespace scorefp
