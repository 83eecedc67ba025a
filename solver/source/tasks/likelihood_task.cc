// Task = likelihood: the probability-flow ODE's log-likelihood log q_eps by
// characteristics (likelihood/likelihood.h) for the score of section Sampler, at the
// Gauss points of the case mesh or at the user's points; KL(p_eps || q), the negative
// log-likelihood in nats and bits per dimension. Writes summary.json and likelihood.csv.
#include <scorefp/core/input_error.h>
#include <scorefp/io/io.h>
#include <scorefp/io/json.h>
#include <scorefp/io/sample_files.h>
#include <scorefp/likelihood/likelihood.h>
#include <scorefp/reference/reference_field.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/tasks/task.h>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "tasks/task_output.h"

namespace scorefp
{
  namespace
  {
    void run_likelihood(const Parameters &p, const MPI_Comm communicator)
    {
      const LikelihoodParameters &l         = p.likelihood;
      const std::string           directory = p.output.directory;
      const unsigned int          d         = p.dimension;
      remove_stale_outputs({directory + "/summary.json", directory + "/likelihood.csv"},
                           communicator);

      // Inputs first, so that a bad one fails before the timer exists.
      const auto   process = create_process(p.process);
      const auto   data    = create_data(p.data, d);
      const double eps = l.time, T = process->final_time;
      const auto   model = p.sampler.score_source->create(
          ScoreSourceContext{*process, *data, d, p.score, eps, p.process});
      require_divergence(*model, "Sampler/Score: the score");
      const auto exact_eps = data->transported(process->transition_mean_factor(eps),
                                               process->transition_variance(eps));
      const auto exact_T =
          data->transported(process->transition_mean_factor(T), process->transition_variance(T));
      std::vector<double> points, weights; // weights: the cloud's p_eps(x_q) JxW_q
      std::string         points_description;
      if (l.points == LikelihoodParameters::Points::points_file)
        {
          points             = read_samples(l.points_file, d, "Likelihood/Points file").values;
          points_description = l.points_file;
          if (points.empty())
            throw InputError("Likelihood/Points file '" + l.points_file + "' holds no points.");
        }
      else
        {
          const double    c     = p.use_scaled_coordinates()
                                      ? CoordinateScaling(*process, true, data->scale()).scale(eps)
                                      : 1.0;
          QuadratureCloud cloud = closed_form_cloud(
              p.mesh, d, p.mesh.refinement_levels.back(), c, *exact_eps, l.quadrature_points);
          points             = std::move(cloud.points);
          weights            = std::move(cloud.weights);
          points_description = "the " + std::to_string(l.quadrature_points) + "^" +
                               std::to_string(d) + " Gauss points of " +
                               std::to_string(cloud.n_cells) + " cells";
        }
      const std::size_t n = points.size() / d;

      TaskOutput                  output(p, communicator);
      dealii::ConditionalOStream &pcout = output.pcout;
      const bool                  root  = output.root;
      pcout << "scorefp " << SCOREFP_VERSION << ": PF-ODE log-likelihood at t = " << eps
            << " by characteristics\n  score " << model->description() << ", process "
            << process->name() << ", data " << data->description() << "\n  from "
            << (l.start == LikelihoodParameters::Start::prior ? "the prior N(0, v(T) I)"
                                                              : "the exact p_T")
            << " at T = " << T << "; " << n << " points (" << points_description << "), batches of "
            << l.batch_size << ", tolerances " << l.relative_tolerance << " (rel) "
            << l.absolute_tolerance << " (abs)\n";

      // Whole batches per rank, so that every point is integrated with the same steps on
      // any number of ranks.
      const unsigned long long n_batches   = (n + l.batch_size - 1) / l.batch_size;
      const auto [first_batch, my_batches] = share_of(n_batches, communicator);
      const std::size_t first              = std::min<std::size_t>(n, first_batch * l.batch_size);
      const std::size_t last = std::min<std::size_t>(n, (first_batch + my_batches) * l.batch_size);
      const auto        start_clock = std::chrono::steady_clock::now();
      const auto        elapsed     = [&]() {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_clock)
            .count();
      };
      double         last_line = 0.0;
      FlowLikelihood mine;
      {
        dealii::TimerOutput::Scope scope(output.timer, "characteristics");
        mine = flow_log_likelihood(
            *model,
            *process,
            l.start == LikelihoodParameters::Start::exact ? exact_T.get() : nullptr,
            l,
            points.data() + first * d,
            last - first,
            first,
            [&](const std::size_t done) {
              if (!root || p.output.quiet || elapsed() - last_line < p.output.progress_interval)
                return;
              last_line                   = elapsed();
              const double       fraction = double(done) / std::max<std::size_t>(1, last - first);
              std::ostringstream line;
              line << std::setprecision(3) << "  rank 0: " << done << "/" << last - first
                   << " points, " << std::fixed << std::setprecision(1) << elapsed() << " s, ETA "
                   << elapsed() * (1 - fraction) / std::max(fraction, 1e-12) << " s\n";
              std::cout << line.str() << std::flush;
            });
      }
      const double seconds        = elapsed();
      const auto   gathered_log_q = dealii::Utilities::MPI::gather(communicator, mine.log_q, 0);
      const auto   gathered_steps = dealii::Utilities::MPI::gather(communicator, mine.steps, 0);
      const unsigned long long evaluations =
          dealii::Utilities::MPI::sum(mine.evaluations, communicator);
      const unsigned long long rejected = dealii::Utilities::MPI::sum(mine.rejected, communicator);
      if (!root)
        return;

      std::vector<double>       log_q;
      std::vector<unsigned int> steps;
      for (unsigned int r = 0; r < gathered_log_q.size(); ++r) // rank order = point order
        {
          log_q.insert(log_q.end(), gathered_log_q[r].begin(), gathered_log_q[r].end());
          steps.insert(steps.end(), gathered_steps[r].begin(), gathered_steps[r].end());
        }
      // Sums in point order on rank 0: the same digits on any number of ranks.
      std::vector<double> log_p(n);
      double              mass = 0.0, kl = 0.0, cross = 0.0, entropy = 0.0, max_ratio = 0.0;
      double              kl_square  = 0.0;
      unsigned int        max_steps  = 0;
      double              mean_steps = 0.0;
      for (std::size_t i = 0; i < n; ++i)
        {
          log_p[i]           = exact_eps->log_value(&points[i * d]);
          const double ratio = log_p[i] - log_q[i];
          const double w     = weights.empty() ? 1.0 : weights[i];
          mass += w;
          kl += w * ratio;
          kl_square += w * ratio * ratio;
          cross -= w * log_q[i];
          entropy -= w * log_p[i];
          max_ratio = std::max(max_ratio, std::abs(ratio));
          max_steps = std::max(max_steps, steps[i]);
          mean_steps += steps[i];
        }
      kl /= mass;
      cross /= mass;
      entropy /= mass;
      mean_steps /= n;
      // Monte Carlo error of the KL estimate from points (samples of p_eps).
      const double kl_error = weights.empty() && n > 1
                                  ? std::sqrt(std::max(0.0, kl_square / mass - kl * kl) / (n - 1))
                                  : std::nan("");

      std::ostringstream s;
      s << std::setprecision(6) << "\n  KL(p_eps || q_ODE)        " << kl;
      if (weights.empty())
        s << " +- " << kl_error << " (Monte Carlo, if the points are samples of p_eps)";
      s << "\n  negative log-likelihood   " << cross << " nats, " << cross / (d * std::log(2.0))
        << " bits/dim\n  entropy of p_eps          " << entropy
        << " nats\n  max |log p_eps - log q|   " << max_ratio << "\n  steps per batch           "
        << mean_steps << " (mean), " << max_steps << " (max), " << rejected << " rejected in all; "
        << evaluations << " score evaluations in " << std::setprecision(3) << seconds << " s\n";
      pcout << s.str();

      std::filesystem::create_directories(directory);
      if (l.write_points)
        {
          std::ostringstream csv;
          csv << "point";
          for (unsigned int j = 0; j < d; ++j)
            csv << ",x" << j;
          csv << ",log_q,log_p,weight,steps\n" << std::setprecision(17);
          for (std::size_t i = 0; i < n; ++i)
            {
              csv << i;
              for (unsigned int j = 0; j < d; ++j)
                csv << "," << points[i * d + j];
              csv << "," << log_q[i] << "," << log_p[i] << ","
                  << (weights.empty() ? 1.0 / n : weights[i] / mass) << "," << steps[i] << "\n";
            }
          write_file_atomically(directory + "/likelihood.csv", csv.str());
        }
      Json json;
      json["scorefp_version"] = SCOREFP_VERSION;
      json["task"]            = "likelihood";
      json["score"]           = model->description();
      json["process"]         = process->name();
      json["data"]            = data->description();
      json["dimension"]       = d;
      json["time"]            = eps;
      json["final_time"]      = T;
      json["start"]           = l.start == LikelihoodParameters::Start::prior ? "prior" : "exact";
      json["points"]          = points_description;
      json["n_points"]        = n;
      json["n_ranks"]         = dealii::Utilities::MPI::n_mpi_processes(communicator);
      json["relative_tolerance"] = l.relative_tolerance;
      json["absolute_tolerance"] = l.absolute_tolerance;
      json["batch_size"]         = l.batch_size;
      json["mass"]               = weights.empty() ? 1.0 : mass;
      json["kl"]                 = kl;
      json["kl_standard_error"]  = kl_error;
      json["nll_nats"]           = cross;
      json["bits_per_dim"]       = cross / (d * std::log(2.0));
      json["entropy_nats"]       = entropy;
      json["max_abs_log_ratio"]  = max_ratio;
      json["mean_steps"]         = mean_steps;
      json["max_steps"]          = max_steps;
      json["rejected_steps"]     = rejected;
      json["score_evaluations"]  = evaluations;
      json["wall_seconds"]       = seconds;
      write_json_atomically(directory + "/summary.json", json);
      pcout << "Results in " << directory << "/ (summary.json"
            << (l.write_points ? ", likelihood.csv" : "") << ")\n";
    }

    class LikelihoodTask : public Task
    {
    public:
      std::set<std::string> sections() const override
      {
        return {"Process", "Initial data", "Mesh", "Output", "Score", "Sampler", "Likelihood"};
      }

      void check(const Parameters &p) const override
      {
        const LikelihoodParameters &l = p.likelihood;
        check_early_stopping(p, l.time, "Likelihood/Time");
        if (l.points == LikelihoodParameters::Points::points_file && l.points_file.empty())
          throw InputError("Likelihood/Points = points file needs Likelihood/Points file; it is "
                           "empty.");
        if (l.points == LikelihoodParameters::Points::quadrature_cloud)
          check_mesh_dimension(p, "likelihood with Points = quadrature cloud");
        check_score_defined(p);
        p.sampler.score_source->check();
        const auto process = create_process(p.process);
        const auto data    = create_data(p.data, p.dimension);
        require_closed_forms(
            *process, *data, {p.likelihood.time, process->final_time}, false, "Task = likelihood");
      }

      int run(const Parameters               &p,
              const dealii::ParameterHandler &prm,
              const MPI_Comm                  communicator) const override
      {
        echo_parameters(prm, p.output.directory, communicator);
        run_likelihood(p, communicator);
        return 0;
      }
    };
  } // namespace

  SCOREFP_REGISTER(TaskRegistry,
                   "likelihood",
                   "the probability-flow ODE's log-likelihood log q_eps by characteristics for "
                   "the score of section Sampler: KL(p_eps || q), NLL in nats and bits/dim "
                   "(section Likelihood).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<LikelihoodTask>(); })
} // namespace scorefp
