#include <scorefp/checker/checker.h>
#include <scorefp/checker/statistic.h>
#include <scorefp/checker/statistics.h>
#include <scorefp/core/input_error.h>
#include <scorefp/core/random.h>
#include <scorefp/io/json.h>
#include <scorefp/io/sample_files.h>
#include <scorefp/reference/reference_field.h>

#include <deal.II/base/conditional_ostream.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/timer.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace scorefp
{
  namespace
  {
    /// The "time" entry of the JSON file Task = sample writes next to its samples.
    double time_from_metadata(const std::string &samples_file)
    {
      const std::string file = samples_file + ".json";
      if (!std::ifstream(file))
        throw InputError("Checker/Time is negative, which means 'read the time from '" + file +
                         "'', but that file does not exist; set Checker/Time to the time the "
                         "samples represent.");
      const Json metadata = read_json(file, "The samples' metadata file");
      if (!metadata.contains("time") || !metadata["time"].is_number())
        throw InputError("'" + file + "' has no \"time\" entry; set Checker/Time instead.");
      return metadata["time"].get<double>();
    }

    struct Owned
    {
      std::unique_ptr<ForwardProcess>   process;
      std::unique_ptr<DataDistribution> data;
      std::unique_ptr<DensityField>     field;
      std::unique_ptr<CaseMeshCloud>    mesh;
      std::unique_ptr<ReferenceField>   file;
    };

    ReferenceLaw make_reference(const CheckCase   &p,
                                const double       t,
                                const unsigned int points,
                                Owned             &owned)
    {
      ReferenceLaw       law;
      const unsigned int d = p.dimension;
      if (p.checker.reference == CheckerParameters::Reference::closed_form)
        {
          owned.process = create_process(p.process);
          owned.data    = create_data(p.data, d);
          if (t < owned.process->start_time || t > owned.process->final_time)
            throw InputError("The samples' time " + std::to_string(t) +
                             " lies outside [Start time, Final time].");
          const double m = owned.process->transition_mean_factor(t);
          const double v = owned.process->transition_variance(t);
          if (!owned.data->has_closed_form(m, v))
            throw InputError(owned.data->no_closed_form(
                t, v, "check against a reference file of Task = solve (Checker/Reference = file)"));
          owned.field = owned.data->transported(m, v);
          const double c =
              p.scaled_coordinates
                  ? CoordinateScaling(*owned.process, true, owned.data->scale()).scale(t)
                  : 1.0;
          owned.mesh = std::make_unique<CaseMeshCloud>(p.mesh, d, p.mesh.refinement_levels.back());
          law.cloud  = owned.mesh->closed_form_cloud(c, *owned.field, points);
          law.description = "closed form: " + owned.process->name() + ", " +
                            owned.data->description() + ", t = " + std::to_string(t);
          const CaseMeshCloud    *mesh = owned.mesh.get();
          const DataDistribution *data = owned.data.get();
          law.locate                   = [mesh, c, d](const std::vector<double> &x) {
            return mesh->locate(c, x.data(), x.size() / d);
          };
          law.sample = [data, m, v, d](const std::size_t    n,
                                       const std::uint64_t  seed,
                                       const std::uint64_t  offset,
                                       std::vector<double> &out) {
            out.resize(n * d);
            for (std::size_t k = 0; k < n; ++k)
              {
                CounterRng rng(seed, offset + k);
                data->sample_transported(rng, m, v, &out[k * d]);
              }
          };
          return law;
        }

      owned.file                = ReferenceField::read(p.checker.reference_file);
      const ReferenceField &ref = *owned.file;
      if (ref.dimension() != d)
        throw InputError("Reference file '" + p.checker.reference_file + "' is " +
                         std::to_string(ref.dimension()) +
                         "-dimensional, but Dimension = " + std::to_string(d) + ".");
      const std::vector<double> times    = ref.times();
      unsigned int              snapshot = times.size();
      for (unsigned int i = 0; i < times.size(); ++i)
        if (std::abs(times[i] - t) <= 1e-9 * std::max(1.0, std::abs(t)))
          snapshot = i;
      if (snapshot == times.size())
        {
          std::ostringstream list;
          for (const double s : times)
            list << (list.tellp() > 0 ? ", " : "") << s;
          throw InputError("Reference file '" + p.checker.reference_file +
                           "' has no snapshot at the samples' time " + std::to_string(t) +
                           "; its snapshots are at t = " + list.str() + ".");
        }
      law.cloud       = ref.cloud(snapshot, points);
      law.description = "reference file " + p.checker.reference_file + " (" + ref.equation() +
                        " run, " + ref.data_description() + "), t = " + std::to_string(t);
      law.locate = [&ref, snapshot, d](const std::vector<double> &x) {
        return ref.locate(snapshot, x.data(), x.size() / d);
      };
      law.sample = [&ref, snapshot, d](const std::size_t    n,
                                       const std::uint64_t  seed,
                                       const std::uint64_t  offset,
                                       std::vector<double> &out) {
        out.resize(n * d);
        ref.sample(snapshot, n, seed, offset, out.data());
      };
      return law;
    }

    /// Checker/Exact draws: X_t = m X_0 + sqrt(v) Z, draw i from stream i of seed
    /// Seed + 1 (the null draws use Seed), shared out over the ranks by index and
    /// gathered, so that the set is the same for any number of ranks.
    SampleSet exact_draws(const CheckCase   &p,
                          const double       t,
                          const MPI_Comm     communicator,
                          std::string       &description)
    {
      const auto         process = create_process(p.process);
      const auto         data    = create_data(p.data, p.dimension);
      const unsigned int d       = p.dimension;
      if (t < process->start_time || t > process->final_time)
        throw InputError("Checker/Time " + std::to_string(t) +
                         " lies outside [Start time, Final time].");
      const double        m = process->transition_mean_factor(t);
      const double        v = process->transition_variance(t);
      const std::size_t   N = p.checker.exact_draws;
      const unsigned int  rank = dealii::Utilities::MPI::this_mpi_process(communicator);
      const unsigned int  size = dealii::Utilities::MPI::n_mpi_processes(communicator);
      const std::size_t   begin = N * rank / size, end = N * (rank + 1) / size;
      std::vector<double> mine((end - begin) * d);
      for (std::size_t i = begin; i < end; ++i)
        {
          CounterRng rng(p.checker.seed + 1, i, 3);
          data->sample_transported(rng, m, v, &mine[(i - begin) * d]);
        }
      SampleSet set;
      set.dimension = d;
      for (const auto &part : dealii::Utilities::MPI::all_gather(communicator, mine))
        set.values.insert(set.values.end(), part.begin(), part.end());
      std::ostringstream s;
      s << "exact draws X_t = m X_0 + sqrt(v) Z (" << process->name() << ", "
        << data->description() << ", t = " << t << ", seed " << p.checker.seed + 1 << ")";
      description = s.str();
      return set;
    }

    double quantile_of(std::vector<double> values, const double q)
    {
      std::sort(values.begin(), values.end());
      return values[std::min<std::size_t>(values.size() - 1, q * values.size())];
    }
  } // namespace

  SampleView::SampleView(
      const std::vector<double>                                          &values,
      const unsigned int                                                  dimension,
      const std::function<std::vector<int>(const std::vector<double> &)> *locate)
      : coordinates(values)
      , dim(dimension)
      , locator(locate)
  {
  }

  const std::vector<double> &SampleView::sorted() const
  {
    if (!have_sorted)
      {
        sorted_values = coordinates;
        std::sort(sorted_values.begin(), sorted_values.end());
        have_sorted = true;
      }
    return sorted_values;
  }

  const std::vector<int> &SampleView::cells() const
  {
    if (!have_cells)
      {
        if (locator == nullptr || !*locator)
          throw InputError("A checker statistic asked for the cells of samples whose "
                           "reference law cannot locate points.");
        cell_of_point = (*locator)(coordinates);
        have_cells    = true;
      }
    return cell_of_point;
  }

  double PreparedStatistic::null_value(const SampleView &samples, const std::uint64_t) const
  {
    return value(samples);
  }

  double PreparedStatistic::asymptotic_p_value(const double) const
  {
    return -1.0;
  }

  CheckResult
  check_samples(const CheckCase &p, const MPI_Comm communicator, dealii::TimerOutput *timer)
  {
    const auto scope = [timer](const std::string &name) {
      return timer ? std::make_unique<dealii::TimerOutput::Scope>(*timer, name)
                   : std::unique_ptr<dealii::TimerOutput::Scope>();
    };
    const CheckerParameters &c = p.checker;
    const unsigned int       d = p.dimension;
    CheckResult              result;
    result.samples_file = c.exact_draws > 0 ? "" : c.samples_file;
    result.dimension    = d;
    result.null_draws   = c.null_draws;
    result.level        = c.level;
    result.time         = c.time >= 0 || c.exact_draws > 0 ? c.time : time_from_metadata(c.samples_file);

    // The statistics of Checker/Statistics that apply in this dimension, in its order;
    // members not parsed (parameters built in code) take their defaults.
    std::vector<std::string>                      names;
    std::vector<std::shared_ptr<const Statistic>> selected;
    for (const auto &s : c.statistics)
      {
        std::shared_ptr<const Statistic> statistic =
            s.statistic ? s.statistic
                        : std::shared_ptr<const Statistic>(
                              StatisticRegistry::instance().get(s.name, "Checker/Statistics")
                                  .create_default());
        if (statistic->applies_in(d))
          {
            names.push_back(s.name);
            selected.push_back(statistic);
          }
      }
    if (selected.empty())
      throw InputError("None of the statistics of Checker/Statistics applies to " +
                       std::to_string(d) + "-dimensional samples; expected at least one.");

    const std::size_t n_statistics = selected.size();
    if ((c.null_draws + 1.0) * c.level / n_statistics < 1.0 - 1e-9)
      throw InputError(
          "Checker/Null draws = " + std::to_string(c.null_draws) +
          " cannot give a p-value below alpha / " + std::to_string(n_statistics) +
          " (the level of each of the " + std::to_string(n_statistics) +
          " statistics in the overall verdict); expected at least " +
          std::to_string(static_cast<int>(std::ceil(n_statistics / c.level - 1e-9)) - 1) + ".");
    auto      section = scope(c.exact_draws > 0 ? "exact draws" : "read samples");
    SampleSet samples;
    if (c.exact_draws > 0)
      samples = exact_draws(p, result.time, communicator, result.samples_file);
    else
      samples = read_samples(c.samples_file, d);
    section.reset();
    const std::size_t N = samples.size();
    result.n_samples    = N;

    section = scope("reference");
    Owned              owned;
    const unsigned int points = c.cloud_points > 0 ? c.cloud_points : p.polynomial_degree + 2;
    const ReferenceLaw law    = make_reference(p, result.time, points, owned);
    result.reference          = law.description;

    std::vector<std::unique_ptr<PreparedStatistic>> prepared;
    bool                                            null_samples = false;
    for (const auto &statistic : selected)
      {
        prepared.push_back(statistic->prepare(law, N, c.seed));
        null_samples = null_samples || prepared.back()->needs_null_samples();
      }

    // Observed values.
    section.reset();
    section = scope("observed statistics");
    const SampleView observed_samples(samples.values, d, &law.locate);
    const std::vector<int> &cells = observed_samples.cells();
    result.n_outside              = std::count(cells.begin(), cells.end(), -1);
    std::vector<double> observed;
    for (const auto &statistic : prepared)
      observed.push_back(statistic->value(observed_samples));

    section.reset();
    section = scope("null draws");
    // Null draws r = rank, rank + P, ...: sample set r uses streams r N .. r N + N - 1.
    const unsigned int  rank = dealii::Utilities::MPI::this_mpi_process(communicator);
    const unsigned int  size = dealii::Utilities::MPI::n_mpi_processes(communicator);
    std::vector<double> mine; // (draw, values...) per draw
    std::vector<double> draw;
    const auto          start     = std::chrono::steady_clock::now();
    double              last_line = 0.0;
    const bool          progress  = rank == 0 && p.progress_interval >= 0;
    for (unsigned int r = rank; r < c.null_draws; r += size)
      {
        if (null_samples)
          law.sample(N, c.seed, std::uint64_t(r) * N, draw);
        const SampleView draw_samples(draw, d, &law.locate);
        mine.push_back(r);
        for (const auto &statistic : prepared)
          mine.push_back(statistic->null_value(draw_samples, r));
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (progress && elapsed - last_line >= p.progress_interval)
          {
            last_line               = elapsed;
            const unsigned int done = r / size + 1, mine_total = (c.null_draws + size - 1) / size;
            std::cout << "  null draws: " << done << " of " << mine_total << " on rank 0, "
                      << std::fixed << std::setprecision(1) << elapsed << " s, ETA "
                      << elapsed * (mine_total - done) / done << " s" << std::defaultfloat
                      << std::endl;
          }
      }
    const std::size_t                width = n_statistics + 1;
    std::vector<std::vector<double>> null(n_statistics, std::vector<double>(c.null_draws));
    for (const auto &part : dealii::Utilities::MPI::all_gather(communicator, mine))
      for (std::size_t i = 0; i + width <= part.size(); i += width)
        {
          const auto r = static_cast<std::size_t>(part[i]);
          for (std::size_t s = 0; s < n_statistics; ++s)
            null[s][r] = part[i + 1 + s];
        }

    section.reset();
    const double bonferroni = c.level / n_statistics;
    // p <= alpha / K rejects; the slack keeps p = 1/(R+1) = alpha/K (e.g. 99 draws,
    // alpha = 0.05, 5 statistics) a rejection despite rounding.
    const double threshold = bonferroni * (1.0 + 1e-9);
    for (std::size_t s = 0; s < n_statistics; ++s)
      {
        CheckStatistic st;
        st.name               = names[s];
        st.value              = observed[s];
        st.p_value            = statistics::calibrated_p_value(observed[s], null[s]);
        st.null_median        = quantile_of(null[s], 0.5);
        st.null_95            = quantile_of(null[s], 0.95);
        st.pass               = st.p_value > c.level * (1.0 + 1e-9);
        st.asymptotic_p_value = prepared[s]->asymptotic_p_value(observed[s]);
        result.pass           = result.pass && st.p_value > threshold;
        result.statistics.push_back(st);
      }
    return result;
  }
} // namespace scorefp
