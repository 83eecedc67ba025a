// Sampler/Score = reference file: the score of an HDF5 reference (Output/Reference
// file of a solve), interpolated linearly in time between the snapshots that enclose t.
#include <scorefp/core/parameter_binder.h>
#include <scorefp/reference/reference_field.h>
#include <scorefp/score_source/score_source.h>

namespace scorefp
{
  namespace
  {
    struct ReferenceFileParameters
    {
      std::string file;
      ScoreSource source = ScoreSource::finite_element;

      void bind(ParameterBinder &b)
      {
        b.add("Reference file",
              file,
              "Score = reference file: the HDF5 reference (from Output/Reference file of a "
              "solve).");
        b.add_selection("Reference score",
                        source,
                        {{"finite-element", ScoreSource::finite_element},
                         {"log-density gradient", ScoreSource::log_density_gradient}},
                        "Which score of a reference file: the finite-element score (score runs) "
                        "or grad p_h / p_h of its density.");
      }
    };

    class ReferenceScore : public ScoreModel
    {
    public:
      ReferenceScore(const std::string &file, const ScoreSource source)
          : field(ReferenceField::read(file))
          , source(source)
          , name(file)
      {
        if (source == ScoreSource::finite_element && !field->has_score())
          throw InputError("Reference file '" + file +
                           "' holds a density only (it comes from a density run); set "
                           "Sampler/Reference score = log-density gradient, or write the "
                           "reference from a score run.");
      }
      unsigned int dimension() const override { return field->dimension(); }
      void evaluate(const double t, const double *x, const std::size_t n, double *s) const override
      {
        field->evaluate_at_time(t, x, n, nullptr, s, source);
      }
      std::string description() const override
      {
        return (source == ScoreSource::finite_element ? "finite-element score of '"
                                                      : "grad log p_h of '") +
               name + "'";
      }
      const ReferenceField &reference() const { return *field; }

    private:
      std::unique_ptr<ReferenceField> field;
      ScoreSource                     source;
      std::string                     name;
    };

    class ReferenceFileSource : public ScoreSourceInterface
    {
    public:
      explicit ReferenceFileSource(const ReferenceFileParameters &parameters)
          : parameters(parameters)
      {
      }

      void check() const override
      {
        if (parameters.file.empty())
          throw InputError("Sampler/Score = reference file needs Sampler/Reference file; it is "
                           "empty.");
      }

      std::unique_ptr<ScoreModel> create(const ScoreSourceContext &c) const override
      {
        const std::string &file  = parameters.file;
        auto               model = std::make_unique<ReferenceScore>(file, parameters.source);
        if (model->dimension() != c.dimension)
          throw InputError("Reference file '" + file + "' is " +
                           std::to_string(model->dimension()) +
                           "-dimensional, but Dimension = " + std::to_string(c.dimension) + ".");
        const std::vector<double> times = model->reference().times();
        const double              eps   = c.early_stopping;
        const double              T     = c.process.final_time;
        if (times.front() > eps + 1e-12 || times.back() < T - 1e-12)
          throw InputError("Reference file '" + file + "' has snapshots in [" +
                           std::to_string(times.front()) + ", " + std::to_string(times.back()) +
                           "]; the sampler needs the score on [" + std::to_string(eps) + ", " +
                           std::to_string(T) + "].");
        return model;
      }

    private:
      ReferenceFileParameters parameters;
    };
  } // namespace

  SCOREFP_REGISTER(ScoreSourceRegistry,
                   "reference file",
                   "a reference file (Sampler/Reference file and Reference score), interpolated "
                   "linearly in time between its snapshots.",
                   ReferenceFileParameters,
                   [](const ReferenceFileParameters &p) {
                     return std::make_unique<ReferenceFileSource>(p);
                   })
} // namespace scorefp
