// scorefp: finite-element reference solutions of the Fokker-Planck equations of
// score-based diffusion models. main() only reads the command line and the
// parameter file and hands the case to run_case().
#include <scorefp/core/input_error.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/tasks/run.h>
#include <scorefp/tasks/task.h>

#include <deal.II/base/mpi.h>
#include <deal.II/base/parameter_handler.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <string>
#include <vector>

namespace
{
  const char *usage =
      "Usage: mpirun -np N scorefp CASE.prm [--set 'Section/Key=value' ...]\n"
      "       scorefp --print-parameters [prm|json|xml] [--task NAME]\n"
      "       scorefp --help\n"
      "\n"
      "Solves the Fokker-Planck equation of a diffusion model's forward process by\n"
      "finite elements and compares it with the closed-form law (Task = solve); runs\n"
      "reverse-time samplers (Task = sample, scheme table) and checks samples against a\n"
      "reference law (Task = check; exit status 4 when they fail). CASE is a deal.II\n"
      "parameter file (.prm, .json or .xml); --print-parameters lists every entry with\n"
      "its default, allowed values and meaning (with --task NAME, only the sections that\n"
      "task reads). --set overrides one entry (repeatable),\n"
      "e.g. --set 'Mesh/Refinement levels=3,4,5' --set 'Linear solver/Backend=PETSc'.\n";
}

int
main(int argc, char **argv)
{
  dealii::Utilities::MPI::MPI_InitFinalize mpi(argc, argv, 1);
  const MPI_Comm                           communicator = MPI_COMM_WORLD;
  const bool root = dealii::Utilities::MPI::this_mpi_process(communicator) == 0;

  std::vector<std::string> arguments(argv + 1, argv + argc);
  std::string              file;
  std::vector<std::string> overrides;
  try
    {
      for (unsigned int i = 0; i < arguments.size(); ++i)
        if (arguments[i] == "--help" || arguments[i] == "-h")
          {
            if (root)
              std::cout << usage;
            return 0;
          }
      const auto print = std::find(arguments.begin(), arguments.end(), "--print-parameters");
      if (print != arguments.end())
        {
          std::string format = "prm", task;
          for (auto a = print + 1; a != arguments.end(); ++a)
            if (*a == "--task")
              {
                if (a + 1 == arguments.end())
                  throw scorefp::InputError("--task needs the name of a task.");
                task = *++a;
              }
            else
              format = *a;
          if (format != "prm" && format != "json" && format != "xml")
            throw scorefp::InputError("--print-parameters takes prm, json or xml, not '" + format +
                                      "'.");
          std::set<std::string> sections;
          if (!task.empty())
            sections = scorefp::TaskRegistry::instance().get(task, "--task").create_default()->sections();
          dealii::ParameterHandler prm;
          scorefp::declare_parameters(prm, sections);
          if (root && format == "prm")
            scorefp::print_parameter_manual(prm, std::cout);
          else if (root)
            prm.print_parameters(std::cout,
                                 format == "json" ? dealii::ParameterHandler::JSON
                                                  : dealii::ParameterHandler::XML);
          return 0;
        }

      dealii::ParameterHandler prm;
      scorefp::declare_parameters(prm);
      for (unsigned int i = 0; i < arguments.size(); ++i)
        {
          const std::string &a = arguments[i];
          if (a == "--set" || a == "-s")
            {
              if (i + 1 == arguments.size())
                throw scorefp::InputError("--set needs an argument 'Section/Key=value'.");
              overrides.push_back(arguments[++i]);
            }
          else if (a.rfind("--set=", 0) == 0)
            overrides.push_back(a.substr(6));
          else if (!a.empty() && a[0] == '-')
            throw scorefp::InputError("Unknown option '" + a + "'; see scorefp --help.");
          else if (file.empty())
            file = a;
          else
            throw scorefp::InputError("More than one parameter file given ('" + file + "' and '" +
                                      a + "').");
        }
      if (file.empty())
        {
          if (root)
            std::cerr << usage;
          return 2;
        }
      const scorefp::Parameters parameters = scorefp::read_parameters(prm, file, overrides);
      return scorefp::run_case(parameters, prm, communicator);
    }
  catch (const scorefp::InputError &e)
    {
      // Input errors are found by every rank alike: report once, leave together.
      if (root)
        std::cerr << "scorefp: error: " << e.what() << std::endl;
      return 1;
    }
  catch (const scorefp::SolverFailure &e)
    {
      if (root)
        std::cerr << "scorefp: solver failure: " << e.what() << std::endl;
      return 1;
    }
  catch (const std::exception &e)
    {
      // Anything else may have happened on one rank only: stop all of them.
      std::cerr << "scorefp: internal error on rank "
                << dealii::Utilities::MPI::this_mpi_process(communicator) << ": " << e.what()
                << std::endl;
      MPI_Abort(communicator, 3);
    }
  return 0;
}
