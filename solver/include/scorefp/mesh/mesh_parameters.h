// The computational domain as the parameter file describes it (section Mesh).
#pragma once

#include <string>
#include <vector>

namespace scorefp
{
  class ParameterBinder;

  struct MeshParameters
  {
    enum class Geometry
    {
      box,
      ball,
      gmsh
    };
    Geometry                  geometry = Geometry::box;
    /// One number (every direction) or d numbers; resolve() makes them d numbers.
    std::vector<double>       lower_corner{-5.0};
    std::vector<double>       upper_corner{5.0};
    double                    ball_radius = 6.0;
    std::string               gmsh_file   = "meshes/disk.msh";
    unsigned int              coarse_subdivisions = 1;
    std::vector<unsigned int> refinement_levels{4};
    double                    minimum_mass = 0.9999;

    /// Declare or parse the entries of section Mesh.
    void bind(ParameterBinder &binder);
    /// Expand the corners to `dimension` numbers and check them (InputError).
    void resolve(const unsigned int dimension);
    /// "box", "ball" or "gmsh", as the parameter file names the geometry.
    std::string geometry_name() const;
    /// Curved boundaries (ball, Gmsh) need a higher-order mapping.
    bool curved() const { return geometry != Geometry::box; }
  };
} // namespace scorefp
