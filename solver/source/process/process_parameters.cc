#include <scorefp/core/parameter_binder.h>
#include <scorefp/process/forward_process.h>
#include <scorefp/process/process_registry.h>

#include <deal.II/base/parameter_handler.h>
#include <deal.II/base/patterns.h>

#include <algorithm>

namespace scorefp
{
  namespace Patterns = dealii::Patterns;

  namespace
  {
    const std::string section = "Process";

    // Run body with a parsing binder inside section Process of a handler that holds
    // only `entries` (an unknown Type is named before anything else).
    template <typename Body>
    void parse_section(const std::vector<std::pair<std::string, std::string>> &entries,
                       const Body                                             &body)
    {
      for (const auto &[key, text] : entries)
        if (key == "Type")
          ProcessRegistry::instance().get(text, section + "/Type");
      parse_section_entries(section, entries, [&](ParameterBinder &b) {
        if (b.declaring())
          ProcessParameters().bind(b);
        else
          body(b);
      });
    }

    // Type, Start time, Final time and the settings, as given (no defaults filled in).
    std::vector<std::pair<std::string, std::string>> given_entries(const ProcessParameters &p)
    {
      std::vector<std::pair<std::string, std::string>> result = {
          {"Type", p.type},
          {"Start time", format_number(p.start_time)},
          {"Final time", format_number(p.final_time)}};
      // Only when set: files written before the entry existed read back unchanged.
      if (p.data_time >= 0.0)
        result.emplace_back("Data time", format_number(p.data_time));
      result.insert(result.end(), p.settings.begin(), p.settings.end());
      return result;
    }
  } // namespace

  void ProcessParameters::bind(ParameterBinder &b)
  {
    const auto &registry = ProcessRegistry::instance();
    b.add_choice("Type",
                 type,
                 registry.names(),
                 "Forward SDE dX = -a(t) X dt + g(t) dW (MATH.md section 1). " +
                     registry.documentation());
    b.add("Start time",
          start_time,
          "Time t0 at which the data distribution is placed (dimensionless diffusion time).",
          Patterns::Double(0));
    b.add("Final time",
          final_time,
          "Final time T (for EDM, T is the final noise level sigma_max).",
          Patterns::Double(0));
    std::string data_time_text = data_time < 0 ? "start" : format_number(data_time);
    b.add("Data time",
          data_time_text,
          "Time at which the data distribution is placed, between 0 and Start time; 'start' "
          "(the default): the Start time. A later Start time starts the run from the data's "
          "forward law there: how finite-element runs of empirical data (point masses at "
          "their own time) start from the mixture (1/N) sum N(m y_i, v I).");
    if (b.parsing())
      {
        if (data_time_text == "start")
          data_time = -1.0;
        else
          {
            const std::vector<double> value = parse_number_list(data_time_text, b.path("Data time"));
            b.require(value.size() == 1 && value[0] >= 0.0,
                      b.path("Data time") + " must be 'start' or one number >= 0 (got '" +
                          data_time_text + "').");
            data_time = value[0];
          }
      }
    if (b.declaring())
      registry.bind_all(b);
    else
      {
        // Only the selected process's entries are read; they are kept as text.
        const auto &member = registry.get(type, b.path("Type"));
        b.start_record();
        member.bind(b);
        settings = b.stop_record();
      }
  }

  std::vector<std::pair<std::string, std::string>> ProcessParameters::entries() const
  {
    return given_entries(from_entries(given_entries(*this)));
  }

  ProcessParameters
  ProcessParameters::from_entries(const std::vector<std::pair<std::string, std::string>> &entries)
  {
    ProcessParameters p;
    parse_section(entries, [&](ParameterBinder &b) { p.bind(b); });
    return p;
  }

  void ProcessParameters::set(const std::string &key, const std::string &text)
  {
    const auto it = std::find_if(settings.begin(), settings.end(), [&](const auto &entry) {
      return entry.first == key;
    });
    if (it != settings.end())
      it->second = text;
    else
      settings.emplace_back(key, text);
  }

  void ProcessParameters::set(const std::string &key, const double value)
  {
    set(key, format_number(value));
  }

  std::string ProcessParameters::value(const std::string &key) const
  {
    for (const auto &[k, text] : entries())
      if (k == key)
        return text;
    throw InputError(section + "/" + key + " is not an entry of the " + type + " process.");
  }

  bool ProcessParameters::operator==(const ProcessParameters &other) const
  {
    return entries() == other.entries();
  }

  std::unique_ptr<ForwardProcess> create_process(const ProcessParameters &p)
  {
    const auto                     &registry = ProcessRegistry::instance();
    const auto                     &member   = registry.get(p.type, section + "/Type");
    std::unique_ptr<ForwardProcess> process;
    parse_section(p.settings, [&](ParameterBinder &b) {
      process = registry.create(member.name, b, nullptr);
    });
    if (!(p.start_time >= 0.0))
      throw InputError("Process/Start time must be non-negative (got " +
                       std::to_string(p.start_time) + ").");
    if (!(p.final_time > p.start_time))
      throw InputError("Process/Final time must be larger than Process/Start time (got " +
                       std::to_string(p.final_time) + " <= " + std::to_string(p.start_time) +
                       ").");
    if (p.data_time > p.start_time)
      throw InputError("Process/Data time must not exceed Process/Start time (got " +
                       std::to_string(p.data_time) + " > " + std::to_string(p.start_time) + ").");
    process->start_time = p.start_time;
    process->final_time = p.final_time;
    process->data_time  = p.data_time < 0.0 ? p.start_time : p.data_time;
    return process;
  }
} // namespace scorefp
