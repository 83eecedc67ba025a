// The whole case a parameter file describes: one struct per section, each owned,
// declared and parsed by its module (see core/parameter_binder.h), gathered here.
// --print-parameters prints what Parameters::bind declares, either for every task or
// for the sections one task reads.
#pragma once

#include <scorefp/checker/checker_parameters.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/fe/fe_parameters.h>
#include <scorefp/io/output_parameters.h>
#include <scorefp/likelihood/likelihood.h>
#include <scorefp/mesh/mesh_parameters.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/reference/evaluation_parameters.h>
#include <scorefp/reverse/reverse_law.h>
#include <scorefp/sampling/sampler_parameters.h>
#include <scorefp/score/score_parameters.h>
#include <scorefp/score_check/score_check_parameters.h>
#include <scorefp/score_source/grid_score.h>
#include <scorefp/time_integration/time_stepping.h>

#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace dealii
{
  class ParameterHandler;
}

namespace scorefp
{
  class ParameterBinder;

  struct Parameters
  {
    std::string              task      = "solve"; // a member of TaskRegistry
    Equation                 equation  = Equation::density;
    unsigned int             dimension = 2;
    ProcessParameters        process;
    DataParameters           data;
    MeshParameters           mesh;
    DiscretizationParameters discretization;
    TimeSteppingParameters   time_stepping;
    LinearSolverParameters   linear_solver;
    OutputParameters         output;
    ScoreParameters          score;
    SamplerParameters        sampler;
    SchemeTableParameters    scheme_table;
    CheckerParameters        checker;
    EvaluationParameters     evaluation;
    TabulationParameters     tabulation;
    ScoreCheckParameters     score_check;
    LikelihoodParameters     likelihood;
    ReverseLawParameters     reverse_law;

    /// Scaled coordinates in effect: "auto" means on for VE and EDM.
    bool use_scaled_coordinates() const;

    /// Declare or parse every section. A parsing binder also resolves the entries
    /// that depend on others (corners to the dimension, mixtures) and runs the checks
    /// that involve several sections.
    void bind(ParameterBinder &binder);
  };

  /// Declare every entry (sections: only those, plus the top-level entries).
  void declare_parameters(dealii::ParameterHandler &prm, const std::set<std::string> &sections = {});

  /// The manual: every entry in parameter-file syntax, each preceded by its
  /// documentation and allowed values, and set to its default (--print-parameters).
  void print_parameter_manual(const dealii::ParameterHandler &prm, std::ostream &out);

  /// Read FILE (.prm, .json or .xml, as deal.II's ParameterHandler reads them), apply
  /// the "Section/Key=value" overrides, and check every value. Throws InputError
  /// with one sentence naming the culprit.
  Parameters read_parameters(dealii::ParameterHandler       &prm,
                             const std::string              &file,
                             const std::vector<std::string> &overrides);

  /// Parse the values currently held by prm into Parameters (and check them).
  Parameters parse_parameters(dealii::ParameterHandler &prm);
} // namespace scorefp
