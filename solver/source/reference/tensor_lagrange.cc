// Explicit instantiations of the tensor-product Lagrange shape functions.
#include "reference/tensor_lagrange.h"

namespace scorefp
{
  namespace reference_detail
  {
    template class TensorLagrange<1>;
    template class TensorLagrange<2>;
    template class TensorLagrange<3>;
  } // namespace reference_detail
} // namespace scorefp
