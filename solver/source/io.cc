#include <scorefp/input_error.h>
#include <scorefp/io.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>

namespace scorefp
{
  std::vector<std::vector<double>> read_points_csv(const std::string &file, const unsigned int dim)
  {
    std::ifstream in(file);
    if (!in)
      throw InputError("Output/Points file '" + file +
                       "' cannot be opened; expected a CSV "
                       "file with " +
                       std::to_string(dim) + " coordinates per line.");
    std::vector<std::vector<double>> points;
    std::string                      line;
    unsigned int                     line_number     = 0;
    bool                             first_data_line = true;
    while (std::getline(in, line))
      {
        ++line_number;
        const auto begin = line.find_first_not_of(" \t\r");
        if (begin == std::string::npos || line[begin] == '#')
          continue;
        std::vector<double> coordinates;
        std::stringstream   fields(line);
        std::string         field;
        unsigned int        n_fields = 0, n_words = 0;
        bool                all_finite = true;
        while (std::getline(fields, field, ','))
          {
            ++n_fields;
            std::size_t used  = 0;
            double      value = 0;
            try
              {
                value = std::stod(field, &used);
              }
            catch (...)
              {
                used = 0;
              }
            if (used == 0 || field.find_first_not_of(" \t\r", used) != std::string::npos)
              ++n_words;
            else if (!std::isfinite(value))
              all_finite = false;
            coordinates.push_back(value);
          }
        // A first line made only of words is a header.
        if (first_data_line && n_words == n_fields)
          {
            first_data_line = false;
            continue;
          }
        if (n_words > 0 || !all_finite)
          throw InputError("Output/Points file '" + file + "', line " +
                           std::to_string(line_number) + ": '" + line +
                           "' is not a list of finite numbers.");
        first_data_line = false;
        if (coordinates.size() != dim)
          throw InputError("Output/Points file '" + file + "', line " +
                           std::to_string(line_number) + " has " +
                           std::to_string(coordinates.size()) + " coordinates; expected " +
                           std::to_string(dim) + ".");
        points.push_back(coordinates);
      }
    if (points.empty())
      throw InputError("Output/Points file '" + file + "' contains no points.");
    return points;
  }

  JsonWriter::JsonWriter(std::ostream &out)
      : out(out)
  {
    out << std::setprecision(std::numeric_limits<double>::max_digits10);
  }

  void JsonWriter::key_prefix(const std::string &key)
  {
    if (!first_in_scope.empty())
      {
        if (!first_in_scope.back())
          out << ",";
        first_in_scope.back() = false;
        out << "\n" << std::string(2 * first_in_scope.size(), ' ');
      }
    if (!key.empty())
      out << "\"" << key << "\": ";
  }

  JsonWriter &JsonWriter::begin_object(const std::string &key)
  {
    key_prefix(key);
    out << "{";
    first_in_scope.push_back(true);
    return *this;
  }

  JsonWriter &JsonWriter::end_object()
  {
    first_in_scope.pop_back();
    out << "\n" << std::string(2 * first_in_scope.size(), ' ') << "}";
    if (first_in_scope.empty())
      out << "\n";
    return *this;
  }

  JsonWriter &JsonWriter::begin_array(const std::string &key)
  {
    key_prefix(key);
    out << "[";
    first_in_scope.push_back(true);
    return *this;
  }

  JsonWriter &JsonWriter::end_array()
  {
    first_in_scope.pop_back();
    out << "\n" << std::string(2 * first_in_scope.size(), ' ') << "]";
    return *this;
  }

  JsonWriter &JsonWriter::value(const std::string &key, const double x)
  {
    key_prefix(key);
    if (std::isfinite(x))
      out << x;
    else
      out << "null";
    return *this;
  }

  JsonWriter &JsonWriter::value(const std::string &key, const unsigned long long x)
  {
    key_prefix(key);
    out << x;
    return *this;
  }

  JsonWriter &JsonWriter::value(const std::string &key, const std::string &x)
  {
    key_prefix(key);
    out << "\"";
    for (const char c : x)
      if (c == '"' || c == '\\')
        out << '\\' << c;
      else
        out << c;
    out << "\"";
    return *this;
  }

  JsonWriter &JsonWriter::value(const std::string &key, const bool x)
  {
    key_prefix(key);
    out << (x ? "true" : "false");
    return *this;
  }

  JsonWriter &JsonWriter::value(const std::string &key, const std::vector<double> &x)
  {
    key_prefix(key);
    out << "[";
    for (unsigned int i = 0; i < x.size(); ++i)
      {
        out << (i ? ", " : "");
        if (std::isfinite(x[i]))
          out << x[i];
        else
          out << "null";
      }
    out << "]";
    return *this;
  }

  JsonWriter &JsonWriter::errors(const std::string &key, const ErrorNorms &e)
  {
    begin_object(key);
    value("L1", e.l1);
    value("L2", e.l2);
    value("Linf", e.linf);
    return end_object();
  }

  JsonWriter &JsonWriter::errors(const std::string &key, const ScoreErrors &e)
  {
    begin_object(key);
    value("relative_L2", e.l2);
    value("relative_L2_bulk", e.l2_bulk);
    value("relative_L2_tail", e.l2_tail);
    value("fisher_divergence", e.fisher);
    return end_object();
  }

  JsonWriter &JsonWriter::residuals(const std::string &key, const ResidualNorms &r)
  {
    begin_object(key);
    value("score_form", r.score_form);
    value("log_form", r.log_form);
    return end_object();
  }

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

  void ErrorNorms::take_maximum(const ErrorNorms &other)
  {
    l1   = std::max(l1, other.l1);
    l2   = std::max(l2, other.l2);
    linf = std::max(linf, other.linf);
  }

  void ScoreErrors::take_maximum(const ScoreErrors &other)
  {
    // NaN (an empty tail region) must not hide a number.
    const auto larger = [](const double a, const double b) {
      return std::isnan(a) || b > a ? b : a;
    };
    l2      = larger(l2, other.l2);
    l2_bulk = larger(l2_bulk, other.l2_bulk);
    l2_tail = larger(l2_tail, other.l2_tail);
    fisher  = larger(fisher, other.fisher);
  }

  namespace
  {
    void write_record_json(JsonWriter &json, const RunRecord &r)
    {
      json.value("dimension", r.dimension)
          .value("n_ranks", r.n_ranks)
          .value("backend", r.backend)
          .value("process", r.process)
          .value("data", r.data)
          .value("scaled_coordinates", r.scaled_coordinates)
          .value("polynomial_degree", r.degree)
          .value("refinement_level", r.refinement_level)
          .value("n_cells", r.n_cells)
          .value("n_dofs", r.n_dofs)
          .value("time_method", r.time_method)
          .value("start_time", r.start_time)
          .value("final_time", r.final_time)
          .value("n_steps", r.n_steps)
          .value("n_rejected_steps", r.n_rejected_steps)
          .value("linear_iterations", r.linear_iterations)
          .value("wall_seconds", r.wall_seconds);
    }
  } // namespace

  void write_run_json(JsonWriter &json, const DensityRunResult &r)
  {
    write_record_json(json, r);
    json.value("preconditioner_builds", r.n_preconditioner_builds)
        .value("initial_mass", r.initial_mass)
        .value("mass", r.final_mass);
    json.begin_object("errors");
    json.errors("final", r.final_errors);
    json.errors("max_over_output_times", r.max_errors);
    json.end_object();
    json.begin_array("outputs");
    for (unsigned int i = 0; i < r.output_times.size(); ++i)
      {
        json.begin_object();
        json.value("time", r.output_times[i]);
        json.value("mass", r.output_masses[i]);
        json.errors("errors", r.output_errors[i]);
        json.end_object();
      }
    json.end_array();
  }

  void write_run_json(JsonWriter &json, const ScoreRunResult &r)
  {
    write_record_json(json, r);
    json.value("boundary_condition", r.boundary_condition)
        .value("newton_iterations", r.newton_iterations)
        .value("jacobians", r.n_jacobians);
    json.begin_object("errors");
    json.errors("final", r.final_errors);
    json.errors("max_over_output_times", r.max_errors);
    json.end_object();
    if (r.equation == "log-density")
      {
        json.value("normalisation", r.normalisation);
        json.begin_object("density_errors");
        json.errors("final", r.final_density_errors);
        json.errors("max_over_output_times", r.max_density_errors);
        json.end_object();
      }
    json.begin_array("outputs");
    for (unsigned int i = 0; i < r.output_times.size(); ++i)
      {
        json.begin_object();
        json.value("time", r.output_times[i]);
        json.errors("errors", r.output_errors[i]);
        if (i < r.quotient_errors.size())
          json.errors("density_quotient_errors", r.quotient_errors[i]);
        for (const auto &residual : r.residuals)
          if (residual.time == r.output_times[i])
            {
              json.begin_object("residuals");
              json.residuals("computed", residual.computed);
              json.residuals("exact", residual.exact);
              json.residuals("perturbed", residual.perturbed);
              json.residuals("density_quotient", residual.density_quotient);
              json.end_object();
            }
        json.end_object();
      }
    json.end_array();
  }

  std::string tail_shells_csv(const ScoreRunResult &r)
  {
    std::ostringstream out;
    out << std::setprecision(10)
        << "time,shell,radius_min,radius_max,exact_density_max,rms_score_error,"
           "rms_quotient_error,rms_difference,quotient_undefined_points\n";
    for (unsigned int i = 0; i < r.tail_shells.size(); ++i)
      for (unsigned int k = 0; k < r.tail_shells[i].size(); ++k)
        {
          const TailShell &s = r.tail_shells[i][k];
          out << r.output_times[i] << "," << k << "," << s.radius_min << "," << s.radius_max << ","
              << s.exact_density_max << "," << s.rms_score_error << "," << s.rms_quotient_error
              << "," << s.rms_difference << "," << s.n_quotient_undefined << "\n";
        }
    return out.str();
  }
} // namespace scorefp
