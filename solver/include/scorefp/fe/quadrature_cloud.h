// A reference law as the checker sees it (MATH.md section 7): a weighted quadrature
// cloud. Every expectation against the reference density is a sum over the cloud,
// sum_q w_q f(x_q) with w_q = p(x_q) JxW_q, and every point belongs to a mesh cell, so
// that cell masses (for the chi-squared test) are sums of the weights of their points.
#pragma once

#include <vector>

namespace scorefp
{
  struct QuadratureCloud
  {
    unsigned int dimension = 0;
    /// Physical coordinates, n_points * dimension entries, point-major.
    std::vector<double> points;
    /// p(x_q) JxW_q; negative values of a finite-element density are kept as they are.
    std::vector<double> weights;
    /// The mesh cell (0 .. n_cells-1) each point lies in.
    std::vector<unsigned int> cells;
    unsigned int              n_cells = 0;
    /// 1 - (mass in the domain): the probability of the "outside the domain" bin.
    double mass_outside = 0.0;

    unsigned int size() const { return static_cast<unsigned int>(weights.size()); }
  };
} // namespace scorefp
