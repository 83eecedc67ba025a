#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/tasks/task.h>

#include <deal.II/base/parameter_handler.h>
#include <deal.II/base/patterns.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace scorefp
{
  using dealii::ParameterHandler;
  namespace Patterns = dealii::Patterns;

  namespace
  {
    std::string one_line(const std::string &text)
    {
      std::string out;
      bool        space = false;
      for (const char c : text)
        if (std::isspace(static_cast<unsigned char>(c)))
          space = !out.empty();
        else
          {
            if (space)
              out += ' ';
            out += c;
            space = false;
          }
      return out;
    }

    // deal.II's exception text carries a source location and a stack trace; the user
    // needs only the sentence that says what was wrong.
    std::string message_of(const dealii::ExceptionBase &e)
    {
      std::ostringstream s;
      e.print_info(s);
      return one_line(s.str());
    }
  } // namespace

  bool Parameters::use_scaled_coordinates() const
  {
    using Scaled = DiscretizationParameters::ScaledCoordinates;
    if (discretization.scaled_coordinates == Scaled::automatic)
      return create_process(process)->variance_explodes();
    return discretization.scaled_coordinates == Scaled::on;
  }

  void Parameters::bind(ParameterBinder &b)
  {
    const TaskRegistry &tasks = TaskRegistry::instance();
    b.add_choice("Task", task, tasks.names(), tasks.documentation());
    b.add_selection("Equation",
                    equation,
                    {{"density", Equation::density},
                     {"score", Equation::score},
                     {"log-density", Equation::log_density}},
                    "What to solve (MATH.md section 2): the density FPE for p; the score FPE for "
                    "s = grad log p (vector elements, elliptic curl-free form); or the "
                    "log-density equation for u = log p (scalar, p = e^u > 0 and s = grad u).");
    b.add("Dimension",
          dimension,
          "Space dimension d of the process: 1, 2 or 3 for solves, checks and samplers; up to "
          "8 for samplers of closed-form data; any for the diagonal Gaussian.",
          Patterns::Integer(1));
    b.subsection("Process", [&]() { process.bind(b); });
    b.subsection("Initial data", [&]() { data.bind(b); });
    b.subsection("Mesh", [&]() { mesh.bind(b); });
    b.subsection("Discretization", [&]() { discretization.bind(b); });
    b.subsection("Time stepping", [&]() { time_stepping.bind(b); });
    b.subsection("Linear solver", [&]() { linear_solver.bind(b); });
    b.subsection("Score", [&]() { score.bind(b); });
    b.subsection("Output", [&]() { output.bind(b); });
    b.subsection("Sampler", [&]() { sampler.bind(b); });
    b.subsection("Scheme table", [&]() { scheme_table.bind(b); });
    b.subsection("Evaluation", [&]() { evaluation.bind(b); });
    b.subsection("Tabulation", [&]() { tabulation.bind(b); });
    b.subsection("Score check", [&]() { score_check.bind(b); });
    b.subsection("Likelihood", [&]() { likelihood.bind(b); });
    b.subsection("Reverse law", [&]() { reverse_law.bind(b); });
    b.subsection("Checker", [&]() { checker.bind(b); });
    if (!b.parsing())
      return;

    data.resolve(dimension);
    mesh.resolve(dimension);
    output.resolve(dimension);
    for (const double t : output.output_times)
      if (t < process.start_time || t > process.final_time)
        throw InputError("Output/Output times: " + format_number(t) +
                         " lies outside [Start time, Final time].");
    // A score run's reference file takes its density from the companion density solve.
    if (!output.reference_file.empty() && equation == Equation::score)
      score.companion_density = true;
    {
      std::ostringstream text;
      b.handler().print_parameters(text, ParameterHandler::ShortPRM);
      output.parameter_text = text.str();
    }
    tasks.get(task, "Task").create_default()->check(*this);
  }

  void declare_parameters(ParameterHandler &prm, const std::set<std::string> &sections)
  {
    Parameters      defaults;
    ParameterBinder binder(prm, ParameterBinder::Mode::declare, sections);
    defaults.bind(binder);
  }

  namespace
  {
    // ParameterHandler's JSON output spells every character of a name other than
    // letters and digits as "_XX" (hex); undo that for the listing.
    std::string demangle(const std::string &name)
    {
      std::string out;
      for (std::size_t i = 0; i < name.size(); ++i)
        if (name[i] == '_' && i + 2 < name.size() && std::isxdigit(name[i + 1]) &&
            std::isxdigit(name[i + 2]))
          {
            out += static_cast<char>(std::stoi(name.substr(i + 1, 2), nullptr, 16));
            i += 2;
          }
        else
          out += name[i];
      return out;
    }

    void wrap_comment(std::ostream &out, const std::string &indent, const std::string &text)
    {
      std::istringstream words(text);
      std::string        word, line;
      while (words >> word)
        {
          if (!line.empty() && line.size() + word.size() + 1 > 78 - indent.size())
            {
              out << indent << "# " << line << "\n";
              line.clear();
            }
          line += (line.empty() ? "" : " ") + word;
        }
      if (!line.empty())
        out << indent << "# " << line << "\n";
    }

    void print_section(std::ostream &out, const nlohmann::ordered_json &section, const std::string &indent)
    {
      for (const auto &[key, node] : section.items())
        if (node.contains("value"))
          {
            wrap_comment(out, indent, node.at("documentation").get<std::string>());
            wrap_comment(out,
                         indent,
                         "Allowed: " + one_line(node.at("pattern_description").get<std::string>()));
            out << indent << "set " << demangle(key) << " = "
                << node.at("default_value").get<std::string>() << "\n\n";
          }
      for (const auto &[key, node] : section.items())
        if (!node.contains("value"))
          {
            out << indent << "subsection " << demangle(key) << "\n";
            print_section(out, node, indent + "  ");
            out << indent << "end\n\n";
          }
    }
  } // namespace

  void print_parameter_manual(const ParameterHandler &prm, std::ostream &out)
  {
    std::stringstream json;
    prm.print_parameters(json, ParameterHandler::JSON);
    const auto tree = nlohmann::ordered_json::parse(json.str());
    out << "# scorefp parameters: every entry with its documentation, allowed values and\n"
           "# default. This listing is itself a valid parameter file.\n\n";
    print_section(out, tree, "");
  }


  Parameters parse_parameters(ParameterHandler &prm)
  {
    Parameters      p;
    ParameterBinder binder(prm, ParameterBinder::Mode::parse);
    p.bind(binder);
    return p;
  }

  Parameters read_parameters(ParameterHandler               &prm,
                             const std::string              &file,
                             const std::vector<std::string> &overrides)
  {
    {
      std::ifstream probe(file);
      if (!probe)
        throw InputError("Parameter file '" + file +
                         "' cannot be opened; expected a readable "
                         ".prm, .json or .xml file.");
    }
    const auto        dot       = file.find_last_of('.');
    const std::string extension = dot == std::string::npos ? "" : file.substr(dot);
    if (extension != ".prm" && extension != ".json" && extension != ".xml")
      throw InputError("Parameter file '" + file + "' has no .prm, .json or .xml extension.");
    try
      {
        prm.parse_input(file, "", /*skip_undefined=*/false, /*assert_mandatory=*/false);
      }
    catch (const dealii::ExceptionBase &e)
      {
        throw InputError("Parameter file '" + file + "': " + message_of(e));
      }
    catch (const std::exception &e)
      {
        throw InputError("Parameter file '" + file + "' is malformed: " + one_line(e.what()));
      }

    for (const std::string &assignment : overrides)
      {
        const auto equal = assignment.find('=');
        if (equal == std::string::npos)
          throw InputError("Override '" + assignment +
                           "' has no '='; expected 'Section/Key=value'.");
        std::string              path  = assignment.substr(0, equal);
        std::string              value = assignment.substr(equal + 1);
        std::vector<std::string> sections;
        std::size_t              slash;
        while ((slash = path.find('/')) != std::string::npos)
          {
            sections.push_back(path.substr(0, slash));
            path = path.substr(slash + 1);
          }
        unsigned int entered = 0;
        try
          {
            for (const auto &s : sections)
              {
                prm.enter_subsection(s);
                ++entered;
              }
            prm.set(path, value);
          }
        catch (const dealii::ExceptionBase &e)
          {
            for (; entered > 0; --entered)
              prm.leave_subsection();
            throw InputError("Override '" + assignment + "': " + message_of(e));
          }
        for (; entered > 0; --entered)
          prm.leave_subsection();
      }
    return parse_parameters(prm);
  }
} // namespace scorefp
