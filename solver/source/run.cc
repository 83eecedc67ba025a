#include <scorefp/density_solver.h>
#include <scorefp/input_error.h>
#include <scorefp/io.h>
#include <scorefp/linear_algebra.h>
#include <scorefp/checker.h>
#include <scorefp/reference_field.h>
#include <scorefp/run.h>
#include <scorefp/sampling.h>
#include <scorefp/score_solver.h>

#include <deal.II/base/convergence_table.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/parameter_handler.h>

#include <cmath>
#include <functional>
#include <type_traits>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

namespace scorefp
{
  namespace
  {
    /// The parameters used (every entry, defaults included), next to the results.
    void echo_parameters(const dealii::ParameterHandler &prm, const std::string &directory)
    {
      std::filesystem::create_directories(directory);
      std::ofstream echo(directory + "/parameters.prm");
      prm.print_parameters(echo, dealii::ParameterHandler::ShortPRM);
    }
    /// call(std::integral_constant<int, dim>, Backend) for the dimension and backend
    /// that p names: the one place where run-time choices meet template instances.
    template <typename Call>
    auto dispatch(const Parameters &p, const Call &call)
    {
      const bool petsc = p.linear_solver.backend == "PETSc";
      switch (p.dimension)
        {
        case 1:
          return petsc ? call(std::integral_constant<int, 1>(), PETScBackend())
                       : call(std::integral_constant<int, 1>(), TrilinosBackend());
        case 2:
          return petsc ? call(std::integral_constant<int, 2>(), PETScBackend())
                       : call(std::integral_constant<int, 2>(), TrilinosBackend());
        case 3:
          return petsc ? call(std::integral_constant<int, 3>(), PETScBackend())
                       : call(std::integral_constant<int, 3>(), TrilinosBackend());
        default:
          throw InputError("Dimension must be 1, 2 or 3 (got " + std::to_string(p.dimension) +
                           ").");
        }
    }
  } // namespace

  DensityRunResult solve_density_case(const Parameters  &p,
                                      const unsigned int level,
                                      const std::string &directory,
                                      const bool         write_files,
                                      const MPI_Comm     communicator)
  {
    return dispatch(p, [&](auto dim, auto backend) {
      return solve_density<decltype(dim)::value, decltype(backend)>(
          p, level, directory, write_files, communicator);
    });
  }

  ScoreRunResult solve_score_case(const Parameters  &p,
                                  const unsigned int level,
                                  const std::string &directory,
                                  const bool         write_files,
                                  const MPI_Comm     communicator)
  {
    return dispatch(p, [&](auto dim, auto backend) {
      return solve_score<decltype(dim)::value, decltype(backend)>(
          p, level, directory, write_files, communicator);
    });
  }

  std::vector<double> observed_rates(const std::vector<double>       &errors,
                                     const std::vector<unsigned int> &levels)
  {
    std::vector<double> rates(errors.size(), std::numeric_limits<double>::quiet_NaN());
    for (unsigned int k = 1; k < errors.size(); ++k)
      rates[k] = std::log(errors[k - 1] / errors[k]) /
                 (std::log(2.0) * (double(levels[k]) - double(levels[k - 1])));
    return rates;
  }

  namespace
  {
    using Columns = std::vector<std::pair<std::string, double>>;

    /// The final-time errors a convergence table shows for each kind of run.
    Columns error_columns(const DensityRunResult &r)
    {
      return {{"L1", r.final_errors.l1}, {"L2", r.final_errors.l2}, {"Linf", r.final_errors.linf}};
    }

    Columns error_columns(const ScoreRunResult &r)
    {
      Columns columns = {{"L2", r.final_errors.l2},
                         {"L2_bulk", r.final_errors.l2_bulk},
                         {"Fisher", r.final_errors.fisher}};
      if (r.equation == "log-density")
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

      echo_parameters(prm, directory);

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

      std::ostringstream text;
      JsonWriter         json(text);
      json.begin_object();
      json.value("scorefp_version", std::string(SCOREFP_VERSION));
      json.value("equation", p.equation);
      write_run_json(json, results.back());
      if (levels.size() > 1)
        {
          json.begin_array("convergence");
          for (unsigned int k = 0; k < results.size(); ++k)
            {
              json.begin_object();
              json.value("refinement_level", levels[k]);
              json.value("n_dofs", results[k].n_dofs);
              json.value("n_steps", results[k].n_steps);
              json.errors("errors", results[k].final_errors);
              json.errors("max_errors", results[k].max_errors);
              json.begin_object("rates");
              for (unsigned int c = 0; c < names.size(); ++c)
                json.value(names[c].first, rates[c][k]);
              json.end_object();
              json.value("wall_seconds", results[k].wall_seconds);
              json.end_object();
            }
          json.end_array();
        }
      json.end_object();
      write_file_atomically(directory + "/summary.json", text.str());
      std::cout << "Results in " << directory << "/ (summary.json, statistics.csv"
                << (p.output.write_vtu ? ", solution.pvd" : "")
                << (p.score.companion_density && p.equation != "density"
                        ? ", tail_shells.csv, density/"
                        : "")
                << ")" << std::endl;
    }
  } // namespace

  int
  run_case(const Parameters &p, const dealii::ParameterHandler &prm, const MPI_Comm communicator)
  {
    if (p.task != "solve")
      {
        if (dealii::Utilities::MPI::this_mpi_process(communicator) == 0)
          echo_parameters(prm, p.output.directory);
        if (p.task == "sample")
          run_sampler_task(p, communicator);
        else if (p.task == "scheme table")
          run_scheme_table_task(p, communicator);
        else if (p.task == "check")
          return run_check_task(p, communicator) ? 0 : 4;
        else if (p.task == "evaluate")
          run_evaluation_task(p, communicator);
        return 0;
      }
    if (p.equation == "density")
      run_levels<DensityRunResult>(p, prm, communicator);
    else
      run_levels<ScoreRunResult>(p, prm, communicator);
    return 0;
  }
} // namespace scorefp
