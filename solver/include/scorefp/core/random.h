// Counter-based random numbers. Every draw is a pure function of (seed, stream,
// substream, counter), so a particle's noise depends on its global index alone and not
// on which rank holds it: samples are the same for any number of MPI ranks.
//
// Written by hand because the standard engines carry state that would have to be
// stored per particle (std::mt19937_64: 2.5 KB) or advanced past every other
// particle's draws; this one is SplitMix64 (Steele, Lea & Flood 2014) started at a key
// hashed from the identifiers, whose state is 16 bytes and costs nothing to create.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace scorefp
{
  /// The SplitMix64 output function: a bijective 64-bit mixer.
  inline std::uint64_t mix64(std::uint64_t z)
  {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// A uniform random bit generator (usable with <random> distributions) whose sequence
  /// is fixed by (seed, stream, substream). Typical use: stream = global particle index,
  /// substream = time step.
  class CounterRng
  {
  public:
    using result_type = std::uint64_t;

    CounterRng(const std::uint64_t seed,
               const std::uint64_t stream,
               const std::uint64_t substream = 0)
        : state(mix64(mix64(mix64(seed) ^ (stream * 0xd1b54a32d192ed03ULL)) ^
                      (substream * 0xabc98388fb8fac03ULL)))
    {
    }

    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

    result_type operator()()
    {
      state += 0x9e3779b97f4a7c15ULL;
      return mix64(state);
    }

    /// Uniform on the open interval (0, 1), 53 random bits.
    double uniform() { return (static_cast<double>((*this)() >> 11) + 0.5) * 0x1.0p-53; }

    /// Standard normal by the Box-Muller transform (two per pair of uniforms).
    double normal()
    {
      if (has_spare)
        {
          has_spare = false;
          return spare;
        }
      const double r     = std::sqrt(-2.0 * std::log(uniform()));
      const double angle = 2.0 * M_PI * uniform();
      spare              = r * std::sin(angle);
      has_spare          = true;
      return r * std::cos(angle);
    }

  private:
    std::uint64_t state;
    double        spare     = 0.0;
    bool          has_spare = false;
  };
} // namespace scorefp
