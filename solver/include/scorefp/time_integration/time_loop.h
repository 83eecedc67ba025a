// The adaptive time loop both solvers share: steps of an embedded DIRK pair from the
// start time through every output time, with error control, rejected and failed
// steps, progress lines and the step limit. What a step is (linear density solve,
// Newton on the score system) and what happens after it are the caller's hooks.
#pragma once

#include <scorefp/time_integration/dirk_integrator.h>
#include <scorefp/core/input_error.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/time_integration/time_stepping.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace scorefp
{
  /// A step that could not be completed (Newton's method did not converge). With
  /// adaptive steps the loop retries with a quarter of the step; otherwise, or below
  /// the minimum step, it becomes a SolverFailure naming the time and the step.
  class StepFailure : public std::runtime_error
  {
  public:
    using std::runtime_error::runtime_error;
  };

  /// The start time, the requested output times (or equally spaced ones) and the final
  /// time, sorted and without duplicates.
  std::vector<double> make_output_times(const ForwardProcess      &process,
                                        const std::vector<double> &requested,
                                        const unsigned int         n_intervals);
  /// The same on [first, last] (the interval a reverse-time solve covers).
  std::vector<double> make_output_times(const double               first,
                                        const double               last,
                                        const std::vector<double> &requested,
                                        const unsigned int         n_intervals);

  /// "At step N, t = T: ", the prefix of every message about a failed run.
  std::string failure_context(const double t, const unsigned int step);

  /// One progress line: step, time, step size, the caller's figures, and the ETA.
  void print_progress_line(std::ostream      &out,
                           const unsigned int step,
                           const double       t,
                           const double       dt,
                           const double       fraction_done,
                           const double       elapsed_seconds,
                           const std::string &figures);

  struct TimeLoopCounters
  {
    unsigned int       n_steps = 0, n_rejected_steps = 0;
    unsigned long long linear_iterations = 0;
  };

  template <typename VectorType>
  struct TimeLoopHooks
  {
    /// Attempt a step of size h from (t, y) into y_new; may throw StepFailure.
    std::function<StepReport(
        double t, double h, const VectorType &y, VectorType &y_new, bool estimate_error)>
        step;
    /// Called after an accepted step, with the solution already advanced to t.
    std::function<void(unsigned int step, double t, double h, const StepReport &report)> accepted;
    /// Called when output time number `index` (>= 1) is reached.
    std::function<void(unsigned int index, double t)> output;
    /// The figures for a progress line at the current state (errors, mass, ...).
    std::function<std::string()> progress_figures;
    /// Seconds of wall time since the run started.
    std::function<double()> wall_seconds;
    /// The time progress lines show for the loop's time (empty: the loop's time
    /// itself; reverse-time solves step in tau = T - t and show t).
    std::function<double(double)> shown_time;
  };

  /// Advance `solution` from output_times[0] through every later output time.
  /// `log` is null on ranks that do not print.
  template <typename VectorType>
  TimeLoopCounters run_time_loop(const std::vector<double>       &output_times,
                                 const TimeSteppingParameters    &parameters,
                                 const unsigned int               embedded_order,
                                 const double                     progress_interval,
                                 std::ostream                    *log,
                                 VectorType                      &solution,
                                 const TimeLoopHooks<VectorType> &hooks)
  {
    const StepSizeController controller(parameters, embedded_order);
    TimeLoopCounters         counters;
    VectorType               y_new(solution);
    const double             t0 = output_times.front(), t_end = output_times.back();
    double                   t = t0;
    double h             = controller.adaptive() ? parameters.initial_step : parameters.fixed_step;
    double last_progress = -1e300;
    const auto shown     = [&hooks](const double time) {
      return hooks.shown_time ? hooks.shown_time(time) : time;
    };
    for (unsigned int k = 1; k < output_times.size(); ++k)
      {
        const double target = output_times[k];
        while (t < target)
          {
            if (counters.n_steps >= parameters.maximum_steps)
              throw SolverFailure(failure_context(shown(t), counters.n_steps) +
                                  "the step limit Time stepping/Maximum steps was reached.");
            const double h_try = controller.adaptive()
                                     ? StepSizeController::clip_to_target(t, h, target)
                                     : (target - t) / std::ceil((target - t) / h - 1e-9);
            StepReport   report;
            try
              {
                report = hooks.step(t, h_try, solution, y_new, controller.adaptive());
              }
            catch (const StepFailure &failure)
              {
                if (!controller.adaptive() || h_try / 4 < parameters.minimum_step)
                  throw SolverFailure(failure_context(shown(t), counters.n_steps) + failure.what() +
                                      (controller.adaptive()
                                           ? " Shorter steps down to Time stepping/Minimum "
                                             "step did not help."
                                           : " Lower Time stepping/Fixed step."));
                ++counters.n_rejected_steps;
                h = h_try / 4;
                continue;
              }
            counters.linear_iterations += report.linear_iterations;
            const double normalised = report.relative_error / parameters.tolerance;
            if (!std::isfinite(y_new.l2_norm()) || !std::isfinite(normalised))
              throw SolverFailure(failure_context(shown(t), counters.n_steps) +
                                  "the solution is no longer finite; lower Time "
                                  "stepping/Tolerance or Fixed step.");
            if (controller.accept(normalised))
              {
                const bool reached = h_try >= (target - t) * (1.0 - 1e-12);
                t                  = reached ? target : t + h_try;
                solution.swap(y_new);
                ++counters.n_steps;
                hooks.accepted(counters.n_steps, t, h_try, report);
                if (controller.adaptive())
                  {
                    // A step shortened to land on an output time says nothing about the
                    // step size the error allows: keep the larger one.
                    const double proposal = controller.next_step(h_try, normalised, true);
                    h                     = reached ? std::max(proposal, h) : proposal;
                  }
                const double elapsed = hooks.wall_seconds();
                if (log != nullptr && (elapsed - last_progress >= progress_interval || t == target))
                  {
                    last_progress = elapsed;
                    print_progress_line(*log,
                                        counters.n_steps,
                                        shown(t),
                                        h_try,
                                        (t - t0) / (t_end - t0),
                                        elapsed,
                                        hooks.progress_figures());
                  }
              }
            else
              {
                ++counters.n_rejected_steps;
                h = controller.next_step(h_try, normalised, false);
                if (h < parameters.minimum_step)
                  throw SolverFailure(failure_context(shown(t), counters.n_steps) +
                                      "the step size fell below Time stepping/Minimum step.");
              }
          }
        hooks.output(k, t);
      }
    return counters;
  }
} // namespace scorefp
