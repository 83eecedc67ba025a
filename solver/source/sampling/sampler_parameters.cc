#include <scorefp/core/parameter_binder.h>
#include <scorefp/simd/kernels.h>
#include <scorefp/sampling/sampler_parameters.h>
#include <scorefp/sampling/scheme.h>
#include <scorefp/score_source/score_source.h>

#include <deal.II/base/patterns.h>

namespace scorefp
{
  namespace Patterns = dealii::Patterns;

  namespace
  {
    const std::vector<std::pair<std::string, TimeGrid>> time_grids = {
        {"uniform", TimeGrid::uniform}, {"edm", TimeGrid::edm}, {"log-snr", TimeGrid::log_snr}};
    const std::vector<std::pair<std::string, Start>> start_table = {{"prior", Start::prior},
                                                               {"exact", Start::exact}};

    template <typename T>
    std::string name_of(const std::vector<std::pair<std::string, T>> &table, const T value)
    {
      for (const auto &[name, v] : table)
        if (v == value)
          return name;
      return "?";
    }
  } // namespace

  std::string time_grid_name(const TimeGrid grid)
  {
    return name_of(time_grids, grid);
  }

  std::string start_name(const Start start)
  {
    return name_of(start_table, start);
  }

  void SamplerParameters::bind(ParameterBinder &b)
  {
    const SchemeRegistry &schemes = SchemeRegistry::instance();
    b.add_choice("Scheme",
                 scheme,
                 schemes.names(),
                 "The reverse-time scheme (MATH.md section 4). " + schemes.documentation());
    b.add("Steps",
          n_steps,
          "Number of steps from the final time T down to the early-stopping time (the "
          "initial step of ode-rk45).",
          Patterns::Integer(1));
    b.add_selection("Time grid",
                    time_grid,
                    time_grids,
                    "uniform in t, or the EDM grid sigma_i = (sigma_max^(1/rho) + i/N "
                    "(sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, i = 0..N, in the noise level "
                    "sigma(t) = sqrt(v(t))/m(t), mapped back to t; log-snr is uniform in "
                    "lambda(t) = log(m(t)/sqrt(v(t))) (the grid of DDIM and DPM-Solver++), mapped "
                    "back to t the same way.");
    b.add("EDM rho", rho, "rho of the EDM grid.", Patterns::Double(1));
    b.add("Early stopping",
          early_stopping,
          "The sampler stops at this time epsilon >= Process/Start time; the samples "
          "represent p_epsilon.",
          Patterns::Double(0));
    b.add_selection("Start",
                    start,
                    start_table,
                    "prior: N(0, v(T) I); exact: the forward law p_T itself (no initialisation "
                    "error).");
    b.add("Particles", n_particles, "Number of particles.", Patterns::Integer(1));
    b.add("Seed",
          seed,
          "Random seed; particle i draws its noise from a stream fixed by (seed, i), so the "
          "samples do not depend on the number of ranks.");
    b.add("Vector instructions",
          vector_instructions,
          "The instruction set of the particle kernels (normal draws, Gaussian-mixture "
          "scores): auto = the widest this processor has; none = the scalar reference code. "
          "Samples are bit-identical for any number of ranks on one set and agree to "
          "round-off between sets.",
          Patterns::Selection(simd::choices()));
    if (!b.declaring())
      b.require(simd::available(vector_instructions),
                b.path("Vector instructions") + " = " + vector_instructions +
                    ", but this processor does not support it; expected auto or one of the "
                    "sets it has (best: " +
                    simd::name(simd::best_available()) + ").");
    const ScoreSourceRegistry &sources = ScoreSourceRegistry::instance();
    b.add_choice("Score",
                 score,
                 sources.names(),
                 "The score the sampler uses: " + sources.documentation());
    sources.bind_all(b);
    if (b.parsing())
      score_source = sources.create(score, b, nullptr);
    b.add("Corrector steps",
          corrector_steps,
          "Langevin corrector steps x += delta s + sqrt(2 delta) z after every step (any "
          "scheme but ode-rk45), delta = 2 r^2 d / sum_i 1/(m^2 lambda_i + v) with r the "
          "signal-to-noise ratio and lambda_i the eigenvalues of Cov X_0: Song et al.'s rule "
          "2 r^2 |z|^2/|s|^2 with their batch norms replaced by the values of the "
          "moment-matched Gaussian of p_t, so the step does not depend on the particles.",
          Patterns::Integer(0, 8));
    b.add("Signal-to-noise ratio", snr, "r of the Langevin corrector.", Patterns::Double(0));
    b.add("RK45 relative tolerance", rk45_relative_tolerance, "ode-rk45.", Patterns::Double(0));
    b.add("RK45 absolute tolerance", rk45_absolute_tolerance, "ode-rk45.", Patterns::Double(0));
    b.add("Samples file",
          samples_file,
          "Where the N x d particles go (float64 .npy, in the output directory); a JSON file "
          "of the same name plus .json records the time they represent and how they were "
          "made.");
    b.add("Write CSV", write_csv, "Also write the samples as CSV (.csv).");
    b.add("Memorisation radius",
          memorisation_radius,
          "Empirical data (Chen et al.): the samples' distances to the nearest training point "
          "are reported, and the fraction within this radius delta (data units) as memorised.",
          Patterns::Double(0));
  }

  void SchemeTableParameters::bind(ParameterBinder &b)
  {
    b.add_choice_list("Schemes",
                      schemes,
                      SchemeRegistry::instance().names(),
                      "The rows of the table (the Sampler settings apply otherwise).");
    b.add("Step counts", step_counts, "The columns of the table.", Patterns::List(Patterns::Integer(1)));
    b.add("Early stopping values", early_stopping, "One table per value of epsilon.");
    std::vector<std::string> start_names;
    for (const Start s : this->starts)
      start_names.push_back(start_name(s));
    b.add_choice_list("Starts", start_names, {"prior", "exact"}, "One table per start.");
    if (b.parsing())
      {
        this->starts.clear();
        for (const std::string &name : start_names)
          for (const auto &[n, s] : start_table)
            if (n == name)
              this->starts.push_back(s);
      }
    b.add("Particles",
          n_particles,
          "Particles per entry when the data are not Gaussian (the error is then the sliced "
          "W2 to the exact p_epsilon, with its noise floor).",
          Patterns::Integer(1));
    b.add("Sliced directions",
          sliced_directions,
          "Directions of the sliced W2 for non-Gaussian data.",
          Patterns::Integer(1));
  }
} // namespace scorefp
