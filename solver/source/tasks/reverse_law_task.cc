// Task = reverse law: the laws the probability-flow ODE and the reverse SDE really
// produce with the score of section Sampler, by finite elements in reversed time
// (reverse/reverse_law.h), at every refinement level of section Mesh; errors and
// distances to the exact p_t, to the closed-form law of Gaussian data started from the
// prior (Pierret & Galerne), and between the two laws (the ODE-SDE gap). Writes
// summary.json, points.csv, and each law's statistics.csv and .pvd series.
#include <scorefp/core/input_error.h>
#include <scorefp/io/io.h>
#include <scorefp/io/json.h>
#include <scorefp/io/sample_files.h>
#include <scorefp/reference/reference_field.h>
#include <scorefp/reverse/reverse_law.h>
#include <scorefp/sampling/sampling.h>
#include <scorefp/score_source/score_source.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/tasks/run.h>
#include <scorefp/tasks/task.h>

#include <deal.II/base/convergence_table.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/parameter_handler.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "tasks/task_output.h"

namespace scorefp
{
  namespace
  {
    /// A reference file's density at one time, as the start of the reverse-time laws.
    class ReferenceDensityAtTime : public DensityField
    {
    public:
      ReferenceDensityAtTime(std::shared_ptr<const ReferenceField> file, const double t)
          : file(std::move(file))
          , t(t)
      {
      }
      double value(const double *x) const override
      {
        double p = 0;
        file->evaluate_at_time(t, x, 1, &p, nullptr, ScoreSource::log_density_gradient);
        return std::max(p, 0.0);
      }
      void score(const double *x, double *s) const override
      {
        file->evaluate_at_time(t, x, 1, nullptr, s, ScoreSource::log_density_gradient);
      }

    private:
      std::shared_ptr<const ReferenceField> file;
      double                                t;
    };

    /// Pierret & Galerne's continuous-time laws (MATH.md section 3) of centred Gaussian
    /// data N(0, diag(lambda)) with the exact score, started at T from the prior
    /// N(0, c I), c = v(T): per direction, with lambda_t = m_t^2 lambda + v_t,
    ///   ODE: c lambda_t / lambda_T,   SDE: lambda_t + (c - lambda_T) (m_T/m_t)^2 lambda_t^2 /
    ///   lambda_T^2.
    InducedLawTarget gaussian_target(const ForwardProcess      &process,
                                     const std::vector<double> &lambda,
                                     const ReverseLaw           law)
    {
      InducedLawTarget      target;
      const ForwardProcess *pr = &process;
      target.at = [pr, lambda, law](const double t) -> std::unique_ptr<DensityField> {
        const double T   = pr->final_time;
        const double c   = pr->transition_variance(T);
        const double m_t = pr->transition_mean_factor(t), m_T = pr->transition_mean_factor(T);
        std::vector<double> variances(lambda.size());
        for (std::size_t i = 0; i < lambda.size(); ++i)
          {
            const double l_t = m_t * m_t * lambda[i] + pr->transition_variance(t);
            const double l_T = m_T * m_T * lambda[i] + c;
            variances[i]     = law == ReverseLaw::ode ? c * l_t / l_T
                                                      : l_t + (c - l_T) * (m_T / m_t) * (m_T / m_t) *
                                                              l_t * l_t / (l_T * l_T);
          }
        return DiagonalGaussian(std::vector<double>(lambda.size(), 0.0), variances)
            .transported(1.0, 0.0);
      };
      return target;
    }

    Json distances_json(const LawDistances &d)
    {
      Json json;
      json["L1"]                = d.l1;
      json["L2"]                = d.l2;
      json["hellinger_squared"] = d.hellinger_squared;
      json["KL_pq"]             = d.kl_pq;
      json["KL_qp"]             = d.kl_qp;
      json["clipped_mass"]      = d.clipped_mass;
      if (std::isfinite(d.w1))
        {
          json["W1"] = d.w1;
          json["W2"] = d.w2;
        }
      if (std::isfinite(d.sliced_w2))
        json["sliced_W2"] = d.sliced_w2;
      if (std::isfinite(d.mmd2))
        json["MMD2"] = d.mmd2;
      return json;
    }

    /// The error split as summary.json holds it.
    Json error_split_json(const ErrorSplit &split)
    {
      Json json;
      json["refinement_level"] = split.refinement_level;
      json["truncation"]       = distances_json(split.truncation);
      json["rows"]             = Json::array();
      for (const auto &row : split.rows)
        {
          Json r;
          r["source"] = row.source;
          r["score"]  = row.score;
          r["start"]  = row.start;
          for (unsigned int k = 0; k < row.laws.size(); ++k)
            r[reverse_law_name(split.laws[k])] = distances_json(row.laws[k]);
          json["rows"].push_back(r);
        }
      return json;
    }

    /// The error split as the run prints it: one row per source, L1 and KL(p_eps || q)
    /// of each law.
    std::string error_split_table(const ErrorSplit &split, const double eps)
    {
      const std::map<std::string, std::string> names = {
          {"floor", "finite-element floor (exact score, p_T)"},
          {"initialisation", "initialisation (exact score, prior)"},
          {"score", "score (given score, p_T)"},
          {"total", "initialisation + score (given score, prior)"}};
      std::ostringstream s;
      s << "\nError split at t = " << eps << " (distances to p_eps, level "
        << split.refinement_level << "):\n  " << std::left << std::setw(46) << "source";
      for (const ReverseLaw law : split.laws)
        s << std::setw(12) << (reverse_law_name(law) + " L1") << std::setw(14)
          << (reverse_law_name(law) + " KL(p||q)");
      s << "\n" << std::setprecision(4);
      for (const auto &row : split.rows)
        {
          s << "  " << std::setw(46) << names.at(row.source);
          for (const auto &d : row.laws)
            s << std::setw(12) << d.l1 << std::setw(14) << d.kl_pq;
          s << "\n";
        }
      s << "  truncation (p_0 against p_eps): L1 " << split.truncation.l1 << ", KL(p_0||p_eps) "
        << split.truncation.kl_pq << ", clipped mass " << split.truncation.clipped_mass << "\n";
      return s.str();
    }

    /// The ODE-SDE gap as a function of eps: W2 (1D, from the CDFs) or the sliced W2.
    double gap_w2(const ReverseLawSnapshot &s)
    {
      return std::isfinite(s.to_first_law.w2) ? s.to_first_law.w2 : s.to_first_law.sliced_w2;
    }

    /// Deveney's comparison as the run prints it: at every output time t (the eps of a
    /// sampler stopped there) the measured gap, the residual integrals and the bound.
    std::string gap_bound_table(const ReverseLawRunResult &sde, const unsigned int d)
    {
      const bool         log_form = std::isfinite(sde.at_eps().log_residual_integral);
      std::ostringstream s;
      s << "\nThe ODE-SDE gap and the Fokker-Planck residual, as functions of eps (integrals "
           "from eps to T):\n  "
        << std::left << std::setw(12) << "eps" << std::setw(16)
        << (d == 1 ? "W2(ODE, SDE)" : "sliced W2") << std::setw(16) << "int ||r||";
      if (log_form)
        s << std::setw(16) << "int ||R||";
      s << "bound on W2\n";
      for (auto it = sde.outputs.rbegin(); it != sde.outputs.rend(); ++it)
        {
          s << "  " << std::setprecision(4) << std::setw(12) << it->time << std::setw(16)
            << gap_w2(*it) << std::setw(16) << it->residual_integral;
          if (log_form)
            s << std::setw(16) << it->log_residual_integral;
          s << it->gap_bound << "\n";
        }
      return s.str();
    }

    Json gap_bound_json(const ReverseLawRunResult &sde)
    {
      Json rows = Json::array();
      for (auto it = sde.outputs.rbegin(); it != sde.outputs.rend(); ++it)
        {
          Json row;
          row["time"]              = it->time;
          row["gap_W2"]            = gap_w2(*it);
          row["residual_integral"] = it->residual_integral;
          if (std::isfinite(it->log_residual_integral))
            row["log_residual_integral"] = it->log_residual_integral;
          row["bound"] = it->gap_bound;
          rows.push_back(row);
        }
      return rows;
    }

    /// The sampler check as the run prints it: one line per reference with the verdict
    /// and each statistic's value and calibrated p-value.
    std::string sampler_check_table(const SamplerCheck &c)
    {
      std::ostringstream s;
      s << "\nSampler check (" << c.scheme << ", " << c.n_steps << " steps, " << c.n_particles
        << " particles in " << c.samples_file << "; level " << c.against_law.level << ", "
        << c.against_law.null_draws << " null draws):\n";
      const auto line = [&s](const std::string &name, const CheckResult &r) {
        s << "  " << std::left << std::setw(44) << name << std::right << (r.pass ? "PASS" : "FAIL");
        for (const auto &st : r.statistics)
          s << "  " << st.name << " " << std::setprecision(3) << st.value << " (p "
            << std::setprecision(2) << st.p_value << ")";
        s << "\n";
      };
      line("against the " + reverse_law_name(c.law) + " law of the same score", c.against_law);
      line("against p_eps", c.against_p_eps);
      s << "  (PASS against the law and FAIL against p_eps: the scheme's steps are fine and "
           "the score is wrong; FAIL against the law: too few steps)\n";
      return s.str();
    }

    Json law_json(const ReverseLawRunResult &r)
    {
      Json json;
      json["law"]               = reverse_law_name(r.law);
      json["n_cells"]           = r.n_cells;
      json["n_dofs"]            = r.n_dofs;
      json["polynomial_degree"] = r.degree;
      json["refinement_level"]  = r.refinement_level;
      json["time_method"]       = r.time_method;
      json["n_steps"]           = r.n_steps;
      json["n_rejected_steps"]  = r.n_rejected_steps;
      json["linear_iterations"] = r.linear_iterations;
      json["wall_seconds"]      = r.wall_seconds;
      json["minimum"]           = r.minimum;
      json["max_outflow_rate"]  = r.max_outflow_rate;
      json["initial_mass"]      = r.outputs.front().mass;
      json["mass"]              = r.at_eps().mass;
      json["outflow"]           = r.at_eps().outflow;
      json["errors"]            = errors_json(r.at_eps().errors);
      json["to_exact"]          = distances_json(r.at_eps().to_exact);
      if (!r.reference_file.empty())
        json["reference_file"] = r.reference_file;
      if (r.has_target)
        {
          json["errors_to_target"] = errors_json(r.at_eps().errors_to_target);
          json["to_target"]        = distances_json(r.at_eps().to_target);
        }
      if (r.has_first_law)
        json["to_ode_law"] = distances_json(r.at_eps().to_first_law);
      json["to_data"] = distances_json(r.at_eps().to_data);
      if (r.has_file)
        json["to_file"] = distances_json(r.at_eps().to_file);
      json["outputs"] = Json::array();
      for (const auto &s : r.outputs)
        {
          Json o;
          o["time"]       = s.time;
          o["mass"]       = s.mass;
          o["outflow"]    = s.outflow;
          o["minimum"]    = s.minimum;
          o["mean"]       = s.mean;
          o["covariance"] = s.covariance;
          o["errors"]     = errors_json(s.errors);
          o["to_exact"]   = distances_json(s.to_exact);
          if (r.has_target)
            {
              o["errors_to_target"] = errors_json(s.errors_to_target);
              o["to_target"]        = distances_json(s.to_target);
            }
          if (r.has_first_law)
            o["to_ode_law"] = distances_json(s.to_first_law);
          if (r.has_file)
            o["to_file"] = distances_json(s.to_file);
          json["outputs"].push_back(o);
        }
      return json;
    }

    /// The error a convergence table follows: to the closed-form induced law where
    /// there is one, else to the exact p_eps.
    double table_error(const ReverseLawRunResult &r)
    {
      return r.has_target ? r.at_eps().errors_to_target.l2 : r.at_eps().errors.l2;
    }

  } // namespace

  ReverseLawCase::ReverseLawCase()  = default;
  ReverseLawCase::~ReverseLawCase() = default;

  std::unique_ptr<ReverseLawCase> make_reverse_law_case(const Parameters &p)
  {
    const ReverseLawParameters &rl    = p.reverse_law;
    const unsigned int          d     = p.dimension;
    auto                        setup = std::make_unique<ReverseLawCase>();
    setup->process                    = create_process(p.process);
    setup->data                       = create_data(p.data, d);
    const ForwardProcess   &process   = *setup->process;
    const DataDistribution &data      = *setup->data;
    const double            eps = p.sampler.early_stopping, T = process.final_time;
    setup->score = p.sampler.score_source->create(
        ScoreSourceContext{process, data, d, p.score, eps, p.process});
    if (setup->score->dimension() != d)
      throw InputError("Sampler/Score: the score has dimension " +
                       std::to_string(setup->score->dimension()) +
                       ", but Dimension = " + std::to_string(d) + ".");

    ReverseLawInputs &inputs = setup->inputs;
    inputs.laws              = rl.selected();
    inputs.score             = setup->score.get();
    inputs.end_time          = eps;
    inputs.penalty_factor    = rl.penalty_factor;
    inputs.sliced_directions = rl.sliced_directions;
    inputs.mmd_bandwidth     = rl.mmd_bandwidth;
    inputs.gap_bound         = rl.gap_bound;
    if (!rl.start_file.empty())
      {
        auto file = ReferenceField::read(rl.start_file);
        if (file->dimension() != d)
          throw InputError("Reverse law/Start file '" + rl.start_file + "' is " +
                           std::to_string(file->dimension()) + "-dimensional; expected " +
                           std::to_string(d) + ".");
        const auto times = file->times();
        if (!(times.front() <= T * (1 + 1e-12) && times.back() >= T * (1 - 1e-12)))
          throw InputError("Reverse law/Start file '" + rl.start_file +
                           "' holds no density at Process/Final time = " + format_number(T) +
                           "; expected snapshots up to it.");
        setup->start             = std::make_unique<ReferenceDensityAtTime>(std::move(file), T);
        inputs.start_description = "the density of " + rl.start_file + " at T";
      }
    else if (p.sampler.start == Start::exact)
      {
        setup->start =
            data.transported(process.transition_mean_factor(T), process.transition_variance(T));
        inputs.start_description = "the exact p_T";
      }
    else
      inputs.start_description = "the prior N(0, v(T) I)";
    inputs.start = setup->start.get();
    if (!rl.compare_file.empty())
      {
        std::shared_ptr<ReferenceField> file = ReferenceField::read(rl.compare_file);
        if (file->dimension() != d)
          throw InputError("Reverse law/Compare file '" + rl.compare_file + "' is " +
                           std::to_string(file->dimension()) + "-dimensional; expected " +
                           std::to_string(d) + ".");
        const auto times = file->times();
        if (!(times.front() <= eps * (1 + 1e-12) && times.back() >= T * (1 - 1e-12)))
          throw InputError("Reverse law/Compare file '" + rl.compare_file +
                           "' holds snapshots from t = " + format_number(times.front()) +
                           " to " + format_number(times.back()) + "; expected them to cover [" +
                           format_number(eps) + ", " + format_number(T) + "].");
        inputs.compare_file.at = [file](const double t) -> std::unique_ptr<DensityField> {
          return std::make_unique<ReferenceDensityAtTime>(file, t);
        };
      }
    if (!rl.points_file.empty())
      inputs.points = read_samples(rl.points_file, d, "Reverse law/Points file").values;

    // Gaussian data from the prior with the exact score: Pierret & Galerne's laws.
    std::vector<double> mean, variances;
    const bool          centred_gaussian =
        data.diagonal_gaussian(mean, variances) &&
        std::all_of(mean.begin(), mean.end(), [](double m) { return m == 0.0; });
    if (setup->start == nullptr && centred_gaussian && p.sampler.score_source->closed_form())
      for (const ReverseLaw law : inputs.laws)
        inputs.targets.push_back(gaussian_target(process, variances, law));
    return setup;
  }

  namespace
  {
    /// The density 1, so that a closed-form cloud's weights are its JxW.
    class UnitDensity : public DensityField
    {
    public:
      double value(const double *) const override { return 1.0; }
      void   score(const double *, double *) const override {}
    };
  } // namespace

  ErrorSplit reverse_law_error_split(const Parameters     &p,
                                     const ReverseLawCase &setup,
                                     const MPI_Comm        communicator)
  {
    const ForwardProcess   &process = *setup.process;
    const DataDistribution &data    = *setup.data;
    const double            T = process.final_time, eps = setup.inputs.end_time;
    ErrorSplit              split;
    split.refinement_level = p.mesh.refinement_levels.back();
    split.laws             = setup.inputs.laws;

    // The four solves: the exact or the given score, from the exact p_T or the prior.
    const auto exact_model = exact_score(process, data);
    const auto exact_start =
        data.transported(process.transition_mean_factor(T), process.transition_variance(T));
    struct Configuration
    {
      std::string         source;
      const ScoreModel   *score;
      const DensityField *start;
      std::string         start_description;
    };
    const std::vector<Configuration> configurations = {
        {"floor", exact_model.get(), exact_start.get(), "the exact p_T"},
        {"initialisation", exact_model.get(), nullptr, "the prior N(0, v(T) I)"},
        {"score", setup.score.get(), exact_start.get(), "the exact p_T"},
        {"total", setup.score.get(), nullptr, "the prior N(0, v(T) I)"}};
    Parameters quiet   = p;
    quiet.output.quiet = true;
    for (const Configuration &configuration : configurations)
      {
        ReverseLawInputs inputs  = setup.inputs;
        inputs.score             = configuration.score;
        inputs.start             = configuration.start;
        inputs.start_description = configuration.start_description;
        inputs.points.clear();
        inputs.targets.clear();
        const auto results = solve_reverse_law_case(
            quiet, inputs, split.refinement_level, p.output.directory, false, communicator);
        ErrorSplitRow row;
        row.source = configuration.source;
        row.score  = configuration.score->description();
        row.start  = configuration.start_description;
        for (const auto &r : results)
          row.laws.push_back(r.at_eps().to_exact);
        split.rows.push_back(row);
      }

    // Truncation: p_0 against p_eps on the case mesh (where the finite-element laws live),
    // every rank the same sums (a serial cloud).
    const double          c     = p.use_scaled_coordinates()
                                      ? CoordinateScaling(process, true, data.scale()).scale(eps)
                                      : 1.0;
    const QuadratureCloud cloud = closed_form_cloud(
        p.mesh, p.dimension, split.refinement_level, c, UnitDensity(), p.discretization.degree + 2);
    const auto p_0 = data.transported(1.0, 0.0);
    const auto p_eps =
        data.transported(process.transition_mean_factor(eps), process.transition_variance(eps));
    LawDistanceSums sums;
    for (unsigned int k = 0; k < cloud.size(); ++k)
      {
        const double *x = &cloud.points[k * p.dimension];
        sums.add(p_0->value(x), p_eps->value(x), cloud.weights[k]);
      }
    split.truncation = sums.distances();
    return split;
  }

  SamplerCheck check_sampler_against_law(const Parameters     &p,
                                         const ReverseLawCase &setup,
                                         const std::string    &law_file,
                                         const std::string    &directory,
                                         const MPI_Comm        communicator)
  {
    const SamplerParameters &sp = p.sampler;
    const unsigned int       d  = p.dimension;
    SamplerCheck             check;
    check.scheme      = sp.scheme;
    check.n_steps     = sp.n_steps;
    check.n_particles = sp.n_particles;
    check.law_file    = law_file;
    check.samples_file = directory + "/sampler-samples.npy";
    const SamplerSettings settings = sampler_settings(p,
                                                      *setup.process,
                                                      *setup.data,
                                                      sp.scheme,
                                                      sp.n_steps,
                                                      setup.inputs.end_time,
                                                      sp.start,
                                                      setup.score.get());
    check.law = settings.scheme->probability_flow() ? ReverseLaw::ode : ReverseLaw::sde;

    const auto [first, n] = share_of(sp.n_particles, communicator);
    std::vector<double> x;
    run_particles(*setup.process, *setup.data, *setup.score, settings, first, n, x);
    if (dealii::Utilities::MPI::this_mpi_process(communicator) == 0)
      std::filesystem::create_directories(directory);
    write_npy_distributed(check.samples_file, x, d, communicator);

    const auto checked = [&](const CheckerParameters::Reference reference) {
      CheckerParameters checker = p.checker;
      checker.samples_file      = check.samples_file;
      checker.time              = setup.inputs.end_time;
      checker.reference         = reference;
      checker.reference_file    = law_file;
      return check_samples({p.process,
                            p.data,
                            p.mesh,
                            checker,
                            d,
                            p.discretization.degree,
                            p.use_scaled_coordinates(),
                            p.output.quiet ? -1.0 : p.output.progress_interval,
                            p.output.directory},
                           communicator);
    };
    check.against_law   = checked(CheckerParameters::Reference::file);
    check.against_p_eps = checked(CheckerParameters::Reference::closed_form);
    return check;
  }

  namespace
  {
    void run_reverse_law(const Parameters               &p,
                         const dealii::ParameterHandler &prm,
                         const MPI_Comm                  communicator)
    {
      const std::string &directory = p.output.directory;
      const unsigned int d         = p.dimension;
      const bool         root      = dealii::Utilities::MPI::this_mpi_process(communicator) == 0;
      remove_stale_outputs({directory + "/summary.json",
                            directory + "/points.csv",
                            directory + "/sampler-samples.npy"},
                           communicator);

      // Inputs first, so that a bad one fails before anything is written.
      const auto              setup   = make_reverse_law_case(p);
      const ReverseLawInputs &inputs  = setup->inputs;
      const ForwardProcess   &process = *setup->process;
      const double            eps = inputs.end_time, T = process.final_time;

      const auto                                   &levels = p.mesh.refinement_levels;
      std::vector<std::vector<ReverseLawRunResult>> results;
      for (const unsigned int level : levels)
        {
          const std::string level_directory =
              levels.size() > 1 ? directory + "/level-" + std::to_string(level) : directory;
          results.push_back(
              solve_reverse_law_case(p, inputs, level, level_directory, true, communicator));
        }
      ErrorSplit split;
      if (p.reverse_law.error_split)
        {
          if (root && !p.output.quiet)
            std::cout << "\nError split on level " << levels.back() << ": "
                      << 4 * inputs.laws.size()
                      << " solves (the exact or the given score, from p_T or the prior)"
                      << std::endl;
          split = reverse_law_error_split(p, *setup, communicator);
        }
      std::unique_ptr<SamplerCheck> sampler_check;
      if (p.reverse_law.check_sampler)
        {
          const ReverseLaw law = create_scheme(p.sampler.scheme)->probability_flow()
                                   ? ReverseLaw::ode
                                   : ReverseLaw::sde;
          const auto      &finest = results.back();
          const auto       solved = std::find_if(finest.begin(), finest.end(), [law](const auto &r) {
            return r.law == law;
          });
          if (solved == finest.end() || solved->reference_file.empty())
            throw InputError("Reverse law/Check sampler: no reference file of the " +
                             reverse_law_name(law) +
                             " law was written; expected Output/Reference file and that law "
                             "in Reverse law/Laws.");
          if (root && !p.output.quiet)
            std::cout << "\nSampler check: " << p.sampler.scheme << ", " << p.sampler.n_steps
                      << " steps, " << p.sampler.n_particles << " particles, against the "
                      << reverse_law_name(law) << " law of the same score and against p_eps"
                      << std::endl;
          sampler_check = std::make_unique<SamplerCheck>(check_sampler_against_law(
              p, *setup, solved->reference_file, directory, communicator));
        }
      echo_parameters(prm, directory, communicator);
      if (!root)
        return;

      const auto        &last = results.back();
      std::ostringstream s;
      s << std::setprecision(4);
      s << "\nReverse-time laws at t = " << eps << " (score " << inputs.score->description()
        << ", from " << inputs.start_description << "):\n";
      for (const auto &r : last)
        {
          const auto &f = r.at_eps();
          s << "  " << reverse_law_name(r.law) << " law: mass " << std::setprecision(10) << f.mass
            << std::setprecision(4) << ", min/max " << r.minimum << "; to p_eps: L1 "
            << f.to_exact.l1 << ", KL(p||q) " << f.to_exact.kl_pq << ", KL(q||p) "
            << f.to_exact.kl_qp << ", Hellinger^2 " << f.to_exact.hellinger_squared;
          if (std::isfinite(f.to_exact.w2))
            s << ", W1 " << f.to_exact.w1 << ", W2 " << f.to_exact.w2;
          if (std::isfinite(f.to_exact.sliced_w2))
            s << ", sliced W2 " << f.to_exact.sliced_w2;
          if (std::isfinite(f.to_exact.mmd2))
            s << ", MMD^2 " << f.to_exact.mmd2;
          if (r.has_target)
            s << "; relative L2 error to the closed-form induced law " << f.errors_to_target.l2;
          s << "; to the data p_0: L1 " << f.to_data.l1;
          if (std::isfinite(f.to_data.w2))
            s << ", W2 " << f.to_data.w2;
          if (std::isfinite(f.to_data.sliced_w2))
            s << ", sliced W2 " << f.to_data.sliced_w2;
          if (r.has_file)
            s << "; to " << p.reverse_law.compare_file << ": L1 " << f.to_file.l1;
          s << "\n";
        }
      if (last.size() > 1)
        {
          const auto &gap = last.back().at_eps().to_first_law;
          s << "  ODE-SDE gap: L1 " << gap.l1 << ", KL(ODE||SDE) " << gap.kl_pq << ", KL(SDE||ODE) "
            << gap.kl_qp << ", Hellinger^2 " << gap.hellinger_squared;
          if (std::isfinite(gap.w2))
            s << ", W1 " << gap.w1 << ", W2 " << gap.w2;
          if (std::isfinite(gap.sliced_w2))
            s << ", sliced W2 " << gap.sliced_w2;
          if (std::isfinite(gap.mmd2))
            s << ", MMD^2 " << gap.mmd2;
          s << "\n";
        }
      std::cout << s.str();

      if (levels.size() > 1)
        for (unsigned int k = 0; k < last.size(); ++k)
          {
            dealii::ConvergenceTable table;
            for (const auto &level_results : results)
              {
                const auto &r = level_results[k];
                table.add_value("level", r.refinement_level);
                table.add_value("cells", r.n_cells);
                table.add_value("dofs", r.n_dofs);
                table.add_value("steps", r.n_steps);
                table.add_value("L2", table_error(r));
                table.add_value(
                    "L1", r.has_target ? r.at_eps().errors_to_target.l1 : r.at_eps().errors.l1);
              }
            for (const std::string key : {"L2", "L1"})
              {
                table.set_scientific(key, true);
                table.set_precision(key, 3);
                table.evaluate_convergence_rates(key,
                                                 dealii::ConvergenceTable::reduction_rate_log2);
              }
            std::cout << "\nConvergence of the " << reverse_law_name(last[k].law)
                      << " law at t = " << eps << " (relative errors to "
                      << (last[k].has_target ? "the closed-form induced law" : "p_eps") << "):\n";
            table.write_text(std::cout, dealii::TableHandler::org_mode_table);
          }

      Json json;
      json["scorefp_version"]    = SCOREFP_VERSION;
      json["task"]               = "reverse law";
      json["dimension"]          = d;
      json["process"]            = process.name();
      json["data"]               = setup->data->description();
      json["score"]              = inputs.score->description();
      json["start"]              = inputs.start_description;
      json["final_time"]         = T;
      json["time"]               = eps;
      json["scaled_coordinates"] = last.front().scaled_coordinates;
      json["n_ranks"]            = last.front().n_ranks;
      json["backend"]            = last.front().backend;
      if (!inputs.targets.empty())
        json["target"] = "Pierret & Galerne's laws of Gaussian data from the prior";
      json["laws"] = Json::array();
      for (const auto &r : last)
        json["laws"].push_back(law_json(r));
      if (last.size() > 1)
        json["ode_sde_gap"] = distances_json(last.back().at_eps().to_first_law);
      if (p.reverse_law.error_split)
        {
          std::cout << error_split_table(split, eps);
          json["error_split"] = error_split_json(split);
        }
      if (last.back().has_gap_bound)
        {
          std::cout << gap_bound_table(last.back(), d);
          json["gap_bound"] = gap_bound_json(last.back());
        }
      if (sampler_check)
        {
          const SamplerCheck &c = *sampler_check;
          std::cout << sampler_check_table(c);
          Json check;
          check["scheme"]        = c.scheme;
          check["steps"]         = c.n_steps;
          check["particles"]     = c.n_particles;
          check["law"]           = reverse_law_name(c.law);
          check["samples"]       = c.samples_file;
          check["law_file"]      = c.law_file;
          check["against_law"]   = check_json(c.against_law);
          check["against_p_eps"] = check_json(c.against_p_eps);
          json["sampler_check"]  = check;
        }
      if (levels.size() > 1)
        {
          json["convergence"] = Json::array();
          for (unsigned int k = 0; k < last.size(); ++k)
            {
              std::vector<double> errors;
              for (const auto &level_results : results)
                errors.push_back(table_error(level_results[k]));
              const std::vector<double> rates = observed_rates(errors, levels);
              Json                      law;
              law["law"]    = reverse_law_name(last[k].law);
              law["errors"] = errors;
              law["levels"] = levels;
              law["rates"]  = Json::array();
              for (const double rate : rates)
                law["rates"].push_back(std::isfinite(rate) ? Json(rate) : Json());
              json["convergence"].push_back(law);
            }
        }
      if (!inputs.points.empty())
        {
          std::ostringstream csv;
          csv << "law,time,point";
          for (unsigned int j = 0; j < d; ++j)
            csv << ",x" << j;
          csv << ",log_q\n" << std::setprecision(17);
          for (const auto &r : last)
            for (const auto &o : r.outputs)
              for (std::size_t i = 0; i < o.point_log_values.size(); ++i)
                {
                  csv << reverse_law_name(r.law) << "," << o.time << "," << i;
                  for (unsigned int j = 0; j < d; ++j)
                    csv << "," << inputs.points[i * d + j];
                  csv << "," << o.point_log_values[i] << "\n";
                }
          write_file_atomically(directory + "/points.csv", csv.str());
        }
      write_json_atomically(directory + "/summary.json", json);
      std::cout << "Results in " << directory << "/ (summary.json"
                << (inputs.points.empty() ? "" : ", points.csv") << ", "
                << (levels.size() > 1 ? "level-N/" : "")
                << (last.size() > 1
                        ? "ode-law/ and sde-law/"
                        : std::string(last.front().law == ReverseLaw::ode ? "ode" : "sde") +
                              "-law/")
                << " with statistics.csv" << (p.output.write_vtu ? ", solution.pvd" : "")
                << (p.output.reference_file.empty() ? "" : ", " + p.output.reference_file)
                << (p.reverse_law.check_sampler ? "; sampler-samples.npy" : "") << ")"
                << std::endl;
    }

    class ReverseLawTask : public Task
    {
    public:
      std::set<std::string> sections() const override
      {
        return {"Process",
                "Initial data",
                "Mesh",
                "Discretization",
                "Time stepping",
                "Linear solver",
                "Score",
                "Sampler",
                "Reverse law",
                "Checker",
                "Output"};
      }

      void check(const Parameters &p) const override
      {
        check_mesh_dimension(p, "reverse law");
        check_early_stopping(p, p.sampler.early_stopping, "Sampler/Early stopping");
        check_score_defined(p);
        p.sampler.score_source->check();
        if (std::filesystem::path(p.output.reference_file).is_absolute())
          throw InputError("Output/Reference file = " + p.output.reference_file +
                           ": Task = reverse law writes one file per law, in ode-law/ and "
                           "sde-law/ of Output/Directory; expected a relative name such as "
                           "law.h5.");
        if (p.reverse_law.check_sampler)
          {
            if (p.output.reference_file.empty())
              throw InputError("Reverse law/Check sampler checks the particles against the "
                               "induced law's reference file; expected Output/Reference file "
                               "to name one (e.g. law.h5).");
            const auto scheme = create_scheme(p.sampler.scheme, "Sampler/Scheme");
            scheme->check(*create_process(p.process), "Sampler/Scheme");
            if (p.sampler.corrector_steps > 0 || scheme->minimum_corrector_steps() > 0)
              throw InputError("Reverse law/Check sampler: Sampler/Scheme = " + p.sampler.scheme +
                               " with Langevin corrector steps follows no induced law of its "
                               "score; expected a scheme without corrector steps.");
            const ReverseLaw law =
                scheme->probability_flow() ? ReverseLaw::ode : ReverseLaw::sde;
            const auto laws = p.reverse_law.selected();
            if (std::find(laws.begin(), laws.end(), law) == laws.end())
              throw InputError("Reverse law/Check sampler: Sampler/Scheme = " + p.sampler.scheme +
                               " follows the " + reverse_law_name(law) +
                               " law, which Reverse law/Laws does not solve; expected Laws = " +
                               reverse_law_name(law) + " or both.");
          }
        if (!p.output.points_file.empty())
          throw InputError("Output/Points file is not read by Task = reverse law; use Reverse "
                           "law/Points file.");
        const auto process = create_process(p.process);
        const auto data    = create_data(p.data, p.dimension);
        require_closed_forms(*process,
                             *data,
                             {p.sampler.early_stopping, process->final_time},
                             true,
                             "Task = reverse law");
      }

      int run(const Parameters               &p,
              const dealii::ParameterHandler &prm,
              const MPI_Comm                  communicator) const override
      {
        run_reverse_law(p, prm, communicator);
        return 0;
      }
    };
  } // namespace

  SCOREFP_REGISTER(TaskRegistry,
                   "reverse law",
                   "the laws the probability-flow ODE and the reverse SDE produce with the score "
                   "of section Sampler, by discontinuous finite elements in reversed time from T "
                   "down to Sampler/Early stopping; distances to p_t and between the two laws "
                   "(section Reverse law).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<ReverseLawTask>(); })
} // namespace scorefp
