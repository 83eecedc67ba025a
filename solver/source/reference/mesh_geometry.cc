// Explicit instantiations of the reference meshes' point location.
#include "reference/mesh_geometry.h"

namespace scorefp
{
  namespace reference_detail
  {
    template class MeshGeometry<1>;
    template class MeshGeometry<2>;
    template class MeshGeometry<3>;
  } // namespace reference_detail
} // namespace scorefp
