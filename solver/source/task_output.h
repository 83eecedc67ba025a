// What the sample, scheme-table and check tasks print through: rank 0's stream (silent
// with Output/Quiet) and a wall-time table printed when the task ends.
#pragma once

#include <scorefp/parameters.h>

#include <deal.II/base/conditional_ostream.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/timer.h>

#include <filesystem>
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

    /// Remove the outputs an earlier run left (on rank 0), so that a run that fails
    /// leaves none that look valid.
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
