// Sampler/Score = perturbed: the closed form plus grad phi with the bump phi of
// Score/Perturbation amplitude and width, a controlled score error.
#include <scorefp/score_source/score_source.h>

#include <cmath>
#include <sstream>
#include <vector>

namespace scorefp
{
  namespace
  {
    class PerturbedScore : public ScoreModel
    {
    public:
      PerturbedScore(std::unique_ptr<ScoreModel> exact, const double amplitude, const double width)
          : exact(std::move(exact))
          , amplitude(amplitude)
          , width(width)
      {
      }
      unsigned int dimension() const override { return exact->dimension(); }
      void evaluate(const double t, const double *x, const std::size_t n, double *s) const override
      {
        exact->evaluate(t, x, n, s);
        const unsigned int d = dimension();
        for (std::size_t i = 0; i < n; ++i)
          {
            double r2 = 0.0;
            for (unsigned int j = 0; j < d; ++j)
              r2 += x[i * d + j] * x[i * d + j];
            // grad phi = -A x / w^2 exp(-|x|^2 / (2 w^2)).
            const double f = -amplitude / (width * width) * std::exp(-0.5 * r2 / (width * width));
            for (unsigned int j = 0; j < d; ++j)
              s[i * d + j] += f * x[i * d + j];
          }
      }
      bool has_divergence() const override { return exact->has_divergence(); }
      /// div grad phi = A exp(-|x|^2 / (2 w^2)) (|x|^2 / w^4 - d / w^2).
      void evaluate_divergence(const double      t,
                               const double     *x,
                               const std::size_t n,
                               double           *s,
                               double           *divergence) const override
      {
        const unsigned int  d = dimension();
        std::vector<double> values(s ? 0 : n * d);
        double             *score = s ? s : values.data();
        exact->evaluate_divergence(t, x, n, score, divergence);
        const double w2 = width * width;
        for (std::size_t i = 0; i < n; ++i)
          {
            double r2 = 0.0;
            for (unsigned int j = 0; j < d; ++j)
              r2 += x[i * d + j] * x[i * d + j];
            const double bump = amplitude * std::exp(-0.5 * r2 / w2);
            for (unsigned int j = 0; j < d; ++j)
              score[i * d + j] -= bump / w2 * x[i * d + j];
            divergence[i] += bump * (r2 / (w2 * w2) - d / w2);
          }
      }
      std::string description() const override
      {
        std::ostringstream s;
        s << "exact + grad(" << amplitude << " exp(-|x|^2/(2*" << width << "^2)))";
        return s.str();
      }

    private:
      std::unique_ptr<ScoreModel> exact;
      double                      amplitude, width;
    };

    class PerturbedSource : public ScoreSourceInterface
    {
    public:
      std::unique_ptr<ScoreModel> create(const ScoreSourceContext &c) const override
      {
        return perturbed_score(exact_score(c.process, c.data),
                               c.score.perturbation_amplitude,
                               c.score.perturbation_width);
      }
    };
  } // namespace

  std::unique_ptr<ScoreModel>
  perturbed_score(std::unique_ptr<ScoreModel> exact, const double amplitude, const double width)
  {
    return std::make_unique<PerturbedScore>(std::move(exact), amplitude, width);
  }

  SCOREFP_REGISTER(ScoreSourceRegistry,
                   "perturbed",
                   "the closed form plus grad phi with the bump phi of Score/Perturbation "
                   "amplitude and width (a controlled score error);",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<PerturbedSource>(); })
} // namespace scorefp
