// Files written atomically (tables are read and written by io/sample_files.h, JSON by
// io/json.h).
#pragma once

#include <string>

namespace scorefp
{
  /// Write text to path atomically (temporary file, then rename), so a reader never
  /// sees a half-written file.
  void write_file_atomically(const std::string &path, const std::string &text);

} // namespace scorefp
