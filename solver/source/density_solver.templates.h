// Implementation of solve_density(); included by one source file per linear-algebra
// backend, each instantiating dim = 1, 2, 3, so that a change recompiles two files.
#pragma once

#include "fe_output.h"
#include "reference_output.h"

#include <scorefp/density_snapshots.h>
#include <scorefp/density_solver.h>
#include <scorefp/dirk_integrator.h>
#include <scorefp/initial_data.h>
#include <scorefp/input_error.h>
#include <scorefp/io.h>
#include <scorefp/linear_algebra.h>
#include <scorefp/mesh.h>
#include <scorefp/processes.h>
#include <scorefp/time_loop.h>

#include <deal.II/base/conditional_ostream.h>
#include <deal.II/base/function.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/mpi_remote_point_evaluation.h>
#include <deal.II/base/quadrature_lib.h>
#include <deal.II/base/timer.h>
#include <deal.II/base/utilities.h>
#include <deal.II/dofs/dof_handler.h>
#include <deal.II/dofs/dof_tools.h>
#include <deal.II/fe/fe_q.h>
#include <deal.II/fe/fe_values.h>
#include <deal.II/fe/mapping.h>
#include <deal.II/lac/affine_constraints.h>
#include <deal.II/lac/dynamic_sparsity_pattern.h>
#include <deal.II/lac/solver_cg.h>
#include <deal.II/lac/solver_control.h>
#include <deal.II/lac/solver_gmres.h>
#include <deal.II/lac/sparsity_tools.h>
#include <deal.II/numerics/data_out.h>
#include <deal.II/numerics/data_postprocessor.h>
#include <deal.II/numerics/vector_tools.h>
#include <deal.II/numerics/vector_tools_evaluate.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <sstream>

namespace scorefp
{
  namespace density
  {
    using namespace dealii;

    /// The exact density in the mesh coordinates xi: q(xi) = c^d p(c xi).
    template <int dim>
    class ExactDensityFunction : public Function<dim>
    {
    public:
      void set(std::unique_ptr<DensityField> field_at_t, const double scale)
      {
        field = std::move(field_at_t);
        c     = scale;
        c_d   = std::pow(scale, dim);
      }

      double value(const Point<dim> &xi, const unsigned int = 0) const override
      {
        double x[dim];
        for (unsigned int j = 0; j < dim; ++j)
          x[j] = c * xi[j];
        return c_d * field->value(x);
      }

      /// The exact density at a point in original coordinates.
      double physical_value(const Point<dim> &x) const
      {
        double coordinates[dim];
        for (unsigned int j = 0; j < dim; ++j)
          coordinates[j] = x[j];
        return field->value(coordinates);
      }

    private:
      std::unique_ptr<DensityField> field;
      double                        c = 1.0, c_d = 1.0;
    };

    /// Fields written to VTU, in original coordinates: density, exact density and error.
    template <int dim>
    class DensityPostprocessor : public DataPostprocessor<dim>
    {
    public:
      explicit DensityPostprocessor(const ExactDensityFunction<dim> &exact)
          : exact(exact)
      {
      }

      void set_scale(const double c) { inverse_c_d = std::pow(c, -double(dim)); }

      void evaluate_scalar_field(const DataPostprocessorInputs::Scalar<dim> &inputs,
                                 std::vector<Vector<double>> &computed) const override
      {
        for (unsigned int q = 0; q < inputs.solution_values.size(); ++q)
          {
            const double p_h = inverse_c_d * inputs.solution_values[q];
            const double p   = inverse_c_d * exact.value(inputs.evaluation_points[q]);
            computed[q](0)   = p_h;
            computed[q](1)   = p;
            computed[q](2)   = p_h - p;
          }
      }

      std::vector<std::string> get_names() const override
      {
        return {"density", "exact_density", "error"};
      }

      std::vector<DataComponentInterpretation::DataComponentInterpretation>
      get_data_component_interpretation() const override
      {
        return std::vector<DataComponentInterpretation::DataComponentInterpretation>(
            3, DataComponentInterpretation::component_is_scalar);
      }

      UpdateFlags get_needed_update_flags() const override
      {
        return update_values | update_quadrature_points;
      }

    private:
      const ExactDensityFunction<dim> &exact;
      double                           inverse_c_d = 1.0;
    };

    template <int dim, typename Backend>
    class DensitySolver
    {
      using VectorType = typename Backend::Vector;
      using MatrixType = typename Backend::Matrix;

    public:
      DensitySolver(const Parameters  &p,
                    const unsigned int refinement_level,
                    const std::string &output_directory,
                    const bool         write_files,
                    const MPI_Comm     communicator);
      /// Run on the caller's mesh instead of building one, and keep snapshots.
      void             use_mesh(const parallel::TriangulationBase<dim> &mesh,
                                DensitySnapshots<dim, Backend>         &snapshots);
      DensityRunResult run();

    private:
      void               setup_mesh_and_dofs();
      void               check_domain_holds_the_data();
      QIterated<dim>     data_quadrature() const;
      void               setup_points();
      void               assemble_matrices();
      void               project_initial_density();
      DensityDiagnostics compute_diagnostics(const double t);
      void               set_exact(const double t);
      void               apply_rhs(const double t, const VectorType &y, VectorType &F);
      unsigned int       solve_stage(const double      t,
                                     const double      gamma_h,
                                     const VectorType &rhs,
                                     VectorType       &Y,
                                     const bool        final_stage);
      unsigned int       solve_mass(const VectorType &rhs, VectorType &x);
      void               output(const double t, const unsigned int index);
      void               write_statistics_row(const unsigned int        step,
                                              const double              t,
                                              const double              dt,
                                              const DensityDiagnostics &d,
                                              const unsigned int        iterations);
      double             wall_seconds() const;

      const Parameters  &p;
      const unsigned int refinement_level;
      const std::string  directory;
      const bool         write_files;
      const MPI_Comm     communicator;
      ConditionalOStream pcout;
      TimerOutput        timer;

      std::unique_ptr<ForwardProcess>    process;
      std::unique_ptr<DataDistribution>  data;
      std::unique_ptr<CoordinateScaling> scaling;
      DirkTableau                        tableau;

      std::unique_ptr<parallel::TriangulationBase<dim>> own_triangulation;
      const parallel::TriangulationBase<dim>           *triangulation = nullptr;
      DensitySnapshots<dim, Backend>                   *snapshots     = nullptr;
      std::unique_ptr<Mapping<dim>>                     mapping;
      FE_Q<dim>                                         fe;
      // Shared so that snapshots can outlive the solver.
      std::shared_ptr<DoFHandler<dim>> dof_handler_storage = std::make_shared<DoFHandler<dim>>();
      DoFHandler<dim>                 &dof_handler         = *dof_handler_storage;
      IndexSet                         locally_owned, locally_relevant;
      AffineConstraints<double>        constraints;

      // M, A (advection: (x phi_j, grad phi_i)) and L (stiffness): the operator is
      // K(t) = a(t) A + g(t)^2/2 L (MATH.md section 2, weak form with J.n = 0).
      MatrixType mass_matrix, advection_matrix, stiffness_matrix, stage_matrix;
      // The matrix the multigrid hierarchy was built from. A separate copy because the
      // preconditioner may keep referring to it while stage_matrix changes each stage.
      MatrixType                                preconditioner_matrix;
      std::unique_ptr<typename Backend::AMG>    amg;
      std::unique_ptr<typename Backend::Jacobi> mass_preconditioner;
      double       amg_alpha = -1.0, amg_beta = -1.0; // coefficients the AMG was built for
      unsigned int n_amg_builds      = 0;
      double       stiffness_to_mass = 0.0; // max_i L_ii / M_ii

      VectorType solution, ghosted, scratch;

      ExactDensityFunction<dim> exact;
      std::vector<double>       output_times;
      std::vector<Point<dim>>   points; // original coordinates
      std::vector<std::unique_ptr<Utilities::MPI::RemotePointEvaluation<dim>>> point_caches;

      std::ofstream                               statistics;
      std::vector<std::pair<double, std::string>> pvd_records;
      std::unique_ptr<ReferenceOutput<dim>>       reference; // Output/Reference file
      DensityRunResult                            result;
      std::chrono::steady_clock::time_point       start_wall;
    };

    template <int dim, typename Backend>
    DensitySolver<dim, Backend>::DensitySolver(const Parameters  &p,
                                               const unsigned int refinement_level,
                                               const std::string &output_directory,
                                               const bool         write_files,
                                               const MPI_Comm     communicator)
        : p(p)
        , refinement_level(refinement_level)
        , directory(output_directory)
        , write_files(write_files)
        , communicator(communicator)
        , pcout(std::cout, Utilities::MPI::this_mpi_process(communicator) == 0)
        , timer(pcout, TimerOutput::never, TimerOutput::wall_times)
        , fe(p.discretization.degree)
    {
      process = create_process(p.process);
      data    = create_data(p.data, dim);
      scaling =
          std::make_unique<CoordinateScaling>(*process, p.use_scaled_coordinates(), data->scale());
      tableau = load_dirk_tableau(p.time_stepping.method);

      output_times =
          make_output_times(*process, p.output.output_times, p.output.n_output_intervals);
    }

    template <int dim, typename Backend>
    void DensitySolver<dim, Backend>::use_mesh(const parallel::TriangulationBase<dim> &mesh,
                                               DensitySnapshots<dim, Backend>         &keep)
    {
      triangulation    = &mesh;
      snapshots        = &keep;
      keep.dof_handler = dof_handler_storage;
    }

    template <int dim, typename Backend>
    void DensitySolver<dim, Backend>::setup_mesh_and_dofs()
    {
      TimerOutput::Scope scope(timer, "setup");
      if (triangulation == nullptr)
        {
          own_triangulation = create_triangulation<dim>(communicator);
          make_mesh(*own_triangulation, p.mesh, refinement_level);
          triangulation = own_triangulation.get();
        }
      mapping = create_mapping<dim>(p.mesh, p.discretization.degree);
      dof_handler.reinit(*triangulation);
      dof_handler.distribute_dofs(fe);
      locally_owned = dof_handler.locally_owned_dofs();
      DoFTools::extract_locally_relevant_dofs(dof_handler, locally_relevant);

      constraints.clear();
      constraints.reinit(locally_relevant);
      DoFTools::make_hanging_node_constraints(dof_handler, constraints);
      if (p.discretization.boundary_condition == "dirichlet")
        for (const auto id : triangulation->get_boundary_ids())
          VectorTools::interpolate_boundary_values(
              *mapping, dof_handler, id, Functions::ZeroFunction<dim>(), constraints);
      constraints.close();

      DynamicSparsityPattern dsp(locally_relevant);
      DoFTools::make_sparsity_pattern(dof_handler, dsp, constraints, false);
      SparsityTools::distribute_sparsity_pattern(
          dsp, locally_owned, communicator, locally_relevant);
      for (MatrixType *m : {&mass_matrix,
                            &advection_matrix,
                            &stiffness_matrix,
                            &stage_matrix,
                            &preconditioner_matrix})
        m->reinit(locally_owned, locally_owned, dsp, communicator);
      solution.reinit(locally_owned, communicator);
      scratch.reinit(locally_owned, communicator);
      ghosted.reinit(locally_owned, locally_relevant, communicator);
    }

    template <int dim, typename Backend>
    void DensitySolver<dim, Backend>::set_exact(const double t)
    {
      exact.set(
          data->transported(process->transition_mean_factor(t), process->transition_variance(t)),
          scaling->scale(t));
    }

    template <int dim, typename Backend>
    QIterated<dim> DensitySolver<dim, Backend>::data_quadrature() const
    {
      // Integrals of the exact initial density (mass check, L2 projection) use a
      // composite Gauss rule: data such as the checkerboard jump inside cells that are
      // not aligned with it, where a single Gauss rule per cell is inaccurate.
      return QIterated<dim>(QGauss<1>(fe.degree + 1), 4);
    }

    template <int dim, typename Backend>
    void DensitySolver<dim, Backend>::check_domain_holds_the_data()
    {
      // The exact density must be (nearly) supported in the domain at the start and the
      // end: a zero-flux or Dirichlet wall through the data is a wrong problem, not a
      // discretisation error.
      for (const double t : {process->start_time, process->final_time})
        {
          set_exact(t);
          check_mass_in_domain(
              integrate_over_mesh(*triangulation, *mapping, data_quadrature(), exact),
              p.mesh.minimum_mass,
              t,
              scaling->enabled());
        }
    }

    template <int dim, typename Backend>
    void DensitySolver<dim, Backend>::setup_points()
    {
      if (p.output.points_file.empty())
        return;
      for (const auto &coordinates : read_points_csv(p.output.points_file, dim))
        {
          Point<dim> x;
          for (unsigned int j = 0; j < dim; ++j)
            x[j] = coordinates[j];
          points.push_back(x);
        }
      // One search structure per output time: with scaled coordinates the points move
      // through the mesh (xi = x / c(t)). Every point must be inside at every output
      // time; this is checked now, before any output is written.
      const unsigned int n_caches = scaling->enabled() ? output_times.size() : 1;
      for (unsigned int k = 0; k < n_caches; ++k)
        {
          const double            c = scaling->scale(output_times[k]);
          std::vector<Point<dim>> xi(points);
          for (auto &x : xi)
            x /= c;
          auto cache = std::make_unique<Utilities::MPI::RemotePointEvaluation<dim>>();
          cache->reinit(xi, *triangulation, *mapping);
          // Decided on all ranks together so that no rank is left waiting.
          if (Utilities::MPI::min(cache->all_points_found() ? 1 : 0, communicator) == 0)
            throw InputError(
                "Output/Points file '" + p.output.points_file + "' has points outside the mesh" +
                (scaling->enabled()
                     ? " at t = " + std::to_string(output_times[k]) + " (in scaled coordinates)"
                     : std::string()) +
                "; expected every point inside the domain.");
          point_caches.push_back(std::move(cache));
        }
    }

    template <int dim, typename Backend>
    void DensitySolver<dim, Backend>::assemble_matrices()
    {
      TimerOutput::Scope scope(timer, "assembly");
      const QGauss<dim>  quadrature(fe.degree + 1);
      FEValues<dim>      fe_values(*mapping,
                              fe,
                              quadrature,
                              update_values | update_gradients | update_quadrature_points |
                                  update_JxW_values);
      const unsigned int n = fe.n_dofs_per_cell();
      FullMatrix<double> cell_mass(n, n), cell_advection(n, n), cell_stiffness(n, n);
      std::vector<types::global_dof_index> dof_indices(n);

      for (const auto &cell : dof_handler.active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            cell_mass      = 0;
            cell_advection = 0;
            cell_stiffness = 0;
            for (unsigned int q = 0; q < quadrature.size(); ++q)
              {
                const double      JxW = fe_values.JxW(q);
                const Point<dim> &x   = fe_values.quadrature_point(q);
                for (unsigned int i = 0; i < n; ++i)
                  {
                    const Tensor<1, dim> grad_i   = fe_values.shape_grad(i, q);
                    const double         phi_i    = fe_values.shape_value(i, q);
                    const double         x_grad_i = x * grad_i;
                    for (unsigned int j = 0; j < n; ++j)
                      {
                        const double phi_j = fe_values.shape_value(j, q);
                        cell_mass(i, j) += phi_i * phi_j * JxW;
                        cell_advection(i, j) += x_grad_i * phi_j * JxW;
                        cell_stiffness(i, j) += grad_i * fe_values.shape_grad(j, q) * JxW;
                      }
                  }
              }
            cell->get_dof_indices(dof_indices);
            constraints.distribute_local_to_global(cell_mass, dof_indices, mass_matrix);
            constraints.distribute_local_to_global(cell_advection, dof_indices, advection_matrix);
            constraints.distribute_local_to_global(cell_stiffness, dof_indices, stiffness_matrix);
          }
      for (MatrixType *m : {&mass_matrix, &advection_matrix, &stiffness_matrix})
        m->compress(VectorOperation::add);
      stage_matrix.copy_from(mass_matrix);
      double ratio = 0;
      for (const auto i : locally_owned)
        ratio = std::max(ratio, stiffness_matrix.diag_element(i) / mass_matrix.diag_element(i));
      stiffness_to_mass   = Utilities::MPI::max(ratio, communicator);
      mass_preconditioner = std::make_unique<typename Backend::Jacobi>();
      mass_preconditioner->initialize(mass_matrix);
    }

    template <int dim, typename Backend>
    unsigned int DensitySolver<dim, Backend>::solve_mass(const VectorType &rhs, VectorType &x)
    {
      TimerOutput::Scope   scope(timer, "linear solves (mass)");
      SolverControl        control(p.linear_solver.maximum_iterations,
                            p.linear_solver.relative_tolerance * rhs.l2_norm());
      SolverCG<VectorType> cg(control);
      try
        {
          cg.solve(mass_matrix, x, rhs, *mass_preconditioner);
        }
      catch (const SolverControl::NoConvergence &e)
        {
          throw SolverFailure("The mass-matrix solve did not converge in " +
                              std::to_string(e.last_step) + " CG iterations (residual " +
                              std::to_string(e.last_residual) +
                              "); raise Linear solver/Maximum iterations or the tolerance.");
        }
      constraints.distribute(x);
      return control.last_step();
    }

    template <int dim, typename Backend>
    void DensitySolver<dim, Backend>::project_initial_density()
    {
      TimerOutput::Scope scope(timer, "initial projection");
      set_exact(process->start_time);
      // L2 projection (M y = (p0, phi)) rather than interpolation: it keeps the mass of
      // discontinuous data (checkerboard) and is the natural initial value for Galerkin.
      const QIterated<dim> quadrature = data_quadrature();
      FEValues<dim>        fe_values(
          *mapping, fe, quadrature, update_values | update_quadrature_points | update_JxW_values);
      const unsigned int                   n = fe.n_dofs_per_cell();
      Vector<double>                       cell_rhs(n);
      std::vector<double>                  values(quadrature.size());
      std::vector<types::global_dof_index> dof_indices(n);
      VectorType                           rhs(locally_owned, communicator);
      for (const auto &cell : dof_handler.active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            exact.value_list(fe_values.get_quadrature_points(), values);
            cell_rhs = 0;
            for (unsigned int q = 0; q < quadrature.size(); ++q)
              for (unsigned int i = 0; i < n; ++i)
                cell_rhs(i) += values[q] * fe_values.shape_value(i, q) * fe_values.JxW(q);
            cell->get_dof_indices(dof_indices);
            constraints.distribute_local_to_global(cell_rhs, dof_indices, rhs);
          }
      rhs.compress(VectorOperation::add);
      solution = 0;
      scope.stop();
      solve_mass(rhs, solution);
    }

    template <int dim, typename Backend>
    void DensitySolver<dim, Backend>::apply_rhs(const double t, const VectorType &y, VectorType &F)
    {
      // F = -K(t) y = -(a A + g^2/2 L) y in the mesh coordinates.
      advection_matrix.vmult(F, y);
      F *= -scaling->drift_rate(t);
      stiffness_matrix.vmult(scratch, y);
      F.add(-0.5 * scaling->diffusion_squared(t), scratch);
    }

    template <int dim, typename Backend>
    unsigned int DensitySolver<dim, Backend>::solve_stage(const double      t,
                                                          const double      gamma_h,
                                                          const VectorType &rhs,
                                                          VectorType       &Y,
                                                          const bool        final_stage)
    {
      const double alpha = gamma_h * scaling->drift_rate(t);
      const double beta  = gamma_h * 0.5 * scaling->diffusion_squared(t);
      {
        TimerOutput::Scope scope(timer, "stage matrix");
        stage_matrix.copy_from(mass_matrix);
        Backend::add(stage_matrix, alpha, advection_matrix);
        Backend::add(stage_matrix, beta, stiffness_matrix);
      }
      // The AMG hierarchy is kept while the coefficients stay within a factor of the
      // ones it was built for; GMRES absorbs the difference.
      const auto drifted = [&](const double now, const double built) {
        return std::abs(now - built) >
               p.linear_solver.preconditioner_rebuild * std::max(std::abs(built), 1e-300);
      };
      // While the stage matrix is dominated by the mass matrix (the diffusion number
      // beta max_i L_ii / M_ii is small: short steps, weak noise), point Jacobi needs as
      // few GMRES iterations as multigrid at a fraction of the cost per iteration.
      const bool mass_dominated =
          beta * stiffness_to_mass < p.linear_solver.jacobi_diffusion_number;
      std::unique_ptr<typename Backend::Jacobi> jacobi;
      if (mass_dominated)
        {
          jacobi = std::make_unique<typename Backend::Jacobi>();
          jacobi->initialize(stage_matrix);
        }
      else if (!amg || drifted(alpha, amg_alpha) || drifted(beta, amg_beta))
        {
          TimerOutput::Scope scope(timer, "preconditioner setup");
          amg.reset();
          preconditioner_matrix.copy_from(stage_matrix);
          amg = std::make_unique<typename Backend::AMG>();
          Backend::initialize_amg(*amg, preconditioner_matrix, fe.degree);
          amg_alpha = alpha;
          amg_beta  = beta;
          ++n_amg_builds;
        }
      TimerOutput::Scope scope(timer, "linear solves (stage)");
      // The last stage of a stiffly accurate method is the new solution: its residual
      // is the only one that changes the mass (1^T K = 0 makes the other stages'
      // contributions mass-free), so it is solved to the full tolerance. The other
      // stages only need to be well below the time-step error.
      const double  tolerance = final_stage
                                    ? p.linear_solver.relative_tolerance
                                    : std::max(p.linear_solver.relative_tolerance,
                                              std::min(1e-6, 1e-3 * p.time_stepping.tolerance));
      SolverControl control(p.linear_solver.maximum_iterations, tolerance * rhs.l2_norm());
      typename SolverGMRES<VectorType>::AdditionalData gmres_data(50);
      SolverGMRES<VectorType>                          gmres(control, gmres_data);
      try
        {
          if (mass_dominated)
            gmres.solve(stage_matrix, Y, rhs, *jacobi);
          else
            gmres.solve(stage_matrix, Y, rhs, *amg);
        }
      catch (const SolverControl::NoConvergence &e)
        {
          std::ostringstream s;
          s << "The stage system at t = " << t << " did not converge in " << e.last_step
            << " GMRES iterations (residual " << e.last_residual
            << "); raise Linear solver/Maximum iterations or lower Linear solver/Preconditioner "
               "rebuild.";
          throw SolverFailure(s.str());
        }
      constraints.distribute(Y);
      return control.last_step();
    }

    template <int dim, typename Backend>
    DensityDiagnostics DensitySolver<dim, Backend>::compute_diagnostics(const double t)
    {
      TimerOutput::Scope scope(timer, "errors");
      // One pass over the cells for mass and all three error norms and the norms of
      // the exact density (integrate_difference would need six passes). The norms are
      // taken in the mesh coordinates; relative norms and mass are the same in x.
      set_exact(t);
      ghosted = solution;
      const QGauss<dim> quadrature(fe.degree + 2);
      FEValues<dim>     fe_values(
          *mapping, fe, quadrature, update_values | update_quadrature_points | update_JxW_values);
      std::vector<double> numerical(quadrature.size()), exact_values(quadrature.size());
      double local[6]     = {0, 0, 0, 0, 0, 0}; // mass, exact mass, |e|_1, |e|_2^2, |p|_1, |p|_2^2
      double local_max[2] = {0, 0};             // |e|_inf, |p|_inf
      for (const auto &cell : dof_handler.active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            fe_values.get_function_values(ghosted, numerical);
            exact.value_list(fe_values.get_quadrature_points(), exact_values);
            for (unsigned int q = 0; q < quadrature.size(); ++q)
              {
                const double JxW = fe_values.JxW(q);
                const double e   = numerical[q] - exact_values[q];
                local[0] += numerical[q] * JxW;
                local[1] += exact_values[q] * JxW;
                local[2] += std::abs(e) * JxW;
                local[3] += e * e * JxW;
                local[4] += std::abs(exact_values[q]) * JxW;
                local[5] += exact_values[q] * exact_values[q] * JxW;
                local_max[0] = std::max(local_max[0], std::abs(e));
                local_max[1] = std::max(local_max[1], std::abs(exact_values[q]));
              }
          }
      double global[6], global_max[2];
      Utilities::MPI::sum(
          ArrayView<const double>(local, 6), communicator, ArrayView<double>(global, 6));
      Utilities::MPI::max(
          ArrayView<const double>(local_max, 2), communicator, ArrayView<double>(global_max, 2));
      DensityDiagnostics d;
      d.mass        = global[0];
      d.exact_mass  = global[1];
      d.errors.l1   = global[2] / global[4];
      d.errors.l2   = std::sqrt(global[3] / global[5]);
      d.errors.linf = global_max[0] / global_max[1];
      return d;
    }

    template <int dim, typename Backend>
    void DensitySolver<dim, Backend>::output(const double t, const unsigned int index)
    {
      TimerOutput::Scope scope(timer, "output");
      const double       c = scaling->scale(t);
      set_exact(t);
      ghosted = solution;

      if (snapshots != nullptr)
        {
          // dq/dt = M^{-1} F(t, q): the semi-discrete time derivative.
          VectorType F(locally_owned, communicator), derivative(locally_owned, communicator);
          apply_rhs(t, solution, F);
          solve_mass(F, derivative);
          snapshots->times.push_back(t);
          snapshots->densities.emplace_back(ghosted);
          snapshots->derivatives.emplace_back(locally_owned, locally_relevant, communicator);
          snapshots->derivatives.back() = derivative;
        }

      if (!points.empty())
        {
          const auto               &cache = *point_caches[scaling->enabled() ? index : 0];
          const std::vector<double> values =
              VectorTools::point_values<1>(cache, dof_handler, ghosted);
          std::vector<double> numerical(points.size()), exact_values(points.size());
          const double        inverse_c_d = std::pow(c, -double(dim));
          for (unsigned int i = 0; i < points.size(); ++i)
            {
              numerical[i]    = inverse_c_d * values[i];
              exact_values[i] = exact.physical_value(points[i]);
            }
          result.point_values.push_back(numerical);
          result.exact_point_values.push_back(exact_values);
          if (write_files && Utilities::MPI::this_mpi_process(communicator) == 0)
            {
              std::ofstream out(directory + "/point_values.csv",
                                index == 0 ? std::ios::trunc : std::ios::app);
              out << std::setprecision(12);
              if (index == 0)
                {
                  out << "time,point";
                  for (unsigned int j = 0; j < dim; ++j)
                    out << ",x" << j;
                  out << ",density,exact_density\n";
                }
              for (unsigned int i = 0; i < points.size(); ++i)
                {
                  out << t << "," << i;
                  for (unsigned int j = 0; j < dim; ++j)
                    out << "," << points[i][j];
                  out << "," << numerical[i] << "," << exact_values[i] << "\n";
                }
            }
        }

      if (reference)
        reference->template add_snapshot<VectorType>(t, c, dof_handler, ghosted, nullptr, nullptr);

      if (!write_files || !p.output.write_vtu)
        return;
      DensityPostprocessor<dim> postprocessor(exact);
      postprocessor.set_scale(c);
      ScaledDataOut<dim> data_out;
      data_out.attach_dof_handler(dof_handler);
      data_out.add_data_vector(ghosted, postprocessor);
      data_out.write_time_step(*triangulation,
                               *mapping,
                               p.mesh.geometry != "box",
                               fe.degree,
                               scaling->enabled() ? c : 1.0,
                               t,
                               directory,
                               index,
                               pvd_records);
    }

    template <int dim, typename Backend>
    void DensitySolver<dim, Backend>::write_statistics_row(const unsigned int        step,
                                                           const double              t,
                                                           const double              dt,
                                                           const DensityDiagnostics &d,
                                                           const unsigned int        iterations)
    {
      if (!statistics.is_open())
        return;
      const double wall = wall_seconds();
      statistics << step << "," << t << "," << dt << "," << d.mass << "," << d.errors.l1 << ","
                 << d.errors.l2 << "," << d.errors.linf << "," << iterations << "," << wall << "\n";
    }

    template <int dim, typename Backend>
    double DensitySolver<dim, Backend>::wall_seconds() const
    {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_wall).count();
    }

    template <int dim, typename Backend>
    DensityRunResult DensitySolver<dim, Backend>::run()
    {
      start_wall = std::chrono::steady_clock::now();
      setup_mesh_and_dofs();
      check_domain_holds_the_data();
      setup_points();
      // Everything the user can get wrong has been checked: from here on files appear.
      const bool root = Utilities::MPI::this_mpi_process(communicator) == 0;
      if (write_files && root)
        {
          std::filesystem::create_directories(directory);
          std::filesystem::remove(directory + "/summary.json");
          statistics.open(directory + "/statistics.csv");
          statistics << std::setprecision(10)
                     << "step,time,dt,mass,relative_L1,relative_L2,relative_Linf,"
                        "linear_iterations,wall_seconds\n";
        }
      // Other ranks write their .vtu pieces into the directory rank 0 just made.
      MPI_Barrier(communicator);
      if (writes_reference_file(p, refinement_level, write_files))
        reference = std::make_unique<ReferenceOutput<dim>>(p, data->description(), *triangulation);
      assemble_matrices();
      project_initial_density();

      describe_run(
          result, dof_handler, refinement_level, *process, *data, tableau, *scaling, Backend::name);

      pcout << "scorefp density: " << dim << "D " << process->name() << ", " << data->description()
            << ", Q" << fe.degree << ", level " << refinement_level << ", " << result.n_cells
            << " cells, " << result.n_dofs << " DoFs, " << result.n_ranks << " rank(s), "
            << Backend::name << ", " << tableau.name
            << (scaling->enabled() ? ", scaled coordinates" : "") << std::endl;

      OdeOperators<VectorType> operators;
      operators.apply_rhs = [this](double t, const VectorType &y, VectorType &F) {
        apply_rhs(t, y, F);
      };
      operators.solve_stage =
          [this](double t, double gamma_h, const VectorType &rhs, VectorType &Y, bool final_stage) {
            return solve_stage(t, gamma_h, rhs, Y, final_stage);
          };
      operators.solve_mass = [this](const VectorType &rhs, VectorType &x) {
        return solve_mass(rhs, x);
      };
      operators.apply_mass = [this](const VectorType &x, VectorType &Mx) {
        mass_matrix.vmult(Mx, x);
      };
      DirkIntegrator<VectorType> integrator(tableau, operators);

      const double       t0          = process->start_time;
      DensityDiagnostics diagnostics = compute_diagnostics(t0);
      result.initial_mass            = diagnostics.mass;
      const auto record_output       = [&](const unsigned int index, const double t) {
        result.output_times.push_back(t);
        result.output_errors.push_back(diagnostics.errors);
        result.output_masses.push_back(diagnostics.mass);
        result.max_errors.take_maximum(diagnostics.errors);
        output(t, index);
        if (statistics.is_open())
          statistics.flush();
      };
      write_statistics_row(0, t0, 0.0, diagnostics, 0);
      record_output(0, t0);

      TimeLoopHooks<VectorType> hooks;
      hooks.step = [&](double t, double h, const VectorType &y, VectorType &y_new, bool estimate) {
        return integrator.step(t, h, y, y_new, estimate);
      };
      hooks.accepted = [&](unsigned int step, double t, double h, const StepReport &report) {
        diagnostics = compute_diagnostics(t);
        write_statistics_row(step, t, h, diagnostics, report.linear_iterations);
      };
      hooks.output           = record_output;
      hooks.progress_figures = [&]() {
        std::ostringstream s;
        s << "L2 error = " << std::setw(9) << std::setprecision(3) << diagnostics.errors.l2
          << "  mass = " << std::setprecision(12) << diagnostics.mass;
        return s.str();
      };
      hooks.wall_seconds = [this]() { return wall_seconds(); };
      const TimeLoopCounters counters =
          run_time_loop(output_times,
                        p.time_stepping,
                        tableau.embedded_order,
                        p.output.progress_interval,
                        p.output.quiet || !pcout.is_active() ? nullptr : &pcout.get_stream(),
                        solution,
                        hooks);
      record_counters(result, counters);
      if (reference)
        reference->finish();
      result.final_mass              = diagnostics.mass;
      result.final_errors            = diagnostics.errors;
      result.n_preconditioner_builds = n_amg_builds;
      result.wall_seconds            = wall_seconds();
      pcout << "  " << result.n_steps << " steps (" << result.n_rejected_steps << " rejected), "
            << result.linear_iterations << " linear iterations, " << n_amg_builds
            << " multigrid setups; final relative L2 error " << std::setprecision(3)
            << result.final_errors.l2 << ", max over output times " << result.max_errors.l2
            << std::endl;
      if (!p.output.quiet)
        timer.print_wall_time_statistics(communicator);
      return result;
    }
  } // namespace density

  template <int dim, typename Backend>
  DensityRunResult solve_density(const Parameters  &p,
                                 const unsigned int refinement_level,
                                 const std::string &output_directory,
                                 const bool         write_files,
                                 const MPI_Comm     communicator)
  {
    density::DensitySolver<dim, Backend> solver(
        p, refinement_level, output_directory, write_files, communicator);
    return solver.run();
  }

  template <int dim, typename Backend>
  DensityRunResult solve_density_on(const Parameters                               &p,
                                    const dealii::parallel::TriangulationBase<dim> &mesh,
                                    const unsigned int              refinement_level,
                                    const std::string              &output_directory,
                                    const bool                      write_files,
                                    DensitySnapshots<dim, Backend> &snapshots)
  {
    density::DensitySolver<dim, Backend> solver(
        p, refinement_level, output_directory, write_files, mesh.get_communicator());
    solver.use_mesh(mesh, snapshots);
    return solver.run();
  }
} // namespace scorefp
