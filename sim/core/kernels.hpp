#pragma once
// The numeric primitives every engine shares (event engine and synchronous
// baselines alike). Each has one fixed summation order that depends only on the
// length, never on alignment, thread or shard, so the event engine in dataflow mode
// reproduces the synchronous baseline bit for bit. Sixteen independent lanes let the
// compiler vectorize without being allowed to reassociate.
#include <cstddef>
#include <cstring>

namespace phaseless::core::kernels {

// Sixteen lanes in 32-byte vectors (two of float, four of double), so the compiler
// keeps them in registers; lane k adds a[j] * b[j] for j = k mod 16 in index order,
// exactly as sixteen scalar accumulators would. dot and dot_rows share this order.
template <class Real>
struct lanes16 {
  typedef Real vec __attribute__((vector_size(32)));
  static constexpr std::size_t lanes = 16, per = 32 / sizeof(Real), nv = lanes / per;
  static vec load(const Real* p) {
    vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  // The index-order tail, then the fixed pairwise reduction of the lanes: lane k +=
  // lane k + w for w = 8, 4, 2, 1. While w spans whole vectors that is one vector
  // addition per pair of vectors (the same additions, done together).
  static Real finish(const vec* acc, const Real* a, const Real* b, std::size_t j, std::size_t n) {
    Real tail = 0;
    for (; j < n; ++j) tail += a[j] * b[j];
    return reduce(acc, tail);
  }
  static Real reduce(const vec* acc, Real tail) {
    vec v[nv];
    for (std::size_t k = 0; k < nv; ++k) v[k] = acc[k];
    for (std::size_t m = nv / 2; m > 0; m /= 2)
      for (std::size_t k = 0; k < m; ++k) v[k] += v[k + m];
    Real r[per];
    std::memcpy(r, &v[0], sizeof r);
    for (std::size_t w = per / 2; w > 0; w /= 2)
      for (std::size_t k = 0; k < w; ++k) r[k] += r[k + w];
    return r[0] + tail;
  }
};

template <class Real>
inline Real dot(const Real* __restrict a, const Real* __restrict b, std::size_t n) {
  // Two blocks of 16 per iteration halve the loop overhead without changing any
  // lane's order.
  using L = lanes16<Real>;
  typename L::vec acc[L::nv] = {};
  auto add_block = [&](std::size_t j) {
    for (std::size_t v = 0; v < L::nv; ++v) acc[v] += L::load(a + j + L::per * v) * L::load(b + j + L::per * v);
  };
  std::size_t j = 0;
  for (; j + 2 * L::lanes <= n; j += 2 * L::lanes) {
    add_block(j);
    add_block(j + L::lanes);
  }
  for (; j + L::lanes <= n; j += L::lanes) add_block(j);
  return L::finish(acc, a, b, j, n);
}

// out[r] = dot(w + r * stride, x, n) for r < rows, bit for bit: four rows at a time
// share each load of x and keep eight independent chains of additions in flight, and
// every row's lanes still add in dot's order.
template <class Real>
inline void dot_rows(const Real* w, std::size_t stride, const Real* __restrict x, std::size_t n, std::size_t rows,
                     Real* __restrict out) {
  using L = lanes16<Real>;
  std::size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const Real* __restrict w0 = w + r * stride;
    const Real* __restrict w1 = w0 + stride;
    const Real* __restrict w2 = w1 + stride;
    const Real* __restrict w3 = w2 + stride;
    typename L::vec a0[L::nv] = {}, a1[L::nv] = {}, a2[L::nv] = {}, a3[L::nv] = {};
    auto add_block = [&](std::size_t j) {
      for (std::size_t v = 0; v < L::nv; ++v) {
        const std::size_t o = j + L::per * v;
        const auto xv = L::load(x + o);
        a0[v] += L::load(w0 + o) * xv;
        a1[v] += L::load(w1 + o) * xv;
        a2[v] += L::load(w2 + o) * xv;
        a3[v] += L::load(w3 + o) * xv;
      }
    };
    std::size_t j = 0;   // two blocks of 16 per iteration, as in dot
    for (; j + 2 * L::lanes <= n; j += 2 * L::lanes) {
      add_block(j);
      add_block(j + L::lanes);
    }
    for (; j + L::lanes <= n; j += L::lanes) add_block(j);
    out[r] = L::finish(a0, w0, x, j, n);
    out[r + 1] = L::finish(a1, w1, x, j, n);
    out[r + 2] = L::finish(a2, w2, x, j, n);
    out[r + 3] = L::finish(a3, w3, x, j, n);
  }
  for (; r < rows; ++r) out[r] = dot(w + r * stride, x, n);
}

// y[k] += alpha * x[k]. Element-wise, so blocking changes no result: blocks of 32,
// then one of 16, cut the loop overhead of the vectorized loop. x and y never overlap.
template <class Real>
inline void axpy(Real alpha, const Real* __restrict x, Real* __restrict y, std::size_t n) {
  std::size_t k = 0;
  for (; k + 32 <= n; k += 32)
    for (std::size_t q = 0; q < 32; ++q) y[k + q] += alpha * x[k + q];
  for (; k + 16 <= n; k += 16)
    for (std::size_t q = 0; q < 16; ++q) y[k + q] += alpha * x[k + q];
  for (; k < n; ++k) y[k] += alpha * x[k];
}

// w[k] += scale * (e * x[k]): a rank-one update, rounded exactly as accumulating
// g[k] = 0 + e * x[k] first and then adding scale * g[k], so batch-1 shortcuts
// stay bitwise equal to the accumulate-then-apply path. With e = 0 every term is a
// signed zero and w[k] + 0 = w[k] for every nonzero w[k] (x is finite: predictions
// are checked), so the row is skipped: half the rows of a ReLU layer at batch 1.
// Every engine uses this one kernel, so they still agree bit for bit.
template <class Real>
inline void outer_update(Real scale, Real e, const Real* __restrict x, Real* __restrict w, std::size_t n) {
  if (e == Real(0)) return;
  std::size_t k = 0;   // blocks of 32, then one of 16, as in axpy
  for (; k + 32 <= n; k += 32)
    for (std::size_t q = 0; q < 32; ++q) {
      const Real g = e * x[k + q];
      w[k + q] += scale * g;
    }
  for (; k + 16 <= n; k += 16)
    for (std::size_t q = 0; q < 16; ++q) {
      const Real g = e * x[k + q];
      w[k + q] += scale * g;
    }
  for (; k < n; ++k) {
    const Real g = e * x[k];
    w[k] += scale * g;
  }
}

// The same step with an l2 penalty: w[k] += scale * g[k] - decay * w_old[k], where
// g[k] = e * x[k] (x == nullptr: g is given in `e_or_g` as a vector). Used only when
// a projection has weight decay, so decay-free runs keep their exact arithmetic.
template <class Real>
inline void decayed_update(Real scale, Real decay, Real e, const Real* x, const Real* g, Real* w, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) {
    const Real old = w[k];
    const Real gk = x ? e * x[k] : g[k];
    w[k] = old + scale * gk - decay * old;
  }
}

}  // namespace phaseless::core::kernels
