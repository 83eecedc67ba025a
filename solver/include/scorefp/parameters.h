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

  /// Task = sample: one reverse-time sampler run (MATH.md sections 3-4).
  struct SamplerParameters
  {
    std::string        scheme         = "euler-maruyama";
    unsigned int       n_steps        = 100;
    std::string        time_grid      = "uniform"; // or "edm"
    double             rho            = 7.0;
    double             early_stopping = 1e-3;    // the samples represent p at this time
    std::string        start          = "prior"; // or "exact" (p_T)
    unsigned long long n_particles    = 10000;
    unsigned long long seed           = 1;
    std::string        score          = "exact"; // exact, perturbed, reference file
    std::string        reference_file;
    std::string        reference_score         = "finite-element"; // or "log-density gradient"
    unsigned int       corrector_steps         = 0;
    double             snr                     = 0.16;
    double             rk45_relative_tolerance = 1e-5;
    double             rk45_absolute_tolerance = 1e-7;
    std::string        samples_file            = "samples.npy";
    bool               write_csv               = false;
  };

  /// Task = scheme table: schemes x step counts x early stopping x start.
  struct SchemeTableParameters
  {
    std::vector<std::string>  schemes;
    std::vector<unsigned int> step_counts;
    std::vector<double>       early_stopping;
    std::vector<std::string>  starts;
    unsigned long long        n_particles       = 100000;
    unsigned int              sliced_directions = 64;
  };

  /// Task = check: samples against a reference law (MATH.md section 7).
  struct CheckerParameters
  {
    std::string        samples_file;
    double             time      = -1.0;          // < 0: the time recorded next to the samples
    std::string        reference = "closed form"; // or "file"
    std::string        reference_file;
    double             level             = 0.05;
    unsigned int       null_draws        = 99;
    unsigned long long seed              = 1;
    unsigned int       sliced_directions = 32;
    unsigned int       mmd_features      = 256;
    double             mmd_bandwidth     = 0.0; // 0: the reference's own scale
    unsigned int       cloud_points      = 0;   // Gauss points per cell direction, 0: degree + 2
  };

  /// Task = evaluate: a reference file's density and score at the user's points.
  struct EvaluationParameters
  {
    std::string         reference_file;
    std::string         points_file;
    std::vector<double> times;                                // empty: every snapshot
    std::string         score       = "log-density gradient"; // or "finite-element"
    std::string         output_file = "evaluation.csv";
  };

  struct Parameters
  {
    std::string              task      = "solve";   // solve, sample, check, scheme table
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
    SamplerParameters        sampler;
    SchemeTableParameters    scheme_table;
    CheckerParameters        checker;
    EvaluationParameters     evaluation;

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
