// The learning rule of a model file as the engines see it: rule, loss, batch, rates,
// optimizer and each rule's own parameters (defaults already applied by the loader).
#include "sim/io/network_builder.hpp"

namespace phaseless::io {

using namespace phaseless::core;
namespace pb = phaseless::v1;

learning_spec build_learning_spec(const pb::Model& m) {
  learning_spec L;
  L.loss = m.rule().loss() == pb::MSE ? loss_kind::mse : loss_kind::softmax_ce;
  L.batch = m.schedule().batch_size();
  L.threshold = m.execution().threshold();
  if (m.rule().has_zil()) {
    L.rule = "zil";
    L.gamma = m.rule().zil().gamma();
  }
  // The relaxation IL and IL-prox share (defaults already applied by the loader).
  auto relaxation = [&L](const auto& r) {
    L.il.iterations = r.iterations();
    L.il.gamma_top = r.gamma_top();
    L.il.gamma_bot = r.gamma_bot();
    L.il.gamma_dec = r.gamma_dec();
  };
  if (m.rule().has_il()) {
    const auto& r = m.rule().il();
    L.rule = "il";
    relaxation(r);
    L.il.clamp = r.clamp();
  }
  if (m.rule().has_il_prox()) {
    const auto& r = m.rule().il_prox();
    L.rule = "il_prox";
    L.il.alpha = r.alpha();
    L.il.eps_n = r.eps_n();
    relaxation(r);
  }
  // A rule's optimizer (shared by every rule; sim/rules/optimizer.hpp).
  auto set_optimizer = [&L](const pb::Optimizer& o) {
    L.optimizer.set = true;
    L.optimizer.adam = o.kind() == pb::Optimizer::ADAM;
    L.optimizer.lr = o.lr();
    L.optimizer.momentum = o.momentum();
    L.optimizer.weight_decay = o.weight_decay();
    L.optimizer.beta1 = o.beta1();
    L.optimizer.beta2 = o.beta2();
    L.optimizer.eps = o.eps();
    L.lr = o.lr();
  };
  // Z-IL and IL: plain SGD (no momentum, no decay) is the rules' own step w -= lr g, with
  // no per-synapse optimizer state.
  auto set_rate = [&](const pb::Optimizer& o) {
    const bool plain = o.kind() != pb::Optimizer::ADAM && o.momentum() == 0 && o.weight_decay() == 0;
    if (plain) L.lr = o.lr();
    else set_optimizer(o);
  };
  if (m.rule().has_zil()) set_rate(m.rule().zil().optimizer());
  if (m.rule().has_il()) set_rate(m.rule().il().optimizer());
  if (m.rule().has_il_prox() && m.rule().il_prox().has_optimizer()) set_optimizer(m.rule().il_prox().optimizer());
  if (m.rule().has_dp()) {
    const auto& d = m.rule().dp();
    L.rule = "dp";
    set_optimizer(d.optimizer());
    using vk = learning_spec::dp_params::variant_kind;
    L.dp.variant = d.variant() == pb::DP::DP_TOP ? vk::dp_top : d.variant() == pb::DP::DAMPED ? vk::damped : vk::dp;
    L.dp.beta = d.beta();
    L.dp.alpha = d.alpha();
    L.dp.rounds = d.rounds();
    L.dp.output_error_at_forward = d.output_error_at_forward();
    L.dp.symmetric_hidden = d.symmetric_hidden();
    L.dp.power_iterations = d.power_iterations();
    L.dp.max_state = d.max_state();
  }
  return L;
}

}  // namespace phaseless::io
