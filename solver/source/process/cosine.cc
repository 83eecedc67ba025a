// The cosine schedule of Nichol & Dhariwal 2021 (MATH.md section 1), VP-type:
//   alpha_bar(t) = f(t)/f(0), f(t) = cos^2(theta(t)), theta(t) = pi/2 (t + s)/(1 + s),
//   m = sqrt(alpha_bar), v = 1 - alpha_bar, a = theta' tan(theta), g^2 = 2a.
// a tends to infinity as t -> 1, so beta = 2a is clipped at `beta max`: from the time
// t_c where 2a(t_c) = beta max on, a stays beta max / 2. Since g^2 = 2a throughout,
// v = 1 - m^2 holds for the clipped part as well (d(1 - m^2)/dt = 2a m^2).
#include <scorefp/core/parameter_binder.h>
#include <scorefp/process/process_registry.h>

#include <deal.II/base/numbers.h>
#include <deal.II/base/patterns.h>

#include <algorithm>
#include <cmath>

namespace scorefp
{
  namespace
  {
    struct CosineParameters
    {
      double offset   = 0.008;
      double beta_max = 1000.0;

      void bind(ParameterBinder &b)
      {
        namespace Patterns = dealii::Patterns;
        b.add("cosine offset",
              offset,
              "cosine: offset s in alpha_bar(t) = f(t)/f(0), f(t) = cos^2(pi/2 (t + s)/(1 + s)), "
              "dimensionless (Nichol & Dhariwal 2021: 0.008).",
              Patterns::Double(0));
        b.add("cosine beta max",
              beta_max,
              "cosine: upper bound on beta(t) = 2 a(t) = g(t)^2, in units of 1/time. a(t) tends "
              "to infinity as t -> 1; from the time where 2 a reaches this bound on, a stays "
              "at half of it (about t = 0.998 for 1000, so Final time may be 1 or more). "
              "Nichol & Dhariwal's clip of their discrete beta at 0.999 over 1000 steps "
              "corresponds to about 6900.",
              Patterns::Double(0));
        b.require(beta_max > 0,
                  "Process/cosine beta max must be positive (got " + std::to_string(beta_max) +
                      ").");
      }
    };

    class CosineProcess : public ForwardProcess
    {
    public:
      explicit CosineProcess(const CosineParameters &p)
          : offset(p.offset)
          , theta_rate(0.5 * dealii::numbers::PI / (1.0 + p.offset))
          , theta0(theta_rate * p.offset)
          , cos_theta0(std::cos(theta0))
          , clipped_rate(0.5 * p.beta_max)
          , clip_time(std::max(0.0, std::atan(clipped_rate / theta_rate) / theta_rate - offset))
          , log_mean_at_clip(std::log(unclipped_mean_factor(clip_time)))
      {
      }

      double drift_rate(const double t) const override
      {
        return t <= clip_time ? theta_rate * std::tan(theta(t)) : clipped_rate;
      }
      double diffusion_squared(const double t) const override { return 2.0 * drift_rate(t); }
      double mean_factor(const double t) const override
      {
        return t <= clip_time ? unclipped_mean_factor(t) : std::exp(log_mean_after_clip(t));
      }
      double variance(const double t) const override
      {
        if (t <= clip_time)
          {
            // 1 - cos^2(theta)/cos^2(theta0), written as a product of sines so that
            // small t keeps its relative accuracy.
            const double th = theta(t);
            return std::sin(th - theta0) * std::sin(th + theta0) / (cos_theta0 * cos_theta0);
          }
        return -std::expm1(2.0 * log_mean_after_clip(t));
      }
      std::string name() const override { return "cosine"; }

    private:
      double theta(const double t) const { return theta_rate * (t + offset); }
      double unclipped_mean_factor(const double t) const { return std::cos(theta(t)) / cos_theta0; }
      double log_mean_after_clip(const double t) const
      {
        return log_mean_at_clip - clipped_rate * (t - clip_time);
      }

      double offset, theta_rate, theta0, cos_theta0, clipped_rate, clip_time, log_mean_at_clip;
    };
  } // namespace

  SCOREFP_REGISTER(ProcessRegistry,
                   "cosine",
                   "Nichol & Dhariwal 2021, VP-type (g^2 = 2a) with m(t)^2 = cos^2(pi/2 (t + "
                   "s)/(1 + s)) / cos^2(pi/2 s/(1 + s)) and beta = 2a clipped at cosine beta max.",
                   CosineParameters,
                   [](const CosineParameters &p) { return std::make_unique<CosineProcess>(p); });
} // namespace scorefp
