// Clouds of closed-form densities on a case's mesh, numbered as in a reference file
// of that case: the solver's mesh built serially, its cells sorted by CellId and
// flattened as the reader flattens them (mesh_geometry.h).
#include "reference/mesh_geometry.h"

#include <scorefp/core/input_error.h>
#include <scorefp/mesh/mesh.h>
#include <scorefp/reference/reference_field.h>

#include <memory>
#include <vector>

namespace scorefp
{
  using dealii::Point;
  using reference_detail::closed_form_cloud_on;
  using reference_detail::MeshGeometry;
  using reference_detail::sort_and_merge;

  class CaseMeshCloud::Geometry
  {
  public:
    virtual ~Geometry()                  = default;
    virtual unsigned int n_cells() const = 0;
    virtual QuadratureCloud
    cloud(double c, const DensityField &density, unsigned int ppd) const                 = 0;
    virtual std::vector<int> locate(double c, const double *points, std::size_t n) const = 0;
  };

  namespace
  {
    template <int dim>
    class CaseGeometry : public CaseMeshCloud::Geometry
    {
    public:
      CaseGeometry(const MeshParameters &parameters, const unsigned int level)
      {
        // The solver's kind of triangulation (p4est in 2D/3D), on this process alone:
        // its CellIds, and so the sorted cell numbering, are those of the solver's mesh
        // on any number of ranks (p4est renumbers the coarse cells).
        const auto triangulation = create_triangulation<dim>(MPI_COMM_SELF);
        make_mesh(*triangulation, parameters, level);
        std::vector<unsigned int> ids;
        std::vector<double>       cell_vertices;
        for (const auto &cell : triangulation->active_cell_iterators())
          {
            const auto binary = cell->id().template to_binary<dim>();
            ids.insert(ids.end(), binary.begin(), binary.end());
            for (const unsigned int v : cell->vertex_indices())
              for (unsigned int d = 0; d < dim; ++d)
                cell_vertices.push_back(cell->vertex(v)[d]);
          }
        std::vector<unsigned int>                             order;
        std::vector<Point<dim>>                               vertices;
        std::vector<typename MeshGeometry<dim>::CellVertices> cells;
        sort_and_merge<dim>(ids, cell_vertices, order, vertices, cells);
        geometry = std::make_unique<MeshGeometry<dim>>(std::move(vertices), std::move(cells));
      }

      unsigned int n_cells() const override { return geometry->n_cells(); }

      QuadratureCloud
      cloud(const double c, const DensityField &density, const unsigned int ppd) const override
      {
        return closed_form_cloud_on(*geometry, c, density, ppd);
      }

      std::vector<int>
      locate(const double c, const double *points, const std::size_t n) const override
      {
        return geometry->locate_all(c, points, n);
      }

    private:
      std::unique_ptr<MeshGeometry<dim>> geometry;
    };
  } // namespace

  CaseMeshCloud::CaseMeshCloud(const MeshParameters &mesh,
                               const unsigned int    dimension,
                               const unsigned int    refinement_level)
      : dim(dimension)
  {
    switch (dimension)
      {
      case 1:
        geometry = std::make_unique<CaseGeometry<1>>(mesh, refinement_level);
        break;
      case 2:
        geometry = std::make_unique<CaseGeometry<2>>(mesh, refinement_level);
        break;
      case 3:
        geometry = std::make_unique<CaseGeometry<3>>(mesh, refinement_level);
        break;
      default:
        throw InputError("Case meshes exist for dimensions 1, 2 and 3 only.");
      }
  }

  CaseMeshCloud::~CaseMeshCloud() = default;

  unsigned int CaseMeshCloud::n_cells() const
  {
    return geometry->n_cells();
  }

  QuadratureCloud CaseMeshCloud::closed_form_cloud(const double        c,
                                                   const DensityField &density,
                                                   const unsigned int  points_per_direction) const
  {
    return geometry->cloud(c, density, points_per_direction);
  }

  std::vector<int>
  CaseMeshCloud::locate(const double c, const double *points, const std::size_t n) const
  {
    return geometry->locate(c, points, n);
  }

  QuadratureCloud closed_form_cloud(const MeshParameters &mesh,
                                    const unsigned int    dimension,
                                    const unsigned int    refinement_level,
                                    const double          c,
                                    const DensityField   &density,
                                    const unsigned int    points_per_direction)
  {
    return CaseMeshCloud(mesh, dimension, refinement_level)
        .closed_form_cloud(c, density, points_per_direction);
  }
} // namespace scorefp
