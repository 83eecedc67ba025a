#include "reference/reference_output.h"

#include <scorefp/density/density_solver.h>
#include <scorefp/core/input_error.h>
#include <scorefp/io/io.h>
#include <scorefp/fe/linear_algebra.h>
#include <scorefp/checker/checker.h>
#include <scorefp/reference/reference_field.h>
#include <scorefp/tasks/run.h>
#include <scorefp/tasks/task.h>
#include <scorefp/sampling/sampling.h>
#include <scorefp/score/score_solver.h>

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
    /// call(std::integral_constant<int, dim>, Backend) for the dimension and backend
    /// that p names: the one place where run-time choices meet template instances.
    template <typename Call>
    auto dispatch(const Parameters &p, const Call &call)
    {
      const bool petsc = p.linear_solver.backend == LinearSolverParameters::Backend::petsc;
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

  namespace
  {
    /// The sections of p a finite-element solve reads.
    FiniteElementCase finite_element_case(const Parameters &p)
    {
      FiniteElementCase c;
      c.equation           = p.equation;
      c.dimension          = p.dimension;
      c.process            = p.process;
      c.data               = p.data;
      c.mesh               = p.mesh;
      c.discretization     = p.discretization;
      c.time_stepping      = p.time_stepping;
      c.linear_solver      = p.linear_solver;
      c.output             = p.output;
      c.scaled_coordinates = p.use_scaled_coordinates();
      return c;
    }

    /// The reference file (reference/reference_output.h) behind the solvers' writer
    /// interface.
    template <int dim, typename VectorType>
    class ReferenceFileWriterAdapter : public SolutionWriter<dim, VectorType>
    {
    public:
      ReferenceFileWriterAdapter(const FiniteElementCase                        &p,
                                 const std::string                              &data_description,
                                 const dealii::parallel::TriangulationBase<dim> &mesh)
          : output(p, data_description, mesh)
      {
      }

      void add_snapshot(const double                   t,
                        const double                   c,
                        const dealii::DoFHandler<dim> &density_dofs,
                        const VectorType              &q,
                        const dealii::DoFHandler<dim> *score_dofs,
                        const VectorType              *s) override
      {
        output.template add_snapshot<VectorType>(t, c, density_dofs, q, score_dofs, s);
      }

      void finish() override { output.finish(); }

    private:
      ReferenceOutput<dim> output;
    };

    /// The writer factory of a solve: empty unless this level writes the reference file.
    template <int dim, typename VectorType>
    SolutionWriterFactory<dim, VectorType> reference_writer(const FiniteElementCase &p,
                                                            const unsigned int       level,
                                                            const bool               write_files)
    {
      if (!writes_reference_file(p, level, write_files))
        return {};
      return [&p](const dealii::parallel::TriangulationBase<dim> &mesh,
                  const std::string                              &data_description) {
        return std::make_unique<ReferenceFileWriterAdapter<dim, VectorType>>(p,
                                                                             data_description,
                                                                             mesh);
      };
    }
  } // namespace

  DensityRunResult solve_density_case(const Parameters  &p,
                                      const unsigned int level,
                                      const std::string &directory,
                                      const bool         write_files,
                                      const MPI_Comm     communicator)
  {
    const FiniteElementCase c = finite_element_case(p);
    return dispatch(p, [&](auto dim, auto backend) {
      using Backend = decltype(backend);
      return solve_density<decltype(dim)::value, Backend>(
          c,
          level,
          directory,
          write_files,
          communicator,
          reference_writer<decltype(dim)::value, typename Backend::Vector>(c, level, write_files));
    });
  }

  ScoreRunResult solve_score_case(const Parameters  &p,
                                  const unsigned int level,
                                  const std::string &directory,
                                  const bool         write_files,
                                  const MPI_Comm     communicator)
  {
    const FiniteElementCase c = finite_element_case(p);
    return dispatch(p, [&](auto dim, auto backend) {
      using Backend = decltype(backend);
      return solve_score<decltype(dim)::value, Backend>(
          c,
          p.score,
          level,
          directory,
          write_files,
          communicator,
          reference_writer<decltype(dim)::value, typename Backend::Vector>(c, level, write_files));
    });
  }

  std::vector<ReverseLawRunResult> solve_reverse_law_case(const Parameters       &p,
                                                          const ReverseLawInputs &inputs,
                                                          const unsigned int      level,
                                                          const std::string      &directory,
                                                          const bool              write_files,
                                                          const MPI_Comm          communicator)
  {
    const FiniteElementCase c = finite_element_case(p);
    return dispatch(p, [&](auto dim, auto backend) {
      return solve_reverse_laws<decltype(dim)::value, decltype(backend)>(
          c, inputs, level, directory, write_files, communicator);
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

  int
  run_case(const Parameters &p, const dealii::ParameterHandler &prm, const MPI_Comm communicator)
  {
    return TaskRegistry::instance().get(p.task, "Task").create_default()->run(p, prm, communicator);
  }
} // namespace scorefp
