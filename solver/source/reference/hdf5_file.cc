// The HDF5 layer of reference files (see hdf5_file.h).
#include "reference/hdf5_file.h"

#include <scorefp/core/input_error.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace scorefp
{
  namespace hdf5
  {
    namespace
    {
      [[noreturn]] void failure(const std::string &what)
      {
        throw std::runtime_error("HDF5 error: " + what + ".");
      }

      void write_dataset(const hid_t                 parent,
                         const std::string          &name,
                         const std::vector<hsize_t> &dimensions,
                         const void                 *data,
                         const hid_t                 file_type,
                         const hid_t                 memory_type)
      {
        Handle space(
            H5Screate_simple(static_cast<int>(dimensions.size()), dimensions.data(), nullptr),
            H5Sclose);
        Handle set(
            H5Dcreate2(
                parent, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose);
        if (!set.valid() || H5Dwrite(set, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
          failure("cannot write dataset " + name);
      }

      void write_scalar(const hid_t        object,
                        const std::string &name,
                        const hid_t        file_type,
                        const hid_t        memory_type,
                        const void        *value)
      {
        Handle space(H5Screate(H5S_SCALAR), H5Sclose);
        Handle a(H5Acreate2(object, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT),
                 H5Aclose);
        if (!a.valid() || H5Awrite(a, memory_type, value) < 0)
          failure("cannot write attribute " + name);
      }
    } // namespace

    QuietErrors::QuietErrors()
    {
      H5Eget_auto2(H5E_DEFAULT, &function, &data);
      H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    }

    QuietErrors::~QuietErrors()
    {
      H5Eset_auto2(H5E_DEFAULT, function, data);
    }

    Handle create_group(const hid_t parent, const std::string &name)
    {
      Handle properties(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
      if (!properties.valid() ||
          H5Pset_attr_creation_order(properties, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0)
        failure("cannot set up group " + name);
      Handle g(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, properties, H5P_DEFAULT), H5Gclose);
      if (!g.valid())
        failure("cannot create group " + name);
      return g;
    }

    void write_doubles(const hid_t                 parent,
                       const std::string          &name,
                       const std::vector<hsize_t> &dimensions,
                       const std::vector<double>  &data)
    {
      write_dataset(parent, name, dimensions, data.data(), H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
    }

    void write_int64(const hid_t                   parent,
                     const std::string            &name,
                     const std::vector<hsize_t>   &dimensions,
                     const std::vector<long long> &data)
    {
      write_dataset(parent, name, dimensions, data.data(), H5T_STD_I64LE, H5T_NATIVE_LLONG);
    }

    void write_attribute(const hid_t object, const std::string &name, const double value)
    {
      write_scalar(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
    }

    void write_attribute(const hid_t object, const std::string &name, const long long value)
    {
      write_scalar(object, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value);
    }

    void write_attribute(const hid_t object, const std::string &name, const std::string &value)
    {
      Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(type, H5T_VARIABLE);
      H5Tset_cset(type, H5T_CSET_UTF8);
      const char *text = value.c_str();
      write_scalar(object, name, type, type, &text);
    }

    void write_entries(const hid_t parent, const std::string &name, const Entries &entries)
    {
      Handle group = create_group(parent, name);
      for (const auto &[key, value] : entries)
        write_attribute(group, key, value);
    }

    // ---------------------------------------------------------------- reading

    void Reader::fail(const std::string &what) const
    {
      throw InputError(kind + " '" + file + "' is inconsistent: " + what + "; expected " +
                       expected + ".");
    }

    bool Reader::has_attribute(const hid_t object, const std::string &name) const
    {
      return H5Aexists(object, name.c_str()) > 0;
    }

    std::string Reader::string_attribute(const hid_t object, const std::string &name) const
    {
      if (!has_attribute(object, name))
        fail("attribute '" + name + "' is missing");
      Handle a(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
      Handle type(H5Aget_type(a), H5Tclose);
      if (H5Tget_class(type) != H5T_STRING)
        fail("attribute '" + name + "' is not a string");
      if (H5Tis_variable_str(type) > 0)
        {
          Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
          H5Tset_size(memory, H5T_VARIABLE);
          H5Tset_cset(memory, H5Tget_cset(type));
          char *text = nullptr;
          if (H5Aread(a, memory, &text) < 0 || text == nullptr)
            fail("attribute '" + name + "' cannot be read");
          std::string value(text);
          H5free_memory(text);
          return value;
        }
      const std::size_t size = H5Tget_size(type);
      std::string       buffer(size, '\0');
      Handle            memory(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(memory, size);
      if (H5Aread(a, memory, buffer.data()) < 0)
        fail("attribute '" + name + "' cannot be read");
      return buffer.substr(0, buffer.find('\0'));
    }

    double Reader::double_attribute(const hid_t object, const std::string &name) const
    {
      if (!has_attribute(object, name))
        fail("attribute '" + name + "' is missing");
      Handle a(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
      double value = 0;
      if (H5Aread(a, H5T_NATIVE_DOUBLE, &value) < 0)
        fail("attribute '" + name + "' is not a number");
      return value;
    }

    long long Reader::integer_attribute(const hid_t object, const std::string &name) const
    {
      if (!has_attribute(object, name))
        fail("attribute '" + name + "' is missing");
      Handle    a(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
      long long value = 0;
      if (H5Aread(a, H5T_NATIVE_LLONG, &value) < 0)
        fail("attribute '" + name + "' is not an integer");
      return value;
    }

    Entries Reader::string_attributes(const hid_t object, const std::string &object_name) const
    {
      // Creation order where the writer tracked it (scorefp does), else name order.
      Handle       properties(H5Gget_create_plist(object), H5Pclose);
      unsigned int order_flags = 0;
      if (properties.valid())
        H5Pget_attr_creation_order(properties, &order_flags);
      const H5_index_t index =
          (order_flags & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
      std::vector<std::string> names;
      const auto collect = [](hid_t, const char *name, const H5A_info_t *, void *data) -> herr_t {
        static_cast<std::vector<std::string> *>(data)->emplace_back(name);
        return 0;
      };
      hsize_t position = 0;
      if (H5Aiterate2(object, index, H5_ITER_INC, &position, collect, &names) < 0)
        fail("the attributes of '" + object_name + "' cannot be listed");
      Entries entries;
      for (const std::string &name : names)
        entries.emplace_back(name, string_attribute(object, name));
      return entries;
    }

    bool Reader::exists(const hid_t parent, const std::string &name) const
    {
      return H5Lexists(parent, name.c_str(), H5P_DEFAULT) > 0;
    }

    Handle Reader::group(const hid_t parent, const std::string &name) const
    {
      if (!exists(parent, name))
        fail("group '" + name + "' is missing");
      Handle g(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose);
      if (!g.valid())
        fail("'" + name + "' is not a group");
      return g;
    }

    std::vector<hsize_t> Reader::shape_of(const Handle &set, const std::string &name) const
    {
      if (!set.valid())
        fail("'" + name + "' is not a dataset");
      Handle               space(H5Dget_space(set), H5Sclose);
      const int            rank = H5Sget_simple_extent_ndims(space);
      std::vector<hsize_t> dimensions(std::max(rank, 0));
      H5Sget_simple_extent_dims(space, dimensions.data(), nullptr);
      return dimensions;
    }

    void Reader::read_dataset(const hid_t                 parent,
                              const std::string          &name,
                              const std::vector<hsize_t> &shape,
                              const hid_t                 memory_type,
                              void                       *values,
                              const hsize_t               n) const
    {
      if (!exists(parent, name))
        fail("dataset '" + name + "' is missing");
      Handle                     set(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
      const std::vector<hsize_t> dimensions = shape_of(set, name);
      if (dimensions != shape)
        {
          std::ostringstream s;
          s << "dataset '" << name << "' has shape (";
          for (std::size_t k = 0; k < dimensions.size(); ++k)
            s << (k ? ", " : "") << dimensions[k];
          s << "), expected (";
          for (std::size_t k = 0; k < shape.size(); ++k)
            s << (k ? ", " : "") << shape[k];
          s << ")";
          fail(s.str());
        }
      if (n > 0 && H5Dread(set, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0)
        fail("dataset '" + name + "' cannot be read as numbers");
    }

    namespace
    {
      hsize_t product(const std::vector<hsize_t> &shape)
      {
        hsize_t n = 1;
        for (const hsize_t d : shape)
          n *= d;
        return n;
      }
    } // namespace

    std::vector<double> Reader::doubles(const hid_t                 parent,
                                        const std::string          &name,
                                        const std::vector<hsize_t> &shape) const
    {
      std::vector<double> values(product(shape));
      read_dataset(parent, name, shape, H5T_NATIVE_DOUBLE, values.data(), values.size());
      return values;
    }

    std::vector<long long> Reader::int64(const hid_t                 parent,
                                         const std::string          &name,
                                         const std::vector<hsize_t> &shape) const
    {
      std::vector<long long> values(product(shape));
      read_dataset(parent, name, shape, H5T_NATIVE_LLONG, values.data(), values.size());
      return values;
    }

    hsize_t Reader::leading_dimension(const hid_t parent, const std::string &name) const
    {
      if (!exists(parent, name))
        fail("dataset '" + name + "' is missing");
      Handle                     set(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
      const std::vector<hsize_t> dimensions = shape_of(set, name);
      return dimensions.empty() ? 0 : dimensions[0];
    }
  } // namespace hdf5
} // namespace scorefp
