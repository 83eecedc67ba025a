// Where and what a run writes (section Output).
#pragma once

#include <string>
#include <vector>

namespace scorefp
{
  class ParameterBinder;

  struct OutputParameters
  {
    std::string         directory          = "output";
    unsigned int        n_output_intervals = 10;
    std::vector<double> output_times;
    bool                write_vtu = true;
    std::string         points_file;
    double              progress_interval = 1.0;   // seconds of wall time between lines
    bool                quiet             = false; // no progress lines, no timer table
    /// HDF5 reference file (postprocess/REFERENCE_FORMAT.md); empty = none. Relative
    /// paths are taken relative to `directory`.
    std::string               reference_file;
    std::vector<unsigned int> reference_grid_points{65}; // one per dimension after resolve()
    std::vector<double>       reference_grid_lower, reference_grid_upper; // empty = bounding box
    /// The parameters as run (ParameterHandler ShortPRM text), recorded in reference files.
    std::string parameter_text;

    void bind(ParameterBinder &binder);
    /// Expand the grid entries to `dimension` numbers and check them (InputError).
    void resolve(const unsigned int dimension);
  };
} // namespace scorefp
