// The family of data sets chosen by Initial data/Type. A data set is one file in
// source/data/ holding its parameter struct (whose bind() declares and parses its own
// entries of section Initial data), its documentation and one registration line:
//
//   SCOREFP_REGISTER(DataRegistry, "checkerboard", "documentation ...", NoParameters,
//                    [](const NoParameters &) { return std::make_unique<Board>(); });
//
// The factory builds a DataSet: the data set as its entries gave it, not yet placed in
// a dimension. Parsing only records the entries (DataParameters::settings); the DataSet
// is built from them when it is checked (DataParameters::resolve) or created
// (create_data), so that nothing is read from disk while parsing.
#pragma once

#include <scorefp/core/registry.h>
#include <scorefp/data/data_distribution.h>

#include <memory>
#include <string>

namespace scorefp
{
  class DataSet
  {
  public:
    virtual ~DataSet() = default;

    /// Check the entries against the dimension without reading any file; InputError
    /// with one sentence naming the entry otherwise. The default checks nothing.
    virtual void check(const unsigned int dimension) const;

    /// p0 in `dimension`, unsmoothed (create_data() adds the common smoothing); may read
    /// the files the entries name. InputError if the data set does not fit the dimension.
    virtual std::unique_ptr<DataDistribution> create(const unsigned int dimension) const = 0;

    /// Empty when the score of p0 is defined everywhere; otherwise what the data set is,
    /// for messages of score runs and samplers, which then need a positive Smoothing
    /// variance ("the checkerboard, whose score is undefined off its squares").
    virtual std::string undefined_score() const;
  };

  using DataRegistry = Registry<DataSet>;

  /// The data set p.type built from p.settings (InputError naming the entry on bad input).
  std::unique_ptr<DataSet> create_data_set(const DataParameters &p);
} // namespace scorefp
