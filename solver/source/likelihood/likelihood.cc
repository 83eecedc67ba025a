// The PF-ODE log-likelihood by characteristics (likelihood/likelihood.h).
#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/likelihood/likelihood.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/score_source/score_source.h>
#include <scorefp/time_integration/dormand_prince.h>

#include <deal.II/base/patterns.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace scorefp
{
  void LikelihoodParameters::bind(ParameterBinder &b)
  {
    namespace Patterns = dealii::Patterns;
    b.add("Time",
          time,
          "eps: the time at which log q of the probability-flow ODE's law is computed (the "
          "sampler's early stopping), in [Process/Start time, Process/Final time).",
          Patterns::Double(0));
    b.add_selection("Start",
                    start,
                    {{"prior", Start::prior}, {"exact", Start::exact}},
                    "The law at T the ODE's law is pushed from: the prior N(0, v(T) I), as "
                    "samplers start, or the exact p_T (no initialisation error).");
    b.add_selection(
        "Points",
        points,
        {{"quadrature cloud", Points::quadrature_cloud}, {"points file", Points::points_file}},
        "Where log q is computed: the Gauss points of the case mesh (section Mesh; "
        "then KL(p_eps || q) is a quadrature against the exact p_eps), or the points "
        "of Likelihood/Points file (samples of p_eps give a Monte Carlo KL).");
    b.add("Points file",
          points_file,
          "Points = points file: N x d points (.npy, or CSV/text with d numbers per line).");
    b.add("Quadrature points",
          quadrature_points,
          "Points = quadrature cloud: Gauss points per direction in every cell.",
          Patterns::Integer(1, 10));
    b.add("Relative tolerance",
          relative_tolerance,
          "Dormand-Prince 5(4): relative tolerance on x and on the log-density.",
          Patterns::Double(1e-14, 1));
    b.add("Absolute tolerance",
          absolute_tolerance,
          "Dormand-Prince 5(4): absolute tolerance on x and on the log-density.",
          Patterns::Double(1e-16, 1));
    b.add("Batch size",
          batch_size,
          "Points integrated together with one step size (one score evaluation per stage "
          "for the whole batch); batches are cut at fixed indices, so results do not depend "
          "on the number of ranks.",
          Patterns::Integer(1, 1 << 20));
    b.add("Max steps",
          max_steps,
          "Accepted plus rejected steps allowed per batch.",
          Patterns::Integer(1));
    b.add("Write points",
          write_points,
          "Write likelihood.csv: every point with log q (and log p_eps where known).");
  }

  void require_divergence(const ScoreModel &score, const std::string &entry)
  {
    if (!score.has_divergence())
      throw InputError(entry + " " + score.description() +
                       " has no divergence, which the PF-ODE likelihood needs; use the closed "
                       "form of a Gaussian mixture, a TorchScript model or a grid score (Task = "
                       "tabulate score makes one from any source).");
  }

  namespace
  {
    /// One batch: x (m*d) on entry, log q on exit.
    void integrate_batch(const ScoreModel           &score,
                         const ForwardProcess       &process,
                         const DensityField         *start,
                         const LikelihoodParameters &p,
                         const double               *x0,
                         const std::size_t           m,
                         double                     *log_q,
                         unsigned int               &steps,
                         FlowLikelihood             &counters)
    {
      using DP              = DormandPrince;
      const unsigned int  d = score.dimension();
      const unsigned int  w = d + 1; // x and the integral of div b
      const double        T = process.final_time, eps = p.time;
      std::vector<double> y(m * w), stage(m * w), next(m * w), k(DP::stages * m * w);
      std::vector<double> s(m * d), divergence(m), xs(m * d);
      for (std::size_t i = 0; i < m; ++i)
        {
          std::copy(x0 + i * d, x0 + (i + 1) * d, &y[i * w]);
          y[i * w + d] = 0.0;
        }
      // f(t, y) = (b, div b), b = -a x - 1/2 g^2 s, div b = -a d - 1/2 g^2 div s.
      const auto f = [&](const double t, const double *state, double *out) {
        for (std::size_t i = 0; i < m; ++i)
          std::copy(state + i * w, state + i * w + d, &xs[i * d]);
        score.evaluate_divergence(t, xs.data(), m, s.data(), divergence.data());
        counters.evaluations += m;
        const double a = process.drift_rate(t), g2 = process.diffusion_squared(t);
        for (std::size_t i = 0; i < m; ++i)
          {
            for (unsigned int j = 0; j < d; ++j)
              out[i * w + j] = -a * xs[i * d + j] - 0.5 * g2 * s[i * d + j];
            out[i * w + d] = -a * d - 0.5 * g2 * divergence[i];
          }
      };
      double t = eps;
      // The first step: a small fraction of the interval; the controller grows it by up
      // to 5 per step, so the choice costs a few steps at most.
      double       h        = 1e-4 * (T - eps);
      unsigned int attempts = 0;
      steps                 = 0;
      f(t, y.data(), &k[0]);
      while (t < T)
        {
          if (++attempts > p.max_steps)
            {
              std::ostringstream message;
              message << "Likelihood: a batch of " << m << " points needed more than "
                      << p.max_steps << " steps (Likelihood/Max steps) to reach T from t = " << eps
                      << " (now at t = " << t << ", step " << h
                      << "); loosen the tolerances or check that the score is smooth.";
              throw SolverFailure(message.str());
            }
          if (t + h > T)
            h = T - t;
          for (unsigned int st = 1; st < DP::stages; ++st)
            {
              for (std::size_t q = 0; q < m * w; ++q)
                {
                  double sum = 0.0;
                  for (unsigned int r = 0; r < st; ++r)
                    sum += DP::A[st][r] * k[r * m * w + q];
                  stage[q] = y[q] + h * sum;
                }
              f(t + DP::c[st] * h, stage.data(), &k[st * m * w]);
            }
          next         = stage; // the last stage is the fifth-order solution
          double error = 0.0;
          for (std::size_t i = 0; i < m; ++i)
            {
              double sum = 0.0;
              for (unsigned int j = 0; j < w; ++j)
                {
                  const std::size_t q   = i * w + j;
                  double            err = 0.0;
                  for (unsigned int r = 0; r < DP::stages; ++r)
                    err += DP::e[r] * k[r * m * w + q];
                  const double scale =
                      p.absolute_tolerance +
                      p.relative_tolerance * std::max(std::abs(y[q]), std::abs(next[q]));
                  sum += (h * err / scale) * (h * err / scale);
                }
              error = std::max(error, std::sqrt(sum / w));
            }
          if (!std::isfinite(error))
            {
              std::ostringstream message;
              message << "Likelihood: the score " << score.description()
                      << " gave non-finite values or divergence at t = " << t
                      << " on the way from eps to T.";
              throw SolverFailure(message.str());
            }
          if (error <= 1.0)
            {
              t = (t + h > T - 1e-14 * T) ? T : t + h;
              y.swap(next);
              std::copy(k.begin() + (DP::stages - 1) * m * w, k.end(), k.begin()); // FSAL
              ++steps;
            }
          else
            ++counters.rejected;
          h = DP::next_step(h, error);
        }
      // log q_eps(x_eps) = log pi(x_T) + int_eps^T div b dt.
      const double prior_variance = process.transition_variance(T);
      for (std::size_t i = 0; i < m; ++i)
        {
          const double *xT = &y[i * w];
          double        log_start;
          if (start)
            log_start = start->log_value(xT);
          else
            {
              double r2 = 0.0;
              for (unsigned int j = 0; j < d; ++j)
                r2 += xT[j] * xT[j];
              log_start =
                  -0.5 * r2 / prior_variance - 0.5 * d * std::log(2 * M_PI * prior_variance);
            }
          log_q[i] = log_start + y[i * w + d];
        }
    }
  } // namespace

  FlowLikelihood flow_log_likelihood(const ScoreModel                       &score,
                                     const ForwardProcess                   &process,
                                     const DensityField                     *start,
                                     const LikelihoodParameters             &parameters,
                                     const double                           *x,
                                     const std::size_t                       n,
                                     const unsigned long long                first_index,
                                     const std::function<void(std::size_t)> &progress)
  {
    require_divergence(score, "The score");
    FlowLikelihood result;
    result.log_q.resize(n);
    result.steps.resize(n);
    const unsigned long long batch = parameters.batch_size;
    const unsigned int       d     = score.dimension();
    std::size_t              i     = 0;
    while (i < n)
      {
        // Batches end at multiples of batch_size of the global index.
        const unsigned long long global = first_index + i;
        const std::size_t        m =
            std::min<std::size_t>(n - i, static_cast<std::size_t>(batch - global % batch));
        unsigned int steps = 0;
        integrate_batch(
            score, process, start, parameters, x + i * d, m, &result.log_q[i], steps, result);
        std::fill(result.steps.begin() + i, result.steps.begin() + i + m, steps);
        i += m;
        if (progress)
          progress(i);
      }
    return result;
  }
} // namespace scorefp
