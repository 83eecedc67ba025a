// Initial data/Type = gaussian mixture: p0 = sum_k w_k N(mu_k, Sigma_k) from the entries
// Weights, Means and Covariances, given per component.
#include <scorefp/data/data_set.h>

#include "shared_entries.h"

#include <sstream>

namespace scorefp
{
  namespace
  {
    // Mixture entries: components separated by ';', numbers by ',' or spaces.
    std::vector<std::vector<double>> components(const std::string &text, const std::string &entry)
    {
      std::vector<std::vector<double>> result;
      std::stringstream                in(text);
      std::string                      piece;
      while (std::getline(in, piece, ';'))
        result.push_back(parse_number_list(piece, entry));
      return result;
    }

    struct GaussianMixtureParameters
    {
      std::vector<double>              weights{1.0};
      std::vector<std::vector<double>> means{{0.0}}, covariances{{1.0}};

      void bind(ParameterBinder &b)
      {
        std::string weights_text = "1", means_text = "0", covariances_text = "1";
        b.add("Weights",
              weights_text,
              "gaussian mixture: one positive weight per component, comma separated "
              "(normalised to sum 1).");
        data_entries::bind_means(b, means_text);
        b.add("Covariances",
              covariances_text,
              "gaussian mixture: per component either one variance (s I) or a row-major "
              "symmetric positive definite d x d matrix; components separated by ';'.");
        if (!b.parsing())
          return;
        weights     = parse_number_list(weights_text, b.path("Weights"));
        means       = components(means_text, b.path("Means"));
        covariances = components(covariances_text, b.path("Covariances"));
      }
    };

    class GaussianMixtureSet : public DataSet
    {
    public:
      explicit GaussianMixtureSet(const GaussianMixtureParameters &p)
          : p(p)
      {
      }

      void check(const unsigned int dimension) const override
      {
        std::vector<double> means, covariances;
        flatten(dimension, means, covariances);
      }

      std::unique_ptr<DataDistribution> create(const unsigned int dimension) const override
      {
        std::vector<double> means, covariances;
        flatten(dimension, means, covariances);
        return std::make_unique<GaussianMixture>(dimension, p.weights, means, covariances);
      }

    private:
      // The components for `dim` as K d means and K d^2 covariances, with the shapes
      // checked. Without any Means component nothing is flattened, and the mixture
      // reports the empty entry.
      void flatten(const unsigned int   dim,
                   std::vector<double> &means,
                   std::vector<double> &covariances) const
      {
        if (p.means.empty())
          return;
        const std::size_t n = p.weights.size();
        if (p.means.size() != n || p.covariances.size() != n)
          throw InputError("Initial data: Weights has " + std::to_string(n) +
                           " components, Means " + std::to_string(p.means.size()) +
                           " and Covariances " + std::to_string(p.covariances.size()) +
                           "; expected the same number (components separated by ';').");
        for (std::size_t k = 0; k < n; ++k)
          {
            const auto &mean       = p.means[k];
            const auto &covariance = p.covariances[k];
            if (mean.size() != dim)
              throw InputError("Initial data/Means: component " + std::to_string(k) + " has " +
                               std::to_string(mean.size()) + " coordinates; expected " +
                               std::to_string(dim) + ".");
            means.insert(means.end(), mean.begin(), mean.end());
            if (covariance.size() == 1)
              for (unsigned int i = 0; i < dim; ++i)
                for (unsigned int j = 0; j < dim; ++j)
                  covariances.push_back(i == j ? covariance[0] : 0.0);
            else if (covariance.size() == dim * dim)
              covariances.insert(covariances.end(), covariance.begin(), covariance.end());
            else
              throw InputError("Initial data/Covariances: component " + std::to_string(k) +
                               " has " + std::to_string(covariance.size()) +
                               " numbers; expected 1 (a variance) or " +
                               std::to_string(dim * dim) + " (a row-major matrix).");
          }
      }

      GaussianMixtureParameters p;
    };
  } // namespace

  SCOREFP_REGISTER(DataRegistry,
                   "gaussian mixture",
                   "sum_k w_k N(mu_k, Sigma_k) in dimension 1 to 8, from Weights, Means and "
                   "Covariances.",
                   GaussianMixtureParameters,
                   [](const GaussianMixtureParameters &p) {
                     return std::make_unique<GaussianMixtureSet>(p);
                   })
} // namespace scorefp
