// Task = tabulate score: the score that Sampler/Score selects (built as Task = sample
// builds it) at the nodes of a box grid and a list of times, written as a score grid
// (postprocess/SCORE_MODEL_FORMAT.md, "Grid (HDF5)") that Sampler/Score = grid reads.
// Section Tabulation says where and when.
#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>
#include <scorefp/io/json.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/sampling/sampling.h>
#include <scorefp/score_source/grid_score.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/tasks/task.h>
#include <scorefp/time_integration/time_loop.h>

#include <deal.II/base/patterns.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "tasks/task_output.h"

namespace scorefp
{
  void TabulationParameters::bind(ParameterBinder &b)
  {
    namespace Patterns = dealii::Patterns;
    b.add("Lower corner",
          lower_corner,
          "Task = tabulate score: the lower corner of the grid's box, one number (every "
          "direction) or d numbers; empty: Mesh/Box lower corner (Geometry = ball: minus the Ball "
          "radius; Geometry = gmsh needs it given).");
    b.add("Upper corner",
          upper_corner,
          "The upper corner of the grid's box, as Lower corner; empty: Mesh/Box upper corner "
          "(Geometry = ball: the Ball radius).");
    b.add("Points per axis",
          points_per_axis,
          "Equally spaced nodes per axis, corners included: one number (every axis) or d "
          "numbers, each at least 4. The grid file holds (times) x (nodes) x d float64 "
          "numbers; the interpolation error falls as h^4.",
          Patterns::List(Patterns::Integer(4)));
    b.add("Times",
          times,
          "The times of the grid, strictly increasing, in [Process/Start time, Process/Final "
          "time]; a sampler reading the grid needs them to cover [Sampler/Early stopping, "
          "Process/Final time]. Empty: 33 times from Sampler/Early stopping to Process/Final "
          "time, equally spaced in t, or for processes whose variance explodes (VE, EDM) "
          "equally spaced in the log-SNR log(m(t)/sqrt(v(t))) as with Sampler/Time grid = "
          "log-snr.");
    b.add("Output file",
          output_file,
          "The grid file (HDF5, in Output/Directory), written under a temporary name and "
          "renamed when complete.");
  }

  namespace
  {
    struct GridBox
    {
      std::vector<double>       lower, upper;
      std::vector<unsigned int> points;
    };

    template <typename T>
    std::vector<T>
    one_or_d(const std::vector<T> &values, const unsigned int d, const std::string &entry)
    {
      if (values.size() == 1)
        return std::vector<T>(d, values[0]);
      if (values.size() != d)
        throw InputError(entry + " has " + std::to_string(values.size()) +
                         " numbers; expected 1 or Dimension = " + std::to_string(d) + ".");
      return values;
    }

    GridBox grid_box(const Parameters &p)
    {
      const TabulationParameters &tab    = p.tabulation;
      const unsigned int          d      = p.dimension;
      const auto                  corner = [&](const std::vector<double> &given,
                              const std::vector<double> &mesh_corner,
                              const double               sign,
                              const std::string         &entry) {
        if (!given.empty())
          return one_or_d(given, d, "Tabulation/" + entry);
        switch (p.mesh.geometry)
          {
          case MeshParameters::Geometry::box:
            return one_or_d(mesh_corner,
                            d,
                            entry == "Lower corner" ? "Mesh/Box lower corner"
                                                                     : "Mesh/Box upper corner");
          case MeshParameters::Geometry::ball:
            return std::vector<double>(d, sign * p.mesh.ball_radius);
          default:
            throw InputError("Tabulation/" + entry +
                             " is empty and Mesh/Geometry = gmsh has no box; expected 1 or " +
                             std::to_string(d) + " numbers.");
          }
      };
      GridBox box;
      box.lower = corner(tab.lower_corner, p.mesh.lower_corner, -1.0, "Lower corner");
      box.upper = corner(tab.upper_corner, p.mesh.upper_corner, 1.0, "Upper corner");
      for (unsigned int j = 0; j < d; ++j)
        if (!(box.lower[j] < box.upper[j]))
          throw InputError("Tabulation: the lower corner " + format_number(box.lower[j]) +
                           " is not below the upper corner " + format_number(box.upper[j]) +
                           " in direction " + std::to_string(j) + ".");
      box.points = one_or_d(tab.points_per_axis, d, "Tabulation/Points per axis");
      for (const unsigned int n : box.points)
        if (n < 4)
          throw InputError("Tabulation/Points per axis: " + std::to_string(n) +
                           " is fewer than 4; expected at least 4 (cubic stencils).");
      return box;
    }

    std::vector<double> tabulation_times(const Parameters &p, const ForwardProcess &process)
    {
      const double t0 = process.start_time, T = process.final_time;
      if (!p.tabulation.times.empty())
        {
          const std::vector<double> &times = p.tabulation.times;
          for (std::size_t k = 0; k < times.size(); ++k)
            {
              if (!(times[k] >= t0 && times[k] <= T))
                throw InputError("Tabulation/Times: " + format_number(times[k]) +
                                 " lies outside [Process/Start time, Process/Final time] = [" +
                                 format_number(t0) + ", " + format_number(T) + "].");
              if (k > 0 && !(times[k] > times[k - 1]))
                throw InputError("Tabulation/Times must increase strictly; " +
                                 format_number(times[k]) + " follows " +
                                 format_number(times[k - 1]) + ".");
            }
          return times;
        }
      const double        eps     = p.sampler.early_stopping;
      const unsigned int  n_steps = 32;
      std::vector<double> times(n_steps + 1);
      if (process.variance_explodes() && noise_level(process, eps) > 0.0)
        {
          times = make_time_grid(process, n_steps, TimeGrid::log_snr, p.sampler.rho, eps);
          std::reverse(times.begin(), times.end());
        }
      else
        for (unsigned int k = 0; k <= n_steps; ++k)
          times[k] = eps + (T - eps) * k / n_steps;
      times.front() = eps;
      times.back()  = T;
      return times;
    }

    std::vector<double> equally_spaced(const double a, const double b, const unsigned int n)
    {
      std::vector<double> x(n);
      for (unsigned int i = 0; i < n; ++i)
        x[i] = a + (b - a) * i / (n - 1);
      x.back() = b;
      return x;
    }

    std::string format(const double x, const int precision = 3)
    {
      std::ostringstream s;
      s << std::setprecision(precision) << x;
      return s.str();
    }

    void run_tabulation(const Parameters &p, const MPI_Comm communicator)
    {
      TaskOutput                  output(p, communicator);
      dealii::ConditionalOStream &pcout   = output.pcout;
      dealii::TimerOutput        &timer   = output.timer;
      const auto                  process = create_process(p.process);
      const auto                  data    = create_data(p.data, p.dimension);
      const SamplerParameters    &sp      = p.sampler;
      const auto                  score   = sp.score_source->create(
          ScoreSourceContext{*process, *data, p.dimension, p.score, sp.early_stopping, p.process});
      const GridBox     box  = grid_box(p);
      const std::string file = p.output.directory + "/" + p.tabulation.output_file;
      output.remove_stale({file, file + ".partial", file + ".json"});

      ScoreGrid grid;
      for (unsigned int j = 0; j < p.dimension; ++j)
        grid.axes.push_back(equally_spaced(box.lower[j], box.upper[j], box.points[j]));
      grid.times       = tabulation_times(p, *process);
      grid.process     = p.process.entries();
      grid.description = "tabulated from the score (" + score->description() +
                         "), data: " + data->description() + ", process " + process->name();
      const std::size_t n_nodes = grid.n_nodes();

      pcout << "scorefp " << SCOREFP_VERSION << ": tabulating the score (" << score->description()
            << ")\n  on " << n_nodes << " nodes (";
      for (unsigned int j = 0; j < p.dimension; ++j)
        pcout << (j ? " x " : "") << box.points[j];
      pcout << ") in [";
      for (unsigned int j = 0; j < p.dimension; ++j)
        pcout << (j ? ", " : "") << box.lower[j];
      pcout << "] to [";
      for (unsigned int j = 0; j < p.dimension; ++j)
        pcout << (j ? ", " : "") << box.upper[j];
      pcout << "] at " << grid.times.size() << " times in [" << grid.times.front() << ", "
            << grid.times.back() << "], on "
            << dealii::Utilities::MPI::n_mpi_processes(communicator) << " ranks\n  process "
            << process->name() << ", data: " << data->description() << "\n";

      const auto start_clock = std::chrono::steady_clock::now();
      const auto elapsed     = [&]() {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_clock)
            .count();
      };
      double last_line = 0.0;
      {
        dealii::TimerOutput::Scope scope(timer, "tabulate");
        tabulate_score(*score, grid, communicator, [&](const unsigned int k) {
          if (!output.root || p.output.quiet || elapsed() - last_line < p.output.progress_interval)
            return;
          last_line       = elapsed();
          const double dt = k > 0 ? grid.times[k] - grid.times[k - 1] : 0.0;
          print_progress_line(std::cout,
                              k + 1,
                              grid.times[k],
                              dt,
                              double(k + 1) / grid.times.size(),
                              elapsed(),
                              std::to_string(n_nodes) + " nodes");
        });
      }
      const double seconds = elapsed();
      {
        dealii::TimerOutput::Scope scope(timer, "write");
        if (output.root)
          {
            write_score_grid(file, grid);
            // What the grid holds, next to it (as samples.npy.json next to samples).
            double max_abs = 0, sum_squares = 0;
            for (const double v : grid.values)
              {
                max_abs = std::max(max_abs, std::abs(v));
                sum_squares += v * v;
              }
            Json json;
            json["scorefp_version"] = SCOREFP_VERSION;
            json["grid"]            = p.tabulation.output_file;
            json["score"]           = score->description();
            json["dimension"]       = p.dimension;
            json["points_per_axis"] = box.points;
            json["lower_corner"]    = box.lower;
            json["upper_corner"]    = box.upper;
            json["times"]           = grid.times;
            json["max_abs_score"]   = max_abs;
            json["rms_score"]       = std::sqrt(sum_squares / std::max<std::size_t>(grid.values.size(), 1));
            write_json_atomically(file + ".json", json);
          }
      }
      const double megabytes = 8.0 * grid.times.size() * n_nodes * p.dimension / 1e6;
      pcout << "Tabulated " << grid.times.size() << " x " << n_nodes << " score values in "
            << format(seconds) << " s ("
            << format(double(grid.times.size()) * n_nodes / std::max(seconds, 1e-9))
            << " points/s).\nScore grid in " << file << " (" << format(megabytes) << " MB; "
            << "Sampler/Score = grid, Sampler/Grid file = " << file << " reads it)\n";
    }

    class TabulateTask : public Task
    {
    public:
      std::set<std::string> sections() const override
      {
        return {"Process", "Initial data", "Mesh", "Output", "Score", "Sampler", "Tabulation"};
      }

      void check(const Parameters &p) const override
      {
        if (p.dimension > 3)
          throw InputError("Dimension = " + std::to_string(p.dimension) +
                           ": Task = tabulate score writes grids in 1, 2 or 3 dimensions.");
        check_score_defined(p);
        check_early_stopping(p, p.sampler.early_stopping, "Sampler/Early stopping");
        p.sampler.score_source->check();
        if (p.tabulation.output_file.empty())
          throw InputError("Tabulation/Output file is empty; expected a file name ending in .h5.");
        grid_box(p);
        const auto process = create_process(p.process);
        tabulation_times(p, *process);
        create_data(p.data, p.dimension);
      }

      int run(const Parameters               &p,
              const dealii::ParameterHandler &prm,
              const MPI_Comm                  communicator) const override
      {
        echo_parameters(prm, p.output.directory, communicator);
        run_tabulation(p, communicator);
        return 0;
      }
    };
  } // namespace

  SCOREFP_REGISTER(TaskRegistry,
                   "tabulate score",
                   "the score of Sampler/Score on the grid and at the times of section "
                   "Tabulation, written as a score grid for Sampler/Score = grid.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<TabulateTask>(); })
} // namespace scorefp
