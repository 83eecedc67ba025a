#include <scorefp/core/parameter_binder.h>

#include <deal.II/base/parameter_handler.h>
#include <deal.II/base/patterns.h>
#include <deal.II/base/utilities.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>

namespace scorefp
{
  namespace Patterns = dealii::Patterns;

  std::string format_number(const double x)
  {
    char       buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), x);
    return std::string(buffer, result.ptr);
  }

  std::vector<double> parse_number_list(const std::string &text, const std::string &entry)
  {
    std::vector<double> numbers;
    std::string         piece;
    const auto          flush = [&]() {
      if (piece.empty())
        return;
      std::size_t used  = 0;
      double      value = 0;
      try
        {
          value = std::stod(piece, &used);
        }
      catch (...)
        {
          used = 0;
        }
      if (used != piece.size() || !std::isfinite(value))
        throw InputError(entry + ": '" + piece + "' is not a number.");
      numbers.push_back(value);
      piece.clear();
    };
    for (const char c : text)
      if (c == ',' || c == ';' || std::isspace(static_cast<unsigned char>(c)))
        flush();
      else
        piece += c;
    flush();
    return numbers;
  }

  void parse_section_entries(const std::string                                      &section,
                             const std::vector<std::pair<std::string, std::string>> &entries,
                             const std::function<void(ParameterBinder &)>           &bind_section)
  {
    dealii::ParameterHandler prm;
    {
      ParameterBinder declaring(prm, ParameterBinder::Mode::declare);
      declaring.subsection(section, [&]() { bind_section(declaring); });
    }
    prm.enter_subsection(section);
    for (const auto &[key, text] : entries)
      try
        {
          prm.set(key, text);
        }
      catch (const dealii::ExceptionBase &)
        {
          prm.leave_subsection();
          throw InputError(section + "/" + key + " = '" + text +
                           "' is not a valid entry of section " + section +
                           " (unknown key or value outside its pattern).");
        }
    prm.leave_subsection();
    ParameterBinder parsing(prm, ParameterBinder::Mode::parse);
    parsing.subsection(section, [&]() { bind_section(parsing); });
  }

  namespace
  {
    std::string joined(const std::vector<std::string> &names, const std::string &separator)
    {
      std::string text;
      for (const auto &n : names)
        text += (text.empty() ? "" : separator) + n;
      return text;
    }

    template <typename Integer>
    std::vector<Integer> to_integers(const std::vector<double> &values, const std::string &entry)
    {
      std::vector<Integer> result;
      for (const double x : values)
        {
          if (x != std::floor(x) || x < 0 ||
              x > static_cast<double>(std::numeric_limits<Integer>::max()))
            throw InputError(entry + ": '" + format_number(x) +
                             "' is not a non-negative whole number.");
          result.push_back(static_cast<Integer>(x));
        }
      return result;
    }

    template <typename T>
    std::string list_text(const std::vector<T> &values)
    {
      std::string text;
      for (const T x : values)
        text += (text.empty() ? "" : ", ") + format_number(static_cast<double>(x));
      return text;
    }
  } // namespace

  ParameterBinder::ParameterBinder(dealii::ParameterHandler &prm,
                                   const Mode                mode,
                                   std::set<std::string>     sections)
      : prm(prm)
      , mode(mode)
      , sections(std::move(sections))
  {
  }

  ParameterBinder::~ParameterBinder() = default;

  bool ParameterBinder::skipped() const { return skipping > 0; }

  std::string ParameterBinder::path(const std::string &name) const
  {
    std::string text;
    for (const auto &s : stack)
      text += s + "/";
    return text + name;
  }

  void ParameterBinder::require(const bool condition, const std::string &message) const
  {
    if (mode == Mode::parse && !condition)
      throw InputError(message);
  }

  void ParameterBinder::start_record()
  {
    recording = true;
    recorded.clear();
  }

  std::vector<std::pair<std::string, std::string>> ParameterBinder::stop_record()
  {
    recording = false;
    return std::move(recorded);
  }

  void ParameterBinder::subsection(const std::string &section, const std::function<void()> &body)
  {
    // A declaring binder with a section filter leaves out the top-level sections that
    // the listed task does not read.
    if (mode == Mode::declare && stack.empty() && !sections.empty() &&
        sections.count(section) == 0)
      return;
    prm.enter_subsection(section);
    stack.push_back(section);
    try
      {
        body();
      }
    catch (...)
      {
        stack.pop_back();
        prm.leave_subsection();
        throw;
      }
    stack.pop_back();
    prm.leave_subsection();
  }

  void ParameterBinder::declare(const std::string                   &name,
                                const std::string                   &default_value,
                                const dealii::Patterns::PatternBase &pattern,
                                const std::string                   &doc)
  {
    // Members of one family may share an entry (VP and sub-VP read the same beta
    // schedule); the first declaration stands.
    if (!declared.insert(path(name)).second)
      return;
    prm.declare_entry(name, default_value, pattern, doc);
  }

  std::string ParameterBinder::read(const std::string &name)
  {
    const std::string text = prm.get(name);
    if (recording)
      {
        // The key relative to the section the record began in.
        recorded.emplace_back(name, text);
      }
    return text;
  }

  void ParameterBinder::add(const std::string &name, double &value, const std::string &doc)
  {
    add(name, value, doc, Patterns::Double());
  }

  void ParameterBinder::add(const std::string                   &name,
                            double                              &value,
                            const std::string                   &doc,
                            const dealii::Patterns::PatternBase &pattern)
  {
    if (declaring())
      declare(name, format_number(value), pattern, doc);
    else
      value = dealii::Utilities::string_to_double(read(name));
  }

  void ParameterBinder::add(const std::string &name, unsigned int &value, const std::string &doc)
  {
    add(name, value, doc, Patterns::Integer(0));
  }

  void ParameterBinder::add(const std::string                   &name,
                            unsigned int                        &value,
                            const std::string                   &doc,
                            const dealii::Patterns::PatternBase &pattern)
  {
    if (declaring())
      declare(name, std::to_string(value), pattern, doc);
    else
      value = static_cast<unsigned int>(dealii::Utilities::string_to_int(read(name)));
  }

  void
  ParameterBinder::add(const std::string &name, unsigned long long &value, const std::string &doc)
  {
    add(name, value, doc, Patterns::Integer(0));
  }

  void ParameterBinder::add(const std::string                   &name,
                            unsigned long long                  &value,
                            const std::string                   &doc,
                            const dealii::Patterns::PatternBase &pattern)
  {
    if (declaring())
      declare(name, std::to_string(value), pattern, doc);
    else
      value = std::stoull(read(name));
  }

  void ParameterBinder::add(const std::string &name, int &value, const std::string &doc)
  {
    if (declaring())
      declare(name, std::to_string(value), Patterns::Integer(), doc);
    else
      value = dealii::Utilities::string_to_int(read(name));
  }

  void ParameterBinder::add(const std::string &name, bool &value, const std::string &doc)
  {
    if (declaring())
      declare(name, value ? "true" : "false", Patterns::Bool(), doc);
    else
      {
        const std::string text = read(name);
        value                  = text == "true" || text == "yes";
      }
  }

  void ParameterBinder::add(const std::string &name, std::string &value, const std::string &doc)
  {
    add(name, value, doc, Patterns::Anything());
  }

  void ParameterBinder::add(const std::string                   &name,
                            std::string                         &value,
                            const std::string                   &doc,
                            const dealii::Patterns::PatternBase &pattern)
  {
    if (declaring())
      declare(name, value, pattern, doc);
    else
      value = read(name);
  }

  void
  ParameterBinder::add(const std::string &name, std::vector<double> &value, const std::string &doc)
  {
    if (declaring())
      declare(name, list_text(value), Patterns::Anything(), doc);
    else
      value = parse_number_list(read(name), path(name));
  }

  void ParameterBinder::add(const std::string         &name,
                            std::vector<unsigned int> &value,
                            const std::string         &doc)
  {
    if (declaring())
      declare(name, list_text(value), Patterns::Anything(), doc);
    else
      value = to_integers<unsigned int>(parse_number_list(read(name), path(name)), path(name));
  }

  void ParameterBinder::add(const std::string                   &name,
                            std::vector<unsigned int>           &value,
                            const std::string                   &doc,
                            const dealii::Patterns::PatternBase &pattern)
  {
    if (declaring())
      declare(name, list_text(value), pattern, doc);
    else
      value = to_integers<unsigned int>(parse_number_list(read(name), path(name)), path(name));
  }

  void ParameterBinder::add_choice(const std::string              &name,
                                   std::string                    &value,
                                   const std::vector<std::string> &names,
                                   const std::string              &doc)
  {
    if (declaring())
      declare(name, value, Patterns::Selection(joined(names, "|")), doc);
    else
      value = read(name);
  }

  void ParameterBinder::add_choice_list(const std::string              &name,
                                        std::vector<std::string>       &value,
                                        const std::vector<std::string> &names,
                                        const std::string              &doc)
  {
    if (declaring())
      declare(name,
              joined(value, ", "),
              Patterns::List(Patterns::Selection(joined(names, "|")), 0),
              doc);
    else
      value = dealii::Utilities::split_string_list(read(name));
  }
} // namespace scorefp
