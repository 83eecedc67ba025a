// Task = evaluate: a reference file reloaded and evaluated at the user's points, the
// points shared out among the ranks (each evaluates its block without communication).
#include <scorefp/core/input_error.h>
#include <scorefp/io/io.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/reference/reference_field.h>
#include <scorefp/io/sample_files.h>

#include <deal.II/base/mpi.h>

#include <filesystem>
#include <iomanip>
#include <sstream>

#include "tasks/task_output.h"

namespace scorefp
{
  void run_evaluation_task(const Parameters &p, const MPI_Comm communicator)
  {
    TaskOutput                  output(p, communicator);
    dealii::ConditionalOStream &pcout = output.pcout;
    const EvaluationParameters &e     = p.evaluation;
    const unsigned int          d     = p.dimension;

    output.remove_stale({p.output.directory + "/" + e.output_file});
    std::unique_ptr<ReferenceField> field;
    SampleSet                       points;
    {
      dealii::TimerOutput::Scope scope(output.timer, "read");
      field = ReferenceField::read(e.reference_file);
      if (field->dimension() != d)
        throw InputError("Reference file '" + e.reference_file + "' is " +
                         std::to_string(field->dimension()) +
                         "-dimensional, but Dimension = " + std::to_string(d) + ".");
      points = read_samples(e.points_file, d);
    }
    const ScoreSource source = e.score == EvaluationParameters::Score::finite_element ? ScoreSource::finite_element
                                                           : ScoreSource::log_density_gradient;
    if (source == ScoreSource::finite_element && !field->has_score())
      throw InputError("Reference file '" + e.reference_file +
                       "' holds a density only (a density run); set Evaluation/Score = "
                       "log-density gradient.");
    const std::vector<double> times = e.times.empty() ? field->times() : e.times;

    const std::size_t N   = points.size();
    const auto [first, n] = share_of(N, communicator);
    std::ostringstream csv;
    csv << "time,point";
    for (unsigned int j = 0; j < d; ++j)
      csv << ",x" << j;
    csv << ",density";
    for (unsigned int j = 0; j < d; ++j)
      csv << ",s" << j;
    csv << ",inside\n";
    {
      dealii::TimerOutput::Scope scope(output.timer, "evaluate");
      std::vector<double>        density(n), score(n * d);
      std::vector<char>          inside;
      for (const double t : times)
        {
          field->evaluate_at_time(t,
                                  points.values.data() + first * d,
                                  n,
                                  density.data(),
                                  score.data(),
                                  source,
                                  &inside);
          std::ostringstream rows;
          rows << std::setprecision(17);
          for (std::size_t k = 0; k < n; ++k)
            {
              rows << t << "," << first + k;
              for (unsigned int j = 0; j < d; ++j)
                rows << "," << points.values[(first + k) * d + j];
              rows << "," << density[k];
              for (unsigned int j = 0; j < d; ++j)
                rows << "," << score[k * d + j];
              rows << "," << int(inside[k]) << "\n";
            }
          // The blocks in rank order are the points in order.
          for (const std::string &part : dealii::Utilities::MPI::gather(communicator, rows.str()))
            csv << part;
        }
    }
    if (output.root)
      {
        std::filesystem::create_directories(p.output.directory);
        const std::string file = p.output.directory + "/" + e.output_file;
        write_file_atomically(file, csv.str());
        pcout << "Evaluated " << field->equation() << " reference '" << e.reference_file << "' at "
              << N << " points and " << times.size() << " times ("
              << (source == ScoreSource::finite_element ? "finite-element score" : "grad log p_h")
              << "): " << file << "\n";
      }
  }
} // namespace scorefp
