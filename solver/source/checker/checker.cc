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
#include <cctype>
#include <cstring>
#include <ctime>
#include <limits>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <unistd.h>

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

    /// A 64-bit digest of bytes (not cryptographic: it names and validates cache files).
    class Digest
    {
    public:
      void add(const void *data, const std::size_t size)
      {
        const auto *bytes = static_cast<const unsigned char *>(data);
        std::size_t i     = 0;
        for (; i + 8 <= size; i += 8)
          {
            std::uint64_t word;
            std::memcpy(&word, bytes + i, 8);
            word_in(word);
          }
        std::uint64_t last = 0;
        std::memcpy(&last, bytes + i, size - i);
        word_in(last ^ (std::uint64_t(size - i) << 56));
        length += size;
      }
      void add(const std::string &text) { add(text.data(), text.size()); }
      std::uint64_t value() const { return mix64(state ^ length); }
      std::string   hex() const
      {
        std::ostringstream s;
        s << std::hex << std::setw(16) << std::setfill('0') << value();
        return s.str();
      }

    private:
      void word_in(const std::uint64_t word)
      {
        state = (state ^ mix64(word + 0x9e3779b97f4a7c15ULL)) * 0x100000001b3ULL;
        state = (state << 29) | (state >> 35);
      }
      std::uint64_t state = 0xcbf29ce484222325ULL, length = 0;
    };

    std::string digest_of_file(const std::string &file)
    {
      std::ifstream in(file, std::ios::binary);
      if (!in)
        throw InputError("Cannot read the reference file '" + file + "' to digest it.");
      Digest            digest;
      std::vector<char> buffer(1 << 20);
      while (in)
        {
          in.read(buffer.data(), buffer.size());
          digest.add(buffer.data(), static_cast<std::size_t>(in.gcount()));
        }
      return digest.hex();
    }

    std::string digest_of_values(const std::vector<double> &values)
    {
      Digest digest;
      digest.add(values.data(), values.size() * sizeof(double));
      return digest.hex();
    }

    /// What identifies the reference in the cache's provenance: its description, the
    /// digest of the quadrature cloud (points, weights, mass outside: what the
    /// statistics see) and, for a file, the digest of its content (its sampler).
    std::string reference_identity(const CheckCase &p, const ReferenceLaw &law)
    {
      Digest cloud;
      cloud.add(law.cloud.points.data(), law.cloud.points.size() * sizeof(double));
      cloud.add(law.cloud.weights.data(), law.cloud.weights.size() * sizeof(double));
      cloud.add(&law.cloud.mass_outside, sizeof(double));
      std::string identity = law.description + "; cloud digest " + cloud.hex();
      if (p.checker.reference == CheckerParameters::Reference::file)
        identity += "; file digest " + digest_of_file(p.checker.reference_file);
      return identity;
    }

    /// One cached null: the file and the provenance it must carry.
    struct CacheEntry
    {
      std::string path, provenance;
      Json        fields; // the provenance as JSON fields
    };

    /// The null values of a cache file if it is whole and matches; empty otherwise, with
    /// the reason in `problem` (empty when the file does not exist).
    std::vector<double>
    read_cache(const CacheEntry &entry, const unsigned int count, std::string &problem)
    {
      problem.clear();
      if (!std::filesystem::exists(entry.path))
        return {};
      std::vector<double> values;
      try
        {
          std::ifstream      in(entry.path);
          std::ostringstream text;
          text << in.rdbuf();
          const Json json = Json::parse(text.str());
          if (!json.contains("provenance") || json["provenance"] != entry.provenance)
            problem = "its provenance differs";
          else if (!json.contains("values") || !json["values"].is_array() ||
                   json["values"].size() != count)
            problem = "it does not hold " + std::to_string(count) + " values";
          else
            {
              for (const auto &v : json["values"])
                {
                  if (!v.is_number() || !std::isfinite(v.get<double>()))
                    {
                      problem = "a value is not a finite number";
                      break;
                    }
                  values.push_back(v.get<double>());
                }
              if (problem.empty() &&
                  (!json.contains("values_digest") ||
                   json["values_digest"] != digest_of_values(values)))
                problem = "its values do not match their digest";
            }
        }
      catch (const std::exception &)
        {
          problem = "it is not valid JSON";
        }
      if (!problem.empty())
        values.clear();
      return values;
    }

    /// Write the null values atomically (a temporary file in the same directory, then
    /// renamed); false with the reason in `problem` if that fails.
    bool write_cache(const CacheEntry          &entry,
                     const std::vector<double> &values,
                     std::string               &problem)
    {
      try
        {
          std::filesystem::create_directories(std::filesystem::path(entry.path).parent_path());
          Json json;
          json["provenance"] = entry.provenance;
          for (const auto &[key, value] : entry.fields.items())
            json[key] = value;
          json["scorefp_version"] = SCOREFP_VERSION;
          const std::time_t now   = std::time(nullptr);
          char              date[32];
          std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
          json["date"]          = date;
          json["values_digest"] = digest_of_values(values);
          json["values"]        = values;
          const std::string temporary =
              entry.path + ".tmp" + std::to_string(static_cast<long long>(::getpid()));
          {
            std::ofstream out(temporary);
            out << json.dump(1) << "\n";
            if (!out)
              {
                problem = "cannot write '" + temporary + "'";
                std::filesystem::remove(temporary);
                return false;
              }
          }
          std::filesystem::rename(temporary, entry.path);
          return true;
        }
      catch (const std::exception &e)
        {
          problem = e.what();
          return false;
        }
    }

    /// A file name from a statistic's name: letters and digits kept, others '-'.
    std::string file_stem(const std::string &name)
    {
      std::string stem;
      for (const char ch : name)
        stem += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '-';
      return stem;
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
        statistics::sort_ascending(sorted_values);
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

  std::vector<double>
  PreparedStatistic::parts(const SampleView &samples, const unsigned int, const unsigned int) const
  {
    return {value(samples)};
  }

  double PreparedStatistic::combine(const std::vector<double> &all_parts) const
  {
    return all_parts.at(0);
  }

  std::vector<double> PreparedStatistic::law_parts(const std::vector<unsigned int> &) const
  {
    return {};
  }

  void PreparedStatistic::set_law(const std::vector<double> &) const {}

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
    for (const auto &statistic : selected)
      prepared.push_back(statistic->prepare(law, N, c.seed));

    // Observed values: the parts of all statistics (MMD^2's features, sliced W2's
    // directions, one part for the others) shared out over the ranks by number, then
    // combined in order, so that the values do not depend on the number of ranks.
    section.reset();
    section = scope("observed statistics");
    const unsigned int      rank = dealii::Utilities::MPI::this_mpi_process(communicator);
    const unsigned int      size = dealii::Utilities::MPI::n_mpi_processes(communicator);
    const SampleView        observed_samples(samples.values, d, &law.locate);
    const std::vector<int> &cells = observed_samples.cells();
    result.n_outside              = std::count(cells.begin(), cells.end(), -1);
    std::vector<unsigned int> first_part(n_statistics + 1, 0);
    for (std::size_t s = 0; s < n_statistics; ++s)
      first_part[s + 1] = first_part[s] + prepared[s]->n_parts();
    // A statistic of several parts: a contiguous block of them per rank; of one part:
    // the rank of its number.
    std::vector<double> my_parts; // (global part number, value) pairs
    for (std::size_t s = 0; s < n_statistics; ++s)
      {
        const unsigned int n     = prepared[s]->n_parts();
        const unsigned int begin = n == 1 ? (s % size == rank ? 0 : 1) : n * rank / size;
        const unsigned int end   = n == 1 ? 1 : n * (rank + 1) / size;
        if (begin >= end)
          continue;
        const std::vector<double> values = prepared[s]->parts(observed_samples, begin, end);
        for (unsigned int k = begin; k < end; ++k)
          {
            my_parts.push_back(first_part[s] + k);
            my_parts.push_back(values.at(k - begin));
          }
      }
    std::vector<double> all_parts(first_part.back());
    for (const auto &part : dealii::Utilities::MPI::all_gather(communicator, my_parts))
      for (std::size_t i = 0; i + 1 < part.size(); i += 2)
        all_parts[static_cast<std::size_t>(part[i])] = part[i + 1];
    std::vector<double> observed;
    for (std::size_t s = 0; s < n_statistics; ++s)
      observed.push_back(prepared[s]->combine(std::vector<double>(
          all_parts.begin() + first_part[s], all_parts.begin() + first_part[s + 1])));

    // Where each p-value comes from. Under auto: the asymptotic law if the statistic has
    // one, else the null cache (read by rank 0 and broadcast), else null draws now.
    std::vector<std::string> null_of(n_statistics, "monte carlo");
    std::vector<char>        draw_now(n_statistics, 1);
    std::vector<std::vector<double>> null(n_statistics);
    std::vector<CacheEntry>          cache(n_statistics);
    const bool automatic = c.null_method == CheckerParameters::NullMethod::automatic;
    std::vector<std::size_t> cached_ones;
    if (automatic)
      for (std::size_t s = 0; s < n_statistics; ++s)
        {
          if (prepared[s]->has_asymptotic_law())
            {
              null_of[s]  = "asymptotic";
              draw_now[s] = 0;
            }
          else
            cached_ones.push_back(s);
        }
    section.reset();
    const std::string directory = !c.null_cache.empty()
                                    ? c.null_cache
                                    : c.reference == CheckerParameters::Reference::file
                                        ? c.reference_file + ".null-cache"
                                        : p.output_directory + "/null-cache";
    // Only rank 0 touches the cache: it digests the reference and reads the files.
    std::string identity;
    const auto  cache_entry = [&](const std::size_t s, const bool asymptotic_law) {
      if (identity.empty())
        identity = reference_identity(p, law);
      const std::string  parameters = selected[s]->parameters();
      CacheEntry         entry;
      std::ostringstream provenance;
      provenance << (asymptotic_law ? "asymptotic law of " : "statistic = ") << names[s]
                 << (parameters.empty() ? "" : " (" + parameters + ")");
      if (!asymptotic_law)
        provenance << "; samples = " << N << "; null draws = " << c.null_draws;
      provenance << "; seed = " << c.seed << "; reference = " << identity;
      entry.provenance = provenance.str();
      Digest name;
      name.add(entry.provenance);
      entry.path = directory + "/" + file_stem(names[s]) + (asymptotic_law ? "-law-" : "-") +
                   name.hex() + ".json";
      entry.fields["statistic"]  = names[s];
      entry.fields["parameters"] = parameters;
      if (!asymptotic_law)
        {
          entry.fields["n_samples"]  = N;
          entry.fields["null_draws"] = c.null_draws;
        }
      entry.fields["seed"]      = c.seed;
      entry.fields["reference"] = identity;
      return entry;
    };
    // The values of a cache file (rank 0 reads, every rank gets them); empty if there is
    // none or it is not usable (then with a warning).
    const auto read_cache_on_root = [&](const CacheEntry &entry, const std::size_t count) {
      std::vector<double> values;
      if (rank == 0)
        {
          std::string problem;
          values = read_cache(entry, count, problem);
          if (!problem.empty())
            std::cout << "warning: the null cache file '" << entry.path << "' is not usable ("
                      << problem << "); its values are computed again." << std::endl;
        }
      unsigned long long n_values = values.size();
      MPI_Bcast(&n_values, 1, MPI_UNSIGNED_LONG_LONG, 0, communicator);
      values.resize(n_values);
      if (n_values > 0)
        MPI_Bcast(values.data(), static_cast<int>(n_values), MPI_DOUBLE, 0, communicator);
      return values;
    };
    if (!cached_ones.empty())
      {
        section = scope("null cache");
        for (const std::size_t s : cached_ones)
          {
            if (rank == 0)
              cache[s] = cache_entry(s, false);
            const std::vector<double> values = read_cache_on_root(cache[s], c.null_draws);
            const unsigned long long  count  = values.size();
            if (count > 0)
              {
                null[s]     = values;
                null_of[s]  = "cached";
                draw_now[s] = 0;
              }
            else
              null_of[s] = "computed and cached";
          }
        section.reset();
      }

    // Null draws r = rank, rank + P, ...: sample set r uses streams r N .. r N + N - 1,
    // for the statistics whose null values are needed now; none when there are none.
    std::vector<std::size_t> drawn;
    bool                     null_samples = false;
    for (std::size_t s = 0; s < n_statistics; ++s)
      if (draw_now[s])
        {
          drawn.push_back(s);
          null_samples = null_samples || prepared[s]->needs_null_samples();
        }
    if (!drawn.empty())
      {
        section = scope("null draws");
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
            for (const std::size_t s : drawn)
              mine.push_back(prepared[s]->null_value(draw_samples, r));
            const double elapsed =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (progress && elapsed - last_line >= p.progress_interval)
              {
                last_line               = elapsed;
                const unsigned int done = r / size + 1,
                                   mine_total = (c.null_draws + size - 1) / size;
                std::cout << "  null draws: " << done << " of " << mine_total << " on rank 0, "
                          << std::fixed << std::setprecision(1) << elapsed << " s, ETA "
                          << elapsed * (mine_total - done) / done << " s" << std::defaultfloat
                          << std::endl;
              }
          }
        if (null_samples)
          result.null_sets_drawn = c.null_draws;
        const std::size_t width = drawn.size() + 1;
        for (const std::size_t s : drawn)
          null[s].assign(c.null_draws, 0.0);
        for (const auto &part : dealii::Utilities::MPI::all_gather(communicator, mine))
          for (std::size_t i = 0; i + width <= part.size(); i += width)
            {
              const auto r = static_cast<std::size_t>(part[i]);
              for (std::size_t k = 0; k < drawn.size(); ++k)
                null[drawn[k]][r] = part[i + 1 + k];
            }
        section.reset();

        // The new null values into the cache; a cache that cannot be written leaves the
        // check as it is (its p-values then come from draws made now) with one warning.
        if (!cached_ones.empty())
          {
            section = scope("null cache");
            int         written = 1;
            std::string problem;
            if (rank == 0)
              for (const std::size_t s : cached_ones)
                if (draw_now[s] && written)
                  written = write_cache(cache[s], null[s], problem);
            MPI_Bcast(&written, 1, MPI_INT, 0, communicator);
            if (!written)
              {
                if (rank == 0)
                  std::cout << "warning: cannot write the null cache in '" << directory
                            << "' (" << problem << "); the check goes on without it." << std::endl;
                for (const std::size_t s : cached_ones)
                  if (draw_now[s])
                    null_of[s] = "monte carlo";
              }
            section.reset();
          }
      }

    // The asymptotic laws: their costly setup shared over the ranks (part k on rank
    // k mod P, which balances MMD^2's triangle of rows), the rest (eigenvalues, draws)
    // on first use below.
    section = scope("p-values");
    for (std::size_t s = 0; s < n_statistics; ++s)
      if (null_of[s] == "asymptotic" && prepared[s]->n_law_parts() > 0)
        {
          // A law of this reference and these parameters may be in the cache already
          // (it does not depend on the samples).
          const std::size_t length    = prepared[s]->law_summary_length();
          CacheEntry        law_entry = rank == 0 && length > 0 ? cache_entry(s, true) : CacheEntry{};
          if (length > 0)
            {
              const std::vector<double> summary = read_cache_on_root(law_entry, length);
              if (!summary.empty())
                {
                  prepared[s]->set_law_summary(summary);
                  continue;
                }
            }
          const unsigned int        n = prepared[s]->n_law_parts();
          std::vector<unsigned int> which;
          for (unsigned int k = rank; k < n; k += size)
            which.push_back(k);
          const auto gathered =
              dealii::Utilities::MPI::all_gather(communicator, prepared[s]->law_parts(which));
          // Rank q holds parts q, q + P, ... concatenated: put them back in part order.
          std::vector<std::size_t> offset(size, 0);
          std::vector<double>      all;
          for (unsigned int k = 0; k < n; ++k)
            {
              const unsigned int  owner  = k % size;
              const std::size_t   length = prepared[s]->law_part_length(k);
              const auto         &from   = gathered[owner];
              all.insert(all.end(), from.begin() + offset[owner], from.begin() + offset[owner] + length);
              offset[owner] += length;
            }
          prepared[s]->set_law(all);
          if (length > 0)
            {
              // Every rank computes the summary (the eigenvalues), rank 0 writes it; a
              // cache that cannot be written only costs the next check this work.
              const std::vector<double> summary = prepared[s]->law_summary();
              std::string               problem;
              if (rank == 0 && !write_cache(law_entry, summary, problem))
                std::cout << "warning: cannot write the null cache in '" << directory << "' ("
                          << problem << "); the check goes on without it." << std::endl;
            }
        }
    const double bonferroni = c.level / n_statistics;
    // p <= alpha / K rejects; the slack keeps p = 1/(R+1) = alpha/K (e.g. 99 draws,
    // alpha = 0.05, 5 statistics) a rejection despite rounding.
    const double threshold = bonferroni * (1.0 + 1e-9);
    for (std::size_t s = 0; s < n_statistics; ++s)
      {
        CheckStatistic st;
        st.name               = names[s];
        st.value              = observed[s];
        st.null               = null_of[s];
        st.asymptotic_p_value = prepared[s]->asymptotic_p_value(observed[s]);
        if (null_of[s] == "asymptotic")
          {
            st.p_value     = st.asymptotic_p_value;
            st.null_median = st.null_95 = std::numeric_limits<double>::quiet_NaN();
          }
        else
          {
            st.p_value     = statistics::calibrated_p_value(observed[s], null[s]);
            st.null_median = quantile_of(null[s], 0.5);
            st.null_95     = quantile_of(null[s], 0.95);
          }
        st.pass     = st.p_value > c.level * (1.0 + 1e-9);
        result.pass = result.pass && st.p_value > threshold;
        result.statistics.push_back(st);
      }
    section.reset();
    return result;
  }
} // namespace scorefp
