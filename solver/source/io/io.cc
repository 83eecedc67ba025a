#include <scorefp/core/input_error.h>
#include <scorefp/io/io.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>

namespace scorefp
{
  void write_file_atomically(const std::string &path, const std::string &text)
  {
    const std::string temporary = path + ".tmp";
    {
      std::ofstream out(temporary);
      out << text;
      if (!out)
        throw InputError("Cannot write '" + temporary + "'; check Output/Directory.");
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0)
      throw InputError("Cannot rename '" + temporary + "' to '" + path + "'.");
  }

} // namespace scorefp
