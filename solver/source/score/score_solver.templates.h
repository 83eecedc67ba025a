// Implementation of solve_score(): the Newton-DIRK operator of the score and log-density
// equations and their postprocessors (errors, residuals, companion density, tail
// shells, reference file) on the finite-element skeleton. Included by one source file
// per linear-algebra backend, each instantiating dim = 1, 2, 3.
//
// One operator serves both forms. The score form has d components (s in R^d), the
// log-density form one (u = log p); both are written in the mesh coordinates xi = x/c(t)
// with the coefficients of CoordinateScaling, so that s_xi = c s_x and u_xi = u_x + d log c.
#pragma once

#include "fe/fe_output.h"

#include <scorefp/core/input_error.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/density/density_snapshots.h>
#include <scorefp/fe/finite_element_run.h>
#include <scorefp/fe/linear_algebra.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/score/score_solver.h>
#include <scorefp/time_integration/time_loop.h>

#include <deal.II/base/function.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/quadrature_lib.h>
#include <deal.II/base/timer.h>
#include <deal.II/base/utilities.h>
#include <deal.II/dofs/dof_handler.h>
#include <deal.II/dofs/dof_tools.h>
#include <deal.II/fe/fe_q.h>
#include <deal.II/fe/fe_system.h>
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

#include <array>
#include <cmath>
#include <functional>
#include <iomanip>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

namespace scorefp
{
  namespace score
  {
    using namespace dealii;

    /// The exact (or far-field) law at one time, seen in the mesh coordinates: the
    /// score c s(c xi) (d components) or the log-density log p(c xi) + d log c (one
    /// component), optionally plus the bump phi(x) = A exp(-|x|^2/(2 w^2)) (added to
    /// log p, grad phi added to s), which makes a field that is not a solution.
    template <int dim>
    class LawFunction : public Function<dim>
    {
    public:
      LawFunction(const bool log_form, const double bump_amplitude, const double bump_width)
          : Function<dim>(log_form ? 1 : dim)
          , log_form(log_form)
          , amplitude(bump_amplitude)
          , width(bump_width)
      {
      }

      void set(std::unique_ptr<DensityField> law, const double scale)
      {
        field = std::move(law);
        c     = scale;
      }

      void vector_value(const Point<dim> &xi, Vector<double> &values) const override
      {
        double x[dim], s[dim];
        for (unsigned int j = 0; j < dim; ++j)
          x[j] = c * xi[j];
        double r2 = 0;
        for (unsigned int j = 0; j < dim; ++j)
          r2 += x[j] * x[j];
        const double bump = amplitude * std::exp(-0.5 * r2 / (width * width));
        if (log_form)
          values(0) = field->log_value(x) + dim * std::log(c) + bump;
        else
          {
            field->score(x, s);
            for (unsigned int j = 0; j < dim; ++j)
              values(j) = c * (s[j] - bump * x[j] / (width * width));
          }
      }

      double value(const Point<dim> &xi, const unsigned int component) const override
      {
        Vector<double> values(this->n_components);
        vector_value(xi, values);
        return values(component);
      }

      /// The law's density q(xi) = c^d p(c xi) and score s_xi = c s_x(c xi) (no bump).
      double density(const Point<dim> &xi) const
      {
        double x[dim];
        for (unsigned int j = 0; j < dim; ++j)
          x[j] = c * xi[j];
        return std::pow(c, dim) * field->value(x);
      }

      Tensor<1, dim> score(const Point<dim> &xi) const
      {
        double x[dim], s[dim];
        for (unsigned int j = 0; j < dim; ++j)
          x[j] = c * xi[j];
        field->score(x, s);
        Tensor<1, dim> result;
        for (unsigned int j = 0; j < dim; ++j)
          result[j] = c * s[j];
        return result;
      }

      double scale() const { return c; }
      /// Only the scale (data without a closed-form law at t: no field).
      void set_scale(const double scale)
      {
        field.reset();
        c = scale;
      }

    private:
      const bool                    log_form;
      const double                  amplitude, width;
      std::unique_ptr<DensityField> field;
      double                        c = 1.0;
    };

    /// VTU fields in the original coordinates. Score form: score, exact_score,
    /// score_error, exact_density. Log-density form adds log_density and density.
    template <int dim>
    class ScorePostprocessor : public DataPostprocessor<dim>
    {
    public:
      ScorePostprocessor(const LawFunction<dim> &exact,
                         const bool              log_form,
                         const double            log_normalisation,
                         const bool              with_law = true)
          : exact(exact)
          , log_form(log_form)
          , log_z(log_normalisation)
          , with_law(with_law)
      {
      }

      void evaluate_vector_field(const DataPostprocessorInputs::Vector<dim> &inputs,
                                 std::vector<Vector<double>> &computed) const override
      {
        for (unsigned int q = 0; q < inputs.solution_values.size(); ++q)
          {
            Tensor<1, dim> s_h;
            for (unsigned int j = 0; j < dim; ++j)
              s_h[j] = inputs.solution_values[q](j);
            fill(q, inputs.evaluation_points[q], s_h, 0.0, computed);
          }
      }

      void evaluate_scalar_field(const DataPostprocessorInputs::Scalar<dim> &inputs,
                                 std::vector<Vector<double>> &computed) const override
      {
        // One component: u = log p (log form), or the score itself in 1D.
        for (unsigned int q = 0; q < inputs.solution_values.size(); ++q)
          if (log_form)
            fill(q,
                 inputs.evaluation_points[q],
                 inputs.solution_gradients[q],
                 inputs.solution_values[q],
                 computed);
          else
            {
              Tensor<1, dim> s_h;
              s_h[0] = inputs.solution_values[q];
              fill(q, inputs.evaluation_points[q], s_h, 0.0, computed);
            }
      }

      std::vector<std::string> get_names() const override
      {
        std::vector<std::string> names(dim, "score");
        if (!with_law)
          return names;
        for (const std::string name : {"exact_score", "score_error"})
          names.insert(names.end(), dim, name);
        names.push_back("exact_density");
        if (log_form)
          {
            names.push_back("density");
            names.push_back("log_density");
          }
        return names;
      }

      std::vector<DataComponentInterpretation::DataComponentInterpretation>
      get_data_component_interpretation() const override
      {
        std::vector<DataComponentInterpretation::DataComponentInterpretation> kinds(
            (with_law ? 3 : 1) * dim, DataComponentInterpretation::component_is_part_of_vector);
        if (!with_law)
          return kinds;
        kinds.insert(
            kinds.end(), log_form ? 3 : 1, DataComponentInterpretation::component_is_scalar);
        return kinds;
      }

      UpdateFlags get_needed_update_flags() const override
      {
        return update_values | update_gradients | update_quadrature_points;
      }

    private:
      void fill(const unsigned int           q,
                const Point<dim>            &xi,
                const Tensor<1, dim>        &s_h_xi,
                const double                 u_h,
                std::vector<Vector<double>> &computed) const
      {
        const double         c   = exact.scale();
        const Tensor<1, dim> s_h = s_h_xi / c;
        if (!with_law)
          {
            for (unsigned int j = 0; j < dim; ++j)
              computed[q](j) = s_h[j];
            return;
          }
        const Tensor<1, dim> s = exact.score(xi) / c;
        for (unsigned int j = 0; j < dim; ++j)
          {
            computed[q](j)           = s_h[j];
            computed[q](dim + j)     = s[j];
            computed[q](2 * dim + j) = s_h[j] - s[j];
          }
        const double inverse_c_d = std::pow(c, -double(dim));
        computed[q](3 * dim)     = inverse_c_d * exact.density(xi);
        if (log_form)
          {
            computed[q](3 * dim + 1) = inverse_c_d * std::exp(u_h - log_z);
            computed[q](3 * dim + 2) = u_h - log_z - dim * std::log(c);
          }
      }

      const LawFunction<dim> &exact;
      const bool              log_form;
      const double            log_z;
      const bool              with_law;
    };

    /// The largest threshold tau with int_{p >= tau} p >= fraction (the highest-
    /// density region holding that probability), from density values and their
    /// weights p JxW at quadrature points spread over the ranks. Bisection in log tau:
    /// a parallel sort would cost more than these 60 reductions.
    inline double highest_density_threshold(const std::vector<double> &values,
                                            const std::vector<double> &weights,
                                            const double               fraction,
                                            const MPI_Comm             communicator)
    {
      double local_total = 0, local_max = 0;
      for (unsigned int i = 0; i < values.size(); ++i)
        {
          local_total += weights[i];
          local_max = std::max(local_max, values[i]);
        }
      const double total = Utilities::MPI::sum(local_total, communicator);
      const double max   = Utilities::MPI::max(local_max, communicator);
      double       lo = std::log(max) - 700, hi = std::log(max);
      for (unsigned int k = 0; k < 60; ++k)
        {
          const double mid = 0.5 * (lo + hi), tau = std::exp(mid);
          double       mass = 0;
          for (unsigned int i = 0; i < values.size(); ++i)
            if (values[i] >= tau)
              mass += weights[i];
          if (Utilities::MPI::sum(mass, communicator) >= fraction * total)
            lo = mid;
          else
            hi = mid;
        }
      return std::exp(lo);
    }

    /// ScoreErrors from the sums of |e|^2 and |s|^2 over the domain, the bulk and the
    /// tail, in this order (an empty region gives NaN), and the Fisher divergence.
    inline ScoreErrors score_errors(const double *sums, const double fisher)
    {
      const auto ratio = [](const double e, const double s) {
        return s > 0 ? std::sqrt(e / s) : std::numeric_limits<double>::quiet_NaN();
      };
      ScoreErrors errors;
      errors.l2      = ratio(sums[0], sums[1]);
      errors.l2_bulk = ratio(sums[2], sums[3]);
      errors.l2_tail = ratio(sums[4], sums[5]);
      errors.fisher  = fisher;
      return errors;
    }

    /// What the residual formulas need of a score field at a point (mesh coordinates):
    /// s, its Jacobian Ds[i][k] = d_k s_i, grad(div s), ds/dt; and, for fields with a
    /// potential u (s = grad u), du/dt and Laplace u.
    template <int dim>
    struct ScoreJet
    {
      Tensor<1, dim> s, grad_div, s_t;
      Tensor<2, dim> Ds;
      double         u_t = 0.0, laplace_u = 0.0;
    };

    /// Score-form residual r = ds/dt - grad[G/2 (div s + |s|^2) + a xi . s] (MATH.md 3).
    template <int dim>
    Tensor<1, dim>
    score_residual(const ScoreJet<dim> &j, const Point<dim> &xi, const double a, const double G)
    {
      Tensor<1, dim> r;
      for (unsigned int k = 0; k < dim; ++k)
        {
          double s_grad_s = 0, xi_grad_s = 0;
          for (unsigned int i = 0; i < dim; ++i)
            {
              s_grad_s += j.s[i] * j.Ds[i][k];
              xi_grad_s += xi[i] * j.Ds[i][k];
            }
          r[k] = j.s_t[k] - 0.5 * G * (j.grad_div[k] + 2 * s_grad_s) - a * (j.s[k] + xi_grad_s);
        }
      return r;
    }

    /// Log-form residual R = du/dt - [G/2 (Laplace u + |grad u|^2) + a xi . grad u + a d].
    template <int dim>
    double
    log_residual(const ScoreJet<dim> &j, const Point<dim> &xi, const double a, const double G)
    {
      return j.u_t - 0.5 * G * (j.laplace_u + j.s * j.s) - a * (xi * j.s) - a * dim;
    }

    /// Half-width of the central differences that give the time derivative of a
    /// closed-form field (and of the boundary data): small against every time scale of
    /// the presets, large against rounding (error about 1e-10 relative).
    inline double difference_step(const ForwardProcess &process)
    {
      return 1e-6 * (process.final_time - process.start_time);
    }

    /// d/dt of the vector fill(t', y) at t: central differences, one-sided at t0.
    template <int dim, typename Backend>
    void differentiate_in_time(const FiniteElementRun<dim, Backend> &run,
                               const double                          t,
                               const std::function<void(double, typename Backend::Vector &)> &fill,
                               typename Backend::Vector &derivative)
    {
      using VectorType   = typename Backend::Vector;
      const double delta = difference_step(*run.process);
      VectorType   a(run.locally_owned, run.communicator), b(run.locally_owned, run.communicator);
      if (t - delta >= run.process->start_time)
        {
          fill(t + delta, a);
          fill(t - delta, b);
          derivative = a;
          derivative -= b;
          derivative *= 0.5 / delta;
        }
      else
        {
          // Second-order one-sided: (-3 f(t) + 4 f(t + d) - f(t + 2d)) / (2 d).
          fill(t, a);
          derivative.equ(-3.0, a);
          fill(t + delta, a);
          derivative.add(4.0, a);
          fill(t + 2 * delta, a);
          derivative.add(-1.0, a);
          derivative *= 0.5 / delta;
        }
    }

    /// Nodal interpolation of `law` (set to the exact law at t, with its bump if any).
    template <int dim, typename Backend>
    void interpolate_law(const FiniteElementRun<dim, Backend> &run,
                         LawFunction<dim>                     &law,
                         const double                          t,
                         typename Backend::Vector             &y)
    {
      law.set(run.law(t), run.scaling->scale(t));
      VectorTools::interpolate(*run.mapping, *run.dof_handler, law, y);
    }

    /// The score or log-density equation: M y' = F(t, y) nonlinear, Newton's method on
    /// each DIRK stage with the boundary values imposed on the stage.
    template <int dim, typename Backend>
    class ScoreOperator : public EquationOperator<dim, Backend>
    {
      using VectorType = typename Backend::Vector;
      using MatrixType = typename Backend::Matrix;

    public:
      ScoreOperator(FiniteElementRun<dim, Backend> &run, const ScoreParameters &score)
          : log_form(run.parameters.equation == Equation::log_density)
          , n_components(log_form ? 1 : dim)
          , run(run)
          , p(run.parameters)
          , score(score)
          , fe(FE_Q<dim>(p.discretization.degree), log_form ? 1 : dim)
          , exact(log_form, 0.0, 1.0)
          , boundary_law(log_form, 0.0, 1.0)
      {
      }

      std::string name() const override { return equation_name(p.equation); }
      const FiniteElement<dim> &finite_element() const override { return fe; }
      std::string               element_name() const override
      {
        return "Q" + std::to_string(fe.degree) + (log_form ? "" : "^d");
      }
      std::string banner_details() const override
      {
        return ", " + boundary_data_name(score.boundary_condition) + " boundary data";
      }

      void setup_system() override;
      void assemble_system() override;
      void initial_value(VectorType &y) override
      {
        TimerOutput::Scope scope(run.timer, "initial interpolation");
        // The closed-form initial law is smooth (the checkerboard is smoothed):
        // nodal interpolation is accurate to the element's order.
        interpolate_law(run, exact, run.process->start_time, y);
      }
      void begin_step() override
      {
        jacobian_is_current = false; // a new step: new step size, new state
      }
      void apply_rhs(const double t, const VectorType &y, VectorType &F) override
      {
        ghosted = y;
        assemble(t, 0.0, ghosted, F, false);
      }
      unsigned int solve_stage(const double      t,
                               const double      gamma_h,
                               const VectorType &rhs,
                               VectorType       &Y,
                               const bool        final_stage) override;
      unsigned int solve_mass(const VectorType &rhs, VectorType &x) override;
      void         apply_mass(const VectorType &x, VectorType &Mx) const override
      {
        mass_matrix.vmult(Mx, x);
      }

      std::string statistics_header() const override { return "newton_iterations,"; }
      void        write_statistics(std::ostream &out) const override
      {
        out << newton_iterations << ",";
      }
      std::string cost_summary(const unsigned long long linear_iterations) const override
      {
        return std::to_string(newton_iterations) + " Newton iterations, " +
               std::to_string(linear_iterations) + " linear iterations, " +
               std::to_string(n_jacobians) + " Jacobians";
      }

      /// The semi-discrete time derivative of y at t (boundary rows: the rate of the
      /// imposed data).
      void time_derivative(const double t, const VectorType &y, VectorType &y_dot);

      const bool         log_form;
      const unsigned int n_components;
      unsigned long long newton_iterations = 0;
      unsigned int       n_jacobians       = 0;

    private:
      void set_boundary_law(const double t);
      void impose_boundary_values(const double t, VectorType &y);
      void assemble(const double      t,
                    const double      gamma_h,
                    const VectorType &y_ghosted,
                    VectorType       &F,
                    const bool        with_jacobian);

      FiniteElementRun<dim, Backend> &run;
      const FiniteElementCase        &p;
      const ScoreParameters          &score;
      FESystem<dim>                   fe;
      // `hanging` holds hanging-node constraints only: the residual and the mass matrix
      // that multiplies whole solution vectors (boundary values included). `constraints`
      // adds homogeneous Dirichlet rows: Newton updates, Jacobians, mass solves.
      AffineConstraints<double> hanging, constraints;

      MatrixType                                mass_matrix, condensed_mass_matrix, jacobian;
      std::unique_ptr<typename Backend::AMG>    amg;
      std::unique_ptr<typename Backend::Jacobi> jacobi, mass_preconditioner;
      bool       jacobian_is_current = false; // for this step and gamma h
      double     jacobian_gamma_h    = 0.0;
      double     stiffness_to_mass   = 0.0;
      VectorType ghosted, residual, F_work;

      LawFunction<dim> exact, boundary_law;
    };

    template <int dim, typename Backend>
    void ScoreOperator<dim, Backend>::setup_system()
    {
      const auto &dof_handler = *run.dof_handler;
      hanging.clear();
      hanging.reinit(run.locally_relevant);
      DoFTools::make_hanging_node_constraints(dof_handler, hanging);
      hanging.close();
      constraints.clear();
      constraints.reinit(run.locally_relevant);
      constraints.merge(hanging);
      for (const auto id : run.triangulation->get_boundary_ids())
        VectorTools::interpolate_boundary_values(*run.mapping,
                                                 dof_handler,
                                                 id,
                                                 Functions::ZeroFunction<dim>(n_components),
                                                 constraints);
      constraints.close();

      DynamicSparsityPattern dsp(run.locally_relevant);
      DoFTools::make_sparsity_pattern(dof_handler, dsp, hanging, true);
      SparsityTools::distribute_sparsity_pattern(
          dsp, run.locally_owned, run.communicator, run.locally_relevant);
      for (MatrixType *m : {&mass_matrix, &condensed_mass_matrix, &jacobian})
        m->reinit(run.locally_owned, run.locally_owned, dsp, run.communicator);
      for (VectorType *v : {&residual, &F_work})
        v->reinit(run.locally_owned, run.communicator);
      ghosted.reinit(run.locally_owned, run.locally_relevant, run.communicator);
    }

    template <int dim, typename Backend>
    void ScoreOperator<dim, Backend>::assemble_system()
    {
      TimerOutput::Scope scope(run.timer, "assembly");
      const QGauss<dim>  quadrature(fe.degree + 1);
      FEValues<dim>      fe_values(
          *run.mapping, fe, quadrature, update_values | update_gradients | update_JxW_values);
      const unsigned int                   n = fe.n_dofs_per_cell();
      FullMatrix<double>                   cell_mass(n, n);
      std::vector<types::global_dof_index> dof_indices(n);
      double                               local_ratio = 0;
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            cell_mass = 0;
            Vector<double> stiffness_diagonal(n);
            for (unsigned int q = 0; q < quadrature.size(); ++q)
              for (unsigned int i = 0; i < n; ++i)
                {
                  const unsigned int ci = fe.system_to_component_index(i).first;
                  stiffness_diagonal(i) +=
                      fe_values.shape_grad(i, q).norm_square() * fe_values.JxW(q);
                  for (unsigned int j = 0; j < n; ++j)
                    if (fe.system_to_component_index(j).first == ci)
                      cell_mass(i, j) += fe_values.shape_value(i, q) * fe_values.shape_value(j, q) *
                                         fe_values.JxW(q);
                }
            for (unsigned int i = 0; i < n; ++i)
              local_ratio = std::max(local_ratio, stiffness_diagonal(i) / cell_mass(i, i));
            cell->get_dof_indices(dof_indices);
            hanging.distribute_local_to_global(cell_mass, dof_indices, mass_matrix);
            constraints.distribute_local_to_global(cell_mass, dof_indices, condensed_mass_matrix);
          }
      mass_matrix.compress(VectorOperation::add);
      condensed_mass_matrix.compress(VectorOperation::add);
      // The cell-level ratio L_ii / M_ii bounds the assembled one within a small factor;
      // it decides between point Jacobi and multigrid (as in the density solver).
      stiffness_to_mass   = Utilities::MPI::max(local_ratio, run.communicator);
      mass_preconditioner = std::make_unique<typename Backend::Jacobi>();
      mass_preconditioner->initialize(condensed_mass_matrix);
    }

    template <int dim, typename Backend>
    void ScoreOperator<dim, Backend>::set_boundary_law(const double t)
    {
      const double m = run.process->transition_mean_factor(t);
      const double v = run.process->transition_variance(t);
      boundary_law.set(score.boundary_condition == ScoreParameters::BoundaryData::gaussian
                           ? run.data->moment_matched(m, v)
                           : run.data->transported(m, v),
                       run.scaling->scale(t));
    }

    template <int dim, typename Backend>
    void ScoreOperator<dim, Backend>::impose_boundary_values(const double t, VectorType &y)
    {
      set_boundary_law(t);
      std::map<types::global_dof_index, double> values;
      for (const auto id : run.triangulation->get_boundary_ids())
        VectorTools::interpolate_boundary_values(
            *run.mapping, *run.dof_handler, id, boundary_law, values);
      for (const auto &[i, value] : values)
        if (run.locally_owned.is_element(i))
          y(i) = value;
      y.compress(VectorOperation::insert);
    }

    template <int dim, typename Backend>
    void ScoreOperator<dim, Backend>::assemble(const double      t,
                                             const double      gamma_h,
                                             const VectorType &y,
                                             VectorType       &F,
                                             const bool        with_jacobian)
    {
      TimerOutput::Scope scope(
          run.timer, with_jacobian ? "assembly (residual and Jacobian)" : "assembly (residual)");
      const double       a = run.scaling->drift_rate(t), G = run.scaling->diffusion_squared(t);
      const QGauss<dim>  quadrature(fe.degree + 1);
      FEValues<dim>      fe_values(*run.mapping,
                              fe,
                              quadrature,
                              update_values | update_gradients | update_quadrature_points |
                                  update_JxW_values);
      const unsigned int n  = fe.n_dofs_per_cell();
      const unsigned int nq = quadrature.size();
      Vector<double>     cell_F(n);
      FullMatrix<double> cell_J(n, n);
      std::vector<types::global_dof_index>     dof_indices(n);
      std::vector<Vector<double>>              values(nq, Vector<double>(n_components));
      std::vector<std::vector<Tensor<1, dim>>> gradients(nq,
                                                         std::vector<Tensor<1, dim>>(n_components));
      std::vector<unsigned int>                component(n);
      for (unsigned int i = 0; i < n; ++i)
        component[i] = fe.system_to_component_index(i).first;

      F = 0;
      if (with_jacobian)
        jacobian = 0;
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            fe_values.get_function_values(y, values);
            fe_values.get_function_gradients(y, gradients);
            cell_F = 0;
            if (with_jacobian)
              cell_J = 0;
            for (unsigned int q = 0; q < nq; ++q)
              {
                const double      JxW = fe_values.JxW(q);
                const Point<dim> &xi  = fe_values.quadrature_point(q);
                // Transport velocity of the first-order term: G s + a xi (score form) or
                // G grad u + a xi (log form).
                Tensor<1, dim> velocity;
                for (unsigned int k = 0; k < dim; ++k)
                  velocity[k] = a * xi[k] + G * (log_form ? gradients[q][0][k] : values[q](k));
                // Pointwise right-hand side f(component) of F_i = (f, phi_i) - G/2 (grad, grad
                // phi_i).
                Vector<double> source(n_components);
                if (log_form)
                  source(0) = 0.5 * G * gradients[q][0].norm_square() + a * (xi * gradients[q][0]) +
                              a * dim;
                else
                  for (unsigned int c = 0; c < dim; ++c)
                    source(c) = gradients[q][c] * velocity + a * values[q](c);
                for (unsigned int i = 0; i < n; ++i)
                  {
                    const unsigned int    ci     = component[i];
                    const double          phi_i  = fe_values.shape_value(i, q);
                    const Tensor<1, dim> &grad_i = fe_values.shape_grad(i, q);
                    cell_F(i) += (source(ci) * phi_i - 0.5 * G * (gradients[q][ci] * grad_i)) * JxW;
                    if (!with_jacobian)
                      continue;
                    // J = M - gamma h DF, DF the derivative of F in direction phi_j e_cj.
                    for (unsigned int j = 0; j < n; ++j)
                      {
                        const unsigned int    cj     = component[j];
                        const double          phi_j  = fe_values.shape_value(j, q);
                        const Tensor<1, dim> &grad_j = fe_values.shape_grad(j, q);
                        double                mass = 0, dF = 0;
                        if (ci == cj)
                          {
                            mass = phi_i * phi_j;
                            dF   = -0.5 * G * (grad_j * grad_i) + (grad_j * velocity) * phi_i;
                            if (!log_form)
                              dF += a * phi_j * phi_i;
                          }
                        if (!log_form)
                          dF += G * gradients[q][ci][cj] * phi_j * phi_i;
                        cell_J(i, j) += (mass - gamma_h * dF) * JxW;
                      }
                  }
              }
            cell->get_dof_indices(dof_indices);
            hanging.distribute_local_to_global(cell_F, dof_indices, F);
            if (with_jacobian)
              constraints.distribute_local_to_global(cell_J, dof_indices, jacobian);
          }
      F.compress(VectorOperation::add);
      if (with_jacobian)
        jacobian.compress(VectorOperation::add);
    }

    template <int dim, typename Backend>
    unsigned int ScoreOperator<dim, Backend>::solve_stage(const double      t,
                                                        const double      gamma_h,
                                                        const VectorType &rhs,
                                                        VectorType       &Y,
                                                        const bool)
    {
      // Newton's method for M Y - gamma h F(t, Y) = rhs with Y = boundary data on the
      // boundary. The Jacobian is kept through the stages of a step while the updates
      // shrink fast (simplified Newton) and rebuilt when they stall.
      impose_boundary_values(t, Y);
      // With error control, stage errors far below the step tolerance buy nothing.
      const double newton_tolerance =
          p.time_stepping.fixed_step > 0
              ? score.newton_tolerance
              : std::min(score.newton_tolerance, 1e-2 * p.time_stepping.tolerance);
      unsigned int linear_iterations = 0;
      double       previous_update   = std::numeric_limits<double>::infinity();
      VectorType   update(run.locally_owned, run.communicator);
      for (unsigned int k = 0; k < score.maximum_newton_iterations; ++k)
        {
          const bool rebuild = !jacobian_is_current || jacobian_gamma_h != gamma_h;
          ghosted            = Y;
          assemble(t, gamma_h, ghosted, F_work, rebuild);
          mass_matrix.vmult(residual, Y);
          residual.add(-gamma_h, F_work);
          residual -= rhs;
          constraints.set_zero(residual);
          if (rebuild)
            {
              TimerOutput::Scope scope(run.timer, "preconditioner setup");
              ++n_jacobians;
              jacobian_is_current = true;
              jacobian_gamma_h    = gamma_h;
              // Mass-dominated systems (short steps, weak noise) need no multigrid.
              const double diffusion_number =
                  gamma_h * 0.5 * run.scaling->diffusion_squared(t) * stiffness_to_mass;
              amg.reset();
              jacobi.reset();
              if (diffusion_number < p.linear_solver.jacobi_diffusion_number)
                {
                  jacobi = std::make_unique<typename Backend::Jacobi>();
                  jacobi->initialize(jacobian);
                }
              else
                {
                  amg = std::make_unique<typename Backend::AMG>();
                  Backend::initialize_amg(*amg, jacobian, fe.degree);
                }
            }
          {
            TimerOutput::Scope scope(run.timer, "linear solves (Newton)");
            // Inexact Newton: the linear residual only has to be small against the
            // nonlinear one.
            SolverControl control(p.linear_solver.maximum_iterations, 1e-2 * residual.l2_norm());
            typename SolverGMRES<VectorType>::AdditionalData gmres_data(50);
            SolverGMRES<VectorType>                          gmres(control, gmres_data);
            update = 0;
            residual *= -1.0;
            try
              {
                if (amg)
                  gmres.solve(jacobian, update, residual, *amg);
                else
                  gmres.solve(jacobian, update, residual, *jacobi);
              }
            catch (const SolverControl::NoConvergence &e)
              {
                throw StepFailure("a Newton step's linear system did not converge in " +
                                  std::to_string(e.last_step) + " GMRES iterations.");
              }
            linear_iterations += control.last_step();
          }
          constraints.distribute(update);
          Y += update;
          ++newton_iterations;
          const double size = update.l2_norm() / std::max(Y.l2_norm(), 1e-300);
          if (!std::isfinite(size))
            throw StepFailure("Newton's method produced a non-finite iterate.");
          if (size <= newton_tolerance)
            return linear_iterations;
          // Rebuild the Jacobian at the current iterate if the updates stop shrinking fast.
          if (size > 0.3 * previous_update)
            jacobian_is_current = false;
          previous_update = size;
        }
      std::ostringstream s;
      s << "Newton's method did not converge in " << score.maximum_newton_iterations
        << " iterations (Score/Maximum Newton iterations) at the stage time t = "
        << std::setprecision(8) << t << ".";
      throw StepFailure(s.str());
    }

    template <int dim, typename Backend>
    unsigned int ScoreOperator<dim, Backend>::solve_mass(const VectorType &rhs, VectorType &x)
    {
      // Boundary rows carry no equation (their values are imposed): the solve is on the
      // interior, with x = 0 on the boundary.
      TimerOutput::Scope scope(run.timer, "linear solves (mass)");
      residual = rhs;
      constraints.set_zero(residual);
      x = 0;
      const unsigned int iterations = solve_mass_system(condensed_mass_matrix,
                                                        x,
                                                        residual,
                                                        *mass_preconditioner,
                                                        p.linear_solver.maximum_iterations,
                                                        p.linear_solver.relative_tolerance);
      constraints.distribute(x);
      return iterations;
    }

    template <int dim, typename Backend>
    void ScoreOperator<dim, Backend>::time_derivative(const double      t,
                                                    const VectorType &y,
                                                    VectorType       &y_dot)
    {
      // The semi-discrete derivative: M y' = F(t, y) on the interior rows, y' = dg/dt
      // (the derivative of the imposed data) on the boundary. The boundary part is
      // lifted out of the interior equations (M y' = F with y' = y'_0 + g').
      VectorType F(run.locally_owned, run.communicator),
          boundary_rate(run.locally_owned, run.communicator);
      differentiate_in_time<dim, Backend>(
          run,
          t,
          [this](const double time, VectorType &v) {
            v = 0;
            impose_boundary_values(time, v);
          },
          boundary_rate);
      apply_rhs(t, y, F);
      VectorType lifted(run.locally_owned, run.communicator);
      mass_matrix.vmult(lifted, boundary_rate);
      F -= lifted;
      solve_mass(F, y_dot);
      y_dot += boundary_rate;
    }


    /// Score errors against the exact law (domain, bulk, tail, Fisher divergence) and,
    /// for the log form, the density e^u / Z: statistics.csv columns, progress figures,
    /// the VTU fields and the result's error record.
    template <int dim, typename Backend>
    class ScoreErrorReport : public RunPostprocessor<dim, Backend>
    {
      using VectorType = typename Backend::Vector;

    public:
      struct Diagnostics
      {
        ScoreErrors errors;
        ErrorNorms  density_errors;
        double      normalisation = 1.0; // log form: Z = int e^u
      };

      ScoreErrorReport(FiniteElementRun<dim, Backend>    &run,
                       const ScoreOperator<dim, Backend> &op,
                       const ScoreParameters             &score,
                       ScoreRunResult                    &result)
          : run(run)
          , score(score)
          , result(result)
          , log_form(run.parameters.equation == Equation::log_density)
          , n_components(log_form ? 1 : dim)
          , fe(op.finite_element())
          , with_law(run.has_law_at_outputs())
          , exact(log_form, 0.0, 1.0)
      {
        result.has_errors = with_law;
      }

      void evaluate(const double t) override { diagnostics = compute(t); }

      std::string statistics_header() const override
      {
        if (!with_law)
          return "";
        return std::string("score_relative_L2,score_relative_L2_bulk,score_relative_L2_tail,"
                           "fisher_divergence,") +
               (log_form ? "normalisation,density_relative_L2," : "");
      }

      void write_statistics(std::ostream &out) const override
      {
        if (!with_law)
          return;
        const Diagnostics &d = diagnostics;
        out << d.errors.l2 << "," << d.errors.l2_bulk << "," << d.errors.l2_tail << ","
            << d.errors.fisher << ",";
        if (log_form)
          out << d.normalisation << "," << d.density_errors.l2 << ",";
      }

      std::string progress_figures() const override
      {
        std::ostringstream s;
        if (!with_law)
          return "";
        s << "score L2 error = " << std::setw(9) << std::setprecision(3) << diagnostics.errors.l2
          << "  Fisher = " << std::setw(9) << diagnostics.errors.fisher;
        if (log_form)
          s << "  Z = " << std::setprecision(8) << diagnostics.normalisation;
        return s.str();
      }

      void at_output(const unsigned int, const double t) override
      {
        result.output_times.push_back(t);
        result.output_errors.push_back(diagnostics.errors);
        result.max_errors.take_maximum(diagnostics.errors);
        if (log_form)
          result.max_density_errors.take_maximum(diagnostics.density_errors);
      }

      void add_output_fields(DataOut<dim> &data_out, const double t) override
      {
        if (with_law)
          exact.set(run.law(t), run.scaling->scale(t));
        else
          exact.set_scale(run.scaling->scale(t));
        data_postprocessor = std::make_unique<ScorePostprocessor<dim>>(
            exact, log_form, std::log(diagnostics.normalisation), with_law);
        data_out.add_data_vector(run.ghosted_solution(), *data_postprocessor);
      }

      void finish() override
      {
        result.final_errors         = diagnostics.errors;
        result.final_density_errors = diagnostics.density_errors;
        result.normalisation        = diagnostics.normalisation;
      }

      std::string summary() const override
      {
        std::ostringstream s;
        if (!with_law)
          s << "no closed-form law: see the companion density's score_density_difference";
        else
          s << "final score relative L2 error " << std::setprecision(3) << result.final_errors.l2
            << ", max over output times " << result.max_errors.l2;
        return s.str();
      }

    private:
      Diagnostics compute(const double t);

      FiniteElementRun<dim, Backend>          &run;
      const ScoreParameters                   &score;
      ScoreRunResult                          &result;
      const bool                               log_form;
      const unsigned int                       n_components;
      const FiniteElement<dim>                &fe;
      const bool                               with_law;
      LawFunction<dim>                         exact;
      std::unique_ptr<ScorePostprocessor<dim>> data_postprocessor;
      Diagnostics                              diagnostics;
    };

    template <int dim, typename Backend>
    typename ScoreErrorReport<dim, Backend>::Diagnostics
    ScoreErrorReport<dim, Backend>::compute(const double t)
    {
      TimerOutput::Scope scope(run.timer, "errors");
      if (!with_law)
        {
          const double nan = std::numeric_limits<double>::quiet_NaN();
          Diagnostics  d;
          d.errors = ScoreErrors{nan, nan, nan, nan};
          return d;
        }
      // One pass over the cells keeps, per quadrature point, what the error norms need;
      // the bulk and tail regions are then found from the exact density.
      const double c = run.scaling->scale(t);
      exact.set(run.law(t), c);
      const VectorType &ghosted = run.ghosted_solution();
      const QGauss<dim>                        quadrature(fe.degree + 2);
      FEValues<dim>                            fe_values(*run.mapping,
                              fe,
                              quadrature,
                              update_values | update_gradients | update_quadrature_points |
                                  update_JxW_values);
      const unsigned int                       nq = quadrature.size();
      std::vector<Vector<double>>              values(nq, Vector<double>(n_components));
      std::vector<std::vector<Tensor<1, dim>>> gradients(nq,
                                                         std::vector<Tensor<1, dim>>(n_components));
      // Per point: exact density q, q JxW, |e|^2 JxW, |s|^2 JxW (mesh coordinates), and
      // for the log form e^{u_h} and JxW.
      std::vector<double> density, weight, error2, score2, exp_u, jxw;
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            fe_values.get_function_values(ghosted, values);
            if (log_form)
              fe_values.get_function_gradients(ghosted, gradients);
            for (unsigned int q = 0; q < nq; ++q)
              {
                const Point<dim>    &xi  = fe_values.quadrature_point(q);
                const double         JxW = fe_values.JxW(q);
                const Tensor<1, dim> s   = exact.score(xi);
                Tensor<1, dim>       s_h;
                for (unsigned int k = 0; k < dim; ++k)
                  s_h[k] = log_form ? gradients[q][0][k] : values[q](k);
                const double q_exact = exact.density(xi);
                density.push_back(q_exact);
                weight.push_back(q_exact * JxW);
                error2.push_back((s_h - s).norm_square() * JxW);
                score2.push_back(s.norm_square() * JxW);
                if (log_form)
                  {
                    exp_u.push_back(std::exp(values[q](0)));
                    jxw.push_back(JxW);
                  }
              }
          }
      Diagnostics  d;
      const double bulk_threshold =
          highest_density_threshold(density, weight, score.bulk_mass, run.communicator);
      const double tail_threshold =
          score.tail_threshold *
          Utilities::MPI::max(density.empty() ? 0.0
                                              : *std::max_element(density.begin(), density.end()),
                              run.communicator);
      // Sums: all, bulk, tail of |e|^2 and |s|^2; Fisher; Z; density error norms.
      double local[12] = {};
      for (unsigned int i = 0; i < density.size(); ++i)
        {
          local[0] += error2[i];
          local[1] += score2[i];
          if (density[i] >= bulk_threshold)
            {
              local[2] += error2[i];
              local[3] += score2[i];
            }
          if (density[i] < tail_threshold)
            {
              local[4] += error2[i];
              local[5] += score2[i];
            }
          local[6] += density[i] * error2[i];
          if (log_form)
            local[7] += exp_u[i] * jxw[i];
        }
      double global[12];
      Utilities::MPI::sum(
          ArrayView<const double>(local, 12), run.communicator, ArrayView<double>(global, 12));
      // Fisher: int p |s_x,h - s_x|^2 dx with s_x = s_xi / c.
      d.errors = score_errors(global, global[6] / (c * c));
      if (log_form)
        {
          // p_h = e^u / Z against the exact density (relative norms: the same in x and xi).
          const double Z        = global[7];
          d.normalisation       = Z;
          double local_norms[4] = {}, local_max[2] = {};
          for (unsigned int i = 0; i < density.size(); ++i)
            {
              const double e = exp_u[i] / Z - density[i];
              local_norms[0] += std::abs(e) * jxw[i];
              local_norms[1] += e * e * jxw[i];
              local_norms[2] += density[i] * jxw[i];
              local_norms[3] += density[i] * density[i] * jxw[i];
              local_max[0] = std::max(local_max[0], std::abs(e));
              local_max[1] = std::max(local_max[1], density[i]);
            }
          double norms[4], max[2];
          Utilities::MPI::sum(
              ArrayView<const double>(local_norms, 4), run.communicator, ArrayView<double>(norms, 4));
          Utilities::MPI::max(
              ArrayView<const double>(local_max, 2), run.communicator, ArrayView<double>(max, 2));
          d.density_errors.l1   = norms[0] / norms[2];
          d.density_errors.l2   = std::sqrt(norms[1] / norms[3]);
          d.density_errors.linf = max[0] / max[1];
        }
      return d;
    }


    /// Fokker-Planck residuals (MATH.md section 3) of the computed field, of the exact
    /// law and of the exact law plus a bump, at the output times; the computed field's
    /// cell-wise residual goes to the VTU files.
    template <int dim, typename Backend>
    class Residuals : public RunPostprocessor<dim, Backend>
    {
      using VectorType = typename Backend::Vector;

    public:
      Residuals(FiniteElementRun<dim, Backend> &run,
                ScoreOperator<dim, Backend>    &op,
                const ScoreParameters          &score,
                ScoreRunResult                 &result)
          : run(run)
          , op(op)
          , score(score)
          , result(result)
          , log_form(op.log_form)
          , n_components(op.n_components)
          , fe(op.finite_element())
          , exact(log_form, 0.0, 1.0)
          , perturbed(log_form, score.perturbation_amplitude, score.perturbation_width)
      {
      }

      void at_output(const unsigned int, const double t) override
      {
        result.residuals.push_back(compute_residuals(t));
      }

      void add_output_fields(DataOut<dim> &data_out, const double) override
      {
        if (computed_residual_field.size() == run.triangulation->n_active_cells())
          data_out.add_data_vector(computed_residual_field, "score_residual");
      }

    private:
      ResidualReport compute_residuals(const double t);
      ResidualNorms  residual_norms(const double      t,
                                    const VectorType &y_ghosted,
                                    const VectorType &y_dot_ghosted,
                                    Vector<float>    *cell_residual);

      FiniteElementRun<dim, Backend> &run;
      ScoreOperator<dim, Backend>    &op;
      const ScoreParameters          &score;
      ScoreRunResult                 &result;
      const bool                      log_form;
      const unsigned int              n_components;
      const FiniteElement<dim>       &fe;
      LawFunction<dim>                exact, perturbed;
      // Cell-wise RMS of the score-form residual at the last output time (VTU field).
      Vector<float> computed_residual_field;
    };

    template <int dim, typename Backend>
    ResidualNorms Residuals<dim, Backend>::residual_norms(const double      t,
                                                          const VectorType &y,
                                                          const VectorType &y_dot,
                                                          Vector<float>    *cell_residual)
    {
      // p-weighted L2 norms in the original coordinates: with s_xi = c s_x the
      // residuals map as r_xi = c r_x and R_xi = R_x.
      exact.set(run.law(t), run.scaling->scale(t));
      const double       a = run.scaling->drift_rate(t), G = run.scaling->diffusion_squared(t);
      const double       c      = run.scaling->scale(t);
      const unsigned int degree = fe.degree;
      // Second derivatives of s (score form), or third of u (score residual of the log
      // form), are only meaningful for elements of high enough degree.
      const bool  score_available = log_form ? degree >= 3 : degree >= 2;
      const bool  log_available   = log_form && degree >= 2;
      UpdateFlags flags           = update_values | update_gradients | update_hessians |
                          update_quadrature_points | update_JxW_values;
      if (log_form)
        flags |= update_3rd_derivatives;
      const QGauss<dim>           quadrature(fe.degree + 1);
      FEValues<dim>               fe_values(*run.mapping, fe, quadrature, flags);
      const unsigned int          nq = quadrature.size();
      std::vector<Vector<double>> values(nq, Vector<double>(n_components)),
          rates(nq, Vector<double>(n_components));
      std::vector<std::vector<Tensor<1, dim>>> gradients(nq,
                                                         std::vector<Tensor<1, dim>>(n_components)),
          rate_gradients(nq, std::vector<Tensor<1, dim>>(n_components));
      std::vector<std::vector<Tensor<2, dim>>> hessians(nq,
                                                        std::vector<Tensor<2, dim>>(n_components));
      std::vector<Tensor<3, dim>>              third(nq);
      double                                   local[2] = {0, 0};
      if (cell_residual != nullptr)
        cell_residual->reinit(run.triangulation->n_active_cells());
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            double cell_sum = 0, cell_measure = 0;
            fe_values.reinit(cell);
            fe_values.get_function_values(y, values);
            fe_values.get_function_gradients(y, gradients);
            fe_values.get_function_hessians(y, hessians);
            fe_values.get_function_values(y_dot, rates);
            if (log_form)
              {
                fe_values.get_function_third_derivatives(y, third);
                fe_values.get_function_gradients(y_dot, rate_gradients);
              }
            for (unsigned int q = 0; q < nq; ++q)
              {
                const Point<dim> &xi = fe_values.quadrature_point(q);
                ScoreJet<dim>     jet;
                if (log_form)
                  {
                    jet.s         = gradients[q][0];
                    jet.Ds        = hessians[q][0];
                    jet.s_t       = rate_gradients[q][0];
                    jet.u_t       = rates[q](0);
                    jet.laplace_u = trace(hessians[q][0]);
                    for (unsigned int k = 0; k < dim; ++k)
                      for (unsigned int i = 0; i < dim; ++i)
                        jet.grad_div[k] += third[q][k][i][i];
                  }
                else
                  for (unsigned int i = 0; i < dim; ++i)
                    {
                      jet.s[i]   = values[q](i);
                      jet.s_t[i] = rates[q](i);
                      for (unsigned int k = 0; k < dim; ++k)
                        {
                          jet.Ds[i][k] = gradients[q][i][k];
                          jet.grad_div[k] += hessians[q][i][k][i];
                        }
                    }
                const double weight = exact.density(xi) * fe_values.JxW(q);
                const double r2     = score_residual(jet, xi, a, G).norm_square();
                local[0] += weight * r2;
                cell_sum += r2 * fe_values.JxW(q);
                cell_measure += fe_values.JxW(q);
                if (log_available)
                  local[1] += weight * std::pow(log_residual(jet, xi, a, G), 2);
              }
            if (cell_residual != nullptr && score_available)
              (*cell_residual)(cell->active_cell_index()) = std::sqrt(cell_sum / cell_measure) / c;
          }
      double global[2];
      Utilities::MPI::sum(
          ArrayView<const double>(local, 2), run.communicator, ArrayView<double>(global, 2));
      ResidualNorms norms;
      if (score_available)
        norms.score_form = std::sqrt(global[0]) / c;
      if (log_available)
        norms.log_form = std::sqrt(global[1]);
      return norms;
    }


    template <int dim, typename Backend>
    ResidualReport Residuals<dim, Backend>::compute_residuals(const double t)
    {
      TimerOutput::Scope scope(run.timer, "residuals");
      ResidualReport     report;
      report.time = t;
      VectorType y_dot(run.locally_owned, run.communicator), field(run.locally_owned, run.communicator),
          plus(run.locally_owned, run.communicator);
      VectorType field_ghosted(run.locally_owned, run.locally_relevant, run.communicator),
          rate_ghosted(run.locally_owned, run.locally_relevant, run.communicator);

      op.time_derivative(t, run.solution, y_dot);
      field_ghosted   = run.solution;
      rate_ghosted    = y_dot;
      report.computed = residual_norms(t, field_ghosted, rate_ghosted, &computed_residual_field);

      for (const bool with_bump : {false, true})
        {
          if (with_bump && score.perturbation_amplitude == 0.0)
            continue;
          differentiate_in_time<dim, Backend>(
              run,
              t,
              [&](const double time, VectorType &v) { interpolate_law<dim, Backend>(run, with_bump ? perturbed : exact, time, v); },
              plus);
          interpolate_law<dim, Backend>(run, with_bump ? perturbed : exact, t, field);
          field_ghosted = field;
          rate_ghosted  = plus;
          (with_bump ? report.perturbed : report.exact) =
              residual_norms(t, field_ghosted, rate_ghosted, nullptr);
        }
      return report;
    }


    /// Score/Companion density: the density FPE on this very mesh first; its snapshots
    /// at the output times give grad p_h / p_h, compared with the score (errors,
    /// residuals, tail shells of |x|).
    template <int dim, typename Backend>
    class CompanionDensity : public RunPostprocessor<dim, Backend>
    {
      using VectorType = typename Backend::Vector;

    public:
      CompanionDensity(FiniteElementRun<dim, Backend>    &run,
                       const ScoreOperator<dim, Backend> &op,
                       const ScoreParameters             &score,
                       ScoreRunResult                    &result)
          : run(run)
          , score(score)
          , result(result)
          , log_form(run.parameters.equation == Equation::log_density)
          , n_components(log_form ? 1 : dim)
          , fe(op.finite_element())
          , exact(log_form, 0.0, 1.0)
      {
      }

      void begin() override
      {
        FiniteElementCase density_case = run.parameters;
        density_case.equation          = Equation::density;
        solve_density_on<dim, Backend>(density_case,
                                       *run.triangulation,
                                       run.refinement_level,
                                       run.directory + "/density",
                                       run.write_files,
                                       density);
      }

      void at_output(const unsigned int index, const double t) override
      {
        compare_with_density(t, index);
      }

      void add_output_fields(DataOut<dim> &data_out, const double) override
      {
        if (quotient_residual_field.size() == run.triangulation->n_active_cells())
          data_out.add_data_vector(quotient_residual_field, "quotient_score_residual");
      }

      /// The density run's snapshots (after begin()).
      DensitySnapshots<dim, Backend> density;

    private:
      void compare_with_density(const double t, const unsigned int output_index);

      FiniteElementRun<dim, Backend> &run;
      const ScoreParameters          &score;
      ScoreRunResult                 &result;
      const bool                      log_form;
      const unsigned int              n_components;
      const FiniteElement<dim>       &fe;
      LawFunction<dim>                exact;
      Vector<float>                   quotient_residual_field;
    };

    template <int dim, typename Backend>
    void CompanionDensity<dim, Backend>::compare_with_density(const double       t,
                                                              const unsigned int output_index)
    {
      TimerOutput::Scope scope(run.timer, "comparison with the density");
      AssertThrow(output_index < density.times.size() &&
                      std::abs(density.times[output_index] - t) < 1e-12 * (1 + std::abs(t)),
                  ExcMessage("The density snapshots do not match the score output times."));
      // Without a closed-form law (circles2) the density p_h weighs the comparison and
      // the errors against the exact score are NaN; the difference s_h - grad p_h / p_h
      // remains: the agreement of the two equations.
      const bool   with_law = run.has_law(t);
      const double nan      = std::numeric_limits<double>::quiet_NaN();
      if (with_law)
        exact.set(run.law(t), run.scaling->scale(t));
      const VectorType &ghosted = run.ghosted_solution();
      const auto        &density_dofs = *density.dof_handler;
      const auto        &q_h          = density.densities[output_index];
      const auto        &q_dot        = density.derivatives[output_index];
      const double       c            = run.scaling->scale(t);
      const double       a = run.scaling->drift_rate(t), G = run.scaling->diffusion_squared(t);
      const unsigned int degree = density_dofs.get_fe().degree;

      const QGauss<dim>  quadrature(fe.degree + 2);
      FEValues<dim>      score_values(*run.mapping, fe, quadrature, update_values | update_gradients);
      FEValues<dim>      density_values(*run.mapping,
                                   density_dofs.get_fe(),
                                   quadrature,
                                   update_values | update_gradients | update_hessians |
                                       update_3rd_derivatives | update_quadrature_points |
                                       update_JxW_values);
      const unsigned int nq = quadrature.size();
      std::vector<Vector<double>>              s_values(nq, Vector<double>(n_components));
      std::vector<std::vector<Tensor<1, dim>>> s_gradients(
          nq, std::vector<Tensor<1, dim>>(n_components));
      std::vector<double>         p_values(nq), p_rates(nq);
      std::vector<Tensor<1, dim>> p_gradients(nq), p_rate_gradients(nq);
      std::vector<Tensor<2, dim>> p_hessians(nq);
      std::vector<Tensor<3, dim>> p_third(nq);

      // Per point (original coordinates): radius, exact density, JxW in x, |e_h|^2,
      // |e_quotient|^2, |s_h - quotient|^2 (quotient undefined: -1), |s|^2.
      std::vector<std::array<double, 7>> points;
      double                             local_residual[2] = {0, 0};
      // p-weighted |s_h - grad p_h / p_h|^2 and |grad p_h / p_h|^2 (original coordinates).
      double local_difference[2] = {0, 0};
      quotient_residual_field.reinit(run.triangulation->n_active_cells());
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            double                                               cell_sum = 0, cell_measure = 0;
            const typename DoFHandler<dim>::active_cell_iterator density_cell(
                run.triangulation, cell->level(), cell->index(), &density_dofs);
            score_values.reinit(cell);
            density_values.reinit(density_cell);
            score_values.get_function_values(ghosted, s_values);
            if (log_form)
              score_values.get_function_gradients(ghosted, s_gradients);
            density_values.get_function_values(q_h, p_values);
            density_values.get_function_gradients(q_h, p_gradients);
            density_values.get_function_hessians(q_h, p_hessians);
            density_values.get_function_third_derivatives(q_h, p_third);
            density_values.get_function_values(q_dot, p_rates);
            density_values.get_function_gradients(q_dot, p_rate_gradients);
            for (unsigned int q = 0; q < nq; ++q)
              {
                const Point<dim>    &xi   = density_values.quadrature_point(q);
                const double         q_ex = with_law ? exact.density(xi) : std::max(p_values[q], 0.0);
                Tensor<1, dim>       s;
                if (with_law)
                  s = exact.score(xi);
                Tensor<1, dim>       s_h;
                for (unsigned int k = 0; k < dim; ++k)
                  s_h[k] = log_form ? s_gradients[q][0][k] : s_values[q](k);
                std::array<double, 7> record = {{c * xi.norm(),
                                                 q_ex / std::pow(c, dim),
                                                 density_values.JxW(q) * std::pow(c, dim),
                                                 with_law ? (s_h - s).norm_square() / (c * c) : nan,
                                                 -1.0,
                                                 -1.0,
                                                 s.norm_square() / (c * c)}};
                const double          P      = p_values[q];
                if (P > 0)
                  {
                    // grad log q_h and its derivatives by the quotient rule.
                    const Tensor<1, dim> &gP      = p_gradients[q];
                    const Tensor<2, dim> &H       = p_hessians[q];
                    const double          laplace = trace(H);
                    ScoreJet<dim>         jet;
                    jet.s = gP / P;
                    for (unsigned int i = 0; i < dim; ++i)
                      for (unsigned int k = 0; k < dim; ++k)
                        jet.Ds[i][k] = H[i][k] / P - gP[i] * gP[k] / (P * P);
                    for (unsigned int k = 0; k < dim; ++k)
                      {
                        double grad_laplace = 0, H_gP = 0;
                        for (unsigned int i = 0; i < dim; ++i)
                          {
                            grad_laplace += p_third[q][k][i][i];
                            H_gP += H[k][i] * gP[i];
                          }
                        jet.grad_div[k] = grad_laplace / P - laplace * gP[k] / (P * P) -
                                          2 * H_gP / (P * P) +
                                          2 * gP.norm_square() * gP[k] / (P * P * P);
                      }
                    jet.s_t             = p_rate_gradients[q] / P - p_rates[q] * gP / (P * P);
                    jet.u_t             = p_rates[q] / P;
                    jet.laplace_u       = laplace / P - gP.norm_square() / (P * P);
                    // Without a law: 0 keeps the point marked 'quotient defined'.
                    record[4]           = with_law ? (jet.s - s).norm_square() / (c * c) : 0.0;
                    record[5]           = (s_h - jet.s).norm_square() / (c * c);
                    local_difference[0] += q_ex * density_values.JxW(q) * record[5];
                    local_difference[1] += q_ex * density_values.JxW(q) * jet.s.norm_square() / (c * c);
                    const double weight = q_ex * density_values.JxW(q);
                    const double r2     = score_residual(jet, xi, a, G).norm_square();
                    local_residual[0] += weight * r2;
                    cell_sum += r2 * density_values.JxW(q);
                    cell_measure += density_values.JxW(q);
                    local_residual[1] += weight * std::pow(log_residual(jet, xi, a, G), 2);
                  }
                points.push_back(record);
              }
            // RMS over the points where the quotient is defined (0 if none is).
            if (degree >= 3 && cell_measure > 0)
              quotient_residual_field(cell->active_cell_index()) =
                  std::sqrt(cell_sum / cell_measure) / c;
          }

      // Errors of the quotient where it is defined (it is not where p_h <= 0).
      double local_max[2] = {0, 0};
      for (const auto &r : points)
        {
          local_max[0] = std::max(local_max[0], r[0]);
          local_max[1] = std::max(local_max[1], r[1]);
        }
      double global_max[2];
      Utilities::MPI::max(
          ArrayView<const double>(local_max, 2), run.communicator, ArrayView<double>(global_max, 2));
      const double        tail = score.tail_threshold * global_max[1];
      std::vector<double> density_at, weight_at;
      for (const auto &r : points)
        {
          density_at.push_back(r[1]);
          weight_at.push_back(r[1] * r[2]);
        }
      const double bulk =
          highest_density_threshold(density_at, weight_at, score.bulk_mass, run.communicator);
      // Sums over the points where the quotient is defined: its |e|^2 and |s|^2 over
      // all, bulk and tail, and the Fisher divergence; then residual sums.
      double local[9] = {local_residual[0], local_residual[1]};
      for (const auto &r : points)
        if (r[4] >= 0)
          {
            const double w = r[2];
            local[2] += r[4] * w;
            local[3] += r[6] * w;
            if (r[1] >= bulk)
              {
                local[4] += r[4] * w;
                local[5] += r[6] * w;
              }
            if (r[1] < tail)
              {
                local[6] += r[4] * w;
                local[7] += r[6] * w;
              }
            local[8] += r[1] * r[4] * w;
          }
      double global[9];
      Utilities::MPI::sum(
          ArrayView<const double>(local, 9), run.communicator, ArrayView<double>(global, 9));
      result.quotient_errors.push_back(with_law ? score_errors(global + 2, global[8]) :
                                                  ScoreErrors{nan, nan, nan, nan});
      double difference[2];
      Utilities::MPI::sum(ArrayView<const double>(local_difference, 2),
                          run.communicator,
                          ArrayView<double>(difference, 2));
      result.score_density_differences.push_back(std::sqrt(difference[0] / difference[1]));
      ResidualNorms quotient_residuals;
      if (degree >= 3)
        quotient_residuals.score_form = std::sqrt(global[0]) / c;
      if (degree >= 2)
        quotient_residuals.log_form = std::sqrt(global[1]);
      if (!result.residuals.empty() && std::abs(result.residuals.back().time - t) < 1e-14)
        result.residuals.back().density_quotient = quotient_residuals;

      // Shells of |x|: RMS (in the dx measure) of each error, over the points where the
      // quotient is defined, and a count of those where it is not.
      const unsigned int  n_shells = score.n_tail_shells;
      const double        r_max    = global_max[0] * (1 + 1e-12);
      std::vector<double> shell_local(6 * n_shells, 0.0), shell_max(n_shells, 0.0);
      for (const auto &r : points)
        {
          const unsigned int k =
              std::min(n_shells - 1, static_cast<unsigned int>(r[0] / r_max * n_shells));
          shell_max[k] = std::max(shell_max[k], r[1]);
          shell_local[6 * k + 4] += r[2];
          shell_local[6 * k + 1] += r[3] * r[2];
          if (r[4] < 0)
            {
              shell_local[6 * k + 5] += 1;
              continue;
            }
          shell_local[6 * k + 0] += r[2];
          shell_local[6 * k + 2] += r[4] * r[2];
          shell_local[6 * k + 3] += r[5] * r[2];
        }
      std::vector<double> shell_sum(shell_local.size()), shell_maximum(n_shells);
      Utilities::MPI::sum(
          ArrayView<const double>(shell_local), run.communicator, ArrayView<double>(shell_sum));
      Utilities::MPI::max(
          ArrayView<const double>(shell_max), run.communicator, ArrayView<double>(shell_maximum));
      std::vector<TailShell> shells(n_shells);
      for (unsigned int k = 0; k < n_shells; ++k)
        {
          const double volume        = shell_sum[6 * k];
          auto        &shell         = shells[k];
          shell.radius_min           = r_max * k / n_shells;
          shell.radius_max           = r_max * (k + 1) / n_shells;
          shell.exact_density_max    = shell_maximum[k];
          const double nan           = std::numeric_limits<double>::quiet_NaN();
          shell.rms_score_error      = shell_sum[6 * k + 4] > 0
                                           ? std::sqrt(shell_sum[6 * k + 1] / shell_sum[6 * k + 4])
                                           : nan;
          shell.rms_quotient_error   = volume > 0 && with_law ? std::sqrt(shell_sum[6 * k + 2] / volume) : nan;
          shell.rms_difference       = volume > 0 ? std::sqrt(shell_sum[6 * k + 3] / volume) : nan;
          shell.n_quotient_undefined = static_cast<unsigned int>(shell_sum[6 * k + 5]);
        }
      result.tail_shells.push_back(shells);
    }


    /// The companion density and the score at the output times through a
    /// SolutionWriter (the reference file).
    template <int dim, typename Backend>
    class ScoreWriter : public RunPostprocessor<dim, Backend>
    {
      using VectorType = typename Backend::Vector;

    public:
      ScoreWriter(FiniteElementRun<dim, Backend>               &run,
                  const CompanionDensity<dim, Backend>         &companion,
                  const SolutionWriterFactory<dim, VectorType> &factory)
          : run(run)
          , companion(companion)
          , factory(factory)
      {
      }

      void begin() override { writer = factory(*run.triangulation, run.data->description()); }

      void at_output(const unsigned int index, const double t) override
      {
        TimerOutput::Scope scope(run.timer, "output");
        writer->add_snapshot(t,
                             run.scaling->scale(t),
                             *companion.density.dof_handler,
                             companion.density.densities[index],
                             run.dof_handler.get(),
                             &run.ghosted_solution());
      }

      void finish() override { writer->finish(); }

    private:
      FiniteElementRun<dim, Backend>                   &run;
      const CompanionDensity<dim, Backend>             &companion;
      const SolutionWriterFactory<dim, VectorType>     &factory;
      std::unique_ptr<SolutionWriter<dim, VectorType>> writer;
    };
  } // namespace score

  template <int dim, typename Backend>
  ScoreRunResult
  solve_score(const FiniteElementCase                                    &parameters,
              const ScoreParameters                                      &score_parameters,
              const unsigned int                                          refinement_level,
              const std::string                                          &output_directory,
              const bool                                                  write_files,
              const MPI_Comm                                              communicator,
              const SolutionWriterFactory<dim, typename Backend::Vector> &reference)
  {
    using namespace score;
    const bool log_form = parameters.equation == Equation::log_density;
    FiniteElementRun<dim, Backend> skeleton(
        parameters, refinement_level, output_directory, write_files, communicator);
    if (log_form && reference)
      throw InputError("Output/Reference file is not supported for log-density runs yet (the "
                       "file format stores a density and a vector score); expected it empty.");
    if (!skeleton.tableau.stiffly_accurate)
      throw InputError("Time stepping/Method '" + skeleton.tableau.name +
                       "' is not stiffly accurate; the score and log-density equations "
                       "impose boundary values on the stages and need a method whose last "
                       "stage is the new solution.");

    // Data without a closed-form law after the start (circles2): the score equation
    // with the Gaussian far field, checked against its companion density.
    const double T        = skeleton.process->final_time;
    const bool   with_law = skeleton.has_law_at_outputs() && skeleton.has_law(T);
    if (!with_law)
      {
        const double v = skeleton.process->transition_variance(T);
        if (log_form)
          throw InputError(skeleton.data->no_closed_form(
              T, v, "the log-density equation needs one; solve Equation = score"));
        if (score_parameters.boundary_condition != ScoreParameters::BoundaryData::gaussian)
          throw InputError(skeleton.data->no_closed_form(
              T, v, "the score's boundary data must be Score/Boundary condition = gaussian (the far field)"));
      }

    ScoreRunResult              result;
    ScoreOperator<dim, Backend> op(skeleton, score_parameters);
    skeleton.set_operator(op);
    // The postprocessors hold the element by reference: it is the operator's.
    ScoreErrorReport<dim, Backend> errors(skeleton, op, score_parameters, result);
    Residuals<dim, Backend>        residuals(skeleton, op, score_parameters, result);
    skeleton.add_postprocessor(errors);
    // The residuals are weighted by the exact density.
    if (with_law)
      skeleton.add_postprocessor(residuals);
    // A reference file of a score run takes its density from the companion solve, and
    // without a law the companion density is the check.
    std::unique_ptr<CompanionDensity<dim, Backend>> companion;
    std::unique_ptr<ScoreWriter<dim, Backend>>      writer;
    if (score_parameters.companion_density || (!log_form && reference) || !with_law)
      {
        companion =
            std::make_unique<CompanionDensity<dim, Backend>>(skeleton, op, score_parameters, result);
        skeleton.add_postprocessor(*companion);
      }
    if (reference)
      {
        writer = std::make_unique<ScoreWriter<dim, Backend>>(skeleton, *companion, reference);
        skeleton.add_postprocessor(*writer);
      }

    result.equation = parameters.equation;
    skeleton.run(result);
    result.boundary_condition = boundary_data_name(score_parameters.boundary_condition);
    result.newton_iterations  = op.newton_iterations;
    result.n_jacobians        = op.n_jacobians;
    return result;
  }
} // namespace scorefp
