// Task = evaluate: a reference file's density and score at the user's points
// (section Evaluation).
#pragma once

#include <string>
#include <vector>

namespace scorefp
{
  class ParameterBinder;

  struct EvaluationParameters
  {
    enum class Score
    {
      finite_element,
      log_density_gradient
    };
    std::string         reference_file;
    std::string         points_file;
    std::vector<double> times; // empty: every snapshot
    Score               score       = Score::log_density_gradient;
    std::string         output_file = "evaluation.csv";

    void bind(ParameterBinder &binder);
  };
} // namespace scorefp
