// A small RAII layer over the HDF5 C API for reference files and score grids (private
// to the library): identifiers closed by their own close function, groups, datasets
// and scalar attributes of the three types the format uses (float64, int64, UTF-8
// strings), and a reader whose every failure is an InputError naming the file.
//
// HDF5 is used through its C API rather than deal.II's HDF5 wrappers: those (deal.II
// 9.4) have no 64-bit integer type and check errors only with Assert, that is not at
// all in release builds, where a missing or foreign file must still give a clear
// InputError.
#pragma once

#include <hdf5.h>

#include <string>
#include <utility>
#include <vector>

namespace scorefp
{
  namespace hdf5
  {
    /// An HDF5 identifier closed by its own close function when it goes out of scope.
    class Handle
    {
    public:
      Handle() = default;
      Handle(const hid_t id, herr_t (*close)(hid_t))
          : id(id)
          , close(close)
      {
      }
      Handle(const Handle &)            = delete;
      Handle &operator=(const Handle &) = delete;
      Handle(Handle &&other) noexcept
          : id(other.id)
          , close(other.close)
      {
        other.id = -1;
      }
      Handle &operator=(Handle &&other) noexcept
      {
        reset();
        id       = other.id;
        close    = other.close;
        other.id = -1;
        return *this;
      }
      ~Handle() { reset(); }
      void reset()
      {
        if (id >= 0 && close != nullptr)
          close(id);
        id = -1;
      }
           operator hid_t() const { return id; }
      bool valid() const { return id >= 0; }

    private:
      hid_t id               = -1;
      herr_t (*close)(hid_t) = nullptr;
    };

    /// Silences HDF5's own error printing while alive (errors become exceptions here).
    class QuietErrors
    {
    public:
      QuietErrors();
      ~QuietErrors();

    private:
      H5E_auto2_t function = nullptr;
      void       *data     = nullptr;
    };

    /// Text entries (key, value), e.g. a parameter section's entries.
    using Entries = std::vector<std::pair<std::string, std::string>>;

    // Writing. Failures throw std::runtime_error naming the object (they are not
    // user errors: the file was created by this process).

    /// A new group; its attributes are listed in creation order when read back.
    Handle create_group(const hid_t parent, const std::string &name);
    void   write_doubles(const hid_t                 parent,
                         const std::string          &name,
                         const std::vector<hsize_t> &dimensions,
                         const std::vector<double>  &data);
    void   write_int64(const hid_t                   parent,
                       const std::string            &name,
                       const std::vector<hsize_t>   &dimensions,
                       const std::vector<long long> &data);
    void   write_attribute(const hid_t object, const std::string &name, const double value);
    void   write_attribute(const hid_t object, const std::string &name, const long long value);
    /// A variable-length UTF-8 string (h5py returns it as str).
    void write_attribute(const hid_t object, const std::string &name, const std::string &value);
    /// A group whose string attributes are the entries, in their order.
    void write_entries(const hid_t parent, const std::string &name, const Entries &entries);

    /// Reading: every failure is an InputError naming the file and the object.
    class Reader
    {
    public:
      /// kind and expected word the messages: "KIND 'F' is inconsistent: WHAT; expected
      /// EXPECTED." (a reference file unless told otherwise).
      explicit Reader(const std::string &file,
                      const std::string &kind = "Reference file",
                      const std::string &expected =
                          "a file written by scorefp (postprocess/REFERENCE_FORMAT.md)")
          : file(file)
          , kind(kind)
          , expected(expected)
      {
      }

      /// "Reference file 'F' is inconsistent: WHAT; expected a file written by scorefp".
      [[noreturn]] void fail(const std::string &what) const;

      bool        has_attribute(const hid_t object, const std::string &name) const;
      std::string string_attribute(const hid_t object, const std::string &name) const;
      double      double_attribute(const hid_t object, const std::string &name) const;
      long long   integer_attribute(const hid_t object, const std::string &name) const;
      /// Every attribute of the group, which must be strings, in creation order (name
      /// order for files that did not track it).
      Entries string_attributes(const hid_t object, const std::string &object_name) const;

      bool   exists(const hid_t parent, const std::string &name) const;
      Handle group(const hid_t parent, const std::string &name) const;

      /// A dataset of the given shape (checked) converted to doubles or 64-bit integers.
      std::vector<double>
      doubles(const hid_t parent, const std::string &name, const std::vector<hsize_t> &shape) const;
      std::vector<long long>
      int64(const hid_t parent, const std::string &name, const std::vector<hsize_t> &shape) const;

      /// The first dimension of a dataset (0 if it has none).
      hsize_t leading_dimension(const hid_t parent, const std::string &name) const;

      std::string file, kind, expected;

    private:
      std::vector<hsize_t> shape_of(const Handle &set, const std::string &name) const;
      void                 read_dataset(const hid_t                 parent,
                                        const std::string          &name,
                                        const std::vector<hsize_t> &shape,
                                        const hid_t                 memory_type,
                                        void                       *values,
                                        const hsize_t               n) const;
    };
  } // namespace hdf5
} // namespace scorefp
