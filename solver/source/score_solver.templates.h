// Implementation of solve_score(); included by one source file per linear-algebra
// backend, each instantiating dim = 1, 2, 3.
//
// One class serves both forms. The score form has d components (s in R^d), the
// log-density form one (u = log p); both are written in the mesh coordinates xi = x/c(t)
// with the coefficients of CoordinateScaling, so that s_xi = c s_x and u_xi = u_x + d log c.
#pragma once

#include "fe_output.h"
#include "reference_output.h"

#include <scorefp/density_snapshots.h>
#include <scorefp/dirk_integrator.h>
#include <scorefp/initial_data.h>
#include <scorefp/input_error.h>
#include <scorefp/linear_algebra.h>
#include <scorefp/mesh.h>
#include <scorefp/processes.h>
#include <scorefp/score_solver.h>
#include <scorefp/time_loop.h>

#include <deal.II/base/conditional_ostream.h>
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

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
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
                         const double            log_normalisation)
          : exact(exact)
          , log_form(log_form)
          , log_z(log_normalisation)
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
        std::vector<std::string> names;
        for (const std::string name : {"score", "exact_score", "score_error"})
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
            3 * dim, DataComponentInterpretation::component_is_part_of_vector);
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
        const Tensor<1, dim> s   = exact.score(xi) / c;
        const Tensor<1, dim> s_h = s_h_xi / c;
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

    template <int dim, typename Backend>
    class ScoreSolver
    {
      using VectorType = typename Backend::Vector;
      using MatrixType = typename Backend::Matrix;

    public:
      ScoreSolver(const Parameters  &p,
                  const unsigned int refinement_level,
                  const std::string &output_directory,
                  const bool         write_files,
                  const MPI_Comm     communicator);
      ScoreRunResult run();

    private:
      struct Diagnostics
      {
        ScoreErrors errors;
        ErrorNorms  density_errors;
        double      normalisation = 1.0; // log form: Z = int e^u
      };

      void setup_mesh_and_dofs();
      void assemble_mass_matrices();
      void set_exact(const double t);
      void set_boundary_law(const double t);
      void impose_boundary_values(const double t, VectorType &y);
      void assemble(const double      t,
                    const double      gamma_h,
                    const VectorType &y_ghosted,
                    VectorType       &F,
                    const bool        with_jacobian);
      void apply_rhs(const double t, const VectorType &y, VectorType &F);
      unsigned int
      solve_stage(const double t, const double gamma_h, const VectorType &rhs, VectorType &Y);
      unsigned int   solve_mass(const VectorType &rhs, VectorType &x);
      Diagnostics    compute_diagnostics(const double t);
      void           time_derivative(const double t, const VectorType &y, VectorType &y_dot);
      void           interpolate_law(const double t, const bool perturbed, VectorType &y);
      ResidualReport compute_residuals(const double t);
      ResidualNorms  residual_norms(const double      t,
                                    const VectorType &y_ghosted,
                                    const VectorType &y_dot_ghosted,
                                    Vector<float>    *cell_residual);
      /// d/dt of the vector fill(t', y) at t: central differences, one-sided at t0.
      void   differentiate_in_time(const double                                     t,
                                   const std::function<void(double, VectorType &)> &fill,
                                   VectorType                                      &derivative);
      void   compare_with_density(const double t, const unsigned int output_index);
      void   output(const double t, const unsigned int index, const Diagnostics &d);
      void   write_statistics_row(const unsigned int step,
                                  const double       t,
                                  const double       dt,
                                  const Diagnostics &d,
                                  const StepReport  &report);
      double wall_seconds() const;

      const Parameters  &p;
      const unsigned int refinement_level;
      const std::string  directory;
      const bool         write_files;
      const MPI_Comm     communicator;
      const bool         log_form;
      const unsigned int n_components;
      // Score/Companion density, or implied by a reference file (its density).
      const bool         companion_density;
      ConditionalOStream pcout;
      TimerOutput        timer;

      std::unique_ptr<ForwardProcess>    process;
      std::unique_ptr<DataDistribution>  data;
      std::unique_ptr<CoordinateScaling> scaling;
      DirkTableau                        tableau;

      std::unique_ptr<parallel::TriangulationBase<dim>> triangulation;
      std::unique_ptr<Mapping<dim>>                     mapping;
      FESystem<dim>                                     fe;
      DoFHandler<dim>                                   dof_handler;
      IndexSet                                          locally_owned, locally_relevant;
      // `hanging` holds hanging-node constraints only: the residual and the mass matrix
      // that multiplies whole solution vectors (boundary values included). `constraints`
      // adds homogeneous Dirichlet rows: Newton updates, Jacobians, mass solves.
      AffineConstraints<double> hanging, constraints;

      MatrixType                                mass_matrix, condensed_mass_matrix, jacobian;
      std::unique_ptr<typename Backend::AMG>    amg;
      std::unique_ptr<typename Backend::Jacobi> jacobi, mass_preconditioner;
      bool               jacobian_is_current = false; // for this step and gamma h
      double             jacobian_gamma_h    = 0.0;
      double             stiffness_to_mass   = 0.0;
      unsigned int       n_jacobians         = 0;
      unsigned long long newton_iterations   = 0;

      VectorType solution, ghosted, residual, F_work;

      LawFunction<dim> exact, boundary_law, perturbed;
      // Cell-wise RMS of the score-form residual at the last output time (VTU fields).
      Vector<float>       computed_residual_field, quotient_residual_field;
      std::vector<double> output_times;

      // Companion density run on the same mesh (Score/Companion density).
      DensitySnapshots<dim, Backend> density;

      std::ofstream                               statistics;
      std::vector<std::pair<double, std::string>> pvd_records;
      std::unique_ptr<ReferenceOutput<dim>>       reference; // Output/Reference file
      ScoreRunResult                              result;
      std::chrono::steady_clock::time_point       start_wall;
    };

    template <int dim, typename Backend>
    ScoreSolver<dim, Backend>::ScoreSolver(const Parameters  &p,
                                           const unsigned int refinement_level,
                                           const std::string &output_directory,
                                           const bool         write_files,
                                           const MPI_Comm     communicator)
        : p(p)
        , refinement_level(refinement_level)
        , directory(output_directory)
        , write_files(write_files)
        , communicator(communicator)
        , log_form(p.equation == "log-density")
        , n_components(log_form ? 1 : dim)
        , companion_density(p.score.companion_density ||
                            (!log_form && writes_reference_file(p, refinement_level, write_files)))
        , pcout(std::cout, Utilities::MPI::this_mpi_process(communicator) == 0)
        , timer(pcout, TimerOutput::never, TimerOutput::wall_times)
        , fe(FE_Q<dim>(p.discretization.degree), log_form ? 1 : dim)
        , exact(log_form, 0.0, 1.0)
        , boundary_law(log_form, 0.0, 1.0)
        , perturbed(log_form, p.score.perturbation_amplitude, p.score.perturbation_width)
    {
      process = create_process(p.process);
      data    = create_data(p.data, dim);
      scaling =
          std::make_unique<CoordinateScaling>(*process, p.use_scaled_coordinates(), data->scale());
      tableau = load_dirk_tableau(p.time_stepping.method);
      if (log_form && writes_reference_file(p, refinement_level, write_files))
        throw InputError("Output/Reference file is not supported for log-density runs yet (the "
                         "file format stores a density and a vector score); expected it empty.");
      if (!tableau.stiffly_accurate)
        throw InputError("Time stepping/Method '" + tableau.name +
                         "' is not stiffly accurate; the score and log-density equations "
                         "impose boundary values on the stages and need a method whose last "
                         "stage is the new solution.");
      output_times =
          make_output_times(*process, p.output.output_times, p.output.n_output_intervals);
    }

    template <int dim, typename Backend>
    void ScoreSolver<dim, Backend>::setup_mesh_and_dofs()
    {
      TimerOutput::Scope scope(timer, "setup");
      triangulation = create_triangulation<dim>(communicator);
      make_mesh(*triangulation, p.mesh, refinement_level);
      mapping = create_mapping<dim>(p.mesh, p.discretization.degree);
      dof_handler.reinit(*triangulation);
      dof_handler.distribute_dofs(fe);
      locally_owned = dof_handler.locally_owned_dofs();
      DoFTools::extract_locally_relevant_dofs(dof_handler, locally_relevant);

      hanging.clear();
      hanging.reinit(locally_relevant);
      DoFTools::make_hanging_node_constraints(dof_handler, hanging);
      hanging.close();
      constraints.clear();
      constraints.reinit(locally_relevant);
      constraints.merge(hanging);
      for (const auto id : triangulation->get_boundary_ids())
        VectorTools::interpolate_boundary_values(
            *mapping, dof_handler, id, Functions::ZeroFunction<dim>(n_components), constraints);
      constraints.close();

      DynamicSparsityPattern dsp(locally_relevant);
      DoFTools::make_sparsity_pattern(dof_handler, dsp, hanging, true);
      SparsityTools::distribute_sparsity_pattern(
          dsp, locally_owned, communicator, locally_relevant);
      for (MatrixType *m : {&mass_matrix, &condensed_mass_matrix, &jacobian})
        m->reinit(locally_owned, locally_owned, dsp, communicator);
      for (VectorType *v : {&solution, &residual, &F_work})
        v->reinit(locally_owned, communicator);
      ghosted.reinit(locally_owned, locally_relevant, communicator);
    }

    template <int dim, typename Backend>
    void ScoreSolver<dim, Backend>::assemble_mass_matrices()
    {
      TimerOutput::Scope scope(timer, "assembly");
      const QGauss<dim>  quadrature(fe.degree + 1);
      FEValues<dim>      fe_values(
          *mapping, fe, quadrature, update_values | update_gradients | update_JxW_values);
      const unsigned int                   n = fe.n_dofs_per_cell();
      FullMatrix<double>                   cell_mass(n, n);
      std::vector<types::global_dof_index> dof_indices(n);
      double                               local_ratio = 0;
      for (const auto &cell : dof_handler.active_cell_iterators())
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
      stiffness_to_mass   = Utilities::MPI::max(local_ratio, communicator);
      mass_preconditioner = std::make_unique<typename Backend::Jacobi>();
      mass_preconditioner->initialize(condensed_mass_matrix);
    }

    template <int dim, typename Backend>
    void ScoreSolver<dim, Backend>::set_exact(const double t)
    {
      const double m = process->transition_mean_factor(t), v = process->transition_variance(t);
      exact.set(data->transported(m, v), scaling->scale(t));
      perturbed.set(data->transported(m, v), scaling->scale(t));
    }

    template <int dim, typename Backend>
    void ScoreSolver<dim, Backend>::set_boundary_law(const double t)
    {
      const double m = process->transition_mean_factor(t), v = process->transition_variance(t);
      boundary_law.set(p.score.boundary_condition == "gaussian" ? data->moment_matched(m, v)
                                                                : data->transported(m, v),
                       scaling->scale(t));
    }

    template <int dim, typename Backend>
    void ScoreSolver<dim, Backend>::impose_boundary_values(const double t, VectorType &y)
    {
      set_boundary_law(t);
      std::map<types::global_dof_index, double> values;
      for (const auto id : triangulation->get_boundary_ids())
        VectorTools::interpolate_boundary_values(*mapping, dof_handler, id, boundary_law, values);
      for (const auto &[i, value] : values)
        if (locally_owned.is_element(i))
          y(i) = value;
      y.compress(VectorOperation::insert);
    }

    template <int dim, typename Backend>
    void ScoreSolver<dim, Backend>::assemble(const double      t,
                                             const double      gamma_h,
                                             const VectorType &y,
                                             VectorType       &F,
                                             const bool        with_jacobian)
    {
      TimerOutput::Scope scope(
          timer, with_jacobian ? "assembly (residual and Jacobian)" : "assembly (residual)");
      const double       a = scaling->drift_rate(t), G = scaling->diffusion_squared(t);
      const QGauss<dim>  quadrature(fe.degree + 1);
      FEValues<dim>      fe_values(*mapping,
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
      for (const auto &cell : dof_handler.active_cell_iterators())
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
    void ScoreSolver<dim, Backend>::apply_rhs(const double t, const VectorType &y, VectorType &F)
    {
      ghosted = y;
      assemble(t, 0.0, ghosted, F, false);
    }

    template <int dim, typename Backend>
    unsigned int ScoreSolver<dim, Backend>::solve_stage(const double      t,
                                                        const double      gamma_h,
                                                        const VectorType &rhs,
                                                        VectorType       &Y)
    {
      // Newton's method for M Y - gamma h F(t, Y) = rhs with Y = boundary data on the
      // boundary. The Jacobian is kept through the stages of a step while the updates
      // shrink fast (simplified Newton) and rebuilt when they stall.
      impose_boundary_values(t, Y);
      // With error control, stage errors far below the step tolerance buy nothing.
      const double newton_tolerance =
          p.time_stepping.fixed_step > 0
              ? p.score.newton_tolerance
              : std::min(p.score.newton_tolerance, 1e-2 * p.time_stepping.tolerance);
      unsigned int linear_iterations = 0;
      double       previous_update   = std::numeric_limits<double>::infinity();
      VectorType   update(locally_owned, communicator);
      for (unsigned int k = 0; k < p.score.maximum_newton_iterations; ++k)
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
              TimerOutput::Scope scope(timer, "preconditioner setup");
              ++n_jacobians;
              jacobian_is_current = true;
              jacobian_gamma_h    = gamma_h;
              // Mass-dominated systems (short steps, weak noise) need no multigrid.
              const double diffusion_number =
                  gamma_h * 0.5 * scaling->diffusion_squared(t) * stiffness_to_mass;
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
            TimerOutput::Scope scope(timer, "linear solves (Newton)");
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
      s << "Newton's method did not converge in " << p.score.maximum_newton_iterations
        << " iterations (Score/Maximum Newton iterations) at the stage time t = "
        << std::setprecision(8) << t << ".";
      throw StepFailure(s.str());
    }

    template <int dim, typename Backend>
    unsigned int ScoreSolver<dim, Backend>::solve_mass(const VectorType &rhs, VectorType &x)
    {
      // Boundary rows carry no equation (their values are imposed): the solve is on the
      // interior, with x = 0 on the boundary.
      TimerOutput::Scope scope(timer, "linear solves (mass)");
      residual = rhs;
      constraints.set_zero(residual);
      x = 0;
      SolverControl        control(p.linear_solver.maximum_iterations,
                            p.linear_solver.relative_tolerance * residual.l2_norm());
      SolverCG<VectorType> cg(control);
      try
        {
          cg.solve(condensed_mass_matrix, x, residual, *mass_preconditioner);
        }
      catch (const SolverControl::NoConvergence &e)
        {
          throw SolverFailure("The mass-matrix solve did not converge in " +
                              std::to_string(e.last_step) +
                              " CG iterations; raise Linear solver/Maximum iterations.");
        }
      constraints.distribute(x);
      return control.last_step();
    }

    template <int dim, typename Backend>
    typename ScoreSolver<dim, Backend>::Diagnostics
    ScoreSolver<dim, Backend>::compute_diagnostics(const double t)
    {
      TimerOutput::Scope scope(timer, "errors");
      // One pass over the cells keeps, per quadrature point, what the error norms need;
      // the bulk and tail regions are then found from the exact density.
      set_exact(t);
      ghosted                                    = solution;
      const double                             c = scaling->scale(t);
      const QGauss<dim>                        quadrature(fe.degree + 2);
      FEValues<dim>                            fe_values(*mapping,
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
      for (const auto &cell : dof_handler.active_cell_iterators())
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
          highest_density_threshold(density, weight, p.score.bulk_mass, communicator);
      const double tail_threshold =
          p.score.tail_threshold *
          Utilities::MPI::max(density.empty() ? 0.0
                                              : *std::max_element(density.begin(), density.end()),
                              communicator);
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
          ArrayView<const double>(local, 12), communicator, ArrayView<double>(global, 12));
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
              ArrayView<const double>(local_norms, 4), communicator, ArrayView<double>(norms, 4));
          Utilities::MPI::max(
              ArrayView<const double>(local_max, 2), communicator, ArrayView<double>(max, 2));
          d.density_errors.l1   = norms[0] / norms[2];
          d.density_errors.l2   = std::sqrt(norms[1] / norms[3]);
          d.density_errors.linf = max[0] / max[1];
        }
      return d;
    }

    /// Half-width of the central differences that give the time derivative of a
    /// closed-form field (and of the boundary data): small against every time scale of
    /// the presets, large against rounding (error about 1e-10 relative).
    inline double difference_step(const ForwardProcess &process)
    {
      return 1e-6 * (process.final_time - process.start_time);
    }

    template <int dim, typename Backend>
    void ScoreSolver<dim, Backend>::differentiate_in_time(
        const double                                     t,
        const std::function<void(double, VectorType &)> &fill,
        VectorType                                      &derivative)
    {
      const double delta = difference_step(*process);
      VectorType   a(locally_owned, communicator), b(locally_owned, communicator);
      if (t - delta >= process->start_time)
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

    template <int dim, typename Backend>
    void ScoreSolver<dim, Backend>::time_derivative(const double      t,
                                                    const VectorType &y,
                                                    VectorType       &y_dot)
    {
      // The semi-discrete derivative: M y' = F(t, y) on the interior rows, y' = dg/dt
      // (the derivative of the imposed data) on the boundary. The boundary part is
      // lifted out of the interior equations (M y' = F with y' = y'_0 + g').
      VectorType F(locally_owned, communicator), boundary_rate(locally_owned, communicator);
      differentiate_in_time(
          t,
          [this](const double time, VectorType &v) {
            v = 0;
            impose_boundary_values(time, v);
          },
          boundary_rate);
      apply_rhs(t, y, F);
      VectorType lifted(locally_owned, communicator);
      mass_matrix.vmult(lifted, boundary_rate);
      F -= lifted;
      solve_mass(F, y_dot);
      y_dot += boundary_rate;
    }

    template <int dim, typename Backend>
    void
    ScoreSolver<dim, Backend>::interpolate_law(const double t, const bool with_bump, VectorType &y)
    {
      set_exact(t);
      VectorTools::interpolate(*mapping, dof_handler, with_bump ? perturbed : exact, y);
    }

    template <int dim, typename Backend>
    ResidualNorms ScoreSolver<dim, Backend>::residual_norms(const double      t,
                                                            const VectorType &y,
                                                            const VectorType &y_dot,
                                                            Vector<float>    *cell_residual)
    {
      // p-weighted L2 norms in the original coordinates: with s_xi = c s_x the
      // residuals map as r_xi = c r_x and R_xi = R_x.
      set_exact(t);
      const double       a = scaling->drift_rate(t), G = scaling->diffusion_squared(t);
      const double       c      = scaling->scale(t);
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
      FEValues<dim>               fe_values(*mapping, fe, quadrature, flags);
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
        cell_residual->reinit(triangulation->n_active_cells());
      for (const auto &cell : dof_handler.active_cell_iterators())
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
          ArrayView<const double>(local, 2), communicator, ArrayView<double>(global, 2));
      ResidualNorms norms;
      if (score_available)
        norms.score_form = std::sqrt(global[0]) / c;
      if (log_available)
        norms.log_form = std::sqrt(global[1]);
      return norms;
    }

    template <int dim, typename Backend>
    ResidualReport ScoreSolver<dim, Backend>::compute_residuals(const double t)
    {
      TimerOutput::Scope scope(timer, "residuals");
      ResidualReport     report;
      report.time = t;
      VectorType y_dot(locally_owned, communicator), field(locally_owned, communicator),
          plus(locally_owned, communicator);
      VectorType field_ghosted(locally_owned, locally_relevant, communicator),
          rate_ghosted(locally_owned, locally_relevant, communicator);

      time_derivative(t, solution, y_dot);
      field_ghosted   = solution;
      rate_ghosted    = y_dot;
      report.computed = residual_norms(t, field_ghosted, rate_ghosted, &computed_residual_field);

      for (const bool with_bump : {false, true})
        {
          if (with_bump && p.score.perturbation_amplitude == 0.0)
            continue;
          differentiate_in_time(
              t,
              [&](const double time, VectorType &v) { interpolate_law(time, with_bump, v); },
              plus);
          interpolate_law(t, with_bump, field);
          field_ghosted = field;
          rate_ghosted  = plus;
          (with_bump ? report.perturbed : report.exact) =
              residual_norms(t, field_ghosted, rate_ghosted, nullptr);
        }
      return report;
    }

    template <int dim, typename Backend>
    void ScoreSolver<dim, Backend>::compare_with_density(const double       t,
                                                         const unsigned int output_index)
    {
      TimerOutput::Scope scope(timer, "comparison with the density");
      AssertThrow(output_index < density.times.size() &&
                      std::abs(density.times[output_index] - t) < 1e-12 * (1 + std::abs(t)),
                  ExcMessage("The density snapshots do not match the score output times."));
      set_exact(t);
      ghosted                         = solution;
      const auto        &density_dofs = *density.dof_handler;
      const auto        &q_h          = density.densities[output_index];
      const auto        &q_dot        = density.derivatives[output_index];
      const double       c            = scaling->scale(t);
      const double       a = scaling->drift_rate(t), G = scaling->diffusion_squared(t);
      const unsigned int degree = density_dofs.get_fe().degree;

      const QGauss<dim>  quadrature(fe.degree + 2);
      FEValues<dim>      score_values(*mapping, fe, quadrature, update_values | update_gradients);
      FEValues<dim>      density_values(*mapping,
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
      quotient_residual_field.reinit(triangulation->n_active_cells());
      for (const auto &cell : dof_handler.active_cell_iterators())
        if (cell->is_locally_owned())
          {
            double                                               cell_sum = 0, cell_measure = 0;
            const typename DoFHandler<dim>::active_cell_iterator density_cell(
                &*triangulation, cell->level(), cell->index(), &density_dofs);
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
                const double         q_ex = exact.density(xi);
                const Tensor<1, dim> s    = exact.score(xi);
                Tensor<1, dim>       s_h;
                for (unsigned int k = 0; k < dim; ++k)
                  s_h[k] = log_form ? s_gradients[q][0][k] : s_values[q](k);
                std::array<double, 7> record = {{c * xi.norm(),
                                                 q_ex / std::pow(c, dim),
                                                 density_values.JxW(q) * std::pow(c, dim),
                                                 (s_h - s).norm_square() / (c * c),
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
                    record[4]           = (jet.s - s).norm_square() / (c * c);
                    record[5]           = (s_h - jet.s).norm_square() / (c * c);
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
          ArrayView<const double>(local_max, 2), communicator, ArrayView<double>(global_max, 2));
      const double        tail = p.score.tail_threshold * global_max[1];
      std::vector<double> density_at, weight_at;
      for (const auto &r : points)
        {
          density_at.push_back(r[1]);
          weight_at.push_back(r[1] * r[2]);
        }
      const double bulk =
          highest_density_threshold(density_at, weight_at, p.score.bulk_mass, communicator);
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
          ArrayView<const double>(local, 9), communicator, ArrayView<double>(global, 9));
      result.quotient_errors.push_back(score_errors(global + 2, global[8]));
      ResidualNorms quotient_residuals;
      if (degree >= 3)
        quotient_residuals.score_form = std::sqrt(global[0]) / c;
      if (degree >= 2)
        quotient_residuals.log_form = std::sqrt(global[1]);
      if (!result.residuals.empty() && std::abs(result.residuals.back().time - t) < 1e-14)
        result.residuals.back().density_quotient = quotient_residuals;

      // Shells of |x|: RMS (in the dx measure) of each error, over the points where the
      // quotient is defined, and a count of those where it is not.
      const unsigned int  n_shells = p.score.n_tail_shells;
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
          ArrayView<const double>(shell_local), communicator, ArrayView<double>(shell_sum));
      Utilities::MPI::max(
          ArrayView<const double>(shell_max), communicator, ArrayView<double>(shell_maximum));
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
          shell.rms_quotient_error   = volume > 0 ? std::sqrt(shell_sum[6 * k + 2] / volume) : nan;
          shell.rms_difference       = volume > 0 ? std::sqrt(shell_sum[6 * k + 3] / volume) : nan;
          shell.n_quotient_undefined = static_cast<unsigned int>(shell_sum[6 * k + 5]);
        }
      result.tail_shells.push_back(shells);
    }

    template <int dim, typename Backend>
    void ScoreSolver<dim, Backend>::output(const double       t,
                                           const unsigned int index,
                                           const Diagnostics &d)
    {
      if (!write_files || !p.output.write_vtu)
        return;
      TimerOutput::Scope scope(timer, "output");
      set_exact(t);
      ghosted = solution;
      ScorePostprocessor<dim> postprocessor(exact, log_form, std::log(d.normalisation));
      ScaledDataOut<dim>      data_out;
      data_out.attach_dof_handler(dof_handler);
      data_out.add_data_vector(ghosted, postprocessor);
      if (computed_residual_field.size() == triangulation->n_active_cells())
        data_out.add_data_vector(computed_residual_field, "score_residual");
      if (quotient_residual_field.size() == triangulation->n_active_cells())
        data_out.add_data_vector(quotient_residual_field, "quotient_score_residual");
      data_out.write_time_step(*triangulation,
                               *mapping,
                               p.mesh.geometry != "box",
                               fe.degree,
                               scaling->enabled() ? scaling->scale(t) : 1.0,
                               t,
                               directory,
                               index,
                               pvd_records);
    }

    template <int dim, typename Backend>
    void ScoreSolver<dim, Backend>::write_statistics_row(const unsigned int step,
                                                         const double       t,
                                                         const double       dt,
                                                         const Diagnostics &d,
                                                         const StepReport  &report)
    {
      if (!statistics.is_open())
        return;
      statistics << step << "," << t << "," << dt << "," << d.errors.l2 << "," << d.errors.l2_bulk
                 << "," << d.errors.l2_tail << "," << d.errors.fisher;
      if (log_form)
        statistics << "," << d.normalisation << "," << d.density_errors.l2;
      statistics << "," << newton_iterations << "," << report.linear_iterations << ","
                 << wall_seconds() << "\n";
    }

    template <int dim, typename Backend>
    double ScoreSolver<dim, Backend>::wall_seconds() const
    {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_wall).count();
    }

    template <int dim, typename Backend>
    ScoreRunResult ScoreSolver<dim, Backend>::run()
    {
      start_wall = std::chrono::steady_clock::now();
      setup_mesh_and_dofs();
      {
        // The law must be (nearly) inside the mesh at the start and the end.
        const ScalarFunctionFromFunctionObject<dim> law_density(
            [this](const Point<dim> &xi) { return exact.density(xi); });
        for (const double t : {process->start_time, process->final_time})
          {
            set_exact(t);
            check_mass_in_domain(integrate_over_mesh(*triangulation,
                                                     *mapping,
                                                     QIterated<dim>(QGauss<1>(fe.degree + 1), 4),
                                                     law_density),
                                 p.mesh.minimum_mass,
                                 t,
                                 scaling->enabled());
          }
      }
      const bool root = Utilities::MPI::this_mpi_process(communicator) == 0;
      if (write_files && root)
        {
          std::filesystem::create_directories(directory);
          std::filesystem::remove(directory + "/summary.json");
        }
      MPI_Barrier(communicator);

      if (companion_density)
        {
          // The density FPE on this very mesh first: its snapshots at the output times
          // give grad p_h / p_h to compare with the score.
          Parameters density_parameters = p;
          density_parameters.equation   = "density";
          // The score run writes the reference file itself, with the score.
          density_parameters.output.reference_file.clear();
          solve_density_on<dim, Backend>(density_parameters,
                                         *triangulation,
                                         refinement_level,
                                         directory + "/density",
                                         write_files,
                                         density);
        }

      if (write_files && root)
        {
          statistics.open(directory + "/statistics.csv");
          statistics << std::setprecision(10)
                     << "step,time,dt,score_relative_L2,score_relative_L2_bulk,"
                        "score_relative_L2_tail,fisher_divergence,"
                     << (log_form ? "normalisation,density_relative_L2," : "")
                     << "newton_iterations,linear_iterations,wall_seconds\n";
        }
      if (!log_form && writes_reference_file(p, refinement_level, write_files))
        reference = std::make_unique<ReferenceOutput<dim>>(p, data->description(), *triangulation);
      assemble_mass_matrices();
      {
        TimerOutput::Scope scope(timer, "initial interpolation");
        // The closed-form initial law is smooth (the checkerboard is smoothed):
        // nodal interpolation is accurate to the element's order.
        interpolate_law(process->start_time, false, solution);
      }

      result.equation = p.equation;
      describe_run(
          result, dof_handler, refinement_level, *process, *data, tableau, *scaling, Backend::name);
      result.boundary_condition = p.score.boundary_condition;

      pcout << "scorefp " << p.equation << ": " << dim << "D " << process->name() << ", "
            << data->description() << ", Q" << fe.degree << (log_form ? "" : "^d") << ", level "
            << refinement_level << ", " << result.n_cells << " cells, " << result.n_dofs
            << " DoFs, " << result.n_ranks << " rank(s), " << Backend::name << ", " << tableau.name
            << ", " << p.score.boundary_condition << " boundary data"
            << (scaling->enabled() ? ", scaled coordinates" : "") << std::endl;

      OdeOperators<VectorType> operators;
      operators.apply_rhs = [this](double t, const VectorType &y, VectorType &F) {
        apply_rhs(t, y, F);
      };
      operators.solve_stage =
          [this](double t, double gamma_h, const VectorType &rhs, VectorType &Y, bool) {
            return solve_stage(t, gamma_h, rhs, Y);
          };
      operators.solve_mass = [this](const VectorType &rhs, VectorType &x) {
        return solve_mass(rhs, x);
      };
      operators.apply_mass = [this](const VectorType &x, VectorType &Mx) {
        mass_matrix.vmult(Mx, x);
      };
      DirkIntegrator<VectorType> integrator(tableau, operators);

      const double t0            = process->start_time;
      Diagnostics  diagnostics   = compute_diagnostics(t0);
      const auto   record_output = [&](const unsigned int index, const double t) {
        result.output_times.push_back(t);
        result.output_errors.push_back(diagnostics.errors);
        result.max_errors.take_maximum(diagnostics.errors);
        if (log_form)
          result.max_density_errors.take_maximum(diagnostics.density_errors);
        result.residuals.push_back(compute_residuals(t));
        if (companion_density)
          compare_with_density(t, index);
        output(t, index, diagnostics);
        if (reference)
          {
            ghosted = solution;
            reference->add_snapshot(t,
                                    scaling->scale(t),
                                    *density.dof_handler,
                                    density.densities[index],
                                    &dof_handler,
                                    &ghosted);
          }
        if (statistics.is_open())
          statistics.flush();
      };
      write_statistics_row(0, t0, 0.0, diagnostics, StepReport());
      record_output(0, t0);

      TimeLoopHooks<VectorType> hooks;
      hooks.step = [&](double t, double h, const VectorType &y, VectorType &y_new, bool estimate) {
        jacobian_is_current = false; // a new step: new step size, new state
        return integrator.step(t, h, y, y_new, estimate);
      };
      hooks.accepted = [&](unsigned int step, double t, double h, const StepReport &report) {
        diagnostics = compute_diagnostics(t);
        write_statistics_row(step, t, h, diagnostics, report);
      };
      hooks.output           = record_output;
      hooks.progress_figures = [&]() {
        std::ostringstream s;
        s << "score L2 error = " << std::setw(9) << std::setprecision(3) << diagnostics.errors.l2
          << "  Fisher = " << std::setw(9) << diagnostics.errors.fisher;
        if (log_form)
          s << "  Z = " << std::setprecision(8) << diagnostics.normalisation;
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
      result.newton_iterations    = newton_iterations;
      result.n_jacobians          = n_jacobians;
      result.final_errors         = diagnostics.errors;
      result.final_density_errors = diagnostics.density_errors;
      result.normalisation        = diagnostics.normalisation;
      result.wall_seconds         = wall_seconds();
      pcout << "  " << result.n_steps << " steps (" << result.n_rejected_steps << " rejected), "
            << result.newton_iterations << " Newton iterations, " << result.linear_iterations
            << " linear iterations, " << n_jacobians << " Jacobians; final score relative L2 error "
            << std::setprecision(3) << result.final_errors.l2 << ", max over output times "
            << result.max_errors.l2 << std::endl;
      if (!p.output.quiet)
        timer.print_wall_time_statistics(communicator);
      return result;
    }
  } // namespace score

  template <int dim, typename Backend>
  ScoreRunResult solve_score(const Parameters  &p,
                             const unsigned int refinement_level,
                             const std::string &output_directory,
                             const bool         write_files,
                             const MPI_Comm     communicator)
  {
    score::ScoreSolver<dim, Backend> solver(
        p, refinement_level, output_directory, write_files, communicator);
    return solver.run();
  }
} // namespace scorefp
