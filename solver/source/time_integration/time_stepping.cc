#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>
#include <scorefp/time_integration/time_stepping.h>

#include <arkode/arkode_butcher.h>
#include <arkode/arkode_butcher_dirk.h>

#include <deal.II/base/patterns.h>

#include <algorithm>
#include <cmath>

namespace scorefp
{
  std::vector<std::string> dirk_tableau_names()
  {
    return {"ARK436L2SA_DIRK_6_3_4",
            "ARK324L2SA_DIRK_4_2_3",
            "ARK548L2SA_DIRK_8_4_5",
            "ESDIRK436L2SA_6_3_4",
            "ESDIRK547L2SA2_7_4_5",
            "TRBDF2_3_3_2"};
  }

  void TimeSteppingParameters::bind(ParameterBinder &b)
  {
    namespace Patterns = dealii::Patterns;
    b.add_choice("Method",
                 method,
                 dirk_tableau_names(),
                 "Diagonally implicit Runge-Kutta table from SUNDIALS ARKode "
                 "(NAME_stages_embedded-order_order): ARK436L2SA_DIRK_6_3_4 is 4th order, "
                 "L-stable, stiffly accurate.");
    b.add("Tolerance",
          tolerance,
          "Adaptive steps: bound on the estimated relative L2 error of each step "
          "(dimensionless).",
          Patterns::Double(0));
    b.add("Initial step", initial_step, "First step size tried (units of time).", Patterns::Double(0));
    b.add("Fixed step",
          fixed_step,
          "If positive: constant step size (units of time), shortened to hit output times; no "
          "error control.",
          Patterns::Double(0));
    b.add("Minimum step",
          minimum_step,
          "The run stops with an error if adaptive steps fall below this.",
          Patterns::Double(0));
    b.add("Maximum steps",
          maximum_steps,
          "The run stops with an error after this many steps.",
          Patterns::Integer(1));
    b.require(tolerance > 0, "Time stepping/Tolerance must be positive.");
    b.require(initial_step > 0, "Time stepping/Initial step must be positive.");
    if (b.parsing())
      load_dirk_tableau(method);
  }

  DirkTableau load_dirk_tableau(const std::string &name)
  {
    const std::string  full  = name.rfind("ARKODE_", 0) == 0 ? name : "ARKODE_" + name;
    ARKodeButcherTable table = ARKodeButcherTable_LoadDIRKByName(full.c_str());
    if (table == nullptr)
      throw InputError("Time stepping/Method '" + name +
                       "' is not a diagonally implicit ARKode table; expected one of "
                       "ARK436L2SA_DIRK_6_3_4, ARK324L2SA_DIRK_4_2_3, ARK548L2SA_DIRK_8_4_5, "
                       "ESDIRK436L2SA_6_3_4, ESDIRK547L2SA2_7_4_5, TRBDF2_3_3_2.");
    DirkTableau t;
    t.name           = name;
    t.order          = table->q;
    t.embedded_order = table->p;
    const int s      = table->stages;
    t.a.assign(s, std::vector<double>(s, 0.0));
    t.b.resize(s);
    t.b_embedded.resize(s);
    t.c.resize(s);
    for (int i = 0; i < s; ++i)
      {
        for (int j = 0; j < s; ++j)
          t.a[i][j] = table->A[i][j];
        t.b[i]          = table->b[i];
        t.b_embedded[i] = table->d != nullptr ? table->d[i] : table->b[i];
        t.c[i]          = table->c[i];
      }
    ARKodeButcherTable_Free(table);

    for (int i = 0; i < s; ++i)
      for (int j = i + 1; j < s; ++j)
        if (t.a[i][j] != 0.0)
          throw InputError("Time stepping/Method '" + name + "' is not diagonally implicit.");
    t.stiffly_accurate = std::abs(t.c[s - 1] - 1.0) < 1e-14;
    for (int j = 0; j < s && t.stiffly_accurate; ++j)
      t.stiffly_accurate = std::abs(t.a[s - 1][j] - t.b[j]) < 1e-14;
    return t;
  }

  StepSizeController::StepSizeController(const TimeSteppingParameters &parameters,
                                         const unsigned int            embedded_order)
      : adaptive_steps(parameters.fixed_step <= 0.0)
      , exponent(1.0 / (embedded_order + 1.0))
  {
  }

  bool StepSizeController::accept(const double normalised_error) const
  {
    return !adaptive_steps || normalised_error <= 1.0;
  }

  double StepSizeController::next_step(const double h,
                                       const double normalised_error,
                                       const bool   accepted) const
  {
    if (!adaptive_steps)
      return h;
    const double safety     = 0.9;
    const double max_factor = accepted ? 4.0 : 1.0;
    const double min_factor = 0.2;
    const double factor =
        normalised_error > 0.0 ? safety * std::pow(normalised_error, -exponent) : max_factor;
    return h * std::clamp(factor, min_factor, max_factor);
  }

  double StepSizeController::clip_to_target(const double t, const double h, const double target)
  {
    const double remaining = target - t;
    if (h >= remaining * (1.0 - 1e-12))
      return remaining;
    // Split what is left evenly instead of leaving a sliver for the last step.
    if (h > 0.5 * remaining)
      return 0.5 * remaining;
    return h;
  }
} // namespace scorefp
