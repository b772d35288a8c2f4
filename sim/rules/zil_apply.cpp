// Z-IL's weight updates (zil.hpp): a neuron applies what it learned to its own
// in-synapses and bias when its timer fires, after its errors were read through
// its rows of W.
#include "sim/rules/zil.hpp"

#include <algorithm>

namespace phaseless::rules {

template <class Real>
void zil_population<Real>::apply(index_t i, unsigned shard) {
  if (accumulated_[i] == 0) return;
  if (!opt_.empty()) {
    apply_optimizer(i, shard);
    return;
  }
  const double base = learning_->lr / accumulated_[i];
  for (std::size_t k = 0; k < in_.size(); ++k) {
    if (!own_update(k)) continue;
    const auto& link = *w_.in[k];
    auto& syn = *link.syn;
    const auto rb = syn.row_begin(i), n = syn.row_end(i) - rb;
    const Real scale = static_cast<Real>(base * link.lr_scale);
    const Real* x = learning_->batch > 1 ? nullptr : in_[k].pre_values(i, shard);
    const Real e = link_error(k, i);
    if (link.weight_decay != 0) {
      const Real decay = static_cast<Real>(learning_->lr * link.lr_scale * link.weight_decay);
      kernels::decayed_update(scale, decay, e, x, x ? nullptr : grad_[k].data() + rb, syn.w.data() + rb, n);
    } else if (x) {
      kernels::outer_update(scale, e, x, syn.w.data() + rb, n);
    } else {
      kernels::axpy(scale, grad_[k].data() + rb, syn.w.data() + rb, n);
    }
    if (!x) std::fill_n(grad_[k].data() + rb, n, Real(0));
  }
  // The bias is the neuron's own parameter: the first in-projection's rate, no decay.
  const double bias_scale = base * (in_.empty() ? 1.0 : w_.in[0]->lr_scale);
  if (spec_->bias && spec_->bias_plastic && !w_.bias_tie_grad) b_[i] += static_cast<Real>(bias_scale) * grad_b_[i];
  grad_b_[i] = 0;
  accumulated_[i] = 0;
}

// apply() for many neurons at batch 1 with plain SGD: the same arithmetic per neuron
// (accumulated is 1, so the rate is lr / 1 = lr), with the per-link constants
// computed once. Each neuron still writes only its own row and bias.
template <class Real>
void zil_population<Real>::apply_rows(const std::vector<index_t>& rows, unsigned shard) {
  for (index_t i : rows)
    if (accumulated_[i] > 1) {   // not batch 1 after all: the general path
      for (index_t r : rows) apply(r, shard);
      return;
    }
  const double base = learning_->lr;
  for (std::size_t k = 0; k < in_.size(); ++k) {
    if (!own_update(k)) continue;
    auto& syn = *w_.in[k]->syn;
    const Real scale = static_cast<Real>(base * w_.in[k]->lr_scale);
    // Dense rows share one input vector: fetched once, not per row.
    const Real* shared_x = in_[k].direct() ? in_[k].pre_values(0, shard) : nullptr;
    for (index_t i : rows) {
      if (accumulated_[i] == 0) continue;
      const auto rb = syn.row_begin(i);
      const Real* x = shared_x ? shared_x : in_[k].pre_values(i, shard);
      kernels::outer_update(scale, eps_[i], x, syn.w.data() + rb, syn.row_end(i) - rb);
    }
  }
  const Real bias_scale = static_cast<Real>(base * (in_.empty() ? 1.0 : w_.in[0]->lr_scale));
  const bool bias = spec_->bias && spec_->bias_plastic && !w_.bias_tie_grad;
  for (index_t i : rows) {
    if (accumulated_[i] == 0) continue;
    if (bias) b_[i] += bias_scale * grad_b_[i];
    grad_b_[i] = 0;
    accumulated_[i] = 0;
  }
}

// The optimizer path: G = sum eps x_pre is -dL/dW, so the gradient handed to the
// optimizer is G scaled by -1/n. Plain SGD (no optimizer block) keeps apply()'s
// arithmetic, so Z-IL stays bitwise equal to the backprop baseline there too.
template <class Real>
void zil_population<Real>::apply_optimizer(index_t i, unsigned shard) {
  const Real scale = static_cast<Real>(-1.0 / double(accumulated_[i]));
  for (std::size_t k = 0; k < in_.size(); ++k) {
    if (!own_update(k)) continue;
    auto& syn = *w_.in[k]->syn;
    const auto rb = syn.row_begin(i), n = syn.row_end(i) - rb;
    if (learning_->batch > 1) {
      opt_[k].step_and_clear(i, rb, n, syn.w.data() + rb, grad_[k].data() + rb, scale);
    } else {
      const Real* x = in_[k].pre_values(i, shard);
      const Real e = link_error(k, i);
      for (std::size_t j = 0; j < n; ++j) opt_row_[j] = Real(0) + e * x[j];
      opt_[k].step(i, rb, n, syn.w.data() + rb, opt_row_.data(), scale);
    }
  }
  if (spec_->bias && spec_->bias_plastic && !w_.bias_tie_grad) bias_opt_.step(i, i, 1, &b_[i], &grad_b_[i], scale);
  grad_b_[i] = 0;
  accumulated_[i] = 0;
}

#define PHASELESS_ZIL_APPLY(Real)                                                       \
  template void zil_population<Real>::apply(index_t, unsigned);                         \
  template void zil_population<Real>::apply_rows(const std::vector<index_t>&, unsigned); \
  template void zil_population<Real>::apply_optimizer(index_t, unsigned);
PHASELESS_ZIL_APPLY(float)
PHASELESS_ZIL_APPLY(double)
#undef PHASELESS_ZIL_APPLY

}  // namespace phaseless::rules
