// Sampler/Score = torchscript: a learned score in a TorchScript file, read by libtorch
// (postprocess/SCORE_MODEL_FORMAT.md). The model sees (x or x/m, time input) and
// returns one of the parametrisations of MATH.md section 5; this file turns that into
// s(x, t) and takes its exact derivatives by autograd (no finite differences, no
// Hutchinson estimator: d backward passes in d <= 3).
//
// The time dependence of m(t), v(t) and of the time input enters autograd as a
// first-order expansion around the evaluation time, c(t) + c'(t) (tau - t) with tau a
// tensor equal to t, so that d/dtau at tau = t is the exact first time derivative
// while every C++ process keeps its closed forms (no torch port of the processes).
// Torch first: deal.II defines a macro Assert, which torch uses as a class name.
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
// clang-format off
#include <scorefp/core/input_error.h>
#include <scorefp/core/parameter_binder.h>
#include <scorefp/io/json.h>
#include <scorefp/score_source/torchscript_score.h>
// clang-format on

#include <deal.II/base/patterns.h>

#include <cmath>
#include <filesystem>
#include <sstream>

namespace scorefp
{
  namespace
  {
    enum class Parametrisation
    {
      score,
      noise,
      data,
      velocity,
      potential
    };
    enum class TimeInput
    {
      t,
      sigma,
      edm,
      step
    };

    const std::vector<std::pair<std::string, Parametrisation>> parametrisations{
        {"score", Parametrisation::score},
        {"noise", Parametrisation::noise},
        {"data", Parametrisation::data},
        {"velocity", Parametrisation::velocity},
        {"potential", Parametrisation::potential}};
    const std::vector<std::pair<std::string, TimeInput>> time_inputs{{"t", TimeInput::t},
                                                                     {"sigma", TimeInput::sigma},
                                                                     {"edm", TimeInput::edm},
                                                                     {"step", TimeInput::step}};

    template <typename T>
    std::vector<std::string> names_of(const std::vector<std::pair<std::string, T>> &table)
    {
      std::vector<std::string> names;
      for (const auto &[name, value] : table)
        names.push_back(name);
      return names;
    }

    std::string joined(const std::vector<std::string> &names)
    {
      std::string text;
      for (std::size_t i = 0; i < names.size(); ++i)
        text += (i == 0 ? "" : (i + 1 == names.size() ? " or " : ", ")) + names[i];
      return text;
    }

    template <typename T>
    T lookup(const std::vector<std::pair<std::string, T>> &table,
             const std::string                            &name,
             const std::string                            &what)
    {
      for (const auto &[key, value] : table)
        if (key == name)
          return value;
      throw InputError(what + " is '" + name + "', not one of " + joined(names_of(table)) + ".");
    }

    /// The first line of a libtorch message (the rest is a C++ or TorchScript trace).
    std::string first_line(const std::string &message)
    {
      const std::string line = message.substr(0, message.find('\n'));
      return line.size() > 300 ? line.substr(0, 300) + " ..." : line;
    }

    /// A process quantity c(t) as c(t0) + c'(t0) (tau - t0): exact value and first
    /// derivative at tau = t0.
    torch::Tensor linearised(const double value, const double derivative, const torch::Tensor &dtau)
    {
      return value + derivative * dtau;
    }

    class TorchScriptScore : public ScoreModel
    {
    public:
      TorchScriptScore(const TorchScriptParameters &p, const ScoreSourceContext &context)
          : file(p.file)
          , process(context.process)
          , d(context.dimension)
          , batch_size(std::max(1u, p.batch_size))
      {
        if (!std::filesystem::is_regular_file(file))
          throw InputError("Sampler/Model file '" + file + "' does not exist; expected a "
                           "TorchScript file (torch.jit.save).");
        // libtorch 1.13's optimising graph executor, which takes over from the second
        // call of a module, returns non-finite Hessians of Softplus networks when
        // differentiated twice with create_graph (Deveney's potential MLP, reproduced
        // in Python too); the unoptimised executor is exact, and a small MLP gains
        // little from fusion on the CPU.
        torch::jit::setGraphExecutorOptimize(false);
        torch::jit::ExtraFilesMap extra{{"scorefp.json", ""}};
        try
          {
            module = torch::jit::load(file, torch::kCPU, extra);
          }
        catch (const std::exception &e)
          {
            throw InputError("Sampler/Model file '" + file +
                             "' is not a TorchScript file (torch::jit::load: " +
                             first_line(e.what()) + ").");
          }
        module.eval();
        at::set_num_threads(int(std::max(1u, p.threads)));
        read_metadata(extra["scorefp.json"], p, context);
        // The model's precision: that of its parameters, else of its buffers (a
        // closed form has only buffers), else what the metadata says.
        bool typed = false;
        for (const auto &parameter : module.parameters())
          {
            dtype = parameter.scalar_type();
            typed = true;
            break;
          }
        for (const auto &buffer : module.buffers())
          if (!typed && buffer.is_floating_point())
            {
              dtype = buffer.scalar_type();
              typed = true;
            }
        if (!typed && metadata_dtype == "float32")
          dtype = torch::kFloat;
        if (dtype != torch::kDouble && dtype != torch::kFloat)
          throw InputError("Sampler/Model file '" + file +
                           "' has parameters of a type other than float64 or float32.");
        if (!metadata_dtype.empty() && metadata_dtype != precision())
          throw InputError("Sampler/Model file '" + file + "' says dtype " + metadata_dtype +
                           " in its metadata, but its parameters are " + precision() + ".");
        probe(context);
      }

      unsigned int dimension() const override { return d; }
      std::string  precision() const override
      {
        return dtype == torch::kFloat ? "float32" : "float64";
      }
      bool has_derivatives() const override { return true; }
      bool is_potential() const override { return parametrisation == Parametrisation::potential; }

      std::string description() const override
      {
        std::string text = "TorchScript '" + file + "' (" + names_of(parametrisations)[int(parametrisation)] +
                           ", time input " + names_of(time_inputs)[int(time_input)];
        if (scale_input)
          text += ", input x/m";
        return text + ", " + precision() + ")";
      }

      void evaluate(const double t, const double *x, const std::size_t n, double *s) const override
      {
        for_batches(n, [&](const std::size_t first, const std::size_t size) {
          // No graph, except for the gradient that turns a potential into s.
          const c10::AutoGradMode graph_mode(is_potential());
          const auto [X, tau] = inputs(t, x + first * d, size, false);
          copy_out(score_of(X, tau, t, false), s + first * d, t, "score");
        });
      }

      void evaluate_derivatives(const double            t,
                                const double           *x,
                                const std::size_t       n,
                                double                 *s,
                                const ScoreDerivatives &D) const override
      {
        const bool second = D.grad_divergence != nullptr;
        for_batches(n, [&](const std::size_t first, const std::size_t size) {
          const auto [X, tau] = inputs(t, x + first * d, size, true);
          const auto    S     = score_of(X, tau, t, true);
          torch::Tensor divergence = torch::zeros({long(size)}, torch::kDouble);
          for (unsigned int i = 0; i < d; ++i)
            {
              // One backward pass per component: row i of grad s and ds_i/dt together
              // (the model treats points independently, so the gradient of the batch
              // sum is the per-point gradient).
              const auto grads = torch::autograd::grad({S.select(1, i).sum()},
                                                       {X, tau},
                                                       {},
                                                       /*retain_graph=*/true,
                                                       /*create_graph=*/second,
                                                       /*allow_unused=*/true);
              const torch::Tensor row =
                  grads[0].defined() ? grads[0] : torch::zeros_like(X);
              const torch::Tensor dt =
                  grads[1].defined() ? grads[1] : torch::zeros({long(size)}, torch::kDouble);
              divergence = divergence + row.select(1, i);
              if (D.jacobian)
                copy_strided(row, D.jacobian + first * d * d + i * d, d * d, t, "Jacobian");
              if (D.time_derivative)
                copy_strided(dt.reshape({long(size), 1}), D.time_derivative + first * d + i, d, t, "time derivative");
            }
          if (second)
            {
              const auto g = torch::autograd::grad({divergence.sum()}, {X}, {}, true, false, true);
              copy_out(g[0].defined() ? g[0] : torch::zeros_like(X),
                       D.grad_divergence + first * d,
                       t,
                       "grad div");
            }
          if (s)
            copy_out(S.detach(), s + first * d, t, "score");
        });
      }

      void evaluate_potential(const double           t,
                              const double          *x,
                              const std::size_t      n,
                              const PotentialValues &V) const override
      {
        if (!is_potential())
          ScoreModel::evaluate_potential(t, x, n, V);
        for_batches(n, [&](const std::size_t first, const std::size_t size) {
          const auto [X, tau] = inputs(t, x + first * d, size, true);
          const auto u        = network(X, tau, t);
          if (V.u)
            copy_out(u.detach().reshape({long(size), 1}), V.u + first, t, "potential");
          if (V.du_dt || V.laplacian)
            {
              const auto grads = torch::autograd::grad(
                  {u.sum()}, {X, tau}, {}, true, V.laplacian != nullptr, true);
              if (V.du_dt)
                copy_out((grads[1].defined() ? grads[1] : torch::zeros({long(size)}, torch::kDouble))
                             .reshape({long(size), 1}),
                         V.du_dt + first,
                         t,
                         "du/dt");
              if (V.laplacian)
                {
                  torch::Tensor laplacian = torch::zeros({long(size)}, torch::kDouble);
                  for (unsigned int i = 0; i < d && grads[0].defined(); ++i)
                    {
                      const auto h = torch::autograd::grad(
                          {grads[0].select(1, i).sum()}, {X}, {}, true, false, true);
                      if (h[0].defined())
                        laplacian = laplacian + h[0].select(1, i);
                    }
                  copy_out(laplacian.reshape({long(size), 1}), V.laplacian + first, t, "Laplacian");
                }
            }
        });
      }

    private:
      void read_metadata(const std::string           &text,
                         const TorchScriptParameters &p,
                         const ScoreSourceContext    &context)
      {
        Json meta = Json::object();
        if (!text.empty())
          {
            try
              {
                meta = Json::parse(text);
              }
            catch (const std::exception &e)
              {
                throw InputError("Sampler/Model file '" + file +
                                 "' has a scorefp.json that is not valid JSON (" +
                                 first_line(e.what()) + ").");
              }
            if (!meta.is_object() || meta.value("format", "") != "scorefp score model 1")
              throw InputError("Sampler/Model file '" + file +
                               "' has a scorefp.json without format = \"scorefp score model "
                               "1\"; see postprocess/SCORE_MODEL_FORMAT.md.");
          }
        const auto setting = [&](const std::string &key, const std::string &override_value) {
          if (override_value != "from metadata")
            return override_value;
          if (!meta.contains(key) || !meta[key].is_string())
            throw InputError("Sampler/Model file '" + file + "' does not say its " + key +
                             " (scorefp.json metadata, written by export_score); set Sampler/"
                             "Model " +
                             key + ".");
          return meta[key].get<std::string>();
        };
        parametrisation = lookup(parametrisations,
                                 setting("parametrisation", p.parametrisation),
                                 "The parametrisation of '" + file + "'");
        time_input =
            lookup(time_inputs, setting("time input", p.time_input), "The time input of '" + file + "'");
        const std::string scaling = p.input_scaling != "from metadata" ?
                                        p.input_scaling :
                                        meta.value("input scaling", std::string("none"));
        if (scaling != "none" && scaling != "x/m")
          throw InputError("The input scaling of '" + file + "' is '" + scaling +
                           "', not one of none or x/m.");
        scale_input = scaling == "x/m";
        metadata_dtype = meta.value("dtype", std::string());

        if (meta.contains("dimension"))
          {
            if (!meta["dimension"].is_number_unsigned())
              throw InputError("Sampler/Model file '" + file +
                               "' has a dimension in its metadata that is not a positive "
                               "integer.");
            if (meta["dimension"].get<unsigned int>() != d)
              throw InputError("Sampler/Model file '" + file + "' is a " +
                               std::to_string(meta["dimension"].get<unsigned int>()) +
                               "-dimensional model, but Dimension = " + std::to_string(d) + ".");
          }
        if (time_input == TimeInput::step)
          {
            steps = p.steps > 0 ? p.steps : meta.value("steps", 0u);
            if (steps < 2)
              throw InputError("Sampler/Model file '" + file +
                               "' takes a DDPM step index but neither its metadata nor "
                               "Sampler/Model steps gives the number of steps N >= 2.");
          }
        if (meta.contains("process"))
          {
            std::vector<std::pair<std::string, std::string>> entries;
            if (!meta["process"].is_object())
              throw InputError("Sampler/Model file '" + file +
                               "' has a process in its metadata that is not an object of "
                               "Process entries.");
            for (const auto &[key, value] : meta["process"].items())
              entries.emplace_back(key, value.is_string() ? value.get<std::string>() : value.dump());
            ProcessParameters recorded;
            try
              {
                recorded = ProcessParameters::from_entries(entries);
              }
            catch (const InputError &e)
              {
                throw InputError("Sampler/Model file '" + file +
                                 "' records a process scorefp cannot read: " + e.what());
              }
            if (!(recorded == context.process_parameters))
              throw InputError("Sampler/Model file '" + file + "' was trained for the process " +
                               describe(recorded) + ", but the case runs " +
                               describe(context.process_parameters) + ".");
          }
        if (parametrisation == Parametrisation::velocity)
          for (const double t : {context.early_stopping, process.final_time})
            {
              const double m = process.transition_mean_factor(t), v = process.transition_variance(t);
              if (std::abs(m * m + v - 1.0) > 1e-10)
                throw InputError("Sampler/Model file '" + file +
                                 "' predicts the velocity, which needs m^2 + v = 1 (VP-type "
                                 "processes); Process/Type = " +
                                 process.name() + " does not have it.");
            }
      }

      static std::string describe(const ProcessParameters &p)
      {
        std::string text;
        for (const auto &[key, value] : p.entries())
          text += (text.empty() ? "" : ", ") + key + " = " + value;
        return "(" + text + ")";
      }

      /// Evaluate on a probe batch at both ends of the sampled interval so that a
      /// model of the wrong shape or with non-finite outputs fails at start-up.
      void probe(const ScoreSourceContext &context)
      {
        std::vector<double> x(3 * d), s(3 * d);
        for (unsigned int k = 0; k < 3; ++k)
          for (unsigned int j = 0; j < d; ++j)
            x[k * d + j] = 0.5 * (double(k) - 1.0) + 0.1 * j;
        for (const double t : {std::max(context.early_stopping, process.start_time + 1e-6),
                               process.final_time})
          evaluate(t, x.data(), 3, s.data());
      }

      template <typename Function>
      void for_batches(const std::size_t n, const Function &f) const
      {
        for (std::size_t first = 0; first < n; first += batch_size)
          f(first, std::min<std::size_t>(batch_size, n - first));
      }

      std::pair<torch::Tensor, torch::Tensor>
      inputs(const double t, const double *x, const std::size_t n, const bool grad) const
      {
        auto X = torch::from_blob(const_cast<double *>(x), {long(n), long(d)}, torch::kDouble).clone();
        auto tau = torch::full({long(n)}, t, torch::kDouble);
        if (grad || is_potential())
          X.requires_grad_(true);
        if (grad)
          tau.requires_grad_(true);
        return {X, tau};
      }

      /// The network's output for positions X and times tau (double tensors, tau
      /// equal to t but carrying the time derivative), in double.
      torch::Tensor network(const torch::Tensor &X, const torch::Tensor &tau, const double t) const
      {
        const torch::Tensor dtau = tau - t;
        const double        m = process.transition_mean_factor(t), v = process.transition_variance(t);
        const double        a = process.drift_rate(t), g2 = process.diffusion_squared(t);
        const double        dm = -a * m, dv = -2.0 * a * v + g2;
        torch::Tensor       input_time;
        const double        sigma = std::sqrt(v) / m;
        const double        dsigma = (0.5 * dv / std::sqrt(v)) / m - std::sqrt(v) * dm / (m * m);
        switch (time_input)
          {
            case TimeInput::t:
              input_time = tau;
              break;
            case TimeInput::sigma:
              input_time = linearised(sigma, dsigma, dtau);
              break;
            case TimeInput::edm:
              input_time = linearised(0.25 * std::log(sigma), 0.25 * dsigma / sigma, dtau);
              break;
            case TimeInput::step:
              {
                const double rate = double(steps - 1) / (process.final_time - process.start_time);
                input_time        = linearised(rate * (t - process.start_time), rate, dtau);
                break;
              }
          }
        torch::Tensor input = X;
        if (scale_input)
          input = X / linearised(m, dm, dtau).reshape({-1, 1});
        torch::Tensor out;
        try
          {
            out = module_forward(input.to(dtype), input_time.to(dtype));
          }
        catch (const std::exception &e)
          {
            throw InputError("Sampler/Model file '" + file + "' fails on inputs x[" +
                             std::to_string(X.size(0)) + ", " + std::to_string(d) + "], t[" +
                             std::to_string(X.size(0)) + "] (" + first_line(e.what()) + ").");
          }
        const long n = X.size(0);
        if (is_potential())
          {
            if (!((out.dim() == 1 && out.size(0) == n) ||
                  (out.dim() == 2 && out.size(0) == n && out.size(1) == 1)))
              throw InputError("Sampler/Model file '" + file +
                               "' is a potential model but returns a tensor of shape " +
                               shape(out) + " for " + std::to_string(n) +
                               " points; expected [" + std::to_string(n) + "] or [" +
                               std::to_string(n) + ", 1].");
            return out.to(torch::kDouble).reshape({n});
          }
        if (!(out.dim() == 2 && out.size(0) == n && out.size(1) == long(d)))
          throw InputError("Sampler/Model file '" + file + "' returns a tensor of shape " +
                           shape(out) + " for " + std::to_string(n) + " points; expected [" +
                           std::to_string(n) + ", " + std::to_string(d) + "].");
        return out.to(torch::kDouble);
      }

      torch::Tensor module_forward(const torch::Tensor &x, const torch::Tensor &t) const
      {
        auto result = module.forward({x, t});
        if (!result.isTensor())
          throw std::runtime_error("forward returns something other than a tensor");
        return result.toTensor();
      }

      /// s(X, tau) as a differentiable function of X and tau.
      torch::Tensor
      score_of(const torch::Tensor &X, const torch::Tensor &tau, const double t, const bool graph) const
      {
        if (is_potential())
          {
            const auto u = network(X, tau, t);
            return torch::autograd::grad({u.sum()}, {X}, {}, true, graph, true)[0];
          }
        const torch::Tensor out  = network(X, tau, t);
        const torch::Tensor dtau = tau - t;
        const double        m = process.transition_mean_factor(t), v = process.transition_variance(t);
        const double        a = process.drift_rate(t), g2 = process.diffusion_squared(t);
        const torch::Tensor M  = linearised(m, -a * m, dtau).reshape({-1, 1});
        const torch::Tensor Vt = linearised(v, -2.0 * a * v + g2, dtau).reshape({-1, 1});
        switch (parametrisation)
          {
            case Parametrisation::score:
              return out;
            case Parametrisation::noise:
              return -out / torch::sqrt(Vt);
            case Parametrisation::data:
              return (M * out - X) / Vt;
            case Parametrisation::velocity:
              return -(M * out + torch::sqrt(Vt) * X) / torch::sqrt(Vt);
            case Parametrisation::potential:
              break;
          }
        return out;
      }

      static std::string shape(const torch::Tensor &t)
      {
        std::ostringstream s;
        s << "[";
        for (long i = 0; i < t.dim(); ++i)
          s << (i ? ", " : "") << t.size(i);
        s << "]";
        return s.str();
      }

      void check_finite(const torch::Tensor &values, const double t, const char *what) const
      {
        if (!torch::isfinite(values).all().item<bool>())
          throw InputError("Sampler/Model file '" + file + "' gives non-finite values (" + what +
                           ") at t = " + format_number(t) + ".");
      }

      /// Copy an [n, k] tensor into out (point-major, k values per point).
      void copy_out(const torch::Tensor &values, double *out, const double t, const char *what) const
      {
        const torch::Tensor c = values.detach().to(torch::kDouble).contiguous();
        check_finite(c, t, what);
        std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(), out);
      }

      /// Copy an [n, k] tensor into out with a stride of `stride` between points.
      void
      copy_strided(const torch::Tensor &values,
                   double              *out,
                   const std::size_t    stride,
                   const double         t,
                   const char          *what) const
      {
        const torch::Tensor c = values.detach().to(torch::kDouble).contiguous();
        check_finite(c, t, what);
        const long    n = c.size(0), k = c.size(1);
        const double *v = c.data_ptr<double>();
        for (long i = 0; i < n; ++i)
          std::copy(v + i * k, v + (i + 1) * k, out + i * stride);
      }

      std::string                        file;
      const ForwardProcess              &process;
      unsigned int                       d;
      std::size_t                        batch_size;
      mutable torch::jit::script::Module module;
      torch::ScalarType                  dtype = torch::kDouble;
      std::string                        metadata_dtype;
      Parametrisation                    parametrisation = Parametrisation::score;
      TimeInput                          time_input      = TimeInput::t;
      unsigned int                       steps           = 0;
      bool                               scale_input     = false;
    };

    class TorchScriptSource : public ScoreSourceInterface
    {
    public:
      explicit TorchScriptSource(const TorchScriptParameters &p)
          : parameters(p)
      {
      }
      void check() const override
      {
        if (parameters.file.empty())
          throw InputError("Sampler/Score = torchscript needs Sampler/Model file; it is empty.");
      }
      std::unique_ptr<ScoreModel> create(const ScoreSourceContext &c) const override
      {
        return torchscript_score(parameters, c);
      }

    private:
      TorchScriptParameters parameters;
    };
  } // namespace

  void TorchScriptParameters::bind(ParameterBinder &b)
  {
    namespace Patterns = dealii::Patterns;
    const auto with_metadata = [](std::vector<std::string> names) {
      names.insert(names.begin(), "from metadata");
      return names;
    };
    b.add("Model file",
          file,
          "Score = torchscript: a TorchScript file forward(x[n, d], t[n]) with its scorefp.json "
          "metadata (postprocess/SCORE_MODEL_FORMAT.md; postprocess/scorefp_torch.py "
          "export_score writes both).");
    b.add_choice("Model parametrisation",
                 parametrisation,
                 with_metadata(names_of(parametrisations)),
                 "What the model returns (x_t = m x_0 + sqrt(v) z): score s; noise eps with "
                 "s = -eps/sqrt(v); data x0 with s = (m x0 - x)/v; velocity (VP) v_hat = m eps "
                 "- sqrt(v) x_0; potential u with s = grad u.");
    b.add_choice("Model time input",
                 time_input,
                 with_metadata(names_of(time_inputs)),
                 "What the model takes as time: t; sigma = sqrt(v)/m; edm = ln(sigma)/4; step = "
                 "(N - 1)(t - t0)/(T - t0) with N = Model steps.");
    b.add("Model steps",
          steps,
          "N of Model time input = step (0: from the metadata).",
          Patterns::Integer(0));
    b.add_choice("Model input scaling",
                 input_scaling,
                 {"from metadata", "none", "x/m"},
                 "Whether the model sees x or x/m(t) (EDM's D(x/m; sigma)).");
    b.add("Model batch size",
          batch_size,
          "Points per forward pass.",
          Patterns::Integer(1));
    b.add("Model threads",
          threads,
          "libtorch intra-op threads per MPI rank.",
          Patterns::Integer(1, 256));
  }

  std::unique_ptr<ScoreModel> torchscript_score(const TorchScriptParameters &p,
                                                const ScoreSourceContext    &context)
  {
    return std::make_unique<TorchScriptScore>(p, context);
  }

  SCOREFP_REGISTER(ScoreSourceRegistry,
                   "torchscript",
                   "a learned score in a TorchScript file (Sampler/Model file and the Model "
                   "entries), evaluated by libtorch with exact autograd derivatives;",
                   TorchScriptParameters,
                   [](const TorchScriptParameters &p) {
                     return std::make_unique<TorchScriptSource>(p);
                   })
} // namespace scorefp
