// Sampler/Score = grid (score_source/grid_score.h): the interpolant reproduces fields
// that are cubic in each direction and in time exactly, with their derivatives; the
// exact mixture score tabulated on grids h, h/2, h/4 converges at h^4 (values), h^3
// (Jacobian) and h^2 (grad div), and in time at dt^4 (values) and dt^3 (d/dt); points
// outside the box take the value at the nearest point of the box; bad files are
// InputErrors that name the file.
#include <scorefp/core/input_error.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/score/score_parameters.h>
#include <scorefp/score_source/grid_score.h>
#include <scorefp/score_source/score_source.h>

#include <gtest/gtest.h>
#include <hdf5.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace scorefp;

namespace
{
  // ------------------------------------------------------------ polynomial fields

  /// c x0^e0 x1^e1 x2^e2 t^et.
  struct Monomial
  {
    double c;
    int    e[4];
  };
  using Polynomial = std::vector<Monomial>; // one per component

  /// d^a/dx^a of y^e.
  double power_derivative(const double y, const int e, const int a)
  {
    if (a > e)
      return 0.0;
    double factor = 1;
    for (int k = 0; k < a; ++k)
      factor *= e - k;
    return factor * std::pow(y, e - a);
  }

  /// The derivative of p with orders[0..3] (x0, x1, x2, t) at (x, t).
  double derivative(const Polynomial &p, const double *x, const double t, const int orders[4])
  {
    double sum = 0;
    for (const Monomial &m : p)
      {
        double term = m.c;
        for (int j = 0; j < 3; ++j)
          term *= power_derivative(x[j], m.e[j], orders[j]);
        sum += term * power_derivative(t, m.e[3], orders[3]);
      }
    return sum;
  }

  class PolynomialScore : public ScoreModel
  {
  public:
    explicit PolynomialScore(std::vector<Polynomial> components)
        : components(std::move(components))
    {
    }
    unsigned int dimension() const override { return components.size(); }
    void evaluate(const double t, const double *x, const std::size_t n, double *s) const override
    {
      const unsigned int d = dimension();
      for (std::size_t i = 0; i < n; ++i)
        for (unsigned int c = 0; c < d; ++c)
          s[i * d + c] = value(c, x + i * d, t, {0, 0, 0, 0});
    }
    std::string description() const override { return "polynomial"; }

    double value(const unsigned int c, const double *x, const double t, const int (&o)[4]) const
    {
      double y[3] = {0, 0, 0};
      for (unsigned int j = 0; j < dimension(); ++j)
        y[j] = x[j];
      return derivative(components[c], y, t, o);
    }

  private:
    std::vector<Polynomial> components;
  };

  // ------------------------------------------------------------ helpers

  std::vector<double> equally_spaced(const double a, const double b, const unsigned int n)
  {
    std::vector<double> x(n);
    for (unsigned int i = 0; i < n; ++i)
      x[i] = a + (b - a) * i / (n - 1);
    return x;
  }

  ScoreGrid tabulated(const ScoreModel                       &score,
                      const std::vector<std::vector<double>> &axes,
                      const std::vector<double>              &times)
  {
    ScoreGrid grid;
    grid.axes  = axes;
    grid.times = times;
    tabulate_score(score, grid, MPI_COMM_SELF);
    return grid;
  }

  std::vector<double> random_points(const unsigned int d,
                                    const unsigned int n,
                                    const double       lower,
                                    const double       upper,
                                    const unsigned int seed = 7)
  {
    std::mt19937                           rng(seed);
    std::uniform_real_distribution<double> u(lower, upper);
    std::vector<double>                    x(n * d);
    for (double &xi : x)
      xi = u(rng);
    return x;
  }

  /// Reference derivatives of a score by central differences (fourth order).
  struct FiniteDifferences
  {
    const ScoreModel &score;
    double            h = 1e-3;

    std::vector<double> at(const double t, std::vector<double> x) const
    {
      std::vector<double> s(score.dimension());
      score.evaluate(t, x.data(), 1, s.data());
      return s;
    }
    /// d s / dx_k at x.
    std::vector<double>
    partial(const double t, const std::vector<double> &x, const unsigned int k) const
    {
      const double        c[4] = {1.0 / 12, -8.0 / 12, 8.0 / 12, -1.0 / 12}, o[4] = {-2, -1, 1, 2};
      std::vector<double> result(score.dimension(), 0.0);
      for (int m = 0; m < 4; ++m)
        {
          std::vector<double> y = x;
          y[k] += o[m] * h;
          const auto s = at(t, y);
          for (unsigned int i = 0; i < result.size(); ++i)
            result[i] += c[m] * s[i] / h;
        }
      return result;
    }
    double divergence(const double t, const std::vector<double> &x) const
    {
      double sum = 0;
      for (unsigned int k = 0; k < score.dimension(); ++k)
        sum += partial(t, x, k)[k];
      return sum;
    }
    double grad_divergence(const double t, const std::vector<double> &x, const unsigned int k) const
    {
      const double c[4] = {1.0 / 12, -8.0 / 12, 8.0 / 12, -1.0 / 12}, o[4] = {-2, -1, 1, 2};
      double       sum = 0;
      for (int m = 0; m < 4; ++m)
        {
          std::vector<double> y = x;
          y[k] += o[m] * h;
          sum += c[m] * divergence(t, y) / h;
        }
      return sum;
    }
    std::vector<double> time_derivative(const double t, const std::vector<double> &x) const
    {
      const double        c[4] = {1.0 / 12, -8.0 / 12, 8.0 / 12, -1.0 / 12}, o[4] = {-2, -1, 1, 2};
      const double        dt = 1e-4;
      std::vector<double> result(score.dimension(), 0.0);
      for (int m = 0; m < 4; ++m)
        {
          const auto s = at(t + o[m] * dt, x);
          for (unsigned int i = 0; i < result.size(); ++i)
            result[i] += c[m] * s[i] / dt;
        }
      return result;
    }
  };

  struct Errors
  {
    double value = 0, jacobian = 0, grad_divergence = 0, time_derivative = 0;
  };

  /// Max-norm errors of the interpolant against the exact score at the points x at t.
  Errors errors(const ScoreModel          &grid,
                const ScoreModel          &exact,
                const double               t,
                const std::vector<double> &x,
                const bool                 with_space_derivatives = true)
  {
    const unsigned int  d = exact.dimension();
    const std::size_t   n = x.size() / d;
    std::vector<double> s(n * d), J(n * d * d), g(n * d), st(n * d);
    grid.evaluate_derivatives(t, x.data(), n, s.data(), {J.data(), st.data(), g.data()});
    std::vector<double> reference(n * d);
    exact.evaluate(t, x.data(), n, reference.data());
    const FiniteDifferences fd{exact};
    Errors                  e;
    for (std::size_t i = 0; i < n; ++i)
      {
        const std::vector<double> xi(x.begin() + i * d, x.begin() + (i + 1) * d);
        const auto                ds_dt = fd.time_derivative(t, xi);
        for (unsigned int c = 0; c < d; ++c)
          {
            e.value           = std::max(e.value, std::abs(s[i * d + c] - reference[i * d + c]));
            e.time_derivative = std::max(e.time_derivative, std::abs(st[i * d + c] - ds_dt[c]));
          }
        if (!with_space_derivatives)
          continue;
        for (unsigned int k = 0; k < d; ++k)
          {
            const auto column = fd.partial(t, xi, k);
            for (unsigned int c = 0; c < d; ++c)
              e.jacobian = std::max(e.jacobian, std::abs(J[(i * d + c) * d + k] - column[c]));
            e.grad_divergence =
                std::max(e.grad_divergence, std::abs(g[i * d + k] - fd.grad_divergence(t, xi, k)));
          }
      }
    return e;
  }

  std::unique_ptr<ForwardProcess> vp()
  {
    return create_process(ProcessParameters());
  }

  std::unique_ptr<DataDistribution> two_components(const unsigned int d)
  {
    std::vector<double> means;
    for (unsigned int j = 0; j < d; ++j)
      means.push_back(-1.0 + 0.5 * j);
    for (unsigned int j = 0; j < d; ++j)
      means.push_back(1.0 - 0.5 * j);
    return create_data(DataParameters::gaussian_mixture({0.3, 0.7}, means, {0.2, 0.5}), d);
  }

  std::unique_ptr<DataDistribution> blob()
  {
    DataParameters p;
    p.type = "blob";
    return create_data(p, 2);
  }

  /// Observed orders log2(e_{k-1} / e_k) of the errors on grids h, h/2, h/4 at t.
  void expect_space_orders(const DataDistribution &data,
                           const double            half_width,
                           const unsigned int      coarse_points,
                           const double            inner,
                           const unsigned int      n_points)
  {
    const auto          process = vp();
    const auto          exact   = exact_score(*process, data);
    const unsigned int  d       = data.dimension();
    const double        t       = 0.2;
    const auto          x       = random_points(d, n_points, -inner, inner);
    std::vector<Errors> e;
    for (unsigned int level = 0; level < 3; ++level)
      {
        const unsigned int                     n = (coarse_points - 1) * (1u << level) + 1;
        const std::vector<std::vector<double>> axes(d, equally_spaced(-half_width, half_width, n));
        // One time: the interpolant is constant in time, exact at t.
        const auto grid = grid_score(tabulated(*exact, axes, {t}), "test");
        e.push_back(errors(*grid, *exact, t, x));
      }
    for (unsigned int k = 1; k < 3; ++k)
      {
        const double value = std::log2(e[k - 1].value / e[k].value);
        const double jac   = std::log2(e[k - 1].jacobian / e[k].jacobian);
        const double gdiv  = std::log2(e[k - 1].grad_divergence / e[k].grad_divergence);
        std::printf("  %uD h/%u: errors %.3g %.3g %.3g, orders value %.2f, Jacobian %.2f, "
                    "grad div %.2f\n",
                    d,
                    1u << k,
                    e[k].value,
                    e[k].jacobian,
                    e[k].grad_divergence,
                    value,
                    jac,
                    gdiv);
        EXPECT_GT(value, 3.5) << d << "D, level " << k;
        EXPECT_GT(jac, 2.5) << d << "D, level " << k;
        EXPECT_GT(gdiv, 1.5) << d << "D, level " << k;
      }
  }

  // ------------------------------------------------------------ files

  std::string scratch(const std::string &name)
  {
    const auto directory = std::filesystem::temp_directory_path() /
                           ("scorefp-unit-grid-" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory);
    return (directory / name).string();
  }

  ScoreGrid small_grid(const unsigned int d, const std::vector<double> &times)
  {
    const auto process = vp();
    const auto data    = two_components(d);
    const auto exact   = exact_score(*process, *data);
    ScoreGrid  grid =
        tabulated(*exact, std::vector<std::vector<double>>(d, equally_spaced(-4, 4, 9)), times);
    grid.process = ProcessParameters().entries();
    return grid;
  }

  /// f() throws an InputError whose message names `file` and contains `what`.
  void expect_input_error(const std::function<void()> &f,
                          const std::string           &file,
                          const std::string           &what)
  {
    try
      {
        f();
        ADD_FAILURE() << "no InputError for " << file << " (" << what << ")";
      }
    catch (const InputError &e)
      {
        const std::string message = e.what();
        EXPECT_NE(message.find("'" + file + "'"), std::string::npos) << message;
        EXPECT_NE(message.find(what), std::string::npos) << message;
      }
  }

  struct Case
  {
    ProcessParameters                 process_parameters;
    std::unique_ptr<ForwardProcess>   process = create_process(process_parameters);
    std::unique_ptr<DataDistribution> data    = two_components(2);
    ScoreParameters                   score;

    std::unique_ptr<ScoreModel>
    read(const std::string &file, const unsigned int dimension = 2, const double eps = 1e-3) const
    {
      return grid_score(
          file, ScoreSourceContext{*process, *data, dimension, score, eps, process_parameters});
    }
  };

  void write_string_attribute(const hid_t object, const char *name, const std::string &value)
  {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    const hid_t space     = H5Screate(H5S_SCALAR);
    const hid_t attribute = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char *text      = value.c_str();
    H5Awrite(attribute, type, &text);
    H5Aclose(attribute);
    H5Sclose(space);
    H5Tclose(type);
  }

  void write_dataset(const hid_t parent, const char *name, const std::vector<hsize_t> &shape)
  {
    hsize_t n = 1;
    for (const hsize_t k : shape)
      n *= k;
    std::vector<double> values(n);
    for (hsize_t i = 0; i < n; ++i)
      values[i] = double(i);
    const hid_t space = H5Screate_simple(shape.size(), shape.data(), nullptr);
    const hid_t set =
        H5Dcreate2(parent, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(set);
    H5Sclose(space);
  }
} // namespace

// A field in Q3 (cubic in each direction) times P3 in time is reproduced exactly on
// non-uniform axes and times, with its Jacobian, time derivative and grad div.
TEST(GridScore, ReproducesCubicFieldsExactly)
{
  const std::vector<double>     axis   = {-1.0, -0.6, -0.1, 0.3, 0.45, 1.0, 1.7};
  const std::vector<double>     times  = {0.1, 0.25, 0.3, 0.55, 0.9};
  const std::vector<Polynomial> fields = {
      {{1.0, {3, 1, 0, 0}},
       {-2.0, {0, 2, 3, 0}},
       {1.5, {1, 0, 0, 3}},
       {0.5, {0, 0, 2, 1}},
       {1.0, {0, 0, 0, 0}}},
      {{1.0, {2, 3, 1, 0}}, {1.0, {0, 1, 0, 2}}, {-1.0, {1, 0, 1, 0}}, {3.0, {0, 0, 0, 0}}},
      {{1.0, {0, 0, 3, 0}}, {-1.0, {2, 3, 0, 3}}, {1.0, {1, 1, 1, 1}}}};
  for (unsigned int d = 1; d <= 3; ++d)
    {
      const PolynomialScore field(std::vector<Polynomial>(fields.begin(), fields.begin() + d));
      const auto            grid =
          grid_score(tabulated(field, std::vector<std::vector<double>>(d, axis), times), "cubic");
      ASSERT_TRUE(grid->has_derivatives());
      ASSERT_EQ(grid->dimension(), d);
      const unsigned int        n = 50;
      const std::vector<double> x = random_points(d, n, -1.0, 1.7, 11);
      for (const double t : {0.1, 0.17, 0.3, 0.71, 0.9})
        {
          std::vector<double> s(n * d), J(n * d * d), st(n * d), g(n * d);
          grid->evaluate_derivatives(t, x.data(), n, s.data(), {J.data(), st.data(), g.data()});
          std::vector<double> plain(n * d);
          grid->evaluate(t, x.data(), n, plain.data());
          for (std::size_t i = 0; i < n; ++i)
            for (unsigned int c = 0; c < d; ++c)
              {
                const double *xi    = x.data() + i * d;
                const auto    check = [&](const double got, const int(&o)[4]) {
                  const double expected = field.value(c, xi, t, o);
                  EXPECT_NEAR(got, expected, 1e-12 * std::max(1.0, std::abs(expected)))
                      << d << "D, component " << c << ", orders " << o[0] << o[1] << o[2] << o[3];
                };
                EXPECT_EQ(plain[i * d + c], s[i * d + c]);
                check(s[i * d + c], {0, 0, 0, 0});
                check(st[i * d + c], {0, 0, 0, 1});
                for (unsigned int k = 0; k < d; ++k)
                  {
                    int o[4] = {0, 0, 0, 0};
                    o[k]     = 1;
                    check(J[(i * d + c) * d + k], o);
                  }
                // (grad div s)_c = sum_i d^2 s_i / (dx_i dx_c).
                double expected = 0;
                for (unsigned int i2 = 0; i2 < d; ++i2)
                  {
                    int o[4] = {0, 0, 0, 0};
                    o[i2] += 1;
                    o[c] += 1;
                    expected += field.value(i2, xi, t, o);
                  }
                EXPECT_NEAR(g[i * d + c], expected, 1e-11 * std::max(1.0, std::abs(expected)))
                    << d << "D grad div";
              }
        }
    }
}

// Fewer than four times: the polynomial through all of them (here a quadratic in t).
TEST(GridScore, FewTimesUseThePolynomialThroughAll)
{
  const Polynomial      field = {{1.0, {2, 0, 0, 2}}, {-0.5, {1, 0, 0, 1}}, {2.0, {0, 0, 0, 0}}};
  const PolynomialScore score({field});
  const auto grid = grid_score(tabulated(score, {equally_spaced(-1, 1, 5)}, {0.0, 0.4, 1.0}), "q");
  for (const double t : {0.0, 0.13, 0.5, 0.99})
    for (const double x : {-0.9, 0.05, 0.77})
      {
        double s = 0, st = 0, J = 0;
        grid->evaluate_derivatives(t, &x, 1, &s, {&J, &st, nullptr});
        EXPECT_NEAR(s, score.value(0, &x, t, {0, 0, 0, 0}), 1e-13);
        EXPECT_NEAR(st, score.value(0, &x, t, {0, 0, 0, 1}), 1e-12);
        EXPECT_NEAR(J, score.value(0, &x, t, {1, 0, 0, 0}), 1e-12);
      }
}

// Outside the box a point takes the value at the nearest point of the box, and the
// clamped directions have zero derivatives.
TEST(GridScore, ClampsToTheBox)
{
  const Polynomial      f0 = {{1.0, {3, 1, 0, 0}}, {1.0, {0, 2, 0, 1}}};
  const Polynomial      f1 = {{1.0, {1, 3, 0, 0}}, {-2.0, {1, 0, 0, 0}}};
  const PolynomialScore field({f0, f1});
  const auto            grid = grid_score(
      tabulated(field, {equally_spaced(-1, 1, 6), equally_spaced(0, 2, 7)}, {0.0, 0.5, 1.0, 1.5}),
      "clamp");
  const double outside[2] = {1.7, 0.8}, inside[2] = {1.0, 0.8};
  double       s_out[2], s_in[2], J_out[4], J_in[4];
  grid->evaluate_derivatives(0.3, outside, 1, s_out, {J_out, nullptr, nullptr});
  grid->evaluate_derivatives(0.3, inside, 1, s_in, {J_in, nullptr, nullptr});
  for (unsigned int c = 0; c < 2; ++c)
    {
      EXPECT_NEAR(s_out[c], s_in[c], 1e-13);
      EXPECT_EQ(J_out[c * 2 + 0], 0.0);
      EXPECT_NEAR(J_out[c * 2 + 1], J_in[c * 2 + 1], 1e-12);
    }
  // Later than the last time: the last time's field, zero time derivative.
  double st = 1, s_late[2], s_last[2];
  grid->evaluate_derivatives(2.0, inside, 1, s_late, {nullptr, &st, nullptr});
  grid->evaluate(1.5, inside, 1, s_last);
  EXPECT_NEAR(s_late[0], s_last[0], 1e-13);
  EXPECT_EQ(st, 0.0);
}

// The exact score of a 1D two-component mixture, the 2D blob and a 3D two-component
// mixture under VP on grids h, h/2, h/4.
TEST(GridScore, ConvergesInSpace1D)
{
  expect_space_orders(*two_components(1), 5.0, 41, 2.5, 200);
}

TEST(GridScore, ConvergesInSpace2DBlob)
{
  expect_space_orders(*blob(), 4.5, 37, 2.5, 100);
}

TEST(GridScore, ConvergesInSpace3D)
{
  expect_space_orders(*two_components(3), 4.0, 21, 1.5, 40);
}

// In time, at the grid's nodes (where the space interpolation is exact): values at
// dt^4 and the time derivative at dt^3 (the derivative of a cubic interpolant).
TEST(GridScore, ConvergesInTime)
{
  const auto                             process = vp();
  const auto                             data    = blob();
  const auto                             exact   = exact_score(*process, *data);
  const std::vector<std::vector<double>> axes(2, equally_spaced(-4.5, 4.5, 19));
  // Interior nodes |x_j| <= 2.5.
  std::vector<double> x;
  for (const double a : axes[0])
    for (const double b : axes[1])
      if (std::abs(a) <= 2.5 && std::abs(b) <= 2.5)
        {
          x.push_back(a);
          x.push_back(b);
        }
  // Many times, so that the maximum samples every position within an interval (the
  // error at one fixed time varies with its position between the grid's times).
  const std::vector<double> evaluation_times = random_points(1, 60, 0.3, 0.9, 5);
  std::vector<Errors>       e;
  for (unsigned int level = 0; level < 3; ++level)
    {
      const auto grid = grid_score(
          tabulated(*exact, axes, equally_spaced(0.1, 0.9, 32 * (1u << level) + 1)), "t");
      Errors worst;
      for (const double t : evaluation_times)
        {
          const Errors et       = errors(*grid, *exact, t, x, false);
          worst.value           = std::max(worst.value, et.value);
          worst.time_derivative = std::max(worst.time_derivative, et.time_derivative);
        }
      e.push_back(worst);
    }
  for (unsigned int k = 1; k < 3; ++k)
    {
      const double value = std::log2(e[k - 1].value / e[k].value);
      const double dt    = std::log2(e[k - 1].time_derivative / e[k].time_derivative);
      std::printf("  time dt/%u: errors %.3g %.3g, orders value %.2f, d/dt %.2f\n",
                  1u << k,
                  e[k].value,
                  e[k].time_derivative,
                  value,
                  dt);
      EXPECT_GT(value, 3.5);
      EXPECT_GT(dt, 2.5);
    }
}

// The file written by write_score_grid reads back as the same grid, and as the same
// interpolant.
TEST(GridScore, FileRoundTrip)
{
  const std::string file = scratch("round-trip.h5");
  ScoreGrid         grid = small_grid(2, {1e-3, 0.3, 0.6, 1.0});
  grid.description       = "test grid";
  write_score_grid(file, grid);
  EXPECT_FALSE(std::filesystem::exists(file + ".partial"));
  const ScoreGrid back = read_score_grid(file);
  EXPECT_EQ(back.axes, grid.axes);
  EXPECT_EQ(back.times, grid.times);
  EXPECT_EQ(back.values, grid.values);
  EXPECT_EQ(back.process, grid.process);
  EXPECT_EQ(back.description, "test grid");
  const Case c;
  const auto model = c.read(file);
  EXPECT_NE(model->description().find(file), std::string::npos);
  const double x[2] = {0.3, -0.7};
  double       a[2], b[2];
  model->evaluate(0.45, x, 1, a);
  grid_score(grid, "memory")->evaluate(0.45, x, 1, b);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(a[1], b[1]);
  EXPECT_TRUE(ScoreSourceRegistry::instance().contains("grid"));
  std::filesystem::remove_all(std::filesystem::path(file).parent_path());
}

TEST(GridScore, BadFilesAreInputErrors)
{
  const Case                c;
  const std::vector<double> times = {1e-3, 0.5, 1.0};
  // Missing, not HDF5.
  expect_input_error(
      [&] { c.read("/nonexistent/grid.h5"); }, "/nonexistent/grid.h5", "does not exist");
  const std::string text = scratch("not-hdf5.h5");
  std::ofstream(text) << "not HDF5\n";
  expect_input_error([&] { c.read(text); }, text, "not an HDF5 file");
  // Wrong dimension, times that do not cover [early stopping, T], another process.
  const std::string good = scratch("good.h5");
  write_score_grid(good, small_grid(2, times));
  EXPECT_NO_THROW(c.read(good));
  expect_input_error([&] { c.read(good, 3); }, good, "2-dimensional, but Dimension = 3");
  expect_input_error([&] { c.read(good, 2, 1e-4); }, good, "expected times covering");
  {
    Case other;
    other.process_parameters.final_time = 2.0;
    other.process                       = create_process(other.process_parameters);
    expect_input_error([&] { other.read(good); }, good, "expected times covering");
  }
  {
    const std::string file = scratch("other-process.h5");
    ScoreGrid         grid = small_grid(2, times);
    ProcessParameters p;
    p.set("beta max", 10.0);
    grid.process = p.entries();
    write_score_grid(file, grid);
    expect_input_error([&] { c.read(file); }, file, "beta max = 10");
    grid.process.clear(); // no /process group: accepted
    write_score_grid(file, grid);
    EXPECT_NO_THROW(c.read(file));
  }
  // Too few nodes, axes that do not increase, non-finite values.
  {
    const std::string file = scratch("few-nodes.h5");
    ScoreGrid         grid = small_grid(2, times);
    grid.axes[1]           = {-1, 0, 1};
    grid.values.resize(times.size() * 9 * 3 * 2);
    write_score_grid(file, grid);
    expect_input_error([&] { c.read(file); }, file, "axis x1 has 3 nodes");
  }
  {
    const std::string file = scratch("decreasing.h5");
    ScoreGrid         grid = small_grid(2, times);
    std::swap(grid.axes[0][3], grid.axes[0][4]);
    write_score_grid(file, grid);
    expect_input_error([&] { c.read(file); }, file, "not strictly increasing");
  }
  {
    const std::string file = scratch("nan.h5");
    ScoreGrid         grid = small_grid(2, times);
    grid.values[17]        = std::numeric_limits<double>::quiet_NaN();
    write_score_grid(file, grid);
    expect_input_error([&] { c.read(file); }, file, "non-finite");
  }
  // Written by hand: no format, another format, a /score of the wrong shape, no times.
  const auto by_hand = [&](const std::string          &name,
                           const std::string          &format,
                           const std::vector<hsize_t> &score_shape,
                           const bool                  with_times) {
    const std::string file = scratch(name);
    const hid_t       h5   = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (!format.empty())
      write_string_attribute(h5, "format", format);
    const hid_t axes = H5Gcreate2(h5, "axes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    write_dataset(axes, "x0", {4});
    write_dataset(axes, "x1", {5});
    H5Gclose(axes);
    if (with_times)
      write_dataset(h5, "times", {3});
    write_dataset(h5, "score", score_shape);
    H5Fclose(h5);
    return file;
  };
  std::string file = by_hand("no-format.h5", "", {3, 4, 5, 2}, true);
  expect_input_error([&] { c.read(file); }, file, "no 'format' attribute");
  file = by_hand("other-format.h5", "scorefp reference 2", {3, 4, 5, 2}, true);
  expect_input_error([&] { c.read(file); }, file, "expected 'scorefp score grid 1'");
  file = by_hand("wrong-shape.h5", score_grid_format, {3, 5, 4, 2}, true);
  expect_input_error(
      [&] { c.read(file); }, file, "dataset 'score' has shape (3, 5, 4, 2), expected (3, 4, 5, 2)");
  file = by_hand("no-times.h5", score_grid_format, {3, 4, 5, 2}, false);
  expect_input_error([&] { c.read(file); }, file, "dataset 'times' is missing");
  std::filesystem::remove_all(std::filesystem::path(good).parent_path());
}
