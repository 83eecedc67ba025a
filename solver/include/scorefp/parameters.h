// Every parameter scorefp reads: declared once with its default, its pattern and a
// documentation string (the manual, printed by --print-parameters), then parsed into
// plain structs that the rest of the code uses.
#pragma once

#include <scorefp/initial_data.h>
#include <scorefp/processes.h>
#include <scorefp/time_stepping.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace dealii
{
  class ParameterHandler;
}

namespace scorefp
{
  struct MeshParameters
  {
    std::string               geometry = "box"; // box, ball, gmsh
    std::vector<double>       lower_corner{-5.0};
    std::vector<double>       upper_corner{5.0};
    double                    ball_radius = 6.0;
    std::string               gmsh_file;
    unsigned int              coarse_subdivisions = 1;
    std::vector<unsigned int> refinement_levels{4};
    double                    minimum_mass = 0.9999;
  };

  struct DiscretizationParameters
  {
    unsigned int degree             = 2;
    std::string  boundary_condition = "zero flux"; // or "dirichlet"
    std::string  scaled_coordinates = "auto";      // auto, true, false
  };

  struct LinearSolverParameters
  {
    std::string  backend                 = "Trilinos"; // or "PETSc"
    double       relative_tolerance      = 1e-12;
    unsigned int maximum_iterations      = 1000;
    double       preconditioner_rebuild  = 0.5;
    double       jacobi_diffusion_number = 2.0;
  };

  struct OutputParameters
  {
    std::string         directory          = "output";
    unsigned int        n_output_intervals = 10;
    std::vector<double> output_times;
    bool                write_vtu = true;
    std::string         points_file;
    double              progress_interval = 1.0;   // seconds of wall time between lines
    bool                quiet             = false; // no progress lines, no timer table
    /// HDF5 reference file (postprocess/REFERENCE_FORMAT.md); empty = none. Relative
    /// paths are taken relative to `directory`.
    std::string               reference_file;
    std::vector<unsigned int> reference_grid_points{65}; // one per dimension after parsing
    std::vector<double>       reference_grid_lower, reference_grid_upper; // empty = bounding box
    /// The parameters as run (ParameterHandler ShortPRM text), recorded in reference files.
    std::string parameter_text;
  };

  /// The score Fokker-Planck equation and the log-density equation (MATH.md section 2).
  struct ScoreParameters
  {
    std::string  boundary_condition        = "exact"; // or "gaussian" (moment-matched far field)
    double       newton_tolerance          = 1e-6;
    unsigned int maximum_newton_iterations = 10;
    bool         companion_density         = false;
    double       bulk_mass                 = 0.99;
    double       tail_threshold            = 1e-6;
    double       perturbation_amplitude    = 0.1;
    double       perturbation_width        = 1.0;
    unsigned int n_tail_shells             = 20;
  };

  struct Parameters
  {
    std::string              equation  = "density"; // density, score, log-density
    unsigned int             dimension = 2;
    ProcessParameters        process;
    DataParameters           data;
    MeshParameters           mesh;
    DiscretizationParameters discretization;
    TimeSteppingParameters   time_stepping;
    LinearSolverParameters   linear_solver;
    OutputParameters         output;
    ScoreParameters          score;

    /// Scaled coordinates in effect: "auto" means on for VE and EDM.
    bool use_scaled_coordinates() const;
  };

  void declare_parameters(dealii::ParameterHandler &prm);

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
