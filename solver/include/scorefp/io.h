// Files in and out: the points CSV a user gives, and the JSON summary a run leaves.
#pragma once

#include <scorefp/diagnostics.h>

#include <ostream>
#include <string>
#include <vector>

namespace scorefp
{
  /// Read a CSV file with `dim` coordinates per line. Lines starting with '#' and a
  /// first line that is not numeric (a header) are skipped. Throws InputError naming
  /// the file and line for anything else.
  std::vector<std::vector<double>> read_points_csv(const std::string &file, const unsigned int dim);

  /**
   * A minimal JSON writer. Written by hand because the JSON writer deal.II ships
   * (boost::property_tree) writes every number as a string, which Python's json
   * module would then hand to users as str.
   */
  class JsonWriter
  {
  public:
    explicit JsonWriter(std::ostream &out);
    JsonWriter &begin_object(const std::string &key = "");
    JsonWriter &end_object();
    JsonWriter &begin_array(const std::string &key = "");
    JsonWriter &end_array();
    JsonWriter &value(const std::string &key, const double x);
    JsonWriter &value(const std::string &key, const unsigned long long x);
    JsonWriter &value(const std::string &key, const unsigned int x)
    {
      return value(key, static_cast<unsigned long long>(x));
    }
    JsonWriter &value(const std::string &key, const std::string &x);
    JsonWriter &value(const std::string &key, const bool x);
    JsonWriter &value(const std::string &key, const std::vector<double> &x);
    JsonWriter &errors(const std::string &key, const ErrorNorms &e);
    JsonWriter &errors(const std::string &key, const ScoreErrors &e);
    JsonWriter &residuals(const std::string &key, const ResidualNorms &r);

  private:
    void              key_prefix(const std::string &key);
    std::ostream     &out;
    std::vector<bool> first_in_scope;
  };

  /// Write text to path atomically (temporary file, then rename), so a reader never
  /// sees a half-written file.
  void write_file_atomically(const std::string &path, const std::string &text);

  /// The JSON object describing one run (without the enclosing braces' siblings).
  void write_run_json(JsonWriter &json, const DensityRunResult &r);
  void write_run_json(JsonWriter &json, const ScoreRunResult &r);

  /// tail_shells.csv of a companion run: one row per output time and shell of |x|.
  std::string tail_shells_csv(const ScoreRunResult &r);
} // namespace scorefp
