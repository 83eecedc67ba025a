// The score check on the case mesh (score_check.h): the model, its derivatives and the
// reference at every quadrature point of the locally owned cells, then sums over ranks.
#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>
#include <scorefp/reference/reference_field.h>
#include <scorefp/score_check/score_check.h>

#include <deal.II/base/mpi.h>
#include <deal.II/base/patterns.h>
#include <deal.II/base/quadrature_lib.h>
#include <deal.II/fe/fe_nothing.h>
#include <deal.II/fe/fe_values.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace scorefp
{
  void ScoreCheckParameters::bind(ParameterBinder &b)
  {
    namespace Patterns = dealii::Patterns;
    b.add("Times", times, "The times at which the score is checked.");
    b.add_selection("Reference",
                    reference,
                    {{"closed form", Reference::closed_form},
                     {"reference file", Reference::reference_file}},
                    "What the score is compared with: the closed-form law of the data set, or "
                    "a reference file's density and score (Score check/Reference file).");
    b.add("Reference file",
          reference_file,
          "Reference = reference file: the HDF5 reference of a score (or density) run.");
    b.add("Quadrature points",
          quadrature_points,
          "Gauss points per direction in every cell of the case mesh.",
          Patterns::Integer(1, 10));
    b.add("Bulk mass",
          bulk_mass,
          "The bulk is the region {p >= p*} holding this fraction of the mass on the mesh.",
          Patterns::Double(0, 1));
    b.add("Tail threshold",
          tail_threshold,
          "The tail is the region {p < threshold * max p}.",
          Patterns::Double(0, 1));
    b.add("Points file",
          points_file,
          "Optional: a CSV or .npy file of points at which the model, its residuals and the "
          "reference are written to score-points.csv at every time.");
    b.add("Write VTU", write_vtu, "Write cell fields to score-check.pvd (ParaView).");
    b.require(!times.empty(), "Score check/Times is empty; expected at least one time.");
  }

  namespace
  {
    class ClosedFormReference : public ScoreReference
    {
    public:
      ClosedFormReference(const ForwardProcess &process, const DataDistribution &data)
          : process(process)
          , data(data)
      {
      }
      void evaluate(const double      t,
                    const double     *x,
                    const std::size_t n,
                    double           *p,
                    double           *s) const override
      {
        const auto         field = data.transported(process.transition_mean_factor(t),
                                            process.transition_variance(t));
        const unsigned int d     = data.dimension();
        for (std::size_t i = 0; i < n; ++i)
          {
            if (p)
              p[i] = field->value(x + i * d);
            if (s)
              field->score(x + i * d, s + i * d);
          }
      }
      std::string description() const override { return "closed form (" + data.description() + ")"; }

    private:
      const ForwardProcess   &process;
      const DataDistribution &data;
    };

    class FileReference : public ScoreReference
    {
    public:
      FileReference(const std::string &file, const unsigned int d, const ProcessParameters &process)
          : field(ReferenceField::read(file))
          , name(file)
      {
        if (field->dimension() != d)
          throw InputError("Score check/Reference file '" + file + "' is " +
                           std::to_string(field->dimension()) +
                           "-dimensional, but Dimension = " + std::to_string(d) + ".");
        if (!(field->process_parameters() == process))
          throw InputError("Score check/Reference file '" + file +
                           "' was written for another process than section Process describes.");
        source = field->has_score() ? ScoreSource::finite_element : ScoreSource::log_density_gradient;
      }
      void evaluate(const double      t,
                    const double     *x,
                    const std::size_t n,
                    double           *p,
                    double           *s) const override
      {
        const std::vector<double> times = field->times();
        if (t < times.front() - 1e-12 || t > times.back() + 1e-12)
          throw InputError("Score check/Reference file '" + name + "' has snapshots in [" +
                           format_number(times.front()) + ", " + format_number(times.back()) +
                           "], not at t = " + format_number(t) + ".");
        std::vector<double> density(p ? 0 : n), score(s ? 0 : n * field->dimension());
        field->evaluate_at_time(t, x, n, p ? p : density.data(), s ? s : score.data(), source);
      }
      std::string description() const override
      {
        return (source == ScoreSource::finite_element ? "finite-element score of '" :
                                                        "grad log p_h of '") +
               name + "'";
      }

    private:
      std::unique_ptr<ReferenceField> field;
      std::string                     name;
      ScoreSource                     source;
    };

    unsigned int curl_components(const unsigned int d)
    {
      return d == 2 ? 1 : (d == 3 ? 3 : 0);
    }

  } // namespace

  PointwiseScore pointwise_score(const ScoreModel     &model,
                                 const ForwardProcess &process,
                                 const double          t,
                                 const double         *x,
                                 const std::size_t     n)
    {
      const unsigned int d = model.dimension();
      PointwiseScore     w;
      w.s.resize(n * d);
      if (!model.has_derivatives())
        {
          model.evaluate(t, x, n, w.s.data());
          return w;
        }
      std::vector<double> &J = w.jacobian;
      std::vector<double>  dt(n * d), graddiv(n * d);
      J.resize(n * d * d);
      model.evaluate_derivatives(t, x, n, w.s.data(), {J.data(), dt.data(), graddiv.data()});
      const double a = process.drift_rate(t), g2 = process.diffusion_squared(t);
      w.curl_components = curl_components(d);
      w.residual.resize(n * d);
      w.curl.resize(n * w.curl_components);
      for (std::size_t k = 0; k < n; ++k)
        {
          const double *s  = &w.s[k * d];
          const double *Jk = &J[k * d * d]; // Jk[i * d + j] = d s_i / d x_j
          const double *xk = x + k * d;
          for (unsigned int i = 0; i < d; ++i)
            {
              // d_i [g^2/2 (div s + |s|^2) + a x . s]
              //   = g^2/2 (d_i div s + 2 sum_j s_j d_i s_j) + a (s_i + sum_j x_j d_i s_j)
              double s_ds = 0, x_ds = 0;
              for (unsigned int j = 0; j < d; ++j)
                {
                  s_ds += s[j] * Jk[j * d + i];
                  x_ds += xk[j] * Jk[j * d + i];
                }
              w.residual[k * d + i] =
                  dt[k * d + i] - (0.5 * g2 * (graddiv[k * d + i] + 2.0 * s_ds) + a * (s[i] + x_ds));
            }
          const auto D = [&](const unsigned int i, const unsigned int j) { return Jk[i * d + j]; };
          if (d == 2)
            w.curl[k] = D(1, 0) - D(0, 1);
          else if (d == 3)
            {
              w.curl[3 * k + 0] = D(2, 1) - D(1, 2);
              w.curl[3 * k + 1] = D(0, 2) - D(2, 0);
              w.curl[3 * k + 2] = D(1, 0) - D(0, 1);
            }
        }
      if (model.is_potential())
        {
          w.u.resize(n);
          std::vector<double> du(n), lap(n);
          model.evaluate_potential(t, x, n, {w.u.data(), du.data(), lap.data()});
          w.log_residual.resize(n);
          for (std::size_t k = 0; k < n; ++k)
            {
              double grad2 = 0, x_grad = 0;
              for (unsigned int j = 0; j < d; ++j)
                {
                  grad2 += w.s[k * d + j] * w.s[k * d + j];
                  x_grad += x[k * d + j] * w.s[k * d + j];
                }
              w.log_residual[k] = du[k] - (0.5 * g2 * (lap[k] + grad2) + a * x_grad + a * d);
            }
        }
      return w;
    }

  namespace
  {

    double squared_norm(const double *v, const unsigned int n)
    {
      double r = 0;
      for (unsigned int i = 0; i < n; ++i)
        r += v[i] * v[i];
      return r;
    }
  } // namespace

  std::unique_ptr<ScoreReference> closed_form_reference(const ForwardProcess   &process,
                                                        const DataDistribution &data)
  {
    return std::make_unique<ClosedFormReference>(process, data);
  }

  std::unique_ptr<ScoreReference> file_reference(const std::string       &file,
                                                 const unsigned int       dimension,
                                                 const ProcessParameters &process)
  {
    return std::make_unique<FileReference>(file, dimension, process);
  }

  template <int dim>
  ScoreCheckResult check_score(const dealii::parallel::TriangulationBase<dim> &triangulation,
                               const dealii::Mapping<dim>                     &mapping,
                               const ScoreModel                               &model,
                               const ScoreReference                           &reference,
                               const ForwardProcess                           &process,
                               const double                                    t,
                               const ScoreCheckParameters                     &parameters,
                               CellFields                                     *fields)
  {
    using namespace dealii;
    const MPI_Comm            communicator = triangulation.get_communicator();
    const QGauss<dim>         quadrature(parameters.quadrature_points);
    static const FE_Nothing<dim> no_element; // FEValues needs an element; none is used
    FEValues<dim>             fe_values(mapping,
                            no_element,
                            quadrature,
                            update_quadrature_points | update_JxW_values);
    const unsigned int        nq = quadrature.size();

    // Every local quadrature point, then one batched evaluation of model and reference.
    std::vector<double>       x, JxW;
    std::vector<unsigned int> cell_index;
    for (const auto &cell : triangulation.active_cell_iterators())
      if (cell->is_locally_owned())
        {
          fe_values.reinit(cell);
          for (unsigned int q = 0; q < nq; ++q)
            {
              const Point<dim> &point = fe_values.quadrature_point(q);
              for (unsigned int j = 0; j < dim; ++j)
                x.push_back(point[j]);
              JxW.push_back(fe_values.JxW(q));
            }
          cell_index.push_back(cell->active_cell_index());
        }
    const std::size_t   n = JxW.size();
    const PointwiseScore w = pointwise_score(model, process, t, x.data(), n);
    std::vector<double> p(n), s(n * dim);
    reference.evaluate(t, x.data(), n, p.data(), s.data());

    const double max_p = Utilities::MPI::max(n ? *std::max_element(p.begin(), p.end()) : 0.0,
                                             communicator);
    const double mass  = Utilities::MPI::sum(
        [&]() {
          double m = 0;
          for (std::size_t k = 0; k < n; ++k)
            m += p[k] * JxW[k];
          return m;
        }(),
        communicator);
    // The bulk threshold p*: the largest level whose superlevel set holds Bulk mass of
    // the mass, by bisection in log p (one reduction per step; the points stay local).
    const auto mass_above = [&](const double level) {
      double m = 0;
      for (std::size_t k = 0; k < n; ++k)
        if (p[k] >= level)
          m += p[k] * JxW[k];
      return Utilities::MPI::sum(m, communicator);
    };
    double low = std::log(std::max(max_p, 1e-300)) - 80.0, high = std::log(std::max(max_p, 1e-300));
    for (unsigned int iteration = 0; iteration < 80; ++iteration)
      {
        const double middle = 0.5 * (low + high);
        (mass_above(std::exp(middle)) >= parameters.bulk_mass * mass ? low : high) = middle;
      }
    const double bulk_level = std::exp(low), tail_level = parameters.tail_threshold * max_p;

    enum Sum
    {
      error_domain,
      norm_domain,
      error_bulk,
      norm_bulk,
      error_tail,
      norm_tail,
      fisher,
      residual,
      log_residual,
      curl,
      n_sums
    };
    std::vector<double> sums(n_sums, 0.0);
    const unsigned int  nc = w.curl_components;
    for (std::size_t k = 0; k < n; ++k)
      {
        double error = 0;
        for (unsigned int j = 0; j < dim; ++j)
          error += std::pow(w.s[k * dim + j] - s[k * dim + j], 2);
        const double norm = squared_norm(&s[k * dim], dim);
        sums[error_domain] += error * JxW[k];
        sums[norm_domain] += norm * JxW[k];
        if (p[k] >= bulk_level)
          {
            sums[error_bulk] += error * JxW[k];
            sums[norm_bulk] += norm * JxW[k];
          }
        if (p[k] < tail_level)
          {
            sums[error_tail] += error * JxW[k];
            sums[norm_tail] += norm * JxW[k];
          }
        sums[fisher] += p[k] * error * JxW[k];
        if (!w.residual.empty())
          {
            sums[residual] += p[k] * squared_norm(&w.residual[k * dim], dim) * JxW[k];
            if (nc > 0)
              sums[curl] += p[k] * squared_norm(&w.curl[k * nc], nc) * JxW[k];
          }
        if (!w.log_residual.empty())
          sums[log_residual] += p[k] * std::pow(w.log_residual[k], 2) * JxW[k];
      }
    Utilities::MPI::sum(sums, communicator, sums);

    const double     nan = std::numeric_limits<double>::quiet_NaN();
    const auto       ratio = [&](const double e, const double s2) {
      return s2 > 0 ? std::sqrt(e / s2) : nan;
    };
    ScoreCheckResult result;
    result.time              = t;
    result.mass              = mass;
    result.bulk_threshold    = bulk_level;
    result.l2_domain         = ratio(sums[error_domain], sums[norm_domain]);
    result.l2_bulk           = ratio(sums[error_bulk], sums[norm_bulk]);
    result.l2_tail           = ratio(sums[error_tail], sums[norm_tail]);
    result.fisher_divergence = sums[fisher];
    result.score_residual    = model.has_derivatives() ? std::sqrt(sums[residual]) : nan;
    result.log_residual      = model.is_potential() ? std::sqrt(sums[log_residual]) : nan;
    result.curl              = model.has_derivatives() && nc > 0 ? sums[curl] : (dim == 1 ? 0.0 : nan);

    if (fields)
      {
        // Cell averages (quadrature-weighted); |r| and the curl magnitude as root mean
        // squares.
        const std::size_t  n_cells = triangulation.n_active_cells();
        const char        *axes    = "xyz";
        std::vector<std::pair<std::string, std::vector<double>>> sums_per_cell;
        const auto add = [&](const std::string &name) {
          sums_per_cell.emplace_back(name, std::vector<double>(n_cells, 0.0));
          return sums_per_cell.size() - 1;
        };
        std::vector<std::size_t> model_field, reference_field, error_field;
        for (unsigned int j = 0; j < dim; ++j)
          model_field.push_back(add(std::string("score_") + axes[j]));
        for (unsigned int j = 0; j < dim; ++j)
          reference_field.push_back(add(std::string("reference_score_") + axes[j]));
        for (unsigned int j = 0; j < dim; ++j)
          error_field.push_back(add(std::string("error_") + axes[j]));
        const std::size_t density_field = add("density");
        const std::size_t residual_field = w.residual.empty() ? n_cells : add("score_residual");
        const std::size_t log_field = w.log_residual.empty() ? n_cells : add("log_residual");
        std::vector<std::size_t> curl_field;
        for (unsigned int c = 0; c < nc && !w.residual.empty(); ++c)
          curl_field.push_back(add(nc == 1 ? std::string("curl") : std::string("curl_") + axes[c]));
        std::vector<double> volume(n_cells, 0.0);
        for (std::size_t k = 0; k < n; ++k)
          {
            const std::size_t cell = cell_index[k / nq];
            const double      dx   = JxW[k];
            volume[cell] += dx;
            for (unsigned int j = 0; j < dim; ++j)
              {
                sums_per_cell[model_field[j]].second[cell] += w.s[k * dim + j] * dx;
                sums_per_cell[reference_field[j]].second[cell] += s[k * dim + j] * dx;
                sums_per_cell[error_field[j]].second[cell] += (w.s[k * dim + j] - s[k * dim + j]) * dx;
              }
            sums_per_cell[density_field].second[cell] += p[k] * dx;
            if (residual_field < n_cells)
              sums_per_cell[residual_field].second[cell] += squared_norm(&w.residual[k * dim], dim) * dx;
            if (log_field < n_cells)
              sums_per_cell[log_field].second[cell] += w.log_residual[k] * dx;
            for (unsigned int c = 0; c < curl_field.size(); ++c)
              sums_per_cell[curl_field[c]].second[cell] += w.curl[k * nc + c] * dx;
          }
        fields->clear();
        for (std::size_t f = 0; f < sums_per_cell.size(); ++f)
          {
            std::vector<float> values(n_cells, 0.0f);
            for (std::size_t cell = 0; cell < n_cells; ++cell)
              if (volume[cell] > 0)
                {
                  const double mean = sums_per_cell[f].second[cell] / volume[cell];
                  values[cell]      = float(f == residual_field ? std::sqrt(mean) : mean);
                }
            fields->emplace_back(sums_per_cell[f].first, std::move(values));
          }
      }
    return result;
  }

  PointValues score_at_points(const ScoreModel     &model,
                              const ScoreReference &reference,
                              const ForwardProcess &process,
                              const double          t,
                              const double         *x,
                              const std::size_t     n)
  {
    const unsigned int  d = model.dimension();
    const PointwiseScore w = pointwise_score(model, process, t, x, n);
    std::vector<double> p(n), s(n * d);
    reference.evaluate(t, x, n, p.data(), s.data());
    PointValues out;
    const char *axes = "xyz";
    const auto  columns = [&](const std::string &name, const unsigned int k) {
      for (unsigned int j = 0; j < k; ++j)
        out.columns.push_back(k == 1 ? name : name + "_" + axes[j]);
    };
    columns("score", d);
    columns("reference_score", d);
    columns("reference_density", 1);
    if (!w.residual.empty())
      {
        columns("score_residual", d);
        columns("curl", w.curl_components);
      }
    if (!w.log_residual.empty())
      {
        columns("potential", 1);
        columns("log_residual", 1);
      }
    for (std::size_t k = 0; k < n; ++k)
      {
        const auto append = [&](const std::vector<double> &v, const unsigned int width) {
          for (unsigned int j = 0; j < width; ++j)
            out.values.push_back(v[k * width + j]);
        };
        append(w.s, d);
        append(s, d);
        append(p, 1);
        if (!w.residual.empty())
          {
            append(w.residual, d);
            append(w.curl, w.curl_components);
          }
        if (!w.log_residual.empty())
          {
            append(w.u, 1);
            append(w.log_residual, 1);
          }
      }
    return out;
  }

#define SCOREFP_INSTANTIATE(dim)                                                        \
  template ScoreCheckResult check_score<dim>(const dealii::parallel::TriangulationBase<dim> &, \
                                             const dealii::Mapping<dim> &,              \
                                             const ScoreModel &,                        \
                                             const ScoreReference &,                    \
                                             const ForwardProcess &,                    \
                                             const double,                              \
                                             const ScoreCheckParameters &,              \
                                             CellFields *);
  SCOREFP_INSTANTIATE(1)
  SCOREFP_INSTANTIATE(2)
  SCOREFP_INSTANTIATE(3)
#undef SCOREFP_INSTANTIATE
} // namespace scorefp
