// Sampler/Score = exact: the closed-form score of the data's forward law (MATH.md
// section 5).
#include <scorefp/core/input_error.h>
#include <scorefp/score_source/score_source.h>

#include <vector>

namespace scorefp
{
  namespace
  {
    class ExactScore : public ScoreModel
    {
    public:
      ExactScore(const ForwardProcess &process, const DataDistribution &data)
          : process(process)
          , data(data)
      {
      }
      unsigned int dimension() const override { return data.dimension(); }
      void evaluate(const double t, const double *x, const std::size_t n, double *s) const override
      {
        const auto field =
            data.transported(process.transition_mean_factor(t), process.transition_variance(t));
        field->score_batch(x, n, dimension(), s);
      }
      std::string description() const override { return "exact"; }
      bool        has_divergence() const override { return data.has_score_divergence(); }
      void        evaluate_divergence(const double      t,
                                      const double     *x,
                                      const std::size_t n,
                                      double           *s,
                                      double           *divergence) const override
      {
        const auto field =
            data.transported(process.transition_mean_factor(t), process.transition_variance(t));
        const unsigned int  d = dimension();
        std::vector<double> values(s ? 0 : d);
        for (std::size_t i = 0; i < n; ++i)
          if (!field->score_divergence(x + i * d, s ? s + i * d : values.data(), divergence[i]))
            ScoreModel::evaluate_divergence(t, x, n, s, divergence); // no closed form: throws
      }

    private:
      const ForwardProcess   &process;
      const DataDistribution &data;
    };

    class ExactSource : public ScoreSourceInterface
    {
    public:
      bool                        closed_form() const override { return true; }
      std::unique_ptr<ScoreModel> create(const ScoreSourceContext &c) const override
      {
        const double T = c.process.final_time;
        if (!c.data.has_closed_form(c.process.transition_mean_factor(T),
                                    c.process.transition_variance(T)))
          throw InputError(c.data.no_closed_form(
              T,
              c.process.transition_variance(T),
              "Score = exact needs one; use Score = reference file with a reference of "
              "Task = solve"));
        return exact_score(c.process, c.data);
      }
    };
  } // namespace

  std::unique_ptr<ScoreModel> exact_score(const ForwardProcess   &process,
                                          const DataDistribution &data)
  {
    return std::make_unique<ExactScore>(process, data);
  }

  SCOREFP_REGISTER(ScoreSourceRegistry,
                   "exact",
                   "the closed form;",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<ExactSource>(); })
} // namespace scorefp
