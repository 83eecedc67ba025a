// Computational domains: a box, a ball or a Gmsh mesh, globally refined, on a
// p4est-distributed triangulation in 2D/3D and a shared one in 1D (p4est has no 1D).
#pragma once

#include <scorefp/mesh/mesh_parameters.h>

#include <deal.II/distributed/tria_base.h>
#include <deal.II/fe/mapping.h>

#include <memory>

namespace scorefp
{
  template <int dim>
  std::unique_ptr<dealii::parallel::TriangulationBase<dim>>
  create_triangulation(const MPI_Comm communicator);

  /// Build the coarse mesh of p and refine it globally refinement_level times.
  /// Throws InputError for a missing or unreadable Gmsh file.
  template <int dim>
  void make_mesh(dealii::Triangulation<dim> &tria,
                 const MeshParameters       &p,
                 const unsigned int          refinement_level);

  /// Q_degree mapping for curved domains (ball, Gmsh with manifolds), Q1 for a box.
  template <int dim>
  std::unique_ptr<dealii::Mapping<dim>> create_mapping(const MeshParameters &p,
                                                       const unsigned int    degree);
} // namespace scorefp
