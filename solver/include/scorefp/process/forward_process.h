// Forward processes of MATH.md section 1: affine SDEs dX = -a(t) X dt + g(t) dW with
// X_t | X_0 ~ N(m(t) X_0, v(t) I). Each preset knows a, g^2, m and v in closed form;
// the presets are the members of ProcessRegistry (process/process_registry.h).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace scorefp
{
  class ParameterBinder;

  /// Section Process: the forward process chosen by Type (a name of ProcessRegistry,
  /// see process/process_registry.h; one file per process in source/process/), the time
  /// interval, and the entries the selected process read, kept as text. A plain value:
  /// copyable, comparable and buildable by hand (type and times set directly, the
  /// process's own entries with set()).
  struct ProcessParameters
  {
    std::string type       = "VP";
    double      start_time = 0.0;
    double      final_time = 1.0;
    /// The time the data distribution is placed at, 0 <= data time <= start time
    /// (Data time); negative: the start time itself (the default). A run that starts
    /// after the data (empirical data, whose law at its own time is a sum of point
    /// masses) starts from their forward law at the start time.
    double data_time = -1.0;
    /// The selected process's own entries ("beta max" -> "20", keys relative to section
    /// Process) as the parameter file gave or defaulted them. The process parses them
    /// again when it is created (create_process()); entries it does not read are
    /// ignored, as in a parameter file. Empty: its defaults.
    std::vector<std::pair<std::string, std::string>> settings;

    /// Declare or parse the entries of section Process: Type, Start time, Final time and
    /// every process's own entries (each declared once even when several processes read
    /// it). Parsing reads (and checks) only the selected process's entries.
    void bind(ParameterBinder &binder);

    /// Every parameter-file entry of the selected process as text, key relative to
    /// section Process: Type, Start time, Final time, then the process's own entries
    /// (what reference files store to rebuild the process).
    std::vector<std::pair<std::string, std::string>> entries() const;

    /// The parameters that entries() (or any subset of section Process's entries,
    /// the others keeping their defaults) describe; InputError for an unknown key or
    /// a bad value.
    static ProcessParameters
    from_entries(const std::vector<std::pair<std::string, std::string>> &entries);

    /// Set one of the selected process's own entries, as a parameter file would
    /// ("sigma max", "50").
    void set(const std::string &key, const std::string &text);
    void set(const std::string &key, const double value);
    /// The text of one of entries(); InputError when the selected process has no such
    /// entry.
    std::string value(const std::string &key) const;

    /// Same entries() (the defaults filled in).
    bool operator==(const ProcessParameters &other) const;
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

    /// Whether v(t) grows by orders of magnitude over [0, T] (VE, EDM): then scaled
    /// coordinates are on unless the parameter file says otherwise.
    virtual bool variance_explodes() const { return false; }

    /// Whether g^2 = 2a holds on [start time, final time] (VP-type schedules, OU with
    /// q = 2r), which the exponential integrator needs (MATH.md section 4). Checked
    /// at the two ends and the midpoint to a relative 1e-12.
    bool diffusion_is_twice_drift_rate() const;

    /// The law of X_t given X_{t0} = x0 for data placed at the data time t0 (the start
    /// time unless Process/Data time says otherwise):
    /// N(transition_mean_factor(t) x0, transition_variance(t) I).
    double transition_mean_factor(const double t) const;
    double transition_variance(const double t) const;

    double start_time = 0.0;
    double final_time = 1.0;
    double data_time  = 0.0;
  };

  /// Build the process p.type names (a member of ProcessRegistry) from its entries;
  /// throws InputError for an unknown name or parameters out of range.
  std::unique_ptr<ForwardProcess> create_process(const ProcessParameters &p);

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
