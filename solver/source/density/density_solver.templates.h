// Implementation of solve_density(): the density operator and its postprocessors on the
// finite-element skeleton. Included by one source file per linear-algebra backend, each
// instantiating dim = 1, 2, 3, so that a change recompiles two files.
#pragma once

#include "fe/fe_output.h"

#include <scorefp/core/input_error.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/density/density_snapshots.h>
#include <scorefp/density/density_solver.h>
#include <scorefp/fe/finite_element_run.h>
#include <scorefp/fe/linear_algebra.h>
#include <scorefp/io/io.h>
#include <scorefp/io/sample_files.h>
#include <scorefp/process/forward_process.h>

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

#include <cmath>
#include <limits>
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

      /// The exact law of the run at time t; NaN everywhere where the data set has no
      /// closed-form law at t (circles2 for t > 0).
      template <typename Run>
      void set_time(const Run &run, const double t)
      {
        if (run.has_law(t))
          set(run.law(t), run.scaling->scale(t));
        else
          field.reset();
      }

      double value(const Point<dim> &xi, const unsigned int = 0) const override
      {
        if (field == nullptr)
          return std::numeric_limits<double>::quiet_NaN();
        double x[dim];
        for (unsigned int j = 0; j < dim; ++j)
          x[j] = c * xi[j];
        return c_d * field->value(x);
      }

      /// The exact density at a point in original coordinates.
      double physical_value(const Point<dim> &x) const
      {
        if (field == nullptr)
          return std::numeric_limits<double>::quiet_NaN();
        double coordinates[dim];
        for (unsigned int j = 0; j < dim; ++j)
          coordinates[j] = x[j];
        return field->value(coordinates);
      }

    private:
      std::unique_ptr<DensityField> field;
      double                        c = 1.0, c_d = 1.0;
    };

    /// Fields written to VTU, in original coordinates: density, exact density and error
    /// (the density alone for data without a closed-form law at the output times).
    template <int dim>
    class DensityDataPostprocessor : public DataPostprocessor<dim>
    {
    public:
      DensityDataPostprocessor(const ExactDensityFunction<dim> &exact, const bool with_exact)
          : exact(exact)
          , with_exact(with_exact)
      {
      }

      void set_scale(const double c) { inverse_c_d = std::pow(c, -double(dim)); }

      void evaluate_scalar_field(const DataPostprocessorInputs::Scalar<dim> &inputs,
                                 std::vector<Vector<double>> &computed) const override
      {
        for (unsigned int q = 0; q < inputs.solution_values.size(); ++q)
          {
            const double p_h = inverse_c_d * inputs.solution_values[q];
            computed[q](0)   = p_h;
            if (with_exact)
              {
                const double p = inverse_c_d * exact.value(inputs.evaluation_points[q]);
                computed[q](1) = p;
                computed[q](2) = p_h - p;
              }
          }
      }

      std::vector<std::string> get_names() const override
      {
        if (!with_exact)
          return {"density"};
        return {"density", "exact_density", "error"};
      }

      std::vector<DataComponentInterpretation::DataComponentInterpretation>
      get_data_component_interpretation() const override
      {
        return std::vector<DataComponentInterpretation::DataComponentInterpretation>(
            get_names().size(), DataComponentInterpretation::component_is_scalar);
      }

      UpdateFlags get_needed_update_flags() const override
      {
        return update_values | update_quadrature_points;
      }

    private:
      const ExactDensityFunction<dim> &exact;
      const bool                       with_exact;
      double                           inverse_c_d = 1.0;
    };

    /// The linear affine FPE: M y' = -K(t) y, K(t) = a(t) A + g(t)^2/2 L, one linear
    /// solve per DIRK stage.
    template <int dim, typename Backend>
    class DensityOperator : public EquationOperator<dim, Backend>
    {
      using VectorType = typename Backend::Vector;
      using MatrixType = typename Backend::Matrix;

    public:
      explicit DensityOperator(FiniteElementRun<dim, Backend> &run)
          : run(run)
          , p(run.parameters)
          , fe(p.discretization.degree)
      {
      }

      std::string                     name() const override { return "density"; }
      const FiniteElement<dim>       &finite_element() const override { return fe; }
      std::string element_name() const override { return "Q" + std::to_string(fe.degree); }

      void setup_system() override;
      void assemble_system() override;
      void initial_value(VectorType &y) override;
      void apply_rhs(const double t, const VectorType &y, VectorType &F) override;
      unsigned int solve_stage(const double      t,
                               const double      gamma_h,
                               const VectorType &rhs,
                               VectorType       &Y,
                               const bool        final_stage) override;
      unsigned int solve_mass(const VectorType &rhs, VectorType &x) override;
      void apply_mass(const VectorType &x, VectorType &Mx) const override { mass_matrix.vmult(Mx, x); }

      std::string cost_summary(const unsigned long long linear_iterations) const override
      {
        return std::to_string(linear_iterations) + " linear iterations, " +
               std::to_string(n_amg_builds) + " multigrid setups";
      }

      unsigned int n_multigrid_setups() const { return n_amg_builds; }

      /// Integrals of the exact initial density (L2 projection) use a composite Gauss
      /// rule: data such as the checkerboard jump inside cells that are not aligned
      /// with it, where a single Gauss rule per cell is inaccurate.
      QIterated<dim> data_quadrature() const
      {
        return QIterated<dim>(QGauss<1>(fe.degree + 1), 4);
      }

    private:
      FiniteElementRun<dim, Backend> &run;
      const FiniteElementCase        &p;
      FE_Q<dim>                       fe;
      AffineConstraints<double>       constraints;

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
      VectorType   scratch;
    };

    template <int dim, typename Backend>
    void DensityOperator<dim, Backend>::setup_system()
    {
      const auto &dof_handler      = *run.dof_handler;
      const auto &locally_relevant = run.locally_relevant;
      constraints.clear();
      constraints.reinit(locally_relevant);
      DoFTools::make_hanging_node_constraints(dof_handler, constraints);
      if (p.discretization.boundary_condition ==
          DiscretizationParameters::BoundaryCondition::dirichlet)
        for (const auto id : run.triangulation->get_boundary_ids())
          VectorTools::interpolate_boundary_values(
              *run.mapping, dof_handler, id, Functions::ZeroFunction<dim>(), constraints);
      constraints.close();

      DynamicSparsityPattern dsp(locally_relevant);
      DoFTools::make_sparsity_pattern(dof_handler, dsp, constraints, false);
      SparsityTools::distribute_sparsity_pattern(
          dsp, run.locally_owned, run.communicator, locally_relevant);
      for (MatrixType *m : {&mass_matrix,
                            &advection_matrix,
                            &stiffness_matrix,
                            &stage_matrix,
                            &preconditioner_matrix})
        m->reinit(run.locally_owned, run.locally_owned, dsp, run.communicator);
      scratch.reinit(run.locally_owned, run.communicator);
    }

    template <int dim, typename Backend>
    void DensityOperator<dim, Backend>::assemble_system()
    {
      TimerOutput::Scope scope(run.timer, "assembly");
      const QGauss<dim>  quadrature(fe.degree + 1);
      FEValues<dim>      fe_values(*run.mapping,
                              fe,
                              quadrature,
                              update_values | update_gradients | update_quadrature_points |
                                  update_JxW_values);
      const unsigned int n = fe.n_dofs_per_cell();
      FullMatrix<double> cell_mass(n, n), cell_advection(n, n), cell_stiffness(n, n);
      std::vector<types::global_dof_index> dof_indices(n);

      for (const auto &cell : run.dof_handler->active_cell_iterators())
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
      for (const auto i : run.locally_owned)
        ratio = std::max(ratio, stiffness_matrix.diag_element(i) / mass_matrix.diag_element(i));
      stiffness_to_mass   = Utilities::MPI::max(ratio, run.communicator);
      mass_preconditioner = std::make_unique<typename Backend::Jacobi>();
      mass_preconditioner->initialize(mass_matrix);
    }

    template <int dim, typename Backend>
    unsigned int DensityOperator<dim, Backend>::solve_mass(const VectorType &rhs, VectorType &x)
    {
      TimerOutput::Scope scope(run.timer, "linear solves (mass)");
      const unsigned int iterations = solve_mass_system(mass_matrix,
                                                        x,
                                                        rhs,
                                                        *mass_preconditioner,
                                                        p.linear_solver.maximum_iterations,
                                                        p.linear_solver.relative_tolerance);
      constraints.distribute(x);
      return iterations;
    }

    template <int dim, typename Backend>
    void DensityOperator<dim, Backend>::initial_value(VectorType &solution)
    {
      TimerOutput::Scope          scope(run.timer, "initial projection");
      ExactDensityFunction<dim> exact;
      exact.set_time(run, run.process->start_time);
      // L2 projection (M y = (p0, phi)) rather than interpolation: it keeps the mass of
      // discontinuous data (checkerboard) and is the natural initial value for Galerkin.
      const QIterated<dim> quadrature = data_quadrature();
      FEValues<dim>        fe_values(*run.mapping,
                              fe,
                              quadrature,
                              update_values | update_quadrature_points | update_JxW_values);
      const unsigned int                   n = fe.n_dofs_per_cell();
      Vector<double>                       cell_rhs(n);
      std::vector<double>                  values(quadrature.size());
      std::vector<types::global_dof_index> dof_indices(n);
      VectorType                           rhs(run.locally_owned, run.communicator);
      for (const auto &cell : run.dof_handler->active_cell_iterators())
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
    void
    DensityOperator<dim, Backend>::apply_rhs(const double t, const VectorType &y, VectorType &F)
    {
      // F = -K(t) y = -(a A + g^2/2 L) y in the mesh coordinates.
      advection_matrix.vmult(F, y);
      F *= -run.scaling->drift_rate(t);
      stiffness_matrix.vmult(scratch, y);
      F.add(-0.5 * run.scaling->diffusion_squared(t), scratch);
    }

    template <int dim, typename Backend>
    unsigned int DensityOperator<dim, Backend>::solve_stage(const double      t,
                                                            const double      gamma_h,
                                                            const VectorType &rhs,
                                                            VectorType       &Y,
                                                            const bool        final_stage)
    {
      const double alpha = gamma_h * run.scaling->drift_rate(t);
      const double beta  = gamma_h * 0.5 * run.scaling->diffusion_squared(t);
      {
        TimerOutput::Scope scope(run.timer, "stage matrix");
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
          TimerOutput::Scope scope(run.timer, "preconditioner setup");
          amg.reset();
          preconditioner_matrix.copy_from(stage_matrix);
          amg = std::make_unique<typename Backend::AMG>();
          Backend::initialize_amg(*amg, preconditioner_matrix, fe.degree);
          amg_alpha = alpha;
          amg_beta  = beta;
          ++n_amg_builds;
        }
      TimerOutput::Scope scope(run.timer, "linear solves (stage)");
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

    /// Mass, relative L1, L2, Linf errors against the exact density, and the errors of
    /// the mean and covariance against the forward moments m E X_0 and m^2 Cov X_0 + v I
    /// (which every data set has, with or without a closed-form law): statistics.csv
    /// columns, progress figures, the VTU fields and the result's error record. For data
    /// without a closed-form law after the start (circles2) the density errors are absent
    /// and the moments are the check.
    template <int dim, typename Backend>
    class DensityErrors : public RunPostprocessor<dim, Backend>
    {
    public:
      DensityErrors(FiniteElementRun<dim, Backend> &run, DensityRunResult &result)
          : run(run)
          , result(result)
          , with_law(run.has_law_at_outputs())
          , data_postprocessor(exact, with_law)
      {
        result.has_errors = with_law;
      }

      void evaluate(const double t) override;

      std::string statistics_header() const override
      {
        return with_law ? "mass,relative_L1,relative_L2,relative_Linf,mean_error,covariance_error," :
                          "mass,mean_error,covariance_error,";
      }

      void write_statistics(std::ostream &out) const override
      {
        out << diagnostics.mass << ",";
        if (with_law)
          out << diagnostics.errors.l1 << "," << diagnostics.errors.l2 << ","
              << diagnostics.errors.linf << ",";
        out << diagnostics.moments.mean << "," << diagnostics.moments.covariance << ",";
      }

      std::string progress_figures() const override
      {
        std::ostringstream s;
        if (with_law)
          s << "L2 error = " << std::setw(9) << std::setprecision(3) << diagnostics.errors.l2;
        else
          s << "covariance error = " << std::setw(9) << std::setprecision(3)
            << diagnostics.moments.covariance;
        s << "  mass = " << std::setprecision(12) << diagnostics.mass;
        return s.str();
      }

      void at_output(const unsigned int index, const double t) override
      {
        if (index == 0)
          result.initial_mass = diagnostics.mass;
        result.output_times.push_back(t);
        result.output_errors.push_back(diagnostics.errors);
        result.output_masses.push_back(diagnostics.mass);
        result.output_moment_errors.push_back(diagnostics.moments);
        result.max_errors.take_maximum(diagnostics.errors);
        result.max_moment_errors.take_maximum(diagnostics.moments);
      }

      void add_output_fields(DataOut<dim> &data_out, const double t) override
      {
        exact.set_time(run, t);
        data_postprocessor.set_scale(run.scaling->scale(t));
        data_out.add_data_vector(run.ghosted_solution(), data_postprocessor);
      }

      void finish() override
      {
        result.final_mass          = diagnostics.mass;
        result.final_errors        = diagnostics.errors;
        result.final_moment_errors = diagnostics.moments;
      }

      std::string summary() const override
      {
        std::ostringstream s;
        s << std::setprecision(3);
        if (with_law)
          s << "final relative L2 error " << result.final_errors.l2 << ", max over output times "
            << result.max_errors.l2 << "; ";
        s << "moments: max mean error " << result.max_moment_errors.mean
          << ", max covariance error " << result.max_moment_errors.covariance;
        return s.str();
      }

    private:
      FiniteElementRun<dim, Backend> &run;
      DensityRunResult               &result;
      const bool                      with_law;
      ExactDensityFunction<dim>       exact;
      DensityDataPostprocessor<dim>   data_postprocessor;
      DensityDiagnostics              diagnostics;
    };

    template <int dim, typename Backend>
    void DensityErrors<dim, Backend>::evaluate(const double t)
    {
      TimerOutput::Scope scope(run.timer, "errors");
      // One pass over the cells for mass and all three error norms and the norms of
      // the exact density (integrate_difference would need six passes). The norms are
      // taken in the mesh coordinates; relative norms and mass are the same in x.
      exact.set_time(run, t);
      const auto              &ghosted = run.ghosted_solution();
      const FiniteElement<dim> &fe     = run.dof_handler->get_fe();
      const QGauss<dim>         quadrature(fe.degree + 2);
      FEValues<dim>             fe_values(*run.mapping,
                              fe,
                              quadrature,
                              update_values | update_quadrature_points | update_JxW_values);
      std::vector<double> numerical(quadrature.size()), exact_values(quadrature.size(), 0.0);
      double local[6]     = {0, 0, 0, 0, 0, 0}; // mass, exact mass, |e|_1, |e|_2^2, |p|_1, |p|_2^2
      double local_max[2] = {0, 0};             // |e|_inf, |p|_inf
      // First and second moments of p_h in the mesh coordinates xi (x = c xi).
      constexpr unsigned int n_moments = dim + dim * dim;
      double                 local_moments[n_moments] = {};
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            fe_values.get_function_values(ghosted, numerical);
            if (with_law)
              exact.value_list(fe_values.get_quadrature_points(), exact_values);
            for (unsigned int q = 0; q < quadrature.size(); ++q)
              {
                const double JxW = fe_values.JxW(q);
                const Point<dim> &xi = fe_values.quadrature_point(q);
                for (unsigned int a = 0; a < dim; ++a)
                  {
                    local_moments[a] += xi[a] * numerical[q] * JxW;
                    for (unsigned int b = 0; b < dim; ++b)
                      local_moments[dim + a * dim + b] += xi[a] * xi[b] * numerical[q] * JxW;
                  }
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
          ArrayView<const double>(local, 6), run.communicator, ArrayView<double>(global, 6));
      Utilities::MPI::max(ArrayView<const double>(local_max, 2),
                          run.communicator,
                          ArrayView<double>(global_max, 2));
      double global_moments[n_moments];
      Utilities::MPI::sum(ArrayView<const double>(local_moments, n_moments),
                          run.communicator,
                          ArrayView<double>(global_moments, n_moments));
      DensityDiagnostics &d = diagnostics;
      d.mass                = global[0];
      d.exact_mass          = global[1];
      const double nan      = std::numeric_limits<double>::quiet_NaN();
      d.errors.l1           = with_law ? global[2] / global[4] : nan;
      d.errors.l2           = with_law ? std::sqrt(global[3] / global[5]) : nan;
      d.errors.linf         = with_law ? global_max[0] / global_max[1] : nan;

      // Against the forward moments: mean m mu_0, covariance m^2 C_0 + v I, errors
      // relative to the standard deviation sigma^2 = tr C / d (mean) and to sigma^2
      // (covariance), maxima over the entries.
      const double              c  = run.scaling->scale(t);
      const double              m  = run.process->transition_mean_factor(t);
      const double              v  = run.process->transition_variance(t);
      const std::vector<double> mu = run.data->mean(), c0 = run.data->covariance();
      double                    mean_h[dim], trace = 0.0;
      for (unsigned int a = 0; a < dim; ++a)
        {
          mean_h[a] = c * global_moments[a] / d.mass;
          trace += m * m * c0[a * dim + a] + v;
        }
      const double sigma2 = trace / dim;
      d.moments           = MomentErrors();
      for (unsigned int a = 0; a < dim; ++a)
        {
          d.moments.mean = std::max(d.moments.mean, std::abs(mean_h[a] - m * mu[a]) / std::sqrt(sigma2));
          for (unsigned int b = 0; b < dim; ++b)
            {
              const double cov_h =
                  c * c * global_moments[dim + a * dim + b] / d.mass - mean_h[a] * mean_h[b];
              const double cov = m * m * c0[a * dim + b] + (a == b ? v : 0.0);
              d.moments.covariance = std::max(d.moments.covariance, std::abs(cov_h - cov) / sigma2);
            }
        }
    }

    /// Output/Points file: the density at the user's points (original coordinates) at
    /// every output time, into the result and point_values.csv.
    template <int dim, typename Backend>
    class PointValues : public RunPostprocessor<dim, Backend>
    {
    public:
      PointValues(FiniteElementRun<dim, Backend> &run, DensityRunResult &result)
          : run(run)
          , result(result)
      {
      }

      void initialize() override;
      void at_output(const unsigned int index, const double t) override;

    private:
      FiniteElementRun<dim, Backend> &run;
      DensityRunResult               &result;
      ExactDensityFunction<dim>       exact;
      std::vector<Point<dim>>         points; // original coordinates
      std::vector<std::unique_ptr<Utilities::MPI::RemotePointEvaluation<dim>>> point_caches;
    };

    template <int dim, typename Backend>
    void PointValues<dim, Backend>::initialize()
    {
      const OutputParameters &output = run.parameters.output;
      if (output.points_file.empty())
        return;
      const SampleSet table = read_samples(output.points_file, dim, "Output/Points file");
      for (std::size_t i = 0; i < table.size(); ++i)
        {
          Point<dim> x;
          for (unsigned int j = 0; j < dim; ++j)
            x[j] = table(i, j);
          points.push_back(x);
        }
      // One search structure per output time: with scaled coordinates the points move
      // through the mesh (xi = x / c(t)). Every point must be inside at every output
      // time; this is checked now, before any output is written.
      const unsigned int n_caches = run.scaling->enabled() ? run.output_times.size() : 1;
      for (unsigned int k = 0; k < n_caches; ++k)
        {
          const double            c = run.scaling->scale(run.output_times[k]);
          std::vector<Point<dim>> xi(points);
          for (auto &x : xi)
            x /= c;
          auto cache = std::make_unique<Utilities::MPI::RemotePointEvaluation<dim>>();
          cache->reinit(xi, *run.triangulation, *run.mapping);
          // Decided on all ranks together so that no rank is left waiting.
          if (Utilities::MPI::min(cache->all_points_found() ? 1 : 0, run.communicator) == 0)
            throw InputError(
                "Output/Points file '" + output.points_file + "' has points outside the mesh" +
                (run.scaling->enabled()
                     ? " at t = " + std::to_string(run.output_times[k]) +
                           " (in scaled coordinates)"
                     : std::string()) +
                "; expected every point inside the domain.");
          point_caches.push_back(std::move(cache));
        }
    }

    template <int dim, typename Backend>
    void PointValues<dim, Backend>::at_output(const unsigned int index, const double t)
    {
      if (points.empty())
        return;
      TimerOutput::Scope        scope(run.timer, "output");
      const double              c = run.scaling->scale(t);
      exact.set_time(run, t);
      const auto               &cache = *point_caches[run.scaling->enabled() ? index : 0];
      const std::vector<double> values =
          VectorTools::point_values<1>(cache, *run.dof_handler, run.ghosted_solution());
      std::vector<double> numerical(points.size()), exact_values(points.size());
      const double        inverse_c_d = std::pow(c, -double(dim));
      for (unsigned int i = 0; i < points.size(); ++i)
        {
          numerical[i]    = inverse_c_d * values[i];
          exact_values[i] = exact.physical_value(points[i]);
        }
      result.point_values.push_back(numerical);
      result.exact_point_values.push_back(exact_values);
      if (run.write_files && run.is_root())
        {
          std::ofstream out(run.directory + "/point_values.csv",
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

    /// The density and its semi-discrete time derivative dq/dt = M^{-1} F(t, q) at the
    /// output times, kept for a solve on the same mesh (the score's companion density).
    template <int dim, typename Backend>
    class SnapshotRecorder : public RunPostprocessor<dim, Backend>
    {
      using VectorType = typename Backend::Vector;

    public:
      SnapshotRecorder(FiniteElementRun<dim, Backend> &run,
                       DensityOperator<dim, Backend>  &density,
                       DensitySnapshots<dim, Backend> &snapshots)
          : run(run)
          , density(density)
          , snapshots(snapshots)
      {
        snapshots.dof_handler = run.dof_handler;
      }

      void at_output(const unsigned int, const double t) override
      {
        TimerOutput::Scope scope(run.timer, "output");
        VectorType         F(run.locally_owned, run.communicator),
            derivative(run.locally_owned, run.communicator);
        density.apply_rhs(t, run.solution, F);
        density.solve_mass(F, derivative);
        snapshots.times.push_back(t);
        snapshots.densities.emplace_back(run.ghosted_solution());
        snapshots.derivatives.emplace_back(run.locally_owned,
                                           run.locally_relevant,
                                           run.communicator);
        snapshots.derivatives.back() = derivative;
      }

    private:
      FiniteElementRun<dim, Backend> &run;
      DensityOperator<dim, Backend>  &density;
      DensitySnapshots<dim, Backend> &snapshots;
    };

    /// The density at the output times through a SolutionWriter (the reference file).
    template <int dim, typename Backend>
    class DensityWriter : public RunPostprocessor<dim, Backend>
    {
      using VectorType = typename Backend::Vector;

    public:
      DensityWriter(FiniteElementRun<dim, Backend>                   &run,
                    const SolutionWriterFactory<dim, VectorType> &factory)
          : run(run)
          , factory(factory)
      {
      }

      void begin() override { writer = factory(*run.triangulation, run.data->description()); }

      void at_output(const unsigned int, const double t) override
      {
        TimerOutput::Scope scope(run.timer, "output");
        writer->add_snapshot(
            t, run.scaling->scale(t), *run.dof_handler, run.ghosted_solution(), nullptr, nullptr);
      }

      void finish() override { writer->finish(); }

    private:
      FiniteElementRun<dim, Backend>                   &run;
      const SolutionWriterFactory<dim, VectorType>     &factory;
      std::unique_ptr<SolutionWriter<dim, VectorType>> writer;
    };

    /// One density run: the skeleton, the operator, and the postprocessors the case
    /// asks for (snapshots: kept for the caller; reference: a writer factory or empty).
    template <int dim, typename Backend>
    DensityRunResult run(const FiniteElementCase                                    &parameters,
                         const parallel::TriangulationBase<dim>                     *mesh,
                         const unsigned int                                          level,
                         const std::string                                          &directory,
                         const bool                                                  write_files,
                         const MPI_Comm                                              communicator,
                         DensitySnapshots<dim, Backend>                             *snapshots,
                         const SolutionWriterFactory<dim, typename Backend::Vector> &reference)
    {
      DensityRunResult               result;
      FiniteElementRun<dim, Backend> skeleton(
          parameters, level, directory, write_files, communicator);
      if (mesh != nullptr)
        skeleton.use_mesh(*mesh);
      DensityOperator<dim, Backend> density(skeleton);
      skeleton.set_operator(density);

      DensityErrors<dim, Backend> errors(skeleton, result);
      PointValues<dim, Backend>   point_values(skeleton, result);
      skeleton.add_postprocessor(errors);
      skeleton.add_postprocessor(point_values);
      std::unique_ptr<SnapshotRecorder<dim, Backend>> recorder;
      if (snapshots != nullptr)
        {
          recorder = std::make_unique<SnapshotRecorder<dim, Backend>>(skeleton, density, *snapshots);
          skeleton.add_postprocessor(*recorder);
        }
      std::unique_ptr<DensityWriter<dim, Backend>> writer;
      if (reference)
        {
          writer = std::make_unique<DensityWriter<dim, Backend>>(skeleton, reference);
          skeleton.add_postprocessor(*writer);
        }

      skeleton.run(result);
      result.n_preconditioner_builds = density.n_multigrid_setups();
      return result;
    }
  } // namespace density

  template <int dim, typename Backend>
  DensityRunResult
  solve_density(const FiniteElementCase                                    &parameters,
                const unsigned int                                          refinement_level,
                const std::string                                          &output_directory,
                const bool                                                  write_files,
                const MPI_Comm                                              communicator,
                const SolutionWriterFactory<dim, typename Backend::Vector> &reference)
  {
    return density::run<dim, Backend>(parameters,
                                      nullptr,
                                      refinement_level,
                                      output_directory,
                                      write_files,
                                      communicator,
                                      nullptr,
                                      reference);
  }

  template <int dim, typename Backend>
  DensityRunResult solve_density_on(const FiniteElementCase                        &parameters,
                                    const dealii::parallel::TriangulationBase<dim> &mesh,
                                    const unsigned int              refinement_level,
                                    const std::string              &output_directory,
                                    const bool                      write_files,
                                    DensitySnapshots<dim, Backend> &snapshots)
  {
    return density::run<dim, Backend>(parameters,
                                      &mesh,
                                      refinement_level,
                                      output_directory,
                                      write_files,
                                      mesh.get_communicator(),
                                      &snapshots,
                                      {});
  }
} // namespace scorefp
