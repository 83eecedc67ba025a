// The finite-element skeleton every Fokker-Planck solve runs on (ExaDG's driver:
// operator + time integrator + postprocessors that see each other only through
// interfaces).
//
// FiniteElementRun owns what does not depend on the equation: the process, the data,
// the coordinate scaling, the DIRK tableau, the mesh (built or borrowed), the mapping,
// the DoFHandler and its index sets, the solution vector, the output times, the timer,
// the adaptive time loop (time_integration/time_loop.h) and its wiring to the DIRK
// integrator, statistics.csv, the VTU/pvd series, the run record and the banner.
//
// An equation is an EquationOperator: its element, constraints and matrices, the right-
// hand side F(t, y) of M y' = F(t, y), the stage solve (linear for the density, Newton
// for the score and log-density forms), the mass solve. What is measured of a solution
// is a RunPostprocessor: errors against the exact law, residuals, point values,
// snapshots for another solve, a companion density, a reference file. Each
// postprocessor adds its own columns to statistics.csv, its own fields to the VTU
// files, its own figures to the progress line and its own entries to the run's result.
//
// Adding an equation (a reverse-time law with a given score, the kinetic FPE in phase
// space) means: one EquationOperator (its element and its stage solve), one solve_*()
// function that builds a FiniteElementRun, the operator and the postprocessors it wants
// (existing ones or new ones), and its explicit instantiation per backend and
// dimension. Nothing here changes. The order of the postprocessors is the order in
// which they are called (a postprocessor may read what an earlier one recorded at the
// same output time).
#pragma once

#include <scorefp/data/data_distribution.h>
#include <scorefp/fe/diagnostics.h>
#include <scorefp/fe/finite_element_case.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/time_integration/dirk_integrator.h>
#include <scorefp/time_integration/time_stepping.h>

#include <deal.II/base/conditional_ostream.h>
#include <deal.II/base/index_set.h>
#include <deal.II/base/timer.h>
#include <deal.II/distributed/tria_base.h>
#include <deal.II/dofs/dof_handler.h>
#include <deal.II/fe/fe.h>
#include <deal.II/fe/mapping.h>
#include <deal.II/numerics/data_out.h>

#include <mpi.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace scorefp
{
  /// The spatial operator of one equation, in the mass-matrix form M y' = F(t, y).
  template <int dim, typename Backend>
  class EquationOperator
  {
  public:
    using VectorType = typename Backend::Vector;
    virtual ~EquationOperator() = default;

    /// The first word of the banner: "density", "score", "log-density".
    virtual std::string name() const = 0;
    virtual const dealii::FiniteElement<dim> &finite_element() const = 0;
    /// How the banner names the element ("Q2", "Q2^d") and what it adds after the
    /// time method (", exact boundary data").
    virtual std::string element_name() const = 0;
    virtual std::string banner_details() const { return ""; }

    /// Constraints, sparsity pattern, matrices and work vectors, once the skeleton has
    /// distributed the DoFs (inside the timer section "setup").
    virtual void setup_system() = 0;
    /// The matrices that do not change in time.
    virtual void assemble_system() = 0;
    /// The initial value y(t0).
    virtual void initial_value(VectorType &y) = 0;
    /// Called before every attempted step.
    virtual void begin_step() {}

    virtual void apply_rhs(const double t, const VectorType &y, VectorType &F) = 0;
    /// Solve M Y - gamma_h F(t, Y) = rhs (see OdeOperators). Returns linear iterations.
    virtual unsigned int solve_stage(const double      t,
                                     const double      gamma_h,
                                     const VectorType &rhs,
                                     VectorType       &Y,
                                     const bool        final_stage) = 0;
    virtual unsigned int solve_mass(const VectorType &rhs, VectorType &x) = 0;
    virtual void         apply_mass(const VectorType &x, VectorType &Mx) const = 0;

    /// Columns of the operator's own counters in statistics.csv (each followed by a
    /// comma), written before linear_iterations and wall_seconds.
    virtual std::string statistics_header() const { return ""; }
    virtual void        write_statistics(std::ostream &) const {}
    /// The cost part of the closing line, after "N steps (R rejected), ".
    virtual std::string cost_summary(const unsigned long long linear_iterations) const = 0;
  };

  /// What is measured of, recorded from or written about the solution. Every hook has
  /// an empty default; all hooks are collective.
  template <int dim, typename Backend>
  class RunPostprocessor
  {
  public:
    virtual ~RunPostprocessor() = default;

    /// After the mesh and the DoFs exist, before any file is written: checks a user
    /// can fail (InputError) and set-up.
    virtual void initialize() {}
    /// After the output directory exists, before statistics.csv is opened.
    virtual void begin() {}
    /// Evaluate the current solution at time t (the start and every accepted step).
    virtual void evaluate(const double /*t*/) {}
    /// statistics.csv: header and values of the columns this postprocessor adds,
    /// each followed by a comma.
    virtual std::string statistics_header() const { return ""; }
    virtual void        write_statistics(std::ostream &) const {}
    /// Figures for the progress line ("" for none).
    virtual std::string progress_figures() const { return ""; }
    /// Output time number `index` (0 is the start) is reached.
    virtual void at_output(const unsigned int /*index*/, const double /*t*/) {}
    /// Add fields to the VTU file of the output at time t (after every at_output()).
    /// Whatever is added must stay alive until the next call.
    virtual void add_output_fields(dealii::DataOut<dim> &, const double /*t*/) {}
    /// The time loop has ended.
    virtual void finish() {}
    /// The closing line's report ("" for none).
    virtual std::string summary() const { return ""; }
  };

  /// Where a run's solution goes at the output times besides the VTU files (the
  /// reference file of the reference module). Collective.
  template <int dim, typename VectorType>
  class SolutionWriter
  {
  public:
    virtual ~SolutionWriter() = default;
    /// q: q_h = c^d p_h on density_dofs (FE_Q), with ghost entries; s: s_xi on
    /// score_dofs (FESystem(FE_Q, d)), with ghost entries, or null for density runs.
    virtual void add_snapshot(const double                   t,
                              const double                   c,
                              const dealii::DoFHandler<dim> &density_dofs,
                              const VectorType              &q,
                              const dealii::DoFHandler<dim> *score_dofs,
                              const VectorType              *s) = 0;
    /// After the last output time.
    virtual void finish() = 0;
  };

  /// Makes the writer of a run once its mesh exists; empty: the run writes none.
  template <int dim, typename VectorType>
  using SolutionWriterFactory =
      std::function<std::unique_ptr<SolutionWriter<dim, VectorType>>(
          const dealii::parallel::TriangulationBase<dim> &mesh,
          const std::string                              &data_description)>;

  template <int dim, typename Backend>
  class FiniteElementRun
  {
  public:
    using VectorType = typename Backend::Vector;

    /// Creates the process, the data, the scaling, the tableau and the output times
    /// (InputError for a bad case); nothing is built or written yet.
    FiniteElementRun(const FiniteElementCase &parameters,
                     const unsigned int       refinement_level,
                     const std::string       &output_directory,
                     const bool               write_files,
                     const MPI_Comm           communicator);

    /// Run on the caller's (refined) mesh instead of building one.
    void use_mesh(const dealii::parallel::TriangulationBase<dim> &mesh);
    /// Run backwards in time, from the final time T down to end_time (a reverse-time
    /// law, MATH.md section 3). The time loop then steps in tau = T - t, which is the
    /// time the operator's apply_rhs() and solve_stage() receive (physical_time()
    /// converts it); postprocessors, statistics.csv, progress lines and output files
    /// see the physical time t, and output_times run from T down to end_time.
    void run_backwards_to(const double end_time);
    bool reversed() const { return is_reversed; }
    /// The physical time t of the time loop's time (tau = T - t when reversed).
    double physical_time(const double loop_time) const;
    /// The equation; must outlive run().
    void set_operator(EquationOperator<dim, Backend> &equation);
    /// Called in the order added; must outlive run().
    void add_postprocessor(RunPostprocessor<dim, Backend> &postprocessor);

    /// Set up, check, write the initial state, run the time loop through every output
    /// time, and fill the common part of the record. Collective. Throws InputError,
    /// SolverFailure.
    void run(RunRecord &record);

    /// Seconds of wall time since run() began.
    double wall_seconds() const;
    /// The solution with ghost entries (a member vector, refreshed by each call).
    const VectorType &ghosted_solution();
    /// The exact law p_t = law of m(t) X_0 + sqrt(v(t)) Z (original coordinates).
    std::unique_ptr<DensityField> law(const double t) const;
    /// True if the data set has a closed-form law at t (see DataDistribution::
    /// has_closed_form): circles2 has none after t = 0, empirical data none at t = 0.
    bool has_law(const double t) const;
    /// True if has_law() at every output time: errors against the exact law exist.
    bool has_law_at_outputs() const;
    bool                          is_root() const;

    // What operators and postprocessors share (read-only for them, except the timer).
    const FiniteElementCase &parameters;
    const unsigned int       refinement_level;
    const std::string        directory;
    const bool               write_files;
    const MPI_Comm           communicator;
    dealii::ConditionalOStream pcout;
    dealii::TimerOutput        timer;

    std::unique_ptr<ForwardProcess>    process;
    std::unique_ptr<DataDistribution>  data;
    std::unique_ptr<CoordinateScaling> scaling;
    DirkTableau                        tableau;
    std::vector<double>                output_times;

    // Declared before the DoFHandler, which must go first.
    std::unique_ptr<dealii::parallel::TriangulationBase<dim>> own_triangulation;
    const dealii::parallel::TriangulationBase<dim>           *triangulation = nullptr;
    std::unique_ptr<dealii::Mapping<dim>>           mapping;
    // Shared so that what a run records (density snapshots) can outlive it.
    std::shared_ptr<dealii::DoFHandler<dim>> dof_handler;
    dealii::IndexSet                         locally_owned, locally_relevant;
    VectorType                               solution;

  private:
    void setup();
    void check_domain_holds_the_law();
    double exact_draws_in_domain(const double t) const;
    void open_statistics();
    void write_statistics_row(const unsigned int step,
                              const double       t,
                              const double       dt,
                              const StepReport  &report);
    void output(const unsigned int index, const double t);

    bool                                                      is_reversed = false;
    EquationOperator<dim, Backend>                           *equation = nullptr;
    std::vector<RunPostprocessor<dim, Backend> *>             postprocessors;
    VectorType                                                ghosted;
    std::ofstream                                             statistics;
    std::vector<std::pair<double, std::string>>               pvd_records;
    std::chrono::steady_clock::time_point start_wall = std::chrono::steady_clock::now();
  };
} // namespace scorefp
