#include <scorefp/input_error.h>
#include <scorefp/processes.h>

#include <cmath>
#include <functional>
#include <map>
#include <sstream>

namespace scorefp
{
  double ForwardProcess::transition_mean_factor(const double t) const
  {
    return mean_factor(t) / mean_factor(start_time);
  }

  double ForwardProcess::transition_variance(const double t) const
  {
    // X_t = (m(t)/m(t0)) X_t0 + noise, so v(t) = (m(t)/m(t0))^2 v(t0) + v_{t0->t}.
    const double ratio = transition_mean_factor(t);
    return std::max(0.0, variance(t) - ratio * ratio * variance(start_time));
  }

  namespace
  {
    // VP: beta(t) = beta0 + (beta1 - beta0) t, a = beta/2, g^2 = beta.
    class VariancePreservingProcess : public ForwardProcess
    {
    public:
      VariancePreservingProcess(const double beta0, const double beta1)
          : beta0(beta0)
          , beta1(beta1)
      {
      }
      double beta(const double t) const { return beta0 + (beta1 - beta0) * t; }
      double integrated_beta(const double t) const
      {
        return beta0 * t + 0.5 * (beta1 - beta0) * t * t;
      }
      double drift_rate(const double t) const override { return 0.5 * beta(t); }
      double diffusion_squared(const double t) const override { return beta(t); }
      double mean_factor(const double t) const override
      {
        return std::exp(-0.5 * integrated_beta(t));
      }
      double variance(const double t) const override { return -std::expm1(-integrated_beta(t)); }
      std::string name() const override { return "VP"; }

    protected:
      double beta0, beta1;
    };

    // sub-VP: a = beta/2, g^2 = beta (1 - e^{-2B}), v = (1 - e^{-B})^2.
    class SubVariancePreservingProcess : public VariancePreservingProcess
    {
    public:
      using VariancePreservingProcess::VariancePreservingProcess;
      double diffusion_squared(const double t) const override
      {
        return -beta(t) * std::expm1(-2.0 * integrated_beta(t));
      }
      double variance(const double t) const override
      {
        const double one_minus = -std::expm1(-integrated_beta(t));
        return one_minus * one_minus;
      }
      std::string name() const override { return "sub-VP"; }
    };

    // VE: sigma(t) = sigma_min (sigma_max/sigma_min)^t, a = 0,
    // g^2 = 2 sigma^2 ln(sigma_max/sigma_min), v = sigma^2 - sigma_min^2.
    class VarianceExplodingProcess : public ForwardProcess
    {
    public:
      VarianceExplodingProcess(const double sigma_min, const double sigma_max)
          : sigma_min(sigma_min)
          , log_ratio(std::log(sigma_max / sigma_min))
      {
      }
      double sigma(const double t) const { return sigma_min * std::exp(log_ratio * t); }
      double drift_rate(const double) const override { return 0.0; }
      double diffusion_squared(const double t) const override
      {
        return 2.0 * sigma(t) * sigma(t) * log_ratio;
      }
      double mean_factor(const double) const override { return 1.0; }
      double variance(const double t) const override
      {
        // sigma_min^2 (e^{2 L t} - 1), written with expm1 to keep small t exact.
        return sigma_min * sigma_min * std::expm1(2.0 * log_ratio * t);
      }
      std::string name() const override { return "VE"; }

    private:
      double sigma_min, log_ratio;
    };

    // EDM (Karras et al.): sigma(t) = t, a = 0, g^2 = 2t, v = t^2.
    class EdmProcess : public ForwardProcess
    {
    public:
      double      drift_rate(const double) const override { return 0.0; }
      double      diffusion_squared(const double t) const override { return 2.0 * t; }
      double      mean_factor(const double) const override { return 1.0; }
      double      variance(const double t) const override { return t * t; }
      std::string name() const override { return "EDM"; }
    };

    // Ornstein-Uhlenbeck: a = r, g^2 = q, m = e^{-rt}, v = q (1 - e^{-2rt}) / (2r).
    class OrnsteinUhlenbeckProcess : public ForwardProcess
    {
    public:
      OrnsteinUhlenbeckProcess(const double rate, const double diffusion)
          : rate(rate)
          , q(diffusion)
      {
      }
      double drift_rate(const double) const override { return rate; }
      double diffusion_squared(const double) const override { return q; }
      double mean_factor(const double t) const override { return std::exp(-rate * t); }
      double variance(const double t) const override
      {
        return -q * std::expm1(-2.0 * rate * t) / (2.0 * rate);
      }
      std::string name() const override { return "OU"; }

    private:
      double rate, q;
    };

    void require(const bool condition, const std::string &sentence)
    {
      if (!condition)
        throw InputError(sentence);
    }
  } // namespace

  std::vector<std::string> process_names()
  {
    return {"VP", "sub-VP", "VE", "EDM", "OU"};
  }

  std::unique_ptr<ForwardProcess> create_process(const ProcessParameters &p)
  {
    std::unique_ptr<ForwardProcess> process;
    if (p.type == "VP" || p.type == "sub-VP")
      {
        require(p.beta_min > 0 && p.beta_max >= p.beta_min,
                "Process/beta min and beta max must satisfy 0 < beta min <= beta max (got " +
                    std::to_string(p.beta_min) + " and " + std::to_string(p.beta_max) + ").");
        if (p.type == "VP")
          process = std::make_unique<VariancePreservingProcess>(p.beta_min, p.beta_max);
        else
          process = std::make_unique<SubVariancePreservingProcess>(p.beta_min, p.beta_max);
      }
    else if (p.type == "VE")
      {
        require(p.sigma_min > 0 && p.sigma_max > p.sigma_min,
                "Process/sigma min and sigma max must satisfy 0 < sigma min < sigma max (got " +
                    std::to_string(p.sigma_min) + " and " + std::to_string(p.sigma_max) + ").");
        process = std::make_unique<VarianceExplodingProcess>(p.sigma_min, p.sigma_max);
      }
    else if (p.type == "EDM")
      process = std::make_unique<EdmProcess>();
    else if (p.type == "OU")
      {
        require(p.ou_rate > 0 && p.ou_diffusion > 0,
                "Process/OU rate and OU diffusion must be positive.");
        process = std::make_unique<OrnsteinUhlenbeckProcess>(p.ou_rate, p.ou_diffusion);
      }
    else
      throw InputError("Process/Type '" + p.type +
                       "' is not a known process; expected one of VP, sub-VP, VE, EDM, OU.");

    require(p.start_time >= 0.0,
            "Process/Start time must be non-negative (got " + std::to_string(p.start_time) + ").");
    require(p.final_time > p.start_time,
            "Process/Final time must be larger than Process/Start time (got " +
                std::to_string(p.final_time) + " <= " + std::to_string(p.start_time) + ").");
    process->start_time = p.start_time;
    process->final_time = p.final_time;
    return process;
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
