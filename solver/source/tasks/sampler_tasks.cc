// Task = sample and Task = scheme table: the samplers of sampling.h as users run them,
// with particles split across ranks, progress lines, files and a timer summary.
#include <scorefp/core/input_error.h>
#include <scorefp/io/io.h>
#include <scorefp/io/json.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/reference/reference_field.h>
#include <scorefp/io/sample_files.h>
#include <scorefp/sampling/sampling.h>
#include <scorefp/simd/kernels.h>
#include <scorefp/checker/statistics.h>

#include "data/empirical_law.h"
#include "tasks/task_output.h"
#include <scorefp/time_integration/time_loop.h>

#include <deal.II/base/conditional_ostream.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/timer.h>
#include <deal.II/lac/lapack_full_matrix.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

namespace scorefp
{
  namespace
  {
    /// Chen et al.'s memorisation measure of samples of empirical data: the distance of
    /// each sample to its nearest training point (k-d tree), reduced over the ranks.
    struct Memorisation
    {
      double fraction = 0.0, median = 0.0, mean = 0.0;
    };

    Memorisation memorised(const EmpiricalPoints     &training,
                           const std::vector<double> &x,
                           const double               radius,
                           const MPI_Comm             communicator)
    {
      const unsigned int  d = training.dimension();
      std::vector<double> distances(x.size() / d);
      for (std::size_t i = 0; i < distances.size(); ++i)
        {
          double squared = 0.0;
          training.nearest(&x[i * d], squared);
          distances[i] = std::sqrt(squared);
        }
      std::vector<double> all;
      for (const auto &part : dealii::Utilities::MPI::all_gather(communicator, distances))
        all.insert(all.end(), part.begin(), part.end());
      Memorisation m;
      if (all.empty())
        return m;
      for (const double r : all)
        {
          m.fraction += r <= radius ? 1.0 : 0.0;
          m.mean += r;
        }
      m.fraction /= all.size();
      m.mean /= all.size();
      std::nth_element(all.begin(), all.begin() + all.size() / 2, all.end());
      m.median = all[all.size() / 2];
      return m;
    }

    /// The eigenvalues of Cov X_0, without forming Cov for the high-dimensional
    /// diagonal Gaussian.
    std::vector<double> covariance_spectrum(const DataDistribution &data)
    {
      std::vector<double> mean, variances;
      if (data.diagonal_gaussian(mean, variances))
        return variances;
      const unsigned int               d = data.dimension();
      const std::vector<double>        c = data.covariance();
      dealii::LAPACKFullMatrix<double> matrix(d, d);
      for (unsigned int i = 0; i < d; ++i)
        for (unsigned int j = 0; j < d; ++j)
          matrix(i, j) = 0.5 * (c[i * d + j] + c[j * d + i]);
      matrix.compute_eigenvalues();
      std::vector<double> spectrum(d);
      for (unsigned int i = 0; i < d; ++i)
        spectrum[i] = std::max(0.0, matrix.eigenvalue(i).real());
      return spectrum;
    }

    std::string format(const double x, const int precision = 3)
    {
      std::ostringstream s;
      s << std::setprecision(precision) << x;
      return s.str();
    }
  } // namespace

  SamplerSettings sampler_settings(const Parameters       &p,
                                   const ForwardProcess   &process,
                                   const DataDistribution &data,
                                   const std::string      &scheme,
                                   const unsigned int      n_steps,
                                   const double            epsilon,
                                   const Start             start,
                                   const ScoreModel       *score)
  {
    simd::select(p.sampler.vector_instructions, "Sampler/Vector instructions");
    SamplerSettings s = settings_for_scheme(scheme);
    s.times       = make_time_grid(process, n_steps, p.sampler.time_grid, p.sampler.rho, epsilon);
    s.start_exact = start == Start::exact;
    s.corrector_steps = p.sampler.corrector_steps;
    s.snr             = p.sampler.snr;
    s.data_spectrum   = covariance_spectrum(data);
    s.rk45_relative   = p.sampler.rk45_relative_tolerance;
    s.rk45_absolute   = p.sampler.rk45_absolute_tolerance;
    s.seed            = p.sampler.seed;
    std::vector<double> mean, variances;
    if (score != nullptr && !data.diagonal_gaussian(mean, variances))
      s.fisher_information = [&process, &data, score](const double t) {
        // Monte Carlo over fixed draws (stream 2^40 + k of seed 0): the same on every
        // rank, 4096 score evaluations per corrector time.
        const unsigned int M = 4096, d = data.dimension();
        const double m = process.transition_mean_factor(t), v = process.transition_variance(t);
        std::vector<double> x(M * d), g(M * d);
        for (unsigned int k = 0; k < M; ++k)
          {
            CounterRng rng(0, (1ULL << 40) + k);
            data.sample_transported(rng, m, v, &x[k * d]);
          }
        score->evaluate(t, x.data(), M, g.data());
        double sum = 0.0;
        for (const double gi : g)
          sum += gi * gi;
        return sum / M;
      };
    s.scheme->check_grid(process, s.times);
    return s;
  }

  void run_sampler_task(const Parameters &p, const MPI_Comm communicator)
  {
    const SamplerParameters &sp        = p.sampler;
    const std::string        directory = p.output.directory;
    const std::string        file      = directory + "/" + sp.samples_file;
    const std::string        csv_file  = file.substr(0, file.find_last_of('.')) + ".csv";
    remove_stale_outputs({file, file + ".json", csv_file}, communicator);
    // The score model before the timer: a model file that does not fit fails before
    // the timer exists (whose destructor would otherwise add a paragraph to the error).
    const auto                  process  = create_process(p.process);
    const auto                  data     = create_data(p.data, p.dimension);
    const auto                  score    = sp.score_source->create(
        ScoreSourceContext{*process, *data, p.dimension, p.score, sp.early_stopping, p.process});
    TaskOutput                  output(p, communicator);
    const bool                  root     = output.root;
    dealii::ConditionalOStream &pcout    = output.pcout;
    dealii::TimerOutput        &timer    = output.timer;
    const unsigned int          d        = p.dimension;
    const SamplerSettings       settings = sampler_settings(
        p, *process, *data, sp.scheme, sp.n_steps, sp.early_stopping, sp.start, score.get());
    const auto [first, n]       = share_of(sp.n_particles, communicator);

    pcout << "scorefp " << SCOREFP_VERSION << ": sampler " << sp.scheme << " (" << sp.n_steps
          << " steps, " << time_grid_name(sp.time_grid) << " grid";
    if (settings.corrector_steps > 0)
      pcout << ", " << settings.corrector_steps << " corrector steps";
    pcout << "), " << sp.n_particles << " particles on "
          << dealii::Utilities::MPI::n_mpi_processes(communicator) << " ranks\n"
          << "  process " << process->name() << ", data: " << data->description()
          << ", score: " << score->description() << "\n  from " << start_name(sp.start)
          << " at t = " << process->final_time << " to t = " << sp.early_stopping << "\n";

    const auto start_clock = std::chrono::steady_clock::now();
    const auto elapsed     = [&]() {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_clock).count();
    };
    double              last_line = 0.0;
    std::vector<double> x;
    SamplerCounters     counters;
    {
      dealii::TimerOutput::Scope scope(timer, "sample");
      counters = run_particles(
          *process,
          *data,
          *score,
          settings,
          first,
          n,
          x,
          [&](const unsigned int k, const double t, const double fraction) {
            if (!root || p.output.quiet || elapsed() - last_line < p.output.progress_interval)
              return;
            last_line       = elapsed();
            const double dt = k > 0 ? settings.times[k - 1] - settings.times[k] : 0.0;
            std::ostringstream where;
            where << std::fixed << std::setprecision(1) << 100.0 * fraction << "% of " << n
                  << " particles on rank 0 (blocks of " << particle_block_size(d) << ")";
            print_progress_line(std::cout, k, t, dt, fraction, elapsed(), where.str());
          });
    }
    const double             sample_seconds = elapsed();
    const unsigned long long evaluations =
        dealii::Utilities::MPI::sum(counters.score_evaluations, communicator);
    const unsigned long long rejected_steps =
        dealii::Utilities::MPI::sum(counters.rejected_steps, communicator);

    // Moments of the samples (per coordinate), reduced over ranks.
    std::vector<double> sums(2 * d, 0.0);
    for (unsigned long long i = 0; i < n; ++i)
      for (unsigned int j = 0; j < d; ++j)
        {
          sums[j] += x[i * d + j];
          sums[d + j] += x[i * d + j] * x[i * d + j];
        }
    dealii::Utilities::MPI::sum(sums, communicator, sums);
    DiagonalLaw empirical{std::vector<double>(d), std::vector<double>(d)};
    for (unsigned int j = 0; j < d; ++j)
      {
        empirical.mean[j] = sums[j] / sp.n_particles;
        empirical.variance[j] =
            sums[d + j] / sp.n_particles - empirical.mean[j] * empirical.mean[j];
      }

    // For Gaussian data and the exact score, the law of these samples is known exactly.
    DiagonalLaw gaussian_data;
    const bool  exact_known = sp.score_source->closed_form() && settings.scheme->fixed_steps() &&
                             data->diagonal_gaussian(gaussian_data.mean, gaussian_data.variance);
    const std::optional<Memorisation> memorisation =
        data->empirical_points() ?
            std::optional<Memorisation>(
                memorised(*data->empirical_points(), x, sp.memorisation_radius, communicator)) :
            std::nullopt;
    double w2_data = 0.0, w2_target = 0.0, w2_empirical = 0.0;
    if (exact_known)
      {
        const DiagonalLaw law = exact_law(*process, gaussian_data, settings);
        w2_data               = wasserstein2(law, gaussian_data);
        w2_target    = wasserstein2(law, forward_law(*process, gaussian_data, sp.early_stopping));
        w2_empirical = wasserstein2(law, empirical);
      }

    {
      dealii::TimerOutput::Scope scope(timer, "write");
      if (root)
        std::filesystem::create_directories(directory);
      write_npy_distributed(file, x, d, communicator);
      if (sp.write_csv)
        write_csv_distributed(csv_file, x, d, communicator);
      if (root)
        {
          Json json;
          json["scorefp_version"] = SCOREFP_VERSION;
          json["time"]            = sp.early_stopping;
          json["samples"]         = sp.samples_file;
          json["n_samples"]       = sp.n_particles;
          json["dimension"]       = d;
          json["scheme"]          = sp.scheme;
          json["steps"]           = sp.n_steps;
          json["time_grid"]       = time_grid_name(sp.time_grid);
          json["corrector_steps"] = settings.corrector_steps;
          json["start"]           = start_name(sp.start);
          json["seed"]            = sp.seed;
          json["score"]           = score->description();
          json["process"]         = process->name();
          json["final_time"]      = process->final_time;
          json["data"]            = data->description();
          json["score_evaluations"] = evaluations;
          if (!settings.scheme->fixed_steps())
            json["rk45_rejected_steps"] = rejected_steps;
          json["sampling_seconds"] = sample_seconds;
          json["particle_steps_per_second"] =
              double(sp.n_particles) * sp.n_steps / std::max(sample_seconds, 1e-9);
          json["mean"]     = empirical.mean;
          json["variance"] = empirical.variance;
          if (memorisation)
            json["memorisation"] = Json{{"training_points", data->empirical_points()->size()},
                                        {"radius", sp.memorisation_radius},
                                        {"fraction_within_radius", memorisation->fraction},
                                        {"median_nearest_distance", memorisation->median},
                                        {"mean_nearest_distance", memorisation->mean}};
          if (exact_known)
            json["exact_law"] = Json{{"w2_to_data", w2_data},
                                     {"w2_to_p_epsilon", w2_target},
                                     {"w2_of_samples_to_exact_law_moments", w2_empirical}};
          write_json_atomically(file + ".json", json);
        }
    }

    pcout << "Sampled " << sp.n_particles << " particles in " << format(sample_seconds) << " s ("
          << format(double(sp.n_particles) * sp.n_steps / std::max(sample_seconds, 1e-9))
          << " particle-steps/s, " << evaluations / std::max<unsigned long long>(sp.n_particles, 1)
          << " score evaluations per particle).\n";
    if (exact_known)
      pcout << "Exact law of this scheme (Gaussian data, no sampling noise): W2 to the data "
            << format(w2_data, 6) << ", W2 to p_epsilon " << format(w2_target, 6)
            << "; the samples' mean and variance are " << format(w2_empirical, 3)
            << " from it (W2 of the moment-matched Gaussians).\n";
    if (memorisation)
      pcout << "Memorisation: " << format(100.0 * memorisation->fraction, 4) << "% of the samples lie "
            << "within " << sp.memorisation_radius << " of one of the "
            << data->empirical_points()->size() << " training points; nearest training point at "
            << "median distance " << format(memorisation->median, 4) << ", mean "
            << format(memorisation->mean, 4) << ".\n";
    pcout << "Samples in " << file << " (time " << sp.early_stopping << ", metadata in " << file
          << ".json)\n";
  }

  void run_scheme_table_task(const Parameters &p, const MPI_Comm communicator)
  {
    TaskOutput                  output(p, communicator);
    const bool                  root    = output.root;
    dealii::ConditionalOStream &pcout   = output.pcout;
    dealii::TimerOutput        &timer   = output.timer;
    const auto                  process = create_process(p.process);
    const auto                  data    = create_data(p.data, p.dimension);
    const auto                 &table   = p.scheme_table;
    DiagonalLaw                 gaussian;
    const bool                  exact = data->diagonal_gaussian(gaussian.mean, gaussian.variance);
    DiagonalLaw                 my_coordinates;
    if (exact)
      {
        const auto [first, n] = share_of(gaussian.mean.size(), communicator);
        my_coordinates.mean.assign(gaussian.mean.begin() + first,
                                   gaussian.mean.begin() + first + n);
        my_coordinates.variance.assign(gaussian.variance.begin() + first,
                                       gaussian.variance.begin() + first + n);
      }

    pcout << "scorefp " << SCOREFP_VERSION << ": scheme table, process " << process->name()
          << ", data: " << data->description() << "\n"
          << (exact ? "Exact laws (Gaussian data, exact score): W2 of each scheme's output "
                      "law to the data distribution p_0.\n"
                    : "Particles: sliced W2 of " + std::to_string(table.n_particles) +
                          " samples of each scheme to the exact p_epsilon (" +
                          std::to_string(table.sliced_directions) + " directions).\n");

    output.remove_stale(
        {p.output.directory + "/scheme_table.csv", p.output.directory + "/scheme_table.json"});
    std::unique_ptr<ScoreModel> score = exact_score(*process, *data);
    struct Entry
    {
      std::string  start, scheme;
      double       epsilon;
      unsigned int steps;
      double       error, error_target;
      double       floor = 0.0, floor_90 = 0.0;
    };
    std::vector<Entry> entries;
    const std::size_t  n_entries = table.starts.size() * table.early_stopping.size() *
                                  table.schemes.size() * table.step_counts.size();
    const auto         start_clock = std::chrono::steady_clock::now();
    double             last_line   = 0.0;
    std::ostringstream markdown;
    for (const Start start : table.starts)
      for (const double epsilon : table.early_stopping)
        {
          // For particles: the cloud of p_epsilon and the noise floor of N exact draws.
          std::unique_ptr<statistics::SlicedWasserstein> sliced;
          double                                         floor = 0.0, floor_90 = 0.0;
          if (!exact)
            {
              dealii::TimerOutput::Scope scope(timer, "reference cloud");
              const double               t = epsilon;
              const double               m = process->transition_mean_factor(t),
                           v               = process->transition_variance(t);
              const auto            field  = data->transported(m, v);
              const QuadratureCloud cloud  = closed_form_cloud(p.mesh,
                                                              p.dimension,
                                                              p.mesh.refinement_levels.back(),
                                                              1.0,
                                                              *field,
                                                              p.discretization.degree + 2);
              sliced                       = std::make_unique<statistics::SlicedWasserstein>(
                  cloud,
                  statistics::random_directions(
                      p.dimension, table.sliced_directions, p.sampler.seed));
              // The sliced W2 of N exact draws fluctuates from set to set: its median
              // and 90% quantile over 10 sets (drawn on the ranks by number) are the
              // level below which a scheme's error cannot be told from sampling noise.
              std::vector<double> mine;
              const unsigned int  rank = dealii::Utilities::MPI::this_mpi_process(communicator);
              const unsigned int  size = dealii::Utilities::MPI::n_mpi_processes(communicator);
              std::vector<double> draws(table.n_particles * p.dimension);
              for (unsigned int set = rank; set < 10; set += size)
                {
                  for (unsigned long long i = 0; i < table.n_particles; ++i)
                    {
                      CounterRng rng(p.sampler.seed + 1 + set, i, 0);
                      data->sample_transported(rng, m, v, &draws[i * p.dimension]);
                    }
                  mine.push_back((*sliced)(draws, p.dimension));
                }
              std::vector<double> floors;
              for (const auto &part : dealii::Utilities::MPI::all_gather(communicator, mine))
                floors.insert(floors.end(), part.begin(), part.end());
              std::sort(floors.begin(), floors.end());
              floor    = floors[floors.size() / 2];
              floor_90 = floors[(9 * floors.size()) / 10];
            }

          markdown << "\nStart " << start_name(start) << ", epsilon = " << epsilon
                   << (exact ? ""
                             : ", sliced W2 of exact draws of the same size: median " +
                                   format(floor) + ", 90% " + format(floor_90))
                   << ":\n\n| scheme |";
          for (const unsigned int steps : table.step_counts)
            markdown << " " << steps << " |";
          markdown << "\n|---|";
          for (std::size_t k = 0; k < table.step_counts.size(); ++k)
            markdown << "---|";
          markdown << "\n";
          for (const std::string &scheme : table.schemes)
            {
              markdown << "| " << scheme << " |";
              for (const unsigned int steps : table.step_counts)
                {
                  const SamplerSettings settings = sampler_settings(
                      p, *process, *data, scheme, steps, epsilon, start, score.get());
                  Entry entry{start_name(start), scheme, epsilon, steps, 0.0, 0.0, floor, floor_90};
                  if (exact)
                    {
                      // Coordinates are independent: each rank takes a block of them
                      // and the squared distances add up.
                      dealii::TimerOutput::Scope scope(timer, "exact laws");
                      const DiagonalLaw law     = exact_law(*process, my_coordinates, settings);
                      const double      w2_data = wasserstein2(law, my_coordinates);
                      const double      w2_target =
                          wasserstein2(law, forward_law(*process, my_coordinates, epsilon));
                      entry.error =
                          std::sqrt(dealii::Utilities::MPI::sum(w2_data * w2_data, communicator));
                      entry.error_target = std::sqrt(
                          dealii::Utilities::MPI::sum(w2_target * w2_target, communicator));
                    }
                  else
                    {
                      std::vector<double> x;
                      const auto [first, n] = share_of(table.n_particles, communicator);
                      {
                        dealii::TimerOutput::Scope scope(timer, "particles");
                        run_particles(*process, *data, *score, settings, first, n, x);
                      }
                      dealii::TimerOutput::Scope scope(timer, "sliced W2");
                      std::vector<double>        gathered;
                      for (const auto &part : dealii::Utilities::MPI::gather(communicator, x))
                        gathered.insert(gathered.end(), part.begin(), part.end());
                      if (root)
                        entry.error = entry.error_target = (*sliced)(gathered, p.dimension);
                    }
                  entries.push_back(entry);
                  const double elapsed =
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_clock)
                          .count();
                  if (elapsed - last_line >= p.output.progress_interval)
                    {
                      last_line = elapsed;
                      pcout << "  " << scheme << ", " << steps << " steps: entry " << entries.size()
                            << " of " << n_entries << ", " << format(elapsed) << " s, ETA "
                            << format(elapsed * (n_entries - entries.size()) / entries.size())
                            << " s" << std::endl;
                    }
                  markdown << " " << format(entry.error) << " |";
                }
              markdown << "\n";
            }
          pcout << markdown.str() << std::flush;
          markdown.str("");
        }

    if (root)
      {
        std::filesystem::create_directories(p.output.directory);
        std::ostringstream csv;
        csv << "start,epsilon,scheme,steps,"
            << (exact ? "w2_to_data,w2_to_p_epsilon"
                      : "sliced_w2_to_p_epsilon,exact_draws_median,exact_draws_90")
            << "\n";
        Json json;
        json["scorefp_version"] = SCOREFP_VERSION;
        json["process"]         = process->name();
        json["data"]            = data->description();
        json["measure"] = exact ? "exact W2 of the output law" : "sliced W2 of particles";
        json["entries"] = Json::array();
        for (const Entry &e : entries)
          {
            csv << e.start << "," << e.epsilon << "," << e.scheme << "," << e.steps << ","
                << std::setprecision(10) << e.error << ","
                << (exact ? std::to_string(e.error_target)
                          : std::to_string(e.floor) + "," + std::to_string(e.floor_90))
                << "\n";
            Json entry;
            entry["start"]                                          = e.start;
            entry["epsilon"]                                        = e.epsilon;
            entry["scheme"]                                         = e.scheme;
            entry["steps"]                                          = e.steps;
            entry[exact ? "w2_to_data" : "sliced_w2_to_p_epsilon"] = e.error;
            if (exact)
              entry["w2_to_p_epsilon"] = e.error_target;
            else
              {
                entry["exact_draws_median"] = e.floor;
                entry["exact_draws_90"]     = e.floor_90;
              }
            json["entries"].push_back(entry);
          }
        write_file_atomically(p.output.directory + "/scheme_table.csv", csv.str());
        write_json_atomically(p.output.directory + "/scheme_table.json", json);
        pcout << "\nTable in " << p.output.directory << "/scheme_table.{csv,json}\n";
      }
  }
} // namespace scorefp
