// Reading and writing sample files (.npy and CSV).
//
// The .npy format is read and written by hand: Debian ships no NumPy C++ library
// (cnpy, xtensor-io and the like are not packaged), and the format is small and
// fully documented
// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
//   6 bytes magic "\x93NUMPY", 1 byte major and 1 byte minor version,
//   a little-endian header length (uint16 in version 1.0, uint32 in 2.0 and 3.0),
//   an ASCII (3.0: UTF-8) Python dict literal such as
//     {'descr': '<f8', 'fortran_order': False, 'shape': (1000, 3), }
//   padded with spaces and ending in '\n' so the data start at a multiple of 64 bytes,
//   then the raw array.
#include <scorefp/core/input_error.h>
#include <scorefp/io/sample_files.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sample_files.cc reads and writes little-endian .npy payloads in place"
#endif

namespace scorefp
{
  namespace
  {
    std::string quoted(const std::string &file)
    {
      return "'" + file + "'";
    }

    std::string lowercase_extension(const std::string &file)
    {
      std::string ext = std::filesystem::path(file).extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
      });
      return ext;
    }

    /// Open `file` for binary reading, with an InputError if it is missing or unreadable.
    std::ifstream open_for_reading(const std::string &file, const std::string &what)
    {
      std::error_code ec;
      if (!std::filesystem::exists(file, ec))
        throw InputError(what + " " + quoted(file) + " does not exist.");
      if (std::filesystem::is_directory(file, ec))
        throw InputError(what + " " + quoted(file) + " is a directory, not a file.");
      std::ifstream in(file, std::ios::binary);
      if (!in)
        throw InputError(what + " " + quoted(file) + " exists but cannot be read (permissions?).");
      return in;
    }

    std::string describe_value(const double x)
    {
      if (std::isnan(x))
        return "NaN";
      return x > 0 ? "+inf" : "-inf";
    }

    // ---------------------------------------------------------------- .npy reading

    struct NpyHeader
    {
      std::string                     descr;
      bool                            fortran_order = false;
      std::vector<unsigned long long> shape;
      std::uint64_t                   data_offset = 0;
    };

    /// A parser of the header dict; throws InputError with `context` + a reason.
    class HeaderParser
    {
    public:
      HeaderParser(const std::string &text, const std::string &context)
          : text(text)
          , context(context)
      {
      }

      NpyHeader parse()
      {
        NpyHeader header;
        bool      have_descr = false, have_order = false, have_shape = false;
        skip_space();
        expect('{');
        while (true)
          {
            skip_space();
            if (peek() == '}')
              break;
            const std::string key = parse_string();
            skip_space();
            expect(':');
            skip_space();
            if (key == "descr")
              {
                if (peek() == '[')
                  fail("holds a structured (record) dtype; expected a plain float64 ('<f8') "
                       "or float32 ('<f4') array");
                header.descr = parse_string();
                have_descr   = true;
              }
            else if (key == "fortran_order")
              {
                header.fortran_order = parse_bool();
                have_order           = true;
              }
            else if (key == "shape")
              {
                header.shape = parse_shape();
                have_shape   = true;
              }
            else
              fail("has an unknown key '" + key +
                   "' in its header; expected only 'descr', 'fortran_order' and 'shape'");
            skip_space();
            if (peek() == ',')
              ++pos;
            else if (peek() != '}')
              fail_malformed("',' or '}'");
          }
        if (!have_descr || !have_order || !have_shape)
          fail("has a header without the keys 'descr', 'fortran_order' and 'shape'");
        return header;
      }

    private:
      const std::string &text;
      const std::string &context;
      std::size_t        pos = 0;

      [[noreturn]] void fail(const std::string &reason) const
      {
        throw InputError(context + " " + reason + ".");
      }

      [[noreturn]] void fail_malformed(const std::string &expected) const
      {
        fail("has a malformed .npy header (expected " + expected + " at character " +
             std::to_string(pos) + " of \"" + text + "\")");
      }

      char peek() const { return pos < text.size() ? text[pos] : '\0'; }

      void skip_space()
      {
        while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos])))
          ++pos;
      }

      void expect(const char c)
      {
        if (peek() != c)
          fail_malformed(std::string("'") + c + "'");
        ++pos;
      }

      std::string parse_string()
      {
        const char q = peek();
        if (q != '\'' && q != '"')
          fail_malformed("a quoted string");
        const std::size_t end = text.find(q, pos + 1);
        if (end == std::string::npos)
          fail_malformed("a closing quote");
        std::string s = text.substr(pos + 1, end - pos - 1);
        pos           = end + 1;
        return s;
      }

      bool parse_bool()
      {
        if (text.compare(pos, 4, "True") == 0)
          {
            pos += 4;
            return true;
          }
        if (text.compare(pos, 5, "False") == 0)
          {
            pos += 5;
            return false;
          }
        fail_malformed("True or False");
      }

      std::vector<unsigned long long> parse_shape()
      {
        std::vector<unsigned long long> shape;
        expect('(');
        while (true)
          {
            skip_space();
            if (peek() == ')')
              {
                ++pos;
                return shape;
              }
            unsigned long long n     = 0;
            const char        *begin = text.data() + pos;
            const char        *end   = text.data() + text.size();
            const auto         r     = std::from_chars(begin, end, n);
            if (r.ec != std::errc() || r.ptr == begin)
              fail_malformed("a non-negative integer in the shape");
            pos += r.ptr - begin;
            if (peek() == 'L') // Python 2 long integers
              ++pos;
            shape.push_back(n);
            skip_space();
            if (peek() == ',')
              ++pos;
            else if (peek() != ')')
              fail_malformed("',' or ')' in the shape");
          }
      }
    };

    std::string dtype_name(const std::string &descr)
    {
      if (descr.size() < 2)
        return "dtype '" + descr + "'";
      const char  kind  = descr[1];
      std::string words = "values";
      switch (kind)
        {
        case 'i':
          words = "signed integers";
          break;
        case 'u':
          words = "unsigned integers";
          break;
        case 'c':
          words = "complex numbers";
          break;
        case 'O':
          words = "Python objects";
          break;
        case 'b':
        case '?':
          words = "booleans";
          break;
        case 'U':
        case 'S':
        case 'a':
          words = "strings";
          break;
        case 'f':
          words = descr[0] == '>' ? "big-endian floats" : "floats of this size";
          break;
        case 'M':
        case 'm':
          words = "dates or times";
          break;
        default:
          break;
        }
      return words + " (dtype '" + descr + "')";
    }

    std::string shape_string(const std::vector<unsigned long long> &shape)
    {
      std::string s = "(";
      for (std::size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
      return s + (shape.size() == 1 ? ",)" : ")");
    }

    /// The raw values of an .npy file of shape (rows,) or (rows, cols), in C order,
    /// with every check except the one on the shape, which the caller makes first
    /// through `check_shape(shape)`; `rows` and `cols` are set from the shape.
    template <typename CheckShape>
    std::vector<double> read_npy(const std::string  &file,
                                 const std::string  &what,
                                 CheckShape          check_shape,
                                 unsigned long long &rows,
                                 unsigned long long &cols)
    {
      const std::string context = what + " " + quoted(file);
      std::ifstream     in      = open_for_reading(file, what);
      in.seekg(0, std::ios::end);
      const std::uint64_t file_size = static_cast<std::uint64_t>(in.tellg());
      in.seekg(0, std::ios::beg);

      unsigned char prefix[12] = {};
      in.read(reinterpret_cast<char *>(prefix), std::min<std::uint64_t>(file_size, 12));
      static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
      if (file_size < 10 || std::memcmp(prefix, magic, 6) != 0)
        throw InputError(context + " is not a .npy file: it does not start with the NumPy magic "
                                   "string \"\\x93NUMPY\" (save arrays with numpy.save).");
      const unsigned int major = prefix[6], minor = prefix[7];
      std::uint64_t      header_length = 0, header_start = 0;
      if (major == 1 && minor == 0)
        {
          header_length = prefix[8] | (prefix[9] << 8);
          header_start  = 10;
        }
      else if ((major == 2 || major == 3) && minor == 0)
        {
          if (file_size < 12)
            throw InputError(context + " is truncated inside its .npy header.");
          header_length = std::uint64_t(prefix[8]) | (std::uint64_t(prefix[9]) << 8) |
                          (std::uint64_t(prefix[10]) << 16) | (std::uint64_t(prefix[11]) << 24);
          header_start = 12;
        }
      else
        throw InputError(context + " has .npy format version " + std::to_string(major) + "." +
                         std::to_string(minor) + "; expected version 1.0, 2.0 or 3.0.");
      if (header_start + header_length > file_size)
        throw InputError(context + " is truncated inside its .npy header (the header announces " +
                         std::to_string(header_length) + " bytes but only " +
                         std::to_string(file_size - header_start) + " follow).");

      std::string text(header_length, '\0');
      in.seekg(header_start);
      in.read(text.data(), header_length);
      if (!in)
        throw InputError(context + " cannot be read (I/O error in its .npy header).");
      NpyHeader header   = HeaderParser(text, context).parse();
      header.data_offset = header_start + header_length;

      std::size_t item_size = 0;
      if (header.descr == "<f8")
        item_size = 8;
      else if (header.descr == "<f4")
        item_size = 4;
      else
        throw InputError(context + " holds " + dtype_name(header.descr) +
                         "; expected float64 ('<f8') or float32 ('<f4'), e.g. "
                         "numpy.save(file, array.astype(numpy.float64)).");

      check_shape(header.shape);
      rows = header.shape.empty() ? 1 : header.shape[0];
      cols = header.shape.size() == 2 ? header.shape[1] : 1;

      const std::string   count     = header.shape.size() == 2
                                          ? std::to_string(rows) + " x " + std::to_string(cols)
                                          : std::to_string(rows);
      const std::uint64_t available = file_size - header.data_offset;
      const auto          max_u64   = std::numeric_limits<std::uint64_t>::max();
      if (cols != 0 && (rows > max_u64 / cols || rows * cols > max_u64 / item_size))
        throw InputError(context + " announces an impossibly large shape " +
                         shape_string(header.shape) + ".");
      const std::uint64_t n_values = rows * cols, needed = n_values * item_size;
      if (available < needed)
        throw InputError(context + " is truncated: the header announces " + count + " values (" +
                         std::to_string(needed) + " bytes) but only " + std::to_string(available) +
                         " bytes follow.");
      if (available > needed)
        throw InputError(context + " has " + std::to_string(available - needed) +
                         " bytes more than the " + count + " values (" + std::to_string(needed) +
                         " bytes) its header announces.");
      if (n_values == 0)
        return {};

      std::vector<double> raw(n_values);
      if (item_size == 8)
        in.read(reinterpret_cast<char *>(raw.data()), needed);
      else
        {
          std::vector<float> single(n_values);
          in.read(reinterpret_cast<char *>(single.data()), needed);
          std::copy(single.begin(), single.end(), raw.begin());
        }
      if (!in)
        throw InputError(context + " cannot be read (I/O error in its data).");

      if (!header.fortran_order || cols == 1)
        return raw;
      // Fortran order: element (i, j) is at j * rows + i.
      std::vector<double> values(n_values);
      for (unsigned long long j = 0; j < cols; ++j)
        for (unsigned long long i = 0; i < rows; ++i)
          values[i * cols + j] = raw[j * rows + i];
      return values;
    }

    /// Throw if a value is not finite, naming the first one.
    void check_finite_npy(const std::vector<double> &values,
                          const unsigned long long   cols,
                          const std::string         &context,
                          const bool                 two_dimensional)
    {
      const auto bad =
          std::find_if(values.begin(), values.end(), [](double x) { return !std::isfinite(x); });
      if (bad == values.end())
        return;
      const std::size_t k     = bad - values.begin();
      const std::string where = two_dimensional ? "row " + std::to_string(k / cols) + ", column " +
                                                      std::to_string(k % cols)
                                                : "index " + std::to_string(k);
      throw InputError(context + " holds " + describe_value(*bad) + " at " + where +
                       " (counting from 0); every value must be finite.");
    }

    std::string dimension_mismatch(const std::string       &context,
                                   const unsigned long long rows,
                                   const unsigned long long cols,
                                   const unsigned int       expected)
    {
      std::string s = context + " holds " + std::to_string(cols) +
                      (cols == 1 ? " column" : " columns") + ", but the samples must be " +
                      std::to_string(expected) + "-dimensional";
      if (rows == expected && cols != expected)
        s += " (is the array transposed? its " + std::to_string(rows) + " rows would fit)";
      return s + ".";
    }

    SampleSet read_samples_npy(const std::string &file,
                               const unsigned int expected_dimension,
                               const std::string &what)
    {
      const std::string  context = what + " " + quoted(file);
      unsigned long long rows = 0, cols = 0;
      bool               two_dimensional = true;
      auto               check_shape     = [&](const std::vector<unsigned long long> &shape) {
        if (shape.size() != 1 && shape.size() != 2)
          throw InputError(context + " holds an array of shape " + shape_string(shape) +
                           "; expected shape (N, d) or (N,).");
        two_dimensional = shape.size() == 2;
        if (two_dimensional && shape[1] > std::numeric_limits<unsigned int>::max())
          throw InputError(context + " holds " + std::to_string(shape[1]) +
                           " columns, far too many for sample coordinates.");
        const unsigned long long n = shape[0], d = two_dimensional ? shape[1] : 1;
        if (expected_dimension != 0 && d != expected_dimension)
          throw InputError(dimension_mismatch(context, n, d, expected_dimension));
      };
      std::vector<double> values = read_npy(file, what, check_shape, rows, cols);
      if (rows == 0 || cols == 0)
        throw InputError(context + " holds no samples (its shape is " +
                         shape_string(two_dimensional ? std::vector<unsigned long long>{rows, cols}
                                                      : std::vector<unsigned long long>{rows}) +
                         "); expected at least one.");
      check_finite_npy(values, cols, context, two_dimensional);
      SampleSet samples;
      samples.dimension = static_cast<unsigned int>(cols);
      samples.values    = std::move(values);
      return samples;
    }

    // ---------------------------------------------------------------- CSV reading

    /// Parse a whole field as a double (an optional leading '+' allowed).
    bool parse_double(const std::string &field, double &x)
    {
      const char *begin = field.data(), *end = field.data() + field.size();
      if (begin != end && *begin == '+' && end - begin > 1 && begin[1] != '-' && begin[1] != '+')
        ++begin;
      const auto r = std::from_chars(begin, end, x);
      return r.ec == std::errc() && r.ptr == end;
    }

    /// Split a line into fields: at commas if it has any, else at whitespace. Fields
    /// are trimmed.
    void split_fields(const std::string &line, std::vector<std::string> &fields)
    {
      fields.clear();
      auto trim = [](const std::string &s) {
        const auto b = s.find_first_not_of(" \t\r\v\f");
        if (b == std::string::npos)
          return std::string();
        const auto e = s.find_last_not_of(" \t\r\v\f");
        return s.substr(b, e - b + 1);
      };
      if (line.find(',') != std::string::npos)
        {
          std::size_t start = 0;
          while (true)
            {
              const std::size_t comma = line.find(',', start);
              fields.push_back(trim(line.substr(start, comma - start)));
              if (comma == std::string::npos)
                break;
              start = comma + 1;
            }
        }
      else
        {
          std::istringstream words(line);
          std::string        w;
          while (words >> w)
            fields.push_back(w);
        }
    }

    SampleSet read_samples_text(const std::string &file,
                                const unsigned int expected_dimension,
                                const std::string &what)
    {
      const std::string context = what + " " + quoted(file);
      std::ifstream     in      = open_for_reading(file, what);

      SampleSet                samples;
      std::vector<std::string> fields;
      std::string              line;
      unsigned long long       line_number = 0, first_data_line = 0;
      bool                     seen_content = false;
      while (std::getline(in, line))
        {
          ++line_number;
          const auto first = line.find_first_not_of(" \t\r\v\f");
          if (first == std::string::npos || line[first] == '#')
            continue;
          split_fields(line, fields);
          const bool header_candidate = !seen_content;
          seen_content                = true;
          if (header_candidate)
            {
              // A header is a first line none of whose fields is a number.
              double x;
              if (std::none_of(fields.begin(), fields.end(), [&](const std::string &f) {
                    return parse_double(f, x);
                  }))
                continue;
            }
          if (samples.dimension == 0)
            {
              samples.dimension = fields.size();
              first_data_line   = line_number;
              if (expected_dimension != 0 && fields.size() != expected_dimension)
                throw InputError(context + " holds " + std::to_string(fields.size()) +
                                 (fields.size() == 1 ? " value" : " values") + " on line " +
                                 std::to_string(line_number) + ", but the samples must be " +
                                 std::to_string(expected_dimension) + "-dimensional.");
            }
          else if (fields.size() != samples.dimension)
            throw InputError(context + " has " + std::to_string(fields.size()) +
                             (fields.size() == 1 ? " value" : " values") + " on line " +
                             std::to_string(line_number) + ", but " +
                             std::to_string(samples.dimension) + " on its first data line (line " +
                             std::to_string(first_data_line) + ").");
          for (std::size_t j = 0; j < fields.size(); ++j)
            {
              double x = 0;
              if (fields[j].empty())
                throw InputError(context + " has an empty field " + std::to_string(j + 1) +
                                 " on line " + std::to_string(line_number) +
                                 "; expected a number.");
              if (!parse_double(fields[j], x))
                throw InputError(context + " has '" + fields[j] + "' in field " +
                                 std::to_string(j + 1) + " of line " + std::to_string(line_number) +
                                 ", which is not a number.");
              if (!std::isfinite(x))
                throw InputError(context + " holds " + describe_value(x) + " in field " +
                                 std::to_string(j + 1) + " of line " + std::to_string(line_number) +
                                 "; every value must be finite.");
              samples.values.push_back(x);
            }
        }
      if (in.bad())
        throw InputError(context + " cannot be read (I/O error).");
      if (samples.values.empty())
        throw InputError(context + " holds no samples; expected at least one line of numbers.");
      return samples;
    }

    // ---------------------------------------------------------------- writing

    /// The .npy (version 1.0) header of a C-order float64 array of the given shape,
    /// padded so that the data start at a multiple of 64 bytes.
    std::string npy_header(const std::vector<unsigned long long> &shape)
    {
      std::string dict =
          "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape_string(shape) + ", }";
      const std::size_t unpadded = 10 + dict.size() + 1; // + '\n'
      const std::size_t total    = (unpadded + 63) / 64 * 64;
      dict.append(total - unpadded, ' ');
      dict += '\n';
      const std::size_t length = dict.size();
      if (length > 65535)
        throw std::logic_error("npy header too long");
      std::string header = "\x93NUMPY";
      header += char(1);
      header += char(0);
      header += char(length & 0xff);
      header += char((length >> 8) & 0xff);
      return header + dict;
    }

    /// An InputError if the directory `file` would go into does not exist.
    std::string check_directory(const std::string &file)
    {
      const std::filesystem::path dir = std::filesystem::path(file).parent_path();
      std::error_code             ec;
      if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
        return "Output file " + quoted(file) + " cannot be written: the directory " +
               quoted(dir.string()) + " does not exist.";
      return "";
    }

    std::string cannot_write(const std::string &file)
    {
      return "Output file " + quoted(file) +
             " cannot be written (no permission, or the disk is full?).";
    }

    /// Rename file.part to file, or return an error message.
    std::string finish_by_rename(const std::string &file)
    {
      const std::string part = file + ".part";
      if (std::rename(part.c_str(), file.c_str()) != 0)
        {
          std::remove(part.c_str());
          return "Output file " + quoted(file) + " cannot be written: renaming " + quoted(part) +
                 " to it failed.";
        }
      return "";
    }

    /// Every rank throws InputError(message of rank 0) if rank 0's message is not empty.
    void throw_if_rank0_failed(std::string message, MPI_Comm communicator)
    {
      int rank = 0;
      MPI_Comm_rank(communicator, &rank);
      unsigned long long length = message.size();
      MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, 0, communicator);
      if (length == 0)
        return;
      message.resize(length);
      MPI_Bcast(message.data(), static_cast<int>(length), MPI_CHAR, 0, communicator);
      throw InputError(message);
    }

    /// The number of rows on each rank; checks that every rank's block is whole rows
    /// of the same dimension (programming errors, thrown on every rank alike).
    std::vector<unsigned long long>
    gather_row_counts(const std::vector<double> &local, const unsigned int d, MPI_Comm communicator)
    {
      int size = 1;
      MPI_Comm_size(communicator, &size);
      const unsigned long long        mine[2] = {local.size(), d};
      std::vector<unsigned long long> all(2 * size);
      MPI_Allgather(
          mine, 2, MPI_UNSIGNED_LONG_LONG, all.data(), 2, MPI_UNSIGNED_LONG_LONG, communicator);
      std::vector<unsigned long long> rows(size);
      for (int r = 0; r < size; ++r)
        {
          if (all[2 * r + 1] != d || d == 0)
            throw std::logic_error("write_*_distributed: the dimension d must be positive and "
                                   "the same on every rank");
          if (all[2 * r] % d != 0)
            throw std::logic_error("write_*_distributed: rank " + std::to_string(r) + " holds " +
                                   std::to_string(all[2 * r]) +
                                   " values, not a multiple of d = " + std::to_string(d));
          rows[r] = all[2 * r] / d;
        }
      return rows;
    }
  } // namespace

  SampleSet read_samples(const std::string &file,
                         const unsigned int expected_dimension,
                         const std::string &what)
  {
    const std::string ext = lowercase_extension(file);
    if (ext == ".npy")
      return read_samples_npy(file, expected_dimension, what);
    if (ext == ".csv" || ext == ".txt")
      return read_samples_text(file, expected_dimension, what);
    throw InputError(what + " " + quoted(file) + " has the extension '" + ext +
                     "'; expected '.npy', '.csv' or '.txt'.");
  }

  std::vector<double> read_npy_vector(const std::string &file, const std::string &what)
  {
    const std::string  context = what + " " + quoted(file);
    unsigned long long rows = 0, cols = 0;
    auto               check_shape = [&](const std::vector<unsigned long long> &shape) {
      if (!(shape.size() == 1 || (shape.size() == 2 && shape[1] == 1)))
        throw InputError(context + " holds an array of shape " + shape_string(shape) +
                         "; expected a vector, shape (n,) or (n, 1).");
    };
    std::vector<double> values = read_npy(file, what, check_shape, rows, cols);
    if (values.empty())
      throw InputError(context + " holds no values; expected at least one.");
    check_finite_npy(values, 1, context, false);
    return values;
  }

  void write_npy(const std::string              &file,
                 const std::vector<double>      &values,
                 const std::vector<std::size_t> &shape)
  {
    if (shape.empty() || shape.size() > 2)
      throw std::logic_error("write_npy: the shape must have 1 or 2 entries");
    std::vector<unsigned long long> s(shape.begin(), shape.end());
    unsigned long long              n = 1;
    for (const auto k : s)
      n *= k;
    if (n != values.size())
      throw std::logic_error("write_npy: the shape does not match the number of values");

    if (const std::string error = check_directory(file); !error.empty())
      throw InputError(error);
    const std::string part = file + ".part";
    {
      std::ofstream out(part, std::ios::binary | std::ios::trunc);
      if (!out)
        throw InputError(cannot_write(file));
      const std::string header = npy_header(s);
      out.write(header.data(), header.size());
      out.write(reinterpret_cast<const char *>(values.data()), values.size() * sizeof(double));
      out.close();
      if (!out)
        {
          std::remove(part.c_str());
          throw InputError(cannot_write(file));
        }
    }
    if (const std::string error = finish_by_rename(file); !error.empty())
      throw InputError(error);
  }

  namespace internal
  {
    void write_npy_distributed(const std::string         &file,
                               const std::vector<double> &local,
                               const unsigned int         d,
                               MPI_Comm                   communicator,
                               const std::size_t          chunk_values)
    {
      int rank = 0, n_ranks = 1;
      MPI_Comm_rank(communicator, &rank);
      MPI_Comm_size(communicator, &n_ranks);
      const std::vector<unsigned long long> rows       = gather_row_counts(local, d, communicator);
      unsigned long long                    total_rows = 0, first_row = 0;
      for (int r = 0; r < n_ranks; ++r)
        {
          if (r < rank)
            first_row += rows[r];
          total_rows += rows[r];
        }
      const std::string header = npy_header({total_rows, d});
      const std::string part   = file + ".part";

      // Rank 0 checks the directory and removes a stale .part (whose tail would
      // otherwise survive below the new data).
      std::string error;
      if (rank == 0)
        {
          error = check_directory(file);
          if (error.empty())
            std::remove(part.c_str());
        }
      throw_if_rank0_failed(error, communicator);

      MPI_File  fh;
      const int open_rc = MPI_File_open(
          communicator, part.c_str(), MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh);
      int opened = open_rc == MPI_SUCCESS ? 1 : 0, all_opened = 0;
      MPI_Allreduce(&opened, &all_opened, 1, MPI_INT, MPI_MIN, communicator);
      if (!all_opened)
        {
          if (opened)
            MPI_File_close(&fh);
          if (rank == 0)
            std::remove(part.c_str());
          throw InputError(cannot_write(file));
        }

      int ok = 1;
      if (rank == 0 &&
          MPI_File_write_at(
              fh, 0, header.data(), static_cast<int>(header.size()), MPI_CHAR, MPI_STATUS_IGNORE) !=
              MPI_SUCCESS)
        ok = 0;

      // MPI counts are int: every rank writes its block in pieces of at most
      // chunk_values doubles, in as many collective calls as the largest block needs.
      const std::size_t chunk = std::max<std::size_t>(
          1, std::min<std::size_t>(chunk_values, std::numeric_limits<int>::max()));
      unsigned long long local_values = local.size(), max_values = 0;
      MPI_Allreduce(&local_values, &max_values, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, communicator);
      const unsigned long long n_calls = (max_values + chunk - 1) / chunk;
      const MPI_Offset         start   = header.size() + first_row * d * sizeof(double);
      for (unsigned long long c = 0; c < n_calls; ++c)
        {
          const unsigned long long begin = std::min<unsigned long long>(c * chunk, local_values);
          const unsigned long long count =
              std::min<unsigned long long>(chunk, local_values - begin);
          if (MPI_File_write_at_all(fh,
                                    start + static_cast<MPI_Offset>(begin * sizeof(double)),
                                    local.data() + begin,
                                    static_cast<int>(count),
                                    MPI_DOUBLE,
                                    MPI_STATUS_IGNORE) != MPI_SUCCESS)
            ok = 0;
        }
      // Truncate to the exact size (collective), in case something was left over.
      const MPI_Offset file_size = header.size() + total_rows * d * sizeof(double);
      if (MPI_File_set_size(fh, file_size) != MPI_SUCCESS)
        ok = 0;
      if (MPI_File_close(&fh) != MPI_SUCCESS)
        ok = 0;

      int all_ok = 0;
      MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, communicator);
      if (rank == 0)
        {
          if (!all_ok)
            {
              std::remove(part.c_str());
              error = cannot_write(file);
            }
          else
            error = finish_by_rename(file);
        }
      throw_if_rank0_failed(error, communicator);
    }
  } // namespace internal

  void write_npy_distributed(const std::string         &file,
                             const std::vector<double> &local,
                             const unsigned int         d,
                             MPI_Comm                   communicator)
  {
    // 2^27 doubles = 1 GiB per call, well below the int limit of MPI counts.
    internal::write_npy_distributed(file, local, d, communicator, std::size_t(1) << 27);
  }

  void write_csv_distributed(const std::string         &file,
                             const std::vector<double> &local,
                             const unsigned int         d,
                             MPI_Comm                   communicator,
                             const std::string         &header_line)
  {
    int rank = 0, n_ranks = 1;
    MPI_Comm_rank(communicator, &rank);
    MPI_Comm_size(communicator, &n_ranks);
    gather_row_counts(local, d, communicator);

    // Every rank formats its own rows.
    std::string text;
    text.reserve(local.size() * 24);
    char buffer[64];
    for (std::size_t k = 0; k < local.size(); ++k)
      {
        const int n = std::snprintf(buffer, sizeof(buffer), "%.17g", local[k]);
        text.append(buffer, n);
        text += (k % d == d - 1) ? '\n' : ',';
      }

    const std::string part = file + ".part";
    std::ofstream     out;
    std::string       error;
    if (rank == 0)
      {
        error = check_directory(file);
        if (error.empty())
          {
            out.open(part, std::ios::binary | std::ios::trunc);
            if (!out)
              error = cannot_write(file);
          }
      }
    throw_if_rank0_failed(error, communicator);

    // Rank 0 writes its rows, then receives and writes the other ranks' rows one rank
    // at a time, so it holds at most one rank's text besides its own.
    const int          tag        = 7301;
    const std::size_t  max_piece  = std::size_t(1) << 30;
    unsigned long long text_bytes = text.size();
    if (rank == 0)
      {
        if (header_line.empty())
          {
            for (unsigned int j = 0; j < d; ++j)
              out << (j ? ",x" : "x") << j;
            out << '\n';
          }
        else
          {
            std::string h = header_line;
            while (!h.empty() && (h.back() == '\n' || h.back() == '\r'))
              h.pop_back();
            out << h << '\n';
          }
        out.write(text.data(), text.size());
        std::string incoming;
        for (int r = 1; r < n_ranks; ++r)
          {
            unsigned long long bytes = 0;
            MPI_Recv(&bytes, 1, MPI_UNSIGNED_LONG_LONG, r, tag, communicator, MPI_STATUS_IGNORE);
            incoming.resize(bytes);
            for (unsigned long long at = 0; at < bytes; at += max_piece)
              {
                const int n = static_cast<int>(std::min<unsigned long long>(max_piece, bytes - at));
                MPI_Recv(
                    incoming.data() + at, n, MPI_CHAR, r, tag, communicator, MPI_STATUS_IGNORE);
              }
            out.write(incoming.data(), incoming.size());
          }
        out.close();
        if (!out)
          {
            std::remove(part.c_str());
            error = cannot_write(file);
          }
        else
          error = finish_by_rename(file);
      }
    else
      {
        MPI_Send(&text_bytes, 1, MPI_UNSIGNED_LONG_LONG, 0, tag, communicator);
        for (unsigned long long at = 0; at < text_bytes; at += max_piece)
          {
            const int n =
                static_cast<int>(std::min<unsigned long long>(max_piece, text_bytes - at));
            MPI_Send(text.data() + at, n, MPI_CHAR, 0, tag, communicator);
          }
      }
    throw_if_rank0_failed(error, communicator);
  }
} // namespace scorefp
