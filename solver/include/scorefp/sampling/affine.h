// A Gaussian random variable as an affine form in independent standard normals: the
// scalar type with which every scheme's step moves Gaussian laws exactly (MATH.md
// section 4). With the exact score of Gaussian data every scheme is affine, so a step
// maps such forms to such forms and the output law is exact.
#pragma once

#include <array>

namespace scorefp
{
  /// Slots of an affine form: 0 is the state at the start of a step, 1 the predictor's
  /// noise, 2..9 up to 8 corrector draws, 10 and 11 what a multistep scheme keeps from
  /// earlier steps beyond its correlation with the state (see exact_law()).
  constexpr unsigned int affine_slots         = 12;
  constexpr unsigned int affine_history_slot  = 10;
  constexpr unsigned int affine_history_slots = 2;

  /// c + sum_j a_j xi_j.
  struct Affine
  {
    double                           c = 0.0;
    std::array<double, affine_slots> a{};
  };

  inline Affine operator+(Affine x, const Affine &y)
  {
    x.c += y.c;
    for (unsigned int j = 0; j < affine_slots; ++j)
      x.a[j] += y.a[j];
    return x;
  }
  inline Affine operator-(Affine x, const Affine &y)
  {
    x.c -= y.c;
    for (unsigned int j = 0; j < affine_slots; ++j)
      x.a[j] -= y.a[j];
    return x;
  }
  inline Affine operator*(const double s, Affine x)
  {
    x.c *= s;
    for (double &a : x.a)
      a *= s;
    return x;
  }
  inline Affine operator*(const Affine &x, const double s)
  {
    return s * x;
  }
  inline Affine operator/(const Affine &x, const double s)
  {
    return (1.0 / s) * x;
  }
} // namespace scorefp
