// Score grids (Sampler/Score = grid, Task = tabulate score): a score field tabulated
// at the nodes of a tensor-product grid and a list of times, in the HDF5 format of
// postprocess/SCORE_MODEL_FORMAT.md ("Grid (HDF5)"):
//
//   /            attribute format = "scorefp score grid 1"
//   /axes/xj     float64 [n_j], strictly increasing, n_j >= 4 (j < d, d = 1, 2, 3)
//   /times       float64 [n_t], strictly increasing
//   /score       float64 [n_t, n_0, ..., n_{d-1}, d]
//   /process     optional: one string attribute per entry of section Process
//
// The interpolant is a tensor product of 4-point Lagrange stencils (cubic) in space,
// each shifted inwards at the ends of its axis, times 4-point Lagrange in time (the
// polynomial through every time when there are fewer than four). Outside the box a
// point takes the value of the nearest point of the box (the field is constant along
// the clamped directions, whose derivatives are zero); times outside [t_0, t_{n-1}]
// are clamped likewise. Errors: h^4 for values, h^(4-k) for derivatives of order k.
#pragma once

#include <scorefp/score_source/score_source.h>

#include <mpi.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace scorefp
{
  class ParameterBinder;

  /// The value of the root attribute `format` of a score grid.
  constexpr const char *score_grid_format = "scorefp score grid 1";

  /// A score grid in memory, laid out as in the file.
  struct ScoreGrid
  {
    std::vector<std::vector<double>> axes;  ///< d axes, each strictly increasing
    std::vector<double>              times; ///< strictly increasing
    /// [n_t][n_0]...[n_{d-1}][d], C order (the last axis fastest, then the component).
    std::vector<double> values;
    /// The entries of section Process it was tabulated for (/process); empty: none.
    std::vector<std::pair<std::string, std::string>> process;
    /// Free text (the root attribute `description`, optional): what was tabulated.
    std::string description;

    unsigned int dimension() const { return static_cast<unsigned int>(axes.size()); }
    /// n_0 ... n_{d-1}.
    std::size_t n_nodes() const;
    /// The coordinates of nodes [first, first + count) in the order of /score
    /// (point-major, count * d numbers).
    std::vector<double> nodes(const std::size_t first, const std::size_t count) const;
  };

  /// Write `grid` to `file` (parent directories created) under a temporary name that is
  /// renamed at the end, so a failed write leaves no file. Serial (call on one rank).
  /// std::runtime_error for a file that cannot be written or a grid whose sizes
  /// disagree.
  void write_score_grid(const std::string &file, const ScoreGrid &grid);

  /// Read and check a grid file: InputError naming the file and what was expected for a
  /// missing file, one that is not HDF5, a missing or wrong format attribute, missing
  /// datasets, axes or times that do not increase strictly, fewer than 4 nodes on an
  /// axis, a /score of the wrong shape, non-finite values, malformed /process entries.
  ScoreGrid read_score_grid(const std::string &file);

  /// The interpolant of `grid` (checked as read_score_grid checks a file; `name` names
  /// it in messages and in description()). has_derivatives() is true: the Jacobian, the
  /// time derivative and grad div of the interpolant itself.
  std::unique_ptr<ScoreModel> grid_score(ScoreGrid grid, const std::string &name);

  /// The interpolant of a grid file for a case: read_score_grid plus InputError when its
  /// dimension differs from context.dimension, its times do not cover [early stopping,
  /// final time], or its /process group describes another process than the case's.
  std::unique_ptr<ScoreModel> grid_score(const std::string        &file,
                                         const ScoreSourceContext &context);

  /// Fill grid.values with `score` at every node of grid.axes and every time of
  /// grid.times. The nodes are cut into blocks of a fixed size that are shared among
  /// the ranks of `communicator` and gathered on rank 0, so each block is one
  /// evaluate() call whatever the rank count (the result does not depend on it); on the
  /// other ranks values stays empty. after_time(k) is called on every rank after time k.
  /// Collective. SolverFailure if the score is not finite somewhere.
  void tabulate_score(const ScoreModel                        &score,
                      ScoreGrid                               &grid,
                      const MPI_Comm                           communicator,
                      const std::function<void(unsigned int)> &after_time = {});

  /// Section Tabulation (Task = tabulate score). Empty corners and times mean the
  /// defaults the task computes from the case (see tasks/tabulate_task.cc).
  struct TabulationParameters
  {
    std::vector<double>       lower_corner, upper_corner;
    std::vector<unsigned int> points_per_axis{65};
    std::vector<double>       times;
    std::string               output_file = "score-grid.h5";

    void bind(ParameterBinder &binder);
  };
} // namespace scorefp
