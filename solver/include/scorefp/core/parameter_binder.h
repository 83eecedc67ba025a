// Parameters owned by the modules that use them. Every module's parameter struct has
//
//   void bind(ParameterBinder &binder);
//
// that names each of its entries once: b.add("Steps", n_steps, "documentation", pattern).
// The same function serves both directions. Run with a declaring binder it declares
// the entries, the member's current value becoming the default, so declaration,
// default, documentation and binding are one statement; run with a parsing binder it
// reads the values the parameter file (and --set) gave into the members, checking
// them and throwing InputError with one sentence naming the entry. Parameter structs
// stay plain values (copyable, settable in tests); deal.II's own add_parameter() binds
// to fixed addresses instead, which is why the symmetric binder is ours.
#pragma once

#include <scorefp/core/input_error.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace dealii
{
  class ParameterHandler;
  namespace Patterns
  {
    class PatternBase;
  }
} // namespace dealii

namespace scorefp
{
  class ParameterBinder
  {
  public:
    enum class Mode
    {
      declare,
      parse
    };

    /// sections: when not empty, declare only these top-level subsections (the
    /// top-level entries always), for a --print-parameters listing of one task.
    ParameterBinder(dealii::ParameterHandler &prm,
                    const Mode                mode,
                    std::set<std::string>     sections = {});
    ~ParameterBinder();

    bool declaring() const { return mode == Mode::declare; }
    bool parsing() const { return mode == Mode::parse; }

    /// Entries. Without a pattern a type's natural one is used (Double(), Integer(0),
    /// Bool, Anything for strings, lists of those). Numbers in lists may be separated
    /// by ',' or ';' or spaces, and every bad number is named.
    void add(const std::string &name, double &value, const std::string &doc);
    void add(const std::string                      &name,
             double                                 &value,
             const std::string                      &doc,
             const dealii::Patterns::PatternBase    &pattern);
    void add(const std::string &name, unsigned int &value, const std::string &doc);
    void add(const std::string                   &name,
             unsigned int                        &value,
             const std::string                   &doc,
             const dealii::Patterns::PatternBase &pattern);
    void add(const std::string &name, unsigned long long &value, const std::string &doc);
    void add(const std::string                   &name,
             unsigned long long                  &value,
             const std::string                   &doc,
             const dealii::Patterns::PatternBase &pattern);
    void add(const std::string &name, int &value, const std::string &doc);
    void add(const std::string &name, bool &value, const std::string &doc);
    void add(const std::string &name, std::string &value, const std::string &doc);
    void add(const std::string                   &name,
             std::string                         &value,
             const std::string                   &doc,
             const dealii::Patterns::PatternBase &pattern);
    void add(const std::string &name, std::vector<double> &value, const std::string &doc);
    void add(const std::string &name, std::vector<unsigned int> &value, const std::string &doc);
    void add(const std::string                   &name,
             std::vector<unsigned int>           &value,
             const std::string                   &doc,
             const dealii::Patterns::PatternBase &pattern);

    /// A choice among fixed names that parses into an enum (or any value type).
    template <typename T>
    void add_selection(const std::string                            &name,
                       T                                            &value,
                       const std::vector<std::pair<std::string, T>> &choices,
                       const std::string                            &doc)
    {
      std::vector<std::string> names;
      std::string              current;
      for (const auto &[n, v] : choices)
        {
          names.push_back(n);
          if (v == value)
            current = n;
        }
      std::string text = current;
      add_choice(name, text, names, doc);
      if (parsing())
        for (const auto &[n, v] : choices)
          if (n == text)
            value = v;
    }

    /// A choice among names (a registry's, see registry.h): the selected name.
    void add_choice(const std::string              &name,
                    std::string                    &value,
                    const std::vector<std::string> &names,
                    const std::string              &doc);
    /// A list of such names (e.g. the rows of a scheme table).
    void add_choice_list(const std::string              &name,
                         std::vector<std::string>       &value,
                         const std::vector<std::string> &names,
                         const std::string              &doc);

    /// Entries inside `section` (nested subsections allowed). When declaring with a
    /// section filter, top-level sections outside the filter are skipped.
    void subsection(const std::string &section, const std::function<void()> &body);

    /// "Section/Key" of an entry of the current subsection, for messages.
    std::string path(const std::string &name) const;

    /// In parse mode: throw InputError(message) unless condition holds.
    void require(const bool condition, const std::string &message) const;

    /// What a parsing binder read, "Section/Key" -> text (as written or defaulted),
    /// from the moment record() was called; used by registries to remember the
    /// entries of the member they created (reference files store them).
    void                                             start_record();
    std::vector<std::pair<std::string, std::string>> stop_record();

    dealii::ParameterHandler &handler() { return prm; }

  private:
    void declare(const std::string                   &name,
                 const std::string                   &default_value,
                 const dealii::Patterns::PatternBase &pattern,
                 const std::string                   &doc);
    std::string read(const std::string &name);
    bool        skipped() const;

    dealii::ParameterHandler &prm;
    Mode                      mode;
    std::set<std::string>     sections;
    std::vector<std::string>  stack;
    unsigned int              skipping = 0;
    std::set<std::string>     declared;
    bool                      recording = false;
    std::vector<std::pair<std::string, std::string>> recorded;
  };

  /// Parse `entries` (key -> text) of one section as a parameter file holding only these
  /// entries would: `bind_section` is called once with a declaring binder (inside the
  /// section, declaring it whole) and once with a parsing binder after the entries are
  /// set. An unknown key or a value outside its pattern is an InputError naming it.
  /// Used to rebuild a process or data set from the entries a reference file stores.
  void parse_section_entries(const std::string                                      &section,
                             const std::vector<std::pair<std::string, std::string>> &entries,
                             const std::function<void(ParameterBinder &)>           &bind_section);

  /// The shortest text that reads back as exactly x ("0.001", "1e-12", "20").
  std::string format_number(const double x);

  /// Numbers separated by ',', ';' or spaces; InputError naming `entry` for a token
  /// that is not a finite number.
  std::vector<double> parse_number_list(const std::string &text, const std::string &entry);
} // namespace scorefp
