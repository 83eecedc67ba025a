// Section Reverse law (reverse/reverse_law.h).
#include <scorefp/core/parameter_binder.h>
#include <scorefp/reverse/reverse_law.h>

#include <deal.II/base/patterns.h>

namespace scorefp
{
  std::string reverse_law_name(const ReverseLaw law)
  {
    return law == ReverseLaw::ode ? "ODE" : "SDE";
  }

  void ReverseLawParameters::bind(ParameterBinder &b)
  {
    namespace Patterns = dealii::Patterns;
    b.add_selection("Laws",
                    laws,
                    {{"both", Laws::both}, {"ODE", Laws::ode}, {"SDE", Laws::sde}},
                    "The induced laws to solve: the probability-flow ODE's (pure transport "
                    "with drift a x + g^2/2 s), the reverse SDE's (drift a x + g^2 s, "
                    "diffusion g^2/2), or both on one mesh, the SDE law then compared with the "
                    "ODE law at every output time (the ODE-SDE gap).");
    b.add("Start file",
          start_file,
          "A reference file whose density at Process/Final time is the start of both laws "
          "(empty: Sampler/Start, the prior N(0, v(T) I) or the exact p_T).");
    b.add("Penalty factor",
          penalty_factor,
          "The SDE law's diffusion by the symmetric interior penalty method: the penalty is "
          "this factor times (p + 1)^2 / h. Must exceed about 1 for stability; larger values "
          "only make the jumps smaller.",
          Patterns::Double(1, 1e6));
    b.add("Points file",
          points_file,
          "Points (.npy, or CSV/text with d numbers per line) where log q of each law is "
          "reported at every output time (points.csv), e.g. to compare with Task = likelihood.");
    b.add("Compare file",
          compare_file,
          "A reference file (a forward run's, or another run's law.h5) whose density at "
          "every output time every law is compared with (to_file in summary.json): L1, L2, "
          "Hellinger, KL, W1/W2 (1D), sliced W2 and MMD^2. Its snapshots must cover "
          "[eps, T].");
    b.add("Error split",
          error_split,
          "Also split each law's error at eps into its sources, on the finest mesh: the "
          "finite-element floor (exact score from the exact p_T), initialisation (exact score "
          "from the prior), score (the given score from the exact p_T), both (the given score "
          "from the prior), and truncation (p_0 against p_eps): three more solves of each law.");
    b.add("Sliced directions",
          sliced_directions,
          "Directions of the sliced W2 between the laws at eps (2D: equally spaced angles, "
          "3D: a Fibonacci lattice on the half sphere); 0: no sliced W2.",
          Patterns::Integer(0, 100000));
    b.add("MMD bandwidth",
          mmd_bandwidth,
          "l of the Gaussian kernel exp(-|x - y|^2 / (2 l^2)) of MMD^2 between the laws at "
          "eps, summed over the Gauss points of every pair of cells (quadratic in their "
          "number); 0: no MMD^2.",
          Patterns::Double(0));
    b.add("Gap bound",
          gap_bound,
          "With both laws and a score that has derivatives (grid, TorchScript): the ODE-SDE "
          "gap at every output time next to the integrals from that time to T of the "
          "Fokker-Planck residual (score form; log form for potential models) and the bound "
          "on W2(ODE law, SDE law) they control (Deveney et al.), from one derivative "
          "evaluation of the score at every step of the SDE law.");
    b.add("Check sampler",
          check_sampler,
          "Also run the particle sampler of section Sampler (its Scheme, Steps, Particles and "
          "Seed, with the same score, start and eps) and check its particles with the "
          "statistics of section Checker twice: against the induced law of the same score "
          "(the ODE law for probability-flow schemes, the SDE law otherwise), which tells "
          "the scheme's discretisation error apart from the score's, and against p_eps. "
          "Needs Output/Reference file (the law's reference file is the checker's reference).");
  }

  std::vector<ReverseLaw> ReverseLawParameters::selected() const
  {
    switch (laws)
      {
      case Laws::ode:
        return {ReverseLaw::ode};
      case Laws::sde:
        return {ReverseLaw::sde};
      default:
        return {ReverseLaw::ode, ReverseLaw::sde};
      }
  }
} // namespace scorefp
