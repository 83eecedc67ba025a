// Tasks (Task = solve, sample, scheme table, check, evaluate): what a run does with
// the case. Each task is one source file in solver/source/tasks/ that registers itself
// in TaskRegistry with the sections of the parameter file it reads.
#pragma once

#include <scorefp/core/registry.h>

#include <mpi.h>

#include <set>
#include <string>

namespace dealii
{
  class ParameterHandler;
}

namespace scorefp
{
  struct Parameters;

  class Task
  {
  public:
    virtual ~Task() = default;
    /// The top-level sections of the parameter file this task reads (for
    /// --print-parameters --task NAME).
    virtual std::set<std::string> sections() const = 0;
    /// Checks that involve this task and several sections, run while parsing.
    virtual void check(const Parameters &) const {}
    /// Run the case. Collective. Returns the exit status (0, or 4 when a check fails).
    virtual int run(const Parameters               &parameters,
                    const dealii::ParameterHandler &prm,
                    const MPI_Comm                  communicator) const = 0;
  };

  using TaskRegistry = Registry<Task>;
} // namespace scorefp
