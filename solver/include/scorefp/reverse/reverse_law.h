// Reverse-time laws (MATH.md section 3): the law q a sampler really produces when it is
// driven by a given score field s (exact, perturbed, a reference file's, learned), in
// reversed time tau = T - t from T down to eps, by finite elements:
//   SDE-induced:  dq/dtau = -div((a x + g^2 s) q) + 1/2 g^2 Laplace q
//   ODE-induced:  dq/dtau = -div((a x + 1/2 g^2 s) q)          (pure transport)
// Both are discretised by discontinuous Q_p elements with upwind fluxes for the
// transport (deal.II's step-12) and the symmetric interior penalty method for the
// diffusion: a scheme made for transport, locally mass-conservative, stable where the
// Peclet number is large (small t, where g^2 s is steep), with the same operator for
// both laws. The time loop and everything else come from the finite-element skeleton
// (fe/finite_element_run.h), run backwards.
//
// This header is all the rest of scorefp sees of it.
#pragma once

#include <scorefp/fe/diagnostics.h>
#include <scorefp/fe/finite_element_case.h>
#include <scorefp/reverse/law_distances.h>

#include <mpi.h>

#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace scorefp
{
  class ParameterBinder;
  class ScoreModel;
  class DensityField;

  /// Which induced law (MATH.md section 3).
  enum class ReverseLaw
  {
    ode, // the probability-flow ODE's: drift a x + 1/2 g^2 s, no diffusion
    sde  // the reverse SDE's: drift a x + g^2 s, diffusion 1/2 g^2
  };
  /// "ODE", "SDE".
  std::string reverse_law_name(const ReverseLaw law);

  /// Section Reverse law (Task = reverse law). The score, the start (prior or exact)
  /// and eps come from section Sampler, so that one parameter file describes both the
  /// sampler and the law it produces in continuous time.
  struct ReverseLawParameters
  {
    enum class Laws
    {
      both,
      ode,
      sde
    };
    Laws laws = Laws::both;
    /// Start from this reference file's density at T instead of Sampler/Start.
    std::string start_file;
    /// The penalty of the symmetric interior penalty method is this factor times
    /// (p + 1)^2 / h (the SDE law's diffusion).
    double penalty_factor = 2.0;
    /// log q of each law at these points at eps (and at every output time).
    std::string points_file;
    /// Compare every law at every output time with this reference file's density.
    std::string compare_file;
    /// Also split the error at eps into its sources (initialisation, truncation, score)
    /// by three more solves of each law on the finest mesh.
    bool error_split = false;
    /// Also run the particle sampler of section Sampler and check its particles against
    /// the induced law of the same score and against p_eps (the scheme's discretisation
    /// error told apart from the score's).
    bool check_sampler = false;
    /// The sliced W2 and MMD^2 at eps (reverse/cloud_distances.h): directions (0: none)
    /// and the Gaussian kernel's bandwidth (0: none).
    unsigned int sliced_directions = 64;
    double       mmd_bandwidth     = 1.0;
    /// The ODE-SDE gap next to the Fokker-Planck residual integrals and the gap bound
    /// (ReverseLawSnapshot), when both laws are solved and the score has derivatives.
    bool gap_bound = true;

    void bind(ParameterBinder &binder);

    /// The laws to solve, in order (ODE first when both).
    std::vector<ReverseLaw> selected() const;
  };

  /// What one reverse-time solve reports at one output time.
  struct ReverseLawSnapshot
  {
    double              time    = 0.0;
    double              mass    = 0.0;    ///< int q_h over the mesh
    double              outflow = 0.0;    ///< mass that has left through the boundary so far
    double              minimum = 0.0;    ///< min q_h / max q_h over the Gauss points (undershoot)
    std::vector<double> mean, covariance; ///< of q_h (normalised by its mass)
    ErrorNorms          errors;           ///< relative errors against the exact p_t
    LawDistances        to_exact;         ///< p = exact p_t, q = q_h
    /// Against the closed-form induced law (Gaussian data started from the prior:
    /// Pierret & Galerne's laws); zero when there is none (ReverseLawRunResult::has_target).
    ErrorNorms   errors_to_target;
    LawDistances to_target;
    /// Against the first law solved (the ODE law, for the SDE law): the ODE-SDE gap,
    /// p = q_ODE, q = q_SDE.
    LawDistances to_first_law;
    /// At eps only: against the data p_0 (what the sampler aims at; the truncation error
    /// included).
    LawDistances to_data;
    /// Against the density of Reverse law/Compare file at this time (has_file).
    LawDistances to_file;
    /// log q_h at the points of Reverse law/Points file (NaN where q_h <= 0).
    std::vector<double> point_log_values;
    /// The ODE-SDE gap against the Fokker-Planck residual (SDE law after the ODE law, a
    /// score with derivatives; NaN otherwise), each an integral from this time t up to
    /// T, where t is the eps of a sampler stopped here:
    ///   residual_integral      int_t^T ||r(s)|| ds, r the score-form residual
    ///   log_residual_integral  int_t^T ||R(s)|| ds, R the log-form one (potential models)
    ///   gap_bound              int_t^T exp(int_t^s L) g^2/2 ||s_hat - grad log q_SDE|| ds
    /// with norms in L2 of the SDE law and L the one-sided Lipschitz constant of the ODE
    /// velocity a x + g^2/2 s_hat over the mesh: a bound on W2(ODE law, SDE law) at t.
    double residual_integral     = std::numeric_limits<double>::quiet_NaN();
    double log_residual_integral = std::numeric_limits<double>::quiet_NaN();
    double gap_bound             = std::numeric_limits<double>::quiet_NaN();
  };

  struct ReverseLawRunResult : RunRecord
  {
    ReverseLaw law        = ReverseLaw::ode;
    bool       has_target = false, has_first_law = false, has_file = false;
    /// The outputs carry the gap bound and the residual integrals.
    bool has_gap_bound = false;
    double     max_outflow_rate = 0.0; ///< largest outflow through the boundary per unit tau
    double     minimum          = 0.0; ///< min over output times of ReverseLawSnapshot::minimum
    std::vector<ReverseLawSnapshot> outputs; ///< from T down to eps
    /// The law's reference file (Output/Reference file in the law's directory), or
    /// empty when this solve wrote none.
    std::string reference_file;
    /// The law at eps, the last output time.
    const ReverseLawSnapshot &at_eps() const { return outputs.back(); }
  };

  /// A law the solution is compared with besides the exact p_t: the closed-form law the
  /// sampler produces (Gaussian data from the prior), a DensityField per time.
  struct InducedLawTarget
  {
    std::function<std::unique_ptr<DensityField>(const double t)> at;
  };

  /// Everything the reverse-time solves need besides the case.
  struct ReverseLawInputs
  {
    std::vector<ReverseLaw> laws{ReverseLaw::ode, ReverseLaw::sde};
    const ScoreModel       *score = nullptr;
    /// The law at T in original coordinates; null: the prior N(0, v(T) I).
    const DensityField *start = nullptr;
    std::string         start_description;
    double              end_time       = 1e-3; ///< eps
    double              penalty_factor = 2.0;
    /// Directions of the sliced W2 at eps (0: none) and the bandwidth of MMD^2 (0: none).
    unsigned int sliced_directions = 64;
    double       mmd_bandwidth     = 1.0;
    /// The gap bound and residual integrals of ReverseLawSnapshot, where they apply.
    bool gap_bound = true;
    /// Points (n*d, original coordinates) for ReverseLawSnapshot::point_log_values.
    std::vector<double> points;
    /// The closed-form induced law of each law in `laws`, if there is one (empty, or
    /// entries whose `at` is empty, otherwise).
    std::vector<InducedLawTarget> targets;
    /// A density every law is compared with at every output time (a reference file's,
    /// Reverse law/Compare file), or empty.
    InducedLawTarget compare_file;
  };

  /// Solve the induced laws one after the other on one mesh of the case, refined
  /// refinement_level times, each writing statistics.csv and its .pvd series under
  /// output_directory/<ode|sde>-law/ (none if write_files is false). Every law after
  /// the first is compared with the first at every output time. Collective. Throws
  /// InputError / SolverFailure.
  template <int dim, typename Backend>
  std::vector<ReverseLawRunResult> solve_reverse_laws(const FiniteElementCase &parameters,
                                                      const ReverseLawInputs  &inputs,
                                                      const unsigned int       refinement_level,
                                                      const std::string       &output_directory,
                                                      const bool               write_files,
                                                      const MPI_Comm           communicator);
} // namespace scorefp
