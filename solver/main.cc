// scorefp: finite-element reference solutions of the Fokker-Planck equations of
// score-based diffusion models. main() only reads the command line and the
// parameter file and hands the case to run_case().
#include <scorefp/input_error.h>
#include <scorefp/parameters.h>
#include <scorefp/run.h>

#include <deal.II/base/mpi.h>
#include <deal.II/base/parameter_handler.h>

#include <iostream>
#include <string>
#include <vector>

namespace
{
  const char *usage =
      "Usage: mpirun -np N scorefp CASE.prm [--set 'Section/Key=value' ...]\n"
      "       scorefp --print-parameters [prm|json|xml]\n"
      "       scorefp --help\n"
      "\n"
      "Solves the Fokker-Planck equation of a diffusion model's forward process by\n"
      "finite elements and compares it with the closed-form law (Task = solve); runs\n"
      "reverse-time samplers (Task = sample, scheme table) and checks samples against a\n"
      "reference law (Task = check; exit status 4 when they fail). CASE is a deal.II\n"
      "parameter file (.prm, .json or .xml); --print-parameters lists every entry with\n"
      "its default, allowed values and meaning. --set overrides one entry (repeatable),\n"
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
      dealii::ParameterHandler prm;
      scorefp::declare_parameters(prm);
      for (unsigned int i = 0; i < arguments.size(); ++i)
        {
          const std::string &a = arguments[i];
          if (a == "--help" || a == "-h")
            {
              if (root)
                std::cout << usage;
              return 0;
            }
          if (a == "--print-parameters")
            {
              const std::string format = i + 1 < arguments.size() ? arguments[i + 1] : "prm";
              const auto        style  = format == "json"  ? dealii::ParameterHandler::JSON
                                         : format == "xml" ? dealii::ParameterHandler::XML
                                                           : dealii::ParameterHandler::PRM;
              if (format != "prm" && format != "json" && format != "xml")
                throw scorefp::InputError("--print-parameters takes prm, json or xml, not '" +
                                          format + "'.");
              if (root && format == "prm")
                scorefp::print_parameter_manual(prm, std::cout);
              else if (root)
                prm.print_parameters(std::cout, style);
              return 0;
            }
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
