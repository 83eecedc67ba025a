#include <scorefp/checker.h>
#include <scorefp/input_error.h>
#include <scorefp/io.h>
#include <scorefp/parameters.h>
#include <scorefp/random.h>
#include <scorefp/reference_field.h>
#include <scorefp/sample_files.h>
#include <scorefp/statistics.h>

#include "task_output.h"

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
#include <regex>
#include <sstream>

namespace scorefp
{
  namespace
  {
    /// The "time" entry of the JSON file Task = sample writes next to its samples.
    double time_from_metadata(const std::string &samples_file)
    {
      const std::string file = samples_file + ".json";
      std::ifstream     in(file);
      if (!in)
        throw InputError("Checker/Time is negative, which means 'read the time from '" + file +
                         "'', but that file does not exist; set Checker/Time to the time the "
                         "samples represent.");
      std::stringstream text;
      text << in.rdbuf();
      std::smatch match;
      const auto  content = text.str();
      if (!std::regex_search(content, match, std::regex("\"time\"\\s*:\\s*([-+0-9.eE]+)")))
        throw InputError("'" + file + "' has no \"time\" entry; set Checker/Time instead.");
      return std::stod(match[1]);
    }

    /// What the checker needs of a reference law at one time.
    struct ReferenceLaw
    {
      std::string     description;
      QuadratureCloud cloud;
      /// Cells of points (-1 outside).
      std::function<std::vector<int>(const std::vector<double> &)> locate;
      /// n draws into out, draw k from CounterRng(seed, offset + k).
      std::function<void(std::size_t, std::uint64_t, std::uint64_t, std::vector<double> &)> sample;
    };

    struct Owned
    {
      std::unique_ptr<ForwardProcess>   process;
      std::unique_ptr<DataDistribution> data;
      std::unique_ptr<DensityField>     field;
      std::unique_ptr<CaseMeshCloud>    mesh;
      std::unique_ptr<ReferenceField>   file;
    };

    ReferenceLaw
    make_reference(const Parameters &p, const double t, const unsigned int points, Owned &owned)
    {
      ReferenceLaw       law;
      const unsigned int d = p.dimension;
      if (p.checker.reference == "closed form")
        {
          owned.process = create_process(p.process);
          owned.data    = create_data(p.data, d);
          if (t < owned.process->start_time || t > owned.process->final_time)
            throw InputError("The samples' time " + std::to_string(t) +
                             " lies outside [Start time, Final time].");
          const double m = owned.process->transition_mean_factor(t);
          const double v = owned.process->transition_variance(t);
          owned.field    = owned.data->transported(m, v);
          const double c =
              p.use_scaled_coordinates()
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

    /// The statistics of one sample set; chi^2 comes from its cell counts separately.
    class Statistics
    {
    public:
      Statistics(const QuadratureCloud &cloud, const CheckerParameters &c, const unsigned int d)
          : d(d)
          , one_d(d == 1 ? statistics::Weighted1D::from_cloud(cloud) : statistics::Weighted1D{})
          , sliced(cloud, statistics::random_directions(d, c.sliced_directions, c.seed))
          , mmd(cloud,
                c.mmd_bandwidth > 0 ? c.mmd_bandwidth : statistics::reference_scale(cloud),
                c.mmd_features,
                c.seed)
      {
      }

      std::vector<std::string> names() const
      {
        if (d == 1)
          return {"W1", "W2", "KS", "MMD^2"};
        return {"sliced W2", "MMD^2"};
      }

      /// Values in the order of names(); the KS asymptotic p-value into ks_p.
      std::vector<double> operator()(const std::vector<double> &x, double *ks_p = nullptr) const
      {
        std::vector<double> values;
        if (d == 1)
          {
            std::vector<double> sorted = x;
            std::sort(sorted.begin(), sorted.end());
            const auto ks = statistics::kolmogorov_smirnov(sorted, one_d);
            values        = {statistics::wasserstein_p(sorted, one_d, 1.0),
                             statistics::wasserstein_p(sorted, one_d, 2.0),
                             ks.statistic};
            if (ks_p)
              *ks_p = ks.p_value;
          }
        else
          values.push_back(sliced(x, d));
        values.push_back(mmd(x, d));
        return values;
      }

    private:
      unsigned int                  d;
      statistics::Weighted1D        one_d;
      statistics::SlicedWasserstein sliced;
      statistics::FourierMmd        mmd;
    };

    double quantile_of(std::vector<double> values, const double q)
    {
      std::sort(values.begin(), values.end());
      return values[std::min<std::size_t>(values.size() - 1, q * values.size())];
    }
  } // namespace

  CheckResult
  check_samples(const Parameters &p, const MPI_Comm communicator, dealii::TimerOutput *timer)
  {
    const auto scope = [timer](const std::string &name) {
      return timer ? std::make_unique<dealii::TimerOutput::Scope>(*timer, name)
                   : std::unique_ptr<dealii::TimerOutput::Scope>();
    };
    const CheckerParameters &c = p.checker;
    const unsigned int       d = p.dimension;
    CheckResult              result;
    result.samples_file = c.samples_file;
    result.dimension    = d;
    result.null_draws   = c.null_draws;
    result.level        = c.level;
    result.time         = c.time >= 0 ? c.time : time_from_metadata(c.samples_file);

    const unsigned int n_statistics = (d == 1 ? 4 : 2) + 1;
    if ((c.null_draws + 1.0) * c.level / n_statistics < 1.0 - 1e-9)
      throw InputError(
          "Checker/Null draws = " + std::to_string(c.null_draws) +
          " cannot give a p-value below alpha / " + std::to_string(n_statistics) +
          " (the level of each of the " + std::to_string(n_statistics) +
          " statistics in the overall verdict); expected at least " +
          std::to_string(static_cast<int>(std::ceil(n_statistics / c.level - 1e-9)) - 1) + ".");
    auto            section = scope("read samples");
    const SampleSet samples = read_samples(c.samples_file, d);
    section.reset();
    const std::size_t N = samples.size();
    result.n_samples    = N;

    section = scope("reference");
    Owned              owned;
    const unsigned int points = c.cloud_points > 0 ? c.cloud_points : p.discretization.degree + 2;
    const ReferenceLaw law    = make_reference(p, result.time, points, owned);
    result.reference          = law.description;

    const Statistics                 stats(law.cloud, c, d);
    const statistics::ChiSquaredBins bins(
        statistics::cell_masses(law.cloud), law.cloud.mass_outside, N);

    // Observed values.
    section.reset();
    section                         = scope("observed statistics");
    double                 ks_p     = -1.0;
    std::vector<double>    observed = stats(samples.values, &ks_p);
    const std::vector<int> cells    = law.locate(samples.values);
    result.n_outside                = std::count(cells.begin(), cells.end(), -1);
    const double chi2               = bins.statistic(bins.counts(cells));

    section.reset();
    section = scope("null draws");
    // Null draws r = rank, rank + P, ...: sample set r uses streams r N .. r N + N - 1.
    const unsigned int  rank = dealii::Utilities::MPI::this_mpi_process(communicator);
    const unsigned int  size = dealii::Utilities::MPI::n_mpi_processes(communicator);
    std::vector<double> mine; // (draw, values..., chi2) per draw
    std::vector<double> draw;
    const auto          start     = std::chrono::steady_clock::now();
    double              last_line = 0.0;
    const bool          progress  = rank == 0 && !p.output.quiet;
    for (unsigned int r = rank; r < c.null_draws; r += size)
      {
        law.sample(N, c.seed, std::uint64_t(r) * N, draw);
        const std::vector<double> values = stats(draw);
        mine.push_back(r);
        mine.insert(mine.end(), values.begin(), values.end());
        mine.push_back(bins.statistic(bins.multinomial_counts(c.seed, r)));
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (progress && elapsed - last_line >= p.output.progress_interval)
          {
            last_line               = elapsed;
            const unsigned int done = r / size + 1, mine_total = (c.null_draws + size - 1) / size;
            std::cout << "  null draws: " << done << " of " << mine_total << " on rank 0, "
                      << std::fixed << std::setprecision(1) << elapsed << " s, ETA "
                      << elapsed * (mine_total - done) / done << " s" << std::defaultfloat
                      << std::endl;
          }
      }
    const std::size_t                width = observed.size() + 2;
    std::vector<std::vector<double>> null(observed.size() + 1, std::vector<double>(c.null_draws));
    for (const auto &part : dealii::Utilities::MPI::all_gather(communicator, mine))
      for (std::size_t i = 0; i + width <= part.size(); i += width)
        {
          const auto r = static_cast<std::size_t>(part[i]);
          for (std::size_t s = 0; s + 1 < width; ++s)
            null[s][r] = part[i + 1 + s];
        }

    section.reset();
    std::vector<std::string> names = stats.names();
    names.push_back("chi^2 over cells");
    observed.push_back(chi2);
    const double bonferroni = c.level / names.size();
    // p <= alpha / K rejects; the slack keeps p = 1/(R+1) = alpha/K (e.g. 99 draws,
    // alpha = 0.05, 5 statistics) a rejection despite rounding.
    const double threshold = bonferroni * (1.0 + 1e-9);
    for (std::size_t s = 0; s < names.size(); ++s)
      {
        CheckStatistic st;
        st.name        = names[s];
        st.value       = observed[s];
        st.p_value     = statistics::calibrated_p_value(observed[s], null[s]);
        st.null_median = quantile_of(null[s], 0.5);
        st.null_95     = quantile_of(null[s], 0.95);
        st.pass        = st.p_value > c.level * (1.0 + 1e-9);
        if (names[s] == "KS")
          st.asymptotic_p_value = ks_p;
        if (s + 1 == names.size())
          st.asymptotic_p_value = bins.p_value(chi2);
        result.pass = result.pass && st.p_value > threshold;
        result.statistics.push_back(st);
      }
    return result;
  }

  bool run_check_task(const Parameters &p, const MPI_Comm communicator)
  {
    TaskOutput                  output(p, communicator);
    const bool                  root  = output.root;
    dealii::ConditionalOStream &pcout = output.pcout;
    dealii::TimerOutput        &timer = output.timer;
    output.remove_stale({p.output.directory + "/check.json"});
    const CheckResult  r = check_samples(p, communicator, &timer);
    std::ostringstream s;
    s << "Check of " << r.n_samples << " samples (" << r.dimension << "D) in " << r.samples_file
      << "\n  against " << r.reference << "\n  " << r.null_draws
      << " null sample sets of the same size drawn from the reference; level alpha = " << r.level
      << "\n";
    if (r.n_outside > 0)
      s << "  " << r.n_outside << " samples lie outside the mesh (they count in the outside bin "
        << "of chi^2)\n";
    s << "\n  statistic            value        p-value   null median  null 95%   asymptotic p  "
         "verdict\n";
    for (const auto &st : r.statistics)
      {
        s << "  " << std::left << std::setw(18) << st.name << std::right << std::scientific
          << std::setprecision(3) << std::setw(12) << st.value << std::fixed << std::setprecision(3)
          << std::setw(10) << st.p_value << std::scientific << std::setw(13) << st.null_median
          << std::setw(11) << st.null_95 << "  ";
        if (st.asymptotic_p_value >= 0)
          s << std::fixed << std::setw(12) << st.asymptotic_p_value;
        else
          s << std::setw(12) << "-";
        s << "  " << (st.pass ? "pass" : "FAIL") << "\n";
      }
    s << std::defaultfloat << "\nVerdict: " << (r.pass ? "PASS" : "FAIL") << " at level " << r.level
      << ": a pass needs every calibrated p-value above alpha/" << r.statistics.size()
      << " (Bonferroni)\n";
    pcout << s.str();

    if (root)
      {
        std::filesystem::create_directories(p.output.directory);
        std::ostringstream text;
        JsonWriter         json(text);
        json.begin_object();
        json.value("scorefp_version", std::string(SCOREFP_VERSION));
        json.value("samples", r.samples_file);
        json.value("reference", r.reference);
        json.value("time", r.time);
        json.value("n_samples", r.n_samples);
        json.value("dimension", r.dimension);
        json.value("null_draws", r.null_draws);
        json.value("level", r.level);
        json.value("n_outside_mesh", r.n_outside);
        json.begin_array("statistics");
        for (const auto &st : r.statistics)
          {
            json.begin_object();
            json.value("name", st.name);
            json.value("value", st.value);
            json.value("p_value", st.p_value);
            if (st.asymptotic_p_value >= 0)
              json.value("asymptotic_p_value", st.asymptotic_p_value);
            json.value("null_median", st.null_median);
            json.value("null_95", st.null_95);
            json.value("pass", st.pass);
            json.end_object();
          }
        json.end_array();
        json.value("pass", r.pass);
        json.end_object();
        write_file_atomically(p.output.directory + "/check.json", text.str());
        pcout << "Result in " << p.output.directory << "/check.json\n";
      }
    return r.pass;
  }
} // namespace scorefp
