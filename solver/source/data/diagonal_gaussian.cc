// Initial data/Type = diagonal gaussian: N(Means, diag(Variances)) in any dimension, the
// variances given in the file or read from a NumPy file when the data set is created.
#include <scorefp/data/data_set.h>
#include <scorefp/io/sample_files.h>

#include "shared_entries.h"

namespace scorefp
{
  namespace
  {
    struct DiagonalGaussianParameters
    {
      std::vector<double> variances{1.0};
      /// A NumPy .npy file of the d variances, read by create() (not while parsing);
      /// replaces `variances` when not empty.
      std::string         variances_file;
      std::vector<double> means{0.0};

      void bind(ParameterBinder &b)
      {
        std::string variances_text = "1", means_text = "0";
        b.add("Variances",
              variances_text,
              "diagonal gaussian: one variance per coordinate (>= 0), comma separated; ignored "
              "when Variances file is set.");
        b.add("Variances file",
              variances_file,
              "diagonal gaussian: a NumPy .npy file of d variances, e.g. "
              "../shared/data/cifar10-covariance-eigenvalues.npy (relative paths are relative "
              "to the working directory).");
        data_entries::bind_means(b, means_text);
        if (!b.parsing())
          return;
        variances.clear();
        if (variances_file.empty())
          variances = parse_number_list(variances_text, b.path("Variances"));
        means = parse_number_list(means_text, b.path("Means"));
      }
    };

    class DiagonalGaussianSet : public DataSet
    {
    public:
      explicit DiagonalGaussianSet(const DiagonalGaussianParameters &p)
          : p(p)
      {
      }

      std::unique_ptr<DataDistribution> create(const unsigned int dimension) const override
      {
        auto data = std::make_unique<DiagonalGaussian>(
            p.means.empty() ? std::vector<double>{0.0} : p.means,
            p.variances_file.empty()
                ? p.variances
                : read_npy_vector(p.variances_file, "Initial data/Variances file"));
        if (data->dimension() != dimension)
          throw InputError("Initial data: the diagonal Gaussian has " +
                           std::to_string(data->dimension()) + " variances, but Dimension = " +
                           std::to_string(dimension) + "; expected them to agree.");
        return data;
      }

    private:
      DiagonalGaussianParameters p;
    };
  } // namespace

  SCOREFP_REGISTER(DataRegistry,
                   "diagonal gaussian",
                   "N(Means, diag(Variances)) in any dimension (samplers and scheme tables only).",
                   DiagonalGaussianParameters,
                   [](const DiagonalGaussianParameters &p) {
                     return std::make_unique<DiagonalGaussianSet>(p);
                   })
} // namespace scorefp
