// Reference files (postprocess/REFERENCE_FORMAT.md): written by density and score runs,
// reloaded by every rank on its own, and checked against the distributed solution
// (point values), against the same file written on one rank, against closed forms,
// and for sampling, time interpolation and bad input.
#include <scorefp/data/data_distribution.h>
#include <scorefp/core/input_error.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/reference/reference_field.h>
#include <scorefp/tasks/run.h>

#include "common/test_cases.h"

#include <deal.II/base/mpi.h>
#include <deal.II/base/parameter_handler.h>

#include <gtest/gtest.h>

#include <iostream>

#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

using namespace scorefp;

namespace
{
  const MPI_Comm world = MPI_COMM_WORLD;

  unsigned int rank()
  {
    return dealii::Utilities::MPI::this_mpi_process(world);
  }

  /// Names unique per test executable invocation (np1 and np2 may run side by side).
  std::string temporary(const std::string &name)
  {
    return ::testing::TempDir() + "scorefp-reference-np" +
           std::to_string(dealii::Utilities::MPI::n_mpi_processes(world)) + "-" + name;
  }

  constexpr unsigned int level = 2;

  struct DensityCase
  {
    Parameters                       p;
    DensityRunResult                 result; // on MPI_COMM_WORLD
    std::string                      world_file, serial_file;
    std::vector<std::vector<double>> points; // the points file's points
  };

  /// The 2D mixture under VP, Q3 on 16 x 16 cells, solved once on every rank with a
  /// reference file and a points file, and once on rank 0 alone.
  const DensityCase &density_case()
  {
    static std::unique_ptr<DensityCase> c;
    if (c)
      return *c;
    c                                  = std::make_unique<DensityCase>();
    Parameters p                       = mixture_case(2, "VP", 3, 4);
    p.mesh.refinement_levels           = {level};
    p.time_stepping.tolerance          = 1e-6;
    p.linear_solver.relative_tolerance = 1e-13;
    p.output.directory                 = temporary("density-world");
    p.output.reference_grid_points     = {33, 33};
    c->world_file                      = temporary("density-world.h5");
    c->serial_file                     = temporary("density-serial.h5");
    p.output.reference_file            = c->world_file;
    // Points file: one copy per rank.
    p.output.points_file = temporary("points-" + std::to_string(rank()) + ".csv");
    {
      std::ofstream out(p.output.points_file);
      for (const double x : {-2.0, -0.7, 0.0, 0.3, 1.1, 2.5, 4.999})
        {
          c->points.push_back({x, 0.5 * x - 0.2});
          out << x << "," << 0.5 * x - 0.2 << "\n";
        }
    }
    c->result = solve_density_case(p, level, p.output.directory, true, world);

    MPI_Comm serial;
    MPI_Comm_split(world, rank() == 0 ? 0 : MPI_UNDEFINED, 0, &serial);
    if (rank() == 0)
      {
        Parameters q            = p;
        q.output.directory      = temporary("density-serial");
        q.output.reference_file = c->serial_file;
        solve_density_case(q, level, q.output.directory, true, serial);
        MPI_Comm_free(&serial);
      }
    MPI_Barrier(world);
    c->p = p;
    return *c;
  }

  /// The exact law of the case at time t.
  std::unique_ptr<DensityField> exact_law(const Parameters &p, const double t)
  {
    const auto process = create_process(p.process);
    const auto data    = create_data(p.data, p.dimension);
    return data->transported(process->transition_mean_factor(t), process->transition_variance(t));
  }

  double max_abs(const std::vector<double> &v)
  {
    double m = 0;
    for (const double x : v)
      m = std::max(m, std::abs(x));
    return m;
  }
} // namespace

TEST(DensityReference, ReloadedOnEachRankMatchesTheDistributedPointValues)
{
  const DensityCase &c   = density_case();
  const auto         ref = ReferenceField::read(c.world_file);
  EXPECT_EQ(ref->dimension(), 2u);
  EXPECT_EQ(ref->degree(), 3u);
  EXPECT_EQ(ref->equation(), "density");
  EXPECT_EQ(ref->process_name(), "VP");
  EXPECT_FALSE(ref->has_score());
  EXPECT_EQ(ref->n_cells(), 256u);
  ASSERT_EQ(ref->n_snapshots(), c.result.point_values.size());
  std::vector<double> points;
  for (const auto &x : c.points)
    points.insert(points.end(), x.begin(), x.end());
  for (unsigned int i = 0; i < ref->n_snapshots(); ++i)
    {
      EXPECT_DOUBLE_EQ(ref->time(i), c.result.output_times[i]);
      std::vector<double> density(c.points.size());
      std::vector<char>   inside;
      ref->evaluate(i,
                    points.data(),
                    c.points.size(),
                    density.data(),
                    nullptr,
                    ScoreSource::log_density_gradient,
                    &inside);
      for (unsigned int k = 0; k < c.points.size(); ++k)
        {
          EXPECT_TRUE(inside[k]);
          EXPECT_NEAR(density[k], c.result.point_values[i][k], 1e-10)
              << "snapshot " << i << ", point " << k;
        }
    }
}

TEST(DensityReference, FileDoesNotDependOnTheNumberOfRanks)
{
  const DensityCase &c = density_case();
  const auto         a = ReferenceField::read(c.world_file);
  const auto         b = ReferenceField::read(c.serial_file);
  ASSERT_EQ(a->n_cells(), b->n_cells());
  ASSERT_EQ(a->n_snapshots(), b->n_snapshots());
  for (unsigned int i = 0; i < a->n_snapshots(); ++i)
    {
      const QuadratureCloud x = a->cloud(i, 3), y = b->cloud(i, 3);
      // Same cells in the same order with the same vertices: identical points.
      EXPECT_EQ(x.points, y.points) << "snapshot " << i;
      EXPECT_EQ(x.cells, y.cells);
      const double scale = max_abs(x.weights);
      for (unsigned int q = 0; q < x.size(); ++q)
        ASSERT_NEAR(x.weights[q], y.weights[q], 1e-8 * scale) << "snapshot " << i << " point " << q;
      EXPECT_NEAR(a->mass(i), b->mass(i), 1e-8);
      for (unsigned int j = 0; j < 4; ++j)
        EXPECT_NEAR(a->covariance(i)[j], b->covariance(i)[j], 1e-8);
    }
}

TEST(DensityReference, CloudAndGridAgreeWithTheClosedForm)
{
  const DensityCase  &c   = density_case();
  const auto          ref = ReferenceField::read(c.world_file);
  const CaseMeshCloud mesh(c.p.mesh, 2, level);
  ASSERT_EQ(mesh.n_cells(), ref->n_cells());
  for (unsigned int i = 0; i < ref->n_snapshots(); ++i)
    {
      const QuadratureCloud cloud = ref->cloud(i, 4);
      double                sum   = 0;
      for (const double w : cloud.weights)
        sum += w;
      EXPECT_NEAR(sum, ref->mass(i), 1e-12);
      EXPECT_NEAR(ref->mass(i), 1.0, 1e-6);
      // The case mesh numbers its cells as the file does: point by point comparison.
      const auto            exact  = exact_law(c.p, ref->time(i));
      const QuadratureCloud closed = mesh.closed_form_cloud(ref->scale(i), *exact, 4);
      ASSERT_EQ(closed.size(), cloud.size());
      double l1 = 0, norm = 0;
      for (unsigned int q = 0; q < cloud.size(); ++q)
        {
          ASSERT_EQ(closed.cells[q], cloud.cells[q]);
          for (unsigned int d = 0; d < 2; ++d)
            ASSERT_NEAR(closed.points[2 * q + d], cloud.points[2 * q + d], 1e-12);
          l1 += std::abs(cloud.weights[q] - closed.weights[q]);
          norm += std::abs(closed.weights[q]);
        }
      EXPECT_LE(l1 / norm, 3 * c.result.output_errors[i].l1 + 1e-8) << "snapshot " << i;

      // The density on a grid through the domain against the closed form.
      std::vector<double> points, exact_values;
      for (int a = 0; a <= 40; ++a)
        for (int b = 0; b <= 40; ++b)
          {
            const double x[2] = {-5.0 + 0.25 * a, -5.0 + 0.25 * b};
            points.insert(points.end(), x, x + 2);
            exact_values.push_back(exact->value(x));
          }
      std::vector<double> density(exact_values.size());
      ref->evaluate(i,
                    points.data(),
                    density.size(),
                    density.data(),
                    nullptr,
                    ScoreSource::log_density_gradient);
      double error = 0;
      for (unsigned int k = 0; k < density.size(); ++k)
        error = std::max(error, std::abs(density[k] - exact_values[k]));
      EXPECT_LE(error / max_abs(exact_values), 5 * c.result.output_errors[i].linf + 1e-6)
          << "snapshot " << i;
    }
  // Outside the mesh: density 0, the Gaussian score, inside = 0, locate -1.
  const double      outside[2] = {7.0, 0.0};
  double            density    = 1, score[2];
  std::vector<char> inside;
  ref->evaluate(1, outside, 1, &density, score, ScoreSource::log_density_gradient, &inside);
  EXPECT_EQ(density, 0.0);
  EXPECT_FALSE(inside[0]);
  EXPECT_LT(score[0], 0.0);
  EXPECT_EQ(ref->locate(1, outside, 1)[0], -1);
  EXPECT_EQ(mesh.locate(1.0, outside, 1)[0], -1);
}

TEST(DensityReference, SamplesMatchTheCloudMomentsAndDoNotDependOnTheSplit)
{
  const DensityCase  &c   = density_case();
  const auto          ref = ReferenceField::read(c.world_file);
  const std::size_t   n   = 100000;
  const unsigned int  i   = 0; // the data mixture itself: the least Gaussian snapshot
  std::vector<double> all(2 * n), halves(2 * n);
  ref->sample(i, n, 42, 0, all.data());
  ref->sample(i, n / 2, 42, 0, halves.data());
  ref->sample(i, n / 2, 42, n / 2, halves.data() + n);
  EXPECT_EQ(all, halves);
  EXPECT_EQ(ref->n_bound_violations(), 0u);
  double mean[2] = {0, 0}, cov[4] = {0, 0, 0, 0};
  for (std::size_t k = 0; k < n; ++k)
    for (unsigned int d = 0; d < 2; ++d)
      mean[d] += all[2 * k + d] / n;
  for (std::size_t k = 0; k < n; ++k)
    for (unsigned int a = 0; a < 2; ++a)
      for (unsigned int b = 0; b < 2; ++b)
        cov[2 * a + b] += (all[2 * k + a] - mean[a]) * (all[2 * k + b] - mean[b]) / (n - 1);
  const auto m = ref->mean(i), C = ref->covariance(i);
  for (unsigned int a = 0; a < 2; ++a)
    {
      EXPECT_NEAR(mean[a], m[a], 5 * std::sqrt(C[3 * a] / n));
      for (unsigned int b = 0; b < 2; ++b)
        EXPECT_NEAR(cov[2 * a + b],
                    C[2 * a + b],
                    5 * std::sqrt((C[3 * a] * C[3 * b] + C[2 * a + b] * C[2 * a + b]) / n));
    }
  // Every sample lies in the mesh.
  const auto cells = ref->locate(i, all.data(), n);
  EXPECT_EQ(std::count(cells.begin(), cells.end(), -1), 0);
}

TEST(DensityReference, EvaluateAtTimeInterpolatesLinearly)
{
  const DensityCase  &c         = density_case();
  const auto          ref       = ReferenceField::read(c.world_file);
  const double        points[6] = {0.1, 0.2, -1.0, 0.5, 2.0, -2.0};
  std::vector<double> d1(3), d2(3), dm(3), s1(6), s2(6), sm(6);
  ref->evaluate(1, points, 3, d1.data(), s1.data(), ScoreSource::log_density_gradient);
  ref->evaluate(2, points, 3, d2.data(), s2.data(), ScoreSource::log_density_gradient);
  ref->evaluate_at_time(0.5 * (ref->time(1) + ref->time(2)),
                        points,
                        3,
                        dm.data(),
                        sm.data(),
                        ScoreSource::log_density_gradient);
  for (unsigned int k = 0; k < 3; ++k)
    EXPECT_NEAR(dm[k], 0.5 * (d1[k] + d2[k]), 1e-14);
  for (unsigned int k = 0; k < 6; ++k)
    EXPECT_NEAR(sm[k], 0.5 * (s1[k] + s2[k]), 1e-12);
  ref->evaluate_at_time(
      ref->time(1), points, 3, dm.data(), nullptr, ScoreSource::log_density_gradient);
  EXPECT_EQ(dm, d1);
  EXPECT_THROW(
      ref->evaluate_at_time(2.0, points, 3, dm.data(), nullptr, ScoreSource::log_density_gradient),
      InputError);
  // A density run has no finite-element score.
  EXPECT_THROW(ref->evaluate(1, points, 3, nullptr, s1.data(), ScoreSource::finite_element),
               InputError);
}

TEST(ReferenceFiles, BadFilesAreInputErrorsNamingTheFile)
{
  const auto expect_error = [](const std::string &file, const std::string &phrase) {
    try
      {
        ReferenceField::read(file);
        ADD_FAILURE() << file << " was accepted";
      }
    catch (const InputError &e)
      {
        const std::string message = e.what();
        EXPECT_NE(message.find(file), std::string::npos) << message;
        EXPECT_NE(message.find(phrase), std::string::npos) << message;
      }
  };
  const std::string prefix = temporary("bad-" + std::to_string(rank()));
  expect_error(prefix + "-missing.h5", "does not exist");
  {
    std::ofstream(prefix + "-text.h5") << "not HDF5\n";
  }
  expect_error(prefix + "-text.h5", "not an HDF5 file");
  {
    const hid_t file =
        H5Fcreate((prefix + "-empty.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(file);
  }
  expect_error(prefix + "-empty.h5", "no 'format' attribute");
}

TEST(ReferenceFiles, UnknownFormatVersionIsAnInputErrorNamingTheVersions)
{
  const std::string file = temporary("bad-version-" + std::to_string(rank()) + ".h5");
  {
    const hid_t h5    = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t type  = H5Tcopy(H5T_C_S1);
    const hid_t space = H5Screate(H5S_SCALAR);
    H5Tset_size(type, H5T_VARIABLE);
    const hid_t attribute = H5Acreate2(h5, "format", type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char *text      = "scorefp reference 9";
    H5Awrite(attribute, type, &text);
    H5Aclose(attribute);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(h5);
  }
  try
    {
      ReferenceField::read(file);
      ADD_FAILURE() << file << " was accepted";
    }
  catch (const InputError &e)
    {
      const std::string message = e.what();
      EXPECT_NE(message.find(file), std::string::npos) << message;
      EXPECT_NE(message.find("scorefp reference 9"), std::string::npos) << message;
      EXPECT_NE(message.find("scorefp reference 1"), std::string::npos) << message;
      EXPECT_NE(message.find(reference_format), std::string::npos) << message;
    }
}

/// tests/reference/data/vp-2d-v1.h5 was written by scorefp before format version 2
/// (see tests/reference/data/README.md for the command): params/reference-vp-2d.prm
/// with these overrides. The same case run now writes a version-2 file; both must give
/// the same process, data set and point values.
TEST(ReferenceFormat, VersionOneFileEqualsTheVersionTwoFileOfTheSameCase)
{
  const std::string version_1 = SCOREFP_SOURCE_DIR "/tests/reference/data/vp-2d-v1.h5";
  const auto        old_file  = ReferenceField::read(version_1);
  EXPECT_EQ(old_file->metadata().format_version, 1u);
  EXPECT_EQ(old_file->process_name(), "VP");
  EXPECT_EQ(old_file->process_parameters().value("beta max"), "20");
  EXPECT_EQ(old_file->data_parameters().type, "blob");
  EXPECT_EQ(old_file->data_description(), "Gaussian mixture with 9 components");

  dealii::ParameterHandler prm;
  declare_parameters(prm);
  // On this rank alone, as the stored file was written: a run on several ranks agrees
  // with it only to the linear solver's tolerance.
  const std::string directory = temporary("v2-of-v1-case-" + std::to_string(rank()));
  Parameters               p =
      read_parameters(prm,
                      SCOREFP_SOURCE_DIR "/params/reference-vp-2d.prm",
                      {"Mesh/Refinement levels=1",
                       "Discretization/Polynomial degree=2",
                       "Output/Output times=0.01, 0.1, 0.5, 1",
                       "Output/Reference grid points=9",
                       "Output/Directory=" + directory,
                       "Time stepping/Tolerance=1e-4",
                       "Output/Quiet=true"});
  solve_density_case(p, 1, directory, true, MPI_COMM_SELF);
  const auto new_file = ReferenceField::read(directory + "/reference.h5");
  EXPECT_EQ(new_file->metadata().format_version, 2u);
  // The generic /process and /data groups give back the parsed parameters.
  EXPECT_EQ(new_file->process_parameters().entries(), p.process.entries());
  EXPECT_TRUE(new_file->data_parameters() == p.data);
  EXPECT_EQ(new_file->process_parameters().entries(), old_file->process_parameters().entries());
  EXPECT_TRUE(new_file->data_parameters() == old_file->data_parameters());
  EXPECT_EQ(new_file->data_description(), old_file->data_description());

  ASSERT_EQ(new_file->n_cells(), old_file->n_cells());
  ASSERT_EQ(new_file->n_snapshots(), old_file->n_snapshots());
  std::vector<double> points; // a 41 x 41 grid reaching outside the mesh [-5, 5]^2
  for (int i = 0; i <= 40; ++i)
    for (int j = 0; j <= 40; ++j)
      {
        points.push_back(-6 + 0.3 * i);
        points.push_back(-6 + 0.3 * j + 0.01);
      }
  const std::size_t n = points.size() / 2;
  for (unsigned int i = 0; i < new_file->n_snapshots(); ++i)
    {
      EXPECT_EQ(new_file->time(i), old_file->time(i));
      EXPECT_NEAR(new_file->mass(i), old_file->mass(i), 1e-12);
      std::vector<double> density_new(n), density_old(n), score_new(2 * n), score_old(2 * n);
      new_file->evaluate(i,
                         points.data(),
                         n,
                         density_new.data(),
                         score_new.data(),
                         ScoreSource::log_density_gradient);
      old_file->evaluate(i,
                         points.data(),
                         n,
                         density_old.data(),
                         score_old.data(),
                         ScoreSource::log_density_gradient);
      const double density_scale = max_abs(density_old), score_scale = max_abs(score_old);
      for (std::size_t k = 0; k < n; ++k)
        ASSERT_NEAR(density_new[k], density_old[k], 1e-12 * density_scale)
            << "snapshot " << i << " point " << k;
      for (std::size_t k = 0; k < 2 * n; ++k)
        ASSERT_NEAR(score_new[k], score_old[k], 1e-12 * score_scale)
            << "snapshot " << i << " value " << k;
    }
}

TEST(ScoreReference, ScoreRunWritesTheFiniteElementScore)
{
  Parameters p                   = mixture_case(2, "VP", 3, 4);
  p.equation                     = Equation::score;
  p.mesh.refinement_levels       = {level};
  p.time_stepping.tolerance      = 1e-4;
  p.output.n_output_intervals    = 2;
  p.output.directory             = temporary("score");
  p.output.reference_file        = "score.h5"; // relative to the output directory
  p.output.reference_grid_points = {17};
  const ScoreRunResult r         = solve_score_case(p, level, p.output.directory, true, world);
  EXPECT_EQ(r.quotient_errors.size(), 3u) << "the companion density did not run";
  const auto ref = ReferenceField::read(p.output.directory + "/score.h5");
  ASSERT_TRUE(ref->has_score());
  EXPECT_EQ(ref->equation(), "score");
  ASSERT_EQ(ref->n_snapshots(), 3u);
  for (unsigned int i = 0; i < ref->n_snapshots(); ++i)
    {
      const QuadratureCloud cloud = ref->cloud(i, 4);
      std::vector<double>   score(2 * cloud.size()), quotient(2 * cloud.size());
      ref->evaluate(
          i, cloud.points.data(), cloud.size(), nullptr, score.data(), ScoreSource::finite_element);
      ref->evaluate(i,
                    cloud.points.data(),
                    cloud.size(),
                    nullptr,
                    quotient.data(),
                    ScoreSource::log_density_gradient);
      const auto exact = exact_law(p, ref->time(i));
      double     error = 0, quotient_error = 0, norm = 0;
      for (unsigned int q = 0; q < cloud.size(); ++q)
        {
          double s[2];
          exact->score(&cloud.points[2 * q], s);
          const double w = std::max(cloud.weights[q], 0.0);
          for (unsigned int d = 0; d < 2; ++d)
            {
              error += w * std::pow(score[2 * q + d] - s[d], 2);
              quotient_error += w * std::pow(quotient[2 * q + d] - s[d], 2);
              norm += w * s[d] * s[d];
            }
        }
      // Probability-weighted relative errors (the bulk). The finite-element score is
      // the more accurate of the two (the quotient differentiates p_h).
      if (rank() == 0)
        std::cout << "snapshot " << i << ": weighted relative score errors: finite element "
                  << std::sqrt(error / norm) << ", grad p_h / p_h "
                  << std::sqrt(quotient_error / norm) << std::endl;
      EXPECT_LE(std::sqrt(error / norm), 5e-3) << "snapshot " << i;
      EXPECT_LE(std::sqrt(error / norm), std::sqrt(quotient_error / norm)) << "snapshot " << i;
      EXPECT_LE(std::sqrt(quotient_error / norm), 5e-2) << "snapshot " << i;
    }
}

TEST(DensityReference, EvaluatesAndLocatesAMillionPointsQuickly)
{
  const DensityCase  &c   = density_case();
  const auto          ref = ReferenceField::read(c.world_file);
  const std::size_t   n   = 1000000;
  std::vector<double> points(2 * n), density(n), score(2 * n);
  ref->sample(2, n, 7, 0, points.data());
  const auto start = std::chrono::steady_clock::now();
  ref->evaluate(
      2, points.data(), n, density.data(), score.data(), ScoreSource::log_density_gradient);
  const auto   middle   = std::chrono::steady_clock::now();
  const auto   cells    = ref->locate(2, points.data(), n);
  const auto   end      = std::chrono::steady_clock::now();
  const double evaluate = std::chrono::duration<double>(middle - start).count();
  const double locate   = std::chrono::duration<double>(end - middle).count();
  if (rank() == 0)
    std::cout << "10^6 points, Q3: evaluate (density and grad p_h / p_h) " << evaluate
              << " s, locate " << locate << " s" << std::endl;
  EXPECT_EQ(std::count(cells.begin(), cells.end(), -1), 0);
  EXPECT_LT(evaluate, 20.0);
  EXPECT_LT(locate, 20.0);
}

// Curved geometry: the general search (deal.II GridTools::Cache on the rebuilt flat
// mesh) and the Q1 cell maps, on a closed-form cloud of a ball mesh.
TEST(CaseMesh, BallMeshCloudAndLocate)
{
  Parameters p       = mixture_case(2, "VP", 2, 1);
  p.mesh.geometry    = MeshParameters::Geometry::ball;
  p.mesh.ball_radius = 5.0;
  const CaseMeshCloud   mesh(p.mesh, 2, 2);
  const auto            law   = exact_law(p, 0.5);
  const QuadratureCloud cloud = mesh.closed_form_cloud(1.0, *law, 3);
  EXPECT_EQ(cloud.n_cells, mesh.n_cells());
  EXPECT_NEAR(cloud.mass_outside, 0.0, 1e-4);
  const auto cells = mesh.locate(1.0, cloud.points.data(), cloud.size());
  for (unsigned int q = 0; q < cloud.size(); ++q)
    ASSERT_EQ(cells[q], static_cast<int>(cloud.cells[q])) << "point " << q;
  const double far[2] = {0.0, 5.5};
  EXPECT_EQ(mesh.locate(1.0, far, 1)[0], -1);
}
