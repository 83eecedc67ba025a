// solve_reverse_laws() for the Trilinos backend, dim = 1, 2, 3.
#include <scorefp/fe/linear_algebra.h>

#include "reverse/reverse_law_solver.templates.h"

namespace scorefp
{
#define SCOREFP_INSTANTIATE(dim)                                                      \
  template std::vector<ReverseLawRunResult> solve_reverse_laws<dim, TrilinosBackend>( \
      const FiniteElementCase &,                                                      \
      const ReverseLawInputs &,                                                       \
      const unsigned int,                                                             \
      const std::string &,                                                            \
      const bool,                                                                     \
      const MPI_Comm);
  SCOREFP_INSTANTIATE(1)
  SCOREFP_INSTANTIATE(2)
  SCOREFP_INSTANTIATE(3)
#undef SCOREFP_INSTANTIATE
} // namespace scorefp
