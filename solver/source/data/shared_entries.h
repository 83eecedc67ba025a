// Entries of section Initial data that more than one data set reads. The binder
// declares an entry once (the first declaration stands), so both readers bind it with
// the same default and the one documentation written here.
#pragma once

#include <scorefp/core/parameter_binder.h>

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
  } // namespace data_entries
} // namespace scorefp
