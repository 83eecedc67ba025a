// The shape functions of FE_Q(degree) on the unit cell as tensor products of 1D
// Lagrange polynomials (private to the reference module): what reference files are
// evaluated with, and a Bernstein bound for rejection sampling. Instantiated for
// d = 1, 2, 3 in tensor_lagrange.cc.
#pragma once

#include <deal.II/base/point.h>
#include <deal.II/fe/fe_q.h>
#include <deal.II/fe/fe_tools.h>
#include <deal.II/lac/full_matrix.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace scorefp
{
  namespace reference_detail
  {
    using dealii::Point;

    /// The shape functions of FE_Q(degree) on the unit cell as tensor products of 1D
    /// Lagrange polynomials, numbered in FE_Q's local order: cheaper per point than
    /// FiniteElement::shape_value, and allocation-free.
    template <int dim>
    class TensorLagrange
    {
    public:
      static constexpr unsigned int max_points_1d = 8; // degree <= 7

      explicit TensorLagrange(const unsigned int degree)
          : degree(degree)
          , n1(degree + 1)
          , lexicographic_to_local(
                dealii::FETools::lexicographic_to_hierarchic_numbering<dim>(degree))
      {
        AssertThrow(degree >= 1 && n1 <= max_points_1d, dealii::ExcMessage("Unsupported degree."));
        const dealii::FE_Q<1> fe1(degree);
        for (const auto &point : fe1.get_unit_support_points())
          nodes.push_back(point[0]);
        std::sort(nodes.begin(), nodes.end());
        n_dofs = 1;
        for (unsigned int d = 0; d < dim; ++d)
          n_dofs *= n1;
        // Check the numbering against deal.II's element once (cheap).
        const dealii::FE_Q<dim> fe(degree);
        AssertThrow(fe.n_dofs_per_cell() == n_dofs, dealii::ExcInternalError());
        std::vector<double> values(n_dofs), gradients(n_dofs * dim);
        Point<dim>          u;
        for (unsigned int d = 0; d < dim; ++d)
          u[d] = 0.137 + 0.21 * d;
        shapes(u, values.data(), gradients.data());
        for (unsigned int i = 0; i < n_dofs; ++i)
          AssertThrow(std::abs(values[i] - fe.shape_value(i, u)) < 1e-10 &&
                          std::abs(gradients[i * dim] - fe.shape_grad(i, u)[0]) < 1e-9,
                      dealii::ExcMessage("FE_Q numbering mismatch in the reference reader."));
      }

      unsigned int dofs_per_cell() const { return n_dofs; }

      /// 1D Lagrange values and derivatives at x.
      void one_dimensional(const double x, double *value, double *derivative) const
      {
        for (unsigned int i = 0; i < n1; ++i)
          {
            double v = 1, dv = 0;
            for (unsigned int m = 0; m < n1; ++m)
              if (m != i)
                {
                  const double factor = 1.0 / (nodes[i] - nodes[m]);
                  dv                  = dv * (x - nodes[m]) * factor + v * factor;
                  v *= (x - nodes[m]) * factor;
                }
            value[i]      = v;
            derivative[i] = dv;
          }
      }

      /// values[n_dofs] and, if gradients is not null, gradients[n_dofs * dim] (unit
      /// coordinates) at u, in FE_Q local order.
      void shapes(const Point<dim> &u, double *values, double *gradients) const
      {
        double v[dim][max_points_1d], dv[dim][max_points_1d];
        for (unsigned int d = 0; d < dim; ++d)
          one_dimensional(u[d], v[d], dv[d]);
        unsigned int index[3] = {0, 0, 0};
        for (unsigned int lex = 0; lex < n_dofs; ++lex)
          {
            unsigned int rest = lex;
            for (unsigned int d = 0; d < dim; ++d)
              {
                index[d] = rest % n1;
                rest /= n1;
              }
            const unsigned int i     = lexicographic_to_local[lex];
            double             value = 1;
            for (unsigned int d = 0; d < dim; ++d)
              value *= v[d][index[d]];
            values[i] = value;
            if (gradients != nullptr)
              for (unsigned int k = 0; k < dim; ++k)
                {
                  double g = 1;
                  for (unsigned int d = 0; d < dim; ++d)
                    g *= (d == k ? dv[d][index[d]] : v[d][index[d]]);
                  gradients[i * dim + k] = g;
                }
          }
      }

      /// An upper bound of the polynomial with these FE_Q coefficients on the unit
      /// cell: the largest coefficient of its Bernstein form (convex hull property).
      double upper_bound(const double *coefficients) const
      {
        if (bernstein_from_lagrange.empty())
          {
            // V_ji = B_i(z_j): Lagrange values of the Bernstein polynomials.
            dealii::FullMatrix<double> V(n1, n1);
            for (unsigned int j = 0; j < n1; ++j)
              for (unsigned int i = 0; i < n1; ++i)
                {
                  double binomial = 1;
                  for (unsigned int k = 1; k <= i; ++k)
                    binomial = binomial * (degree - k + 1) / k;
                  V(j, i) = binomial * std::pow(nodes[j], i) * std::pow(1 - nodes[j], degree - i);
                }
            V.gauss_jordan();
            bernstein_from_lagrange.resize(n1 * n1);
            for (unsigned int i = 0; i < n1; ++i)
              for (unsigned int j = 0; j < n1; ++j)
                bernstein_from_lagrange[i * n1 + j] = V(i, j);
          }
        std::vector<double> a(n_dofs), b(n_dofs);
        for (unsigned int lex = 0; lex < n_dofs; ++lex)
          a[lex] = coefficients[lexicographic_to_local[lex]];
        unsigned int stride = 1;
        for (unsigned int d = 0; d < dim; ++d, stride *= n1)
          {
            for (unsigned int lex = 0; lex < n_dofs; ++lex)
              {
                const unsigned int i    = (lex / stride) % n1;
                const unsigned int base = lex - i * stride;
                double             sum  = 0;
                for (unsigned int j = 0; j < n1; ++j)
                  sum += bernstein_from_lagrange[i * n1 + j] * a[base + j * stride];
                b[lex] = sum;
              }
            std::swap(a, b);
          }
        return *std::max_element(a.begin(), a.end());
      }

      const unsigned int              degree, n1;
      const std::vector<unsigned int> lexicographic_to_local;
      std::vector<double>             nodes;

    private:
      unsigned int                n_dofs = 0;
      mutable std::vector<double> bernstein_from_lagrange;
    };

    extern template class TensorLagrange<1>;
    extern template class TensorLagrange<2>;
    extern template class TensorLagrange<3>;
  } // namespace reference_detail
} // namespace scorefp
