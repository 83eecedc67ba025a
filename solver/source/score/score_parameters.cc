#include <scorefp/core/parameter_binder.h>
#include <scorefp/score/score_parameters.h>

#include <deal.II/base/patterns.h>

namespace scorefp
{
  namespace Patterns = dealii::Patterns;

  std::string boundary_data_name(const ScoreParameters::BoundaryData data)
  {
    return data == ScoreParameters::BoundaryData::gaussian ? "gaussian" : "exact";
  }

  void ScoreParameters::bind(ParameterBinder &b)
  {
    b.add_selection("Boundary condition",
                    boundary_condition,
                    {{"exact", BoundaryData::exact}, {"gaussian", BoundaryData::gaussian}},
                    "Dirichlet data of the score and log-density equations: 'exact' takes the "
                    "closed-form law of the data at each stage time; 'gaussian' takes the law of "
                    "the Gaussian with the data's mean and covariance (exact for Gaussian data, "
                    "and for any data once the noise variance v(t) dominates the data "
                    "covariance).");
    b.add("Newton tolerance",
          newton_tolerance,
          "Newton's method stops when the update is below this size relative to the stage "
          "solution (l2 norms), and with adaptive steps also below 1% of Time "
          "stepping/Tolerance.",
          Patterns::Double(0));
    b.add("Maximum Newton iterations",
          maximum_newton_iterations,
          "More iterations than this fail the step: with adaptive steps it is retried with a "
          "quarter of the step.",
          Patterns::Integer(1));
    b.add("Companion density",
          companion_density,
          "Also solve the density FPE on the same mesh (its output goes to the subdirectory "
          "density/) and compare grad p_h / p_h with the score: errors, residuals and "
          "tail_shells.csv.");
    b.add("Bulk mass",
          bulk_mass,
          "The bulk region is the highest-density region holding this much of the "
          "probability; score errors are reported there separately.",
          Patterns::Double(0, 1));
    b.add("Tail threshold",
          tail_threshold,
          "The tail region is where p < threshold * max p.",
          Patterns::Double(0, 1));
    b.add("Perturbation amplitude",
          perturbation_amplitude,
          "The residuals are also reported for the exact score plus grad phi, phi = A "
          "exp(-|x|^2 / (2 w^2)) (a score that is not a solution); A is this amplitude, 0 "
          "switches it off.",
          Patterns::Double(0));
    b.add("Perturbation width", perturbation_width, "The width w of that bump.", Patterns::Double(0));
    b.add("Number of tail shells",
          n_tail_shells,
          "Companion runs: shells of |x| in which tail_shells.csv compares the two scores.",
          Patterns::Integer(1));
    b.require(bulk_mass > 0 && bulk_mass < 1, "Score/Bulk mass must lie strictly between 0 and 1.");
    b.require(perturbation_width > 0, "Score/Perturbation width must be positive.");
  }
} // namespace scorefp
