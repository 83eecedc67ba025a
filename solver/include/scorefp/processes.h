// Forward processes of MATH.md section 1: affine SDEs dX = -a(t) X dt + g(t) dW with
// X_t | X_0 ~ N(m(t) X_0, v(t) I). Each preset knows a, g^2, m and v in closed form.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace scorefp
{
  struct ProcessParameters
  {
    std::string type         = "VP"; // VP, sub-VP, VE, EDM, OU
    double      start_time   = 0.0;
    double      final_time   = 1.0;
    double      beta_min     = 0.1;
    double      beta_max     = 20.0;
    double      sigma_min    = 0.01;
    double      sigma_max    = 50.0;
    double      ou_rate      = 1.0;
    double      ou_diffusion = 2.0;
  };

  class ForwardProcess
  {
  public:
    virtual ~ForwardProcess() = default;

    /// a(t) in the drift f = -a(t) x.
    virtual double drift_rate(const double t) const = 0;
    /// g(t)^2.
    virtual double diffusion_squared(const double t) const = 0;
    /// m(t) = exp(-int_0^t a).
    virtual double mean_factor(const double t) const = 0;
    /// v(t), the variance of X_t | X_0 for a process started at t = 0.
    virtual double      variance(const double t) const = 0;
    virtual std::string name() const                   = 0;

    /// The law of X_t given X_{t0} = x0 for data placed at the start time t0:
    /// N(transition_mean_factor(t) x0, transition_variance(t) I).
    double transition_mean_factor(const double t) const;
    double transition_variance(const double t) const;

    double start_time = 0.0;
    double final_time = 1.0;
  };

  /// Resolve a preset by name ("VP", "sub-VP", "VE", "EDM", "OU"); throws InputError
  /// for an unknown name or parameters out of range.
  std::unique_ptr<ForwardProcess> create_process(const ProcessParameters &p);

  /// The names create_process() accepts, for parameter patterns and messages.
  std::vector<std::string> process_names();

  /**
   * Scaled coordinates xi = x / c(t) (MATH.md section 2). With c(t)^2 = c0^2 + v(t)
   * the density q(xi, t) = c^d p(c xi, t) stays of order one while p widens by
   * orders of magnitude (VE, EDM), so one mesh serves the whole time interval. q
   * solves the same affine FPE with a -> a + c'/c and g^2 -> g^2 / c^2.
   * With enabled = false, c = 1 and the coefficients are the process's own.
   */
  class CoordinateScaling
  {
  public:
    CoordinateScaling(const ForwardProcess &process, const bool enabled, const double data_scale);

    double scale(const double t) const;
    /// a(t) + c'(t)/c(t): the drift rate in the coordinates the mesh lives in.
    double drift_rate(const double t) const;
    /// g(t)^2 / c(t)^2.
    double diffusion_squared(const double t) const;
    bool   enabled() const { return is_enabled; }

  private:
    const ForwardProcess &process;
    bool                  is_enabled;
    double                c0;
  };
} // namespace scorefp
