// Explicit instantiation of the score solver for the TrilinosBackend.
#include "score/score_solver.templates.h"

#define SCOREFP_INSTANTIATE(dim)                                          \
  template ScoreRunResult solve_score<dim, TrilinosBackend>(                \
      const FiniteElementCase &,                                          \
      const ScoreParameters &,                                            \
      const unsigned int,                                                 \
      const std::string &,                                                \
      const bool,                                                         \
      const MPI_Comm,                                                     \
      const SolutionWriterFactory<dim, typename TrilinosBackend::Vector> &);

namespace scorefp
{
  SCOREFP_INSTANTIATE(1)
  SCOREFP_INSTANTIATE(2)
  SCOREFP_INSTANTIATE(3)
} // namespace scorefp
