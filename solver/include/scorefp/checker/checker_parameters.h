// Task = check: samples against a reference law (section Checker, MATH.md section 7).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace scorefp
{
  class ParameterBinder;
  class Statistic;

  struct CheckerParameters
  {
    enum class Reference
    {
      closed_form,
      file
    };

    /// Where a statistic's p-value comes from (Checker/Null method).
    enum class NullMethod
    {
      /// The asymptotic law where the statistic has one (chi^2, MMD^2, KS), otherwise
      /// the Monte Carlo null values read from (or computed once into) the null cache.
      automatic,
      /// Every statistic against Null draws sample sets drawn now: the method of record.
      monte_carlo
    };

    /// A member of StatisticRegistry as Checker/Statistics selected it, with the
    /// entries it owns parsed (null before parsing: the member's defaults).
    struct SelectedStatistic
    {
      std::string                      name;
      std::shared_ptr<const Statistic> statistic;
    };

    std::string        samples_file;
    /// > 0: check this many exact draws of p_t (m X_0 + sqrt(v) Z of Process and Initial
    /// data) instead of a samples file: the verification of a reference where p_t has
    /// no closed form.
    unsigned long long exact_draws = 0;
    double             time      = -1.0; // < 0: the time recorded next to the samples
    Reference          reference = Reference::closed_form;
    std::string        reference_file;
    double             level        = 0.05;
    unsigned int       null_draws   = 99;
    unsigned long long seed         = 1;
    unsigned int       cloud_points = 0; // Gauss points per cell direction, 0: degree + 2
    NullMethod         null_method  = NullMethod::automatic;
    /// The directory of the cached null values; empty: <Reference file>.null-cache for
    /// Reference = file, <Output/Directory>/null-cache for the closed form.
    std::string null_cache;
    /// In the order of the report; those that do not apply in the dimension are skipped.
    std::vector<SelectedStatistic> statistics = {{"W1", nullptr},
                                                 {"W2", nullptr},
                                                 {"KS", nullptr},
                                                 {"sliced W2", nullptr},
                                                 {"MMD^2", nullptr},
                                                 {"chi^2 over cells", nullptr}};

    void bind(ParameterBinder &binder);

    /// The checks Task = check needs (a samples file, a reference file for Reference =
    /// file, 0 < Level < 1); InputError naming the entry otherwise.
    void check() const;
  };
} // namespace scorefp
