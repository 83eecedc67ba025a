// Point location on the flat meshes of reference files (private to the reference
// module): d-linear cells in mesh coordinates with their maps and Jacobians, located
// by binary search on a tensor grid or by deal.II's search on a serial Triangulation;
// the closed-form cloud on such a mesh; and the sorting of gathered cells by CellId.
// Instantiated for d = 1, 2, 3 in mesh_geometry.cc.
#pragma once

#include <scorefp/core/input_error.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/fe/quadrature_cloud.h>

#include <deal.II/base/point.h>
#include <deal.II/base/quadrature_lib.h>
#include <deal.II/base/tensor.h>
#include <deal.II/grid/cell_id.h>
#include <deal.II/grid/grid_tools.h>
#include <deal.II/grid/grid_tools_cache.h>
#include <deal.II/grid/tria.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <vector>

namespace scorefp
{
  namespace reference_detail
  {
    using dealii::Point;
    using dealii::Tensor;

    /// A flat mesh of d-linear cells (deal.II vertex order) in mesh coordinates:
    /// maps, Jacobians and point location. Axis-parallel box cells on a tensor grid are
    /// located by binary search on the grid lines; other meshes by deal.II's
    /// GridTools::find_active_cell_around_point on a serial Triangulation with
    /// MappingQ1.
    template <int dim>
    class MeshGeometry
    {
    public:
      static constexpr unsigned int n_vertices = 1u << dim;
      using CellVertices                       = std::array<unsigned int, n_vertices>;

      MeshGeometry(std::vector<Point<dim>> vertices_in, std::vector<CellVertices> cells_in)
          : vertices(std::move(vertices_in))
          , cells(std::move(cells_in))
      {
        for (unsigned int d = 0; d < dim; ++d)
          {
            lower[d] = std::numeric_limits<double>::infinity();
            upper[d] = -std::numeric_limits<double>::infinity();
          }
        for (const auto &v : vertices)
          for (unsigned int d = 0; d < dim; ++d)
            {
              lower[d] = std::min(lower[d], v[d]);
              upper[d] = std::max(upper[d], v[d]);
            }
        affine = !cells.empty();
        for (const auto &cell : cells)
          {
            const Point<dim> &lo = vertices[cell[0]], &hi = vertices[cell[n_vertices - 1]];
            for (unsigned int v = 0; v < n_vertices && affine; ++v)
              for (unsigned int d = 0; d < dim; ++d)
                if (vertices[cell[v]][d] != (((v >> d) & 1) ? hi[d] : lo[d]) || !(hi[d] > lo[d]))
                  affine = false;
          }
        if (affine)
          build_tensor_index();
        else
          build_triangulation();
      }

      unsigned int n_cells() const { return cells.size(); }

      Point<dim> map(const unsigned int cell, const Point<dim> &u) const
      {
        const auto &c = cells[cell];
        if (affine)
          {
            const Point<dim> &lo = vertices[c[0]], &hi = vertices[c[n_vertices - 1]];
            Point<dim>        x;
            for (unsigned int d = 0; d < dim; ++d)
              x[d] = lo[d] + u[d] * (hi[d] - lo[d]);
            return x;
          }
        Point<dim> x;
        for (unsigned int v = 0; v < n_vertices; ++v)
          {
            double weight = 1;
            for (unsigned int d = 0; d < dim; ++d)
              weight *= ((v >> d) & 1) ? u[d] : 1 - u[d];
            for (unsigned int d = 0; d < dim; ++d)
              x[d] += weight * vertices[c[v]][d];
          }
        return x;
      }

      /// J_ij = d x_i / d u_j at u; returns det J.
      double jacobian(const unsigned int cell, const Point<dim> &u, Tensor<2, dim> &J) const
      {
        const auto &c = cells[cell];
        J             = 0;
        if (affine)
          {
            double det = 1;
            for (unsigned int d = 0; d < dim; ++d)
              {
                J[d][d] = vertices[c[n_vertices - 1]][d] - vertices[c[0]][d];
                det *= J[d][d];
              }
            return det;
          }
        for (unsigned int v = 0; v < n_vertices; ++v)
          for (unsigned int k = 0; k < dim; ++k)
            {
              double weight = 1;
              for (unsigned int d = 0; d < dim; ++d)
                {
                  const bool high = (v >> d) & 1;
                  weight *= d == k ? (high ? 1.0 : -1.0) : (high ? u[d] : 1 - u[d]);
                }
              for (unsigned int i = 0; i < dim; ++i)
                J[i][k] += weight * vertices[c[v]][i];
            }
        return dealii::determinant(J);
      }

      /// The cell holding xi (mesh coordinates) and the unit point there, or -1.
      /// `hint` (a cell index or -1) speeds up sequences of nearby points.
      /// The cells of n physical points x = c xi (-1 outside), each search starting
      /// from the previous point's cell.
      std::vector<int> locate_all(const double c, const double *points, const std::size_t n) const
      {
        std::vector<int> found(n);
        int              hint = -1;
        for (std::size_t k = 0; k < n; ++k)
          {
            Point<dim> xi, unit;
            for (unsigned int d = 0; d < dim; ++d)
              xi[d] = points[k * dim + d] / c;
            found[k] = locate(xi, unit, hint);
            if (found[k] >= 0)
              hint = found[k];
          }
        return found;
      }

      int locate(const Point<dim> &xi, Point<dim> &unit, const int hint) const
      {
        if (tensor)
          {
            unsigned int flat = 0, stride = 1;
            for (unsigned int d = 0; d < dim; ++d)
              {
                const auto  &axis      = axes[d];
                const double tolerance = 1e-12 * (upper[d] - lower[d]);
                if (!(xi[d] >= axis.front() - tolerance && xi[d] <= axis.back() + tolerance))
                  return -1;
                std::size_t k = std::upper_bound(axis.begin(), axis.end(), xi[d]) - axis.begin();
                k = std::min<std::size_t>(std::max<std::size_t>(k, 1), axis.size() - 1) - 1;
                flat += k * stride;
                stride *= axis.size() - 1;
              }
            const int cell = grid_to_cell[flat];
            if (cell < 0)
              return -1;
            const Point<dim> &lo = vertices[cells[cell][0]],
                             &hi = vertices[cells[cell][n_vertices - 1]];
            for (unsigned int d = 0; d < dim; ++d)
              unit[d] = std::clamp((xi[d] - lo[d]) / (hi[d] - lo[d]), 0.0, 1.0);
            return cell;
          }
        for (unsigned int d = 0; d < dim; ++d)
          {
            const double tolerance = 1e-10 * (upper[d] - lower[d]);
            if (xi[d] < lower[d] - tolerance || xi[d] > upper[d] + tolerance)
              return -1;
          }
        try
          {
            const auto found = dealii::GridTools::find_active_cell_around_point(
                *cache,
                xi,
                hint >= 0 ? cell_iterators[hint]
                          : typename dealii::Triangulation<dim>::active_cell_iterator(),
                std::vector<bool>(),
                1e-10);
            if (found.first == triangulation->end() ||
                found.first.state() != dealii::IteratorState::valid)
              return -1;
            const int cell = active_to_cell[found.first->active_cell_index()];
            for (unsigned int d = 0; d < dim; ++d)
              unit[d] = std::clamp(found.second[d], 0.0, 1.0);
            return cell;
          }
        catch (...)
          {
            return -1;
          }
      }

      std::vector<Point<dim>>   vertices;
      std::vector<CellVertices> cells;
      Point<dim>                lower, upper;
      bool                      affine = false;

    private:
      void build_tensor_index()
      {
        // Grid lines per axis, merged within a relative 1e-12 (refinement may compute
        // one grid line in different ways); every cell must be one grid box.
        for (unsigned int d = 0; d < dim; ++d)
          {
            std::vector<double> all;
            for (const auto &v : vertices)
              all.push_back(v[d]);
            std::sort(all.begin(), all.end());
            const double tolerance = 1e-12 * (upper[d] - lower[d]);
            for (const double x : all)
              if (axes[d].empty() || x - axes[d].back() > tolerance)
                axes[d].push_back(x);
          }
        std::size_t n_boxes = 1;
        for (unsigned int d = 0; d < dim; ++d)
          n_boxes *= axes[d].size() - 1;
        grid_to_cell.assign(n_boxes, -1);
        tensor = true;
        for (unsigned int c = 0; c < cells.size() && tensor; ++c)
          {
            const Point<dim> &lo = vertices[cells[c][0]], &hi = vertices[cells[c][n_vertices - 1]];
            std::size_t       flat = 0, stride = 1;
            for (unsigned int d = 0; d < dim; ++d)
              {
                const double tolerance = 1e-12 * (upper[d] - lower[d]);
                const auto  &axis      = axes[d];
                std::size_t  k =
                    std::lower_bound(axis.begin(), axis.end(), lo[d] - tolerance) - axis.begin();
                if (k + 1 >= axis.size() || std::abs(axis[k] - lo[d]) > tolerance ||
                    std::abs(axis[k + 1] - hi[d]) > tolerance)
                  tensor = false;
                flat += k * stride;
                stride *= axis.size() - 1;
              }
            if (tensor && grid_to_cell[flat] >= 0)
              tensor = false;
            if (tensor)
              grid_to_cell[flat] = c;
          }
        if (!tensor)
          {
            // Boxes, but not on one tensor grid (e.g. a Gmsh mesh of rectangles):
            // the general search handles them, with the box maps.
            grid_to_cell.clear();
            for (auto &axis : axes)
              axis.clear();
            build_triangulation();
          }
      }

      void build_triangulation()
      {
        std::vector<dealii::CellData<dim>> cell_data(cells.size());
        for (unsigned int c = 0; c < cells.size(); ++c)
          {
            cell_data[c].vertices.resize(n_vertices);
            for (unsigned int v = 0; v < n_vertices; ++v)
              cell_data[c].vertices[v] = cells[c][v];
          }
        triangulation = std::make_unique<dealii::Triangulation<dim>>();
        try
          {
            triangulation->create_triangulation(vertices, cell_data, dealii::SubCellData());
          }
        catch (const std::exception &e)
          {
            throw InputError(std::string("The mesh of a reference cannot be rebuilt: ") + e.what());
          }
        cache = std::make_unique<dealii::GridTools::Cache<dim>>(*triangulation);
        active_to_cell.assign(triangulation->n_active_cells(), -1);
        cell_iterators.resize(cells.size());
        std::map<CellVertices, unsigned int> by_vertices;
        for (unsigned int c = 0; c < cells.size(); ++c)
          by_vertices[cells[c]] = c;
        for (const auto &cell : triangulation->active_cell_iterators())
          {
            CellVertices key;
            for (unsigned int v = 0; v < n_vertices; ++v)
              key[v] = cell->vertex_index(v);
            const auto found = by_vertices.find(key);
            AssertThrow(found != by_vertices.end(),
                        dealii::ExcMessage("The rebuilt mesh reordered cell vertices."));
            active_to_cell[cell->active_cell_index()] = found->second;
            cell_iterators[found->second]             = cell;
          }
      }

      std::array<std::vector<double>, dim> axes;
      std::vector<int>                     grid_to_cell;
      bool                                 tensor = false; // boxes on one tensor grid

      std::unique_ptr<dealii::Triangulation<dim>>                            triangulation;
      std::unique_ptr<dealii::GridTools::Cache<dim>>                         cache;
      std::vector<int>                                                       active_to_cell;
      std::vector<typename dealii::Triangulation<dim>::active_cell_iterator> cell_iterators;
    };

    template <int dim>
    QuadratureCloud closed_form_cloud_on(const MeshGeometry<dim> &geometry,
                                         const double             c,
                                         const DensityField      &density,
                                         const unsigned int       points_per_direction)
    {
      const dealii::QGauss<dim> quadrature(points_per_direction);
      QuadratureCloud           cloud;
      cloud.dimension     = dim;
      cloud.n_cells       = geometry.n_cells();
      const std::size_t n = std::size_t(geometry.n_cells()) * quadrature.size();
      cloud.points.resize(n * dim);
      cloud.weights.resize(n);
      cloud.cells.resize(n);
      const double   c_d = std::pow(c, dim);
      Tensor<2, dim> J;
      double         total = 0;
      std::size_t    k     = 0;
      for (unsigned int cell = 0; cell < geometry.n_cells(); ++cell)
        for (unsigned int q = 0; q < quadrature.size(); ++q, ++k)
          {
            const Point<dim> &u   = quadrature.point(q);
            const Point<dim>  xi  = geometry.map(cell, u);
            const double      det = geometry.jacobian(cell, u, J);
            double            x[dim];
            for (unsigned int d = 0; d < dim; ++d)
              x[d] = cloud.points[k * dim + d] = c * xi[d];
            cloud.weights[k] = density.value(x) * std::abs(det) * quadrature.weight(q) * c_d;
            cloud.cells[k]   = cell;
            total += cloud.weights[k];
          }
      cloud.mass_outside = 1.0 - total;
      return cloud;
    }

    /// Sort gathered cells by CellId and merge their vertices by exact equality.
    template <int dim>
    void sort_and_merge(const std::vector<unsigned int>                       &ids,
                        const std::vector<double>                             &cell_vertices,
                        std::vector<unsigned int>                             &order,
                        std::vector<Point<dim>>                               &vertices,
                        std::vector<typename MeshGeometry<dim>::CellVertices> &cells)
    {
      constexpr unsigned int nv      = MeshGeometry<dim>::n_vertices;
      const std::size_t      n_cells = ids.size() / 4;
      AssertThrow(cell_vertices.size() == n_cells * nv * dim, dealii::ExcInternalError());
      std::vector<dealii::CellId> cell_ids;
      cell_ids.reserve(n_cells);
      for (std::size_t c = 0; c < n_cells; ++c)
        {
          dealii::CellId::binary_type binary;
          std::copy_n(ids.begin() + 4 * c, 4, binary.begin());
          cell_ids.emplace_back(binary);
        }
      order.resize(n_cells);
      std::iota(order.begin(), order.end(), 0u);
      std::sort(order.begin(), order.end(), [&](const unsigned int a, const unsigned int b) {
        return cell_ids[a] < cell_ids[b];
      });
      std::map<std::array<double, dim>, unsigned int> index;
      vertices.clear();
      cells.resize(n_cells);
      for (std::size_t k = 0; k < n_cells; ++k)
        for (unsigned int v = 0; v < nv; ++v)
          {
            std::array<double, dim> x;
            for (unsigned int d = 0; d < dim; ++d)
              x[d] = cell_vertices[(std::size_t(order[k]) * nv + v) * dim + d];
            const auto [it, inserted] = index.emplace(x, vertices.size());
            if (inserted)
              {
                Point<dim> p;
                for (unsigned int d = 0; d < dim; ++d)
                  p[d] = x[d];
                vertices.push_back(p);
              }
            cells[k][v] = it->second;
          }
    }

    extern template class MeshGeometry<1>;
    extern template class MeshGeometry<2>;
    extern template class MeshGeometry<3>;
  } // namespace reference_detail
} // namespace scorefp
