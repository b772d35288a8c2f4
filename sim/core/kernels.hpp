#pragma once
// The numeric primitives every engine shares (event engine and synchronous
// baselines alike). Each has one fixed summation order that depends only on the
// length, never on alignment, thread or shard, so the event engine in dataflow mode
// reproduces the synchronous baseline bit for bit. Sixteen independent lanes let the
// compiler vectorize without being allowed to reassociate.
#include <cstddef>
#include <cstring>

namespace phaseless::core::kernels {

template <class Real>
inline Real dot(const Real* __restrict a, const Real* __restrict b, std::size_t n) {
  // The sixteen lanes live in 32-byte vectors (two of float, four of double), so the
  // compiler keeps them in registers; lane k adds a[j] * b[j] for j = k mod 16 in
  // index order, exactly as sixteen scalar accumulators would. Two blocks of 16 per
  // iteration halve the loop overhead without changing any lane's order.
  typedef Real vec __attribute__((vector_size(32)));
  constexpr std::size_t lanes = 16, per = 32 / sizeof(Real), nv = lanes / per;
  vec acc[nv] = {};
  auto add_block = [&](std::size_t j) {
    for (std::size_t v = 0; v < nv; ++v) {
      vec x, y;
      std::memcpy(&x, a + j + per * v, sizeof x);
      std::memcpy(&y, b + j + per * v, sizeof y);
      acc[v] += x * y;
    }
  };
  std::size_t j = 0;
  for (; j + 2 * lanes <= n; j += 2 * lanes) {
    add_block(j);
    add_block(j + lanes);
  }
  for (; j + lanes <= n; j += lanes) add_block(j);
  Real tail = 0;
  for (; j < n; ++j) tail += a[j] * b[j];
  // Fixed pairwise reduction of the lanes.
  Real r[lanes];
  std::memcpy(r, acc, sizeof r);
  for (std::size_t w = lanes / 2; w > 0; w /= 2)
    for (std::size_t k = 0; k < w; ++k) r[k] += r[k + w];
  return r[0] + tail;
}

// y[k] += alpha * x[k]. Element-wise, so blocking changes no result: blocks of 16
// halve the loop overhead of the vectorized loop. x and y never overlap.
template <class Real>
inline void axpy(Real alpha, const Real* __restrict x, Real* __restrict y, std::size_t n) {
  std::size_t k = 0;
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
  std::size_t k = 0;
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
