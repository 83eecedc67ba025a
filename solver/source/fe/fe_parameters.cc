#include <scorefp/core/parameter_binder.h>
#include <scorefp/fe/fe_parameters.h>

#include <deal.II/base/patterns.h>

namespace scorefp
{
  namespace Patterns = dealii::Patterns;

  std::string equation_name(const Equation equation)
  {
    switch (equation)
      {
        case Equation::density:
          return "density";
        case Equation::score:
          return "score";
        case Equation::log_density:
          return "log-density";
      }
    return "density";
  }

  void DiscretizationParameters::bind(ParameterBinder &b)
  {
    b.add("Polynomial degree",
          degree,
          "Degree p of the continuous Q_p elements.",
          Patterns::Integer(1, 4));
    b.add_selection("Boundary condition",
                    boundary_condition,
                    {{"zero flux", BoundaryCondition::zero_flux},
                     {"dirichlet", BoundaryCondition::dirichlet}},
                    "zero flux: J.n = 0 (natural, conserves mass); dirichlet: p = 0.");
    b.add_selection("Scaled coordinates",
                    scaled_coordinates,
                    {{"auto", ScaledCoordinates::automatic},
                     {"true", ScaledCoordinates::on},
                     {"false", ScaledCoordinates::off}},
                    "Solve for q(xi,t) = c^d p(c xi, t), c^2 = c0^2 + v(t) (MATH.md section 2); "
                    "auto uses them for VE and EDM. Results are reported in the original "
                    "coordinates.");
  }

  void LinearSolverParameters::bind(ParameterBinder &b)
  {
    b.add_selection("Backend",
                    backend,
                    {{"Trilinos", Backend::trilinos}, {"PETSc", Backend::petsc}},
                    "Distributed linear algebra: Trilinos (Epetra, ML algebraic multigrid) or "
                    "PETSc (hypre BoomerAMG).");
    b.add("Relative tolerance",
          relative_tolerance,
          "GMRES/CG stop when the residual falls below this times the right-hand side norm.",
          Patterns::Double(0, 1));
    b.add("Maximum iterations",
          maximum_iterations,
          "Iteration limit of each linear solve.",
          Patterns::Integer(1));
    b.add("Preconditioner rebuild",
          preconditioner_rebuild,
          "The multigrid hierarchy is rebuilt when a coefficient of the stage matrix M + h "
          "gamma (a A + g^2/2 L) changed by more than this relative amount since it was built.",
          Patterns::Double(0));
    b.add("Jacobi diffusion number",
          jacobi_diffusion_number,
          "Stages whose diffusion number h gamma g^2/2 max_i(L_ii/M_ii) is below this are "
          "preconditioned by point Jacobi instead of algebraic multigrid (mass-dominated "
          "stages; 0 = always multigrid).",
          Patterns::Double(0));
  }
} // namespace scorefp
