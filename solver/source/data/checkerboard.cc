// Initial data/Type = checkerboard: uniform on alternate cells of side 1.5 in [-3, 3]^d.
#include <scorefp/data/data_set.h>

namespace scorefp
{
  namespace
  {
    class CheckerboardSet : public DataSet
    {
    public:
      std::unique_ptr<DataDistribution> create(const unsigned int dimension) const override
      {
        return std::make_unique<Checkerboard>(dimension);
      }

      // Piecewise constant: the score is 0 on the squares and undefined off them.
      std::string undefined_score() const override
      {
        return "the checkerboard, whose score is undefined off its squares";
      }
    };
  } // namespace

  SCOREFP_REGISTER(DataRegistry,
                   "checkerboard",
                   "uniform on alternate cells of side 1.5 in [-3,3]^d (Deveney et al.; 8 squares "
                   "in 2D); score and log-density runs and samplers need Smoothing variance > 0.",
                   NoParameters,
                   [](const NoParameters &) { return std::make_unique<CheckerboardSet>(); })
} // namespace scorefp
