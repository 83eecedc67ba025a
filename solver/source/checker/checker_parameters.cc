#include <scorefp/checker/checker_parameters.h>
#include <scorefp/checker/statistic.h>
#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>

#include <deal.II/base/patterns.h>

#include <set>

namespace scorefp
{
  namespace Patterns = dealii::Patterns;

  void CheckerParameters::bind(ParameterBinder &b)
  {
    b.add("Samples file",
          samples_file,
          "N x d samples: .npy (float64 or float32) or text (.csv, .txt).");
    b.add("Exact draws",
          exact_draws,
          "0: check Samples file. N > 0: check N exact draws of p_t instead, X_t = m X_0 + "
          "sqrt(v) Z with X_0 drawn from Initial data (seed Seed + 1, the same on any number "
          "of ranks): how a reference file (Reference = file) is verified where p_t has no "
          "closed form (circles2). Needs Time >= 0.");
    b.add("Time",
          time,
          "The time t the samples represent; negative: read it from the JSON file written "
          "next to them by Task = sample.");
    b.add_selection("Reference",
                    reference,
                    {{"closed form", Reference::closed_form}, {"file", Reference::file}},
                    "closed form: the exact p_t of Process and Initial data, on the mesh of "
                    "section Mesh (finest level); file: the snapshot at time t of the "
                    "reference file below.");
    b.add("Reference file", reference_file, "Reference = file: the HDF5 reference.");
    b.add("Level", level, "Significance level alpha of each test.", Patterns::Double(0, 1));
    b.add("Null draws",
          null_draws,
          "Sample sets of the same size drawn from the reference to calibrate every "
          "statistic; the p-value is (1 + #{null >= observed})/(draws + 1).",
          Patterns::Integer(1));
    b.add("Seed", seed, "Seed of the null draws and slices.");
    b.add_selection("Null method",
                    null_method,
                    {{"auto", NullMethod::automatic}, {"monte carlo", NullMethod::monte_carlo}},
                    "auto: each statistic's p-value from its asymptotic null law where it has "
                    "one (chi^2 over cells, MMD^2, KS), otherwise from Monte Carlo null values "
                    "computed once per reference, N, Seed, Null draws and statistic, kept in "
                    "Null cache and equal bit for bit to those of monte carlo; monte carlo: "
                    "every statistic against Null draws sample sets drawn now (the method of "
                    "record).");
    b.add("Null cache",
          null_cache,
          "Null method = auto: the directory of the cached null values (one file per "
          "statistic and key, with its provenance); empty: '<Reference file>.null-cache' "
          "for Reference = file, '<Output/Directory>/null-cache' for the closed form.");
    b.add("Cloud points",
          cloud_points,
          "Gauss points per cell direction of the quadrature cloud; 0: degree + 2.");

    // The statistics: their names and manual text come from the registry, and each
    // member declares (and, when selected, parses) its own entries of this section.
    const StatisticRegistry &registry = StatisticRegistry::instance();
    std::vector<std::string> names;
    for (const auto &s : statistics)
      names.push_back(s.name);
    b.add_choice_list("Statistics",
                      names,
                      registry.names(),
                      "The statistics of the check, computed and reported in this order; "
                      "those that do not apply in the dimension are skipped, and the verdict "
                      "tests each of the K remaining ones at level alpha / K (Bonferroni). " +
                          registry.documentation());
    if (b.declaring())
      {
        registry.bind_all(b);
        return;
      }
    b.require(!names.empty(), b.path("Statistics") + " is empty; expected at least one of " +
                                  registry.joined(", ") + ".");
    std::set<std::string> seen;
    statistics.clear();
    for (const auto &name : names)
      {
        b.require(seen.insert(name).second,
                  b.path("Statistics") + " names '" + name + "' twice; expected each once.");
        statistics.push_back(
            {name, std::shared_ptr<const Statistic>(registry.get(name).create(b))});
      }
  }

  void CheckerParameters::check() const
  {
    if (samples_file.empty() && exact_draws == 0)
      throw InputError("Checker/Samples file is empty; expected an .npy or .csv file (or "
                       "Checker/Exact draws > 0).");
    if (exact_draws > 0 && time < 0)
      throw InputError("Checker/Exact draws needs Checker/Time >= 0: the time of p_t.");
    if (reference == Reference::file && reference_file.empty())
      throw InputError("Checker/Reference = file needs Checker/Reference file; it is empty.");
    if (level <= 0.0 || level >= 1.0)
      throw InputError("Checker/Level must lie strictly between 0 and 1.");
  }
} // namespace scorefp
