#pragma once
// The numeric primitives every engine shares (event engine and synchronous
// baselines alike). Each has one fixed summation order that depends only on the
// length, never on alignment, thread or shard, so the event engine in dataflow mode
// reproduces the synchronous baseline bit for bit. Sixteen independent lanes let the
// compiler vectorize without being allowed to reassociate.
#include <cstddef>

namespace phaseless::core::kernels {

template <class Real>
inline Real dot(const Real* a, const Real* b, std::size_t n) {
  constexpr std::size_t lanes = 16;
  Real acc[lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes)
    for (std::size_t k = 0; k < lanes; ++k) acc[k] += a[j + k] * b[j + k];
  Real tail = 0;
  for (; j < n; ++j) tail += a[j] * b[j];
  // Fixed pairwise reduction of the lanes.
  for (std::size_t w = lanes / 2; w > 0; w /= 2)
    for (std::size_t k = 0; k < w; ++k) acc[k] += acc[k + w];
  return acc[0] + tail;
}

// y[k] += alpha * x[k]
template <class Real>
inline void axpy(Real alpha, const Real* x, Real* y, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) y[k] += alpha * x[k];
}

// w[k] += scale * (e * x[k]): a rank-one update, rounded exactly as accumulating
// g[k] = 0 + e * x[k] first and then adding scale * g[k], so batch-1 shortcuts
// stay bitwise equal to the accumulate-then-apply path.
template <class Real>
inline void outer_update(Real scale, Real e, const Real* x, Real* w, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) {
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
