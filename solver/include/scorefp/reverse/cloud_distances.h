// Sliced W2 and MMD^2 between laws known at the atoms of one quadrature cloud of the mesh
// (MATH.md section 7), as the reverse-time laws report them in 2D and 3D where the CDF
// route of wasserstein_1d.h does not exist. Every law is given by its mass at the same
// atoms (density x JxW), the atoms split over the ranks. Plain C++ and MPI, no mesh.
#pragma once

#include <mpi.h>

#include <utility>
#include <vector>

namespace scorefp
{
  /// This rank's atoms: positions (n * dim, original coordinates) and the mass each law
  /// puts on them (masses[k][i] for law k, atom i).
  struct LawCloud
  {
    unsigned int                     dim = 1;
    std::vector<double>              points;
    std::vector<std::vector<double>> masses;
  };

  /// n_directions unit vectors (dim values each) for the sliced integral over the
  /// sphere: in 2D the angles pi k / n, in 3D a Fibonacci lattice on the half sphere
  /// (theta and -theta give the same W2), in 1D the unit vector. Deterministic: a
  /// quadrature of the mean over directions, the same on every rank and in every run.
  std::vector<double> sliced_directions(const unsigned int dim, const unsigned int n_directions);

  /// Sliced W2 between laws a and b of the cloud for each pair: sqrt of the mean over
  /// `directions` of W2^2 between their projections. Each atom's projection is spread
  /// uniformly over a window of width `window` and deposited exactly on bins of that
  /// width covering [-radius, radius] (radius >= |x| for every atom), so each projected
  /// law has a piecewise-constant density and its W2 is exact (wasserstein_1d); the
  /// window smooths both laws alike, an O(window^2) change, and removes the atomic
  /// staircase that makes W2 between two point clouds biased (mass must jump between
  /// atoms). Negative masses count as 0, each law is normalised. Collective: the bins are
  /// summed over ranks; every rank gets the result.
  std::vector<double> sliced_wasserstein2(const LawCloud                                   &cloud,
                                          const std::vector<std::pair<unsigned, unsigned>> &pairs,
                                          const std::vector<double> &directions,
                                          const double               radius,
                                          const double               window,
                                          const MPI_Comm             communicator);

  /// MMD^2 of the Gaussian kernel k(x, y) = exp(-|x - y|^2 / (2 l^2)) between laws a and
  /// b of the cloud for each pair, each law normalised to mass 1:
  ///   sum_i sum_j (a_i - b_i) (a_j - b_j) k(x_i, x_j),
  /// the quadrature of the double integral (exact for the discrete laws, and of the
  /// quadrature's order for the continuous ones, the kernel being smooth). Collective:
  /// every rank gathers all atoms and sums the rows of its own; O(N^2 / ranks) kernel
  /// evaluations for N atoms.
  std::vector<double> mmd_squared(const LawCloud                                   &cloud,
                                  const std::vector<std::pair<unsigned, unsigned>> &pairs,
                                  const double                                      bandwidth,
                                  const MPI_Comm                                    communicator);
} // namespace scorefp
