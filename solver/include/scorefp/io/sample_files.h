// Sample files in and out: N x d arrays of points, as NumPy .npy files or CSV text.
//
// Reference samples (a user's data set, or the samples a run draws from the computed
// density) travel between this program and Python as .npy files, the format
// numpy.save/numpy.load use, and as CSV for anyone without NumPy.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <string>
#include <vector>

namespace scorefp
{
  /// N samples of dimension d, stored point-major: sample i is values[i*d, (i+1)*d).
  struct SampleSet
  {
    unsigned int        dimension = 0;
    std::vector<double> values;

    /// The number of samples N.
    std::size_t size() const { return dimension == 0 ? 0 : values.size() / dimension; }
    /// Coordinate j of sample i.
    double operator()(const std::size_t i, const unsigned int j) const
    {
      return values[i * dimension + j];
    }
  };

  /**
   * Read N x d samples from a file, chosen by its extension:
   *  - .npy: float64 or float32 ('<f8', '<f4'), C or Fortran order, shape (N, d) or
   *    (N,) meaning d = 1, NumPy format versions 1.0, 2.0 and 3.0;
   *  - .csv or .txt: one sample per line, values separated by commas or whitespace;
   *    blank lines and lines starting with '#' are skipped, and the first line may be
   *    a header whose fields are all non-numeric.
   * Every value must be finite, there must be at least one sample, and if
   * expected_dimension is not 0 the samples must have that many coordinates.
   * Throws InputError naming the file and the problem otherwise; the messages begin
   * with `what` (the entry the file came from, e.g. "Output/Points file").
   * This is the one reader of numeric tables: samples, points, anything N x d.
   */
  SampleSet read_samples(const std::string &file,
                         const unsigned int expected_dimension = 0,
                         const std::string &what               = "Samples file");

  /// A vector of doubles from an .npy file of shape (n,) or (n, 1) (float64 or
  /// float32), e.g. a covariance spectrum; the same checks as read_samples. `what`
  /// starts the error messages ("Covariance spectrum file 'x.npy' holds ...").
  std::vector<double> read_npy_vector(const std::string &file,
                                      const std::string &what = "Array file");

  /// Write a 1D (shape {n}) or 2D (shape {n, d}) float64 array, C order, as an .npy
  /// file (serially, through a temporary name and a rename).
  void write_npy(const std::string              &file,
                 const std::vector<double>      &values,
                 const std::vector<std::size_t> &shape);

  /**
   * Write a global N x d float64 array, split into contiguous blocks of rows across
   * the ranks of `communicator` (rank r holds the rows after rank r-1's; `local` holds
   * this rank's rows, point-major), as a C-order .npy file of shape (N, d), with
   * MPI-IO. The file appears under its name only once complete (it is written as
   * file + ".part" and renamed). Collective; throws InputError on every rank if the
   * file cannot be written.
   */
  void write_npy_distributed(const std::string         &file,
                             const std::vector<double> &local,
                             const unsigned int         d,
                             MPI_Comm                   communicator);

  /**
   * The same as CSV text: a header line "x0,x1,..." (or `header_line` if not empty;
   * start it with '#' to make it a comment), then one row per sample with 17
   * significant digits, so read_samples gives back the same doubles. The rows go to
   * rank 0 in rank order, one rank at a time, and rank 0 writes them. Collective;
   * throws InputError on every rank if the file cannot be written.
   */
  void write_csv_distributed(const std::string         &file,
                             const std::vector<double> &local,
                             const unsigned int         d,
                             MPI_Comm                   communicator,
                             const std::string         &header_line = "");

  namespace internal
  {
    /// write_npy_distributed with each rank's block written in pieces of at most
    /// `chunk_values` doubles (MPI counts are int); exposed for the tests.
    void write_npy_distributed(const std::string         &file,
                               const std::vector<double> &local,
                               const unsigned int         d,
                               MPI_Comm                   communicator,
                               const std::size_t          chunk_values);
  } // namespace internal
} // namespace scorefp
