// Reference files (postprocess/REFERENCE_FORMAT.md): a density or score run's solution
// at its output times, stored with its mesh in HDF5, and reloaded here as a field that
// can be evaluated, integrated (quadrature cloud), searched (locate) and sampled at any
// physical point, on any number of ranks and without communication. The sampler uses
// it as a score, the checker as the reference law.
#pragma once

#include <scorefp/data/data_distribution.h>
#include <scorefp/fe/quadrature_cloud.h>
#include <scorefp/mesh/mesh_parameters.h>
#include <scorefp/process/forward_process.h>

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace scorefp
{
  /// Which score evaluate() returns: the finite-element solution of the score FPE
  /// (score runs only), or grad p_h / p_h of the finite-element density.
  enum class ScoreSource
  {
    finite_element,
    log_density_gradient
  };

  /// The format string of the files this version writes ("scorefp reference N"). It
  /// also reads version 1, which stored the process coefficients by name.
  inline constexpr const char  *reference_format         = "scorefp reference 2";
  inline constexpr unsigned int reference_format_version = 2;

  /// What a reference file says about the run that wrote it: root attributes, and the
  /// parameter-file entries of the process (/process) and data set (/data).
  struct ReferenceMetadata
  {
    unsigned int      format_version = reference_format_version; // of the file read
    std::string       scorefp_version;
    std::string       equation; // "density" or "score"
    unsigned int      dimension = 0, degree = 0;
    ProcessParameters process; // process.type is the process name ("VP", ...)
    DataParameters    data;    // version-1 files: from the run's parameter text
    std::string       data_description; // e.g. "Gaussian mixture with 9 components"
    bool              scaled_coordinates = false;
    std::string       geometry;   // box, ball, gmsh
    std::string       parameters; // the full parameter text as run (PRM short form)
  };

  /**
   * A reference file in memory. Every rank reads the whole file; all evaluation is
   * local. Coordinates in and out are physical (original) coordinates x; the mesh lives
   * in mesh coordinates xi = x / c(t_i) (c = 1 without scaled coordinates).
   *
   * Cells are flat: evaluation maps the unit cell with the d-linear map of each cell's
   * vertices (MappingQ1). Box meshes are affine and exact; the curved boundary cells of
   * ball and Gmsh meshes are represented by their straight-sided versions.
   *
   * Not thread-safe for concurrent sample() calls on one object (it caches each
   * snapshot's sampling envelope on first use); evaluate(), locate() and cloud() are.
   */
  class ReferenceField
  {
  public:
    virtual ~ReferenceField() = default;

    /// Read a reference file. Throws InputError naming the file if it is missing, not
    /// HDF5, not a scorefp reference, of an unsupported format version, or inconsistent.
    static std::unique_ptr<ReferenceField> read(const std::string &file);

    const ReferenceMetadata &metadata() const { return info; }
    unsigned int             dimension() const { return info.dimension; }
    unsigned int             degree() const { return info.degree; }
    std::string              equation() const { return info.equation; }
    std::string              data_description() const { return info.data_description; }
    const DataParameters    &data_parameters() const { return info.data; }
    std::string              process_name() const { return info.process.type; }
    const ProcessParameters &process_parameters() const { return info.process; }
    bool                     scaled_coordinates() const { return info.scaled_coordinates; }
    /// The file it was read from (empty for a field built in memory by a run).
    const std::string &file() const { return file_name; }

    /// True for score runs: the file holds the finite-element score.
    virtual bool                has_score() const                       = 0;
    virtual unsigned int        n_cells() const                         = 0;
    virtual unsigned int        n_snapshots() const                     = 0;
    virtual std::vector<double> times() const                           = 0;
    virtual double              time(const unsigned int snapshot) const = 0;
    /// c(t_i): physical x = c xi.
    virtual double scale(const unsigned int snapshot) const = 0;
    /// The integral of p_h over the mesh (the sum of the cloud weights).
    virtual double mass(const unsigned int snapshot) const = 0;
    /// Mean (d) and covariance (d*d, row-major) of p_h, normalised by its mass.
    virtual std::vector<double> mean(const unsigned int snapshot) const       = 0;
    virtual std::vector<double> covariance(const unsigned int snapshot) const = 0;
    /// The mesh's bounding box at snapshot i in physical coordinates (d numbers each).
    virtual void bounding_box(const unsigned int   snapshot,
                              std::vector<double> &lower,
                              std::vector<double> &upper) const = 0;

    /// Density (may be null; n values) and score (may be null; n*d values, point-major)
    /// of snapshot i at n physical points (n*d values, point-major). Outside the mesh
    /// the density is 0 and the score is that of the snapshot's moment-matched
    /// Gaussian N(mean, covariance), and inside[k] = 0 (inside may be null). With
    /// ScoreSource::log_density_gradient, points where p_h <= 0 also get the Gaussian
    /// score. finite_element on a density run's file throws InputError.
    virtual void evaluate(const unsigned int snapshot,
                          const double      *points,
                          const std::size_t  n,
                          double            *density,
                          double            *score,
                          const ScoreSource  source,
                          std::vector<char> *inside = nullptr) const = 0;

    /// The same at any time t in [first, last snapshot time]: linear interpolation in
    /// time between the two enclosing snapshots (a snapshot time uses that snapshot
    /// alone; inside = inside at both). Throws InputError outside the range, naming it.
    void evaluate_at_time(const double       t,
                          const double      *points,
                          const std::size_t  n,
                          double            *density,
                          double            *score,
                          const ScoreSource  source,
                          std::vector<char> *inside = nullptr) const;

    /// The quadrature cloud of snapshot i: QGauss(points_per_direction) in every cell,
    /// physical points, weights p_h(x_q) JxW_q (physical measure), cells numbered as
    /// in the file; mass_outside = 1 - sum of the weights.
    virtual QuadratureCloud cloud(const unsigned int snapshot,
                                  const unsigned int points_per_direction) const = 0;

    /// The mesh cell (0 .. n_cells-1) of each physical point at snapshot i, -1 outside.
    virtual std::vector<int>
    locate(const unsigned int snapshot, const double *points, const std::size_t n) const = 0;

    /// n samples from p_h at snapshot i, negative values clipped to 0, written to out
    /// (n*d, point-major, physical). Exact rejection sampling: a cell is drawn with
    /// probability proportional to a bound of p_h |J| on it (the Bernstein form of p_h
    /// times the largest |J|), a uniform point in the unit cell is mapped and accepted
    /// with probability p_h |J| / bound. Sample k uses CounterRng(seed, stream_offset + k)
    /// alone, so the samples do not depend on how they are split across calls or ranks.
    virtual void sample(const unsigned int  snapshot,
                        const std::size_t   n,
                        const std::uint64_t seed,
                        const std::uint64_t stream_offset,
                        double             *out) const = 0;

    /// Draws whose p_h |J| exceeded their cell's bound (possible only on non-affine 3D
    /// cells, where |J| is bounded by sampling); the bound is then raised.
    virtual unsigned long long n_bound_violations() const = 0;

  protected:
    ReferenceMetadata info;
    std::string       file_name;
  };

  /**
   * The cloud and locate machinery of ReferenceField for a closed-form density on a
   * case's mesh: the mesh of MeshParameters at a refinement level, built serially with
   * the solver's geometry, its cells numbered as in a reference file of that case
   * (sorted by CellId), flat cells as in ReferenceField. For checks against closed forms.
   */
  class CaseMeshCloud
  {
  public:
    CaseMeshCloud(const MeshParameters &mesh,
                  const unsigned int    dimension,
                  const unsigned int    refinement_level);
    ~CaseMeshCloud();
    unsigned int dimension() const { return dim; }
    unsigned int n_cells() const;

    /// QGauss(points_per_direction) in every cell of the mesh stretched by c (x = c xi),
    /// weights density(x_q) JxW_q; mass_outside = 1 - sum of the weights.
    QuadratureCloud closed_form_cloud(const double        c,
                                      const DensityField &density,
                                      const unsigned int  points_per_direction) const;

    /// The cell of each physical point of the mesh stretched by c, -1 outside.
    std::vector<int> locate(const double c, const double *points, const std::size_t n) const;

    class Geometry; // implementation detail

  private:
    unsigned int              dim;
    std::unique_ptr<Geometry> geometry;
  };


  /// CaseMeshCloud(mesh, dimension, refinement_level).closed_form_cloud(c, density, ppd).
  QuadratureCloud closed_form_cloud(const MeshParameters &mesh,
                                    const unsigned int    dimension,
                                    const unsigned int    refinement_level,
                                    const double          c,
                                    const DensityField   &density,
                                    const unsigned int    points_per_direction);
} // namespace scorefp
