// Initial data/Type = blob: the 2D mixture of nine Gaussians of Deveney et al.
#include <scorefp/data/data_set.h>

namespace scorefp
{
  namespace
  {
    class Blob : public DataSet
    {
    public:
      std::unique_ptr<DataDistribution> create(const unsigned int dimension) const override
      {
        if (dimension != 2)
          throw InputError("Initial data/Type 'blob' is a 2D data set; set Dimension = 2 or "
                           "use 'gaussian mixture'.");
        // Means 0.65 {(+-2,+-2),(0,0),(+-4,0),(0,+-4)}, covariance 0.0845 I.
        const double points[9][2] = {
            {-2, -2}, {-2, 2}, {2, -2}, {2, 2}, {0, 0}, {-4, 0}, {4, 0}, {0, -4}, {0, 4}};
        std::vector<double> weights, means, covariances;
        for (const auto &q : points)
          {
            weights.push_back(1.0);
            means.push_back(0.65 * q[0]);
            means.push_back(0.65 * q[1]);
            covariances.push_back(0.0845);
          }
        return std::make_unique<GaussianMixture>(2, weights, means, covariances);
      }
    };
  } // namespace

  SCOREFP_REGISTER(DataRegistry,
                   "blob",
                   "the 2D mixture of 9 Gaussians of Deveney et al., means 0.65 {(+-2,+-2), "
                   "(0,0), (+-4,0), (0,+-4)}, covariance 0.0845 I.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<Blob>(); })
} // namespace scorefp
