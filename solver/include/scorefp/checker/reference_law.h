// The reference law of a check (MATH.md section 7) as every checker statistic sees it:
// a weighted quadrature cloud for expectations, a point locator for cell counts and an
// exact sampler for the null draws. Built by check_samples from the closed form or from
// a reference file's snapshot; tests build their own.
#pragma once

#include <scorefp/fe/quadrature_cloud.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace scorefp
{
  struct ReferenceLaw
  {
    /// One line for the report ("closed form: VP, ..., t = ...").
    std::string     description;
    QuadratureCloud cloud;
    /// The mesh cell of each point (N*d coordinates, point-major), -1 outside.
    std::function<std::vector<int>(const std::vector<double> &)> locate;
    /// sample(n, seed, offset, out): n draws into out (n*d entries), draw k from
    /// CounterRng(seed, offset + k) alone.
    std::function<void(std::size_t, std::uint64_t, std::uint64_t, std::vector<double> &)> sample;
  };
} // namespace scorefp
