// Task = check: a samples file tested against the closed-form law or a reference
// file's snapshot (checker/checker.h), the summary printed and check.json written.
#include <scorefp/checker/checker.h>
#include <scorefp/core/input_error.h>
#include <scorefp/io/io.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/tasks/task.h>


#include <filesystem>
#include <iomanip>
#include <sstream>

#include "tasks/task_output.h"

namespace scorefp
{
  std::string check_report(const CheckResult &r)
  {
    std::ostringstream s;
    s << "Check of " << r.n_samples << " samples (" << r.dimension << "D) in " << r.samples_file
      << "\n  against " << r.reference << "\n  " << r.null_draws
      << " null sample sets of the same size calibrate each Monte Carlo null (" << r.null_sets_drawn
      << " drawn by this check); level alpha = " << r.level << "\n";
    if (r.n_outside > 0)
      s << "  " << r.n_outside << " samples lie outside the mesh (they count in the outside bin "
        << "of chi^2)\n";
    s << "\n  statistic            value        p-value   null median  null 95%   asymptotic p  "
         "verdict  null law\n";
    for (const auto &st : r.statistics)
      {
        s << "  " << std::left << std::setw(18) << st.name << std::right << std::scientific
          << std::setprecision(3) << std::setw(12) << st.value << std::fixed << std::setprecision(3)
          << std::setw(10) << st.p_value << std::scientific;
        if (st.null == "asymptotic")
          s << std::setw(13) << "-" << std::setw(11) << "-";
        else
          s << std::setw(13) << st.null_median << std::setw(11) << st.null_95;
        s << "  ";
        if (st.asymptotic_p_value >= 0)
          s << std::fixed << std::setw(12) << st.asymptotic_p_value;
        else
          s << std::setw(12) << "-";
        s << "  " << (st.pass ? "pass" : "FAIL") << "     " << st.null << "\n";
      }
    s << std::defaultfloat << "\nVerdict: " << (r.pass ? "PASS" : "FAIL") << " at level " << r.level
      << ": a pass needs every calibrated p-value above alpha/" << r.statistics.size()
      << " (Bonferroni)\n";
    return s.str();
  }

  Json check_json(const CheckResult &r)
  {
    Json json;
    json["scorefp_version"] = SCOREFP_VERSION;
    json["samples"]         = r.samples_file;
    json["reference"]       = r.reference;
    json["time"]            = r.time;
    json["n_samples"]       = r.n_samples;
    json["dimension"]       = r.dimension;
    json["null_draws"]      = r.null_draws;
    json["null_sets_drawn"] = r.null_sets_drawn;
    json["level"]           = r.level;
    json["n_outside_mesh"]  = r.n_outside;
    json["statistics"]      = Json::array();
    for (const auto &st : r.statistics)
      {
        Json entry;
        entry["name"]    = st.name;
        entry["value"]   = st.value;
        entry["p_value"] = st.p_value;
        if (st.asymptotic_p_value >= 0)
          entry["asymptotic_p_value"] = st.asymptotic_p_value;
        entry["null_median"] = st.null_median;
        entry["null_95"]     = st.null_95;
        entry["pass"]        = st.pass;
        entry["null"]        = st.null;
        json["statistics"].push_back(entry);
      }
    json["pass"] = r.pass;
    return json;
  }

  namespace
  {
    bool run_check(const Parameters &p, const MPI_Comm communicator)
  {
    TaskOutput                  output(p, communicator);
    const bool                  root  = output.root;
    dealii::ConditionalOStream &pcout = output.pcout;
    dealii::TimerOutput        &timer = output.timer;
    output.remove_stale({p.output.directory + "/check.json"});
    const CheckResult  r = check_samples({p.process,
                                         p.data,
                                         p.mesh,
                                         p.checker,
                                         p.dimension,
                                         p.discretization.degree,
                                         p.use_scaled_coordinates(),
                                         p.output.quiet ? -1.0 : p.output.progress_interval,
                                         p.output.directory},
                                        communicator,
                                        &timer);
    pcout << check_report(r);

    if (root)
      {
        std::filesystem::create_directories(p.output.directory);
        const Json json = check_json(r);
        write_file_atomically(p.output.directory + "/check.json", json.dump(2) + "\n");
        pcout << "Result in " << p.output.directory << "/check.json\n";
      }
    return r.pass;
  }

    class CheckTask : public Task
    {
    public:
      std::set<std::string> sections() const override
      {
        return {"Process", "Initial data", "Mesh", "Discretization", "Output", "Checker"};
      }

      void check(const Parameters &p) const override
      {
        check_mesh_dimension(p, "check");
        p.checker.check();
      }

      int run(const Parameters               &p,
              const dealii::ParameterHandler &prm,
              const MPI_Comm                  communicator) const override
      {
        echo_parameters(prm, p.output.directory, communicator);
        return run_check(p, communicator) ? 0 : 4;
      }
    };
  } // namespace

  SCOREFP_REGISTER(TaskRegistry,
                   "check",
                   "test a samples file against the closed-form law or a reference file "
                   "(section Checker); exit status 4 when the samples fail.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<CheckTask>(); })
} // namespace scorefp
