// Sampler/Score = torchscript: a learned score as a TorchScript file
// (postprocess/SCORE_MODEL_FORMAT.md), loaded, evaluated and differentiated by libtorch.
// This header is torch-free; only torchscript_score.cc includes torch.
#pragma once

#include <scorefp/score_source/score_source.h>

#include <memory>
#include <string>

namespace scorefp
{
  class ParameterBinder;

  /// The entries of section Sampler that describe a TorchScript model. Empty strings
  /// and zero mean "as the file's metadata says".
  struct TorchScriptParameters
  {
    std::string  file;
    std::string  parametrisation = "from metadata"; // score, noise, data, velocity, potential
    std::string  time_input      = "from metadata"; // t, sigma, edm, step
    unsigned int steps           = 0;               // N of time input = step
    std::string  input_scaling   = "from metadata"; // none, x/m
    unsigned int batch_size      = 4096;
    unsigned int threads         = 1; // intra-op threads per MPI rank

    void bind(ParameterBinder &binder);
  };

  /// The model of p; InputError naming p.file for a missing file, a file that is not
  /// TorchScript, metadata that is malformed or disagrees with the case (dimension,
  /// process), an unknown parametrisation or time input, or a model whose output on a
  /// probe batch has the wrong shape or is not finite.
  std::unique_ptr<ScoreModel> torchscript_score(const TorchScriptParameters &p,
                                                const ScoreSourceContext    &context);
} // namespace scorefp
