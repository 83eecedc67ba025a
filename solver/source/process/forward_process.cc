// What every forward process shares: the transition law from the start time, the
// g^2 = 2a test and the scaled coordinates. The processes themselves are one file each
// (vp.cc, sub_vp.cc, ve.cc, edm.cc, ou.cc, cosine.cc); create_process() is in
// process_parameters.cc.
#include <scorefp/process/forward_process.h>

#include <algorithm>
#include <cmath>

namespace scorefp
{
  double ForwardProcess::transition_mean_factor(const double t) const
  {
    return mean_factor(t) / mean_factor(data_time);
  }

  double ForwardProcess::transition_variance(const double t) const
  {
    // X_t = (m(t)/m(t0)) X_t0 + noise, so v(t) = (m(t)/m(t0))^2 v(t0) + v_{t0->t}.
    const double ratio = transition_mean_factor(t);
    return std::max(0.0, variance(t) - ratio * ratio * variance(data_time));
  }

  bool ForwardProcess::diffusion_is_twice_drift_rate() const
  {
    for (const double t : {start_time, 0.5 * (start_time + final_time), final_time})
      if (std::abs(diffusion_squared(t) - 2.0 * drift_rate(t)) > 1e-12 * diffusion_squared(t))
        return false;
    return true;
  }

  CoordinateScaling::CoordinateScaling(const ForwardProcess &process,
                                       const bool            enabled,
                                       const double          data_scale)
      : process(process)
      , is_enabled(enabled)
      , c0(data_scale)
  {
  }

  double CoordinateScaling::scale(const double t) const
  {
    return is_enabled ? std::sqrt(c0 * c0 + process.transition_variance(t)) : 1.0;
  }

  double CoordinateScaling::drift_rate(const double t) const
  {
    const double a = process.drift_rate(t);
    if (!is_enabled)
      return a;
    // c^2 = c0^2 + v with v' = g^2 - 2 a v, so c'/c = (g^2 - 2 a v) / (2 c^2).
    const double v  = process.transition_variance(t);
    const double c2 = c0 * c0 + v;
    return a + (process.diffusion_squared(t) - 2.0 * a * v) / (2.0 * c2);
  }

  double CoordinateScaling::diffusion_squared(const double t) const
  {
    const double c = scale(t);
    return process.diffusion_squared(t) / (c * c);
  }
} // namespace scorefp
