// Cases the finite-element tests share.
#pragma once

#include <scorefp/tasks/parameters.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace scorefp
{
  /// The two-component Gaussian mixture of mixture_case() in dimension dim, widths 0.3
  /// and 0.5 (the first correlated for dim > 1), covariances times covariance_scale.
  inline DataParameters mixture_data(const unsigned int dim, const double covariance_scale = 1)
  {
    std::vector<double>       means, covariances;
    const std::vector<double> first{-1.0, 0.5, 0.0}, second{1.0, 0.0, -0.5};
    for (const auto &mean : {first, second})
      for (unsigned int j = 0; j < dim; ++j)
        means.push_back(mean[j]);
    for (const double variance : {0.3, 0.5})
      for (unsigned int i = 0; i < dim; ++i)
        for (unsigned int j = 0; j < dim; ++j)
          covariances.push_back(i == j ? variance : (dim > 1 && variance == 0.3 ? 0.05 : 0.0));
    if (covariance_scale != 1)
      for (double &c : covariances)
        c *= covariance_scale;
    return DataParameters::gaussian_mixture({0.4, 0.6}, means, covariances);
  }

  /// Two- or three-component Gaussian mixture in dimension dim, widths 0.3 to 0.5,
  /// on [-5, 5]^dim with Q_degree elements.
  inline Parameters mixture_case(const unsigned int dim,
                                 const std::string &process,
                                 const unsigned int degree,
                                 const unsigned int coarse_subdivisions)
  {
    Parameters p;
    p.dimension          = dim;
    p.process.type       = process;
    p.process.final_time = process == "EDM" ? 80.0 : 1.0;
    p.data               = mixture_data(dim);
    p.mesh.lower_corner         = std::vector<double>(dim, -5.0);
    p.mesh.upper_corner         = std::vector<double>(dim, 5.0);
    p.mesh.coarse_subdivisions  = coarse_subdivisions;
    p.discretization.degree     = degree;
    p.output.n_output_intervals = 4;
    p.output.write_vtu          = false;
    p.output.quiet              = true;
    p.output.directory          = ::testing::TempDir() + "scorefp-test";
    return p;
  }

} // namespace scorefp
