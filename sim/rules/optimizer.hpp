#pragma once
// Local optimizers, shared by every rule: the state lives per synapse (and a step
// counter per post-neuron), so an update still uses only what the post-neuron
// holds (R1). Semantics follow torch.optim: SGD with momentum and weight decay
// (decay added to the gradient), and Adam with bias correction.
//
// Rules hand in the *gradient* g of the loss (descent: w <- w - lr * step(g)).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "sim/core/network_spec.hpp"

namespace phaseless::rules {

enum class optimizer_kind { sgd, adam };

struct optimizer_spec {
  optimizer_kind kind = optimizer_kind::sgd;
  double lr = 0.01;
  double momentum = 0;       // SGD only
  double weight_decay = 0;   // added to the gradient: g + wd * w
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;   // Adam only
  bool stateless() const { return kind == optimizer_kind::sgd && momentum == 0 && weight_decay == 0; }
};

// The optimizer a model's rule block asks for (learning_spec::optimizer).
inline optimizer_spec to_optimizer_spec(const core::learning_spec::optimizer_params& o) {
  optimizer_spec s;
  s.kind = o.adam ? optimizer_kind::adam : optimizer_kind::sgd;
  s.lr = o.lr;
  s.momentum = o.momentum;
  s.weight_decay = o.weight_decay;
  s.beta1 = o.beta1;
  s.beta2 = o.beta2;
  s.eps = o.eps;
  return s;
}

template <class Real>
class optimizer {
 public:
  // n_params: synapses (plus biases, if the caller keeps them in the same state).
  void init(const optimizer_spec& s, std::size_t n_params, std::size_t n_rows) {
    spec_ = s;
    if (s.kind == optimizer_kind::adam) {
      m_.assign(n_params, Real(0));
      v_.assign(n_params, Real(0));
    } else if (s.momentum != 0) {
      m_.assign(n_params, Real(0));
    }
    t_.assign(n_rows, 0);
  }
  const optimizer_spec& spec() const { return spec_; }

  // One step for the parameters [offset, offset + n) owned by row `row`, with
  // gradient g (length n), scaled by `scale` first (e.g. 1/batch).
  void step(std::size_t row, std::size_t offset, std::size_t n, Real* w, const Real* g, Real scale) {
    const Real lr = static_cast<Real>(spec_.lr), wd = static_cast<Real>(spec_.weight_decay);
    if (spec_.kind == optimizer_kind::sgd) {
      const Real mu = static_cast<Real>(spec_.momentum);
      Real* buf = m_.empty() ? nullptr : m_.data() + offset;
      const bool first = t_[row]++ == 0;
      for (std::size_t k = 0; k < n; ++k) {
        Real d = scale * g[k] + wd * w[k];
        if (buf) d = buf[k] = flush(first ? d : mu * buf[k] + d);   // torch: the first step copies g
        w[k] -= lr * d;
      }
      return;
    }
    const std::uint64_t t = ++t_[row];
    const Real b1 = static_cast<Real>(spec_.beta1), b2 = static_cast<Real>(spec_.beta2);
    const Real c1 = Real(1) - static_cast<Real>(std::pow(spec_.beta1, double(t)));
    const Real c2 = Real(1) - static_cast<Real>(std::pow(spec_.beta2, double(t)));
    const Real eps = static_cast<Real>(spec_.eps);
    Real* m = m_.data() + offset;
    Real* v = v_.data() + offset;
    for (std::size_t k = 0; k < n; ++k) {
      const Real d = scale * g[k] + wd * w[k];
      m[k] = flush(b1 * m[k] + (Real(1) - b1) * d);
      v[k] = flush(b2 * v[k] + (Real(1) - b2) * d * d);
      w[k] -= lr * (m[k] / c1) / (std::sqrt(v[k] / c2) + eps);
    }
  }
  // A step with an accumulated gradient row, which then starts the next batch from 0.
  void step_and_clear(std::size_t row, std::size_t offset, std::size_t n, Real* w, Real* g, Real scale) {
    step(row, offset, n, w, g, scale);
    std::fill_n(g, n, Real(0));
  }

 private:
  // Moments of a synapse that stops receiving gradient decay geometrically into
  // subnormal numbers, which the FPU handles tens of times slower; their effect on
  // the step (|m| / (sqrt(v) + eps) with eps = 1e-8) is nil, so they become 0.
  static Real flush(Real x) { return std::abs(x) < std::numeric_limits<Real>::min() ? Real(0) : x; }

  optimizer_spec spec_;
  std::vector<Real> m_, v_;
  std::vector<std::uint64_t> t_;
};

// One sample's gradient row e * x (batch 1), rounded as accumulating it into a zeroed
// buffer would: row = 0 + e * x, so a batch-1 shortcut stays bitwise equal to the
// accumulate-then-step path. nullptr when opt's step cannot change the row: e = 0
// under a stateless SGD (every term of the step is a signed zero).
template <class Real>
const Real* batch1_gradient_row(const optimizer<Real>& opt, Real e, const Real* x, Real* row, std::size_t n) {
  if (e == Real(0) && opt.spec().stateless()) return nullptr;
  for (std::size_t j = 0; j < n; ++j) row[j] = Real(0) + e * x[j];
  return row;
}

}  // namespace phaseless::rules
