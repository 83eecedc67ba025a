// Implicit Runge-Kutta time stepping with an embedded error estimate and step-size
// control, for linear systems M y' = F(t, y) with F(t, y) = -K(t) y.
//
// The Butcher tables come from SUNDIALS ARKode (ARKodeButcherTable_LoadDIRKByName);
// the stepping loop is ours. deal.II 9.4's TimeStepping has no embedded implicit
// methods, and ARKode's own Newton-Krylov loop would hide from us what makes the
// affine FPEs cheap: every stage matrix is M + gamma h K(t) with K(t) a combination
// of a few fixed matrices, so one algebraic multigrid hierarchy serves many stages
// and steps, and a stage needs one linear solve, no Newton iteration.
#pragma once

#include <string>
#include <vector>

namespace scorefp
{
  class ParameterBinder;

  struct DirkTableau
  {
    std::string                      name;
    unsigned int                     order          = 0;
    unsigned int                     embedded_order = 0;
    std::vector<std::vector<double>> a;
    std::vector<double>              b, b_embedded, c;
    /// b equals the last row of a and c_last = 1: y_{n+1} is the last stage.
    bool         stiffly_accurate = false;
    unsigned int n_stages() const { return b.size(); }
  };

  /// Load a diagonally implicit table by its ARKode name, with or without the
  /// "ARKODE_" prefix (e.g. "ARK436L2SA_DIRK_6_3_4"). Throws InputError if unknown.
  DirkTableau load_dirk_tableau(const std::string &name);

  /// Names of the tables offered in the parameter file.
  std::vector<std::string> dirk_tableau_names();

  struct TimeSteppingParameters
  {
    std::string  method        = "ARK436L2SA_DIRK_6_3_4";
    double       tolerance     = 1e-5; // relative local error per step, L2 norm
    double       initial_step  = 1e-3;
    double       fixed_step    = 0.0; // > 0: constant steps, no error control
    double       minimum_step  = 1e-12;
    unsigned int maximum_steps = 1000000;

    /// Declare or parse the entries of section Time stepping.
    void bind(ParameterBinder &binder);
  };

  /**
   * Elementary step-size controller (Hairer-Wanner II, IV.8): after a step with
   * estimated error err (relative to tol), propose
   *   h_new = h * clamp(safety * err^(-1/(p+1)), min_factor, max_factor),
   * where p is the order of the embedded method. Steps are shortened so that every
   * output time is hit exactly.
   */
  class StepSizeController
  {
  public:
    StepSizeController(const TimeSteppingParameters &parameters, const unsigned int embedded_order);
    /// Is a step with normalised error (err / tol) acceptable?
    bool   accept(const double normalised_error) const;
    double next_step(const double h, const double normalised_error, const bool accepted) const;
    /// Clip h so that t + h does not overshoot the target and the remainder is not tiny.
    static double clip_to_target(const double t, const double h, const double target);
    bool          adaptive() const { return adaptive_steps; }

  private:
    bool   adaptive_steps;
    double exponent;
  };
} // namespace scorefp
