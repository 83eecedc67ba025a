// Entries of section Initial data that more than one data set reads. The binder
// declares an entry once (the first declaration stands), so both readers bind it with
// the same default and the one documentation written here.
#pragma once

#include <scorefp/core/parameter_binder.h>

#include <scorefp/core/input_error.h>

#include <cmath>
#include <string>

namespace scorefp
{
  namespace data_entries
  {
    /// Means: read by the Gaussian mixture (d coordinates per component) and the
    /// diagonal Gaussian (one mean for all coordinates or d means), default "0".
    inline void bind_means(ParameterBinder &b, std::string &text)
    {
      b.add("Means",
            text,
            "gaussian mixture: d coordinates per component; components separated by ';' (e.g. "
            "'-1, 0; 1, 0').");
    }

    /// Number of points and Seed: read by the empirical sets that draw their points.
    inline void bind_points(ParameterBinder &b, unsigned int &n_points, unsigned int &seed)
    {
      b.add("Number of points",
            n_points,
            "empirical (with Points from), moons, swissroll, pinwheel, 2spirals: how many points "
            "to draw (>= 1).");
      b.add("Seed",
            seed,
            "empirical (with Points from), moons, swissroll, pinwheel, 2spirals: seed of the "
            "draws (the same points on any number of ranks).");
    }

    /// Bandwidth: read by every empirical set.
    inline void bind_bandwidth(ParameterBinder &b, std::string &text)
    {
      b.add("Bandwidth",
            text,
            "empirical sets: bandwidth h of the Gaussian kernel that smooths the points (the "
            "kernel density estimate, i.e. the empirical law at the time where v = h^2): none (no "
            "smoothing), a number h > 0, 'scott' (h = sigma N^(-1/(d+4))) or 'silverman' (h = "
            "sigma (4/((d+2) N))^(1/(d+4))), sigma^2 the mean coordinate variance. The run "
            "reports the h it used.");
    }
  } // namespace data_entries

  /// The number a Bandwidth entry gives: 0 for 'none', else a finite number > 0
  /// (InputError otherwise).
  inline double parse_bandwidth(const std::string &text)
  {
    if (text == "none")
      return 0.0;
    double      h = -1.0;
    std::size_t used = 0;
    try
      {
        h = std::stod(text, &used);
      }
    catch (...)
      {
        used = 0;
      }
    if (used == 0 || text.find_first_not_of(" \t", used) != std::string::npos || !std::isfinite(h) ||
        h <= 0.0)
      throw InputError("Initial data/Bandwidth must be 'none', a finite number > 0, 'scott' or "
                       "'silverman' (got '" + text + "').");
    return h;
  }

  /// Check a Bandwidth entry without data (the rules need the points).
  inline void parse_bandwidth_text(const std::string &text)
  {
    if (text != "scott" && text != "silverman")
      parse_bandwidth(text);
  }
} // namespace scorefp
