// The kernels for AVX-512 (F, CD, DQ, BW, VL: 64-bit integer multiplies and int64 to
// double conversions in one instruction). Compiled with those -m flags only here
// (CMakeLists.txt); called only where the processor has them (kernels.cc).
#include "simd/kernels.templates.h"

namespace scorefp
{
  namespace simd
  {
    const KernelTable &avx512_kernels()
    {
      static const KernelTable table = Kernels<xsimd::avx512bw>::table();
      return table;
    }
  } // namespace simd
} // namespace scorefp
