// The kernels for AVX2 with FMA. Compiled with those -m flags only here
// (CMakeLists.txt); called only where the processor has them (kernels.cc).
#include "simd/kernels.templates.h"

namespace scorefp
{
  namespace simd
  {
    const KernelTable &avx2_kernels()
    {
      static const KernelTable table = Kernels<xsimd::fma3<xsimd::avx2>>::table();
      return table;
    }
  } // namespace simd
} // namespace scorefp
