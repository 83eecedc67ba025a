// The law of the probability-flow ODE, pointwise: log q_eps(x) by the instantaneous
// change of variables along characteristics (MATH.md section 3; the quantity score_sde's
// likelihood.py and k-diffusion's log_likelihood estimate). With b = -a x - 1/2 g^2 s,
// x(t) solves dx/dt = b from x(eps) = x up to T, and
//   log q_eps(x) = log pi(x(T)) + int_eps^T div b(x(t), t) dt,  div b = -a d - 1/2 g^2 div s,
// with pi the prior N(0, v(T) I) or the exact p_T. The divergence comes from the score
// source (closed form, autograd, the grid's interpolant).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace scorefp
{
  class ParameterBinder;
  class ForwardProcess;
  class DensityField;
  class ScoreModel;

  /// Section Likelihood (Task = likelihood).
  struct LikelihoodParameters
  {
    enum class Points
    {
      quadrature_cloud, // the Gauss points of the case mesh, weighted by the exact p_eps
      points_file       // the user's points (samples of p_eps give a Monte Carlo KL)
    };
    enum class Start
    {
      prior, // N(0, v(T) I), as samplers start
      exact  // the exact p_T (closed form): no initialisation error
    };
    double       time   = 1e-3; // eps, where log q is wanted
    Start        start  = Start::prior;
    Points       points = Points::quadrature_cloud;
    std::string  points_file;
    unsigned int quadrature_points  = 3;
    double       relative_tolerance = 1e-6;
    double       absolute_tolerance = 1e-8;
    unsigned int batch_size         = 256;
    unsigned int max_steps          = 20000;
    bool         write_points       = true;

    void bind(ParameterBinder &binder);
  };

  /// InputError naming `entry` and the score unless the score has a divergence.
  void require_divergence(const ScoreModel &score, const std::string &entry);

  struct FlowLikelihood
  {
    std::vector<double>       log_q;           ///< n: log q_eps at each point
    std::vector<unsigned int> steps;           ///< n: accepted steps of the point's batch
    unsigned long long        evaluations = 0; ///< score-and-divergence evaluations (per point)
    unsigned long long        rejected    = 0; ///< rejected steps, summed over batches
  };

  /// log q_eps at the n points x (n*d values, point-major) for the PF-ODE driven by
  /// `score`, started at T from `start` (nullptr: the prior N(0, v(T) I)). Integrated
  /// by Dormand-Prince 5(4) with one step size per batch of `batch_size` consecutive
  /// points (points first_index + i count from the start of the whole set, so batches,
  /// and results, do not depend on how the set is split among ranks). The error norm is
  /// the largest over the batch's points of the RMS of e / (atol + rtol |y|) over x and
  /// the log-density. InputError for a score without divergence; SolverFailure when a
  /// batch needs more than max_steps steps or meets non-finite values. progress(done)
  /// is called after each batch with the number of points done.
  FlowLikelihood flow_log_likelihood(const ScoreModel                       &score,
                                     const ForwardProcess                   &process,
                                     const DensityField                     *start,
                                     const LikelihoodParameters             &parameters,
                                     const double                           *x,
                                     const std::size_t                       n,
                                     const unsigned long long                first_index = 0,
                                     const std::function<void(std::size_t)> &progress    = {});
} // namespace scorefp
