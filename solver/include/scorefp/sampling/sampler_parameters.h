// The reverse-time sampler of Task = sample (section Sampler) and the tables of
// Task = scheme table (section Scheme table), MATH.md sections 3-4.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace scorefp
{
  class ParameterBinder;
  class ScoreSourceInterface;

  /// The time grid T = t_0 > ... > t_N = epsilon of a fixed-step sampler.
  enum class TimeGrid
  {
    uniform, // uniform in t
    edm,     // Karras et al.'s grid in sigma = sqrt(v)/m with exponent rho
    log_snr  // uniform in lambda = log(m / sqrt(v)) (DPM-Solver)
  };

  /// Where the sampler starts at T.
  enum class Start
  {
    prior, // N(0, v(T) I)
    exact  // the forward law p_T
  };

  std::string time_grid_name(const TimeGrid grid);
  std::string start_name(const Start start);

  struct SamplerParameters
  {
    std::string        scheme         = "euler-maruyama"; // a member of SchemeRegistry
    unsigned int       n_steps        = 100;
    TimeGrid           time_grid      = TimeGrid::uniform;
    double             rho            = 7.0;
    double             early_stopping = 1e-3; // the samples represent p at this time
    Start              start          = Start::prior;
    unsigned long long n_particles    = 10000;
    /// Empirical data: outputs within this distance of a training point count as
    /// memorised (Chen et al.).
    double memorisation_radius = 0.05;
    unsigned long long seed           = 1;
    /// simd::choices(): the instruction set of the particle kernels.
    std::string vector_instructions = "auto";
    std::string        score          = "exact"; // a member of ScoreSourceRegistry
    /// The selected score source with its own entries, made while parsing (it reads
    /// nothing from disk until it creates its score model).
    std::shared_ptr<const ScoreSourceInterface> score_source;
    unsigned int                                corrector_steps         = 0;
    double                                      snr                     = 0.16;
    double                                      rk45_relative_tolerance = 1e-5;
    double                                      rk45_absolute_tolerance = 1e-7;
    std::string                                 samples_file            = "samples.npy";
    bool                                        write_csv               = false;

    void bind(ParameterBinder &binder);
  };

  struct SchemeTableParameters
  {
    std::vector<std::string>  schemes{"euler-maruyama",
                                     "exponential-integrator",
                                     "ddpm",
                                     "ode-euler",
                                     "ode-heun",
                                     "ode-rk4",
                                     "edm-heun",
                                     "predictor-corrector"}; // members of SchemeRegistry
    std::vector<unsigned int> step_counts{10, 20, 50, 100};
    std::vector<double>       early_stopping{1e-3};
    std::vector<Start>        starts{Start::prior};
    unsigned long long        n_particles       = 100000;
    unsigned int              sliced_directions = 64;

    void bind(ParameterBinder &binder);
  };
} // namespace scorefp
