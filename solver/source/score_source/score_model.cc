// The defaults of ScoreModel: a field without derivatives or potential says so.
#include <scorefp/core/input_error.h>
#include <scorefp/score_source/score_source.h>

#include <vector>

namespace scorefp
{
  void ScoreModel::evaluate_derivatives(
      const double, const double *, const std::size_t, double *, const ScoreDerivatives &) const
  {
    throw InputError("The score " + description() +
                     " has no derivatives; residuals and curl need a TorchScript model or a "
                     "grid score (tabulate other sources with Task = tabulate score).");
  }

  void ScoreModel::evaluate_divergence(
      const double t, const double *x, const std::size_t n, double *s, double *divergence) const
  {
    if (!has_derivatives())
      throw InputError("The score " + description() +
                       " has no divergence; the PF-ODE likelihood needs the closed form, a "
                       "TorchScript model or a grid score (tabulate other sources with Task = "
                       "tabulate score).");
    const unsigned int  d = dimension();
    std::vector<double> jacobian(n * d * d), values(s ? 0 : n * d);
    ScoreDerivatives    derivatives;
    derivatives.jacobian = jacobian.data();
    evaluate_derivatives(t, x, n, s ? s : values.data(), derivatives);
    for (std::size_t i = 0; i < n; ++i)
      {
        double trace = 0.0;
        for (unsigned int j = 0; j < d; ++j)
          trace += jacobian[(i * d + j) * d + j];
        divergence[i] = trace;
      }
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
