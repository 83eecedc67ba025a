// The sections of a parameter file that a finite-element solve reads, gathered by the
// tasks from the whole Parameters (tasks/parameters.h) so that the solvers do not
// depend on the tasks level. An equation that needs a section of its own (the score
// equations: ScoreParameters) takes it as a separate argument.
#pragma once

#include <scorefp/data/data_distribution.h>
#include <scorefp/fe/fe_parameters.h>
#include <scorefp/io/output_parameters.h>
#include <scorefp/mesh/mesh_parameters.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/time_integration/time_stepping.h>

namespace scorefp
{
  struct FiniteElementCase
  {
    Equation                 equation  = Equation::density;
    unsigned int             dimension = 2;
    ProcessParameters        process;
    DataParameters           data;
    MeshParameters           mesh;
    DiscretizationParameters discretization;
    TimeSteppingParameters   time_stepping;
    LinearSolverParameters   linear_solver;
    OutputParameters         output;
    /// Scaled coordinates in effect (Discretization/Scaled coordinates resolved).
    bool scaled_coordinates = false;
  };
} // namespace scorefp
