// The defaults of ScoreModel: a field without derivatives or potential says so.
#include <scorefp/core/input_error.h>
#include <scorefp/score_source/score_source.h>

namespace scorefp
{
  void ScoreModel::evaluate_derivatives(const double,
                                        const double *,
                                        const std::size_t,
                                        double *,
                                        const ScoreDerivatives &) const
  {
    throw InputError("The score " + description() +
                     " has no derivatives; residuals and curl need a TorchScript model or a "
                     "grid score (tabulate other sources with Task = tabulate score).");
  }

  void ScoreModel::evaluate_potential(const double,
                                      const double *,
                                      const std::size_t,
                                      const PotentialValues &) const
  {
    throw InputError("The score " + description() +
                     " is not the gradient of a potential; the log-form residual needs a "
                     "potential model (Model parametrisation = potential).");
  }
} // namespace scorefp
