// Score sources (Sampler/Score): where the score field s(x, t) that drives a sampler
// comes from. A family chosen by name: each source is one file in
// solver/source/score_source/ with its own entries (in section Sampler) and one
// registration line,
//
//   SCOREFP_REGISTER(ScoreSourceRegistry, "exact", "documentation", NoParameters, factory)
//
// The registry makes the source while parsing; the source makes its ScoreModel when
// the sampler runs (a reference file is read only then).
#pragma once

#include <scorefp/core/registry.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/score/score_parameters.h>

#include <cstddef>
#include <memory>
#include <string>

namespace scorefp
{
  /// Derivatives of a score field at n points, in arrays the caller sizes; a null
  /// pointer means "not wanted".
  struct ScoreDerivatives
  {
    double *jacobian        = nullptr; ///< n*d*d: (grad s)_ij = d s_i / d x_j, row i first
    double *time_derivative = nullptr; ///< n*d: d s / dt
    double *grad_divergence = nullptr; ///< n*d: grad (div s)
  };

  /// A potential u(x, t) with s = grad u (Deveney et al.'s parametrisation) and the
  /// derivatives the log-form residual needs; null pointers are not wanted.
  struct PotentialValues
  {
    double *u         = nullptr; ///< n
    double *du_dt     = nullptr; ///< n
    double *laplacian = nullptr; ///< n: Laplacian of u
  };

  /// A score field s(x, t) evaluated for a batch of n points (n*d values, point-major).
  class ScoreModel
  {
  public:
    virtual ~ScoreModel()                  = default;
    virtual unsigned int dimension() const = 0;
    virtual void
    evaluate(const double t, const double *x, const std::size_t n, double *s) const = 0;
    virtual std::string description() const                                         = 0;

    /// True if evaluate_derivatives() gives the exact derivatives of the field as it is
    /// evaluated (autograd for a network, the derivatives of the interpolant for a grid).
    virtual bool has_derivatives() const { return false; }
    /// s and the derivatives asked for in `derivatives` (s may be null). The default
    /// throws: ask has_derivatives() first.
    virtual void evaluate_derivatives(const double            t,
                                      const double           *x,
                                      const std::size_t       n,
                                      double                 *s,
                                      const ScoreDerivatives &derivatives) const;
    /// True if evaluate_divergence() gives div s of the field as it is evaluated: closed
    /// forms, and every field with derivatives (the default).
    virtual bool has_divergence() const { return has_derivatives(); }
    /// s (may be null) and div s (n values). The default takes the trace of
    /// evaluate_derivatives()'s Jacobian, and so throws for a field without derivatives.
    virtual void evaluate_divergence(const double      t,
                                     const double     *x,
                                     const std::size_t n,
                                     double           *s,
                                     double           *divergence) const;
    /// True if the field is the gradient of a potential that evaluate_potential() gives.
    virtual bool is_potential() const { return false; }
    /// u and the values asked for in `values`. The default throws.
    virtual void evaluate_potential(const double           t,
                                    const double          *x,
                                    const std::size_t      n,
                                    const PotentialValues &values) const;
    /// The floating-point type the field is computed in ("float64" or "float32").
    virtual std::string precision() const { return "float64"; }
  };

  /// What a score source may use to make its model.
  struct ScoreSourceContext
  {
    const ForwardProcess   &process;
    const DataDistribution &data;
    unsigned int            dimension;
    /// Section Score (the perturbation of the perturbed source).
    const ScoreParameters &score;
    /// The times the sampler visits: [early_stopping, process.final_time].
    double early_stopping;
    /// The case's section Process, which a model's or grid's recorded process must match.
    const ProcessParameters &process_parameters;
  };

  class ScoreSourceInterface
  {
  public:
    virtual ~ScoreSourceInterface() = default;
    /// True if the model is the closed-form score of the data, so that the exact law
    /// of Gaussian data describes the samples.
    virtual bool closed_form() const { return false; }
    /// InputError if entries the source needs are missing (Task = sample only).
    virtual void check() const {}
    /// The score model (may read files; InputError for one that does not fit).
    virtual std::unique_ptr<ScoreModel> create(const ScoreSourceContext &context) const = 0;
  };

  using ScoreSourceRegistry = Registry<ScoreSourceInterface>;

  /// The closed-form score of the law at time t of data placed at the start time.
  std::unique_ptr<ScoreModel> exact_score(const ForwardProcess   &process,
                                          const DataDistribution &data);

  /// The exact score plus grad phi, phi = A exp(-|x|^2 / (2 w^2)) (the bump of the
  /// score solver's residual study): a gradient field that is not the score.
  std::unique_ptr<ScoreModel>
  perturbed_score(std::unique_ptr<ScoreModel> exact, const double amplitude, const double width);
} // namespace scorefp
