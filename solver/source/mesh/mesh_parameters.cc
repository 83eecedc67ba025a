#include <scorefp/core/parameter_binder.h>
#include <scorefp/mesh/mesh_parameters.h>

#include <deal.II/base/patterns.h>

namespace scorefp
{
  namespace Patterns = dealii::Patterns;

  void MeshParameters::bind(ParameterBinder &b)
  {
    b.add_selection("Geometry",
                    geometry,
                    {{"box", Geometry::box}, {"ball", Geometry::ball}, {"gmsh", Geometry::gmsh}},
                    "Computational domain: an axis-parallel box, a ball centred at 0, or a Gmsh "
                    "mesh file. With scaled coordinates the domain is given in xi = x / c(t).");
    b.add("Box lower corner",
          lower_corner,
          "box: lower corner, one number (all directions) or d numbers.");
    b.add("Box upper corner",
          upper_corner,
          "box: upper corner, one number (all directions) or d numbers.");
    b.add("Ball radius", ball_radius, "ball: radius.", Patterns::Double(0));
    b.add("Gmsh file",
          gmsh_file,
          "gmsh: path of a .msh file (format 2.2 or 4), relative to the working directory.");
    b.add("Coarse subdivisions",
          coarse_subdivisions,
          "box: cells of the coarse mesh along the shortest edge (other edges in proportion).",
          Patterns::Integer(1, 1000));
    b.add("Refinement levels",
          refinement_levels,
          "Global refinements of the coarse mesh. Several values (e.g. '3, 4, 5') run a "
          "convergence study.",
          Patterns::List(Patterns::Integer(0, 20), 1));
    b.add("Minimum mass in domain",
          minimum_mass,
          "The exact initial and final densities must put at least this probability inside "
          "the domain; otherwise the run stops.",
          Patterns::Double(0, 1));
    b.require(geometry != Geometry::ball || ball_radius > 0, "Mesh/Ball radius must be positive.");
  }

  std::string MeshParameters::geometry_name() const
  {
    switch (geometry)
      {
        case Geometry::box:
          return "box";
        case Geometry::ball:
          return "ball";
        case Geometry::gmsh:
          return "gmsh";
      }
    return "box";
  }

  namespace
  {
    std::vector<double>
    corner(const std::vector<double> &values, const unsigned int dim, const std::string &entry)
    {
      if (values.size() == 1)
        return std::vector<double>(dim, values[0]);
      if (values.size() != dim)
        throw InputError(entry + " has " + std::to_string(values.size()) +
                         " coordinates; expected 1 or " + std::to_string(dim) + ".");
      return values;
    }
  } // namespace

  void MeshParameters::resolve(const unsigned int dim)
  {
    lower_corner = corner(lower_corner, dim, "Mesh/Box lower corner");
    upper_corner = corner(upper_corner, dim, "Mesh/Box upper corner");
    for (unsigned int j = 0; j < dim; ++j)
      if (!(upper_corner[j] > lower_corner[j]))
        throw InputError("Mesh/Box upper corner must exceed Mesh/Box lower corner in every "
                         "coordinate (coordinate " +
                         std::to_string(j) + " does not).");
  }
} // namespace scorefp
