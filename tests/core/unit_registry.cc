// The registry and the parameter binder: one statement per entry declares, documents,
// defaults and parses it; families list their members; a task's listing holds only the
// sections it reads.
#include <scorefp/core/parameter_binder.h>
#include <scorefp/core/registry.h>
#include <scorefp/tasks/parameters.h>
#include <scorefp/tasks/task.h>

#include <deal.II/base/parameter_handler.h>

#include <gtest/gtest.h>

#include <sstream>

namespace scorefp
{
  namespace
  {
    class Shape
    {
    public:
      virtual ~Shape()                   = default;
      virtual double area() const        = 0;
      virtual double scaled(double) const = 0;
    };
    using ShapeRegistry = Registry<Shape, double>;

    struct SquareParameters
    {
      double side = 2.0;
      void   bind(ParameterBinder &b) { b.add("Side", side, "Edge length."); }
    };
    class Square : public Shape
    {
    public:
      Square(const SquareParameters &p, const double factor)
          : side(p.side * factor)
      {
      }
      double area() const override { return side * side; }
      double scaled(const double x) const override { return x * side; }
      double side;
    };
    class Unit : public Shape
    {
    public:
      double area() const override { return 1.0; }
      double scaled(const double x) const override { return x; }
    };
  } // namespace

  SCOREFP_REGISTER(ShapeRegistry,
                   "square",
                   "a square of side Side.",
                   SquareParameters,
                   [](const SquareParameters &p, const double factor) {
                     return std::make_unique<Square>(p, factor);
                   })
  SCOREFP_REGISTER(ShapeRegistry,
                   "unit",
                   "the unit shape.",
                   NoParameters,
                   [](const NoParameters &, double) { return std::make_unique<Unit>(); })

  TEST(Registry, NamesDocumentationAndErrors)
  {
    const ShapeRegistry &shapes = ShapeRegistry::instance();
    EXPECT_EQ(shapes.names(), (std::vector<std::string>{"square", "unit"}));
    EXPECT_EQ(shapes.joined("|"), "square|unit");
    EXPECT_NE(shapes.documentation().find("square: a square of side Side."), std::string::npos);
    try
      {
        shapes.get("circle", "Shape/Type");
        FAIL() << "an unknown name must throw";
      }
    catch (const InputError &e)
      {
        EXPECT_EQ(std::string(e.what()), "Shape/Type = 'circle' is not one of square, unit.");
      }
    EXPECT_THROW(ShapeRegistry::instance().add<NoParameters>(
                     "unit", "again", [](const NoParameters &, double) {
                       return std::make_unique<Unit>();
                     }),
                 std::logic_error);
  }

  TEST(Registry, MembersDeclareParseAndRecordTheirEntries)
  {
    const ShapeRegistry     &shapes = ShapeRegistry::instance();
    dealii::ParameterHandler prm;
    {
      ParameterBinder declaring(prm, ParameterBinder::Mode::declare);
      declaring.subsection("Shape", [&]() { shapes.bind_all(declaring); });
    }
    prm.enter_subsection("Shape");
    EXPECT_EQ(prm.get("Side"), "2");
    prm.set("Side", "1.5");
    prm.leave_subsection();
    ParameterBinder                                  parsing(prm, ParameterBinder::Mode::parse);
    std::unique_ptr<Shape>                           shape;
    std::vector<std::pair<std::string, std::string>> record;
    parsing.subsection("Shape", [&]() { shape = shapes.create("square", parsing, &record, 2.0); });
    EXPECT_DOUBLE_EQ(shape->area(), 9.0);
    ASSERT_EQ(record.size(), 1u);
    EXPECT_EQ(record[0].first, "Side");
    EXPECT_EQ(record[0].second, "1.5");
    EXPECT_DOUBLE_EQ(shapes.get("square").create_default(1.0)->area(), 4.0);
  }

  TEST(ParameterBinder, NumbersRoundTripAndBadListsAreNamed)
  {
    for (const double x : {0.001, 1e-12, 20.0, 0.1, -5.0, 1.0 / 3.0})
      EXPECT_EQ(std::stod(format_number(x)), x);
    EXPECT_EQ(format_number(0.001), "0.001");
    EXPECT_EQ(format_number(20.0), "20");
    EXPECT_EQ(parse_number_list("1, 2;3 4", "X"), (std::vector<double>{1, 2, 3, 4}));
    try
      {
        parse_number_list("1, two", "Mesh/Box lower corner");
        FAIL();
      }
    catch (const InputError &e)
      {
        EXPECT_EQ(std::string(e.what()), "Mesh/Box lower corner: 'two' is not a number.");
      }
  }

  TEST(ParameterBinder, DefaultsDeclaredAreTheDefaultsParsed)
  {
    // Declaration writes each member's value as the entry's default; parsing the
    // untouched handler must give every member back (the manual cannot drift from the
    // code's defaults).
    dealii::ParameterHandler prm;
    declare_parameters(prm);
    const Parameters parsed = parse_parameters(prm);
    const Parameters defaults;
    EXPECT_EQ(parsed.task, defaults.task);
    EXPECT_EQ(parsed.dimension, defaults.dimension);
    EXPECT_EQ(parsed.mesh.gmsh_file, defaults.mesh.gmsh_file);
    EXPECT_EQ(parsed.mesh.refinement_levels, defaults.mesh.refinement_levels);
    EXPECT_EQ(parsed.time_stepping.tolerance, defaults.time_stepping.tolerance);
    EXPECT_EQ(parsed.time_stepping.method, defaults.time_stepping.method);
    EXPECT_EQ(parsed.linear_solver.relative_tolerance, defaults.linear_solver.relative_tolerance);
    EXPECT_EQ(parsed.output.directory, defaults.output.directory);
    EXPECT_EQ(parsed.sampler.early_stopping, defaults.sampler.early_stopping);
    EXPECT_EQ(parsed.sampler.n_particles, defaults.sampler.n_particles);
    EXPECT_EQ(parsed.scheme_table.schemes, defaults.scheme_table.schemes);
    EXPECT_EQ(parsed.scheme_table.step_counts, defaults.scheme_table.step_counts);
    EXPECT_EQ(parsed.checker.null_draws, defaults.checker.null_draws);
    EXPECT_EQ(parsed.score.tail_threshold, defaults.score.tail_threshold);
    EXPECT_EQ(parsed.evaluation.output_file, defaults.evaluation.output_file);
    EXPECT_EQ(parsed.likelihood.time, defaults.likelihood.time);
    EXPECT_EQ(parsed.likelihood.relative_tolerance, defaults.likelihood.relative_tolerance);
    EXPECT_EQ(parsed.likelihood.batch_size, defaults.likelihood.batch_size);
    EXPECT_EQ(parsed.reverse_law.laws, defaults.reverse_law.laws);
    EXPECT_EQ(parsed.reverse_law.penalty_factor, defaults.reverse_law.penalty_factor);
  }

  TEST(Tasks, EveryTaskIsRegisteredAndListsOnlyItsSections)
  {
    EXPECT_EQ(TaskRegistry::instance().names(),
              (std::vector<std::string>{"check",
                                        "check score",
                                        "evaluate",
                                        "likelihood",
                                        "reverse law",
                                        "sample",
                                        "scheme table",
                                        "solve",
                                        "tabulate score"}));
    for (const std::string &name : TaskRegistry::instance().names())
      {
        const auto               sections = TaskRegistry::instance().get(name).create_default()->sections();
        dealii::ParameterHandler prm;
        declare_parameters(prm, sections);
        std::ostringstream text;
        prm.print_parameters(text, dealii::ParameterHandler::ShortPRM);
        for (const std::string section : {"Process",
                                          "Initial data",
                                          "Mesh",
                                          "Discretization",
                                          "Time stepping",
                                          "Linear solver",
                                          "Score",
                                          "Output",
                                          "Sampler",
                                          "Scheme table",
                                          "Evaluation",
                                          "Tabulation",
                                          "Score check",
                                          "Likelihood",
                                          "Reverse law",
                                          "Checker"})
          EXPECT_EQ(text.str().find("subsection " + section + "\n") != std::string::npos,
                    sections.count(section) == 1)
              << name << " / " << section;
        EXPECT_NE(text.str().find("set Task"), std::string::npos);
      }
  }
} // namespace scorefp
