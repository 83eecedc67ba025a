// What the reader and the writer of reference files fill (private to the reference
// module): the raw arrays of a ReferenceField plus its metadata. The field itself, for
// d = 1, 2, 3, is in reference_field.cc; create_field() makes one.
#pragma once

#include <scorefp/reference/reference_field.h>

#include <memory>
#include <string>
#include <vector>

namespace scorefp
{
  namespace reference_detail
  {
    struct SnapshotData
    {
      double              time = 0, scale = 1, mass = 0;
      std::vector<double> density; // n_cells x dofs_per_cell
      std::vector<double> score;   // n_cells x d x dofs_per_cell, or empty
      std::vector<double> mean, covariance;
    };

    /// What both the writer and the reader fill: raw arrays plus metadata; the
    /// dimension-templated class below evaluates.
    class ReferenceData : public ReferenceField
    {
    public:
      virtual void set_mesh(std::vector<double> vertices, std::vector<long long> cells) = 0;
      /// Append a snapshot; with compute_moments its mass, mean and covariance are
      /// computed from the cloud (writer), otherwise taken as given (reader).
      virtual void add_snapshot(SnapshotData data, const bool compute_moments)   = 0;
      virtual const std::vector<double>    &vertex_coordinates() const           = 0;
      virtual const std::vector<long long> &cell_vertices() const                = 0;
      virtual unsigned int                  dofs_per_cell() const                = 0;
      virtual const SnapshotData           &snapshot(const unsigned int i) const = 0;
      virtual std::vector<double>           unit_support_points() const          = 0;
      virtual std::vector<long long>        lexicographic_to_local() const       = 0;

      void set_info(const ReferenceMetadata &metadata, const std::string &file)
      {
        info      = metadata;
        file_name = file;
      }
    };

    /// An empty field of this dimension (1, 2 or 3; InputError otherwise), degree and kind.
    std::unique_ptr<ReferenceData>
    create_field(const unsigned int dim, const unsigned int degree, const bool with_score);
  } // namespace reference_detail
} // namespace scorefp
