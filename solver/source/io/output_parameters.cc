#include <scorefp/core/parameter_binder.h>
#include <scorefp/io/output_parameters.h>

#include <deal.II/base/patterns.h>

namespace scorefp
{
  namespace Patterns = dealii::Patterns;

  void OutputParameters::bind(ParameterBinder &b)
  {
    b.add("Directory", directory, "Where every file of the run goes (created if missing).");
    b.add("Number of output intervals",
          n_output_intervals,
          "Output times equally spaced in [t0, T] (ignored if Output times is set).",
          Patterns::Integer(1));
    b.add("Output times",
          output_times,
          "Explicit output times in [t0, T] (the final time is always added).");
    b.add("Write VTU",
          write_vtu,
          "Write solution.pvd with one .pvtu/.vtu set per output time.");
    b.add("Points file",
          points_file,
          "CSV file with d coordinates per line (original coordinates; '#' comments and a "
          "header line allowed): density and exact density at these points go to "
          "point_values.csv at each output time.");
    b.add("Progress interval",
          progress_interval,
          "Seconds of wall time between progress lines (0: every step).",
          Patterns::Double(0));
    b.add("Quiet",
          quiet,
          "Print only the run's header and result lines: no progress lines and no timer "
          "table (for sweeps and scripts).");
    b.add("Reference file",
          reference_file,
          "HDF5 reference file written at the output times (format: "
          "postprocess/REFERENCE_FORMAT.md): mesh, finite-element values, quadrature cloud, "
          "tabulated grid and moments of each snapshot, read by the sampler, the checker and "
          "postprocess/scorefp_reference.py. A relative path is taken relative to "
          "Output/Directory; empty = none. With several Mesh/Refinement levels only the "
          "finest level writes it. Score runs take the density from the companion density "
          "solve, which this turns on (Score/Companion density); log-density runs cannot "
          "write one yet.");
    b.add("Reference grid points",
          reference_grid_points,
          "Reference file: points of the tensor grid on which density and score are "
          "tabulated, one number (every direction) or d numbers.",
          Patterns::List(Patterns::Integer(2, 100000), 1));
    b.add("Reference grid lower corner",
          reference_grid_lower,
          "Reference file: lower corner of that grid in original (physical) coordinates, one "
          "number or d numbers; empty = the lower corner of the mesh's bounding box at each "
          "output time (times c(t) with scaled coordinates).");
    b.add("Reference grid upper corner",
          reference_grid_upper,
          "Reference file: upper corner of that grid, as the lower corner; empty = the mesh's "
          "bounding box at each output time.");
    b.require(!directory.empty() || b.declaring(),
              "Output/Directory is empty; expected a directory name.");
  }

  void OutputParameters::resolve(const unsigned int dim)
  {
    if (reference_grid_points.size() == 1)
      reference_grid_points.resize(dim, reference_grid_points[0]);
    if (reference_grid_points.size() != dim)
      throw InputError("Output/Reference grid points has " +
                       std::to_string(reference_grid_points.size()) + " numbers; expected 1 or " +
                       std::to_string(dim) + ".");
    if (reference_grid_lower.empty() != reference_grid_upper.empty())
      throw InputError("Output/Reference grid lower corner and upper corner must be given "
                       "together (or both left empty for the mesh's bounding box).");
    const auto expand = [dim](std::vector<double> &corner, const std::string &entry) {
      if (corner.size() == 1)
        corner.resize(dim, corner[0]);
      if (corner.size() != dim)
        throw InputError(entry + " has " + std::to_string(corner.size()) +
                         " coordinates; expected 1 or " + std::to_string(dim) + ".");
    };
    if (!reference_grid_lower.empty())
      {
        expand(reference_grid_lower, "Output/Reference grid lower corner");
        expand(reference_grid_upper, "Output/Reference grid upper corner");
        for (unsigned int j = 0; j < dim; ++j)
          if (!(reference_grid_upper[j] > reference_grid_lower[j]))
            throw InputError("Output/Reference grid upper corner must exceed the lower corner "
                             "in every coordinate (coordinate " +
                             std::to_string(j) + " does not).");
      }
  }
} // namespace scorefp
