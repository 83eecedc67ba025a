#include <scorefp/density_solver.h>
#include <scorefp/input_error.h>
#include <scorefp/io.h>
#include <scorefp/linear_algebra.h>
#include <scorefp/run.h>

#include <deal.II/base/convergence_table.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/parameter_handler.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

namespace scorefp
{
  DensityRunResult solve_density_case(const Parameters  &p,
                                      const unsigned int level,
                                      const std::string &directory,
                                      const bool         write_files,
                                      const MPI_Comm     communicator)
  {
    const bool petsc = p.linear_solver.backend == "PETSc";
    switch (p.dimension)
      {
      case 1:
        return petsc
                   ? solve_density<1, PETScBackend>(p, level, directory, write_files, communicator)
                   : solve_density<1, TrilinosBackend>(
                         p, level, directory, write_files, communicator);
      case 2:
        return petsc
                   ? solve_density<2, PETScBackend>(p, level, directory, write_files, communicator)
                   : solve_density<2, TrilinosBackend>(
                         p, level, directory, write_files, communicator);
      case 3:
        return petsc
                   ? solve_density<3, PETScBackend>(p, level, directory, write_files, communicator)
                   : solve_density<3, TrilinosBackend>(
                         p, level, directory, write_files, communicator);
      default:
        throw InputError("Dimension must be 1, 2 or 3 (got " + std::to_string(p.dimension) + ").");
      }
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

  std::vector<DensityRunResult>
  run_case(const Parameters &p, const dealii::ParameterHandler &prm, const MPI_Comm communicator)
  {
    const bool         root      = dealii::Utilities::MPI::this_mpi_process(communicator) == 0;
    const std::string &directory = p.output.directory;
    const auto        &levels    = p.mesh.refinement_levels;

    // A summary.json left by an earlier run in this directory must not outlive a
    // failure of this one (each level's own directory is cleaned by the solver).
    if (root && levels.size() > 1)
      std::filesystem::remove(directory + "/summary.json");

    std::vector<DensityRunResult> results;
    for (const unsigned int level : levels)
      {
        const std::string level_directory =
            levels.size() > 1 ? directory + "/level-" + std::to_string(level) : directory;
        results.push_back(solve_density_case(p, level, level_directory, true, communicator));
      }

    if (root)
      {
        // Echo the parameters used (every entry, defaults included) next to the results.
        std::filesystem::create_directories(directory);
        std::ofstream echo(directory + "/parameters.prm");
        prm.print_parameters(echo, dealii::ParameterHandler::ShortPRM);
      }

    std::vector<double> l1, l2, linf, max_l2;
    for (const auto &r : results)
      {
        l1.push_back(r.final_errors.l1);
        l2.push_back(r.final_errors.l2);
        linf.push_back(r.final_errors.linf);
        max_l2.push_back(r.max_errors.l2);
      }
    const std::vector<double> l1_rates   = observed_rates(l1, levels),
                              l2_rates   = observed_rates(l2, levels),
                              linf_rates = observed_rates(linf, levels);

    if (levels.size() > 1 && root)
      {
        dealii::ConvergenceTable table;
        for (const auto &r : results)
          {
            table.add_value("level", r.refinement_level);
            table.add_value("cells", r.n_cells);
            table.add_value("dofs", r.n_dofs);
            table.add_value("steps", r.n_steps);
            table.add_value("L1", r.final_errors.l1);
            table.add_value("L2", r.final_errors.l2);
            table.add_value("Linf", r.final_errors.linf);
          }
        for (const std::string &key : {"L1", "L2", "Linf"})
          {
            table.set_scientific(key, true);
            table.set_precision(key, 3);
            table.evaluate_convergence_rates(key, dealii::ConvergenceTable::reduction_rate_log2);
          }
        std::cout << "\nConvergence at the final time (relative errors, rates per "
                     "refinement):\n";
        table.write_text(std::cout, dealii::TableHandler::org_mode_table);
      }

    if (root)
      {
        std::ostringstream text;
        JsonWriter         json(text);
        json.begin_object();
        json.value("scorefp_version", std::string(SCOREFP_VERSION));
        json.value("equation", std::string("density"));
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
                json.value("L1", l1_rates[k]);
                json.value("L2", l2_rates[k]);
                json.value("Linf", linf_rates[k]);
                json.end_object();
                json.value("wall_seconds", results[k].wall_seconds);
                json.end_object();
              }
            json.end_array();
          }
        json.end_object();
        write_file_atomically(directory + "/summary.json", text.str());
        std::cout << "Results in " << directory << "/ (summary.json, statistics.csv"
                  << (p.output.write_vtu ? ", solution.pvd" : "") << ")" << std::endl;
      }
    return results;
  }
} // namespace scorefp
