#pragma once
// The nonlinear vertex functions of a computational graph (network_spec.hpp
// combine_kind bilinear and softmax), one neuron at a time, with the neuron's row of
// the Jacobian d mu_i / d x_s per in-synapse s. That row is what the neuron's error
// travels back through (a VJP: g[pre] += eps_i * J[s]), the dynamic counterpart of
// W^T for a linear vertex. Shared by the event engine and the synchronous forms.
#include <algorithm>
#include <cmath>
#include <cstddef>

namespace phaseless::core {

// mu = sum_s (w0_s a_s)(w1_s b_s); J0[s] = w0_s (w1_s b_s), J1[s] = w1_s (w0_s a_s).
template <class Real>
Real bilinear_vertex(const Real* w0, const Real* a, const Real* w1, const Real* b, std::size_t n, Real* j0, Real* j1) {
  Real mu = 0;
  for (std::size_t s = 0; s < n; ++s) {
    const Real l = w0[s] * a[s], r = w1[s] * b[s];
    mu += l * r;
    if (j0) j0[s] = w0[s] * r;
    if (j1) j1[s] = w1[s] * l;
  }
  return mu;
}

// p = softmax(w_s x_s) over the row; mu = p_self; J[s] = w_s p_self (delta_{s,self} - p_s).
template <class Real>
Real softmax_vertex(const Real* w, const Real* x, std::size_t n, std::size_t self, Real* j) {
  Real m = w[0] * x[0];
  for (std::size_t s = 1; s < n; ++s) m = std::max(m, w[s] * x[s]);
  Real sum = 0;
  for (std::size_t s = 0; s < n; ++s) sum += std::exp(w[s] * x[s] - m);
  const Real p_self = std::exp(w[self] * x[self] - m) / sum;
  if (j)
    for (std::size_t s = 0; s < n; ++s) {
      const Real p = std::exp(w[s] * x[s] - m) / sum;
      j[s] = w[s] * p_self * ((s == self ? Real(1) : Real(0)) - p);
    }
  return p_self;
}

}  // namespace phaseless::core
