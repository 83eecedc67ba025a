// Sample files: .npy and CSV round trips through the distributed writers, .npy
// variants NumPy writes (float32, Fortran order, format 2.0, shape (N,)), and one
// InputError per kind of bad input, each naming the file and the problem.
#include <scorefp/core/input_error.h>
#include <scorefp/io/sample_files.h>

#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace scorefp;

namespace
{
  int rank()
  {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
  }

  int n_ranks()
  {
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
  }

  /// A file name in the test directory, the same on every rank (rank 0's process id
  /// keeps concurrent runs apart); with per_rank, a different one on each rank.
  std::string temp_file(const std::string &name, const bool per_rank = false)
  {
    int pid = static_cast<int>(getpid());
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    std::string dir = ::testing::TempDir();
    if (!dir.empty() && dir.back() != '/')
      dir += '/';
    return dir + "scorefp_sf_" + std::to_string(pid) +
           (per_rank ? "_r" + std::to_string(rank()) : std::string()) + "_" + name;
  }

  /// The message of the InputError f throws (a test failure if it throws none).
  std::string input_error(const std::function<void()> &f)
  {
    try
      {
        f();
      }
    catch (const InputError &e)
      {
        return e.what();
      }
    ADD_FAILURE() << "expected an InputError";
    return "";
  }

  ::testing::AssertionResult mentions(const std::string              &message,
                                      const std::vector<std::string> &parts)
  {
    for (const auto &p : parts)
      if (message.find(p) == std::string::npos)
        return ::testing::AssertionFailure()
               << "'" << message << "' does not mention '" << p << "'";
    return ::testing::AssertionSuccess();
  }

  void write_text(const std::string &file, const std::string &text)
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
  }

  std::string read_bytes(const std::string &file)
  {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  /// An .npy file built byte by byte: format version `major`.0, header dict `dict`
  /// (padded to a multiple of 64 bytes), then `payload`.
  void write_raw_npy(const std::string &file,
                     const unsigned int major,
                     std::string        dict,
                     const std::string &payload)
  {
    const std::size_t prefix = major == 1 ? 10 : 12;
    const std::size_t total  = (prefix + dict.size() + 1 + 63) / 64 * 64;
    dict.append(total - prefix - dict.size() - 1, ' ');
    dict += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += char(major);
    bytes += char(0);
    const std::size_t n = dict.size();
    bytes += char(n & 0xff);
    bytes += char((n >> 8) & 0xff);
    if (major != 1)
      {
        bytes += char((n >> 16) & 0xff);
        bytes += char((n >> 24) & 0xff);
      }
    write_text(file, bytes + dict + payload);
  }

  template <typename T>
  std::string as_bytes(const std::vector<T> &v)
  {
    return std::string(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(T));
  }

  /// Awkward doubles: not representable in few digits, tiny, huge, negative zero.
  double global_value(const unsigned long long k)
  {
    switch (k % 5)
      {
      case 0:
        return 1.0 / (3.0 + k);
      case 1:
        return -std::exp(0.37 * k) * 1e-300;
      case 2:
        return std::sqrt(2.0) * 1e200 / (k + 1);
      case 3:
        return -0.0;
      default:
        return std::nextafter(1.0 + k, 2.0e9);
      }
  }

  /// Uneven blocks, rank 1 empty: rank r holds r + 2 rows, except rank 1 none.
  unsigned long long rows_on(const int r)
  {
    return r == 1 ? 0 : r + 2;
  }

  std::vector<double> local_block(const unsigned int d)
  {
    unsigned long long first = 0;
    for (int r = 0; r < rank(); ++r)
      first += rows_on(r);
    std::vector<double> local;
    for (unsigned long long k = first * d; k < (first + rows_on(rank())) * d; ++k)
      local.push_back(global_value(k));
    return local;
  }

  std::vector<double> global_array(const unsigned int d)
  {
    unsigned long long rows = 0;
    for (int r = 0; r < n_ranks(); ++r)
      rows += rows_on(r);
    std::vector<double> all;
    for (unsigned long long k = 0; k < rows * d; ++k)
      all.push_back(global_value(k));
    return all;
  }

  bool bit_identical(const std::vector<double> &a, const std::vector<double> &b)
  {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
  }
} // namespace

TEST(SampleFiles, NpyDistributedRoundTrip)
{
  const unsigned int d    = 3;
  const std::string  file = temp_file("roundtrip.npy");
  write_npy_distributed(file, local_block(d), d, MPI_COMM_WORLD);
  const SampleSet samples = read_samples(file, d);
  EXPECT_EQ(samples.dimension, d);
  EXPECT_EQ(samples.size(), global_array(d).size() / d);
  EXPECT_TRUE(bit_identical(samples.values, global_array(d)));
  EXPECT_FALSE(std::filesystem::exists(file + ".part"));
  // The header is padded to 64 bytes and declares C order and (N, d).
  const std::string bytes = read_bytes(file);
  EXPECT_EQ((bytes.size() - samples.values.size() * 8) % 64, 0u);
  EXPECT_NE(
      bytes.find("'fortran_order': False, 'shape': (" + std::to_string(samples.size()) + ", 3)"),
      std::string::npos);

  // The same file, written in pieces of 2 doubles per collective call (as blocks of
  // more than 2^31 - 1 bytes are), over a stale longer .part file.
  const std::string chunked = temp_file("roundtrip_chunked.npy");
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0)
    write_text(chunked + ".part", std::string(10000, 'x'));
  MPI_Barrier(MPI_COMM_WORLD);
  internal::write_npy_distributed(chunked, local_block(d), d, MPI_COMM_WORLD, 2);
  EXPECT_EQ(read_bytes(chunked), bytes);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0)
    {
      std::filesystem::remove(file);
      std::filesystem::remove(chunked);
    }
}

TEST(SampleFiles, CsvDistributedRoundTrip)
{
  const unsigned int d    = 2;
  const std::string  file = temp_file("roundtrip.csv");
  write_csv_distributed(file, local_block(d), d, MPI_COMM_WORLD);
  EXPECT_EQ(read_bytes(file).substr(0, 6), "x0,x1\n");
  SampleSet samples = read_samples(file, d);
  EXPECT_EQ(samples.dimension, d);
  EXPECT_TRUE(bit_identical(samples.values, global_array(d)));
  EXPECT_FALSE(std::filesystem::exists(file + ".part"));

  // A caller's comment line instead of the column names.
  write_csv_distributed(file, local_block(d), d, MPI_COMM_WORLD, "# samples at t = 1\n");
  EXPECT_EQ(read_bytes(file).substr(0, 19), "# samples at t = 1\n");
  samples = read_samples(file, 0);
  EXPECT_TRUE(bit_identical(samples.values, global_array(d)));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0)
    std::filesystem::remove(file);
}

TEST(SampleFiles, DistributedWritersIntoMissingDirectoryThrowOnEveryRank)
{
  const std::string file = temp_file("no_such_dir/out");
  EXPECT_TRUE(mentions(
      input_error([&] { write_npy_distributed(file + ".npy", local_block(2), 2, MPI_COMM_WORLD); }),
      {file + ".npy", "does not exist"}));
  EXPECT_TRUE(mentions(
      input_error([&] { write_csv_distributed(file + ".csv", local_block(2), 2, MPI_COMM_WORLD); }),
      {file + ".csv", "does not exist"}));
  EXPECT_TRUE(mentions(input_error([&] { write_npy(file + ".npy", {1.0}, {1}); }),
                       {file + ".npy", "does not exist"}));
}

TEST(SampleFiles, Float32FortranOrder)
{
  // numpy.asfortranarray(numpy.array([[1, 2], [3, 4], [5, 6]], dtype='<f4'))
  const std::string file = temp_file("f4_fortran.npy", true);
  write_raw_npy(file,
                1,
                "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }",
                as_bytes(std::vector<float>{1, 3, 5, 2, 4, 6.5f}));
  const SampleSet samples = read_samples(file, 2);
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples.values, (std::vector<double>{1, 2, 3, 4, 5, 6.5}));
  EXPECT_EQ(samples(2, 1), 6.5);
  std::filesystem::remove(file);
}

TEST(SampleFiles, Version2And3Headers)
{
  for (const unsigned int major : {2u, 3u})
    {
      const std::string file = temp_file("v" + std::to_string(major) + ".npy", true);
      write_raw_npy(file,
                    major,
                    "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2L, 2L)}",
                    as_bytes(std::vector<double>{0.5, -1.5, 2.25, 1e-310}));
      const SampleSet samples = read_samples(file, 2);
      EXPECT_EQ(samples.values, (std::vector<double>{0.5, -1.5, 2.25, 1e-310}));
      std::filesystem::remove(file);
    }
}

TEST(SampleFiles, OneDimensionalShapes)
{
  const std::string         file   = temp_file("vector.npy", true);
  const std::vector<double> values = {3.0, 1.0, 0.25, 1e-3};
  write_npy(file, values, {4});
  EXPECT_NE(read_bytes(file).find("'shape': (4,)"), std::string::npos);
  const SampleSet samples = read_samples(file, 1);
  EXPECT_EQ(samples.dimension, 1u);
  EXPECT_EQ(samples.values, values);
  EXPECT_EQ(read_npy_vector(file), values);
  // (n, 1) is a vector too, (n, 2) is not.
  write_npy(file, values, {4, 1});
  EXPECT_EQ(read_npy_vector(file), values);
  write_npy(file, values, {2, 2});
  EXPECT_TRUE(mentions(input_error([&] { read_npy_vector(file, "Covariance spectrum file"); }),
                       {"Covariance spectrum file '" + file + "'", "shape (2, 2)", "(n,)"}));
  std::filesystem::remove(file);
}

TEST(SampleFiles, TextFilesWithCommentsHeadersAndWhitespace)
{
  const std::string file = temp_file("points.txt", true);
  write_text(file,
             "# written by numpy.savetxt\n"
             "x y\n"
             "\n"
             "1.5e+00 -2\n"
             "  +3\t4e-1  \r\n"
             "# a comment between rows\n"
             "5 6\n");
  const SampleSet samples = read_samples(file, 2);
  EXPECT_EQ(samples.values, (std::vector<double>{1.5, -2, 3, 0.4, 5, 6}));
  std::filesystem::remove(file);
}

TEST(SampleFiles, BadNpyInput)
{
  const std::string file = temp_file("bad.npy", true);
  const auto read = [&](const unsigned int d) { return [&file, d] { read_samples(file, d); }; };

  // Wrong dimension, and a hint when the array looks transposed.
  write_npy(file, std::vector<double>(6, 1.0), {3, 2});
  EXPECT_TRUE(mentions(input_error(read(3)),
                       {"'" + file + "'", "holds 2 columns", "3-dimensional", "transposed"}));
  write_npy(file, std::vector<double>(6, 1.0), {2, 3});
  EXPECT_TRUE(
      mentions(input_error(read(2)), {"'" + file + "'", "holds 3 columns", "2-dimensional"}));

  // NaN and +inf, named with their row and column.
  std::vector<double> values(8, 1.0);
  values[2 * 2 + 1] = std::numeric_limits<double>::quiet_NaN();
  write_npy(file, values, {4, 2});
  EXPECT_TRUE(mentions(input_error(read(2)), {"'" + file + "'", "NaN", "row 2, column 1"}));
  values[2 * 2 + 1] = 1.0;
  values[3 * 2 + 0] = std::numeric_limits<double>::infinity();
  write_npy(file, values, {4, 2});
  EXPECT_TRUE(mentions(input_error(read(0)), {"'" + file + "'", "+inf", "row 3, column 0"}));

  // A truncated payload.
  values[3 * 2 + 0] = 1.0;
  write_npy(file, values, {4, 2});
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 12);
  EXPECT_TRUE(
      mentions(input_error(read(2)),
               {"'" + file + "'", "is truncated", "4 x 2 values (64 bytes)", "only 52 bytes"}));

  // Not an .npy file at all.
  write_text(file, "x,y\n1,2\n");
  EXPECT_TRUE(mentions(input_error(read(2)), {"'" + file + "'", "magic"}));

  // Integers, complex numbers, structured arrays, big-endian floats.
  write_raw_npy(file,
                1,
                "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1), }",
                as_bytes(std::vector<std::int64_t>{1, 2}));
  EXPECT_TRUE(mentions(input_error(read(1)), {"'" + file + "'", "integers", "'<i8'", "'<f8'"}));
  write_raw_npy(file,
                1,
                "{'descr': '<c16', 'fortran_order': False, 'shape': (1, 1), }",
                as_bytes(std::vector<double>{1, 2}));
  EXPECT_TRUE(mentions(input_error(read(1)), {"'" + file + "'", "complex", "'<c16'"}));
  write_raw_npy(file,
                1,
                "{'descr': [('x', '<f8')], 'fortran_order': False, 'shape': (1,), }",
                as_bytes(std::vector<double>{1}));
  EXPECT_TRUE(mentions(input_error(read(1)), {"'" + file + "'", "structured"}));

  // No samples, and a 3-dimensional array.
  write_npy(file, {}, {0, 3});
  EXPECT_TRUE(mentions(input_error(read(3)), {"'" + file + "'", "no samples"}));
  write_raw_npy(file,
                1,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1), }",
                as_bytes(std::vector<double>{1}));
  EXPECT_TRUE(mentions(input_error(read(1)), {"'" + file + "'", "shape (1, 1, 1)"}));

  // A malformed header, and bytes after the data.
  write_raw_npy(file, 1, "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,), }", "");
  EXPECT_TRUE(mentions(input_error(read(1)), {"'" + file + "'", "malformed"}));
  write_npy(file, {1.0, 2.0}, {2});
  write_text(file, read_bytes(file) + "garbage!");
  EXPECT_TRUE(mentions(input_error(read(1)), {"'" + file + "'", "8 bytes more"}));

  // A missing file; an unknown extension.
  std::filesystem::remove(file);
  EXPECT_TRUE(mentions(input_error(read(2)), {"'" + file + "'", "does not exist"}));
  EXPECT_TRUE(mentions(input_error([&] { read_samples(file + ".h5", 2); }),
                       {"'" + file + ".h5'", "'.npy', '.csv' or '.txt'"}));
  EXPECT_TRUE(
      mentions(input_error([&] { read_npy_vector(file); }), {"'" + file + "'", "does not exist"}));
}

TEST(SampleFiles, BadCsvInput)
{
  const std::string file = temp_file("bad.csv", true);
  const auto read = [&](const unsigned int d) { return [&file, d] { read_samples(file, d); }; };

  write_text(file, "x,y\n1,2\n3\n");
  EXPECT_TRUE(mentions(input_error(read(2)), {"'" + file + "'", "1 value on line 3", "line 2"}));
  write_text(file, "x,y\n1,2\n3,abc\n");
  EXPECT_TRUE(mentions(input_error(read(2)),
                       {"'" + file + "'", "'abc'", "field 2 of line 3", "not a number"}));
  write_text(file, "1,2\n3,\n");
  EXPECT_TRUE(mentions(input_error(read(2)), {"'" + file + "'", "empty field 2 on line 2"}));
  write_text(file, "1,2\n3,nan\n");
  EXPECT_TRUE(mentions(input_error(read(2)), {"'" + file + "'", "NaN", "field 2 of line 2"}));
  write_text(file, "1,inf\n");
  EXPECT_TRUE(mentions(input_error(read(2)), {"'" + file + "'", "+inf", "field 2 of line 1"}));
  write_text(file, "1,2,3\n");
  EXPECT_TRUE(
      mentions(input_error(read(2)), {"'" + file + "'", "3 values on line 1", "2-dimensional"}));
  write_text(file, "# nothing but a comment\nx,y\n");
  EXPECT_TRUE(mentions(input_error(read(2)), {"'" + file + "'", "no samples"}));
  // Only the first line may be a header.
  write_text(file, "x,y\nu,v\n");
  EXPECT_TRUE(mentions(input_error(read(2)), {"'" + file + "'", "'u'", "line 2"}));
  std::filesystem::remove(file);
  EXPECT_TRUE(mentions(input_error(read(2)), {"'" + file + "'", "does not exist"}));
}
