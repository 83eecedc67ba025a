// Errors a user can cause: a misspelt key, a value out of range, a missing or
// malformed file, a domain that does not hold the data. Each carries one sentence
// naming the culprit and what was expected; main() prints it once and exits non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace scorefp
{
  class InputError : public std::runtime_error
  {
  public:
    explicit InputError(const std::string &sentence)
        : std::runtime_error(sentence)
    {
    }
  };

  // A numerical failure at run time (a linear solver that does not converge, a
  // step size that collapses, a non-finite value): reported like an input error,
  // with the time and step at which it happened.
  class SolverFailure : public std::runtime_error
  {
  public:
    explicit SolverFailure(const std::string &sentence)
        : std::runtime_error(sentence)
    {
    }
  };
} // namespace scorefp
