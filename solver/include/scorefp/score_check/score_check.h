// Checking a score model (Task = check score): its error against a reference score,
// and whether it is a score at all, on the quadrature points of the case mesh.
//
//   errors     relative L2 of s_hat - s over the mesh, over the bulk {p >= p*} that holds
//              Bulk mass of the mass on the mesh, and over the tail {p < Tail threshold
//              max p}; the Fisher divergence int p |s_hat - s|^2 (MATH.md section 7)
//   residuals  score form (Lai et al.)  r = d_t s_hat - grad[g^2/2 (div s_hat + |s_hat|^2)
//                                                            + a x . s_hat]
//              log form (Deveney et al., potential models s_hat = grad u)
//                         R = d_t u - [g^2/2 (Lap u + |grad u|^2) + a x . grad u + a d]
//              as sqrt(int p |r|^2) and sqrt(int p R^2) (MATH.md section 3)
//   curl       int p |curl s_hat|^2: 2D d_1 s_2 - d_2 s_1, 3D the vector curl; zero for
//              every true score (Lai et al.'s conservativity)
//
// The derivatives are the model's own exact ones (ScoreModel::evaluate_derivatives:
// autograd for TorchScript, the interpolant's for grid scores).
#pragma once

#include <scorefp/data/data_distribution.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/score_check/score_check_parameters.h>
#include <scorefp/score_source/score_source.h>

#include <deal.II/distributed/tria_base.h>
#include <deal.II/fe/mapping.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace scorefp
{
  /// A score model at n points and what its derivatives give (empty where the model has
  /// no derivatives, or is no potential): the score s (n*d), its Jacobian (n*d*d,
  /// d s_i / d x_j row i first), the score-form residual r (n*d), the curl (n *
  /// curl_components: 1 in 2D, 3 in 3D, 0 in 1D), and for potential models u and the
  /// log-form residual R (n each), MATH.md section 3.
  struct PointwiseScore
  {
    std::vector<double> s, jacobian, residual, curl, u, log_residual;
    unsigned int        curl_components = 0;
  };
  PointwiseScore pointwise_score(const ScoreModel     &model,
                                 const ForwardProcess &process,
                                 const double          t,
                                 const double         *x,
                                 const std::size_t     n);

  /// The law a score is checked against: its density and score at n points.
  class ScoreReference
  {
  public:
    virtual ~ScoreReference() = default;
    /// p (n values) and s (n*d values) at time t; either may be null.
    virtual void
    evaluate(const double t, const double *x, const std::size_t n, double *p, double *s) const = 0;
    virtual std::string description() const = 0;
  };

  /// The closed-form law of the data set under the process.
  std::unique_ptr<ScoreReference> closed_form_reference(const ForwardProcess   &process,
                                                        const DataDistribution &data);

  /// A reference file's density and score (its finite-element score for score runs,
  /// grad p_h / p_h for density runs). InputError naming the file if it does not fit.
  std::unique_ptr<ScoreReference> file_reference(const std::string &file,
                                                 const unsigned int dimension,
                                                 const ProcessParameters &process);

  /// What the check finds at one time (NaN where a quantity does not apply).
  struct ScoreCheckResult
  {
    double time = 0;
    double mass = 0;           ///< int p over the mesh
    double bulk_threshold = 0; ///< p* of the bulk
    double l2_domain = 0, l2_bulk = 0, l2_tail = 0; ///< relative L2 errors
    double fisher_divergence = 0;
    double score_residual    = 0; ///< sqrt(int p |r|^2)
    double log_residual      = 0; ///< sqrt(int p R^2), potential models
    double curl              = 0; ///< int p |curl s_hat|^2
  };

  /// Cell fields for the VTU output, one value per active cell (locally owned ones
  /// set): name and values.
  using CellFields = std::vector<std::pair<std::string, std::vector<float>>>;

  /// The check at time t on the locally owned cells of the triangulation, reduced over
  /// its communicator. fields, if not null, receives the cell averages of the model's
  /// score, the reference score, the error, p, |r|, R and the curl.
  template <int dim>
  ScoreCheckResult check_score(const dealii::parallel::TriangulationBase<dim> &triangulation,
                               const dealii::Mapping<dim>                     &mapping,
                               const ScoreModel                               &model,
                               const ScoreReference                           &reference,
                               const ForwardProcess                           &process,
                               const double                                    t,
                               const ScoreCheckParameters                     &parameters,
                               CellFields                                     *fields);

  /// One row per point of the model's score and, where available, its score-form
  /// residual, curl, potential and log-form residual, with the reference's density
  /// and score: the column names and the n rows of values.
  struct PointValues
  {
    std::vector<std::string> columns;
    std::vector<double>      values; ///< n rows of columns.size() values
  };
  PointValues score_at_points(const ScoreModel     &model,
                              const ScoreReference &reference,
                              const ForwardProcess &process,
                              const double          t,
                              const double         *x,
                              const std::size_t     n);
} // namespace scorefp
