// Initial data/Type = 8gaussians: the 2D mixture of eight Gaussians on a circle (FFJORD).
#include <scorefp/data/data_set.h>

#include <cmath>

namespace scorefp
{
  namespace
  {
    constexpr double pi = 3.14159265358979323846;

    class EightGaussians : public DataSet
    {
    public:
      std::unique_ptr<DataDistribution> create(const unsigned int dimension) const override
      {
        if (dimension != 2)
          throw InputError("Initial data/Type '8gaussians' is a 2D data set; set Dimension = 2 "
                           "or use 'gaussian mixture'.");
        // Means (4/sqrt2)(cos k pi/4, sin k pi/4), covariance (0.5/sqrt2)^2 I.
        std::vector<double> weights, means, covariances;
        for (unsigned int k = 0; k < 8; ++k)
          {
            weights.push_back(1.0);
            means.push_back(4.0 / std::sqrt(2.0) * std::cos(k * pi / 4));
            means.push_back(4.0 / std::sqrt(2.0) * std::sin(k * pi / 4));
            covariances.push_back(0.125);
          }
        return std::make_unique<GaussianMixture>(2, weights, means, covariances);
      }
    };
  } // namespace

  SCOREFP_REGISTER(DataRegistry,
                   "8gaussians",
                   "the 2D mixture of 8 Gaussians of FFJORD, means (4/sqrt 2)(cos k pi/4, sin k "
                   "pi/4), covariance 0.125 I.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<EightGaussians>(); })
} // namespace scorefp
