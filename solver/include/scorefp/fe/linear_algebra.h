// The two distributed linear-algebra backends scorefp runs on, behind one set of
// names: the solvers are templates over a backend and are instantiated for both.
#pragma once

#include <scorefp/core/input_error.h>

#include <deal.II/lac/petsc_precondition.h>
#include <deal.II/lac/solver_cg.h>
#include <deal.II/lac/solver_control.h>
#include <deal.II/lac/petsc_sparse_matrix.h>
#include <deal.II/lac/petsc_vector.h>
#include <deal.II/lac/trilinos_precondition.h>
#include <deal.II/lac/trilinos_sparse_matrix.h>
#include <deal.II/lac/trilinos_vector.h>

#include <memory>
#include <string>

namespace scorefp
{
  struct TrilinosBackend
  {
    static constexpr const char *name = "Trilinos";
    using Vector                      = dealii::TrilinosWrappers::MPI::Vector;
    using Matrix                      = dealii::TrilinosWrappers::SparseMatrix;
    using Jacobi                      = dealii::TrilinosWrappers::PreconditionJacobi;
    using AMG                         = dealii::TrilinosWrappers::PreconditionAMG;
    using ILU                         = dealii::TrilinosWrappers::PreconditionILU;

    /// matrix += factor * other, for matrices with the same sparsity pattern.
    static void add(Matrix &matrix, const double factor, const Matrix &other)
    {
      matrix.add(factor, other);
    }

    /// Smoothed-aggregation AMG (ML) for M + h gamma K: nonsymmetric but dominated by
    /// the symmetric mass and diffusion parts, so the elliptic settings serve.
    static void initialize_amg(AMG &amg, const Matrix &matrix, const unsigned int degree)
    {
      typename AMG::AdditionalData data;
      data.elliptic              = true;
      data.higher_order_elements = degree > 1;
      data.smoother_sweeps       = 2;
      data.aggregation_threshold = 0.1; // fewer iterations than ML's default here
      amg.initialize(matrix, data);
    }

    /// ILU(0) of each rank's part (Ifpack), for the transport-dominated stage matrices
    /// of the reverse-time laws.
    static void initialize_ilu(ILU &ilu, const Matrix &matrix) { ilu.initialize(matrix); }
  };

  struct PETScBackend
  {
    static constexpr const char *name = "PETSc";
    using Vector                      = dealii::PETScWrappers::MPI::Vector;
    using Matrix                      = dealii::PETScWrappers::MPI::SparseMatrix;
    using Jacobi                      = dealii::PETScWrappers::PreconditionJacobi;
    using AMG                         = dealii::PETScWrappers::PreconditionBoomerAMG;
    /// ILU(0) within each rank's block (PETSc's block Jacobi default).
    using ILU = dealii::PETScWrappers::PreconditionBlockJacobi;

    /// matrix += factor * other. deal.II's MatrixBase::add() tells PETSc the patterns
    /// may differ, which makes MatAXPY rebuild the matrix; ours share one pattern.
    static void add(Matrix &matrix, const double factor, const Matrix &other)
    {
      const PetscErrorCode ierr =
          MatAXPY(matrix.petsc_matrix(), factor, static_cast<Mat>(other), SAME_NONZERO_PATTERN);
      AssertThrow(ierr == 0, dealii::ExcPETScError(ierr));
    }

    static void initialize_amg(AMG &amg, const Matrix &matrix, const unsigned int)
    {
      typename AMG::AdditionalData data;
      data.symmetric_operator = false;
      data.strong_threshold   = 0.5;
      amg.initialize(matrix, data);
    }

    static void initialize_ilu(ILU &ilu, const Matrix &matrix) { ilu.initialize(matrix); }
  };

  /// Solve M x = rhs for a mass matrix M (symmetric positive definite and well
  /// conditioned, so CG with the caller's Jacobi preconditioner) to the relative
  /// tolerance, every solver's mass solve. SolverFailure naming the entry to raise.
  /// Returns the CG iterations.
  template <typename Matrix, typename Vector, typename Preconditioner>
  unsigned int solve_mass_system(const Matrix         &mass_matrix,
                                 Vector               &x,
                                 const Vector         &rhs,
                                 const Preconditioner &preconditioner,
                                 const unsigned int    maximum_iterations,
                                 const double          relative_tolerance)
  {
    dealii::SolverControl    control(maximum_iterations, relative_tolerance * rhs.l2_norm());
    dealii::SolverCG<Vector> cg(control);
    try
      {
        cg.solve(mass_matrix, x, rhs, preconditioner);
      }
    catch (const dealii::SolverControl::NoConvergence &e)
      {
        throw SolverFailure("The mass-matrix solve did not converge in " +
                            std::to_string(e.last_step) + " CG iterations (residual " +
                            std::to_string(e.last_residual) +
                            "); raise Linear solver/Maximum iterations or the tolerance.");
      }
    return control.last_step();
  }
} // namespace scorefp
