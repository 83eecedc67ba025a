#include <scorefp/core/parameter_binder.h>
#include <scorefp/reference/evaluation_parameters.h>

namespace scorefp
{
  void EvaluationParameters::bind(ParameterBinder &b)
  {
    b.add("Reference file", reference_file, "The HDF5 reference file.");
    b.add("Points file",
          points_file,
          "N x d points in physical coordinates: .npy, or text (.csv, .txt) with d numbers per "
          "line.");
    b.add("Times",
          times,
          "Times to evaluate at (between the first and the last snapshot, interpolated "
          "linearly in between); empty: every snapshot.");
    b.add_selection("Score",
                    score,
                    {{"finite-element", Score::finite_element},
                     {"log-density gradient", Score::log_density_gradient}},
                    "The finite-element score (score runs) or grad p_h / p_h.");
    b.add("Output file",
          output_file,
          "CSV in the output directory: time, point, x0.., density, s0.., inside (0 outside "
          "the mesh: density 0, score of the moment-matched Gaussian).");
  }
} // namespace scorefp
