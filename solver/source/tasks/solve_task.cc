// Task = solve: the Fokker-Planck equation named by Equation, at every refinement level
// of section Mesh (a convergence study when there are several), with summary.json.
#include <scorefp/core/input_error.h>
#include <scorefp/io/io.h>
#include <scorefp/io/json.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/tasks/run.h>
#include <scorefp/tasks/task.h>

#include <deal.II/base/convergence_table.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/parameter_handler.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "tasks/task_output.h"

namespace scorefp
{
  namespace
  {
    Json errors_json(const ScoreErrors &e)
    {
      Json json;
      json["relative_L2"]       = e.l2;
      json["relative_L2_bulk"]  = e.l2_bulk;
      json["relative_L2_tail"]  = e.l2_tail;
      json["fisher_divergence"] = e.fisher;
      return json;
    }

    Json moments_json(const MomentErrors &e)
    {
      return {{"mean", e.mean}, {"covariance", e.covariance}};
    }

    Json residuals_json(const ResidualNorms &r)
    {
      Json json;
      json["score_form"] = r.score_form;
      json["log_form"]   = r.log_form;
      return json;
    }

    void write_record_json(Json &json, const RunRecord &r)
    {
      json["dimension"] = r.dimension;
      json["n_ranks"] = r.n_ranks;
      json["backend"] = r.backend;
      json["process"] = r.process;
      json["data"] = r.data;
      json["scaled_coordinates"] = r.scaled_coordinates;
      json["polynomial_degree"] = r.degree;
      json["refinement_level"] = r.refinement_level;
      json["n_cells"] = r.n_cells;
      json["n_dofs"] = r.n_dofs;
      json["time_method"] = r.time_method;
      json["start_time"] = r.start_time;
      json["final_time"] = r.final_time;
      json["n_steps"] = r.n_steps;
      json["n_rejected_steps"] = r.n_rejected_steps;
      json["linear_iterations"] = r.linear_iterations;
      json["wall_seconds"] = r.wall_seconds;
    }

    void write_run_json(Json &json, const DensityRunResult &r)
    {
      write_record_json(json, r);
      json["preconditioner_builds"] = r.n_preconditioner_builds;
      json["initial_mass"]          = r.initial_mass;
      json["mass"]                  = r.final_mass;
      // Without a closed-form law (circles2) there are no errors, only the moments.
      if (r.has_errors)
        {
          json["errors"]["final"]                 = errors_json(r.final_errors);
          json["errors"]["max_over_output_times"] = errors_json(r.max_errors);
        }
      json["moment_errors"]["final"]                 = moments_json(r.final_moment_errors);
      json["moment_errors"]["max_over_output_times"] = moments_json(r.max_moment_errors);
      json["outputs"]                                = Json::array();
      for (unsigned int i = 0; i < r.output_times.size(); ++i)
        {
          Json output;
          output["time"] = r.output_times[i];
          output["mass"] = r.output_masses[i];
          if (r.has_errors)
            output["errors"] = errors_json(r.output_errors[i]);
          output["moment_errors"] = moments_json(r.output_moment_errors[i]);
          json["outputs"].push_back(output);
        }
    }

    void write_run_json(Json &json, const ScoreRunResult &r)
    {
      write_record_json(json, r);
      json["boundary_condition"]              = r.boundary_condition;
      json["newton_iterations"]               = r.newton_iterations;
      json["jacobians"]                       = r.n_jacobians;
      if (r.has_errors)
        {
          json["errors"]["final"]                 = errors_json(r.final_errors);
          json["errors"]["max_over_output_times"] = errors_json(r.max_errors);
        }
      if (r.equation == Equation::log_density)
        {
          json["normalisation"]                           = r.normalisation;
          json["density_errors"]["final"]                 = errors_json(r.final_density_errors);
          json["density_errors"]["max_over_output_times"] = errors_json(r.max_density_errors);
        }
      json["outputs"] = Json::array();
      for (unsigned int i = 0; i < r.output_times.size(); ++i)
        {
          Json output;
          output["time"] = r.output_times[i];
          if (r.has_errors)
            output["errors"] = errors_json(r.output_errors[i]);
          if (i < r.quotient_errors.size() && r.has_errors)
            output["density_quotient_errors"] = errors_json(r.quotient_errors[i]);
          if (i < r.score_density_differences.size())
            output["score_density_difference"] = r.score_density_differences[i];
          for (const auto &residual : r.residuals)
            if (residual.time == r.output_times[i])
              {
                output["residuals"]["computed"]         = residuals_json(residual.computed);
                output["residuals"]["exact"]            = residuals_json(residual.exact);
                output["residuals"]["perturbed"]        = residuals_json(residual.perturbed);
                output["residuals"]["density_quotient"] = residuals_json(residual.density_quotient);
              }
          json["outputs"].push_back(output);
        }
    }

    /// tail_shells.csv of a companion run: one row per output time and shell of |x|.
    std::string tail_shells_csv(const ScoreRunResult &r)
  {
    std::ostringstream out;
    out << std::setprecision(10)
        << "time,shell,radius_min,radius_max,exact_density_max,rms_score_error,"
           "rms_quotient_error,rms_difference,quotient_undefined_points\n";
    for (unsigned int i = 0; i < r.tail_shells.size(); ++i)
      for (unsigned int k = 0; k < r.tail_shells[i].size(); ++k)
        {
          const TailShell &s = r.tail_shells[i][k];
          out << r.output_times[i] << "," << k << "," << s.radius_min << "," << s.radius_max << ","
              << s.exact_density_max << "," << s.rms_score_error << "," << s.rms_quotient_error
              << "," << s.rms_difference << "," << s.n_quotient_undefined << "\n";
        }
    return out.str();
  }
  } // namespace

  namespace
  {
    using Columns = std::vector<std::pair<std::string, double>>;

    /// The final-time errors a convergence table shows for each kind of run.
    Columns error_columns(const DensityRunResult &r)
    {
      if (!r.has_errors)
        return {{"mean", r.final_moment_errors.mean},
                {"covariance", r.final_moment_errors.covariance}};
      return {{"L1", r.final_errors.l1}, {"L2", r.final_errors.l2}, {"Linf", r.final_errors.linf}};
    }

    Columns error_columns(const ScoreRunResult &r)
    {
      if (!r.has_errors)
        return {{"score_density_difference",
                 r.score_density_differences.empty() ? 0.0 : r.score_density_differences.back()}};
      Columns columns = {{"L2", r.final_errors.l2},
                         {"L2_bulk", r.final_errors.l2_bulk},
                         {"Fisher", r.final_errors.fisher}};
      if (r.equation == Equation::log_density)
        columns.emplace_back("density_L2", r.final_density_errors.l2);
      return columns;
    }

    DensityRunResult solve_level(const Parameters  &p,
                                 const unsigned int level,
                                 const std::string &directory,
                                 const MPI_Comm     communicator,
                                 const DensityRunResult *)
    {
      return solve_density_case(p, level, directory, true, communicator);
    }

    ScoreRunResult solve_level(const Parameters  &p,
                               const unsigned int level,
                               const std::string &directory,
                               const MPI_Comm     communicator,
                               const ScoreRunResult *)
    {
      ScoreRunResult r = solve_score_case(p, level, directory, true, communicator);
      if (!r.tail_shells.empty() && dealii::Utilities::MPI::this_mpi_process(communicator) == 0)
        write_file_atomically(directory + "/tail_shells.csv", tail_shells_csv(r));
      return r;
    }

    template <typename Result>
    void run_levels(const Parameters               &p,
                    const dealii::ParameterHandler &prm,
                    const MPI_Comm                  communicator)
    {
      const bool         root      = dealii::Utilities::MPI::this_mpi_process(communicator) == 0;
      const std::string &directory = p.output.directory;
      const auto        &levels    = p.mesh.refinement_levels;

      // A summary.json left by an earlier run in this directory must not outlive a
      // failure of this one (each level's own directory is cleaned by the solver).
      if (root && levels.size() > 1)
        std::filesystem::remove(directory + "/summary.json");

      std::vector<Result> results;
      for (const unsigned int level : levels)
        {
          const std::string level_directory =
              levels.size() > 1 ? directory + "/level-" + std::to_string(level) : directory;
          results.push_back(
              solve_level(p, level, level_directory, communicator, static_cast<Result *>(nullptr)));
        }
      if (!root)
        return;

      echo_parameters(prm, directory, communicator);

      // Observed rates per error column.
      const Columns                    names = error_columns(results.back());
      std::vector<std::vector<double>> rates;
      for (unsigned int c = 0; c < names.size(); ++c)
        {
          std::vector<double> errors;
          for (const auto &r : results)
            errors.push_back(error_columns(r)[c].second);
          rates.push_back(observed_rates(errors, levels));
        }

      if (levels.size() > 1)
        {
          dealii::ConvergenceTable table;
          for (const auto &r : results)
            {
              table.add_value("level", r.refinement_level);
              table.add_value("cells", r.n_cells);
              table.add_value("dofs", r.n_dofs);
              table.add_value("steps", r.n_steps);
              for (const auto &[key, value] : error_columns(r))
                table.add_value(key, value);
            }
          for (const auto &[key, value] : names)
            {
              table.set_scientific(key, true);
              table.set_precision(key, 3);
              table.evaluate_convergence_rates(key, dealii::ConvergenceTable::reduction_rate_log2);
            }
          std::cout << "\nConvergence at the final time (relative errors, rates per "
                       "refinement):\n";
          table.write_text(std::cout, dealii::TableHandler::org_mode_table);
        }

      Json json;
      json["scorefp_version"] = SCOREFP_VERSION;
      json["equation"]        = equation_name(p.equation);
      write_run_json(json, results.back());
      if (levels.size() > 1)
        {
          json["convergence"] = Json::array();
          for (unsigned int k = 0; k < results.size(); ++k)
            {
              Json level;
              level["refinement_level"] = levels[k];
              level["n_dofs"]           = results[k].n_dofs;
              level["n_steps"]          = results[k].n_steps;
              level["errors"]           = errors_json(results[k].final_errors);
              level["max_errors"]       = errors_json(results[k].max_errors);
              for (unsigned int c = 0; c < names.size(); ++c)
                level["rates"][names[c].first] = rates[c][k];
              level["wall_seconds"] = results[k].wall_seconds;
              json["convergence"].push_back(level);
            }
        }
      write_json_atomically(directory + "/summary.json", json);
      std::cout << "Results in " << directory << "/ (summary.json, statistics.csv"
                << (p.output.write_vtu ? ", solution.pvd" : "")
                << (p.score.companion_density && p.equation != Equation::density
                        ? ", tail_shells.csv, density/"
                        : "")
                << ")" << std::endl;
    }
  } // namespace


  namespace
  {
    class SolveTask : public Task
    {
    public:
      std::set<std::string> sections() const override
      {
        return {"Process",
                "Initial data",
                "Mesh",
                "Discretization",
                "Time stepping",
                "Linear solver",
                "Score",
                "Output"};
      }

      void check(const Parameters &p) const override
      {
        check_mesh_dimension(p, "solve");
        using BoundaryCondition = DiscretizationParameters::BoundaryCondition;
        const bool zero_flux = p.discretization.boundary_condition == BoundaryCondition::zero_flux;
        if (p.equation != Equation::density)
          {
            const std::string name = equation_name(p.equation);
            const std::string undefined = p.data.undefined_score();
            if (!undefined.empty())
              throw InputError("Initial data/Smoothing variance must be positive for " + name +
                               " runs of " + undefined + "; expected e.g. 0.01.");
            if (!p.output.points_file.empty())
              throw InputError("Output/Points file is read by density runs only; expected it "
                               "empty for " +
                               name + " runs.");
            if (!zero_flux && p.score.companion_density)
              throw InputError("Score/Companion density needs Discretization/Boundary condition "
                               "= zero flux (the density solve must conserve mass).");
          }
        if (!p.output.reference_file.empty())
          {
            if (p.equation == Equation::log_density)
              throw InputError("Output/Reference file is not supported for log-density runs "
                               "yet (the file format stores a density and a vector score); "
                               "expected it empty, or Equation = density or score.");
            if (p.equation == Equation::score && !zero_flux)
              throw InputError("Output/Reference file in a score run takes the density from the "
                               "companion density solve, which needs Discretization/Boundary "
                               "condition = zero flux.");
          }
        create_process(p.process);
        create_data(p.data, p.dimension);
      }

      int run(const Parameters               &p,
              const dealii::ParameterHandler &prm,
              const MPI_Comm                  communicator) const override
      {
        if (p.equation == Equation::density)
          run_levels<DensityRunResult>(p, prm, communicator);
        else
          run_levels<ScoreRunResult>(p, prm, communicator);
        return 0;
      }
    };
  } // namespace

  SCOREFP_REGISTER(TaskRegistry,
                   "solve",
                   "the Fokker-Planck equation named by Equation (and, with Output/Reference "
                   "file, a reference file).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<SolveTask>(); })
} // namespace scorefp
