// The in-memory reference field for d = 1, 2, 3: evaluation (density, finite-element
// score or grad log p_h, the moment-matched Gaussian outside), the quadrature cloud,
// point location and exact rejection sampling, on the flat mesh of mesh_geometry.h
// with the shape functions of tensor_lagrange.h. The reader and the writer
// (reference_file.cc) fill it; postprocess/REFERENCE_FORMAT.md documents the file.
#include "reference/mesh_geometry.h"
#include "reference/reference_data.h"
#include "reference/tensor_lagrange.h"

#include <scorefp/core/input_error.h>
#include <scorefp/core/random.h>

#include <deal.II/base/point.h>
#include <deal.II/base/quadrature_lib.h>
#include <deal.II/base/tensor.h>
#include <deal.II/fe/fe_q.h>
#include <deal.II/lac/full_matrix.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace scorefp
{
  namespace reference_detail
  {
    using dealii::Point;
    using dealii::Tensor;

    namespace
    {
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
        unsigned int        dofs_per_cell() const override { return shape.dofs_per_cell(); }
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
                             "' holds no finite-element score (it was written by a " +
                             info.equation +
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
              const double q_bound =
                  shape.upper_bound(s.density.data() + std::size_t(cell) * n_dofs);
              double j_bound = 0;
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

    } // namespace

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
  } // namespace reference_detail

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
} // namespace scorefp
