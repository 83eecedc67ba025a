// The family of forward processes chosen by Process/Type. A member is one file in
// source/process/ that reads its own entries of section Process and ends with
//
//   SCOREFP_REGISTER(ProcessRegistry, "VP", "documentation", BetaSchedule, factory);
//
// Process/Type, its documentation and the manual's entries come from here.
#pragma once

#include <scorefp/core/registry.h>
#include <scorefp/process/forward_process.h>

namespace scorefp
{
  using ProcessRegistry = Registry<ForwardProcess>;
} // namespace scorefp
