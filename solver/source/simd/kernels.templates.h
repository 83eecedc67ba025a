// The kernels of kernels.h written once over xsimd::batch<double, Arch>; included by
// the translation unit of each instruction set (kernels_avx2.cc, kernels_avx512.cc),
// which is compiled with that set's -m flags. Nothing here may be included elsewhere.
#pragma once

#include <scorefp/core/random.h>

#include "simd/kernel_table.h"

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace scorefp
{
  namespace simd
  {
    namespace
    {
      template <class Arch>
      struct Kernels
      {
        using B                         = xsimd::batch<double, Arch>;
        using U                         = xsimd::batch<std::uint64_t, Arch>;
        using I                         = xsimd::batch<std::int64_t, Arch>;
        static constexpr std::size_t L  = B::size;
        static constexpr unsigned    D  = 8; // GaussianMixture::max_dimension
        /// Components whose exponents pass 1 keeps for pass 2 (more are recomputed).
        static constexpr std::size_t max_kept = 16;

        /// mix64 of random.h, lane by lane.
        static U mix(U z)
        {
          z = (z ^ (z >> 30)) * U(0xbf58476d1ce4e5b9ULL);
          z = (z ^ (z >> 27)) * U(0x94d049bb133111ebULL);
          return z ^ (z >> 31);
        }

        /// CounterRng::uniform: (double(u >> 11) + 0.5) 2^-53; u >> 11 < 2^53 converts
        /// exactly.
        static B uniform(const U u)
        {
          const B whole = xsimd::batch_cast<double>(xsimd::bitwise_cast<I>(u >> 11));
          return (whole + B(0.5)) * B(0x1.0p-53);
        }

        static void normals(const std::uint64_t seed,
                            const std::uint64_t first,
                            const std::size_t   n,
                            const std::uint64_t substream,
                            const unsigned int  d,
                            double             *z)
        {
          // The state of CounterRng(seed, stream, substream), with stream = first + lane.
          alignas(64) std::uint64_t offsets[L];
          for (std::size_t l = 0; l < L; ++l)
            offsets[l] = l;
          const U      lane_offset = U::load_aligned(offsets);
          const U      seed_key(mix64(seed));
          const U      substream_key(substream * 0xabc98388fb8fac03ULL);
          const U      golden(0x9e3779b97f4a7c15ULL);
          const B      minus_two(-2.0), two_pi(2.0 * M_PI);
          const unsigned int pairs = (d + 1) / 2;
          alignas(64) double even[L], odd[L];
          for (std::size_t i = 0; i < n; i += L)
            {
              const U stream = U(first + i) + lane_offset;
              U state = mix(mix(seed_key ^ (stream * U(0xd1b54a32d192ed03ULL))) ^ substream_key);
              const std::size_t m = std::min<std::size_t>(L, n - i);
              for (unsigned int p = 0; p < pairs; ++p)
                {
                  // CounterRng::normal: Box-Muller on two uniforms, cosine first.
                  state += golden;
                  const B u1 = uniform(mix(state));
                  state += golden;
                  const B    u2 = uniform(mix(state));
                  const B    r  = xsimd::sqrt(minus_two * xsimd::log(u1));
                  const auto sc = xsimd::sincos(two_pi * u2);
                  (r * sc.second).store_aligned(even);
                  (r * sc.first).store_aligned(odd);
                  double *zi = z + i * d + 2 * p;
                  if (2 * p + 1 < d)
                    for (std::size_t l = 0; l < m; ++l)
                      {
                        zi[l * d]     = even[l];
                        zi[l * d + 1] = odd[l];
                      }
                  else
                    for (std::size_t l = 0; l < m; ++l)
                      zi[l * d] = even[l];
                }
            }
        }

        /// One block of L points: xs[j] are the coordinates j of the points.
        template <unsigned int Dim>
        static void mixture_block(const Mixture &mixture, const unsigned int d, const B *xs, B *s)
        {
          const unsigned int dim = Dim > 0 ? Dim : d;
          const std::size_t  K   = mixture.size();
          const double      *mu  = mixture.means.data();
          const double      *P   = mixture.precisions.data();
          const double      *c   = mixture.log_prefactors.data();
          // Pass 1 finds the largest exponent e_k = c_k - dx^T P dx / 2 per lane, pass 2
          // sums exp(e_k - max) with the terms -P dx: one exp per component and lane
          // (a running maximum would need two).
          B e_max(-std::numeric_limits<double>::infinity());
          B dx[D], y[D];
          const auto exponent = [&](const std::size_t k, const bool want_y) {
            for (unsigned int j = 0; j < dim; ++j)
              dx[j] = xs[j] - B(mu[k * dim + j]);
            B q(0.0);
            if (mixture.isotropic)
              {
                const B p(P[k * dim * dim]);
                for (unsigned int j = 0; j < dim; ++j)
                  {
                    y[j] = p * dx[j];
                    q    = xsimd::fma(dx[j], y[j], q);
                  }
              }
            else
              for (unsigned int j = 0; j < dim; ++j)
                {
                  B yj(0.0);
                  for (unsigned int l = 0; l < dim; ++l)
                    yj = xsimd::fma(B(P[(k * dim + j) * dim + l]), dx[l], yj);
                  if (want_y)
                    y[j] = yj;
                  q = xsimd::fma(dx[j], yj, q);
                }
            return xsimd::fma(B(-0.5), q, B(c[k]));
          };
          B sum(0.0);
          for (unsigned int j = 0; j < dim; ++j)
            s[j] = B(0.0);
          if (mixture.shared_precision)
            {
              // One precision p I for all: e_k = b_k + p mu_k . x (kernels.h), and the
              // score p (sum_k gamma_k mu_k - x). Two multiply-adds per component and
              // coordinate besides the exponential; the exponents of up to max_kept
              // components are kept from pass 1, more are recomputed in pass 2.
              const B       p(P[0]);
              const double *b        = mixture.shared_offsets.data();
              const auto    exponent = [&](const std::size_t k) {
                B dot(0.0);
                for (unsigned int j = 0; j < dim; ++j)
                  dot = xsimd::fma(B(mu[k * dim + j]), xs[j], dot);
                return xsimd::fma(p, dot, B(b[k]));
              };
              B          e[max_kept];
              const bool keep = K <= max_kept;
              for (std::size_t k = 0; k < K; ++k)
                {
                  const B ek = exponent(k);
                  if (keep)
                    e[k] = ek;
                  e_max = xsimd::max(e_max, ek);
                }
              for (std::size_t k = 0; k < K; ++k)
                {
                  const B w = xsimd::exp((keep ? e[k] : exponent(k)) - e_max);
                  sum += w;
                  for (unsigned int j = 0; j < dim; ++j)
                    s[j] = xsimd::fma(w, B(mu[k * dim + j]), s[j]);
                }
              for (unsigned int j = 0; j < dim; ++j)
                s[j] = p * (s[j] / sum - xs[j]);
              return;
            }
          if (K <= max_kept)
            {
              // Few components: pass 1 keeps the exponents and -P dx for pass 2.
              B e[max_kept], ys[max_kept][Dim > 0 ? Dim : D];
              for (std::size_t k = 0; k < K; ++k)
                {
                  e[k]  = exponent(k, true);
                  e_max = xsimd::max(e_max, e[k]);
                  for (unsigned int j = 0; j < dim; ++j)
                    ys[k][j] = y[j];
                }
              for (std::size_t k = 0; k < K; ++k)
                {
                  const B w = xsimd::exp(e[k] - e_max);
                  sum += w;
                  for (unsigned int j = 0; j < dim; ++j)
                    s[j] = xsimd::fnma(w, ys[k][j], s[j]);
                }
            }
          else
            {
              for (std::size_t k = 0; k < K; ++k)
                e_max = xsimd::max(e_max, exponent(k, false));
              for (std::size_t k = 0; k < K; ++k)
                {
                  const B w = xsimd::exp(exponent(k, true) - e_max);
                  sum += w;
                  for (unsigned int j = 0; j < dim; ++j)
                    s[j] = xsimd::fnma(w, y[j], s[j]);
                }
            }
          // sum >= 1 (the largest term is exp(0)) unless a coordinate is not finite.
          for (unsigned int j = 0; j < dim; ++j)
            s[j] = s[j] / sum;
        }

        template <unsigned int Dim>
        static void mixture_loop(const Mixture &mixture, const double *x, const std::size_t n,
                                 double *s)
        {
          const unsigned int d = Dim > 0 ? Dim : mixture.dimension;
          alignas(64) double in[D][L], out[D][L];
          B                  xs[D], ss[D];
          for (std::size_t i = 0; i < n; i += L)
            {
              // Point-major to one register per coordinate; the lanes past n repeat the
              // last point (their results are dropped).
              const std::size_t m = std::min<std::size_t>(L, n - i);
              if (m == L)
                for (std::size_t l = 0; l < L; ++l)
                  for (unsigned int j = 0; j < d; ++j)
                    in[j][l] = x[(i + l) * d + j];
              else
                for (std::size_t l = 0; l < L; ++l)
                  for (unsigned int j = 0; j < d; ++j)
                    in[j][l] = x[(i + std::min(l, m - 1)) * d + j];
              for (unsigned int j = 0; j < d; ++j)
                xs[j] = B::load_aligned(in[j]);
              mixture_block<Dim>(mixture, d, xs, ss);
              for (unsigned int j = 0; j < d; ++j)
                ss[j].store_aligned(out[j]);
              for (std::size_t l = 0; l < m; ++l)
                for (unsigned int j = 0; j < d; ++j)
                  s[(i + l) * d + j] = out[j][l];
            }
        }

        static void mixture_score(const Mixture &mixture, const double *x, const std::size_t n,
                                  double *s)
        {
          switch (mixture.dimension)
            {
            case 1:
              return mixture_loop<1>(mixture, x, n, s);
            case 2:
              return mixture_loop<2>(mixture, x, n, s);
            case 3:
              return mixture_loop<3>(mixture, x, n, s);
            default:
              return mixture_loop<0>(mixture, x, n, s);
            }
        }

        static void
        sin_cos(const double *phase, double *sine, double *cosine, const std::size_t n)
        {
          std::size_t i = 0;
          for (; i + L <= n; i += L)
            {
              const auto sc = xsimd::sincos(B::load_unaligned(phase + i));
              sc.first.store_unaligned(sine + i);
              sc.second.store_unaligned(cosine + i);
            }
          if (i < n)
            {
              alignas(64) double p[L] = {}, st[L], ct[L];
              std::copy(phase + i, phase + n, p);
              const auto sc = xsimd::sincos(B::load_aligned(p));
              sc.first.store_aligned(st);
              sc.second.store_aligned(ct);
              std::copy(st, st + (n - i), sine + i);
              std::copy(ct, ct + (n - i), cosine + i);
            }
        }

        static void fourier_sums(const double      *omega,
                                 const std::size_t  R,
                                 const double      *x,
                                 const double      *weights,
                                 const std::size_t  n,
                                 const unsigned int d,
                                 double            *cos_sum,
                                 double            *sin_sum)
        {
          // One register of points at a time through all the frequencies, with a pair of
          // lane-wise accumulators per frequency (2 R registers, in L1 for R in the
          // thousands); lanes past n get weight 0.
          std::vector<B, xsimd::aligned_allocator<B>> acc_cos(R, B(0.0)), acc_sin(R, B(0.0));
          alignas(64) double in[L], w[L];
          std::vector<B, xsimd::aligned_allocator<B>> xs(d);
          for (std::size_t i = 0; i < n; i += L)
            {
              const std::size_t m = std::min<std::size_t>(L, n - i);
              for (unsigned int j = 0; j < d; ++j)
                {
                  for (std::size_t l = 0; l < L; ++l)
                    in[l] = l < m ? x[(i + l) * d + j] : 0.0;
                  xs[j] = B::load_aligned(in);
                }
              for (std::size_t l = 0; l < L; ++l)
                w[l] = l < m ? (weights ? weights[i + l] : 1.0) : 0.0;
              const B weight = B::load_aligned(w);
              for (std::size_t r = 0; r < R; ++r)
                {
                  B phase(0.0);
                  for (unsigned int j = 0; j < d; ++j)
                    phase = xsimd::fma(B(omega[r * d + j]), xs[j], phase);
                  const auto sc = xsimd::sincos(phase);
                  acc_cos[r]    = xsimd::fma(weight, sc.second, acc_cos[r]);
                  acc_sin[r]    = xsimd::fma(weight, sc.first, acc_sin[r]);
                }
            }
          for (std::size_t r = 0; r < R; ++r)
            {
              cos_sum[r] += xsimd::hadd(acc_cos[r]);
              sin_sum[r] += xsimd::hadd(acc_sin[r]);
            }
        }

        static void combine(const std::size_t n,
                            const double      alpha,
                            double           *x,
                            const double      beta,
                            const double     *s,
                            const double      gamma,
                            const double     *z)
        {
          const B     a(alpha), b(beta), g(gamma);
          const auto  update = [&](const B &xi, const B &si, const B &zi) {
            return xsimd::fma(a, xi, xsimd::fma(b, si, g * zi));
          };
          std::size_t i = 0;
          for (; i + L <= n; i += L)
            update(B::load_unaligned(x + i), B::load_unaligned(s + i), B::load_unaligned(z + i))
                .store_unaligned(x + i);
          if (i < n)
            {
              // The tail through the same instructions, padded: a value's rounding does
              // not depend on where the array ends.
              alignas(64) double xt[L] = {}, st[L] = {}, zt[L] = {};
              std::copy(x + i, x + n, xt);
              std::copy(s + i, s + n, st);
              std::copy(z + i, z + n, zt);
              update(B::load_aligned(xt), B::load_aligned(st), B::load_aligned(zt))
                  .store_aligned(xt);
              std::copy(xt, xt + (n - i), x + i);
            }
        }

        static KernelTable table()
        {
          return KernelTable{&normals, &mixture_score, &sin_cos, &fourier_sums, &combine};
        }
      };
    } // namespace
  }   // namespace simd
} // namespace scorefp
