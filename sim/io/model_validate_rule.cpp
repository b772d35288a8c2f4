// The rule block: each rule's parameters, its optimizer and the learning-rate checks.
// Part of the checker of model_validate.cpp.
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/io/model_checker.hpp"

namespace phaseless::io::detail {

// An optimizer block (shared by every rule): every field with its range.
void checker::check_optimizer(const std::string& path, const v1::Optimizer& o) {
  const double lr = o.lr();
  const std::string allowed = "; allowed: a finite number > 0, e.g. 0.001";
  if (std::isnan(lr)) add(path + ".lr", "is NaN" + allowed);
  else if (std::isinf(lr)) add(path + ".lr", "is infinite (" + num(lr) + ")" + allowed);
  else if (lr < 0) add(path + ".lr", "is negative (" + num(lr) + "): it would climb the loss" + allowed);
  else if (lr == 0) add(path + ".lr", "is 0 or missing: nothing would be learned" + allowed);
  if (!(o.momentum() >= 0 && o.momentum() < 1)) add(path + ".momentum", num(o.momentum()) + " is out of range; allowed: [0, 1)");
  if (o.momentum() != 0 && o.kind() == v1::Optimizer::ADAM)
    add(path + ".momentum", "is an SGD setting, but kind is ADAM; allowed: 0 (use beta1 for Adam)");
  if (!(std::isfinite(o.weight_decay()) && o.weight_decay() >= 0))
    add(path + ".weight_decay", num(o.weight_decay()) + " is not a finite number >= 0; allowed: >= 0");
  if (!(o.beta1() >= 0 && o.beta1() < 1)) add(path + ".beta1", num(o.beta1()) + " is out of range; allowed: [0, 1)");
  if (!(o.beta2() >= 0 && o.beta2() < 1)) add(path + ".beta2", num(o.beta2()) + " is out of range; allowed: [0, 1)");
  if (!(std::isfinite(o.eps()) && o.eps() > 0)) add(path + ".eps", num(o.eps()) + " is not a finite number > 0; allowed: > 0");
}

// Every rule takes its learning rate the same way: optimizer { kind lr ... } inside the
// rule's block. `lr` directly in zil {} or il {} is the old form: say what to write.
void checker::check_rate(const std::string& rule, double old_lr, bool has_optimizer, const v1::Optimizer* o,
                         const char* example) {
  if (old_lr != 0) {
    add(rule + ".lr", "is the old form; every rule now takes its rate in its optimizer block: write " +
                          rule.substr(5) + " { optimizer { lr: " + num(old_lr) + " } } (plain SGD) instead");
  } else if (!has_optimizer) {
    add(rule + ".optimizer", std::string("missing: nothing would be learned; allowed: optimizer { lr: ") + example +
                                 " } (plain SGD), or e.g. optimizer { kind: ADAM lr: 0.001 }");
  }
  if (o != nullptr) check_optimizer(rule + ".optimizer", *o);
}

// Dual propagation (spec dp-fa.md §2.6, §7): ranges, and the squared-loss
// output closed form, which is ill-posed when (1 - alpha) beta >= 1.
void checker::check_dp(const v1::DP& d) {
  const double beta = d.beta(), alpha = d.alpha();
  if (!(std::isfinite(beta) && beta > 0)) add("rule.dp.beta", num(beta) + " is not a finite number > 0; allowed: > 0 (0 means 0.5)");
  if (!(alpha >= 0 && alpha <= 1)) add("rule.dp.alpha", num(alpha) + " is out of range; allowed: [0, 1]");
  if (d.rounds() < 1 || d.rounds() > 10000) add("rule.dp.rounds", std::to_string(d.rounds()) + " is out of range; allowed: 1 to 10000");
  if (!(d.max_state() > 0)) add("rule.dp.max_state", num(d.max_state()) + " is not > 0; allowed: > 0 (0 means 1e6)");
  if (d.power_iterations() > 1000) add("rule.dp.power_iterations", std::to_string(d.power_iterations()) + " is too many; allowed: 1 to 1000");
  if (!d.has_optimizer()) {
    add("rule.dp.optimizer", "missing; allowed: an optimizer block, e.g. optimizer { kind: ADAM lr: 0.001 }");
  } else {
    check_optimizer("rule.dp.optimizer", d.optimizer());
  }
  const bool top = d.variant() == v1::DP::DP_TOP;
  if (d.output_error_at_forward() && !top)
    add("rule.dp.output_error_at_forward", "applies to variant DP_TOP only, but the variant is " +
                                               v1::DP::Variant_Name(d.variant()) + "; allowed: false, or variant DP_TOP");
  if (d.symmetric_hidden() && d.variant() != v1::DP::STANDARD)
    add("rule.dp.symmetric_hidden", "applies to variant STANDARD only, but the variant is " +
                                        v1::DP::Variant_Name(d.variant()) + "; allowed: false, or variant STANDARD");
  if (model_.rule().loss() == v1::MSE && !top && std::isfinite(beta) && alpha >= 0 && alpha <= 1 &&
      (1 - alpha) * beta >= 1)
    add("rule.dp.beta", "with loss MSE the output's s- closed form (a - (1-alpha) beta y) / (1 - (1-alpha) beta) is "
                        "ill-posed: (1 - alpha) * beta = " + num((1 - alpha) * beta) + " >= 1 (alpha " + num(alpha) +
                        ", beta " + num(beta) + "); allowed: (1 - alpha) * beta < 1, i.e. beta < " +
                        (alpha < 1 ? num(1 / (1 - alpha)) : std::string("inf")) + " (or variant DP_TOP, whose output is linearised)");
  if (output_ >= 0) {
    const v1::Population& out = model_.populations(output_);
    if (out.activation() != v1::IDENTITY && out.activation() != v1::ACTIVATION_UNSPECIFIED)
      add("populations[" + std::to_string(output_) + "].activation",
          "the OUTPUT population '" + out.name() + "' has activation " + v1::Activation_Name(out.activation()) +
              ", but rule dp uses a linear output dyad (spec dp-fa.md §1); allowed: IDENTITY");
  }
}

// IL and IL-prox (spec pc-family.md §2.3-§2.5; defaults §5, applied before this).
void checker::check_il(const v1::Rule& r) {
  const bool px = r.has_il_prox();
  const std::string at = px ? "rule.il_prox." : "rule.il.";
  auto nonneg = [&](const char* f, double v) {
    if (!(std::isfinite(v) && v >= 0)) add(at + f, num(v) + " is not a finite number >= 0; allowed: >= 0");
  };
  auto positive = [&](const char* f, double v, const char* eg) {
    if (!(std::isfinite(v) && v > 0))
      add(at + f, num(v) + " is not a finite number > 0" + std::string(v == 0 ? " (0 or missing)" : "") +
                      "; allowed: > 0, e.g. " + eg);
  };
  const std::uint32_t T = px ? r.il_prox().iterations() : r.il().iterations();
  if (T < 1 || T > 100000)
    add(at + "iterations", std::to_string(T) + " is out of range; allowed: 1 to 100000 relaxation steps (0 means the default)");
  if (px) {
    const v1::ILProx& p = r.il_prox();
    positive("alpha", p.alpha(), "2.5");
    nonneg("eps_n", p.eps_n());
    nonneg("gamma_top", p.gamma_top());
    nonneg("gamma_bot", p.gamma_bot());
    nonneg("gamma_dec", p.gamma_dec());
    if (p.has_optimizer()) check_optimizer(at + "optimizer", p.optimizer());
    if (p.eps_n() == 0)
      for (int i = 0; i < model_.populations_size(); ++i) {
        const v1::Population& q = model_.populations(i);
        if (q.role() != v1::INPUT && !q.bias())
          add("populations[" + std::to_string(i) + "].bias",
              "population '" + q.name() + "' has no bias, and rule.il_prox.eps_n is 0: the normalizer ||a||^2 + eps_n "
              "of its weight step can be 0; allowed: bias: true, or eps_n > 0");
      }
  } else {
    const v1::IL& p = r.il();
    check_rate("rule.il", p.lr(), p.has_optimizer(), p.has_optimizer() ? &p.optimizer() : nullptr, "0.03");
    nonneg("gamma_top", p.gamma_top());
    nonneg("gamma_bot", p.gamma_bot());
    nonneg("gamma_dec", p.gamma_dec());
    if (!(p.clamp() >= 0 && p.clamp() <= 1))
      add(at + "clamp", num(p.clamp()) + " is out of range; allowed: [0, 1] (1: hard clamp to the label)");
  }
}

void checker::check_rule() {
  const v1::Rule& r = model_.rule();
  if (r.has_il() || r.has_il_prox()) {
    check_il(r);
  } else if (r.has_dp()) {
    check_dp(r.dp());
  } else if (!r.has_zil()) {
    add("rule", "no learning rule; allowed: zil { optimizer { lr: ... } }, il { optimizer { lr: ... } }, il_prox { alpha: ... }, dp { optimizer { ... } }");
  } else {
    check_rate("rule.zil", r.zil().lr(), r.zil().has_optimizer(),
               r.zil().has_optimizer() ? &r.zil().optimizer() : nullptr, "0.01");
    const double g = r.zil().gamma();
    if (!(g > 0 && g <= 1)) {
      add("rule.zil.gamma", num(g) + " is out of range; allowed: (0, 1], normally 1 (0 means 1)");
    }
  }
  if (r.loss() == v1::SOFTMAX_CE && output_ >= 0) {
    const v1::Population& out = model_.populations(output_);
    if (out.activation() != v1::IDENTITY && out.activation() != v1::ACTIVATION_UNSPECIFIED) {
      add("populations[" + std::to_string(output_) + "].activation",
          "the OUTPUT population '" + out.name() + "' has activation " + v1::Activation_Name(out.activation()) +
              ", but loss SOFTMAX_CE applies the softmax itself; allowed: IDENTITY, or rule.loss MSE");
    }
  }
}

}  // namespace phaseless::io::detail
