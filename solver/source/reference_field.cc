// Reference files: the HDF5 layer, the in-memory field (evaluation, cloud, locate,
// sampling) for d = 1, 2, 3, the writer rank 0 uses during a run, and the closed-form
// clouds on case meshes. The format is documented in postprocess/REFERENCE_FORMAT.md.
//
// HDF5 is used through its C API with a small RAII layer rather than deal.II's
// HDF5 wrappers: those (deal.II 9.4) have no 64-bit integer type and check errors only
// with Assert, that is not at all in release builds, where a missing or foreign file
// must still give a clear InputError.
#include "reference_output.h"

#include <scorefp/input_error.h>
#include <scorefp/mesh.h>
#include <scorefp/random.h>
#include <scorefp/reference_field.h>

#include <deal.II/base/point.h>
#include <deal.II/base/quadrature_lib.h>
#include <deal.II/base/tensor.h>
#include <deal.II/fe/fe_q.h>
#include <deal.II/fe/fe_tools.h>
#include <deal.II/grid/cell_id.h>
#include <deal.II/grid/grid_tools.h>
#include <deal.II/grid/grid_tools_cache.h>
#include <deal.II/grid/tria.h>
#include <deal.II/lac/full_matrix.h>

#include <hdf5.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>

#ifndef SCOREFP_VERSION
#define SCOREFP_VERSION "unknown"
#endif

namespace scorefp
{
  using dealii::Point;
  using dealii::Tensor;

  namespace
  {
    // ------------------------------------------------------------------ HDF5 layer

    /// An HDF5 identifier closed by its own close function when it goes out of scope.
    class Handle
    {
    public:
      Handle() = default;
      Handle(const hid_t id, herr_t (*close)(hid_t))
          : id(id)
          , close(close)
      {
      }
      Handle(const Handle &)            = delete;
      Handle &operator=(const Handle &) = delete;
      Handle(Handle &&other) noexcept
          : id(other.id)
          , close(other.close)
      {
        other.id = -1;
      }
      Handle &operator=(Handle &&other) noexcept
      {
        reset();
        id       = other.id;
        close    = other.close;
        other.id = -1;
        return *this;
      }
      ~Handle() { reset(); }
      void reset()
      {
        if (id >= 0 && close != nullptr)
          close(id);
        id = -1;
      }
           operator hid_t() const { return id; }
      bool valid() const { return id >= 0; }

    private:
      hid_t id               = -1;
      herr_t (*close)(hid_t) = nullptr;
    };

    /// Silences HDF5's own error printing while alive (errors become exceptions here).
    class QuietHdf5
    {
    public:
      QuietHdf5()
      {
        H5Eget_auto2(H5E_DEFAULT, &function, &data);
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
      }
      ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, function, data); }

    private:
      H5E_auto2_t function = nullptr;
      void       *data     = nullptr;
    };

    [[noreturn]] void hdf5_failure(const std::string &what)
    {
      throw std::runtime_error("HDF5 error: " + what);
    }

    Handle create_group(const hid_t parent, const std::string &name)
    {
      Handle g(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      if (!g.valid())
        hdf5_failure("cannot create group " + name);
      return g;
    }

    template <typename T>
    hid_t native_type();
    template <>
    hid_t native_type<double>()
    {
      return H5T_NATIVE_DOUBLE;
    }
    template <>
    hid_t native_type<long long>()
    {
      return H5T_NATIVE_LLONG;
    }

    template <typename T>
    void write_dataset(const hid_t                 parent,
                       const std::string          &name,
                       const std::vector<hsize_t> &dimensions,
                       const T                    *data,
                       const hid_t                 file_type)
    {
      hsize_t n = 1;
      for (const hsize_t d : dimensions)
        n *= d;
      (void)n;
      Handle space(
          H5Screate_simple(static_cast<int>(dimensions.size()), dimensions.data(), nullptr),
          H5Sclose);
      Handle set(
          H5Dcreate2(parent, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
          H5Dclose);
      if (!set.valid() || H5Dwrite(set, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        hdf5_failure("cannot write dataset " + name);
    }

    void write_doubles(const hid_t                 parent,
                       const std::string          &name,
                       const std::vector<hsize_t> &dimensions,
                       const std::vector<double>  &data)
    {
      write_dataset(parent, name, dimensions, data.data(), H5T_IEEE_F64LE);
    }

    void write_int64(const hid_t                   parent,
                     const std::string            &name,
                     const std::vector<hsize_t>   &dimensions,
                     const std::vector<long long> &data)
    {
      write_dataset(parent, name, dimensions, data.data(), H5T_STD_I64LE);
    }

    void write_attribute(const hid_t object, const std::string &name, const double value)
    {
      Handle space(H5Screate(H5S_SCALAR), H5Sclose);
      Handle a(H5Acreate2(object, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT),
               H5Aclose);
      if (!a.valid() || H5Awrite(a, H5T_NATIVE_DOUBLE, &value) < 0)
        hdf5_failure("cannot write attribute " + name);
    }

    void write_attribute(const hid_t object, const std::string &name, const long long value)
    {
      Handle space(H5Screate(H5S_SCALAR), H5Sclose);
      Handle a(H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT),
               H5Aclose);
      if (!a.valid() || H5Awrite(a, H5T_NATIVE_LLONG, &value) < 0)
        hdf5_failure("cannot write attribute " + name);
    }

    void write_attribute(const hid_t object, const std::string &name, const std::string &value)
    {
      // Variable-length UTF-8: h5py returns it as str.
      Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(type, H5T_VARIABLE);
      H5Tset_cset(type, H5T_CSET_UTF8);
      Handle space(H5Screate(H5S_SCALAR), H5Sclose);
      Handle a(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      const char *text = value.c_str();
      if (!a.valid() || H5Awrite(a, type, &text) < 0)
        hdf5_failure("cannot write attribute " + name);
    }

    /// Reading: every failure is an InputError naming the file and the object.
    class Reader
    {
    public:
      explicit Reader(const std::string &file)
          : file(file)
      {
      }

      [[noreturn]] void fail(const std::string &what) const
      {
        throw InputError("Reference file '" + file + "' is inconsistent: " + what +
                         "; expected a file written by scorefp (postprocess/REFERENCE_FORMAT.md).");
      }

      bool has_attribute(const hid_t object, const std::string &name) const
      {
        return H5Aexists(object, name.c_str()) > 0;
      }

      std::string string_attribute(const hid_t object, const std::string &name) const
      {
        if (!has_attribute(object, name))
          fail("attribute '" + name + "' is missing");
        Handle a(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
        Handle type(H5Aget_type(a), H5Tclose);
        if (H5Tget_class(type) != H5T_STRING)
          fail("attribute '" + name + "' is not a string");
        if (H5Tis_variable_str(type) > 0)
          {
            Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
            H5Tset_size(memory, H5T_VARIABLE);
            H5Tset_cset(memory, H5Tget_cset(type));
            char *text = nullptr;
            if (H5Aread(a, memory, &text) < 0 || text == nullptr)
              fail("attribute '" + name + "' cannot be read");
            std::string value(text);
            H5free_memory(text);
            return value;
          }
        const std::size_t size = H5Tget_size(type);
        std::string       buffer(size, '\0');
        Handle            memory(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(memory, size);
        if (H5Aread(a, memory, buffer.data()) < 0)
          fail("attribute '" + name + "' cannot be read");
        return buffer.substr(0, buffer.find('\0'));
      }

      double double_attribute(const hid_t object, const std::string &name) const
      {
        if (!has_attribute(object, name))
          fail("attribute '" + name + "' is missing");
        Handle a(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
        double value = 0;
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &value) < 0)
          fail("attribute '" + name + "' is not a number");
        return value;
      }

      long long integer_attribute(const hid_t object, const std::string &name) const
      {
        if (!has_attribute(object, name))
          fail("attribute '" + name + "' is missing");
        Handle    a(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
        long long value = 0;
        if (H5Aread(a, H5T_NATIVE_LLONG, &value) < 0)
          fail("attribute '" + name + "' is not an integer");
        return value;
      }

      bool exists(const hid_t parent, const std::string &name) const
      {
        return H5Lexists(parent, name.c_str(), H5P_DEFAULT) > 0;
      }

      Handle group(const hid_t parent, const std::string &name) const
      {
        if (!exists(parent, name))
          fail("group '" + name + "' is missing");
        Handle g(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose);
        if (!g.valid())
          fail("'" + name + "' is not a group");
        return g;
      }

      /// A dataset of the given shape (checked) converted to T.
      template <typename T>
      std::vector<T>
      dataset(const hid_t parent, const std::string &name, const std::vector<hsize_t> &shape) const
      {
        if (!exists(parent, name))
          fail("dataset '" + name + "' is missing");
        Handle set(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
        if (!set.valid())
          fail("'" + name + "' is not a dataset");
        Handle               space(H5Dget_space(set), H5Sclose);
        const int            rank = H5Sget_simple_extent_ndims(space);
        std::vector<hsize_t> dimensions(std::max(rank, 0));
        H5Sget_simple_extent_dims(space, dimensions.data(), nullptr);
        if (dimensions != shape)
          {
            std::ostringstream s;
            s << "dataset '" << name << "' has shape (";
            for (std::size_t k = 0; k < dimensions.size(); ++k)
              s << (k ? ", " : "") << dimensions[k];
            s << "), expected (";
            for (std::size_t k = 0; k < shape.size(); ++k)
              s << (k ? ", " : "") << shape[k];
            s << ")";
            fail(s.str());
          }
        hsize_t n = 1;
        for (const hsize_t d : shape)
          n *= d;
        std::vector<T> values(n);
        if (n > 0 &&
            H5Dread(set, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
          fail("dataset '" + name + "' cannot be read as numbers");
        return values;
      }

      /// The first dimension of a dataset (0 if it has none).
      hsize_t leading_dimension(const hid_t parent, const std::string &name) const
      {
        if (!exists(parent, name))
          fail("dataset '" + name + "' is missing");
        Handle               set(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
        Handle               space(H5Dget_space(set), H5Sclose);
        const int            rank = H5Sget_simple_extent_ndims(space);
        std::vector<hsize_t> dimensions(std::max(rank, 0));
        H5Sget_simple_extent_dims(space, dimensions.data(), nullptr);
        return dimensions.empty() ? 0 : dimensions[0];
      }

      std::string file;
    };

    std::string snapshot_name(const unsigned int i)
    {
      std::ostringstream s;
      s << std::setw(4) << std::setfill('0') << i;
      return s.str();
    }

    const char *score_source_name(const ScoreSource source)
    {
      return source == ScoreSource::finite_element ? "finite_element" : "log_density_gradient";
    }

    // ------------------------------------------------------ shape functions (FE_Q)

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

    // ------------------------------------------------------------- mesh geometry

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
  } // namespace

  // ------------------------------------------------------------ the field itself

  namespace
  {
    struct SnapshotData
    {
      double              time = 0, scale = 1, mass = 0;
      std::vector<double> density; // n_cells x dofs_per_cell
      std::vector<double> score;   // n_cells x d x dofs_per_cell, or empty
      std::vector<double> mean, covariance;
    };

    /// What both the writer and the reader fill: raw arrays plus metadata; the
    /// dimension-templated class below evaluates.
    class ReferenceData : public ReferenceField
    {
    public:
      virtual void set_mesh(std::vector<double> vertices, std::vector<long long> cells) = 0;
      /// Append a snapshot; with compute_moments its mass, mean and covariance are
      /// computed from the cloud (writer), otherwise taken as given (reader).
      virtual void add_snapshot(SnapshotData data, const bool compute_moments)   = 0;
      virtual const std::vector<double>    &vertex_coordinates() const           = 0;
      virtual const std::vector<long long> &cell_vertices() const                = 0;
      virtual unsigned int                  dofs_per_cell() const                = 0;
      virtual const SnapshotData           &snapshot(const unsigned int i) const = 0;
      virtual std::vector<double>           unit_support_points() const          = 0;
      virtual std::vector<long long>        lexicographic_to_local() const       = 0;

      void set_info(const ReferenceMetadata &metadata, const std::string &file)
      {
        info      = metadata;
        file_name = file;
      }
    };

    template <int dim>
    class ReferenceFieldImpl : public ReferenceData
    {
    public:
      explicit ReferenceFieldImpl(const unsigned int degree, const bool with_score)
          : shape(degree)
          , with_score(with_score)
      {
      }

      void set_mesh(std::vector<double> vertices, std::vector<long long> cells) override
      {
        constexpr unsigned int nv = MeshGeometry<dim>::n_vertices;
        raw_vertices              = std::move(vertices);
        raw_cells                 = std::move(cells);
        std::vector<Point<dim>> points(raw_vertices.size() / dim);
        for (std::size_t v = 0; v < points.size(); ++v)
          for (unsigned int d = 0; d < dim; ++d)
            points[v][d] = raw_vertices[v * dim + d];
        std::vector<typename MeshGeometry<dim>::CellVertices> cell_list(raw_cells.size() / nv);
        for (std::size_t c = 0; c < cell_list.size(); ++c)
          for (unsigned int v = 0; v < nv; ++v)
            {
              const long long index = raw_cells[c * nv + v];
              if (index < 0 || index >= static_cast<long long>(points.size()))
                throw InputError("Reference file '" + file_name + "' is inconsistent: cell " +
                                 std::to_string(c) + " names vertex " + std::to_string(index) +
                                 ", which does not exist.");
              cell_list[c][v] = static_cast<unsigned int>(index);
            }
        geometry = std::make_unique<MeshGeometry<dim>>(std::move(points), std::move(cell_list));
      }

      void add_snapshot(SnapshotData data, const bool compute_moments) override
      {
        snapshots.push_back(std::move(data));
        samplers.emplace_back();
        SnapshotData &s = snapshots.back();
        if (compute_moments)
          {
            const QuadratureCloud cloud = this->cloud(snapshots.size() - 1, info.degree + 1);
            s.mass                      = 0;
            s.mean.assign(dim, 0.0);
            s.covariance.assign(dim * dim, 0.0);
            for (unsigned int q = 0; q < cloud.size(); ++q)
              {
                s.mass += cloud.weights[q];
                for (unsigned int i = 0; i < dim; ++i)
                  s.mean[i] += cloud.weights[q] * cloud.points[q * dim + i];
              }
            for (auto &m : s.mean)
              m /= s.mass;
            for (unsigned int q = 0; q < cloud.size(); ++q)
              for (unsigned int i = 0; i < dim; ++i)
                for (unsigned int j = 0; j < dim; ++j)
                  s.covariance[i * dim + j] += cloud.weights[q] *
                                               (cloud.points[q * dim + i] - s.mean[i]) *
                                               (cloud.points[q * dim + j] - s.mean[j]);
            for (auto &c : s.covariance)
              c /= s.mass;
          }
        // The far-field Gaussian: N(mean, covariance); a covariance that is not positive
        // definite (a degenerate p_h) falls back to its trace times the identity.
        Tensor<2, dim> C;
        for (unsigned int i = 0; i < dim; ++i)
          for (unsigned int j = 0; j < dim; ++j)
            C[i][j] = s.covariance[i * dim + j];
        bool positive = true;
        for (unsigned int k = 1; k <= dim; ++k)
          {
            // Leading principal minors (Sylvester's criterion).
            dealii::FullMatrix<double> minor(k, k);
            for (unsigned int i = 0; i < k; ++i)
              for (unsigned int j = 0; j < k; ++j)
                minor(i, j) = C[i][j];
            if (!(minor.determinant() > 0))
              positive = false;
          }
        if (!positive)
          {
            const double variance = std::max(dealii::trace(C) / dim, 1e-300);
            C                     = 0;
            for (unsigned int i = 0; i < dim; ++i)
              C[i][i] = variance;
          }
        precisions.push_back(dealii::invert(C));
        means.emplace_back();
        for (unsigned int i = 0; i < dim; ++i)
          means.back()[i] = s.mean[i];
      }

      const std::vector<double>    &vertex_coordinates() const override { return raw_vertices; }
      const std::vector<long long> &cell_vertices() const override { return raw_cells; }
      unsigned int                  dofs_per_cell() const override { return shape.dofs_per_cell(); }
      const SnapshotData &snapshot(const unsigned int i) const override { return snapshots[i]; }

      std::vector<double> unit_support_points() const override
      {
        const dealii::FE_Q<dim> fe(info.degree);
        std::vector<double>     points;
        for (const auto &p : fe.get_unit_support_points())
          for (unsigned int d = 0; d < dim; ++d)
            points.push_back(p[d]);
        return points;
      }

      std::vector<long long> lexicographic_to_local() const override
      {
        return std::vector<long long>(shape.lexicographic_to_local.begin(),
                                      shape.lexicographic_to_local.end());
      }

      bool                has_score() const override { return with_score; }
      unsigned int        n_cells() const override { return geometry ? geometry->n_cells() : 0; }
      unsigned int        n_snapshots() const override { return snapshots.size(); }
      std::vector<double> times() const override
      {
        std::vector<double> t;
        for (const auto &s : snapshots)
          t.push_back(s.time);
        return t;
      }
      double              time(const unsigned int i) const override { return at(i).time; }
      double              scale(const unsigned int i) const override { return at(i).scale; }
      double              mass(const unsigned int i) const override { return at(i).mass; }
      std::vector<double> mean(const unsigned int i) const override { return at(i).mean; }
      std::vector<double> covariance(const unsigned int i) const override
      {
        return at(i).covariance;
      }

      void bounding_box(const unsigned int   i,
                        std::vector<double> &lower,
                        std::vector<double> &upper) const override
      {
        const double c = at(i).scale;
        lower.resize(dim);
        upper.resize(dim);
        for (unsigned int d = 0; d < dim; ++d)
          {
            lower[d] = c * geometry->lower[d];
            upper[d] = c * geometry->upper[d];
          }
      }

      void evaluate(const unsigned int i,
                    const double      *points,
                    const std::size_t  n,
                    double            *density,
                    double            *score,
                    const ScoreSource  source,
                    std::vector<char> *inside) const override
      {
        const SnapshotData &s = at(i);
        if (score != nullptr && source == ScoreSource::finite_element && !with_score)
          throw InputError("Reference file '" + file_name +
                           "' holds no finite-element score (it was written by a " + info.equation +
                           " run); expected the log-density gradient as the score source.");
        if (inside != nullptr)
          inside->assign(n, 0);
        const unsigned int  n_dofs      = shape.dofs_per_cell();
        const double        c           = s.scale;
        const double        inverse_c_d = std::pow(c, -double(dim));
        std::vector<double> values(n_dofs), gradients(n_dofs * dim);
        Tensor<2, dim>      J;
        int                 hint = -1;
        for (std::size_t k = 0; k < n; ++k)
          {
            Point<dim> xi, unit;
            for (unsigned int d = 0; d < dim; ++d)
              xi[d] = points[k * dim + d] / c;
            const int cell  = geometry->locate(xi, unit, hint);
            bool      found = cell >= 0, gaussian = !found;
            if (found)
              {
                hint = cell;
                if (inside != nullptr)
                  (*inside)[k] = 1;
                const bool need_gradients =
                    score != nullptr && source == ScoreSource::log_density_gradient;
                shape.shapes(unit, values.data(), need_gradients ? gradients.data() : nullptr);
                const double *dofs = s.density.data() + std::size_t(cell) * n_dofs;
                double        q    = 0;
                for (unsigned int j = 0; j < n_dofs; ++j)
                  q += dofs[j] * values[j];
                if (density != nullptr)
                  density[k] = q * inverse_c_d;
                if (score != nullptr)
                  {
                    if (source == ScoreSource::finite_element)
                      {
                        const double *sd = s.score.data() + std::size_t(cell) * dim * n_dofs;
                        for (unsigned int d = 0; d < dim; ++d)
                          {
                            double value = 0;
                            for (unsigned int j = 0; j < n_dofs; ++j)
                              value += sd[d * n_dofs + j] * values[j];
                            score[k * dim + d] = value / c;
                          }
                      }
                    else if (q > 0)
                      {
                        Tensor<1, dim> grad_u;
                        for (unsigned int j = 0; j < n_dofs; ++j)
                          for (unsigned int d = 0; d < dim; ++d)
                            grad_u[d] += dofs[j] * gradients[j * dim + d];
                        geometry->jacobian(cell, unit, J);
                        // grad_xi q = J^{-T} grad_u q
                        const Tensor<1, dim> grad_xi =
                            dealii::transpose(dealii::invert(J)) * grad_u;
                        for (unsigned int d = 0; d < dim; ++d)
                          score[k * dim + d] = grad_xi[d] / (q * c);
                      }
                    else
                      gaussian = true;
                  }
              }
            else if (density != nullptr)
              density[k] = 0;
            if (gaussian && score != nullptr)
              {
                Tensor<1, dim> x;
                for (unsigned int d = 0; d < dim; ++d)
                  x[d] = points[k * dim + d] - means[i][d];
                const Tensor<1, dim> g = -(precisions[i] * x);
                for (unsigned int d = 0; d < dim; ++d)
                  score[k * dim + d] = g[d];
              }
          }
      }

      QuadratureCloud cloud(const unsigned int i, const unsigned int ppd) const override
      {
        const SnapshotData       &s = at(i);
        const dealii::QGauss<dim> quadrature(ppd);
        QuadratureCloud           cloud;
        cloud.dimension     = dim;
        cloud.n_cells       = geometry->n_cells();
        const std::size_t n = std::size_t(cloud.n_cells) * quadrature.size();
        cloud.points.resize(n * dim);
        cloud.weights.resize(n);
        cloud.cells.resize(n);
        const unsigned int               n_dofs = shape.dofs_per_cell();
        std::vector<std::vector<double>> values(quadrature.size(), std::vector<double>(n_dofs));
        for (unsigned int q = 0; q < quadrature.size(); ++q)
          shape.shapes(quadrature.point(q), values[q].data(), nullptr);
        Tensor<2, dim> J;
        double         total = 0;
        std::size_t    k     = 0;
        for (unsigned int cell = 0; cell < cloud.n_cells; ++cell)
          {
            const double *dofs = s.density.data() + std::size_t(cell) * n_dofs;
            for (unsigned int q = 0; q < quadrature.size(); ++q, ++k)
              {
                const Point<dim> &u     = quadrature.point(q);
                const Point<dim>  xi    = geometry->map(cell, u);
                const double      det   = geometry->jacobian(cell, u, J);
                double            value = 0;
                for (unsigned int j = 0; j < n_dofs; ++j)
                  value += dofs[j] * values[q][j];
                for (unsigned int d = 0; d < dim; ++d)
                  cloud.points[k * dim + d] = s.scale * xi[d];
                // p_h JxW in x = q_h c^-d |det J| w c^d.
                cloud.weights[k] = value * std::abs(det) * quadrature.weight(q);
                cloud.cells[k]   = cell;
                total += cloud.weights[k];
              }
          }
        cloud.mass_outside = 1.0 - total;
        return cloud;
      }

      std::vector<int>
      locate(const unsigned int i, const double *points, const std::size_t n) const override
      {
        return geometry->locate_all(at(i).scale, points, n);
      }

      void sample(const unsigned int  i,
                  const std::size_t   n,
                  const std::uint64_t seed,
                  const std::uint64_t stream_offset,
                  double             *out) const override
      {
        const SnapshotData &s       = at(i);
        const Sampler      &sampler = prepare_sampler(i);
        const unsigned int  n_dofs  = shape.dofs_per_cell();
        std::vector<double> values(n_dofs);
        Tensor<2, dim>      J;
        for (std::size_t k = 0; k < n; ++k)
          {
            CounterRng rng(seed, stream_offset + k);
            for (unsigned long long attempt = 0;; ++attempt)
              {
                if (attempt > 100000000ULL)
                  throw SolverFailure("Sampling reference file '" + file_name +
                                      "' did not accept a point in 1e8 attempts.");
                const double r = rng.uniform() * sampler.total;
                unsigned int cell =
                    std::upper_bound(sampler.cumulative.begin(), sampler.cumulative.end(), r) -
                    sampler.cumulative.begin();
                cell = std::min<unsigned int>(cell, geometry->n_cells() - 1);
                Point<dim> u;
                for (unsigned int d = 0; d < dim; ++d)
                  u[d] = rng.uniform();
                const double accept = rng.uniform();
                if (sampler.bound[cell] <= 0)
                  continue;
                shape.shapes(u, values.data(), nullptr);
                const double *dofs = s.density.data() + std::size_t(cell) * n_dofs;
                double        q    = 0;
                for (unsigned int j = 0; j < n_dofs; ++j)
                  q += dofs[j] * values[j];
                if (q <= 0)
                  continue;
                const double f = q * std::abs(geometry->jacobian(cell, u, J));
                if (f > sampler.bound[cell])
                  ++violations; // accepted with probability 1 (see the header)
                if (accept * sampler.bound[cell] < f)
                  {
                    const Point<dim> xi = geometry->map(cell, u);
                    for (unsigned int d = 0; d < dim; ++d)
                      out[k * dim + d] = s.scale * xi[d];
                    break;
                  }
              }
          }
      }

      unsigned long long n_bound_violations() const override { return violations; }

    private:
      struct Sampler
      {
        bool                ready = false;
        std::vector<double> bound, cumulative;
        double              total = 0;
      };

      const SnapshotData &at(const unsigned int i) const
      {
        if (i >= snapshots.size())
          throw InputError("Reference file '" + file_name + "' has " +
                           std::to_string(snapshots.size()) + " snapshots; snapshot " +
                           std::to_string(i) + " does not exist.");
        return snapshots[i];
      }

      const Sampler &prepare_sampler(const unsigned int i) const
      {
        Sampler &sampler = samplers[i];
        if (sampler.ready)
          return sampler;
        const SnapshotData &s      = snapshots[i];
        const unsigned int  n_dofs = shape.dofs_per_cell();
        const unsigned int  nv     = MeshGeometry<dim>::n_vertices;
        Tensor<2, dim>      J;
        sampler.bound.resize(geometry->n_cells());
        sampler.cumulative.resize(geometry->n_cells());
        double total = 0;
        for (unsigned int cell = 0; cell < geometry->n_cells(); ++cell)
          {
            const double q_bound = shape.upper_bound(s.density.data() + std::size_t(cell) * n_dofs);
            double       j_bound = 0;
            if (geometry->affine)
              j_bound = std::abs(geometry->jacobian(cell, Point<dim>(), J));
            else if (dim <= 2)
              // det J of a (bi)linear map is affine in u: its maximum is at a vertex.
              for (unsigned int v = 0; v < nv; ++v)
                {
                  Point<dim> u;
                  for (unsigned int d = 0; d < dim; ++d)
                    u[d] = (v >> d) & 1;
                  j_bound = std::max(j_bound, std::abs(geometry->jacobian(cell, u, J)));
                }
            else
              {
                // Trilinear: bounded by a 5^3 lattice with a 10% margin.
                for (unsigned int a = 0; a < 125; ++a)
                  {
                    Point<dim>   u;
                    unsigned int rest = a;
                    for (unsigned int d = 0; d < dim; ++d, rest /= 5)
                      u[d] = (rest % 5) / 4.0;
                    j_bound = std::max(j_bound, std::abs(geometry->jacobian(cell, u, J)));
                  }
                j_bound *= 1.1;
              }
            sampler.bound[cell] = q_bound > 0 ? q_bound * j_bound : 0.0;
            total += sampler.bound[cell];
            sampler.cumulative[cell] = total;
          }
        if (!(total > 0))
          throw InputError("Reference file '" + file_name + "': the density of snapshot " +
                           std::to_string(i) + " is nowhere positive; it cannot be sampled.");
        sampler.total = total;
        sampler.ready = true;
        return sampler;
      }

      TensorLagrange<dim>                shape;
      bool                               with_score;
      std::vector<double>                raw_vertices;
      std::vector<long long>             raw_cells;
      std::unique_ptr<MeshGeometry<dim>> geometry;
      std::vector<SnapshotData>          snapshots;
      std::vector<Tensor<2, dim>>        precisions;
      std::vector<Tensor<1, dim>>        means;
      mutable std::vector<Sampler>       samplers;
      mutable unsigned long long         violations = 0;
    };

    std::unique_ptr<ReferenceData>
    create_field(const unsigned int dim, const unsigned int degree, const bool with_score)
    {
      switch (dim)
        {
        case 1:
          return std::make_unique<ReferenceFieldImpl<1>>(degree, with_score);
        case 2:
          return std::make_unique<ReferenceFieldImpl<2>>(degree, with_score);
        case 3:
          return std::make_unique<ReferenceFieldImpl<3>>(degree, with_score);
        default:
          throw InputError("Reference files exist for dimensions 1, 2 and 3 only (got " +
                           std::to_string(dim) + ").");
        }
    }
  } // namespace

  void ReferenceField::evaluate_at_time(const double       t,
                                        const double      *points,
                                        const std::size_t  n,
                                        double            *density,
                                        double            *score,
                                        const ScoreSource  source,
                                        std::vector<char> *inside) const
  {
    const std::vector<double> t_all = times();
    if (t_all.empty())
      throw InputError("Reference file '" + file_name + "' has no snapshots.");
    const double tolerance = 1e-12 * std::max(1.0, std::abs(t));
    if (t < t_all.front() - tolerance || t > t_all.back() + tolerance)
      {
        std::ostringstream s;
        s << "Time " << t << " lies outside the range [" << t_all.front() << ", " << t_all.back()
          << "] of the snapshots of reference file '" << file_name << "'.";
        throw InputError(s.str());
      }
    for (unsigned int i = 0; i < t_all.size(); ++i)
      if (std::abs(t - t_all[i]) <= tolerance)
        return evaluate(i, points, n, density, score, source, inside);
    const unsigned int  i = std::upper_bound(t_all.begin(), t_all.end(), t) - t_all.begin() - 1;
    const double        w = (t - t_all[i]) / (t_all[i + 1] - t_all[i]);
    const unsigned int  d = dimension();
    std::vector<double> density_b(density ? n : 0), score_b(score ? n * d : 0);
    std::vector<char>   inside_b;
    evaluate(i, points, n, density, score, source, inside);
    evaluate(i + 1,
             points,
             n,
             density ? density_b.data() : nullptr,
             score ? score_b.data() : nullptr,
             source,
             inside ? &inside_b : nullptr);
    if (density != nullptr)
      for (std::size_t k = 0; k < n; ++k)
        density[k] = (1 - w) * density[k] + w * density_b[k];
    if (score != nullptr)
      for (std::size_t k = 0; k < n * d; ++k)
        score[k] = (1 - w) * score[k] + w * score_b[k];
    if (inside != nullptr)
      for (std::size_t k = 0; k < n; ++k)
        (*inside)[k] = (*inside)[k] && inside_b[k];
  }

  // ------------------------------------------------------------------- reading

  std::unique_ptr<ReferenceField> ReferenceField::read(const std::string &file)
  {
    if (!std::filesystem::exists(file))
      throw InputError("Reference file '" + file +
                       "' does not exist; expected a file written by a scorefp run with "
                       "Output/Reference file.");
    QuietHdf5 quiet;
    if (H5Fis_hdf5(file.c_str()) <= 0)
      throw InputError("Reference file '" + file +
                       "' is not an HDF5 file; expected a file written by a scorefp run with "
                       "Output/Reference file.");
    Handle h5(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!h5.valid())
      throw InputError("Reference file '" + file + "' cannot be opened as HDF5.");
    Reader reader(file);
    if (!reader.has_attribute(h5, "format"))
      throw InputError("Reference file '" + file +
                       "' is not a scorefp reference (it has no 'format' attribute); expected "
                       "a file written by a scorefp run with Output/Reference file.");
    ReferenceMetadata m;
    m.format = reader.string_attribute(h5, "format");
    if (m.format.rfind("scorefp reference ", 0) != 0)
      throw InputError("Reference file '" + file + "' has format '" + m.format + "'; expected '" +
                       reference_format + "'.");
    if (m.format != reference_format)
      throw InputError("Reference file '" + file + "' has format version '" + m.format +
                       "', which this scorefp does not read; expected '" + reference_format + "'.");
    m.scorefp_version      = reader.string_attribute(h5, "scorefp_version");
    m.equation             = reader.string_attribute(h5, "equation");
    m.dimension            = static_cast<unsigned int>(reader.integer_attribute(h5, "dimension"));
    m.degree               = static_cast<unsigned int>(reader.integer_attribute(h5, "degree"));
    m.process.type         = reader.string_attribute(h5, "process");
    m.process.beta_min     = reader.double_attribute(h5, "beta_min");
    m.process.beta_max     = reader.double_attribute(h5, "beta_max");
    m.process.sigma_min    = reader.double_attribute(h5, "sigma_min");
    m.process.sigma_max    = reader.double_attribute(h5, "sigma_max");
    m.process.ou_rate      = reader.double_attribute(h5, "ou_rate");
    m.process.ou_diffusion = reader.double_attribute(h5, "ou_diffusion");
    m.process.start_time   = reader.double_attribute(h5, "start_time");
    m.process.final_time   = reader.double_attribute(h5, "final_time");
    m.data                 = reader.string_attribute(h5, "data");
    m.scaled_coordinates   = reader.integer_attribute(h5, "scaled_coordinates") != 0;
    m.geometry             = reader.string_attribute(h5, "geometry");
    m.parameters           = reader.string_attribute(h5, "parameters");
    const unsigned int dim = m.dimension;
    if (dim < 1 || dim > 3)
      reader.fail("dimension " + std::to_string(dim) + " is not 1, 2 or 3");
    if (m.degree < 1 || m.degree > 7)
      reader.fail("degree " + std::to_string(m.degree) + " is not between 1 and 7");
    if (m.equation != "density" && m.equation != "score")
      reader.fail("equation '" + m.equation + "' is neither 'density' nor 'score'");
    const bool with_score = m.equation == "score";

    auto field = create_field(dim, m.degree, with_score);
    field->set_info(m, file);
    const unsigned int nv     = 1u << dim;
    const hsize_t      n_dofs = field->dofs_per_cell();

    const Handle  mesh       = reader.group(h5, "mesh");
    const hsize_t n_vertices = reader.leading_dimension(mesh, "vertices");
    const hsize_t n_cells    = reader.leading_dimension(mesh, "cells");
    if (n_cells == 0)
      reader.fail("the mesh has no cells");
    field->set_mesh(reader.dataset<double>(mesh, "vertices", {n_vertices, dim}),
                    reader.dataset<long long>(mesh, "cells", {n_cells, nv}));

    const Handle    snapshots   = reader.group(h5, "snapshots");
    const long long n_snapshots = reader.integer_attribute(h5, "n_snapshots");
    for (long long i = 0; i < n_snapshots; ++i)
      {
        const std::string name  = snapshot_name(i);
        const Handle      group = reader.group(snapshots, name);
        SnapshotData      s;
        s.time    = reader.double_attribute(group, "time");
        s.scale   = reader.double_attribute(group, "scale");
        s.mass    = reader.double_attribute(group, "mass");
        s.density = reader.dataset<double>(group, "density_dofs", {n_cells, n_dofs});
        if (with_score)
          s.score = reader.dataset<double>(group, "score_dofs", {n_cells, dim, n_dofs});
        s.mean       = reader.dataset<double>(group, "mean", {dim});
        s.covariance = reader.dataset<double>(group, "covariance", {dim, dim});
        if (!(s.scale > 0))
          reader.fail("snapshot " + name + " has scale " + std::to_string(s.scale));
        if (i > 0 && !(s.time > field->time(i - 1)))
          reader.fail("snapshot times are not increasing at snapshot " + name);
        field->add_snapshot(std::move(s), false);
      }
    if (n_snapshots <= 0)
      reader.fail("it has no snapshots");
    return field;
  }

  // ------------------------------------------------------------------- writing

  std::string reference_file_path(const Parameters &p)
  {
    const std::filesystem::path file(p.output.reference_file);
    if (file.is_absolute())
      return file.string();
    return (std::filesystem::path(p.output.directory) / file).string();
  }

  bool writes_reference_file(const Parameters  &p,
                             const unsigned int refinement_level,
                             const bool         write_files)
  {
    if (p.output.reference_file.empty() || !write_files)
      return false;
    const auto &levels = p.mesh.refinement_levels;
    // A level that is one of several but not the finest does not write it.
    return levels.empty() ||
           std::find(levels.begin(), levels.end(), refinement_level) == levels.end() ||
           refinement_level >= *std::max_element(levels.begin(), levels.end());
  }

  ReferenceMetadata reference_metadata(const Parameters &p, const std::string &data_description)
  {
    ReferenceMetadata m;
    m.scorefp_version    = SCOREFP_VERSION;
    m.equation           = p.equation;
    m.dimension          = p.dimension;
    m.degree             = p.discretization.degree;
    m.process            = p.process;
    m.data               = data_description;
    m.scaled_coordinates = p.use_scaled_coordinates();
    m.geometry           = p.mesh.geometry;
    m.parameters         = p.output.parameter_text;
    return m;
  }

  struct ReferenceFileWriter::Implementation
  {
    std::string                    path, temporary;
    ReferenceMetadata              metadata;
    std::vector<unsigned int>      grid_points;
    std::vector<double>            grid_lower, grid_upper;
    Handle                         file, snapshots;
    std::unique_ptr<ReferenceData> field;
    bool                           finished = false;
  };

  ReferenceFileWriter::ReferenceFileWriter(const std::string               &path,
                                           const ReferenceMetadata         &metadata,
                                           const std::vector<unsigned int> &grid_points,
                                           const std::vector<double>       &grid_lower,
                                           const std::vector<double>       &grid_upper)
      : implementation(std::make_unique<Implementation>())
  {
    auto &w       = *implementation;
    w.path        = path;
    w.temporary   = path + ".partial";
    w.metadata    = metadata;
    w.grid_points = grid_points;
    w.grid_points.resize(metadata.dimension, grid_points.empty() ? 65 : grid_points.back());
    w.grid_lower                       = grid_lower;
    w.grid_upper                       = grid_upper;
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty())
      std::filesystem::create_directories(parent);
    std::filesystem::remove(path); // a file from an earlier run must not survive a failure
    QuietHdf5 quiet;
    w.file =
        Handle(H5Fcreate(w.temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!w.file.valid())
      throw InputError("Output/Reference file: '" + w.temporary +
                       "' cannot be created; expected a writable location.");
    const hid_t root = w.file;
    write_attribute(root, "format", std::string(reference_format));
    write_attribute(root, "scorefp_version", metadata.scorefp_version);
    write_attribute(root, "equation", metadata.equation);
    write_attribute(root, "dimension", static_cast<long long>(metadata.dimension));
    write_attribute(root, "degree", static_cast<long long>(metadata.degree));
    write_attribute(root, "process", metadata.process.type);
    write_attribute(root, "beta_min", metadata.process.beta_min);
    write_attribute(root, "beta_max", metadata.process.beta_max);
    write_attribute(root, "sigma_min", metadata.process.sigma_min);
    write_attribute(root, "sigma_max", metadata.process.sigma_max);
    write_attribute(root, "ou_rate", metadata.process.ou_rate);
    write_attribute(root, "ou_diffusion", metadata.process.ou_diffusion);
    write_attribute(root, "start_time", metadata.process.start_time);
    write_attribute(root, "final_time", metadata.process.final_time);
    write_attribute(root, "data", metadata.data);
    write_attribute(
        root, "scaled_coordinates", static_cast<long long>(metadata.scaled_coordinates));
    write_attribute(root, "geometry", metadata.geometry);
    write_attribute(root, "parameters", metadata.parameters);
    const bool with_score = metadata.equation == "score";
    write_attribute(root,
                    "score_source",
                    std::string(score_source_name(with_score ? ScoreSource::finite_element
                                                             : ScoreSource::log_density_gradient)));
    w.field = create_field(metadata.dimension, metadata.degree, with_score);
    w.field->set_info(metadata, "");
  }

  ReferenceFileWriter::~ReferenceFileWriter()
  {
    if (implementation && !implementation->finished)
      {
        implementation->snapshots.reset();
        implementation->file.reset();
        std::error_code ignored;
        std::filesystem::remove(implementation->temporary, ignored);
      }
  }

  std::vector<unsigned int> ReferenceFileWriter::set_mesh(const std::vector<unsigned int> &ids,
                                                          const std::vector<double> &cell_vertices)
  {
    auto                     &w   = *implementation;
    const unsigned int        dim = w.metadata.dimension;
    std::vector<unsigned int> order;
    std::vector<double>       vertices;
    std::vector<long long>    cells;
    const auto                flatten = [&](const auto &points, const auto &cell_list) {
      for (const auto &p : points)
        for (unsigned int d = 0; d < dim; ++d)
          vertices.push_back(p[d]);
      for (const auto &c : cell_list)
        for (const unsigned int v : c)
          cells.push_back(v);
    };
    if (dim == 1)
      {
        std::vector<Point<1>>                               points;
        std::vector<typename MeshGeometry<1>::CellVertices> cell_list;
        sort_and_merge<1>(ids, cell_vertices, order, points, cell_list);
        flatten(points, cell_list);
      }
    else if (dim == 2)
      {
        std::vector<Point<2>>                               points;
        std::vector<typename MeshGeometry<2>::CellVertices> cell_list;
        sort_and_merge<2>(ids, cell_vertices, order, points, cell_list);
        flatten(points, cell_list);
      }
    else
      {
        std::vector<Point<3>>                               points;
        std::vector<typename MeshGeometry<3>::CellVertices> cell_list;
        sort_and_merge<3>(ids, cell_vertices, order, points, cell_list);
        flatten(points, cell_list);
      }
    const hsize_t n_vertices = vertices.size() / dim, n_cells = order.size();
    const hsize_t nv = 1u << dim;
    {
      Handle mesh = create_group(w.file, "mesh");
      write_doubles(mesh, "vertices", {n_vertices, dim}, vertices);
      write_int64(mesh, "cells", {n_cells, nv}, cells);
      write_attribute(mesh, "coordinates", std::string("mesh coordinates xi = x / c(t)"));
      write_attribute(mesh, "mapping", std::string("Q1 (d-linear, flat cells)"));
      Handle fe = create_group(w.file, "fe");
      write_attribute(fe, "element", "FE_Q(" + std::to_string(w.metadata.degree) + ")");
      write_attribute(fe, "degree", static_cast<long long>(w.metadata.degree));
      w.field->set_mesh(vertices, cells);
      const hsize_t n_dofs = w.field->dofs_per_cell();
      write_doubles(fe, "unit_support_points", {n_dofs, dim}, w.field->unit_support_points());
      write_int64(fe, "lexicographic_to_local", {n_dofs}, w.field->lexicographic_to_local());
    }
    w.snapshots = create_group(w.file, "snapshots");
    return order;
  }

  void ReferenceFileWriter::add_snapshot(const double               time,
                                         const double               scale,
                                         const std::vector<double> &density_dofs,
                                         const std::vector<double> &score_dofs)
  {
    auto              &w      = *implementation;
    auto              &field  = *w.field;
    const unsigned int dim    = w.metadata.dimension;
    const hsize_t      n      = field.n_cells();
    const hsize_t      n_dofs = field.dofs_per_cell();
    const unsigned int i      = field.n_snapshots();
    AssertThrow(density_dofs.size() == n * n_dofs, dealii::ExcInternalError());
    AssertThrow(score_dofs.size() == (field.has_score() ? n * dim * n_dofs : 0),
                dealii::ExcInternalError());
    SnapshotData s;
    s.time    = time;
    s.scale   = scale;
    s.density = density_dofs;
    s.score   = score_dofs;
    field.add_snapshot(std::move(s), true);
    const SnapshotData &stored = field.snapshot(i);
    const ScoreSource   source =
        field.has_score() ? ScoreSource::finite_element : ScoreSource::log_density_gradient;

    Handle group = create_group(w.snapshots, snapshot_name(i));
    write_attribute(group, "time", time);
    write_attribute(group, "scale", scale);
    write_attribute(group, "mass", stored.mass);
    write_attribute(group, "score_source", std::string(score_source_name(source)));
    write_doubles(group, "density_dofs", {n, n_dofs}, stored.density);
    if (field.has_score())
      write_doubles(group, "score_dofs", {n, dim, n_dofs}, stored.score);
    write_doubles(group, "mean", {dim}, stored.mean);
    write_doubles(group, "covariance", {dim, dim}, stored.covariance);

    {
      const QuadratureCloud cloud = field.cloud(i, w.metadata.degree + 1);
      const hsize_t         n_q   = cloud.size();
      std::vector<double>   score(n_q * dim);
      field.evaluate(i, cloud.points.data(), n_q, nullptr, score.data(), source);
      Handle g = create_group(group, "cloud");
      write_attribute(g, "points_per_direction", static_cast<long long>(w.metadata.degree + 1));
      write_attribute(g, "score_source", std::string(score_source_name(source)));
      write_doubles(g, "points", {n_q, dim}, cloud.points);
      write_doubles(g, "weights", {n_q}, cloud.weights);
      write_int64(
          g, "cells", {n_q}, std::vector<long long>(cloud.cells.begin(), cloud.cells.end()));
      write_doubles(g, "score", {n_q, dim}, score);
    }
    {
      std::vector<double> lower, upper;
      field.bounding_box(i, lower, upper);
      if (!w.grid_lower.empty())
        {
          lower = w.grid_lower;
          upper = w.grid_upper;
        }
      Handle                           g = create_group(group, "grid");
      std::vector<std::vector<double>> axes(dim);
      std::size_t                      n_points = 1;
      std::vector<hsize_t>             shape;
      for (unsigned int d = 0; d < dim; ++d)
        {
          const unsigned int m = w.grid_points[d];
          for (unsigned int k = 0; k < m; ++k)
            axes[d].push_back(k + 1 == m ? upper[d]
                                         : lower[d] + (upper[d] - lower[d]) * k / (m - 1));
          write_doubles(g, "x" + std::to_string(d), {m}, axes[d]);
          n_points *= m;
          shape.push_back(m);
        }
      // C order, last axis fastest: grid/density[i0, ..., i_{d-1}] is at (x0[i0], ...).
      std::vector<double> points(n_points * dim);
      for (std::size_t k = 0; k < n_points; ++k)
        {
          std::size_t rest = k;
          for (int d = dim - 1; d >= 0; --d)
            {
              points[k * dim + d] = axes[d][rest % axes[d].size()];
              rest /= axes[d].size();
            }
        }
      std::vector<double> density(n_points), score(n_points * dim);
      std::vector<char>   inside;
      field.evaluate(i, points.data(), n_points, density.data(), score.data(), source, &inside);
      for (std::size_t k = 0; k < n_points; ++k)
        if (!inside[k])
          for (unsigned int d = 0; d < dim; ++d)
            score[k * dim + d] = std::numeric_limits<double>::quiet_NaN();
      write_attribute(g, "score_source", std::string(score_source_name(source)));
      write_doubles(g, "density", shape, density);
      shape.push_back(dim);
      write_doubles(g, "score", shape, score);
    }
    H5Fflush(w.file, H5F_SCOPE_GLOBAL);
  }

  void ReferenceFileWriter::finish()
  {
    auto &w = *implementation;
    write_attribute(w.file, "n_snapshots", static_cast<long long>(w.field->n_snapshots()));
    w.snapshots.reset();
    w.file.reset();
    std::filesystem::rename(w.temporary, w.path);
    w.finished = true;
  }

  // --------------------------------------------------------- case-mesh clouds

  class CaseMeshCloud::Geometry
  {
  public:
    virtual ~Geometry()                  = default;
    virtual unsigned int n_cells() const = 0;
    virtual QuadratureCloud
    cloud(double c, const DensityField &density, unsigned int ppd) const                 = 0;
    virtual std::vector<int> locate(double c, const double *points, std::size_t n) const = 0;
  };

  namespace
  {
    template <int dim>
    class CaseGeometry : public CaseMeshCloud::Geometry
    {
    public:
      CaseGeometry(const MeshParameters &parameters, const unsigned int level)
      {
        // The solver's kind of triangulation (p4est in 2D/3D), on this process alone:
        // its CellIds, and so the sorted cell numbering, are those of the solver's mesh
        // on any number of ranks (p4est renumbers the coarse cells).
        const auto triangulation = create_triangulation<dim>(MPI_COMM_SELF);
        make_mesh(*triangulation, parameters, level);
        std::vector<unsigned int> ids;
        std::vector<double>       cell_vertices;
        for (const auto &cell : triangulation->active_cell_iterators())
          {
            const auto binary = cell->id().template to_binary<dim>();
            ids.insert(ids.end(), binary.begin(), binary.end());
            for (const unsigned int v : cell->vertex_indices())
              for (unsigned int d = 0; d < dim; ++d)
                cell_vertices.push_back(cell->vertex(v)[d]);
          }
        std::vector<unsigned int>                             order;
        std::vector<Point<dim>>                               vertices;
        std::vector<typename MeshGeometry<dim>::CellVertices> cells;
        sort_and_merge<dim>(ids, cell_vertices, order, vertices, cells);
        geometry = std::make_unique<MeshGeometry<dim>>(std::move(vertices), std::move(cells));
      }

      unsigned int n_cells() const override { return geometry->n_cells(); }

      QuadratureCloud
      cloud(const double c, const DensityField &density, const unsigned int ppd) const override
      {
        return closed_form_cloud_on(*geometry, c, density, ppd);
      }

      std::vector<int>
      locate(const double c, const double *points, const std::size_t n) const override
      {
        return geometry->locate_all(c, points, n);
      }

    private:
      std::unique_ptr<MeshGeometry<dim>> geometry;
    };
  } // namespace

  CaseMeshCloud::CaseMeshCloud(const MeshParameters &mesh,
                               const unsigned int    dimension,
                               const unsigned int    refinement_level)
      : dim(dimension)
  {
    switch (dimension)
      {
      case 1:
        geometry = std::make_unique<CaseGeometry<1>>(mesh, refinement_level);
        break;
      case 2:
        geometry = std::make_unique<CaseGeometry<2>>(mesh, refinement_level);
        break;
      case 3:
        geometry = std::make_unique<CaseGeometry<3>>(mesh, refinement_level);
        break;
      default:
        throw InputError("Case meshes exist for dimensions 1, 2 and 3 only.");
      }
  }

  CaseMeshCloud::~CaseMeshCloud() = default;

  unsigned int CaseMeshCloud::n_cells() const
  {
    return geometry->n_cells();
  }

  QuadratureCloud CaseMeshCloud::closed_form_cloud(const double        c,
                                                   const DensityField &density,
                                                   const unsigned int  points_per_direction) const
  {
    return geometry->cloud(c, density, points_per_direction);
  }

  std::vector<int>
  CaseMeshCloud::locate(const double c, const double *points, const std::size_t n) const
  {
    return geometry->locate(c, points, n);
  }

  QuadratureCloud closed_form_cloud(const MeshParameters &mesh,
                                    const unsigned int    dimension,
                                    const unsigned int    refinement_level,
                                    const double          c,
                                    const DensityField   &density,
                                    const unsigned int    points_per_direction)
  {
    return CaseMeshCloud(mesh, dimension, refinement_level)
        .closed_form_cloud(c, density, points_per_direction);
  }
} // namespace scorefp
