#include <scorefp/core/input_error.h>
#include <scorefp/mesh/mesh.h>

#include <deal.II/distributed/shared_tria.h>
#include <deal.II/distributed/tria.h>
#include <deal.II/fe/mapping_q.h>
#include <deal.II/grid/grid_generator.h>
#include <deal.II/grid/grid_in.h>

#include <cmath>
#include <fstream>

namespace scorefp
{
  using namespace dealii;

  template <int dim>
  std::unique_ptr<parallel::TriangulationBase<dim>>
  create_triangulation(const MPI_Comm communicator)
  {
    if constexpr (dim == 1)
      // Artificial cells make the shared triangulation behave like a distributed one
      // (each rank knows only its cells and one layer of ghosts).
      return std::make_unique<parallel::shared::Triangulation<dim>>(
          communicator, Triangulation<dim>::none, /*allow_artificial_cells=*/true);
    else
      return std::make_unique<parallel::distributed::Triangulation<dim>>(communicator);
  }

  template <int dim>
  void make_mesh(Triangulation<dim> &tria, const MeshParameters &p, const unsigned int level)
  {
    if (p.geometry == MeshParameters::Geometry::box)
      {
        Point<dim>                lower, upper;
        std::vector<unsigned int> repetitions(dim);
        double                    shortest = 1e300;
        for (unsigned int j = 0; j < dim; ++j)
          shortest = std::min(shortest, p.upper_corner[j] - p.lower_corner[j]);
        for (unsigned int j = 0; j < dim; ++j)
          {
            lower[j]       = p.lower_corner[j];
            upper[j]       = p.upper_corner[j];
            repetitions[j] = std::max(
                1u,
                static_cast<unsigned int>(std::lround(
                    p.coarse_subdivisions * (p.upper_corner[j] - p.lower_corner[j]) / shortest)));
          }
        GridGenerator::subdivided_hyper_rectangle(tria, repetitions, lower, upper);
      }
    else if (p.geometry == MeshParameters::Geometry::ball)
      {
        if constexpr (dim == 1)
          GridGenerator::hyper_cube(tria, -p.ball_radius, p.ball_radius);
        else
          GridGenerator::hyper_ball_balanced(tria, Point<dim>(), p.ball_radius);
      }
    else // MeshParameters::Geometry::gmsh
      {
        std::ifstream file(p.gmsh_file);
        if (!file)
          throw InputError("Mesh/Gmsh file '" + p.gmsh_file +
                           "' cannot be opened; expected a readable .msh file.");
        GridIn<dim> grid_in;
        grid_in.attach_triangulation(tria);
        try
          {
            grid_in.read_msh(file);
          }
        catch (const std::exception &e)
          {
            throw InputError("Mesh/Gmsh file '" + p.gmsh_file + "' is not a valid " +
                             std::to_string(dim) + "D Gmsh mesh of quadrilaterals/hexahedra.");
          }
      }
    tria.refine_global(level);
  }

  template <int dim>
  std::unique_ptr<Mapping<dim>> create_mapping(const MeshParameters &p, const unsigned int degree)
  {
    return std::make_unique<MappingQ<dim>>(p.geometry == MeshParameters::Geometry::box ? 1 : degree);
  }

#define SCOREFP_INSTANTIATE(dim)                                                                  \
  template std::unique_ptr<parallel::TriangulationBase<dim>> create_triangulation<dim>(           \
      const MPI_Comm);                                                                            \
  template void make_mesh<dim>(Triangulation<dim> &, const MeshParameters &, const unsigned int); \
  template std::unique_ptr<Mapping<dim>> create_mapping<dim>(const MeshParameters &,              \
                                                             const unsigned int);
  SCOREFP_INSTANTIATE(1)
  SCOREFP_INSTANTIATE(2)
  SCOREFP_INSTANTIATE(3)
#undef SCOREFP_INSTANTIATE
} // namespace scorefp
