// What the sample, scheme-table and check tasks print through: rank 0's stream (silent
// with Output/Quiet) and a wall-time table printed when the task ends.
#pragma once

#include <scorefp/core/parameter_binder.h>
#include <scorefp/tasks/parameters.h>

#include <scorefp/core/input_error.h>
#include <scorefp/fe/diagnostics.h>
#include <scorefp/io/json.h>

#include <deal.II/base/conditional_ostream.h>
#include <deal.II/base/parameter_handler.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/timer.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace scorefp
{
  /// The block [first, first + count) of n items that this rank takes: rank r of P
  /// holds [n r / P, n (r + 1) / P), so the blocks in rank order are the items in order.
  inline std::pair<unsigned long long, unsigned long long> share_of(const unsigned long long n,
                                                                    const MPI_Comm communicator)
  {
    const unsigned long long rank  = dealii::Utilities::MPI::this_mpi_process(communicator);
    const unsigned long long size  = dealii::Utilities::MPI::n_mpi_processes(communicator);
    const unsigned long long first = n * rank / size, last = n * (rank + 1) / size;
    return {first, last - first};
  }

  struct CheckResult;

  /// A check's report as Task = check prints it: the statistics, their p-values and the
  /// verdict (tasks/check_task.cc).
  std::string check_report(const CheckResult &r);
  /// A check as check.json holds it.
  Json check_json(const CheckResult &r);

  /// Relative L1, L2, Linf errors as summary.json writes them.
  inline Json errors_json(const ErrorNorms &e)
  {
    Json json;
    json["L1"]   = e.l1;
    json["L2"]   = e.l2;
    json["Linf"] = e.linf;
    return json;
  }

  /// The parameters used (every entry, defaults included), next to the results (rank 0).
  inline void echo_parameters(const dealii::ParameterHandler &prm,
                              const std::string              &directory,
                              const MPI_Comm                  communicator)
  {
    if (dealii::Utilities::MPI::this_mpi_process(communicator) != 0)
      return;
    std::filesystem::create_directories(directory);
    std::ofstream echo(directory + "/parameters.prm");
    prm.print_parameters(echo, dealii::ParameterHandler::ShortPRM);
  }

  /// Tasks on finite-element meshes need 1, 2 or 3 dimensions.
  /// Tasks that compare with the exact law at given times (and with the data p_0 when
  /// with_data): InputError, one sentence, where the data set has no closed form there
  /// (circles2 after t = 0, unsmoothed empirical data at the data time).
  inline void require_closed_forms(const ForwardProcess     &process,
                                   const DataDistribution   &data,
                                   const std::vector<double> &times,
                                   const bool                 with_data,
                                   const std::string         &task)
  {
    const std::string remedy = task + " compares with it";
    if (with_data && !data.has_closed_form(1.0, 0.0))
      throw InputError(data.no_closed_form(process.data_time, 0.0, remedy));
    for (const double t : times)
      if (!data.has_closed_form(process.transition_mean_factor(t), process.transition_variance(t)))
        throw InputError(data.no_closed_form(t, process.transition_variance(t), remedy));
  }

  inline void check_mesh_dimension(const Parameters &p, const std::string &task)
  {
    if (p.dimension > 3)
      throw InputError("Dimension = " + std::to_string(p.dimension) + ": Task = " + task +
                       " works on finite-element meshes in 1, 2 or 3 dimensions.");
  }

  /// The early-stopping time of a sampler lies in [t0, T).
  inline void
  check_early_stopping(const Parameters &p, const double epsilon, const std::string &entry)
  {
    if (!(epsilon >= p.process.start_time && epsilon < p.process.final_time))
      throw InputError(entry + " = " + format_number(epsilon) +
                       " lies outside [Process/Start time, Process/Final time) = [" +
                       format_number(p.process.start_time) + ", " +
                       format_number(p.process.final_time) + ").");
  }

  /// Samplers need a score that is defined everywhere at every time they visit.
  inline void check_score_defined(const Parameters &p)
  {
    const std::string undefined = p.data.undefined_score();
    if (!undefined.empty())
      throw InputError("Initial data/Smoothing variance must be positive for samplers of " +
                       undefined + " at t = 0; expected e.g. 0.01.");
  }

  /// The runs of the sampler tasks (tasks/sampler_tasks.cc) and of Task = evaluate.
  void run_sampler_task(const Parameters &p, const MPI_Comm communicator);
  void run_scheme_table_task(const Parameters &p, const MPI_Comm communicator);
  void run_evaluation_task(const Parameters &p, const MPI_Comm communicator);

  /// Remove the outputs an earlier run left (on rank 0), so that a run that fails
  /// leaves none that look valid.
  inline void remove_stale_outputs(const std::vector<std::string> &files,
                                   const MPI_Comm                  communicator)
  {
    if (dealii::Utilities::MPI::this_mpi_process(communicator) == 0)
      for (const std::string &file : files)
        std::filesystem::remove(file);
  }

  struct TaskOutput
  {
    TaskOutput(const Parameters &p, const MPI_Comm communicator)
        : root(dealii::Utilities::MPI::this_mpi_process(communicator) == 0)
        , pcout(std::cout, root && !p.output.quiet)
        , timer(communicator,
                pcout,
                p.output.quiet ? dealii::TimerOutput::never : dealii::TimerOutput::summary,
                dealii::TimerOutput::wall_times)
    {
    }

    /// The same as remove_stale_outputs(), for a task whose output already exists.
    void remove_stale(const std::vector<std::string> &files) const
    {
      if (root)
        for (const std::string &file : files)
          std::filesystem::remove(file);
    }

    const bool                 root;
    dealii::ConditionalOStream pcout;
    dealii::TimerOutput        timer;
  };
} // namespace scorefp
