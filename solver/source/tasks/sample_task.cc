// Task = sample and Task = scheme table: the samplers of sampling/ as users run them
// (their runs are in tasks/sampler_tasks.cc).
#include <scorefp/core/input_error.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/sampling/sampling.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/tasks/task.h>

#include <cmath>

#include "tasks/task_output.h"

namespace scorefp
{
  namespace
  {
    /// The scheme called name, checked against the process (the checks are the
    /// scheme's own).
    std::unique_ptr<Scheme>
    checked_scheme(const Parameters &p, const std::string &name, const std::string &entry)
    {
      std::unique_ptr<Scheme> scheme = create_scheme(name, entry);
      scheme->check(*create_process(p.process), entry);
      return scheme;
    }

    const std::set<std::string> sampler_sections = {
        "Process", "Initial data", "Mesh", "Output", "Score", "Sampler"};

    class SampleTask : public Task
    {
    public:
      std::set<std::string> sections() const override { return sampler_sections; }

      void check(const Parameters &p) const override
      {
        check_score_defined(p);
        const SamplerParameters &s = p.sampler;
        check_early_stopping(p, s.early_stopping, "Sampler/Early stopping");
        const auto scheme = checked_scheme(p, s.scheme, "Sampler/Scheme");
        s.score_source->check();
        if (!scheme->fixed_steps() && s.corrector_steps > 0)
          throw InputError("Sampler/Corrector steps must be 0 for " + s.scheme +
                           ", whose steps differ from particle to particle.");
        if (s.samples_file.empty())
          throw InputError("Sampler/Samples file is empty; expected a file name ending in .npy.");
        create_process(p.process);
        create_data(p.data, p.dimension);
      }

      int run(const Parameters               &p,
              const dealii::ParameterHandler &prm,
              const MPI_Comm                  communicator) const override
      {
        echo_parameters(prm, p.output.directory, communicator);
        run_sampler_task(p, communicator);
        return 0;
      }
    };

    class SchemeTableTask : public Task
    {
    public:
      std::set<std::string> sections() const override
      {
        auto s = sampler_sections;
        s.insert("Scheme table");
        return s;
      }

      void check(const Parameters &p) const override
      {
        check_score_defined(p);
        const SchemeTableParameters &s = p.scheme_table;
        if (s.schemes.empty() || s.step_counts.empty() || s.early_stopping.empty() ||
            s.starts.empty())
          throw InputError("Scheme table: Schemes, Step counts, Early stopping values and Starts "
                           "must each name at least one value.");
        for (const double epsilon : s.early_stopping)
          check_early_stopping(p, epsilon, "Scheme table/Early stopping values");
        for (const std::string &scheme : s.schemes)
          {
            if (!checked_scheme(p, scheme, "Scheme table/Schemes")->fixed_steps())
              throw InputError("Scheme table/Schemes: " + scheme +
                               " chooses its steps per particle and has no step count; run it "
                               "with Task = sample.");
          }
        create_process(p.process);
        const auto          data = create_data(p.data, p.dimension);
        std::vector<double> mean, variances;
        if (!data->diagonal_gaussian(mean, variances) && p.dimension > 3)
          throw InputError("Scheme table: data that are not Gaussian are measured by the sliced "
                           "W2 on the case mesh, which needs Dimension <= 3.");
      }

      int run(const Parameters               &p,
              const dealii::ParameterHandler &prm,
              const MPI_Comm                  communicator) const override
      {
        echo_parameters(prm, p.output.directory, communicator);
        run_scheme_table_task(p, communicator);
        return 0;
      }
    };
  } // namespace

  SCOREFP_REGISTER(TaskRegistry,
                   "sample",
                   "run one reverse-time sampler (section Sampler) and write its particles.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<SampleTask>(); })
  SCOREFP_REGISTER(TaskRegistry,
                   "scheme table",
                   "the error of every sampler in section Scheme table at every step count, "
                   "exactly for Gaussian data and from particles otherwise.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<SchemeTableTask>(); })
} // namespace scorefp
