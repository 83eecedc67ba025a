// What every finite-element solve shares: the elements and boundary condition
// (section Discretization) and the distributed linear algebra (section Linear solver).
#pragma once

#include <string>

namespace scorefp
{
  class ParameterBinder;

  /// The equation of Task = solve (MATH.md section 2).
  enum class Equation
  {
    density,
    score,
    log_density
  };
  /// "density", "score", "log-density": the names parameter files and outputs use.
  std::string equation_name(const Equation equation);

  struct DiscretizationParameters
  {
    enum class BoundaryCondition
    {
      zero_flux,
      dirichlet
    };
    enum class ScaledCoordinates
    {
      automatic, // on for processes whose variance explodes (VE, EDM)
      on,
      off
    };
    unsigned int      degree             = 2;
    BoundaryCondition boundary_condition = BoundaryCondition::zero_flux;
    ScaledCoordinates scaled_coordinates = ScaledCoordinates::automatic;

    void bind(ParameterBinder &binder);
  };

  struct LinearSolverParameters
  {
    enum class Backend
    {
      trilinos,
      petsc
    };
    Backend      backend                 = Backend::trilinos;
    double       relative_tolerance      = 1e-12;
    unsigned int maximum_iterations      = 1000;
    double       preconditioner_rebuild  = 0.5;
    double       jacobi_diffusion_number = 2.0;

    void bind(ParameterBinder &binder);
  };
} // namespace scorefp
