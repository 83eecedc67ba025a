// Task = evaluate: registration (the run is in tasks/evaluation_task.cc).
#include <scorefp/core/input_error.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/tasks/task.h>

#include "tasks/task_output.h"

namespace scorefp
{
  namespace
  {
    class EvaluateTask : public Task
    {
    public:
      std::set<std::string> sections() const override { return {"Output", "Evaluation"}; }

      void check(const Parameters &p) const override
      {
        check_mesh_dimension(p, "evaluate");
        if (p.evaluation.reference_file.empty() || p.evaluation.points_file.empty())
          throw InputError("Task = evaluate needs Evaluation/Reference file and "
                           "Evaluation/Points file; at least one is empty.");
        if (p.evaluation.output_file.empty())
          throw InputError("Evaluation/Output file is empty; expected a file name.");
      }

      int run(const Parameters               &p,
              const dealii::ParameterHandler &prm,
              const MPI_Comm                  communicator) const override
      {
        echo_parameters(prm, p.output.directory, communicator);
        run_evaluation_task(p, communicator);
        return 0;
      }
    };
  } // namespace

  SCOREFP_REGISTER(TaskRegistry,
                   "evaluate",
                   "a reference file's density and score at the points of section Evaluation.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<EvaluateTask>(); })
} // namespace scorefp
