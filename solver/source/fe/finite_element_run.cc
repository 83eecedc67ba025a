// The finite-element skeleton (fe/finite_element_run.h), instantiated here, and only
// here, for both backends and dim = 1, 2, 3.
#include "fe/fe_output.h"

#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>
#include <scorefp/fe/finite_element_run.h>
#include <scorefp/fe/linear_algebra.h>
#include <scorefp/mesh/mesh.h>
#include <scorefp/time_integration/time_loop.h>

#include <deal.II/base/function.h>
#include <deal.II/base/mpi.h>
#include <deal.II/base/quadrature_lib.h>
#include <deal.II/base/utilities.h>
#include <deal.II/dofs/dof_tools.h>

#include <algorithm>
#include <limits>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace scorefp
{
  using namespace dealii;

  template <int dim, typename Backend>
  FiniteElementRun<dim, Backend>::FiniteElementRun(const FiniteElementCase &parameters,
                                                   const unsigned int       refinement_level,
                                                   const std::string       &output_directory,
                                                   const bool               write_files,
                                                   const MPI_Comm           communicator)
      : parameters(parameters)
      , refinement_level(refinement_level)
      , directory(output_directory)
      , write_files(write_files)
      , communicator(communicator)
      , pcout(std::cout, Utilities::MPI::this_mpi_process(communicator) == 0)
      , timer(pcout, TimerOutput::never, TimerOutput::wall_times)
      , dof_handler(std::make_shared<DoFHandler<dim>>())
  {
    process = create_process(parameters.process);
    data    = create_data(parameters.data, dim);
    scaling = std::make_unique<CoordinateScaling>(*process,
                                                  parameters.scaled_coordinates,
                                                  data->scale());
    tableau = load_dirk_tableau(parameters.time_stepping.method);
    output_times = make_output_times(*process,
                                     parameters.output.output_times,
                                     parameters.output.n_output_intervals);
  }

  template <int dim, typename Backend>
  void FiniteElementRun<dim, Backend>::use_mesh(const parallel::TriangulationBase<dim> &mesh)
  {
    triangulation = &mesh;
  }

  template <int dim, typename Backend>
  void FiniteElementRun<dim, Backend>::run_backwards_to(const double end_time)
  {
    for (const double t : parameters.output.output_times)
      if (!(t >= end_time && t <= process->final_time))
        throw InputError("Output/Output times: " + format_number(t) +
                         " lies outside the interval of the reverse-time solve [" +
                         format_number(end_time) + ", " + format_number(process->final_time) +
                         "].");
    is_reversed  = true;
    output_times = make_output_times(end_time,
                                     process->final_time,
                                     parameters.output.output_times,
                                     parameters.output.n_output_intervals);
    std::reverse(output_times.begin(), output_times.end());
  }

  template <int dim, typename Backend>
  double FiniteElementRun<dim, Backend>::physical_time(const double loop_time) const
  {
    return is_reversed ? process->final_time - loop_time : loop_time;
  }

  template <int dim, typename Backend>
  void FiniteElementRun<dim, Backend>::set_operator(EquationOperator<dim, Backend> &e)
  {
    equation = &e;
  }

  template <int dim, typename Backend>
  void FiniteElementRun<dim, Backend>::add_postprocessor(RunPostprocessor<dim, Backend> &p)
  {
    postprocessors.push_back(&p);
  }

  template <int dim, typename Backend>
  double FiniteElementRun<dim, Backend>::wall_seconds() const
  {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_wall).count();
  }

  template <int dim, typename Backend>
  const typename Backend::Vector &FiniteElementRun<dim, Backend>::ghosted_solution()
  {
    ghosted = solution;
    return ghosted;
  }

  template <int dim, typename Backend>
  std::unique_ptr<DensityField> FiniteElementRun<dim, Backend>::law(const double t) const
  {
    return data->transported(process->transition_mean_factor(t), process->transition_variance(t));
  }

  template <int dim, typename Backend>
  bool FiniteElementRun<dim, Backend>::has_law(const double t) const
  {
    return data->has_closed_form(process->transition_mean_factor(t),
                                 process->transition_variance(t));
  }

  template <int dim, typename Backend>
  bool FiniteElementRun<dim, Backend>::has_law_at_outputs() const
  {
    return std::all_of(output_times.begin(), output_times.end(), [this](const double t) {
      return has_law(t);
    });
  }

  template <int dim, typename Backend>
  bool FiniteElementRun<dim, Backend>::is_root() const
  {
    return Utilities::MPI::this_mpi_process(communicator) == 0;
  }

  template <int dim, typename Backend>
  void FiniteElementRun<dim, Backend>::setup()
  {
    TimerOutput::Scope scope(timer, "setup");
    if (triangulation == nullptr)
      {
        own_triangulation = create_triangulation<dim>(communicator);
        make_mesh(*own_triangulation, parameters.mesh, refinement_level);
        triangulation = own_triangulation.get();
      }
    mapping = create_mapping<dim>(parameters.mesh, parameters.discretization.degree);
    dof_handler->reinit(*triangulation);
    dof_handler->distribute_dofs(equation->finite_element());
    locally_owned = dof_handler->locally_owned_dofs();
    DoFTools::extract_locally_relevant_dofs(*dof_handler, locally_relevant);
    equation->setup_system();
    solution.reinit(locally_owned, communicator);
    ghosted.reinit(locally_owned, locally_relevant, communicator);
  }

  template <int dim, typename Backend>
  double FiniteElementRun<dim, Backend>::exact_draws_in_domain(const double t) const
  {
    // Data without a closed-form law at t (circles2): the fraction of 10^6 exact draws
    // m X_0 + sqrt(v) Z inside the mesh's bounding box, the domain itself for box meshes
    // and an upper bound for others; draw i comes from stream i, the draws are shared
    // out over the ranks and counted together. Its standard error, below 1e-5 for the
    // masses that pass, is far under what Mesh/Minimum mass asks.
    Point<dim> lower, upper;
    for (unsigned int j = 0; j < dim; ++j)
      {
        lower[j] = std::numeric_limits<double>::max();
        upper[j] = -std::numeric_limits<double>::max();
      }
    for (const auto &cell : triangulation->active_cell_iterators())
      if (cell->is_locally_owned())
        for (const unsigned int v : cell->vertex_indices())
          for (unsigned int j = 0; j < dim; ++j)
            {
              lower[j] = std::min(lower[j], cell->vertex(v)[j]);
              upper[j] = std::max(upper[j], cell->vertex(v)[j]);
            }
    for (unsigned int j = 0; j < dim; ++j)
      {
        lower[j] = Utilities::MPI::min(lower[j], communicator);
        upper[j] = Utilities::MPI::max(upper[j], communicator);
      }
    const double       m = process->transition_mean_factor(t), v = process->transition_variance(t);
    const double       c = scaling->scale(t);
    const unsigned int n      = 1000000;
    const unsigned int rank   = Utilities::MPI::this_mpi_process(communicator);
    const unsigned int size   = Utilities::MPI::n_mpi_processes(communicator);
    unsigned int       inside = 0;
    double             x[dim];
    for (unsigned int i = rank; i < n; i += size)
      {
        CounterRng rng(0, i, 11);
        data->sample_transported(rng, m, v, x);
        bool in = true;
        for (unsigned int j = 0; j < dim; ++j)
          in = in && x[j] >= c * lower[j] && x[j] <= c * upper[j];
        inside += in ? 1 : 0;
      }
    return double(Utilities::MPI::sum(inside, communicator)) / n;
  }

  template <int dim, typename Backend>
  void FiniteElementRun<dim, Backend>::check_domain_holds_the_law()
  {
    // The exact density must be (nearly) supported in the domain at the start and the
    // end: a zero-flux or Dirichlet wall through the data is a wrong problem, not a
    // discretisation error. Integrals of the exact density use a composite Gauss rule:
    // data such as the checkerboard jump inside cells that are not aligned with it.
    const QIterated<dim> quadrature(QGauss<1>(equation->finite_element().degree + 1), 4);
    for (const double t : {output_times.front(), output_times.back()})
      {
        if (!has_law(t))
          {
            check_mass_in_domain(exact_draws_in_domain(t), parameters.mesh.minimum_mass, t, scaling->enabled());
            continue;
          }
        const std::unique_ptr<DensityField> field = law(t);
        const double                        c     = scaling->scale(t);
        const double                        c_d   = std::pow(c, dim);
        // q(xi) = c^d p(c xi), the density in the mesh coordinates.
        const ScalarFunctionFromFunctionObject<dim> density([&](const Point<dim> &xi) {
          double x[dim];
          for (unsigned int j = 0; j < dim; ++j)
            x[j] = c * xi[j];
          return c_d * field->value(x);
        });
        check_mass_in_domain(integrate_over_mesh(*triangulation, *mapping, quadrature, density),
                             parameters.mesh.minimum_mass,
                             t,
                             scaling->enabled());
      }
  }

  template <int dim, typename Backend>
  void FiniteElementRun<dim, Backend>::open_statistics()
  {
    if (!write_files || !is_root())
      return;
    statistics.open(directory + "/statistics.csv");
    statistics << std::setprecision(10) << "step,time,dt,";
    for (const auto *p : postprocessors)
      statistics << p->statistics_header();
    statistics << equation->statistics_header() << "linear_iterations,wall_seconds\n";
  }

  template <int dim, typename Backend>
  void FiniteElementRun<dim, Backend>::write_statistics_row(const unsigned int step,
                                                            const double       t,
                                                            const double       dt,
                                                            const StepReport  &report)
  {
    if (!statistics.is_open())
      return;
    statistics << step << "," << t << "," << dt << ",";
    for (const auto *p : postprocessors)
      p->write_statistics(statistics);
    equation->write_statistics(statistics);
    statistics << report.linear_iterations << "," << wall_seconds() << "\n";
  }

  template <int dim, typename Backend>
  void FiniteElementRun<dim, Backend>::output(const unsigned int index, const double t)
  {
    for (auto *p : postprocessors)
      p->at_output(index, t);
    if (write_files && parameters.output.write_vtu)
      {
        TimerOutput::Scope scope(timer, "output");
        ScaledDataOut<dim> data_out;
        data_out.attach_dof_handler(*dof_handler);
        for (auto *p : postprocessors)
          p->add_output_fields(data_out, t);
        data_out.write_time_step(*triangulation,
                                 *mapping,
                                 parameters.mesh.curved(),
                                 equation->finite_element().degree,
                                 scaling->enabled() ? scaling->scale(t) : 1.0,
                                 t,
                                 directory,
                                 index,
                                 pvd_records);
      }
    if (statistics.is_open())
      statistics.flush();
  }

  template <int dim, typename Backend>
  void FiniteElementRun<dim, Backend>::run(RunRecord &record)
  {
    AssertThrow(equation != nullptr, ExcMessage("FiniteElementRun::run() needs an operator."));
    start_wall = std::chrono::steady_clock::now();
    // Forward runs start from the law at the start time (reverse-time runs from their
    // own prior).
    if (!is_reversed && !has_law(process->start_time))
      throw InputError(data->no_closed_form(
          process->start_time,
          process->transition_variance(process->start_time),
          "a finite-element run starts from a density: place the data before the start "
          "(Process/Data time < Start time) or smooth them (Initial data/Bandwidth or "
          "Smoothing variance)"));
    setup();
    check_domain_holds_the_law();
    for (auto *p : postprocessors)
      p->initialize();
    // Everything the user can get wrong has been checked: from here on files appear.
    if (write_files && is_root())
      {
        std::filesystem::create_directories(directory);
        std::filesystem::remove(directory + "/summary.json");
      }
    // Other ranks write their .vtu pieces into the directory rank 0 just made.
    MPI_Barrier(communicator);
    for (auto *p : postprocessors)
      p->begin();
    open_statistics();
    equation->assemble_system();
    equation->initial_value(solution);

    describe_run(record,
                 *dof_handler,
                 refinement_level,
                 *process,
                 *data,
                 tableau,
                 *scaling,
                 Backend::name);
    record.start_time = output_times.front();
    record.final_time = output_times.back();
    pcout << "scorefp " << equation->name() << ": " << dim << "D " << process->name() << ", "
          << data->description() << ", " << equation->element_name() << ", level "
          << refinement_level << ", " << record.n_cells << " cells, " << record.n_dofs
          << " DoFs, " << record.n_ranks << " rank(s), " << Backend::name << ", " << tableau.name
          << equation->banner_details() << (scaling->enabled() ? ", scaled coordinates" : "")
          << std::endl;

    OdeOperators<VectorType> operators;
    operators.apply_rhs = [this](double t, const VectorType &y, VectorType &F) {
      equation->apply_rhs(t, y, F);
    };
    operators.solve_stage =
        [this](double t, double gamma_h, const VectorType &rhs, VectorType &Y, bool final_stage) {
          return equation->solve_stage(t, gamma_h, rhs, Y, final_stage);
        };
    operators.solve_mass = [this](const VectorType &rhs, VectorType &x) {
      return equation->solve_mass(rhs, x);
    };
    operators.apply_mass = [this](const VectorType &x, VectorType &Mx) {
      equation->apply_mass(x, Mx);
    };
    DirkIntegrator<VectorType> integrator(tableau, operators);

    const double t0 = output_times.front();
    for (auto *p : postprocessors)
      p->evaluate(t0);
    write_statistics_row(0, t0, 0.0, StepReport());
    output(0, t0);

    TimeLoopHooks<VectorType> hooks;
    hooks.step = [&](double t, double h, const VectorType &y, VectorType &y_new, bool estimate) {
      equation->begin_step();
      return integrator.step(t, h, y, y_new, estimate);
    };
    hooks.accepted = [&](unsigned int step, double tau, double h, const StepReport &report) {
      const double t = physical_time(tau);
      for (auto *p : postprocessors)
        p->evaluate(t);
      write_statistics_row(step, t, h, report);
    };
    // The output times themselves, not T - (T - t), which may differ in the last digit.
    hooks.output           = [&](unsigned int index, double) { output(index, output_times[index]); };
    hooks.shown_time       = [this](double tau) { return physical_time(tau); };
    hooks.progress_figures = [&]() {
      std::string figures;
      for (const auto *p : postprocessors)
        {
          const std::string f = p->progress_figures();
          if (!f.empty())
            figures += (figures.empty() ? "" : "  ") + f;
        }
      return figures;
    };
    hooks.wall_seconds = [this]() { return wall_seconds(); };
    std::vector<double> loop_times;
    for (const double t : output_times)
      loop_times.push_back(is_reversed ? process->final_time - t : t);
    const TimeLoopCounters counters =
        run_time_loop(loop_times,
                      parameters.time_stepping,
                      tableau.embedded_order,
                      parameters.output.progress_interval,
                      parameters.output.quiet || !pcout.is_active() ? nullptr : &pcout.get_stream(),
                      solution,
                      hooks);
    record_counters(record, counters);
    for (auto *p : postprocessors)
      p->finish();
    record.wall_seconds = wall_seconds();

    std::string summaries;
    for (const auto *p : postprocessors)
      {
        const std::string s = p->summary();
        if (!s.empty())
          summaries += (summaries.empty() ? "" : "; ") + s;
      }
    pcout << "  " << record.n_steps << " steps (" << record.n_rejected_steps << " rejected), "
          << equation->cost_summary(record.linear_iterations)
          << (summaries.empty() ? "" : "; " + summaries) << std::endl;
    if (!parameters.output.quiet)
      timer.print_wall_time_statistics(communicator);
  }

  template class FiniteElementRun<1, TrilinosBackend>;
  template class FiniteElementRun<2, TrilinosBackend>;
  template class FiniteElementRun<3, TrilinosBackend>;
  template class FiniteElementRun<1, PETScBackend>;
  template class FiniteElementRun<2, PETScBackend>;
  template class FiniteElementRun<3, PETScBackend>;
} // namespace scorefp
