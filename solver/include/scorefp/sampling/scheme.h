// The reverse-time schemes of MATH.md section 4 as a family chosen by name
// (Sampler/Scheme, Scheme table/Schemes). Each scheme is one source file in
// solver/source/sampling/schemes/ that writes its step once, as a template over the
// scalar type S, and registers itself:
//
//   class Ddim : public SchemeWithStep<Ddim>
//   {
//   public:
//     template <typename S>
//     void advance(StepContext<S> &c, unsigned int k, double t0, double t1,
//                  std::vector<S> &x) const;
//   };
//   SCOREFP_REGISTER(SchemeRegistry, "ddim", "documentation", NoParameters, factory)
//
// S = double moves particles; S = Affine moves Gaussian laws exactly (affine.h), so the
// particles and the exact law of Gaussian data run the same step code. The Langevin
// corrector steps after a step and the start are the drivers' (sampling.cc).
#pragma once

#include <scorefp/core/registry.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/sampling/affine.h>

#include <functional>
#include <string>
#include <vector>

namespace scorefp
{
  struct SamplerSettings;
  struct SamplerCounters;
  class ScoreModel;

  /// What a step sees: the process, the settings, the score and the noise of the
  /// driver (particles or exact law), work space, and what the scheme keeps between
  /// steps.
  template <typename S>
  class StepContext
  {
  public:
    using Batch = std::vector<S>;

    StepContext(const ForwardProcess &process, const SamplerSettings &settings)
        : process(process)
        , settings(settings)
    {
    }

    const ForwardProcess  &process;
    const SamplerSettings &settings;

    /// out = score(t, x), point-major batches.
    std::function<void(double, const Batch &, Batch &)> score_function;
    /// z = fresh standard normals for (step, draw); draw 0 is the predictor's.
    std::function<void(unsigned int, unsigned int, Batch &)> noise_function;
    /// Score evaluations per point.
    unsigned long long evaluations = 0;

    void score(const double t, const Batch &x, Batch &out)
    {
      score_function(t, x, out);
      ++evaluations;
    }
    void noise(const unsigned int k, const unsigned int draw, Batch &z) { noise_function(k, draw, z); }

    /// The probability-flow velocity in reversed time, dx/dtau = a x + g^2/2 s.
    void velocity(const double t, const Batch &x, Batch &out)
    {
      score(t, x, out);
      const double a = process.drift_rate(t), g2 = process.diffusion_squared(t);
      for (std::size_t i = 0; i < x.size(); ++i)
        out[i] = a * x[i] + 0.5 * g2 * out[i];
    }

    /// A step that ends where v = 0 (epsilon = start time) cannot evaluate the score
    /// there (degenerate data); schemes take it with their Euler part, as EDM does.
    bool ends_degenerate(const double t1) const
    {
      return !(process.transition_variance(t1) > 0.0);
    }

    /// Work space, sized to the batch before every step.
    Batch s, z, k1, k2, k3, k4, y;

    /// What a multistep scheme keeps from step to step (at most affine_history_slots
    /// batches, each like x); empty before the first step. The exact-law driver keeps
    /// these forms jointly Gaussian with the state.
    std::vector<Batch> history;

    void resize(const std::size_t n)
    {
      for (Batch *b : {&s, &z, &k1, &k2, &k3, &k4, &y})
        b->resize(n);
    }
  };

  /// x <- alpha x + beta s + gamma z: the update of the one-step stochastic schemes,
  /// written once for both scalar types; the particles' overload below runs the vector
  /// kernel (simd/kernels.h).
  template <typename S>
  void combine(std::vector<S>         &x,
               const double            alpha,
               const std::vector<S>   &s,
               const double            beta,
               const std::vector<S>   &z,
               const double            gamma)
  {
    for (std::size_t i = 0; i < x.size(); ++i)
      x[i] = alpha * x[i] + beta * s[i] + gamma * z[i];
  }
  void combine(std::vector<double>       &x,
               const double               alpha,
               const std::vector<double> &s,
               const double               beta,
               const std::vector<double> &z,
               const double               gamma);

  /// A reverse-time scheme: stateless (what it keeps between steps lives in the
  /// StepContext), created by name from SchemeRegistry.
  class Scheme
  {
  public:
    virtual ~Scheme() = default;

    /// False for a scheme that chooses its own steps per particle (ode-rk45): it has
    /// no step count, no corrector steps and no Gaussian output law, and runs through
    /// integrate_particle().
    virtual bool fixed_steps() const { return true; }
    /// True for a scheme of the probability-flow ODE (its continuous-time law is the
    /// ODE-induced law of its score), false for one of the reverse SDE.
    virtual bool probability_flow() const = 0;
    /// Corrector steps the scheme takes at least (predictor-corrector: 1).
    virtual unsigned int minimum_corrector_steps() const { return 0; }

    /// InputError naming `entry` if the scheme cannot run with this process.
    virtual void check(const ForwardProcess &process, const std::string &entry) const
    {
      (void)process;
      (void)entry;
    }
    /// InputError if the scheme cannot take the steps of this time grid.
    virtual void check_grid(const ForwardProcess &process, const std::vector<double> &times) const
    {
      (void)process;
      (void)times;
    }

    /// One step from t0 = times[k] down to t1 = times[k + 1].
    virtual void step(StepContext<double> &context,
                      unsigned int         k,
                      double               t0,
                      double               t1,
                      std::vector<double> &x) const = 0;
    virtual void step(StepContext<Affine> &context,
                      unsigned int         k,
                      double               t0,
                      double               t1,
                      std::vector<Affine> &x) const = 0;

    /// The whole trajectory of one particle x (d values), for fixed_steps() == false.
    virtual void integrate_particle(const ForwardProcess  &process,
                                    const ScoreModel      &score,
                                    const SamplerSettings &settings,
                                    double                *x,
                                    SamplerCounters       &counters) const;
  };

  /// Both step() functions of a scheme generated from its one templated advance().
  template <typename Derived>
  class SchemeWithStep : public Scheme
  {
  public:
    void step(StepContext<double> &context,
              const unsigned int   k,
              const double         t0,
              const double         t1,
              std::vector<double> &x) const override
    {
      static_cast<const Derived &>(*this).advance(context, k, t0, t1, x);
    }
    void step(StepContext<Affine> &context,
              const unsigned int   k,
              const double         t0,
              const double         t1,
              std::vector<Affine> &x) const override
    {
      static_cast<const Derived &>(*this).advance(context, k, t0, t1, x);
    }
  };

  using SchemeRegistry = Registry<Scheme>;

  /// The scheme called name (InputError naming `entry` and the choices otherwise).
  std::unique_ptr<Scheme> create_scheme(const std::string &name, const std::string &entry = "");
} // namespace scorefp
