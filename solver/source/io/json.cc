#include <scorefp/core/input_error.h>
#include <scorefp/io/io.h>
#include <scorefp/io/json.h>

#include <fstream>

namespace scorefp
{
  void write_json_atomically(const std::string &path, const Json &json)
  {
    write_file_atomically(path, json.dump(2) + "\n");
  }

  Json read_json(const std::string &path, const std::string &what)
  {
    std::ifstream in(path);
    if (!in)
      throw InputError(what + " '" + path + "' cannot be opened; expected a JSON file.");
    try
      {
        return Json::parse(in);
      }
    catch (const nlohmann::json::exception &e)
      {
        throw InputError(what + " '" + path + "' is not valid JSON (" + e.what() + ").");
      }
  }
} // namespace scorefp
