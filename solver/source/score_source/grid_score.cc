// Sampler/Score = grid: a score tabulated on a tensor-product grid at a list of times
// (postprocess/SCORE_MODEL_FORMAT.md, "Grid (HDF5)"), read, checked and interpolated
// by 4-point Lagrange stencils in space and time; also the writer and the parallel
// tabulation that Task = tabulate score uses (score_source/grid_score.h).
#include "reference/hdf5_file.h"

#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>
#include <scorefp/score_source/grid_score.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#ifndef SCOREFP_VERSION
#define SCOREFP_VERSION "unknown"
#endif

namespace scorefp
{
  namespace
  {
    const std::string grid_expectation =
        "a score grid as postprocess/SCORE_MODEL_FORMAT.md (section Grid) describes it";

    std::string number(const double x)
    {
      std::ostringstream s;
      s << x;
      return s.str();
    }

    std::string shape_text(const ScoreGrid &g)
    {
      std::string text;
      for (const auto &axis : g.axes)
        text += (text.empty() ? "" : " x ") + std::to_string(axis.size());
      return text;
    }

    /// Everything a grid must satisfy by itself; reader.fail names the file otherwise.
    void check_structure(const ScoreGrid &g, const hdf5::Reader &reader)
    {
      const unsigned int d = g.dimension();
      if (d < 1 || d > 3)
        reader.fail("it has " + std::to_string(d) + " axes, not 1, 2 or 3");
      const auto check_increasing = [&](const std::vector<double> &values,
                                        const std::string         &what) {
        for (std::size_t i = 0; i < values.size(); ++i)
          {
            if (!std::isfinite(values[i]))
              reader.fail(what + " holds a non-finite value at index " + std::to_string(i));
            if (i > 0 && !(values[i] > values[i - 1]))
              reader.fail(what + " is not strictly increasing (" + number(values[i]) +
                          " at index " + std::to_string(i) + " after " + number(values[i - 1]) +
                          ")");
          }
      };
      for (unsigned int j = 0; j < d; ++j)
        {
          const std::string name = "axis x" + std::to_string(j);
          if (g.axes[j].size() < 4)
            reader.fail(name + " has " + std::to_string(g.axes[j].size()) +
                        " nodes, fewer than the 4 of a cubic stencil");
          check_increasing(g.axes[j], name);
        }
      if (g.times.empty())
        reader.fail("/times is empty");
      check_increasing(g.times, "/times");
      const std::size_t n = g.n_nodes();
      if (g.values.size() != g.times.size() * n * d)
        reader.fail("/score holds " + std::to_string(g.values.size()) + " numbers instead of " +
                    std::to_string(g.times.size()) + " times x " + std::to_string(n) + " nodes x " +
                    std::to_string(d) + " components");
      for (std::size_t i = 0; i < g.values.size(); ++i)
        if (!std::isfinite(g.values[i]))
          {
            const std::size_t  k = i / (n * d), node = (i / d) % n;
            std::ostringstream s;
            s << "/score holds a non-finite value (component " << i % d << " at time " << g.times[k]
              << ", node (";
            const std::vector<double> x = g.nodes(node, 1);
            for (unsigned int j = 0; j < d; ++j)
              s << (j ? ", " : "") << x[j];
            s << "))";
            reader.fail(s.str());
          }
    }

    // ------------------------------------------------------------ interpolation

    constexpr unsigned int max_stencil = 4;

    /// The Lagrange weights of one stencil at one coordinate (w, dw/dx, d2w/dx2).
    struct Stencil
    {
      std::size_t first = 0;
      double      w[max_stencil], dw[max_stencil], d2w[max_stencil];
    };

    /// The nodes of one axis (or the times) with the denominators of every stencil's
    /// Lagrange polynomials precomputed.
    class Axis
    {
    public:
      Axis() = default;
      explicit Axis(std::vector<double> nodes_in)
          : nodes(std::move(nodes_in))
          , size(static_cast<unsigned int>(std::min<std::size_t>(nodes.size(), max_stencil)))
      {
        const std::size_t n          = nodes.size();
        const std::size_t n_stencils = n - size + 1;
        inverse_denominator.resize(n_stencils * size);
        for (std::size_t k = 0; k < n_stencils; ++k)
          for (unsigned int m = 0; m < size; ++m)
            {
              double product = 1;
              for (unsigned int j = 0; j < size; ++j)
                if (j != m)
                  product *= nodes[k + m] - nodes[k + j];
              inverse_denominator[k * size + m] = 1.0 / product;
            }
        // A first guess of the interval from the mean spacing (exact for equally spaced
        // nodes, corrected by comparisons otherwise).
        if (n > 1)
          inverse_spacing = (n - 1) / (nodes.back() - nodes.front());
      }

      /// The stencil at x: the interval [x_i, x_{i+1}] holding x, the stencil x_{i-1} ..
      /// x_{i+2} shifted inwards at the ends. x outside the nodes is clamped to the
      /// nearest end, where the (constant) continuation has zero derivatives.
      void stencil(double x, Stencil &s) const
      {
        const std::size_t n       = nodes.size();
        bool              clamped = false;
        if (x < nodes.front())
          {
            x       = nodes.front();
            clamped = true;
          }
        else if (x > nodes.back())
          {
            x       = nodes.back();
            clamped = true;
          }
        std::size_t k = 0;
        if (n > size)
          {
            // The interval i with x_i <= x < x_{i+1} (i = n - 2 at the last node).
            const auto search = [&]() {
              const std::size_t j = std::upper_bound(nodes.begin(), nodes.end(), x) - nodes.begin();
              return std::min(std::max<std::size_t>(j, 1) - 1, n - 2);
            };
            const double guess = (x - nodes.front()) * inverse_spacing;
            std::size_t  i     = guess > 0 ? std::min<std::size_t>(guess, n - 2) : 0;
            if (x < nodes[i])
              i = (i > 0 && x >= nodes[i - 1]) ? i - 1 : search();
            else if (i + 2 < n && x >= nodes[i + 1])
              i = (i + 2 == n - 1 || x < nodes[i + 2]) ? i + 1 : search();
            k = std::min(std::max<std::size_t>(i, 1) - 1, n - size);
          }
        s.first                  = k;
        const double *z          = nodes.data() + k;
        const double *inverse    = inverse_denominator.data() + k * size;
        const double  derivative = clamped ? 0.0 : 1.0;
        if (size == 4)
          {
            // prod_{j != m} (x - z_j) = a b c, its derivatives ab + bc + ca and 2 (a + b + c).
            const double u[4] = {x - z[0], x - z[1], x - z[2], x - z[3]};
            for (unsigned int m = 0; m < 4; ++m)
              {
                const double a = u[(m + 1) & 3], b = u[(m + 2) & 3], c = u[(m + 3) & 3];
                s.w[m]   = inverse[m] * (a * b * c);
                s.dw[m]  = derivative * inverse[m] * (a * b + b * c + c * a);
                s.d2w[m] = derivative * inverse[m] * 2 * (a + b + c);
              }
            return;
          }
        for (unsigned int m = 0; m < size; ++m)
          {
            // prod_{j != m} (x - x_j) and its first two derivatives by the product rule.
            double f = 1, f1 = 0, f2 = 0;
            for (unsigned int j = 0; j < size; ++j)
              if (j != m)
                {
                  const double u = x - z[j];
                  f2             = f2 * u + 2 * f1;
                  f1             = f1 * u + f;
                  f *= u;
                }
            s.w[m]   = inverse[m] * f;
            s.dw[m]  = derivative * inverse[m] * f1;
            s.d2w[m] = derivative * inverse[m] * f2;
          }
      }

      std::vector<double> nodes;
      unsigned int        size = 0; ///< points per stencil

    private:
      std::vector<double> inverse_denominator;
      double              inverse_spacing = 0;
    };

    class GridScore : public ScoreModel
    {
    public:
      GridScore(ScoreGrid grid_in, const std::string &name)
          : grid(std::move(grid_in))
          , name(name)
          , d(grid.dimension())
          , n_nodes(grid.n_nodes())
          , time_axis(grid.times)
      {
        for (unsigned int j = 0; j < d; ++j)
          axes[j] = Axis(grid.axes[j]);
        std::size_t stride = 1;
        for (int j = static_cast<int>(d) - 1; j >= 0; --j)
          {
            strides[j] = stride;
            stride *= grid.axes[j].size();
          }
      }

      unsigned int dimension() const override { return d; }

      void evaluate(const double t, const double *x, const std::size_t n, double *s) const override
      {
        evaluate_derivatives(t, x, n, s, ScoreDerivatives());
      }

      std::string description() const override
      {
        std::string text = "grid '" + name + "' (" + shape_text(grid) + " nodes, " +
                           std::to_string(grid.times.size()) + " times";
        if (!grid.description.empty())
          text += "; " + grid.description;
        return text + ")";
      }

      bool has_derivatives() const override { return true; }

      void evaluate_derivatives(const double            t,
                                const double           *x,
                                const std::size_t       n,
                                double                 *s,
                                const ScoreDerivatives &derivatives) const override
      {
        switch (d)
          {
          case 1:
            return evaluate_points<1>(t, x, n, s, derivatives);
          case 2:
            return evaluate_points<2>(t, x, n, s, derivatives);
          default:
            return evaluate_points<3>(t, x, n, s, derivatives);
          }
      }

    private:
      template <int D>
      void evaluate_points(const double            t,
                           const double           *x,
                           const std::size_t       n,
                           double                 *s,
                           const ScoreDerivatives &derivatives) const
      {
        constexpr unsigned int N = 1u << (2 * D); // 4^D nodes per stencil
        // The multi-index of stencil node q (axis 0 slowest) and its offset from the
        // stencil's first node, in nodes.
        std::array<std::array<unsigned int, D>, N> index;
        std::array<std::size_t, N>                 offset;
        for (unsigned int q = 0; q < N; ++q)
          {
            offset[q] = 0;
            for (int j = 0; j < D; ++j)
              {
                index[q][j] = (q >> (2 * (D - 1 - j))) & 3u;
                offset[q] += index[q][j] * strides[j];
              }
          }
        Stencil time;
        time_axis.stencil(t, time);
        const unsigned int n_times       = time_axis.size;
        const std::size_t  time_stride   = n_nodes * D;
        const double      *values        = grid.values.data();
        const bool         want_time     = derivatives.time_derivative != nullptr;
        const bool         want_jacobian = derivatives.jacobian != nullptr;
        const bool         want_hessian  = derivatives.grad_divergence != nullptr;

        // Many points: the field (and its time derivative) at time t on the whole grid
        // first, read sequentially, so that each point reads one slab instead of
        // n_times scattered ones (the sums are the same, in the same order).
        std::vector<double> slab, slab_t;
        if (n * N >= n_nodes && n_times > 1)
          {
            slab.assign(n_nodes * D, 0.0);
            if (want_time)
              slab_t.assign(n_nodes * D, 0.0);
            for (unsigned int l = 0; l < n_times; ++l)
              {
                const double *v = values + (time.first + l) * time_stride;
                for (std::size_t m = 0; m < n_nodes * D; ++m)
                  {
                    slab[m] += time.w[l] * v[m];
                    if (want_time)
                      slab_t[m] += time.dw[l] * v[m];
                  }
              }
          }

        // Partial sums of the sum factorisation (below): at most 1 + D + D (D + 1) / 2
        // of them for the space derivatives, plus one for the time derivative.
        struct Partial
        {
          int  orders[3]; // derivative order along each axis
          bool time;
        };
        constexpr int max_partials = 11;
        const int     max_order    = want_hessian ? 2 : want_jacobian ? 1 : 0;
        Partial       meta[2][max_partials];
        static_assert(sizeof(double) * 2 * max_partials * N * D < 64 * 1024, "stack buffer");
        double data[2][max_partials][N][D];

        for (std::size_t i = 0; i < n; ++i)
          {
            Stencil     space[D];
            std::size_t base = 0;
            for (int j = 0; j < D; ++j)
              {
                axes[j].stencil(x[i * D + j], space[j]);
                base += space[j].first * strides[j];
              }
            // The stencil's values (and time derivatives) at time t.
            double(*local)[D]   = data[0][0];
            double(*local_t)[D] = data[0][1];
            if (!slab.empty())
              for (unsigned int q = 0; q < N; ++q)
                for (int c = 0; c < D; ++c)
                  {
                    const std::size_t m = (base + offset[q]) * D + c;
                    local[q][c]         = slab[m];
                    if (want_time)
                      local_t[q][c] = slab_t[m];
                  }
            else
              for (unsigned int q = 0; q < N; ++q)
                {
                  const double *v = values + time.first * time_stride + (base + offset[q]) * D;
                  for (int c = 0; c < D; ++c)
                    local[q][c] = 0.0;
                  if (want_time)
                    for (int c = 0; c < D; ++c)
                      local_t[q][c] = 0.0;
                  for (unsigned int l = 0; l < n_times; ++l, v += time_stride)
                    for (int c = 0; c < D; ++c)
                      {
                        local[q][c] += time.w[l] * v[c];
                        if (want_time)
                          local_t[q][c] += time.dw[l] * v[c];
                      }
                }
            // Sum factorisation: contract the stencil one axis at a time (the last first)
            // with the weights of derivative order e = 0, 1, 2 along that axis, keeping
            // the partial sums of total order <= max_order (values, Jacobian, grad div),
            // plus the time derivative (order 0 in space).
            int count  = 1;
            meta[0][0] = Partial{{0, 0, 0}, false};
            if (want_time)
              meta[0][count++] = Partial{{0, 0, 0}, true};
            int          current = 0;
            unsigned int size    = N;
            for (int j = D - 1; j >= 0; --j)
              {
                const unsigned int out   = size / 4;
                int                added = 0;
                for (int p = 0; p < count; ++p)
                  {
                    const Partial &m     = meta[current][p];
                    const int      total = m.orders[0] + m.orders[1] + m.orders[2];
                    const int      e_max = m.time ? 0 : max_order - total;
                    for (int e = 0; e <= e_max; ++e)
                      {
                        const double *w = e == 0 ? space[j].w : e == 1 ? space[j].dw : space[j].d2w;
                        Partial      &next = meta[1 - current][added];
                        next               = m;
                        next.orders[j] += e;
                        const double(*source)[D] = data[current][p];
                        double(*target)[D]       = data[1 - current][added];
                        for (unsigned int r = 0; r < out; ++r)
                          for (int c = 0; c < D; ++c)
                            target[r][c] = w[0] * source[4 * r][c] + w[1] * source[4 * r + 1][c] +
                                           w[2] * source[4 * r + 2][c] +
                                           w[3] * source[4 * r + 3][c];
                        ++added;
                      }
                  }
                count   = added;
                current = 1 - current;
                size    = out;
              }
            double grad_div[D] = {};
            for (int p = 0; p < count; ++p)
              {
                const Partial &m      = meta[current][p];
                const double  *result = data[current][p][0];
                const int      total  = m.orders[0] + m.orders[1] + m.orders[2];
                if (m.time)
                  std::copy(result, result + D, derivatives.time_derivative + i * D);
                else if (total == 0)
                  {
                    if (s != nullptr)
                      std::copy(result, result + D, s + i * D);
                  }
                else if (total == 1)
                  {
                    if (!want_jacobian)
                      continue;
                    const int k = m.orders[0] == 1 ? 0 : m.orders[1] == 1 ? 1 : 2;
                    for (int c = 0; c < D; ++c)
                      derivatives.jacobian[(i * D + c) * D + k] = result[c];
                  }
                else
                  {
                    // d^2 s / (dx_k dx_l): (grad div s)_k = sum_c d^2 s_c / (dx_k dx_c).
                    int k = -1, l = -1;
                    for (int j = 0; j < D; ++j)
                      for (int e = 0; e < m.orders[j]; ++e)
                        (k < 0 ? k : l) = j;
                    grad_div[k] += result[l];
                    if (k != l)
                      grad_div[l] += result[k];
                  }
              }
            if (want_hessian)
              std::copy(grad_div, grad_div + D, derivatives.grad_divergence + i * D);
          }
      }

      ScoreGrid                  grid;
      std::string                name;
      unsigned int               d;
      std::size_t                n_nodes;
      Axis                       time_axis;
      std::array<Axis, 3>        axes;
      std::array<std::size_t, 3> strides{};
    };

    /// Section Sampler's entry of Score = grid.
    struct GridParameters
    {
      std::string file;

      void bind(ParameterBinder &b)
      {
        b.add("Grid file",
              file,
              "Score = grid: the HDF5 score grid (postprocess/SCORE_MODEL_FORMAT.md, section "
              "Grid; Task = tabulate score writes one), interpolated by 4-point (cubic) "
              "Lagrange stencils in each direction and in time; outside the grid's box a "
              "point takes the value at the nearest point of the box. Its dimension, its "
              "times (which must cover [Early stopping, Process/Final time]) and its /process "
              "group, if any, must agree with the case.");
      }
    };

    class GridSource : public ScoreSourceInterface
    {
    public:
      explicit GridSource(const GridParameters &parameters)
          : parameters(parameters)
      {
      }

      void check() const override
      {
        if (parameters.file.empty())
          throw InputError("Sampler/Score = grid needs Sampler/Grid file; it is empty.");
      }

      std::unique_ptr<ScoreModel> create(const ScoreSourceContext &c) const override
      {
        check();
        return grid_score(parameters.file, c);
      }

    private:
      GridParameters parameters;
    };

    std::string entries_text(const std::vector<std::pair<std::string, std::string>> &entries,
                             const std::string                                      &key)
    {
      for (const auto &[k, v] : entries)
        if (k == key)
          return k + " = " + v;
      return "no entry " + key;
    }
  } // namespace

  // ------------------------------------------------------------------ ScoreGrid

  std::size_t ScoreGrid::n_nodes() const
  {
    std::size_t n = axes.empty() ? 0 : 1;
    for (const auto &axis : axes)
      n *= axis.size();
    return n;
  }

  std::vector<double> ScoreGrid::nodes(const std::size_t first, const std::size_t count) const
  {
    const unsigned int  d = dimension();
    std::vector<double> x(count * d);
    for (std::size_t i = 0; i < count; ++i)
      {
        std::size_t rest = first + i;
        for (int j = static_cast<int>(d) - 1; j >= 0; --j)
          {
            x[i * d + j] = axes[j][rest % axes[j].size()];
            rest /= axes[j].size();
          }
      }
    return x;
  }

  // ------------------------------------------------------------------ writing

  void write_score_grid(const std::string &file, const ScoreGrid &grid)
  {
    const unsigned int d = grid.dimension();
    if (d < 1 || grid.values.size() != grid.times.size() * grid.n_nodes() * d)
      throw std::runtime_error("write_score_grid: the values of the grid for '" + file +
                               "' do not match its axes and times.");
    const std::filesystem::path parent = std::filesystem::path(file).parent_path();
    if (!parent.empty())
      std::filesystem::create_directories(parent);
    std::filesystem::remove(file); // a file from an earlier run must not survive a failure
    const std::string temporary = file + ".partial";
    hdf5::QuietErrors quiet;
    try
      {
        hdf5::Handle h5(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                        H5Fclose);
        if (!h5.valid())
          throw InputError("Grid file '" + temporary +
                           "' cannot be created; expected a writable location.");
        hdf5::write_attribute(h5, "format", std::string(score_grid_format));
        hdf5::write_attribute(h5, "scorefp_version", std::string(SCOREFP_VERSION));
        if (!grid.description.empty())
          hdf5::write_attribute(h5, "description", grid.description);
        {
          const hdf5::Handle axes = hdf5::create_group(h5, "axes");
          for (unsigned int j = 0; j < d; ++j)
            hdf5::write_doubles(axes, "x" + std::to_string(j), {grid.axes[j].size()}, grid.axes[j]);
        }
        hdf5::write_doubles(h5, "times", {grid.times.size()}, grid.times);
        std::vector<hsize_t> shape{grid.times.size()};
        for (const auto &axis : grid.axes)
          shape.push_back(axis.size());
        shape.push_back(d);
        hdf5::write_doubles(h5, "score", shape, grid.values);
        if (!grid.process.empty())
          hdf5::write_entries(h5, "process", grid.process);
        h5.reset();
        std::filesystem::rename(temporary, file);
      }
    catch (...)
      {
        std::error_code ignored;
        std::filesystem::remove(temporary, ignored);
        throw;
      }
  }

  // ------------------------------------------------------------------ reading

  ScoreGrid read_score_grid(const std::string &file)
  {
    if (!std::filesystem::exists(file))
      throw InputError("Grid file '" + file + "' does not exist; expected " + grid_expectation +
                       " (Task = tabulate score writes one).");
    hdf5::QuietErrors quiet;
    if (H5Fis_hdf5(file.c_str()) <= 0)
      throw InputError("Grid file '" + file + "' is not an HDF5 file; expected " +
                       grid_expectation + ".");
    const hdf5::Handle h5(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!h5.valid())
      throw InputError("Grid file '" + file + "' cannot be opened as HDF5; expected " +
                       grid_expectation + ".");
    const hdf5::Reader reader(file, "Grid file", grid_expectation);
    if (!reader.has_attribute(h5, "format"))
      throw InputError("Grid file '" + file + "' has no 'format' attribute; expected format = '" +
                       score_grid_format + "' (" + grid_expectation + ").");
    const std::string format = reader.string_attribute(h5, "format");
    if (format != score_grid_format)
      throw InputError("Grid file '" + file + "' has format '" + format + "'; expected '" +
                       score_grid_format + "' (" + grid_expectation + ").");

    ScoreGrid grid;
    {
      const hdf5::Handle axes = reader.group(h5, "axes");
      unsigned int       d    = 0;
      while (d < 4 && reader.exists(axes, "x" + std::to_string(d)))
        ++d;
      if (d == 0)
        reader.fail("group 'axes' has no dataset 'x0'");
      if (d > 3)
        reader.fail("group 'axes' has 4 or more axes (x0 to x3), not 1, 2 or 3");
      for (unsigned int j = 0; j < d; ++j)
        {
          const std::string name = "axes/x" + std::to_string(j);
          grid.axes.push_back(reader.doubles(h5, name, {reader.leading_dimension(h5, name)}));
        }
    }
    grid.times = reader.doubles(h5, "times", {reader.leading_dimension(h5, "times")});
    std::vector<hsize_t> shape{grid.times.size()};
    for (const auto &axis : grid.axes)
      shape.push_back(axis.size());
    shape.push_back(grid.axes.size());
    grid.values = reader.doubles(h5, "score", shape);
    if (reader.exists(h5, "process"))
      {
        const hdf5::Handle process = reader.group(h5, "process");
        grid.process               = reader.string_attributes(process, "process");
        try
          {
            ProcessParameters::from_entries(grid.process);
          }
        catch (const InputError &e)
          {
            reader.fail(std::string("its /process entries are not valid (") + e.what() + ")");
          }
      }
    if (reader.has_attribute(h5, "description"))
      grid.description = reader.string_attribute(h5, "description");
    check_structure(grid, reader);
    return grid;
  }

  // ------------------------------------------------------------------ models

  std::unique_ptr<ScoreModel> grid_score(ScoreGrid grid, const std::string &name)
  {
    check_structure(grid, hdf5::Reader(name, "Score grid", grid_expectation));
    return std::make_unique<GridScore>(std::move(grid), name);
  }

  std::unique_ptr<ScoreModel> grid_score(const std::string &file, const ScoreSourceContext &c)
  {
    ScoreGrid          grid = read_score_grid(file);
    const unsigned int d    = grid.dimension();
    if (d != c.dimension)
      throw InputError("Grid file '" + file + "' is " + std::to_string(d) +
                       "-dimensional, but Dimension = " + std::to_string(c.dimension) +
                       "; expected a grid of the case's dimension.");
    const double eps = c.early_stopping, T = c.process.final_time;
    const double tolerance = 1e-12 * std::max(1.0, std::abs(T));
    if (grid.times.front() > eps + tolerance || grid.times.back() < T - tolerance)
      throw InputError("Grid file '" + file + "' has times in [" + number(grid.times.front()) +
                       ", " + number(grid.times.back()) + "]; expected times covering [" +
                       number(eps) + ", " + number(T) +
                       "] (Sampler/Early stopping to Process/Final time).");
    if (!grid.process.empty())
      {
        const ProcessParameters recorded = ProcessParameters::from_entries(grid.process);
        if (!(recorded == c.process_parameters))
          {
            const auto  mine = recorded.entries(), theirs = c.process_parameters.entries();
            std::string difference;
            for (const auto &[key, value] : theirs)
              if (entries_text(mine, key) != key + " = " + value)
                {
                  difference = "its /process has " + entries_text(mine, key) +
                               ", the case's section Process has " + key + " = " + value;
                  break;
                }
            if (difference.empty())
              for (const auto &[key, value] : mine)
                if (entries_text(theirs, key) != key + " = " + value)
                  {
                    difference = "its /process has " + key + " = " + value +
                                 ", the case's section Process has " + entries_text(theirs, key);
                    break;
                  }
            throw InputError("Grid file '" + file + "' was tabulated for another process (" +
                             difference + "); expected the case's process (or no /process group).");
          }
      }
    return grid_score(std::move(grid), file);
  }

  // ------------------------------------------------------------------ tabulation

  void tabulate_score(const ScoreModel                        &score,
                      ScoreGrid                               &grid,
                      const MPI_Comm                           communicator,
                      const std::function<void(unsigned int)> &after_time)
  {
    const unsigned int d = grid.dimension();
    if (score.dimension() != d)
      throw std::logic_error("tabulate_score: the score and the grid differ in dimension.");
    int rank = 0, size = 1;
    MPI_Comm_rank(communicator, &rank);
    MPI_Comm_size(communicator, &size);
    const std::size_t n = grid.n_nodes();
    // Blocks of a fixed size, whole blocks per rank: the same evaluate() calls on any
    // number of ranks.
    constexpr std::size_t block    = 4096;
    const std::size_t     n_blocks = (n + block - 1) / block;
    const auto first_node = [&](const int r) { return std::min(n, n_blocks * r / size * block); };
    const std::size_t         first = first_node(rank), count = first_node(rank + 1) - first;
    const std::vector<double> x = grid.nodes(first, count);
    if (n * d > static_cast<std::size_t>(INT_MAX))
      throw InputError("Tabulation: " + std::to_string(n) +
                       " nodes are too many for one gather; expected fewer points per axis.");
    std::vector<int> counts(size), displacements(size);
    for (int r = 0; r < size; ++r)
      {
        counts[r]        = static_cast<int>((first_node(r + 1) - first_node(r)) * d);
        displacements[r] = static_cast<int>(first_node(r) * d);
      }
    if (rank == 0)
      grid.values.assign(grid.times.size() * n * d, 0.0);
    else
      grid.values.clear();
    std::vector<double> local(count * d);
    for (unsigned int k = 0; k < grid.times.size(); ++k)
      {
        const double t = grid.times[k];
        for (std::size_t b = 0; b < count; b += block)
          score.evaluate(t, x.data() + b * d, std::min(block, count - b), local.data() + b * d);
        // The first node (over all ranks) where the score is not finite, if any.
        unsigned long long bad = n;
        for (std::size_t i = 0; i < count * d && bad == n; ++i)
          if (!std::isfinite(local[i]))
            bad = first + i / d;
        unsigned long long first_bad = n;
        MPI_Allreduce(&bad, &first_bad, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, communicator);
        if (first_bad < n)
          {
            const std::vector<double> y = grid.nodes(first_bad, 1);
            std::ostringstream        s;
            s << "The score " << score.description() << " is not finite at x = (";
            for (unsigned int j = 0; j < d; ++j)
              s << (j ? ", " : "") << y[j];
            s << "), t = " << t << "; a score grid needs finite values.";
            throw SolverFailure(s.str());
          }
        MPI_Gatherv(local.data(),
                    static_cast<int>(count * d),
                    MPI_DOUBLE,
                    rank == 0 ? grid.values.data() + k * n * d : nullptr,
                    counts.data(),
                    displacements.data(),
                    MPI_DOUBLE,
                    0,
                    communicator);
        if (after_time)
          after_time(k);
      }
  }

  SCOREFP_REGISTER(ScoreSourceRegistry,
                   "grid",
                   "a score grid (Sampler/Grid file, HDF5, e.g. from Task = tabulate score), "
                   "cubic in space and time, with the exact derivatives of its interpolant;",
                   GridParameters,
                   [](const GridParameters &p) { return std::make_unique<GridSource>(p); })
} // namespace scorefp
