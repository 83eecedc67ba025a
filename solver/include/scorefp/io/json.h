// JSON files a run writes (summary.json, check.json, samples.npy.json, ...) and reads
// (the metadata next to a samples file): nlohmann::json from Debian
// (nlohmann-json3-dev), with key order kept as written. Numbers keep every digit
// (shortest round-trip form) and non-finite numbers become null.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace scorefp
{
  using Json = nlohmann::ordered_json;

  /// Write `json` (indented, newline-terminated) to path atomically.
  void write_json_atomically(const std::string &path, const Json &json);

  /// Parse the JSON file at path; InputError naming `what` and the file when it cannot
  /// be opened or is malformed.
  Json read_json(const std::string &path, const std::string &what);
} // namespace scorefp
