#include <scorefp/input_error.h>
#include <scorefp/parameters.h>
#include <scorefp/sample_files.h>
#include <scorefp/sampling.h>

#include <deal.II/base/parameter_handler.h>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace scorefp
{
  using dealii::ParameterHandler;
  namespace Patterns = dealii::Patterns;

  namespace
  {
    std::string one_line(const std::string &text)
    {
      std::string out;
      bool        space = false;
      for (const char c : text)
        if (std::isspace(static_cast<unsigned char>(c)))
          space = !out.empty();
        else
          {
            if (space)
              out += ' ';
            out += c;
            space = false;
          }
      return out;
    }

    // deal.II's exception text carries a source location and a stack trace; the user
    // needs only the sentence that says what was wrong.
    std::string message_of(const dealii::ExceptionBase &e)
    {
      std::ostringstream s;
      e.print_info(s);
      return one_line(s.str());
    }

    std::vector<double> parse_numbers(const std::string &text, const std::string &entry)
    {
      std::vector<double> numbers;
      std::string         token;
      std::istringstream  in(text);
      while (in >> token)
        {
          std::string piece;
          for (const char c : token + ",")
            if (c == ',' || c == ';')
              {
                if (!piece.empty())
                  {
                    std::size_t used  = 0;
                    double      value = 0;
                    try
                      {
                        value = std::stod(piece, &used);
                      }
                    catch (...)
                      {
                        used = 0;
                      }
                    if (used != piece.size() || !std::isfinite(value))
                      throw InputError(entry + ": '" + piece + "' is not a number.");
                    numbers.push_back(value);
                  }
                piece.clear();
              }
            else
              piece += c;
        }
      return numbers;
    }

    std::vector<double>
    corner(const std::vector<double> &values, const unsigned int dim, const std::string &entry)
    {
      if (values.size() == 1)
        return std::vector<double>(dim, values[0]);
      if (values.size() != dim)
        throw InputError(entry + " has " + std::to_string(values.size()) +
                         " coordinates; expected 1 or " + std::to_string(dim) + ".");
      return values;
    }

    // Mixture entries: components separated by ';', numbers by ',' or spaces.
    std::vector<std::vector<double>> parse_components(const std::string &text,
                                                      const std::string &entry)
    {
      std::vector<std::vector<double>> components;
      std::stringstream                in(text);
      std::string                      piece;
      while (std::getline(in, piece, ';'))
        components.push_back(parse_numbers(piece, entry));
      return components;
    }

    std::string joined(const std::vector<std::string> &names)
    {
      std::string s;
      for (const auto &n : names)
        s += (s.empty() ? "" : "|") + n;
      return s;
    }
    std::string number(const double x)
    {
      std::ostringstream s;
      s << x;
      return s.str();
    }

    void check_early_stopping(const Parameters &p, const double epsilon, const std::string &entry)
    {
      if (!(epsilon >= p.process.start_time && epsilon < p.process.final_time))
        throw InputError(entry + " = " + number(epsilon) + " lies outside [Process/Start time, " +
                         "Process/Final time) = [" + number(p.process.start_time) + ", " +
                         number(p.process.final_time) + ").");
    }

    void check_scheme(const Parameters &p, const std::string &scheme, const std::string &entry)
    {
      if (scheme == "exponential-integrator")
        {
          // x <- e^A x + 2 (e^A - 1) s + ... is exact for the linear part only if g^2 = 2a.
          const auto process = create_process(p.process);
          for (const double t : {p.process.start_time, p.process.final_time})
            if (std::abs(process->diffusion_squared(t) - 2.0 * process->drift_rate(t)) >
                1e-12 * process->diffusion_squared(t))
              throw InputError(entry +
                               " = exponential-integrator needs g^2 = 2a (VP, or OU with "
                               "OU diffusion = 2 OU rate); the " +
                               p.process.type + " process does not have it.");
        }
    }

    // What each task needs beyond the values themselves.
    void check_task(const Parameters &p)
    {
      const bool gaussian = p.data.type == "diagonal gaussian";
      if ((p.task == "solve" || p.task == "check" || p.task == "evaluate") && p.dimension > 3)
        throw InputError("Dimension = " + std::to_string(p.dimension) + ": Task = " + p.task +
                         " works on finite-element meshes in 1, 2 or 3 dimensions.");
      if (gaussian && p.task == "solve" && p.dimension > 3)
        throw InputError("Initial data/Type = diagonal gaussian in dimension > 3 serves the "
                         "samplers only.");
      const bool needs_score = p.task == "sample" || p.task == "scheme table";
      if (needs_score && p.data.type == "checkerboard" && !(p.data.smoothing_variance > 0))
        throw InputError("Initial data/Smoothing variance must be positive for samplers of the "
                         "checkerboard, whose score is undefined off its squares at t = 0; "
                         "expected e.g. 0.01.");
      if (p.task == "sample")
        {
          const SamplerParameters &s = p.sampler;
          check_early_stopping(p, s.early_stopping, "Sampler/Early stopping");
          check_scheme(p, s.scheme, "Sampler/Scheme");
          if (s.score == "reference file" && s.reference_file.empty())
            throw InputError("Sampler/Score = reference file needs Sampler/Reference file; it is "
                             "empty.");
          if (s.scheme == "ode-rk45" && s.corrector_steps > 0)
            throw InputError("Sampler/Corrector steps must be 0 for ode-rk45, whose steps differ "
                             "from particle to particle.");
          if (s.samples_file.empty())
            throw InputError("Sampler/Samples file is empty; expected a file name ending in .npy.");
        }
      if (p.task == "scheme table")
        {
          const SchemeTableParameters &s = p.scheme_table;
          if (s.schemes.empty() || s.step_counts.empty() || s.early_stopping.empty() ||
              s.starts.empty())
            throw InputError("Scheme table: Schemes, Step counts, Early stopping values and "
                             "Starts must each name at least one value.");
          for (const double epsilon : s.early_stopping)
            check_early_stopping(p, epsilon, "Scheme table/Early stopping values");
          for (const std::string &scheme : s.schemes)
            {
              check_scheme(p, scheme, "Scheme table/Schemes");
              if (scheme == "ode-rk45")
                throw InputError("Scheme table/Schemes: ode-rk45 chooses its steps per "
                                 "particle and has no step count; run it with Task = sample.");
            }
          if (!gaussian && p.dimension > 3)
            throw InputError("Scheme table: data that are not Gaussian are measured by the "
                             "sliced W2 on the case mesh, which needs Dimension <= 3.");
        }
      if (p.task == "evaluate")
        {
          if (p.evaluation.reference_file.empty() || p.evaluation.points_file.empty())
            throw InputError("Task = evaluate needs Evaluation/Reference file and "
                             "Evaluation/Points file; at least one is empty.");
          if (p.evaluation.output_file.empty())
            throw InputError("Evaluation/Output file is empty; expected a file name.");
        }
      if (p.task == "check")
        {
          if (p.checker.samples_file.empty())
            throw InputError("Checker/Samples file is empty; expected an .npy or .csv file.");
          if (p.checker.reference == "file" && p.checker.reference_file.empty())
            throw InputError("Checker/Reference = file needs Checker/Reference file; it is "
                             "empty.");
          if (p.checker.level <= 0.0 || p.checker.level >= 1.0)
            throw InputError("Checker/Level must lie strictly between 0 and 1.");
        }
    }
  } // namespace

  bool Parameters::use_scaled_coordinates() const
  {
    if (discretization.scaled_coordinates == "auto")
      return process.type == "VE" || process.type == "EDM";
    return discretization.scaled_coordinates == "true";
  }

  void declare_parameters(ParameterHandler &prm)
  {
    prm.declare_entry(
        "Task",
        "solve",
        Patterns::Selection("solve|sample|check|scheme table|evaluate"),
        "solve: the Fokker-Planck equation named by Equation (and, with Output/Reference "
        "file, a reference file). sample: run one reverse-time sampler (section Sampler) and "
        "write its particles. check: test a samples file against the closed-form law or a "
        "reference file (section Checker). scheme table: the error of every sampler in "
        "section Scheme table at every step count, exactly for Gaussian data and from "
        "particles otherwise. evaluate: a reference file's density and score at the points of "
        "section Evaluation.");
    prm.declare_entry("Equation",
                      "density",
                      Patterns::Selection("density|score|log-density"),
                      "What to solve (MATH.md section 2): the density FPE for p; the score "
                      "FPE for s = grad log p (vector elements, elliptic curl-free form); or "
                      "the log-density equation for u = log p (scalar, p = e^u > 0 and "
                      "s = grad u).");
    prm.declare_entry(
        "Dimension",
        "2",
        Patterns::Integer(1),
        "Space dimension d of the process: 1, 2 or 3 for solves, checks and samplers; up "
        "to 8 for samplers of closed-form data; any for the diagonal Gaussian.");

    prm.enter_subsection("Process");
    {
      prm.declare_entry("Type",
                        "VP",
                        Patterns::Selection(joined(process_names())),
                        "Forward SDE dX = -a(t) X dt + g(t) dW (MATH.md section 1): "
                        "VP and sub-VP (beta schedule), VE (geometric sigma), EDM "
                        "(sigma(t) = t), OU (constant rate and diffusion).");
      prm.declare_entry("Start time",
                        "0",
                        Patterns::Double(0),
                        "Time t0 at which the data distribution is placed (dimensionless "
                        "diffusion time).");
      prm.declare_entry("Final time",
                        "1",
                        Patterns::Double(0),
                        "Final time T (for EDM, T is the final noise level sigma_max).");
      prm.declare_entry(
          "beta min", "0.1", Patterns::Double(0), "VP/sub-VP: beta(0), in units of 1/time.");
      prm.declare_entry(
          "beta max", "20", Patterns::Double(0), "VP/sub-VP: beta(1), in units of 1/time.");
      prm.declare_entry(
          "sigma min", "0.01", Patterns::Double(0), "VE: sigma(0), in units of the data.");
      prm.declare_entry(
          "sigma max", "50", Patterns::Double(0), "VE: sigma(1), in units of the data.");
      prm.declare_entry("OU rate",
                        "1",
                        Patterns::Double(0),
                        "OU: drift rate r in dX = -r X dt + sqrt(q) dW, units 1/time.");
      prm.declare_entry("OU diffusion",
                        "2",
                        Patterns::Double(0),
                        "OU: diffusion q = g^2, units of data^2/time (q = 2r gives the "
                        "stationary law N(0, I)).");
    }
    prm.leave_subsection();

    prm.enter_subsection("Initial data");
    {
      prm.declare_entry(
          "Type",
          "blob",
          Patterns::Selection("gaussian mixture|blob|8gaussians|checkerboard|diagonal gaussian"),
          "Data distribution p0 (MATH.md section 6): blob and 8gaussians are 2D "
          "mixtures, checkerboard is uniform on alternate cells of side 1.5 in "
          "[-3,3]^d, 'gaussian mixture' reads Weights, Means and Covariances, "
          "'diagonal gaussian' is N(Means, diag(Variances)) in any dimension "
          "(samplers and scheme tables only).");
      prm.declare_entry("Variances",
                        "1",
                        Patterns::Anything(),
                        "diagonal gaussian: one variance per coordinate (>= 0), comma "
                        "separated; ignored when Variances file is set.");
      prm.declare_entry("Variances file",
                        "",
                        Patterns::Anything(),
                        "diagonal gaussian: a NumPy .npy file of d variances, e.g. "
                        "../shared/data/cifar10-covariance-eigenvalues.npy (relative paths "
                        "are relative to the working directory).");
      prm.declare_entry("Weights",
                        "1",
                        Patterns::Anything(),
                        "gaussian mixture: one positive weight per component, comma "
                        "separated (normalised to sum 1).");
      prm.declare_entry("Means",
                        "0",
                        Patterns::Anything(),
                        "gaussian mixture: d coordinates per component; components "
                        "separated by ';' (e.g. '-1, 0; 1, 0').");
      prm.declare_entry("Covariances",
                        "1",
                        Patterns::Anything(),
                        "gaussian mixture: per component either one variance (s I) or a "
                        "row-major symmetric positive definite d x d matrix; components "
                        "separated by ';'.");
      prm.declare_entry("Smoothing variance",
                        "0",
                        Patterns::Double(0),
                        "Convolve the data set with N(0, s I) before placing it at the start "
                        "time (units of data^2). Score and log-density runs of the "
                        "checkerboard need s > 0: its score is undefined off the squares.");
    }
    prm.leave_subsection();

    prm.enter_subsection("Mesh");
    {
      prm.declare_entry("Geometry",
                        "box",
                        Patterns::Selection("box|ball|gmsh"),
                        "Computational domain: an axis-parallel box, a ball centred at 0, or "
                        "a Gmsh mesh file. With scaled coordinates the domain is given in "
                        "xi = x / c(t).");
      prm.declare_entry("Box lower corner",
                        "-5",
                        Patterns::Anything(),
                        "box: lower corner, one number (all directions) or d numbers.");
      prm.declare_entry("Box upper corner",
                        "5",
                        Patterns::Anything(),
                        "box: upper corner, one number (all directions) or d numbers.");
      prm.declare_entry("Ball radius", "6", Patterns::Double(0), "ball: radius.");
      prm.declare_entry("Gmsh file",
                        "meshes/disk.msh",
                        Patterns::Anything(),
                        "gmsh: path of a .msh file (format 2.2 or 4), relative to the "
                        "working directory.");
      prm.declare_entry("Coarse subdivisions",
                        "1",
                        Patterns::Integer(1, 1000),
                        "box: cells of the coarse mesh along the shortest edge (other edges "
                        "in proportion).");
      prm.declare_entry("Refinement levels",
                        "4",
                        Patterns::List(Patterns::Integer(0, 20), 1),
                        "Global refinements of the coarse mesh. Several values (e.g. "
                        "'3, 4, 5') run a convergence study.");
      prm.declare_entry("Minimum mass in domain",
                        "0.9999",
                        Patterns::Double(0, 1),
                        "The exact initial and final densities must put at least this "
                        "probability inside the domain; otherwise the run stops.");
    }
    prm.leave_subsection();

    prm.enter_subsection("Discretization");
    {
      prm.declare_entry("Polynomial degree",
                        "2",
                        Patterns::Integer(1, 4),
                        "Degree p of the continuous Q_p elements.");
      prm.declare_entry("Boundary condition",
                        "zero flux",
                        Patterns::Selection("zero flux|dirichlet"),
                        "zero flux: J.n = 0 (natural, conserves mass); dirichlet: p = 0.");
      prm.declare_entry("Scaled coordinates",
                        "auto",
                        Patterns::Selection("auto|true|false"),
                        "Solve for q(xi,t) = c^d p(c xi, t), c^2 = c0^2 + v(t) (MATH.md "
                        "section 2); auto uses them for VE and EDM. Results are reported in "
                        "the original coordinates.");
    }
    prm.leave_subsection();

    prm.enter_subsection("Time stepping");
    {
      prm.declare_entry("Method",
                        "ARK436L2SA_DIRK_6_3_4",
                        Patterns::Selection(joined(dirk_tableau_names())),
                        "Diagonally implicit Runge-Kutta table from SUNDIALS ARKode "
                        "(NAME_stages_embedded-order_order): ARK436L2SA_DIRK_6_3_4 is "
                        "4th order, L-stable, stiffly accurate.");
      prm.declare_entry("Tolerance",
                        "1e-5",
                        Patterns::Double(0),
                        "Adaptive steps: bound on the estimated relative L2 error of each "
                        "step (dimensionless).");
      prm.declare_entry(
          "Initial step", "1e-3", Patterns::Double(0), "First step size tried (units of time).");
      prm.declare_entry("Fixed step",
                        "0",
                        Patterns::Double(0),
                        "If positive: constant step size (units of time), shortened to "
                        "hit output times; no error control.");
      prm.declare_entry("Minimum step",
                        "1e-12",
                        Patterns::Double(0),
                        "The run stops with an error if adaptive steps fall below this.");
      prm.declare_entry("Maximum steps",
                        "1000000",
                        Patterns::Integer(1),
                        "The run stops with an error after this many steps.");
    }
    prm.leave_subsection();

    prm.enter_subsection("Linear solver");
    {
      prm.declare_entry("Backend",
                        "Trilinos",
                        Patterns::Selection("Trilinos|PETSc"),
                        "Distributed linear algebra: Trilinos (Epetra, ML algebraic "
                        "multigrid) or PETSc (hypre BoomerAMG).");
      prm.declare_entry("Relative tolerance",
                        "1e-12",
                        Patterns::Double(0, 1),
                        "GMRES/CG stop when the residual falls below this times the "
                        "right-hand side norm.");
      prm.declare_entry("Maximum iterations",
                        "1000",
                        Patterns::Integer(1),
                        "Iteration limit of each linear solve.");
      prm.declare_entry("Preconditioner rebuild",
                        "0.5",
                        Patterns::Double(0),
                        "The multigrid hierarchy is rebuilt when a coefficient of the stage "
                        "matrix M + h gamma (a A + g^2/2 L) changed by more than this "
                        "relative amount since it was built.");
      prm.declare_entry("Jacobi diffusion number",
                        "2",
                        Patterns::Double(0),
                        "Stages whose diffusion number h gamma g^2/2 max_i(L_ii/M_ii) is "
                        "below this are preconditioned by point Jacobi instead of algebraic "
                        "multigrid (mass-dominated stages; 0 = always multigrid).");
    }
    prm.leave_subsection();

    prm.enter_subsection("Score");
    {
      prm.declare_entry("Boundary condition",
                        "exact",
                        Patterns::Selection("exact|gaussian"),
                        "Dirichlet data of the score and log-density equations: 'exact' "
                        "takes the closed-form law of the data at each stage time; "
                        "'gaussian' takes the law of the Gaussian with the data's mean and "
                        "covariance (exact for Gaussian data, and for any data once the "
                        "noise variance v(t) dominates the data covariance).");
      prm.declare_entry("Newton tolerance",
                        "1e-6",
                        Patterns::Double(0),
                        "Newton's method stops when the update is below this size relative "
                        "to the stage solution (l2 norms), and with adaptive steps also "
                        "below 1% of Time stepping/Tolerance.");
      prm.declare_entry("Maximum Newton iterations",
                        "10",
                        Patterns::Integer(1),
                        "More iterations than this fail the step: with adaptive steps it is "
                        "retried with a quarter of the step.");
      prm.declare_entry("Companion density",
                        "false",
                        Patterns::Bool(),
                        "Also solve the density FPE on the same mesh (its output goes to "
                        "the subdirectory density/) and compare grad p_h / p_h with the "
                        "score: errors, residuals and tail_shells.csv.");
      prm.declare_entry("Bulk mass",
                        "0.99",
                        Patterns::Double(0, 1),
                        "The bulk region is the highest-density region holding this much of "
                        "the probability; score errors are reported there separately.");
      prm.declare_entry("Tail threshold",
                        "1e-6",
                        Patterns::Double(0, 1),
                        "The tail region is where p < threshold * max p.");
      prm.declare_entry("Perturbation amplitude",
                        "0.1",
                        Patterns::Double(0),
                        "The residuals are also reported for the exact score plus grad phi, "
                        "phi = A exp(-|x|^2 / (2 w^2)) (a score that is not a solution); "
                        "A is this amplitude, 0 switches it off.");
      prm.declare_entry(
          "Perturbation width", "1", Patterns::Double(0), "The width w of that bump.");
      prm.declare_entry("Number of tail shells",
                        "20",
                        Patterns::Integer(1),
                        "Companion runs: shells of |x| in which tail_shells.csv compares the "
                        "two scores.");
    }
    prm.leave_subsection();

    prm.enter_subsection("Output");
    {
      prm.declare_entry("Directory",
                        "output",
                        Patterns::Anything(),
                        "Where every file of the run goes (created if missing).");
      prm.declare_entry("Number of output intervals",
                        "10",
                        Patterns::Integer(1),
                        "Output times equally spaced in [t0, T] (ignored if Output times "
                        "is set).");
      prm.declare_entry("Output times",
                        "",
                        Patterns::List(Patterns::Double(0), 0),
                        "Explicit output times in [t0, T] (the final time is always "
                        "added).");
      prm.declare_entry("Write VTU",
                        "true",
                        Patterns::Bool(),
                        "Write solution.pvd with one .pvtu/.vtu set per output time.");
      prm.declare_entry("Points file",
                        "",
                        Patterns::Anything(),
                        "CSV file with d coordinates per line (original coordinates; '#' "
                        "comments and a header line allowed): density and exact density "
                        "at these points go to point_values.csv at each output time.");
      prm.declare_entry("Progress interval",
                        "1",
                        Patterns::Double(0),
                        "Seconds of wall time between progress lines (0: every step).");
      prm.declare_entry("Quiet",
                        "false",
                        Patterns::Bool(),
                        "Print only the run's header and result lines: no progress lines and "
                        "no timer table (for sweeps and scripts).");
      prm.declare_entry("Reference file",
                        "",
                        Patterns::Anything(),
                        "HDF5 reference file written at the output times (format: "
                        "postprocess/REFERENCE_FORMAT.md): mesh, finite-element values, "
                        "quadrature cloud, tabulated grid and moments of each snapshot, read "
                        "by the sampler, the checker and postprocess/scorefp_reference.py. A "
                        "relative path is taken relative to Output/Directory; empty = none. "
                        "With several Mesh/Refinement levels only the finest level writes it. "
                        "Score runs take the density from the companion density solve, which "
                        "this turns on (Score/Companion density); log-density runs cannot "
                        "write one yet.");
      prm.declare_entry("Reference grid points",
                        "65",
                        Patterns::List(Patterns::Integer(2, 100000), 1),
                        "Reference file: points of the tensor grid on which density and "
                        "score are tabulated, one number (every direction) or d numbers.");
      prm.declare_entry("Reference grid lower corner",
                        "",
                        Patterns::Anything(),
                        "Reference file: lower corner of that grid in original (physical) "
                        "coordinates, one number or d numbers; empty = the lower corner of "
                        "the mesh's bounding box at each output time (times c(t) with scaled "
                        "coordinates).");
      prm.declare_entry("Reference grid upper corner",
                        "",
                        Patterns::Anything(),
                        "Reference file: upper corner of that grid, as the lower corner; "
                        "empty = the mesh's bounding box at each output time.");
    }
    prm.leave_subsection();

    prm.enter_subsection("Sampler");
    {
      prm.declare_entry("Scheme",
                        "euler-maruyama",
                        Patterns::Selection(scheme_selection()),
                        "The reverse-time scheme (MATH.md section 4): SDE schemes "
                        "euler-maruyama, exponential-integrator (VP and OU with q = 2r), "
                        "ddpm (ancestral); probability-flow ODE by ode-euler, ode-heun, "
                        "ode-rk4, ode-rk45 (adaptive per particle) or edm-heun (Karras et al., "
                        "in sigma = sqrt(v)/m); predictor-corrector is euler-maruyama followed "
                        "by Langevin corrector steps (at least one).");
      prm.declare_entry("Steps",
                        "100",
                        Patterns::Integer(1),
                        "Number of steps from the final time T down to the early-stopping "
                        "time (the initial step of ode-rk45).");
      prm.declare_entry("Time grid",
                        "uniform",
                        Patterns::Selection("uniform|edm"),
                        "uniform in t, or the EDM grid sigma_i = (sigma_max^(1/rho) + i/N "
                        "(sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, i = 0..N, in the "
                        "noise level sigma(t) = sqrt(v(t))/m(t), mapped back to t.");
      prm.declare_entry("EDM rho", "7", Patterns::Double(1), "rho of the EDM grid.");
      prm.declare_entry("Early stopping",
                        "1e-3",
                        Patterns::Double(0),
                        "The sampler stops at this time epsilon >= Process/Start time; the "
                        "samples represent p_epsilon.");
      prm.declare_entry("Start",
                        "prior",
                        Patterns::Selection("prior|exact"),
                        "prior: N(0, v(T) I); exact: the forward law p_T itself (no "
                        "initialisation error).");
      prm.declare_entry("Particles", "10000", Patterns::Integer(1), "Number of particles.");
      prm.declare_entry("Seed",
                        "1",
                        Patterns::Integer(0),
                        "Random seed; particle i draws its noise from a stream fixed by (seed, "
                        "i), so the samples do not depend on the number of ranks.");
      prm.declare_entry("Score",
                        "exact",
                        Patterns::Selection("exact|perturbed|reference file"),
                        "The score the sampler uses: the closed form; the closed form plus "
                        "grad phi with the bump phi of Score/Perturbation amplitude and width "
                        "(a controlled score error); or a reference file, interpolated "
                        "linearly in time between its snapshots.");
      prm.declare_entry("Reference file",
                        "",
                        Patterns::Anything(),
                        "Score = reference file: the HDF5 reference (from Output/Reference "
                        "file of a solve).");
      prm.declare_entry("Reference score",
                        "finite-element",
                        Patterns::Selection("finite-element|log-density gradient"),
                        "Which score of a reference file: the finite-element score (score "
                        "runs) or grad p_h / p_h of its density.");
      prm.declare_entry("Corrector steps",
                        "0",
                        Patterns::Integer(0, 8),
                        "Langevin corrector steps x += delta s + sqrt(2 delta) z after every "
                        "step (any scheme but ode-rk45), delta = 2 r^2 d / sum_i 1/(m^2 lambda_i "
                        "+ v) with r the signal-to-noise ratio and lambda_i the eigenvalues of "
                        "Cov X_0: Song et al.'s rule 2 r^2 |z|^2/|s|^2 with their batch norms "
                        "replaced by the values of the moment-matched Gaussian of p_t, so the "
                        "step does not depend on the particles.");
      prm.declare_entry(
          "Signal-to-noise ratio", "0.16", Patterns::Double(0), "r of the Langevin corrector.");
      prm.declare_entry("RK45 relative tolerance", "1e-5", Patterns::Double(0), "ode-rk45.");
      prm.declare_entry("RK45 absolute tolerance", "1e-7", Patterns::Double(0), "ode-rk45.");
      prm.declare_entry("Samples file",
                        "samples.npy",
                        Patterns::Anything(),
                        "Where the N x d particles go (float64 .npy, in the output "
                        "directory); a JSON file of the same name plus .json records the time "
                        "they represent and how they were made.");
      prm.declare_entry(
          "Write CSV", "false", Patterns::Bool(), "Also write the samples as CSV (.csv).");
    }
    prm.leave_subsection();

    prm.enter_subsection("Scheme table");
    {
      prm.declare_entry("Schemes",
                        "euler-maruyama, exponential-integrator, ddpm, ode-euler, ode-heun, "
                        "ode-rk4, edm-heun, predictor-corrector",
                        Patterns::List(Patterns::Selection(scheme_selection())),
                        "The rows of the table (the Sampler settings apply otherwise).");
      prm.declare_entry("Step counts",
                        "10, 20, 50, 100",
                        Patterns::List(Patterns::Integer(1)),
                        "The columns of the table.");
      prm.declare_entry("Early stopping values",
                        "1e-3",
                        Patterns::List(Patterns::Double(0)),
                        "One table per value of epsilon.");
      prm.declare_entry("Starts",
                        "prior",
                        Patterns::List(Patterns::Selection("prior|exact")),
                        "One table per start.");
      prm.declare_entry("Particles",
                        "100000",
                        Patterns::Integer(1),
                        "Particles per entry when the data are not Gaussian (the error is "
                        "then the sliced W2 to the exact p_epsilon, with its noise floor).");
      prm.declare_entry("Sliced directions",
                        "64",
                        Patterns::Integer(1),
                        "Directions of the sliced W2 for non-Gaussian data.");
    }
    prm.leave_subsection();

    prm.enter_subsection("Evaluation");
    {
      prm.declare_entry("Reference file", "", Patterns::Anything(), "The HDF5 reference file.");
      prm.declare_entry("Points file",
                        "",
                        Patterns::Anything(),
                        "N x d points in physical coordinates: .npy, or text (.csv, .txt) with "
                        "d numbers per line.");
      prm.declare_entry("Times",
                        "",
                        Patterns::Anything(),
                        "Times to evaluate at (between the first and the last snapshot, "
                        "interpolated linearly in between); empty: every snapshot.");
      prm.declare_entry("Score",
                        "log-density gradient",
                        Patterns::Selection("finite-element|log-density gradient"),
                        "The finite-element score (score runs) or grad p_h / p_h.");
      prm.declare_entry("Output file",
                        "evaluation.csv",
                        Patterns::Anything(),
                        "CSV in the output directory: time, point, x0.., density, s0.., "
                        "inside (0 outside the mesh: density 0, score of the moment-matched "
                        "Gaussian).");
    }
    prm.leave_subsection();

    prm.enter_subsection("Checker");
    {
      prm.declare_entry("Samples file",
                        "",
                        Patterns::Anything(),
                        "N x d samples: .npy (float64 or float32) or text (.csv, .txt).");
      prm.declare_entry("Time",
                        "-1",
                        Patterns::Double(),
                        "The time t the samples represent; negative: read it from the JSON "
                        "file written next to them by Task = sample.");
      prm.declare_entry("Reference",
                        "closed form",
                        Patterns::Selection("closed form|file"),
                        "closed form: the exact p_t of Process and Initial data, on the mesh "
                        "of section Mesh (finest level); file: the snapshot at time t of the "
                        "reference file below.");
      prm.declare_entry(
          "Reference file", "", Patterns::Anything(), "Reference = file: the HDF5 reference.");
      prm.declare_entry(
          "Level", "0.05", Patterns::Double(0, 1), "Significance level alpha of each test.");
      prm.declare_entry("Null draws",
                        "99",
                        Patterns::Integer(1),
                        "Sample sets of the same size drawn from the reference to calibrate "
                        "every statistic; the p-value is (1 + #{null >= observed})/(draws + 1).");
      prm.declare_entry("Seed", "1", Patterns::Integer(0), "Seed of the null draws and slices.");
      prm.declare_entry(
          "Sliced directions", "32", Patterns::Integer(1), "Directions of the sliced W2.");
      prm.declare_entry("MMD features",
                        "256",
                        Patterns::Integer(1),
                        "Random Fourier features of the Gaussian kernel of MMD^2.");
      prm.declare_entry("MMD bandwidth",
                        "0",
                        Patterns::Double(0),
                        "Kernel width l; 0: the reference's own scale (root mean variance "
                        "per coordinate).");
      prm.declare_entry("Cloud points",
                        "0",
                        Patterns::Integer(0),
                        "Gauss points per cell direction of the quadrature cloud; 0: degree + "
                        "2.");
    }
    prm.leave_subsection();
  }

  namespace
  {
    // ParameterHandler's JSON output spells every character of a name other than
    // letters and digits as "_XX" (hex); undo that for the listing.
    std::string demangle(const std::string &name)
    {
      std::string out;
      for (std::size_t i = 0; i < name.size(); ++i)
        if (name[i] == '_' && i + 2 < name.size() && std::isxdigit(name[i + 1]) &&
            std::isxdigit(name[i + 2]))
          {
            out += static_cast<char>(std::stoi(name.substr(i + 1, 2), nullptr, 16));
            i += 2;
          }
        else
          out += name[i];
      return out;
    }

    void wrap_comment(std::ostream &out, const std::string &indent, const std::string &text)
    {
      std::istringstream words(text);
      std::string        word, line;
      while (words >> word)
        {
          if (!line.empty() && line.size() + word.size() + 1 > 78 - indent.size())
            {
              out << indent << "# " << line << "\n";
              line.clear();
            }
          line += (line.empty() ? "" : " ") + word;
        }
      if (!line.empty())
        out << indent << "# " << line << "\n";
    }

    void print_section(std::ostream                      &out,
                       const boost::property_tree::ptree &section,
                       const std::string                 &indent)
    {
      for (const auto &[key, node] : section)
        if (node.count("value") != 0)
          {
            wrap_comment(out, indent, node.get<std::string>("documentation"));
            wrap_comment(
                out, indent, "Allowed: " + one_line(node.get<std::string>("pattern_description")));
            out << indent << "set " << demangle(key) << " = "
                << node.get<std::string>("default_value") << "\n\n";
          }
      for (const auto &[key, node] : section)
        if (node.count("value") == 0)
          {
            out << indent << "subsection " << demangle(key) << "\n";
            print_section(out, node, indent + "  ");
            out << indent << "end\n\n";
          }
    }
  } // namespace

  void print_parameter_manual(const ParameterHandler &prm, std::ostream &out)
  {
    std::stringstream json;
    prm.print_parameters(json, ParameterHandler::JSON);
    boost::property_tree::ptree tree;
    boost::property_tree::read_json(json, tree);
    out << "# scorefp parameters: every entry with its documentation, allowed values and\n"
           "# default. This listing is itself a valid parameter file.\n\n";
    print_section(out, tree, "");
  }

  Parameters parse_parameters(ParameterHandler &prm)
  {
    Parameters p;
    p.task                 = prm.get("Task");
    p.equation             = prm.get("Equation");
    p.dimension            = prm.get_integer("Dimension");
    const unsigned int dim = p.dimension;

    prm.enter_subsection("Process");
    p.process.type         = prm.get("Type");
    p.process.start_time   = prm.get_double("Start time");
    p.process.final_time   = prm.get_double("Final time");
    p.process.beta_min     = prm.get_double("beta min");
    p.process.beta_max     = prm.get_double("beta max");
    p.process.sigma_min    = prm.get_double("sigma min");
    p.process.sigma_max    = prm.get_double("sigma max");
    p.process.ou_rate      = prm.get_double("OU rate");
    p.process.ou_diffusion = prm.get_double("OU diffusion");
    prm.leave_subsection();

    prm.enter_subsection("Initial data");
    p.data.type               = prm.get("Type");
    p.data.weights            = parse_numbers(prm.get("Weights"), "Initial data/Weights");
    p.data.smoothing_variance = prm.get_double("Smoothing variance");
    if (p.data.type == "diagonal gaussian")
      {
        const std::string file = prm.get("Variances file");
        p.data.variances       = file.empty()
                                     ? parse_numbers(prm.get("Variances"), "Initial data/Variances")
                                     : read_npy_vector(file, "Initial data/Variances file");
        p.data.means           = parse_numbers(prm.get("Means"), "Initial data/Means");
      }
    if (p.data.type == "gaussian mixture")
      {
        const auto means = parse_components(prm.get("Means"), "Initial data/Means");
        const auto covariances =
            parse_components(prm.get("Covariances"), "Initial data/Covariances");
        const std::size_t n = p.data.weights.size();
        if (means.size() != n || covariances.size() != n)
          throw InputError("Initial data: Weights has " + std::to_string(n) +
                           " components, Means " + std::to_string(means.size()) +
                           " and Covariances " + std::to_string(covariances.size()) +
                           "; expected the same number (components separated by ';').");
        for (std::size_t k = 0; k < n; ++k)
          {
            if (means[k].size() != dim)
              throw InputError("Initial data/Means: component " + std::to_string(k) + " has " +
                               std::to_string(means[k].size()) + " coordinates; expected " +
                               std::to_string(dim) + ".");
            p.data.means.insert(p.data.means.end(), means[k].begin(), means[k].end());
            if (covariances[k].size() == 1)
              for (unsigned int i = 0; i < dim; ++i)
                for (unsigned int j = 0; j < dim; ++j)
                  p.data.covariances.push_back(i == j ? covariances[k][0] : 0.0);
            else if (covariances[k].size() == dim * dim)
              p.data.covariances.insert(
                  p.data.covariances.end(), covariances[k].begin(), covariances[k].end());
            else
              throw InputError("Initial data/Covariances: component " + std::to_string(k) +
                               " has " + std::to_string(covariances[k].size()) +
                               " numbers; expected 1 (a variance) or " + std::to_string(dim * dim) +
                               " (a row-major matrix).");
          }
      }
    prm.leave_subsection();

    prm.enter_subsection("Mesh");
    p.mesh.geometry = prm.get("Geometry");
    p.mesh.lower_corner =
        corner(parse_numbers(prm.get("Box lower corner"), "Mesh/Box lower corner"),
               dim,
               "Mesh/Box lower corner");
    p.mesh.upper_corner =
        corner(parse_numbers(prm.get("Box upper corner"), "Mesh/Box upper corner"),
               dim,
               "Mesh/Box upper corner");
    for (unsigned int j = 0; j < dim; ++j)
      if (!(p.mesh.upper_corner[j] > p.mesh.lower_corner[j]))
        throw InputError("Mesh/Box upper corner must exceed Mesh/Box lower corner in every "
                         "coordinate (coordinate " +
                         std::to_string(j) + " does not).");
    p.mesh.ball_radius         = prm.get_double("Ball radius");
    p.mesh.gmsh_file           = prm.get("Gmsh file");
    p.mesh.coarse_subdivisions = prm.get_integer("Coarse subdivisions");
    p.mesh.refinement_levels.clear();
    for (const double level : parse_numbers(prm.get("Refinement levels"), "Mesh/Refinement levels"))
      p.mesh.refinement_levels.push_back(static_cast<unsigned int>(level));
    p.mesh.minimum_mass = prm.get_double("Minimum mass in domain");
    if (p.mesh.geometry == "ball" && !(p.mesh.ball_radius > 0))
      throw InputError("Mesh/Ball radius must be positive.");
    prm.leave_subsection();

    prm.enter_subsection("Discretization");
    p.discretization.degree             = prm.get_integer("Polynomial degree");
    p.discretization.boundary_condition = prm.get("Boundary condition");
    p.discretization.scaled_coordinates = prm.get("Scaled coordinates");
    prm.leave_subsection();

    prm.enter_subsection("Time stepping");
    p.time_stepping.method        = prm.get("Method");
    p.time_stepping.tolerance     = prm.get_double("Tolerance");
    p.time_stepping.initial_step  = prm.get_double("Initial step");
    p.time_stepping.fixed_step    = prm.get_double("Fixed step");
    p.time_stepping.minimum_step  = prm.get_double("Minimum step");
    p.time_stepping.maximum_steps = prm.get_integer("Maximum steps");
    if (!(p.time_stepping.tolerance > 0))
      throw InputError("Time stepping/Tolerance must be positive.");
    if (!(p.time_stepping.initial_step > 0))
      throw InputError("Time stepping/Initial step must be positive.");
    prm.leave_subsection();

    prm.enter_subsection("Linear solver");
    p.linear_solver.backend                 = prm.get("Backend");
    p.linear_solver.relative_tolerance      = prm.get_double("Relative tolerance");
    p.linear_solver.maximum_iterations      = prm.get_integer("Maximum iterations");
    p.linear_solver.preconditioner_rebuild  = prm.get_double("Preconditioner rebuild");
    p.linear_solver.jacobi_diffusion_number = prm.get_double("Jacobi diffusion number");
    prm.leave_subsection();

    prm.enter_subsection("Score");
    p.score.boundary_condition        = prm.get("Boundary condition");
    p.score.newton_tolerance          = prm.get_double("Newton tolerance");
    p.score.maximum_newton_iterations = prm.get_integer("Maximum Newton iterations");
    p.score.companion_density         = prm.get_bool("Companion density");
    p.score.bulk_mass                 = prm.get_double("Bulk mass");
    p.score.tail_threshold            = prm.get_double("Tail threshold");
    p.score.perturbation_amplitude    = prm.get_double("Perturbation amplitude");
    p.score.perturbation_width        = prm.get_double("Perturbation width");
    p.score.n_tail_shells             = prm.get_integer("Number of tail shells");
    if (!(p.score.bulk_mass > 0 && p.score.bulk_mass < 1))
      throw InputError("Score/Bulk mass must lie strictly between 0 and 1.");
    if (!(p.score.perturbation_width > 0))
      throw InputError("Score/Perturbation width must be positive.");
    prm.leave_subsection();

    prm.enter_subsection("Output");
    p.output.directory          = prm.get("Directory");
    p.output.n_output_intervals = prm.get_integer("Number of output intervals");
    p.output.output_times       = parse_numbers(prm.get("Output times"), "Output/Output times");
    p.output.write_vtu          = prm.get_bool("Write VTU");
    p.output.points_file        = prm.get("Points file");
    p.output.progress_interval  = prm.get_double("Progress interval");
    p.output.quiet              = prm.get_bool("Quiet");
    p.output.reference_file     = prm.get("Reference file");
    {
      p.output.reference_grid_points.clear();
      for (const double n :
           parse_numbers(prm.get("Reference grid points"), "Output/Reference grid points"))
        p.output.reference_grid_points.push_back(static_cast<unsigned int>(n));
      if (p.output.reference_grid_points.size() == 1)
        p.output.reference_grid_points.resize(dim, p.output.reference_grid_points[0]);
      if (p.output.reference_grid_points.size() != dim)
        throw InputError("Output/Reference grid points has " +
                         std::to_string(p.output.reference_grid_points.size()) +
                         " numbers; expected 1 or " + std::to_string(dim) + ".");
      const auto lower = parse_numbers(prm.get("Reference grid lower corner"),
                                       "Output/Reference grid lower corner");
      const auto upper = parse_numbers(prm.get("Reference grid upper corner"),
                                       "Output/Reference grid upper corner");
      if (lower.empty() != upper.empty())
        throw InputError("Output/Reference grid lower corner and upper corner must be given "
                         "together (or both left empty for the mesh's bounding box).");
      if (!lower.empty())
        {
          p.output.reference_grid_lower = corner(lower, dim, "Output/Reference grid lower corner");
          p.output.reference_grid_upper = corner(upper, dim, "Output/Reference grid upper corner");
          for (unsigned int j = 0; j < dim; ++j)
            if (!(p.output.reference_grid_upper[j] > p.output.reference_grid_lower[j]))
              throw InputError("Output/Reference grid upper corner must exceed the lower "
                               "corner in every coordinate (coordinate " +
                               std::to_string(j) + " does not).");
        }
    }
    prm.leave_subsection();
    if (p.output.directory.empty())
      throw InputError("Output/Directory is empty; expected a directory name.");

    prm.enter_subsection("Sampler");
    {
      SamplerParameters &s      = p.sampler;
      s.scheme                  = prm.get("Scheme");
      s.n_steps                 = prm.get_integer("Steps");
      s.time_grid               = prm.get("Time grid");
      s.rho                     = prm.get_double("EDM rho");
      s.early_stopping          = prm.get_double("Early stopping");
      s.start                   = prm.get("Start");
      s.n_particles             = prm.get_integer("Particles");
      s.seed                    = prm.get_integer("Seed");
      s.score                   = prm.get("Score");
      s.reference_file          = prm.get("Reference file");
      s.reference_score         = prm.get("Reference score");
      s.corrector_steps         = prm.get_integer("Corrector steps");
      s.snr                     = prm.get_double("Signal-to-noise ratio");
      s.rk45_relative_tolerance = prm.get_double("RK45 relative tolerance");
      s.rk45_absolute_tolerance = prm.get_double("RK45 absolute tolerance");
      s.samples_file            = prm.get("Samples file");
      s.write_csv               = prm.get_bool("Write CSV");
    }
    prm.leave_subsection();
    prm.enter_subsection("Scheme table");
    {
      SchemeTableParameters &s = p.scheme_table;
      s.schemes                = dealii::Utilities::split_string_list(prm.get("Schemes"));
      for (const double n : parse_numbers(prm.get("Step counts"), "Scheme table/Step counts"))
        s.step_counts.push_back(static_cast<unsigned int>(n));
      s.early_stopping =
          parse_numbers(prm.get("Early stopping values"), "Scheme table/Early stopping values");
      s.starts            = dealii::Utilities::split_string_list(prm.get("Starts"));
      s.n_particles       = prm.get_integer("Particles");
      s.sliced_directions = prm.get_integer("Sliced directions");
    }
    prm.leave_subsection();
    prm.enter_subsection("Evaluation");
    {
      EvaluationParameters &e = p.evaluation;
      e.reference_file        = prm.get("Reference file");
      e.points_file           = prm.get("Points file");
      e.times                 = parse_numbers(prm.get("Times"), "Evaluation/Times");
      e.score                 = prm.get("Score");
      e.output_file           = prm.get("Output file");
    }
    prm.leave_subsection();
    prm.enter_subsection("Checker");
    {
      CheckerParameters &c = p.checker;
      c.samples_file       = prm.get("Samples file");
      c.time               = prm.get_double("Time");
      c.reference          = prm.get("Reference");
      c.reference_file     = prm.get("Reference file");
      c.level              = prm.get_double("Level");
      c.null_draws         = prm.get_integer("Null draws");
      c.seed               = prm.get_integer("Seed");
      c.sliced_directions  = prm.get_integer("Sliced directions");
      c.mmd_features       = prm.get_integer("MMD features");
      c.mmd_bandwidth      = prm.get_double("MMD bandwidth");
      c.cloud_points       = prm.get_integer("Cloud points");
    }
    prm.leave_subsection();
    check_task(p);
    // Build what the run will build, so that every mistake surfaces before any file is
    // written: the process, the data set and the time-stepping table.
    create_process(p.process);
    create_data(p.data, p.dimension);
    if (p.equation != "density")
      {
        if (p.data.type == "checkerboard" && !(p.data.smoothing_variance > 0))
          throw InputError("Initial data/Smoothing variance must be positive for " + p.equation +
                           " runs of the checkerboard, whose score is undefined off its "
                           "squares; expected e.g. 0.01.");
        if (!p.output.points_file.empty())
          throw InputError("Output/Points file is read by density runs only; expected it "
                           "empty for " +
                           p.equation + " runs.");
        if (p.discretization.boundary_condition != "zero flux" && p.score.companion_density)
          throw InputError("Score/Companion density needs Discretization/Boundary condition = "
                           "zero flux (the density solve must conserve mass).");
      }
    if (!p.output.reference_file.empty())
      {
        if (p.equation == "log-density")
          throw InputError("Output/Reference file is not supported for log-density runs yet "
                           "(the file format stores a density and a vector score); expected it "
                           "empty, or Equation = density or score.");
        if (p.equation == "score")
          {
            if (p.discretization.boundary_condition != "zero flux")
              throw InputError("Output/Reference file in a score run takes the density from the "
                               "companion density solve, which needs Discretization/Boundary "
                               "condition = zero flux.");
            p.score.companion_density = true;
          }
      }
    {
      std::ostringstream text;
      prm.print_parameters(text, ParameterHandler::ShortPRM);
      p.output.parameter_text = text.str();
    }
    load_dirk_tableau(p.time_stepping.method);
    for (const double t : p.output.output_times)
      if (t < p.process.start_time || t > p.process.final_time)
        throw InputError("Output/Output times: " + std::to_string(t) +
                         " lies outside [Start time, Final time].");
    return p;
  }

  Parameters read_parameters(ParameterHandler               &prm,
                             const std::string              &file,
                             const std::vector<std::string> &overrides)
  {
    {
      std::ifstream probe(file);
      if (!probe)
        throw InputError("Parameter file '" + file +
                         "' cannot be opened; expected a readable "
                         ".prm, .json or .xml file.");
    }
    const auto        dot       = file.find_last_of('.');
    const std::string extension = dot == std::string::npos ? "" : file.substr(dot);
    if (extension != ".prm" && extension != ".json" && extension != ".xml")
      throw InputError("Parameter file '" + file + "' has no .prm, .json or .xml extension.");
    try
      {
        prm.parse_input(file, "", /*skip_undefined=*/false, /*assert_mandatory=*/false);
      }
    catch (const dealii::ExceptionBase &e)
      {
        throw InputError("Parameter file '" + file + "': " + message_of(e));
      }
    catch (const std::exception &e)
      {
        throw InputError("Parameter file '" + file + "' is malformed: " + one_line(e.what()));
      }

    for (const std::string &assignment : overrides)
      {
        const auto equal = assignment.find('=');
        if (equal == std::string::npos)
          throw InputError("Override '" + assignment +
                           "' has no '='; expected 'Section/Key=value'.");
        std::string              path  = assignment.substr(0, equal);
        std::string              value = assignment.substr(equal + 1);
        std::vector<std::string> sections;
        std::size_t              slash;
        while ((slash = path.find('/')) != std::string::npos)
          {
            sections.push_back(path.substr(0, slash));
            path = path.substr(slash + 1);
          }
        unsigned int entered = 0;
        try
          {
            for (const auto &s : sections)
              {
                prm.enter_subsection(s);
                ++entered;
              }
            prm.set(path, value);
          }
        catch (const dealii::ExceptionBase &e)
          {
            for (; entered > 0; --entered)
              prm.leave_subsection();
            throw InputError("Override '" + assignment + "': " + message_of(e));
          }
        for (; entered > 0; --entered)
          prm.leave_subsection();
      }
    return parse_parameters(prm);
  }
} // namespace scorefp
