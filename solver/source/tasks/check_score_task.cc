// Task = check score: the score of section Sampler (any score source: a TorchScript
// model, a grid, a reference file, the closed form) checked on the case mesh at the
// times of section Score check, against the closed form or a reference file
// (score_check/score_check.h). Writes summary.json, score-check.csv, score-check.pvd
// and, with a Points file, score-points.csv.
#include <scorefp/core/input_error.h>
#include <scorefp/io/io.h>
#include <scorefp/io/json.h>
#include <scorefp/io/sample_files.h>
#include <scorefp/mesh/mesh.h>
#include <scorefp/score_check/score_check.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/tasks/task.h>

#include <deal.II/base/data_out_base.h>
#include <deal.II/lac/vector.h>
#include <deal.II/numerics/data_out.h>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "tasks/task_output.h"

namespace scorefp
{
  namespace
  {
    const std::vector<std::string> result_columns{"time",
                                                  "mass",
                                                  "l2_error_domain",
                                                  "l2_error_bulk",
                                                  "l2_error_tail",
                                                  "fisher_divergence",
                                                  "score_residual",
                                                  "log_residual",
                                                  "curl"};

    std::vector<double> row_of(const ScoreCheckResult &r)
    {
      return {r.time,
              r.mass,
              r.l2_domain,
              r.l2_bulk,
              r.l2_tail,
              r.fisher_divergence,
              r.score_residual,
              r.log_residual,
              r.curl};
    }

    template <int dim>
    void write_fields(const dealii::parallel::TriangulationBase<dim> &triangulation,
                      const CellFields                               &fields,
                      const double                                    t,
                      const std::string                              &directory,
                      const unsigned int                              index,
                      std::vector<std::pair<double, std::string>>    &records)
    {
      using namespace dealii;
      DataOut<dim> out;
      out.attach_triangulation(triangulation);
      std::vector<Vector<float>> vectors;
      vectors.reserve(fields.size() + 1);
      for (const auto &[name, values] : fields)
        {
          vectors.emplace_back(values.begin(), values.end());
          out.add_data_vector(vectors.back(), name, DataOut<dim>::type_cell_data);
        }
      vectors.emplace_back(triangulation.n_active_cells());
      vectors.back() = float(triangulation.locally_owned_subdomain());
      out.add_data_vector(vectors.back(), "subdomain", DataOut<dim>::type_cell_data);
      DataOutBase::VtkFlags flags;
      flags.time              = t;
      flags.compression_level = DataOutBase::VtkFlags::best_speed;
      out.set_flags(flags);
      out.build_patches();
      const MPI_Comm    communicator = triangulation.get_communicator();
      const std::string name =
          out.write_vtu_with_pvtu_record(directory + "/", "score-check", index, communicator, 4);
      records.emplace_back(t, name);
      if (Utilities::MPI::this_mpi_process(communicator) == 0)
        {
          std::ofstream pvd(directory + "/score-check.pvd");
          DataOutBase::write_pvd_record(pvd, records);
        }
    }

    template <int dim>
    void run_score_check(const Parameters &p, const MPI_Comm communicator)
    {
      const ScoreCheckParameters &c         = p.score_check;
      const std::string           directory = p.output.directory;
      remove_stale_outputs({directory + "/summary.json",
                            directory + "/score-check.csv",
                            directory + "/score-points.csv",
                            directory + "/score-check.pvd"},
                           communicator);

      // Inputs first: a file that does not fit fails before the timer exists (whose
      // destructor would otherwise add a paragraph to the error).
      const auto   process = create_process(p.process);
      const auto   data    = create_data(p.data, dim);
      const double first   = *std::min_element(c.times.begin(), c.times.end());
      const auto   read_start = std::chrono::steady_clock::now();
      const std::unique_ptr<ScoreModel> model = p.sampler.score_source->create(
          ScoreSourceContext{*process, *data, dim, p.score, first, p.process});
      const std::unique_ptr<ScoreReference> reference =
          c.reference == ScoreCheckParameters::Reference::closed_form ?
            closed_form_reference(*process, *data) :
            file_reference(c.reference_file, dim, p.process);
      SampleSet points;
      if (!c.points_file.empty())
        points = read_samples(c.points_file, dim, "Score check/Points file");
      const double read_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - read_start).count();
      TaskOutput                  output(p, communicator);
      dealii::ConditionalOStream &pcout = output.pcout;
      const auto triangulation = create_triangulation<dim>(communicator);
      const unsigned int level = p.mesh.refinement_levels.back();
      make_mesh(*triangulation, p.mesh, level);
      const auto mapping = create_mapping<dim>(p.mesh, p.mesh.curved() ? 2 : 1);

      pcout << "scorefp " << SCOREFP_VERSION << ": check score " << model->description()
            << "\n  against " << reference->description() << " on "
            << triangulation->n_global_active_cells() << " cells x " << c.quadrature_points
            << "^" << dim << " Gauss points, " << c.times.size() << " times (inputs read in "
            << std::setprecision(3) << read_seconds << " s)\n";
      if (!model->has_derivatives())
        pcout << "  (no derivatives: residuals and curl are not computed; tabulate the score "
                 "with Task = tabulate score to check its interpolant)\n";

      std::vector<ScoreCheckResult>               results;
      std::vector<std::pair<double, std::string>> records;
      std::ostringstream                          point_rows;
      std::vector<std::string>                    point_columns;
      const auto                                  start = std::chrono::steady_clock::now();
      for (unsigned int i = 0; i < c.times.size(); ++i)
        {
          const double t = c.times[i];
          CellFields   fields;
          {
            dealii::TimerOutput::Scope scope(output.timer, "check");
            results.push_back(check_score(*triangulation,
                                          *mapping,
                                          *model,
                                          *reference,
                                          *process,
                                          t,
                                          c,
                                          c.write_vtu ? &fields : nullptr));
          }
          if (c.write_vtu)
            {
              dealii::TimerOutput::Scope scope(output.timer, "write VTU");
              write_fields(*triangulation, fields, t, directory, i, records);
            }
          // Every rank evaluates the points (the timer's sections must agree across
          // ranks); rank 0 writes them.
          if (!points.values.empty())
            {
              dealii::TimerOutput::Scope scope(output.timer, "points");
              const PointValues v =
                  score_at_points(*model, *reference, *process, t, points.values.data(), points.size());
              point_columns = v.columns;
              point_rows << std::setprecision(17);
              const std::size_t width = v.columns.size();
              for (std::size_t k = 0; k < points.size(); ++k)
                {
                  point_rows << t << "," << k;
                  for (unsigned int j = 0; j < dim; ++j)
                    point_rows << "," << points.values[k * dim + j];
                  for (std::size_t j = 0; j < width; ++j)
                    point_rows << "," << v.values[k * width + j];
                  point_rows << "\n";
                }
            }
          const ScoreCheckResult &r = results.back();
          const double elapsed =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          std::ostringstream line;
          line << std::setprecision(3) << "  [" << i + 1 << "/" << c.times.size() << "] t = " << t
               << ": rel. L2 " << r.l2_domain << " (bulk " << r.l2_bulk << ", tail " << r.l2_tail
               << "), Fisher " << r.fisher_divergence;
          if (model->has_derivatives())
            line << ", score residual " << r.score_residual << ", curl " << r.curl;
          if (model->is_potential())
            line << ", log residual " << r.log_residual;
          line << ", ETA " << std::fixed << std::setprecision(1)
               << elapsed / (i + 1) * (c.times.size() - i - 1) << " s\n";
          pcout << line.str();
          if (r.mass < p.mesh.minimum_mass)
            pcout << "  warning: the mesh holds only " << r.mass
                  << " of the reference law at t = " << t << " (Mesh/Minimum mass = "
                  << p.mesh.minimum_mass << ")\n";
        }

      if (output.root)
        {
          std::ostringstream csv;
          csv << std::setprecision(17);
          for (std::size_t j = 0; j < result_columns.size(); ++j)
            csv << (j ? "," : "") << result_columns[j];
          csv << "\n";
          for (const auto &r : results)
            {
              const auto row = row_of(r);
              for (std::size_t j = 0; j < row.size(); ++j)
                csv << (j ? "," : "") << row[j];
              csv << "\n";
            }
          std::filesystem::create_directories(directory);
          write_file_atomically(directory + "/score-check.csv", csv.str());
          if (!points.values.empty())
            {
              std::ostringstream header;
              header << "time,point";
              for (unsigned int j = 0; j < dim; ++j)
                header << ",x" << j;
              for (const auto &column : point_columns)
                header << "," << column;
              write_file_atomically(directory + "/score-points.csv",
                                    header.str() + "\n" + point_rows.str());
            }
          Json json;
          json["scorefp_version"] = SCOREFP_VERSION;
          json["task"]            = "check score";
          json["score"]           = model->description();
          json["precision"]       = model->precision();
          json["reference"]       = reference->description();
          json["dimension"]       = dim;
          json["cells"]           = triangulation->n_global_active_cells();
          json["quadrature_points"] = c.quadrature_points;
          json["bulk_mass"]       = c.bulk_mass;
          json["tail_threshold"]  = c.tail_threshold;
          json["has_derivatives"] = model->has_derivatives();
          json["potential"]       = model->is_potential();
          json["times"]           = Json::array();
          for (const auto &r : results)
            {
              Json entry;
              const auto row = row_of(r);
              for (std::size_t j = 0; j < row.size(); ++j)
                entry[result_columns[j]] = row[j];
              entry["bulk_threshold"] = r.bulk_threshold;
              json["times"].push_back(entry);
            }
          write_json_atomically(directory + "/summary.json", json);
          pcout << "Results in " << directory << "/ (summary.json, score-check.csv"
                << (c.write_vtu ? ", score-check.pvd" : "")
                << (points.values.empty() ? "" : ", score-points.csv") << ")\n";
        }
    }

    class CheckScoreTask : public Task
    {
    public:
      std::set<std::string> sections() const override
      {
        return {"Process", "Initial data", "Mesh", "Output", "Score", "Sampler", "Score check"};
      }

      void check(const Parameters &p) const override
      {
        check_mesh_dimension(p, "check score");
        const ScoreCheckParameters &c = p.score_check;
        for (const double t : c.times)
          if (!(t > p.process.start_time && t <= p.process.final_time))
            throw InputError("Score check/Times has " + format_number(t) +
                             ", outside (Process/Start time, Process/Final time] = (" +
                             format_number(p.process.start_time) + ", " +
                             format_number(p.process.final_time) + "].");
        if (c.reference == ScoreCheckParameters::Reference::reference_file &&
            c.reference_file.empty())
          throw InputError("Score check/Reference = reference file needs Score check/Reference "
                           "file; it is empty.");
        p.sampler.score_source->check();
        create_process(p.process);
        create_data(p.data, p.dimension);
      }

      int run(const Parameters               &p,
              const dealii::ParameterHandler &prm,
              const MPI_Comm                  communicator) const override
      {
        echo_parameters(prm, p.output.directory, communicator);
        switch (p.dimension)
          {
            case 1:
              run_score_check<1>(p, communicator);
              break;
            case 2:
              run_score_check<2>(p, communicator);
              break;
            default:
              run_score_check<3>(p, communicator);
          }
        return 0;
      }
    };
  } // namespace

  SCOREFP_REGISTER(TaskRegistry,
                   "check score",
                   "check the score of section Sampler (a TorchScript model, a grid, ...) on the "
                   "case mesh against the closed form or a reference file: errors, Fisher "
                   "divergence, Fokker-Planck residuals and curl (section Score check).",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<CheckScoreTask>(); })
} // namespace scorefp
