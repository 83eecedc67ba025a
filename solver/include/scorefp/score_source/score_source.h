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
  /// A score field s(x, t) evaluated for a batch of n points (n*d values, point-major).
  class ScoreModel
  {
  public:
    virtual ~ScoreModel()                  = default;
    virtual unsigned int dimension() const = 0;
    virtual void
    evaluate(const double t, const double *x, const std::size_t n, double *s) const = 0;
    virtual std::string description() const                                         = 0;
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
