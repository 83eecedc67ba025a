// Families of parts that users choose by name: processes, data sets, score sources,
// sampler schemes, checker statistics, tasks, equations. A member is one source file
// that ends with one registration line,
//
//   SCOREFP_REGISTER(ProcessRegistry, "VP", "documentation ...", BetaSchedule,
//                    [](const BetaSchedule &p) { return std::make_unique<Vp>(p); });
//
// handing the family its name, its documentation, its parameter struct (whose
// bind() declares and parses the member's own entries, see parameter_binder.h) and a
// factory. Selection patterns, the manual text of the selection entry and the list of
// names in messages all come from here, so the documentation cannot drift from the
// code (ASPECT's plugin manager does the same).
//
// Members register from static objects in the shared library scorefp_lib, so every
// member is present once the library is loaded.
#pragma once

#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace scorefp
{
  /// The parameter struct of a member that has no entries of its own.
  struct NoParameters
  {
    void bind(ParameterBinder &) {}
  };

  /// A family of implementations of Interface, created with Arguments... besides
  /// their own parameters (one instance per family, see instance()).
  template <typename Interface, typename... Arguments>
  class Registry
  {
  public:
    using Pointer = std::unique_ptr<Interface>;

    struct Member
    {
      std::string name;
      std::string documentation;
      /// Declare or parse the member's own entries (in the family's section).
      std::function<void(ParameterBinder &)> bind;
      /// Parse the member's entries with a parsing binder and build the member.
      std::function<Pointer(ParameterBinder &, Arguments...)> create;
      /// Build the member with the defaults of its parameter struct.
      std::function<Pointer(Arguments...)> create_default;
    };

    static Registry &instance()
    {
      static Registry registry;
      return registry;
    }

    /// Register a member whose parameters are a struct P with bind(ParameterBinder&),
    /// built by factory(const P&, Arguments...). Returns true (for static initialisers).
    template <typename P, typename Factory>
    bool add(const std::string &name, const std::string &documentation, Factory factory)
    {
      if (members.count(name) != 0)
        throw std::logic_error("Two members of one registry are called '" + name + "'.");
      Member m;
      m.name          = name;
      m.documentation = documentation;
      m.bind          = [](ParameterBinder &binder) {
        P p;
        p.bind(binder);
      };
      m.create = [factory](ParameterBinder &binder, Arguments... arguments) {
        P p;
        p.bind(binder);
        return Pointer(factory(static_cast<const P &>(p), arguments...));
      };
      m.create_default = [factory](Arguments... arguments) {
        const P p{};
        return Pointer(factory(p, arguments...));
      };
      members.emplace(name, std::move(m));
      return true;
    }

    bool contains(const std::string &name) const { return members.count(name) != 0; }

    /// The member called name; InputError naming `entry` and the choices otherwise.
    const Member &get(const std::string &name, const std::string &entry = "") const
    {
      const auto it = members.find(name);
      if (it == members.end())
        throw InputError((entry.empty() ? std::string("'") : entry + " = '") + name +
                         "' is not one of " + joined(", ") + ".");
      return it->second;
    }

    /// Every name, sorted.
    std::vector<std::string> names() const
    {
      std::vector<std::string> result;
      for (const auto &[name, member] : members)
        result.push_back(name);
      return result;
    }

    std::string joined(const std::string &separator) const
    {
      std::string text;
      for (const auto &[name, member] : members)
        text += (text.empty() ? "" : separator) + name;
      return text;
    }

    /// "name: documentation " for every member, for the selection entry's manual text.
    std::string documentation() const
    {
      std::string text;
      for (const auto &[name, member] : members)
        text += (text.empty() ? "" : " ") + name + ": " + member.documentation;
      return text;
    }

    /// Declare or parse the entries of every member (declaring: all of them, so that
    /// any member can be selected; parsing: only what the selected member reads is
    /// needed, but reading them all checks every value the file gave).
    void bind_all(ParameterBinder &binder) const
    {
      for (const auto &[name, member] : members)
        member.bind(binder);
    }

    /// Parse the entries of member `name` and build it. The entries it read are
    /// returned in `record` ("Key" -> text) when record is not null.
    Pointer create(const std::string                                &name,
                   ParameterBinder                                  &binder,
                   std::vector<std::pair<std::string, std::string>> *record,
                   Arguments... arguments) const
    {
      const Member &m = get(name);
      binder.start_record();
      Pointer object = m.create(binder, arguments...);
      auto    read   = binder.stop_record();
      if (record != nullptr)
        *record = std::move(read);
      return object;
    }

  private:
    Registry() = default;
    std::map<std::string, Member> members;
  };

#define SCOREFP_REGISTRY_CONCAT_INNER(a, b) a##b
#define SCOREFP_REGISTRY_CONCAT(a, b) SCOREFP_REGISTRY_CONCAT_INNER(a, b)

  /// Register a member: SCOREFP_REGISTER(Family, "name", "doc", ParameterStruct, factory).
#define SCOREFP_REGISTER(Family, name, documentation, ParameterStruct, ...)                        \
  namespace                                                                                        \
  {                                                                                                \
    [[maybe_unused]] const bool SCOREFP_REGISTRY_CONCAT(scorefp_registered_, __LINE__) =           \
        Family::instance().add<ParameterStruct>(name, documentation, __VA_ARGS__);        \
  }
} // namespace scorefp
