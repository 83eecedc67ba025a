#include <scorefp/core/parameter_binder.h>
#include <scorefp/data/data_distribution.h>
#include <scorefp/data/data_set.h>

#include <deal.II/base/parameter_handler.h>
#include <deal.II/base/patterns.h>

namespace scorefp
{
  namespace Patterns = dealii::Patterns;

  void DataSet::check(const unsigned int) const {}

  std::string DataSet::undefined_score() const { return ""; }

  namespace
  {
    const std::string section = "Initial data";

    // Run body with a parsing binder inside section Initial data of a handler that
    // holds only `entries`.
    template <typename Body>
    void parse_section(const std::vector<std::pair<std::string, std::string>> &entries,
                       const Body                                             &body)
    {
      parse_section_entries(section, entries, [&](ParameterBinder &b) {
        if (b.declaring())
          DataParameters().bind(b);
        else
          body(b);
      });
    }

    std::string joined_numbers(const double *begin, const double *end)
    {
      std::string text;
      for (const double *x = begin; x != end; ++x)
        text += (text.empty() ? "" : ", ") + format_number(*x);
      return text;
    }

    // K components of n numbers each, components separated by "; ".
    std::string components_text(const std::vector<double> &numbers, const std::size_t n)
    {
      std::string text;
      for (std::size_t k = 0; k * n < numbers.size(); ++k)
        text += (k == 0 ? "" : "; ") +
                joined_numbers(numbers.data() + k * n, numbers.data() + (k + 1) * n);
      return text;
    }
  } // namespace

  std::unique_ptr<DataSet> create_data_set(const DataParameters &p)
  {
    const auto              &member = DataRegistry::instance().get(p.type, section + "/Type");
    std::unique_ptr<DataSet> set;
    parse_section(p.settings, [&](ParameterBinder &b) {
      set = DataRegistry::instance().create(member.name, b, nullptr);
    });
    return set;
  }

  void DataParameters::bind(ParameterBinder &b)
  {
    const auto &registry = DataRegistry::instance();
    b.add_choice("Type",
                 type,
                 registry.names(),
                 "Data distribution p0 (MATH.md section 6). " + registry.documentation());
    if (b.declaring())
      registry.bind_all(b);
    else
      {
        // Only the selected data set's entries are read; they are kept as text.
        const auto &member = registry.get(type, b.path("Type"));
        b.start_record();
        member.bind(b);
        settings = b.stop_record();
      }
    b.add("Smoothing variance",
          smoothing_variance,
          "Convolve the data set with N(0, s I) before placing it at the start time (units of "
          "data^2). Score and log-density runs of the checkerboard need s > 0: its score is "
          "undefined off the squares.",
          Patterns::Double(0));
  }

  void DataParameters::resolve(const unsigned int dimension) const
  {
    create_data_set(*this)->check(dimension);
  }

  std::vector<std::pair<std::string, std::string>> DataParameters::entries() const
  {
    std::vector<std::pair<std::string, std::string>> result = {
        {"Type", type}, {"Smoothing variance", format_number(smoothing_variance)}};
    result.insert(result.end(), settings.begin(), settings.end());
    return result;
  }

  DataParameters
  DataParameters::from_entries(const std::vector<std::pair<std::string, std::string>> &entries,
                               const unsigned int                                      dimension)
  {
    DataParameters p;
    parse_section(entries, [&](ParameterBinder &b) { p.bind(b); });
    p.resolve(dimension);
    return p;
  }

  DataParameters DataParameters::gaussian_mixture(const std::vector<double> &weights,
                                                  const std::vector<double> &means,
                                                  const std::vector<double> &covariances)
  {
    const std::size_t K = weights.size();
    const std::size_t d = K == 0 ? 0 : means.size() / K;
    if (K == 0 || d == 0 || means.size() != K * d ||
        (covariances.size() != K && covariances.size() != K * d * d))
      throw InputError("A Gaussian mixture of " + std::to_string(K) + " weights needs d means and 1 "
                       "or d*d covariance numbers per component; got " +
                       std::to_string(means.size()) + " means and " +
                       std::to_string(covariances.size()) + " covariance numbers.");
    DataParameters p;
    p.type     = "gaussian mixture";
    p.settings = {{"Weights", joined_numbers(weights.data(), weights.data() + K)},
                  {"Means", components_text(means, d)},
                  {"Covariances", components_text(covariances, covariances.size() / K)}};
    return p;
  }

  std::string DataParameters::undefined_score() const
  {
    if (smoothing_variance > 0)
      return "";
    return create_data_set(*this)->undefined_score();
  }

  bool DataParameters::operator==(const DataParameters &other) const
  {
    return type == other.type && smoothing_variance == other.smoothing_variance &&
           settings == other.settings;
  }
} // namespace scorefp
