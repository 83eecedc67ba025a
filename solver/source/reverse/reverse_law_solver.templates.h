// Implementation of solve_reverse_laws(): the reverse-time law operator (discontinuous
// Galerkin, upwind transport and interior-penalty diffusion) and what is measured of
// its solution, on the finite-element skeleton run backwards. Included by one source
// file per linear-algebra backend, each instantiating dim = 1, 2, 3.
#pragma once

#include "fe/fe_output.h"
#include "reference/reference_output.h"

#include <scorefp/core/input_error.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/fe/finite_element_run.h>
#include <scorefp/fe/linear_algebra.h>
#include <scorefp/mesh/mesh.h>
#include <scorefp/reverse/cloud_distances.h>
#include <scorefp/reverse/reverse_law.h>
#include <scorefp/score_check/score_check.h>
#include <scorefp/reverse/wasserstein_1d.h>
#include <scorefp/score_source/score_source.h>

#include <deal.II/base/mpi.h>
#include <deal.II/base/mpi_remote_point_evaluation.h>
#include <deal.II/base/quadrature_lib.h>
#include <deal.II/base/symmetric_tensor.h>
#include <deal.II/base/timer.h>
#include <deal.II/dofs/dof_tools.h>
#include <deal.II/fe/fe_dgq.h>
#include <deal.II/fe/fe_interface_values.h>
#include <deal.II/fe/fe_values.h>
#include <deal.II/lac/dynamic_sparsity_pattern.h>
#include <deal.II/lac/full_matrix.h>
#include <deal.II/lac/solver_control.h>
#include <deal.II/lac/solver_gmres.h>
#include <deal.II/lac/sparsity_tools.h>
#include <deal.II/numerics/data_out.h>
#include <deal.II/numerics/data_postprocessor.h>
#include <deal.II/numerics/vector_tools_evaluate.h>

#include <algorithm>
#include <array>
#include <functional>
#include <tuple>
#include <cmath>
#include <iomanip>
#include <limits>
#include <memory>
#include <sstream>

namespace scorefp
{
  namespace reverse
  {
    using namespace dealii;

    /// The solution of a law at its output times, on the shared mesh (same element,
    /// same DoF numbering in every run on it).
    template <typename VectorType>
    struct Snapshots
    {
      std::vector<double>     times;
      std::vector<VectorType> values; // ghosted, mesh coordinates
    };

    /// A density in original coordinates seen from the mesh: q(xi) = c^d p(c xi).
    template <int dim>
    double scaled_value(const DensityField &field, const double c, const Point<dim> &xi)
    {
      double x[dim];
      for (unsigned int j = 0; j < dim; ++j)
        x[j] = c * xi[j];
      return std::pow(c, dim) * field.value(x);
    }

    /// A cell's extent normal to its face f: its measure over the face's (1D: its length).
    template <typename CellIterator>
    double normal_extent(const CellIterator &cell, const unsigned int f)
    {
      if constexpr (CellIterator::AccessorType::dimension == 1)
        return cell->measure();
      else
        return cell->measure() / cell->face(f)->measure();
    }

    /// The induced law's operator in the mass-matrix form M dq/dtau = C(tau) q, with
    ///   (C q, phi) = sum_K int_K q b.grad phi - sum_F int_F (b.n) q_upwind [phi]
    ///                - D (SIPG form of -Laplace q, natural zero-flux boundary),
    /// b = a_xi xi + kappa g_xi^2 s_xi the velocity (kappa = 1/2 ODE, 1 SDE) and
    /// D = g_xi^2/2 (SDE) or 0 (ODE), in the mesh coordinates (MATH.md section 2:
    /// a -> a + c'/c, g^2 -> g^2/c^2, s_xi(xi) = c s(c xi)). At the boundary, flow
    /// that leaves takes its mass with it and flow that enters brings none (the law
    /// is zero outside); the interior fluxes cancel, so 1^T C q is minus the boundary
    /// outflow and the mass changes by nothing else.
    ///
    /// C depends on tau through a, g and the score, so it is assembled anew for every
    /// time the integrator asks for (the last one is kept: a stiffly accurate method
    /// asks twice for the same time). The score is evaluated in one batch per assembly
    /// at every volume and face quadrature point, which a TorchScript model needs to be
    /// fast.
    ///
    /// The face terms are assembled from both sides, each side adding the rows of its
    /// own cell only: every row a rank writes is its own, so no matrix entry crosses
    /// ranks, at the price of computing each interior face twice.
    template <int dim, typename Backend>
    class ReverseLawOperator : public EquationOperator<dim, Backend>
    {
      using VectorType = typename Backend::Vector;
      using MatrixType = typename Backend::Matrix;

    public:
      ReverseLawOperator(FiniteElementRun<dim, Backend> &run,
                         const ReverseLawInputs         &inputs,
                         const ReverseLaw                law)
          : run(run)
          , p(run.parameters)
          , inputs(inputs)
          , law(law)
          , fe(p.discretization.degree)
          , kappa(law == ReverseLaw::ode ? 0.5 : 1.0)
          , diffusion_factor(law == ReverseLaw::ode ? 0.0 : 0.5)
      {
      }

      std::string               name() const override { return reverse_law_name(law) + " law"; }
      const FiniteElement<dim> &finite_element() const override { return fe; }
      std::string element_name() const override { return "DGQ" + std::to_string(fe.degree); }
      std::string banner_details() const override
      {
        return std::string(", upwind fluxes") +
               (law == ReverseLaw::sde ? ", interior penalty" : "") + ", score " +
               inputs.score->description() + ", from " + inputs.start_description;
      }

      void         setup_system() override;
      void         assemble_system() override;
      void         initial_value(VectorType &y) override;
      void         apply_rhs(const double tau, const VectorType &y, VectorType &F) override;
      unsigned int solve_stage(const double      tau,
                               const double      gamma_h,
                               const VectorType &rhs,
                               VectorType       &Y,
                               const bool        final_stage) override;
      unsigned int solve_mass(const VectorType &rhs, VectorType &x) override;
      void         apply_mass(const VectorType &x, VectorType &Mx) const override
      {
        mass_matrix.vmult(Mx, x);
      }

      std::string statistics_header() const override { return "assemblies,"; }
      void        write_statistics(std::ostream &out) const override { out << n_assemblies << ","; }
      std::string cost_summary(const unsigned long long linear_iterations) const override
      {
        return std::to_string(linear_iterations) + " linear iterations, " +
               std::to_string(n_assemblies) + " operator assemblies (" +
               std::to_string(n_score_points) + " score points each)";
      }

      /// The rate at which mass leaves through the boundary, int (b.n)^+ q ds, at the
      /// physical time t (collective).
      double outflow_rate(const double t, const VectorType &ghosted);

    private:
      /// The velocity b at every quadrature point of `points` at physical time t.
      void velocities(const double t);
      /// C(tau) into operator_matrix unless it holds it already.
      void assemble_operator(const double tau);

      FiniteElementRun<dim, Backend> &run;
      const FiniteElementCase        &p;
      const ReverseLawInputs         &inputs;
      const ReverseLaw                law;
      FE_DGQ<dim>                     fe;
      const double                    kappa, diffusion_factor;

      MatrixType                                mass_matrix, operator_matrix, stage_matrix;
      std::unique_ptr<typename Backend::Jacobi> mass_preconditioner;
      double             assembled_tau  = std::numeric_limits<double>::quiet_NaN();
      unsigned int       n_assemblies   = 0;
      unsigned long long n_score_points = 0;

      // Quadrature points in the order the assembly visits them: the volume points of
      // every locally owned cell, then for every face of it the face points (mesh
      // coordinates); the velocity at each, refreshed by velocities().
      std::vector<Point<dim>>     points;
      std::vector<Tensor<1, dim>> velocity;
      std::vector<double>         physical_points, score_values; // work arrays
      double                      velocity_time = std::numeric_limits<double>::quiet_NaN();
    };

    template <int dim, typename Backend>
    void ReverseLawOperator<dim, Backend>::setup_system()
    {
      const auto &dof_handler = *run.dof_handler;
      for (const auto &cell : run.triangulation->active_cell_iterators())
        if (cell->is_locally_owned())
          for (const unsigned int f : cell->face_indices())
            if (!cell->at_boundary(f) &&
                (cell->face(f)->has_children() || cell->neighbor_is_coarser(f)))
              throw InputError("Task = reverse law needs a mesh without hanging faces (a "
                               "globally refined mesh); the mesh of section Mesh has some.");
      DynamicSparsityPattern dsp(run.locally_relevant);
      DoFTools::make_flux_sparsity_pattern(dof_handler, dsp);
      SparsityTools::distribute_sparsity_pattern(
          dsp, run.locally_owned, run.communicator, run.locally_relevant);
      for (MatrixType *m : {&mass_matrix, &operator_matrix, &stage_matrix})
        m->reinit(run.locally_owned, run.locally_owned, dsp, run.communicator);

      // The quadrature points, in assembly order.
      const QGauss<dim>     quadrature(fe.degree + 1);
      const QGauss<dim - 1> face_quadrature(fe.degree + 1);
      FEValues<dim>         fe_values(*run.mapping, fe, quadrature, update_quadrature_points);
      FEFaceValues<dim> fe_face_values(*run.mapping, fe, face_quadrature, update_quadrature_points);
      points.clear();
      for (const auto &cell : dof_handler.active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            for (const auto &x : fe_values.get_quadrature_points())
              points.push_back(x);
            for (const unsigned int f : cell->face_indices())
              {
                fe_face_values.reinit(cell, f);
                for (const auto &x : fe_face_values.get_quadrature_points())
                  points.push_back(x);
              }
          }
      velocity.resize(points.size());
      physical_points.resize(points.size() * dim);
      score_values.resize(points.size() * dim);
      n_score_points = Utilities::MPI::sum<unsigned long long>(points.size(), run.communicator);
    }

    template <int dim, typename Backend>
    void ReverseLawOperator<dim, Backend>::velocities(const double t)
    {
      if (t == velocity_time)
        return;
      TimerOutput::Scope scope(run.timer, "score evaluation");
      const double       c  = run.scaling->scale(t);
      const double       a  = run.scaling->drift_rate(t);
      const double       g2 = run.scaling->diffusion_squared(t);
      for (std::size_t k = 0; k < points.size(); ++k)
        for (unsigned int j = 0; j < dim; ++j)
          physical_points[k * dim + j] = c * points[k][j];
      inputs.score->evaluate(t, physical_points.data(), points.size(), score_values.data());
      // b = a_xi xi + kappa g_xi^2 s_xi with s_xi = c s_x(c xi).
      for (std::size_t k = 0; k < points.size(); ++k)
        for (unsigned int j = 0; j < dim; ++j)
          {
            const double s = score_values[k * dim + j];
            if (!std::isfinite(s))
              throw SolverFailure(
                  "The score " + inputs.score->description() + " is not finite at x = " +
                  std::to_string(physical_points[k * dim]) + "... at t = " + std::to_string(t) +
                  "; the reverse-time law needs a score "
                  "defined on the whole mesh.");
            velocity[k][j] = a * points[k][j] + kappa * g2 * c * s;
          }
      velocity_time = t;
    }

    template <int dim, typename Backend>
    void ReverseLawOperator<dim, Backend>::assemble_system()
    {
      TimerOutput::Scope scope(run.timer, "assembly");
      const QGauss<dim>  quadrature(fe.degree + 1);
      FEValues<dim>      fe_values(*run.mapping, fe, quadrature, update_values | update_JxW_values);
      const unsigned int n = fe.n_dofs_per_cell();
      FullMatrix<double> cell_mass(n, n);
      std::vector<types::global_dof_index> dof_indices(n);
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            cell_mass = 0;
            for (unsigned int q = 0; q < quadrature.size(); ++q)
              for (unsigned int i = 0; i < n; ++i)
                for (unsigned int j = 0; j < n; ++j)
                  cell_mass(i, j) +=
                      fe_values.shape_value(i, q) * fe_values.shape_value(j, q) * fe_values.JxW(q);
            cell->get_dof_indices(dof_indices);
            mass_matrix.add(dof_indices, dof_indices, cell_mass);
          }
      mass_matrix.compress(VectorOperation::add);
      mass_preconditioner = std::make_unique<typename Backend::Jacobi>();
      mass_preconditioner->initialize(mass_matrix);
    }

    template <int dim, typename Backend>
    void ReverseLawOperator<dim, Backend>::assemble_operator(const double tau)
    {
      if (tau == assembled_tau)
        return;
      const double t = run.physical_time(tau);
      velocities(t);
      TimerOutput::Scope    scope(run.timer, "assembly");
      const double          D = diffusion_factor * run.scaling->diffusion_squared(t);
      const QGauss<dim>     quadrature(fe.degree + 1);
      const QGauss<dim - 1> face_quadrature(fe.degree + 1);
      FEValues<dim>         fe_values(
          *run.mapping, fe, quadrature, update_values | update_gradients | update_JxW_values);
      FEInterfaceValues<dim>               fe_interface(*run.mapping,
                                          fe,
                                          face_quadrature,
                                          update_values | update_gradients | update_JxW_values |
                                              update_normal_vectors);
      FEFaceValues<dim>                    fe_face(*run.mapping,
                                fe,
                                face_quadrature,
                                update_values | update_JxW_values | update_normal_vectors);
      const unsigned int                   n = fe.n_dofs_per_cell();
      FullMatrix<double>                   cell_matrix(n, n), face_matrix(n, 2 * n);
      std::vector<types::global_dof_index> dof_indices(n), row_indices(n);
      std::vector<unsigned int>            rows(n); // this cell's interface DoFs
      // The interior penalty sigma = factor (p + 1)^2 / h, h the cell's extent normal
      // to the face, averaged over the two sides so that both sides agree.
      const double penalty = inputs.penalty_factor * (fe.degree + 1.0) * (fe.degree + 1.0);

      operator_matrix = 0;
      std::size_t k   = 0; // position in points / velocity
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            cell->get_dof_indices(dof_indices);
            cell_matrix = 0;
            for (unsigned int q = 0; q < quadrature.size(); ++q, ++k)
              {
                const double          JxW = fe_values.JxW(q);
                const Tensor<1, dim> &b   = velocity[k];
                for (unsigned int i = 0; i < n; ++i)
                  {
                    const Tensor<1, dim> grad_i = fe_values.shape_grad(i, q);
                    const double         b_grad = b * grad_i;
                    for (unsigned int j = 0; j < n; ++j)
                      cell_matrix(i, j) += (b_grad * fe_values.shape_value(j, q) -
                                            D * (grad_i * fe_values.shape_grad(j, q))) *
                                           JxW;
                  }
              }
            operator_matrix.add(dof_indices, dof_indices, cell_matrix);

            for (const unsigned int f : cell->face_indices())
              {
                if (cell->at_boundary(f))
                  {
                    // Outflow leaves with its mass; inflow brings none.
                    fe_face.reinit(cell, f);
                    cell_matrix = 0;
                    for (unsigned int q = 0; q < face_quadrature.size(); ++q, ++k)
                      {
                        const double bn = velocity[k] * fe_face.normal_vector(q);
                        if (bn <= 0)
                          continue;
                        for (unsigned int i = 0; i < n; ++i)
                          for (unsigned int j = 0; j < n; ++j)
                            cell_matrix(i, j) -= bn * fe_face.shape_value(i, q) *
                                                 fe_face.shape_value(j, q) * fe_face.JxW(q);
                      }
                    operator_matrix.add(dof_indices, dof_indices, cell_matrix);
                    continue;
                  }
                const auto         neighbor      = cell->neighbor(f);
                const unsigned int neighbor_face = cell->neighbor_of_neighbor(f);
                fe_interface.reinit(cell,
                                    f,
                                    numbers::invalid_unsigned_int,
                                    neighbor,
                                    neighbor_face,
                                    numbers::invalid_unsigned_int);
                const double h_here  = normal_extent(cell, f);
                const double h_there = normal_extent(neighbor, neighbor_face);
                const double sigma   = penalty * 0.5 * (1.0 / h_here + 1.0 / h_there);
                const auto   indices = fe_interface.get_interface_dof_indices();
                AssertDimension(indices.size(), 2 * n);
                // Rows: the interface DoFs of this cell (cell index 0), in the order of
                // dof_indices; columns: all interface DoFs.
                for (unsigned int i = 0, r = 0; i < indices.size(); ++i)
                  if (fe_interface.interface_dof_to_dof_indices(i)[0] !=
                      numbers::invalid_unsigned_int)
                    rows[r++] = i;
                face_matrix = 0;
                for (unsigned int q = 0; q < face_quadrature.size(); ++q, ++k)
                  {
                    const Tensor<1, dim> normal = fe_interface.normal(q);
                    const double         bn     = velocity[k] * normal;
                    const double         JxW    = fe_interface.JxW(q);
                    for (unsigned int r = 0; r < n; ++r)
                      {
                        const unsigned int i     = rows[r];
                        const double       phi_i = fe_interface.shape_value(true, i, q);
                        const double       dphi_i_n =
                            0.5 * (fe_interface.get_fe_face_values(0).shape_grad(
                                       fe_interface.interface_dof_to_dof_indices(i)[0], q) *
                                   normal);
                        for (unsigned int j = 0; j < indices.size(); ++j)
                          {
                            const double upwind = fe_interface.shape_value(bn > 0, j, q);
                            double       value  = -bn * upwind * phi_i;
                            if (D != 0)
                              {
                                const double jump_j = fe_interface.jump_in_shape_values(j, q);
                                const double average_grad_j_n =
                                    fe_interface.average_of_shape_gradients(j, q) * normal;
                                value += D * (average_grad_j_n * phi_i + dphi_i_n * jump_j -
                                              sigma * jump_j * phi_i);
                              }
                            face_matrix(r, j) += value * JxW;
                          }
                      }
                  }
                for (unsigned int r = 0; r < n; ++r)
                  row_indices[r] = indices[rows[r]];
                operator_matrix.add(row_indices, indices, face_matrix);
              }
          }
      AssertDimension(k, points.size());
      operator_matrix.compress(VectorOperation::add);
      assembled_tau = tau;
      ++n_assemblies;
    }

    template <int dim, typename Backend>
    double ReverseLawOperator<dim, Backend>::outflow_rate(const double t, const VectorType &ghosted)
    {
      velocities(t);
      const QGauss<dim>     quadrature(fe.degree + 1);
      const QGauss<dim - 1> face_quadrature(fe.degree + 1);
      FEFaceValues<dim>     fe_face(*run.mapping,
                                fe,
                                face_quadrature,
                                update_values | update_JxW_values | update_normal_vectors);
      std::vector<double>   values(face_quadrature.size());
      double                rate = 0;
      std::size_t           k    = 0;
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            k += quadrature.size();
            for (const unsigned int f : cell->face_indices())
              {
                if (cell->at_boundary(f))
                  {
                    fe_face.reinit(cell, f);
                    fe_face.get_function_values(ghosted, values);
                    for (unsigned int q = 0; q < face_quadrature.size(); ++q)
                      rate += std::max(0.0, velocity[k + q] * fe_face.normal_vector(q)) *
                              values[q] * fe_face.JxW(q);
                  }
                k += face_quadrature.size();
              }
          }
      return Utilities::MPI::sum(rate, run.communicator);
    }

    template <int dim, typename Backend>
    unsigned int ReverseLawOperator<dim, Backend>::solve_mass(const VectorType &rhs, VectorType &x)
    {
      TimerOutput::Scope scope(run.timer, "linear solves (mass)");
      return solve_mass_system(mass_matrix,
                               x,
                               rhs,
                               *mass_preconditioner,
                               p.linear_solver.maximum_iterations,
                               p.linear_solver.relative_tolerance);
    }

    template <int dim, typename Backend>
    void ReverseLawOperator<dim, Backend>::initial_value(VectorType &solution)
    {
      TimerOutput::Scope scope(run.timer, "initial projection");
      const double       T = run.process->final_time;
      const double       c = run.scaling->scale(T);
      // The start law: the prior N(0, v(T) I), the exact p_T or the caller's field.
      std::unique_ptr<DensityField> prior;
      const DensityField           *start = inputs.start;
      if (start == nullptr)
        {
          prior = DiagonalGaussian(std::vector<double>(dim, 0.0),
                                   std::vector<double>(dim, run.process->transition_variance(T)))
                      .transported(1.0, 0.0);
          start = prior.get();
        }
      // L2 projection with a composite Gauss rule (the start may be steep on coarse cells).
      const QIterated<dim>                 quadrature(QGauss<1>(fe.degree + 1), 4);
      FEValues<dim>                        fe_values(*run.mapping,
                              fe,
                              quadrature,
                              update_values | update_quadrature_points | update_JxW_values);
      const unsigned int                   n = fe.n_dofs_per_cell();
      Vector<double>                       cell_rhs(n);
      std::vector<types::global_dof_index> dof_indices(n);
      VectorType                           rhs(run.locally_owned, run.communicator);
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            cell_rhs = 0;
            for (unsigned int q = 0; q < quadrature.size(); ++q)
              {
                const double value = scaled_value(*start, c, fe_values.quadrature_point(q));
                for (unsigned int i = 0; i < n; ++i)
                  cell_rhs(i) += value * fe_values.shape_value(i, q) * fe_values.JxW(q);
              }
            cell->get_dof_indices(dof_indices);
            rhs.add(dof_indices, cell_rhs);
          }
      rhs.compress(VectorOperation::add);
      solution = 0;
      scope.stop();
      solve_mass(rhs, solution);
    }

    template <int dim, typename Backend>
    void ReverseLawOperator<dim, Backend>::apply_rhs(const double      tau,
                                                     const VectorType &y,
                                                     VectorType       &F)
    {
      assemble_operator(tau);
      operator_matrix.vmult(F, y);
    }

    template <int dim, typename Backend>
    unsigned int ReverseLawOperator<dim, Backend>::solve_stage(const double      tau,
                                                               const double      gamma_h,
                                                               const VectorType &rhs,
                                                               VectorType       &Y,
                                                               const bool        final_stage)
    {
      assemble_operator(tau);
      {
        TimerOutput::Scope scope(run.timer, "stage matrix");
        stage_matrix.copy_from(mass_matrix);
        Backend::add(stage_matrix, -gamma_h, operator_matrix);
      }
      TimerOutput::Scope scope(run.timer, "linear solves (stage)");
      // Incomplete LU: the stage matrix is nonsymmetric and, for transport, far from
      // the elliptic matrices multigrid is made for; it is the mass matrix plus a
      // perturbation for the steps the time error allows.
      typename Backend::ILU ilu;
      Backend::initialize_ilu(ilu, stage_matrix);
      const double  tolerance = final_stage
                                    ? p.linear_solver.relative_tolerance
                                    : std::max(p.linear_solver.relative_tolerance,
                                              std::min(1e-6, 1e-3 * p.time_stepping.tolerance));
      SolverControl control(p.linear_solver.maximum_iterations, tolerance * rhs.l2_norm());
      typename SolverGMRES<VectorType>::AdditionalData gmres_data(50);
      SolverGMRES<VectorType>                          gmres(control, gmres_data);
      try
        {
          gmres.solve(stage_matrix, Y, rhs, ilu);
        }
      catch (const SolverControl::NoConvergence &e)
        {
          std::ostringstream s;
          s << "The stage system at t = " << run.physical_time(tau) << " did not converge in "
            << e.last_step << " GMRES iterations (residual " << e.last_residual
            << "); raise Linear solver/Maximum iterations or lower Time stepping/Maximum step.";
          throw StepFailure(s.str());
        }
      return control.last_step();
    }

    /// The density fields of a VTU file in original coordinates: q_h (and, for the
    /// second law, the first law's q_h and the difference), the exact p_t, q_h - p_t.
    template <int dim>
    class LawDataPostprocessor : public DataPostprocessorScalar<dim>
    {
    public:
      LawDataPostprocessor(const std::string &name, const bool with_exact)
          : DataPostprocessorScalar<dim>(name, update_values | update_quadrature_points)
          , with_exact(with_exact)
          , field_name(name)
      {
      }

      void set(const double scale, const DensityField *exact_field)
      {
        c     = scale;
        exact = exact_field;
      }

      void evaluate_scalar_field(const DataPostprocessorInputs::Scalar<dim> &inputs,
                                 std::vector<Vector<double>> &computed) const override
      {
        const double inverse_c_d = std::pow(c, -double(dim));
        for (unsigned int q = 0; q < inputs.solution_values.size(); ++q)
          {
            computed[q](0) = inverse_c_d * inputs.solution_values[q];
            if (with_exact)
              {
                const double p = inverse_c_d * scaled_value(*exact, c, inputs.evaluation_points[q]);
                computed[q](1) = p;
                computed[q](2) = computed[q](0) - p;
              }
          }
      }

      std::vector<std::string> get_names() const override
      {
        if (with_exact)
          return {field_name, "exact_density", "error"};
        return {field_name};
      }

      std::vector<DataComponentInterpretation::DataComponentInterpretation>
      get_data_component_interpretation() const override
      {
        return std::vector<DataComponentInterpretation::DataComponentInterpretation>(
            with_exact ? 3 : 1, DataComponentInterpretation::component_is_scalar);
      }

    private:
      bool                with_exact;
      std::string         field_name;
      double              c     = 1.0;
      const DensityField *exact = nullptr;
    };

    /// What is measured of an induced law: mass, outflow, undershoot at every step;
    /// errors and distances to the exact p_t, to the closed-form induced law and to the
    /// first law, moments and point values at the output times; the VTU fields.
    template <int dim, typename Backend>
    class LawMeasures : public RunPostprocessor<dim, Backend>
    {
      using VectorType = typename Backend::Vector;

    public:
      LawMeasures(FiniteElementRun<dim, Backend>   &run,
                  ReverseLawOperator<dim, Backend> &equation,
                  const ReverseLawInputs           &inputs,
                  const InducedLawTarget           *target,
                  const Snapshots<VectorType>      *first,
                  Snapshots<VectorType>            *keep,
                  ReverseLawRunResult              &result)
          : run(run)
          , equation(equation)
          , inputs(inputs)
          , target(target)
          , first(first)
          , keep(keep)
          , result(result)
          , density_output("density", true)
          , first_output("ode_density", false)
          , difference_output("sde_minus_ode", false)
      {
      }

      void        initialize() override;
      void        evaluate(const double t) override;
      std::string statistics_header() const override
      {
        return "mass,outflow,outflow_rate,minimum,";
      }
      void write_statistics(std::ostream &out) const override
      {
        out << mass << "," << outflow << "," << rate << "," << minimum << ",";
      }
      std::string progress_figures() const override
      {
        std::ostringstream s;
        s << "mass = " << std::setprecision(10) << mass << "  min/max = " << std::setprecision(3)
          << minimum;
        return s.str();
      }
      void        at_output(const unsigned int index, const double t) override;
      void        add_output_fields(DataOut<dim> &data_out, const double t) override;
      void        finish() override;
      std::string summary() const override
      {
        std::ostringstream s;
        s << std::setprecision(3) << "at t = " << result.at_eps().time << ": relative L2 error "
          << result.at_eps().errors.l2 << " to p_t, L1 " << result.at_eps().to_exact.l1 << ", mass "
          << std::setprecision(12) << result.at_eps().mass << std::setprecision(3) << ", min/max "
          << result.minimum;
        if (result.has_first_law)
          s << ", L1 to the ODE law " << result.at_eps().to_first_law.l1;
        return s.str();
      }

    private:
      /// Moments, errors and distances at output time number index (collective).
      void measure(const unsigned int index, const double t, ReverseLawSnapshot &snapshot);
      /// Sliced W2 (d > 1) and, with_mmd, MMD^2 to the exact p_t, the target and the
      /// first law, from quadrature clouds (reverse/cloud_distances.h). Called at eps,
      /// and for the ODE-SDE gap as a function of eps at every output time.
      void cloud_measures(const unsigned int  index,
                          const double        t,
                          ReverseLawSnapshot &snapshot,
                          const bool          with_mmd);
      /// The terms of the gap bound at time t (collective): ||s_hat - grad log q||,
      /// ||r||, ||R|| in L2 of q, and the one-sided Lipschitz constant L of the ODE
      /// velocity over the mesh.
      void add_bound_terms(const double t);
      /// The integrals of ReverseLawSnapshot from every output time up to T.
      void integrate_bound();

      FiniteElementRun<dim, Backend>   &run;
      ReverseLawOperator<dim, Backend> &equation;
      const ReverseLawInputs           &inputs;
      const InducedLawTarget           *target;
      const Snapshots<VectorType>      *first;
      Snapshots<VectorType>            *keep;
      ReverseLawRunResult              &result;

      double mass = 0, outflow = 0, rate = 0, minimum = 0, last_time = 0;
      bool   started = false;
      std::vector<std::unique_ptr<Utilities::MPI::RemotePointEvaluation<dim>>> point_caches;

      /// The gap bound's terms at every step of the SDE law: t, ||s_hat - grad log q||,
      /// ||r||, ||R||, L, g^2.
      bool                               with_bound = false;
      std::vector<std::array<double, 6>> bound_terms;

      std::unique_ptr<DensityField> exact_now, data_now, file_now;
      LawDataPostprocessor<dim>     density_output, first_output, difference_output;
      VectorType                    difference;
    };

    template <int dim, typename Backend>
    void LawMeasures<dim, Backend>::initialize()
    {
      with_bound = inputs.gap_bound && first != nullptr && result.law == ReverseLaw::sde &&
                   inputs.score->has_derivatives();
      if (first != nullptr && first->times.size() != run.output_times.size())
        throw SolverFailure("The ODE law was kept at a different number of output times.");
      const std::size_t n_points = inputs.points.size() / dim;
      if (n_points == 0)
        return;
      // One search structure per output time: with scaled coordinates the points move
      // through the mesh. Every point must be inside at every output time.
      for (const double t : run.output_times)
        {
          const double            c = run.scaling->scale(t);
          std::vector<Point<dim>> xi(n_points);
          for (std::size_t i = 0; i < n_points; ++i)
            for (unsigned int j = 0; j < dim; ++j)
              xi[i][j] = inputs.points[i * dim + j] / c;
          auto cache = std::make_unique<Utilities::MPI::RemotePointEvaluation<dim>>();
          cache->reinit(xi, *run.triangulation, *run.mapping);
          if (Utilities::MPI::min(cache->all_points_found() ? 1 : 0, run.communicator) == 0)
            throw InputError("Reverse law/Points file has points outside the mesh at t = " +
                             format_number(t) + "; expected every point inside the domain.");
          point_caches.push_back(std::move(cache));
          if (!run.scaling->enabled())
            break;
        }
    }

    template <int dim, typename Backend>
    void LawMeasures<dim, Backend>::evaluate(const double t)
    {
      if (with_bound)
        {
          TimerOutput::Scope scope(run.timer, "gap bound");
          add_bound_terms(t);
        }
      TimerOutput::Scope scope(run.timer, "measures");
      const auto        &ghosted = run.ghosted_solution();
      const QGauss<dim>  quadrature(run.parameters.discretization.degree + 2);
      FEValues<dim>      fe_values(
          *run.mapping, run.dof_handler->get_fe(), quadrature, update_values | update_JxW_values);
      std::vector<double> values(quadrature.size());
      double              local_mass = 0, local_min = 0, local_max = 0;
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            fe_values.get_function_values(ghosted, values);
            for (unsigned int q = 0; q < quadrature.size(); ++q)
              {
                local_mass += values[q] * fe_values.JxW(q);
                local_min = std::min(local_min, values[q]);
                local_max = std::max(local_max, values[q]);
              }
          }
      mass                = Utilities::MPI::sum(local_mass, run.communicator);
      const double lowest = Utilities::MPI::min(local_min, run.communicator);
      const double peak   = Utilities::MPI::max(local_max, run.communicator);
      minimum             = peak > 0 ? lowest / peak : 0.0;
      // The mass that left: the outflow rate integrated over tau by the trapezoidal
      // rule between accepted steps.
      const double new_rate = equation.outflow_rate(t, ghosted);
      if (started)
        outflow += 0.5 * (rate + new_rate) * std::abs(last_time - t);
      rate                    = new_rate;
      last_time               = t;
      started                 = true;
      result.minimum          = std::min(result.minimum, minimum);
      result.max_outflow_rate = std::max(result.max_outflow_rate, rate);
    }

    template <int dim, typename Backend>
    void LawMeasures<dim, Backend>::measure(const unsigned int  index,
                                            const double        t,
                                            ReverseLawSnapshot &s)
    {
      const double c   = run.scaling->scale(t);
      const double c_d = std::pow(c, dim);
      exact_now        = run.law(t);
      std::unique_ptr<DensityField> target_now;
      if (target != nullptr)
        target_now = target->at(t);
      // The data p_0 (at eps only: what a sampler aims at) and the comparison file.
      const bool at_eps = index + 1 == run.output_times.size();
      if (at_eps)
        data_now = run.data->transported(1.0, 0.0);
      file_now = inputs.compare_file.at ? inputs.compare_file.at(t) : nullptr;
      const auto         &ghosted = run.ghosted_solution();
      const QGauss<dim>   quadrature(run.parameters.discretization.degree + 2);
      FEValues<dim>       fe_values(*run.mapping,
                              run.dof_handler->get_fe(),
                              quadrature,
                              update_values | update_quadrature_points | update_JxW_values);
      const unsigned int  nq = quadrature.size();
      std::vector<double> q_h(nq), q_first(nq);

      // Relative-error sums against the exact p_t [0] and the target [1]: |e|, e^2, |p|,
      // p^2 (in the mesh coordinates; relative norms are the same in x), and the maxima
      // of |e| and |p|.
      double     norms[2][4] = {}, maxima[2][2] = {};
      const auto add_errors =
          [&](const unsigned int k, const double p, const double q, const double JxW) {
            const double e = q - p;
            norms[k][0] += std::abs(e) * JxW;
            norms[k][1] += e * e * JxW;
            norms[k][2] += std::abs(p) * JxW;
            norms[k][3] += p * p * JxW;
            maxima[k][0] = std::max(maxima[k][0], std::abs(e));
            maxima[k][1] = std::max(maxima[k][1], std::abs(p));
          };
      // Distances of q_h from the exact p_t [0], the target [1] and the first law [2].
      // ... the data p_0 [3] and the comparison file [4].
      LawDistanceSums distances[5];
      // Moments: mass, first moments, second moments.
      std::vector<double> moments(1 + dim + dim * dim, 0.0);
      // 1D: the mass of each sub-interval for the CDFs (x_left, x_right, masses).
      const bool          one_d = dim == 1;
      std::vector<double> intervals; // per sub-interval: left, right, q, p, first
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            fe_values.get_function_values(ghosted, q_h);
            if (first != nullptr)
              fe_values.get_function_values(first->values[index], q_first);
            double cell_masses[5] = {0, 0, 0, 0, 0};
            for (unsigned int q = 0; q < nq; ++q)
              {
                const Point<dim> &xi  = fe_values.quadrature_point(q);
                const double      JxW = fe_values.JxW(q);
                const double      p   = scaled_value(*exact_now, c, xi);
                add_errors(0, p, q_h[q], JxW);
                distances[0].add(p, q_h[q], JxW);
                if (target_now)
                  {
                    const double pt = scaled_value(*target_now, c, xi);
                    add_errors(1, pt, q_h[q], JxW);
                    distances[1].add(pt, q_h[q], JxW);
                  }
                if (first != nullptr)
                  distances[2].add(q_first[q], q_h[q], JxW);
                const double p_data = at_eps ? scaled_value(*data_now, c, xi) : 0.0;
                const double p_file = file_now ? scaled_value(*file_now, c, xi) : 0.0;
                if (at_eps)
                  distances[3].add(p_data, q_h[q], JxW);
                if (file_now)
                  distances[4].add(p_file, q_h[q], JxW);
                cell_masses[3] += p_data * JxW;
                cell_masses[4] += p_file * JxW;
                moments[0] += q_h[q] * JxW;
                for (unsigned int i = 0; i < dim; ++i)
                  {
                    moments[1 + i] += c * xi[i] * q_h[q] * JxW;
                    for (unsigned int j = 0; j < dim; ++j)
                      moments[1 + dim + i * dim + j] += c * c * xi[i] * xi[j] * q_h[q] * JxW;
                  }
                cell_masses[0] += q_h[q] * JxW;
                cell_masses[1] += p * JxW;
                cell_masses[2] += (first != nullptr ? q_first[q] : 0.0) * JxW;
              }
            if (one_d)
              {
                // One interval per cell: the CDFs are exact at the cell boundaries and
                // linear in between, which is enough on the meshes that resolve the law.
                intervals.push_back(c * cell->vertex(0)[0]);
                intervals.push_back(c * cell->vertex(1)[0]);
                for (const double m : cell_masses)
                  intervals.push_back(m);
              }
          }
      const MPI_Comm comm = run.communicator;
      Utilities::MPI::sum(
          ArrayView<const double>(&norms[0][0], 8), comm, ArrayView<double>(&norms[0][0], 8));
      Utilities::MPI::max(
          ArrayView<const double>(&maxima[0][0], 4), comm, ArrayView<double>(&maxima[0][0], 4));
      for (auto &d : distances)
        Utilities::MPI::sum(ArrayView<const double>(d.sums, 6), comm, ArrayView<double>(d.sums, 6));
      if (at_eps)
        s.to_data = distances[3].distances(c_d);
      if (file_now)
        s.to_file = distances[4].distances(c_d);
      Utilities::MPI::sum(ArrayView<const double>(moments), comm, ArrayView<double>(moments));

      const auto to_errors = [&](const unsigned int k) {
        ErrorNorms e;
        e.l1   = norms[k][0] / norms[k][2];
        e.l2   = std::sqrt(norms[k][1] / norms[k][3]);
        e.linf = maxima[k][0] / maxima[k][1];
        return e;
      };
      s.errors = to_errors(0);
      if (target_now)
        s.errors_to_target = to_errors(1);
      s.to_exact     = distances[0].distances(c_d);
      s.to_target    = distances[1].distances(c_d);
      s.to_first_law = distances[2].distances(c_d);
      s.mass         = moments[0];
      s.mean.assign(dim, 0.0);
      s.covariance.assign(dim * dim, 0.0);
      for (unsigned int i = 0; i < dim; ++i)
        s.mean[i] = moments[1 + i] / moments[0];
      for (unsigned int i = 0; i < dim; ++i)
        for (unsigned int j = 0; j < dim; ++j)
          s.covariance[i * dim + j] =
              moments[1 + dim + i * dim + j] / moments[0] - s.mean[i] * s.mean[j];

      if (one_d)
        {
          // W1 and W2 from the CDFs, on rank 0, where every cell's masses meet.
          const auto all  = Utilities::MPI::gather(comm, intervals, 0);
          double     w[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
          if (Utilities::MPI::this_mpi_process(comm) == 0)
            {
              std::vector<Interval1d> cells;
              for (const auto &part : all)
                for (std::size_t k = 0; k + 7 <= part.size(); k += 7)
                  cells.push_back({part[k],
                                   part[k + 1],
                                   {{part[k + 2], part[k + 3], part[k + 4], part[k + 5], part[k + 6]}}});
              std::sort(cells.begin(), cells.end(), [](const auto &a, const auto &b) {
                return a.left < b.left;
              });
              const bool present[5] = {false, true, first != nullptr, at_eps, file_now != nullptr};
              for (unsigned int k = 1; k < 5; ++k)
                if (present[k])
                  std::tie(w[2 * k], w[2 * k + 1]) = wasserstein_1d(cells, k, 0);
            }
          Utilities::MPI::broadcast(w, 10, 0, comm);
          std::tie(s.to_exact.w1, s.to_exact.w2) = std::make_pair(w[2], w[3]);
          if (first != nullptr)
            std::tie(s.to_first_law.w1, s.to_first_law.w2) = std::make_pair(w[4], w[5]);
          if (at_eps)
            std::tie(s.to_data.w1, s.to_data.w2) = std::make_pair(w[6], w[7]);
          if (file_now)
            std::tie(s.to_file.w1, s.to_file.w2) = std::make_pair(w[8], w[9]);
        }

      if (!point_caches.empty())
        {
          const auto               &cache = *point_caches[run.scaling->enabled() ? index : 0];
          const std::vector<double> values =
              VectorTools::point_values<1>(cache, *run.dof_handler, ghosted);
          s.point_log_values.resize(values.size());
          for (std::size_t i = 0; i < values.size(); ++i)
            s.point_log_values[i] = values[i] > 0 ? std::log(values[i] / c_d)
                                                  : std::numeric_limits<double>::quiet_NaN();
        }
    }

    template <int dim, typename Backend>
    void LawMeasures<dim, Backend>::cloud_measures(const unsigned int  index,
                                                   const double        t,
                                                   ReverseLawSnapshot &s,
                                                   const bool          with_mmd)
    {
      const bool sliced = dim > 1 && inputs.sliced_directions > 0;
      const bool mmd    = with_mmd && inputs.mmd_bandwidth > 0;
      if (!sliced && !mmd)
        return;
      const double       c      = run.scaling->scale(t);
      const unsigned int degree = run.parameters.discretization.degree;
      std::unique_ptr<DensityField> target_now;
      if (target != nullptr)
        target_now = target->at(t);
      // The laws compared with q_h (law 0 of the cloud): law k + 1 is others[k], a
      // density in the mesh coordinates (given the first law's value there) and the
      // distances it goes to. exact_now, data_now and file_now are measure()'s.
      struct Other
      {
        std::function<double(const Point<dim> &, double)> density;
        LawDistances                                      *into;
      };
      std::vector<Other> others;
      const auto         closed = [c](const DensityField &field) {
        return [c, &field](const Point<dim> &xi, double) { return scaled_value(field, c, xi); };
      };
      others.push_back({closed(*exact_now), &s.to_exact});
      if (target_now)
        others.push_back({closed(*target_now), &s.to_target});
      if (first != nullptr)
        others.push_back({[](const Point<dim> &, double first_value) { return first_value; },
                          &s.to_first_law});
      if (with_mmd && data_now)
        others.push_back({closed(*data_now), &s.to_data});
      if (file_now)
        others.push_back({closed(*file_now), &s.to_file});
      std::vector<std::pair<unsigned, unsigned>> pairs;
      for (unsigned int k = 0; k < others.size(); ++k)
        pairs.emplace_back(k + 1, 0);
      const auto &ghosted = run.ghosted_solution();

      // The atoms of a quadrature on every owned cell, in original coordinates x = c xi;
      // masses are density x JxW in xi, the same as in x.
      const auto cloud_of = [&](const Quadrature<dim> &quadrature) {
        LawCloud cloud;
        cloud.dim = dim;
        cloud.masses.resize(1 + others.size());
        FEValues<dim> fe_values(*run.mapping,
                                run.dof_handler->get_fe(),
                                quadrature,
                                update_values | update_quadrature_points | update_JxW_values);
        std::vector<double> q_h(quadrature.size()), q_first(quadrature.size());
        for (const auto &cell : run.dof_handler->active_cell_iterators())
          if (cell->is_locally_owned())
            {
              fe_values.reinit(cell);
              fe_values.get_function_values(ghosted, q_h);
              if (first != nullptr)
                fe_values.get_function_values(first->values[index], q_first);
              for (unsigned int q = 0; q < quadrature.size(); ++q)
                {
                  const Point<dim> &xi  = fe_values.quadrature_point(q);
                  const double      JxW = fe_values.JxW(q);
                  for (unsigned int j = 0; j < dim; ++j)
                    cloud.points.push_back(c * xi[j]);
                  cloud.masses[0].push_back(q_h[q] * JxW);
                  for (unsigned int k = 0; k < others.size(); ++k)
                    cloud.masses[k + 1].push_back(others[k].density(xi, q_first[q]) * JxW);
                }
            }
        return cloud;
      };
      const auto assign = [&](const std::vector<double> &values, double LawDistances::*member) {
        for (unsigned int k = 0; k < others.size(); ++k)
          others[k].into->*member = values[k];
      };

      if (sliced)
        {
          // Sub-cells of the Gauss rule (m per cell direction), each atom spread over a
          // window of about one atom spacing of the finest cell: the projected laws are
          // smooth at the scale of the bins and the smoothing is O(window^2).
          const unsigned int m = dim == 2 ? 4 : 2;
          double             h = std::numeric_limits<double>::max(), radius = 0;
          for (const auto &cell : run.triangulation->active_cell_iterators())
            if (cell->is_locally_owned())
              {
                h = std::min(h, cell->minimum_vertex_distance());
                for (const unsigned int v : cell->vertex_indices())
                  radius = std::max(radius, cell->vertex(v).norm());
              }
          h      = Utilities::MPI::min(h, run.communicator);
          radius = Utilities::MPI::max(radius, run.communicator);
          const LawCloud cloud = cloud_of(QIterated<dim>(QGauss<1>(degree + 1), m));
          assign(sliced_wasserstein2(cloud,
                                     pairs,
                                     sliced_directions(dim, inputs.sliced_directions),
                                     c * radius,
                                     c * h / (m * (degree + 1)),
                                     run.communicator),
                 &LawDistances::sliced_w2);
        }
      if (mmd)
        assign(mmd_squared(
                   cloud_of(QGauss<dim>(degree + 1)), pairs, inputs.mmd_bandwidth, run.communicator),
               &LawDistances::mmd2);
    }

    template <int dim, typename Backend>
    void LawMeasures<dim, Backend>::at_output(const unsigned int index, const double t)
    {
      TimerOutput::Scope scope(run.timer, "output");
      ReverseLawSnapshot s;
      s.time = t;
      measure(index, t, s);
      // The sliced W2 of the ODE-SDE gap at every output time (the gap as a function of
      // eps), everything else at eps only.
      const bool last = index + 1 == run.output_times.size();
      if (last || first != nullptr)
        cloud_measures(index, t, s, last);
      s.outflow = outflow;
      s.minimum = minimum;
      result.outputs.push_back(s);
      if (keep != nullptr)
        {
          keep->times.push_back(t);
          keep->values.emplace_back(run.locally_owned, run.locally_relevant, run.communicator);
          keep->values.back() = run.solution;
        }
    }

    template <int dim, typename Backend>
    void LawMeasures<dim, Backend>::add_output_fields(DataOut<dim> &data_out, const double t)
    {
      const double c = run.scaling->scale(t);
      density_output.set(c, exact_now.get());
      data_out.add_data_vector(run.ghosted_solution(), density_output);
      if (first != nullptr)
        {
          const unsigned int index = result.outputs.size() - 1;
          first_output.set(c, nullptr);
          difference_output.set(c, nullptr);
          difference.reinit(run.locally_owned, run.locally_relevant, run.communicator);
          VectorType owned(run.locally_owned, run.communicator);
          owned = run.solution;
          VectorType first_owned(run.locally_owned, run.communicator);
          first_owned = first->values[index];
          owned -= first_owned;
          difference = owned;
          data_out.add_data_vector(first->values[index], first_output);
          data_out.add_data_vector(difference, difference_output);
        }
    }

    template <int dim, typename Backend>
    void LawMeasures<dim, Backend>::finish()
    {
      result.has_target    = target != nullptr;
      result.has_file      = static_cast<bool>(inputs.compare_file.at);
      result.has_first_law = first != nullptr;
      if (with_bound)
        integrate_bound();
    }

    template <int dim, typename Backend>
    void LawMeasures<dim, Backend>::add_bound_terms(const double t)
    {
      const double       c = run.scaling->scale(t);
      const QGauss<dim>  quadrature(run.parameters.discretization.degree + 1);
      FEValues<dim>      fe_values(*run.mapping,
                              run.dof_handler->get_fe(),
                              quadrature,
                              update_values | update_gradients | update_quadrature_points |
                                update_JxW_values);
      const unsigned int nq = quadrature.size();
      std::vector<double>         q_cell(nq);
      std::vector<Tensor<1, dim>> grad_cell(nq);
      // Every owned point, for one batched derivative evaluation of the score.
      std::vector<double>         x, q, JxW;
      std::vector<Tensor<1, dim>> grad;
      const auto                 &ghosted = run.ghosted_solution();
      for (const auto &cell : run.dof_handler->active_cell_iterators())
        if (cell->is_locally_owned())
          {
            fe_values.reinit(cell);
            fe_values.get_function_values(ghosted, q_cell);
            fe_values.get_function_gradients(ghosted, grad_cell);
            for (unsigned int k = 0; k < nq; ++k)
              {
                for (unsigned int j = 0; j < dim; ++j)
                  x.push_back(c * fe_values.quadrature_point(k)[j]);
                q.push_back(q_cell[k]);
                grad.push_back(grad_cell[k]);
                JxW.push_back(fe_values.JxW(k));
              }
          }
      const std::size_t    n = q.size();
      const PointwiseScore w = pointwise_score(*inputs.score, *run.process, t, x.data(), n);
      const double a = run.process->drift_rate(t), g2 = run.process->diffusion_squared(t);
      // [0] int q |s_hat - grad log q|^2, [1] int q |r|^2, [2] int q R^2 (in xi, = in x)
      double sums[3] = {0, 0, 0}, lipschitz = -std::numeric_limits<double>::max();
      for (std::size_t k = 0; k < n; ++k)
        {
          SymmetricTensor<2, dim> jacobian;
          for (unsigned int i = 0; i < dim; ++i)
            for (unsigned int j = i; j < dim; ++j)
              jacobian[i][j] =
                  0.5 * (w.jacobian[k * dim * dim + i * dim + j] + w.jacobian[k * dim * dim + j * dim + i]);
          lipschitz = std::max(lipschitz, a + 0.5 * g2 * eigenvalues(jacobian)[0]);
          if (!(q[k] > 0))
            continue;
          double mismatch = 0, residual = 0;
          for (unsigned int j = 0; j < dim; ++j)
            {
              // grad_x log p = grad_xi log q / c
              const double e = w.s[k * dim + j] - grad[k][j] / (c * q[k]);
              mismatch += e * e;
              residual += w.residual[k * dim + j] * w.residual[k * dim + j];
            }
          sums[0] += q[k] * mismatch * JxW[k];
          sums[1] += q[k] * residual * JxW[k];
          if (!w.log_residual.empty())
            sums[2] += q[k] * w.log_residual[k] * w.log_residual[k] * JxW[k];
        }
      Utilities::MPI::sum(ArrayView<const double>(sums, 3), run.communicator, ArrayView<double>(sums, 3));
      lipschitz = Utilities::MPI::max(lipschitz, run.communicator);
      bound_terms.push_back({{t,
                              std::sqrt(sums[0]),
                              std::sqrt(sums[1]),
                              inputs.score->is_potential()
                                ? std::sqrt(sums[2])
                                : std::numeric_limits<double>::quiet_NaN(),
                              lipschitz,
                              g2}});
    }

    template <int dim, typename Backend>
    void LawMeasures<dim, Backend>::integrate_bound()
    {
      // The terms in increasing time: t_0 = eps < ... < t_n = T (the loop went down).
      auto terms = bound_terms;
      std::sort(terms.begin(), terms.end(), [](const auto &a, const auto &b) { return a[0] < b[0]; });
      const std::size_t n = terms.size();
      // Lambda(t_i) = int_{t_0}^{t_i} L: then exp(int_t^s L) = exp(Lambda(s) - Lambda(t)).
      std::vector<double> Lambda(n, 0.0);
      for (std::size_t i = 1; i < n; ++i)
        Lambda[i] = Lambda[i - 1] + 0.5 * (terms[i][4] + terms[i - 1][4]) * (terms[i][0] - terms[i - 1][0]);
      // By the trapezoid rule over the steps of the SDE law, from the step at t up to T.
      for (ReverseLawSnapshot &s : result.outputs)
        {
          const std::size_t first_step =
              std::lower_bound(terms.begin(), terms.end(), s.time - 1e-12 * std::abs(s.time),
                               [](const auto &a, const double t) { return a[0] < t; }) -
              terms.begin();
          double residual = 0, log_residual = 0, bound = 0;
          const auto integrand = [&](const std::size_t i) {
            return std::exp(Lambda[i] - Lambda[first_step]) * 0.5 * terms[i][5] * terms[i][1];
          };
          for (std::size_t i = first_step + 1; i < n; ++i)
            {
              const double h = terms[i][0] - terms[i - 1][0];
              residual += 0.5 * h * (terms[i][2] + terms[i - 1][2]);
              log_residual += 0.5 * h * (terms[i][3] + terms[i - 1][3]);
              bound += 0.5 * h * (integrand(i) + integrand(i - 1));
            }
          s.residual_integral     = residual;
          s.log_residual_integral =
              inputs.score->is_potential() ? log_residual : std::numeric_limits<double>::quiet_NaN();
          s.gap_bound             = bound;
        }
      result.has_gap_bound = true;
    }

    /// The law at its output times as a reference file (reference/reference_output.h,
    /// equation "density"), so that the checker, the samplers and Task = evaluate can
    /// use it like a forward run's. The file is opened at the start (which removes one
    /// left by an earlier run) and written at the end: the run goes down in time and a
    /// file's snapshots go up. A run that fails leaves no file.
    template <int dim, typename Backend>
    class LawReferenceWriter : public RunPostprocessor<dim, Backend>
    {
      using VectorType = typename Backend::Vector;

    public:
      LawReferenceWriter(FiniteElementRun<dim, Backend> &run,
                         const FiniteElementCase        &file_case,
                         const std::string              &description)
          : run(run)
          , file_case(file_case)
          , description(description)
      {
      }

      void begin() override
      {
        output = std::make_unique<ReferenceOutput<dim>>(file_case, description, *run.triangulation);
      }

      void at_output(const unsigned int, const double t) override
      {
        times.push_back(t);
        values.push_back(run.ghosted_solution());
      }

      void finish() override
      {
        TimerOutput::Scope scope(run.timer, "output");
        for (std::size_t k = times.size(); k-- > 0;)
          output->add_density_snapshot(
              times[k], run.scaling->scale(times[k]), *run.dof_handler, values[k]);
        output->finish();
      }

    private:
      FiniteElementRun<dim, Backend>       &run;
      const FiniteElementCase               file_case;
      const std::string                     description;
      std::unique_ptr<ReferenceOutput<dim>> output;
      std::vector<double>                   times;
      std::vector<VectorType>               values;
    };

    /// One law on the shared mesh.
    template <int dim, typename Backend>
    ReverseLawRunResult run_law(const FiniteElementCase                   &parameters,
                                const ReverseLawInputs                    &inputs,
                                const unsigned int                         law_index,
                                const parallel::TriangulationBase<dim>    &mesh,
                                const unsigned int                         level,
                                const std::string                         &directory,
                                const bool                                 write_files,
                                const Snapshots<typename Backend::Vector> *first,
                                Snapshots<typename Backend::Vector>       *keep)
    {
      const ReverseLaw    law = inputs.laws[law_index];
      ReverseLawRunResult result;
      result.law = law;
      FiniteElementRun<dim, Backend> skeleton(
          parameters, level, directory, write_files, mesh.get_communicator());
      skeleton.use_mesh(mesh);
      skeleton.run_backwards_to(inputs.end_time);
      ReverseLawOperator<dim, Backend> equation(skeleton, inputs, law);
      skeleton.set_operator(equation);
      const InducedLawTarget *target =
          law_index < inputs.targets.size() && inputs.targets[law_index].at
              ? &inputs.targets[law_index]
              : nullptr;
      LawMeasures<dim, Backend> measures(skeleton, equation, inputs, target, first, keep, result);
      skeleton.add_postprocessor(measures);
      std::unique_ptr<LawReferenceWriter<dim, Backend>> writer;
      if (writes_reference_file(parameters, level, write_files))
        {
          FiniteElementCase file_case = parameters;
          file_case.equation          = Equation::density;
          file_case.output.directory  = directory;
          const std::string description =
              "the " + reverse_law_name(law) + "-induced law of " + inputs.score->description() +
              " from " + inputs.start_description;
          result.reference_file = reference_file_path(file_case);
          writer = std::make_unique<LawReferenceWriter<dim, Backend>>(skeleton, file_case, description);
          skeleton.add_postprocessor(*writer);
        }
      skeleton.run(result);
      return result;
    }
  } // namespace reverse

  template <int dim, typename Backend>
  std::vector<ReverseLawRunResult> solve_reverse_laws(const FiniteElementCase &parameters,
                                                      const ReverseLawInputs  &inputs,
                                                      const unsigned int       refinement_level,
                                                      const std::string       &output_directory,
                                                      const bool               write_files,
                                                      const MPI_Comm           communicator)
  {
    if (inputs.score == nullptr || inputs.laws.empty())
      throw std::logic_error("solve_reverse_laws needs a score and at least one law.");
    const auto mesh = create_triangulation<dim>(communicator);
    make_mesh(*mesh, parameters.mesh, refinement_level);
    using VectorType = typename Backend::Vector;
    reverse::Snapshots<VectorType>   first;
    std::vector<ReverseLawRunResult> results;
    for (unsigned int k = 0; k < inputs.laws.size(); ++k)
      {
        const std::string name = inputs.laws[k] == ReverseLaw::ode ? "ode-law" : "sde-law";
        results.push_back(
            reverse::run_law<dim, Backend>(parameters,
                                           inputs,
                                           k,
                                           *mesh,
                                           refinement_level,
                                           output_directory + "/" + name,
                                           write_files,
                                           k == 0 ? nullptr : &first,
                                           k == 0 && inputs.laws.size() > 1 ? &first : nullptr));
      }
    return results;
  }
} // namespace scorefp
