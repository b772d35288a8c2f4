// Projections: names, ends, shapes, feedback, weight init, delays (with jitter and loss)
// and the per-projection message formats. Part of the checker of model_validate.cpp.
#include <google/protobuf/util/message_differencer.h>

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/io/model_checker.hpp"

namespace phaseless::io::detail {

namespace pb = google::protobuf;

void checker::check_projections() {
  std::map<std::string, int> names;
  std::map<std::pair<int, int>, int> pairs;
  edges_.assign(model_.populations_size(), {});
  for (int j = 0; j < model_.projections_size(); ++j) {
    const v1::Projection& q = model_.projections(j);
    const std::string path = "projections[" + std::to_string(j) + "]";
    if (q.name().empty()) {
      add(path + ".name", "missing; allowed: a unique name (it keys the seed, --set paths and the trace)");
    } else if (auto [it, fresh] = names.emplace(q.name(), j); !fresh) {
      add(path + ".name", "duplicate projection name '" + shown(q.name()) + "' (projections[" +
                              std::to_string(it->second) + "] has it too); allowed: unique names");
    } else if (!is_identifier(q.name())) {
      // It names the projection's group in the trace ('/' would nest groups, a NUL cut the
      // name) and, with ".bias" or "@t" appended, the parameters it shares.
      add(path + ".name", "'" + shown(q.name()) + "' is not a valid name; allowed: [A-Za-z_][A-Za-z0-9_]* (it names "
                          "the projection in the trace)");
    }
    const int pre = lookup(path + ".pre", q.pre());
    const int post = lookup(path + ".post", q.post());
    if (pre >= 0 && post >= 0) {
      const v1::Population& a = model_.populations(pre);
      const v1::Population& b = model_.populations(post);
      bool ok = true;
      if (pre == post && steps(pre) == 0) {
        add(path + ".post", "'" + b.name() + "' is also the pre population; allowed: two different populations "
                            "(a projection onto itself only on an unrolled population, unroll >= 2: its recurrence)");
        ok = false;
      }
      if (b.role() == v1::INPUT) {
        add(path + ".post", "'" + b.name() +
                                "' is the INPUT population, which is clamped to the data and receives nothing; "
                                "allowed: a HIDDEN or OUTPUT population");
        ok = false;
      }
      if (a.role() == v1::OUTPUT) {
        add(path + ".pre", "'" + a.name() + "' is the OUTPUT population, which sends nothing onward; "
                                            "allowed: an INPUT or HIDDEN population");
        ok = false;
      }
      if (auto [it, fresh] = pairs.emplace(std::pair{pre, post}, j); !fresh) {
        add(path, "a second projection from '" + a.name() + "' to '" + b.name() + "' (projections[" +
                      std::to_string(it->second) + "] is the first); allowed: one projection per (pre, post) pair");
      } else if (ok) {
        edges_[pre].push_back({post, j});
      }
      ok = check_connectivity(path, q, pre, post) && ok;
      graph_complete_ = graph_complete_ && ok;
    } else {
      graph_complete_ = false;
    }
    if (q.has_sparse()) {
      const double p = q.sparse().p();
      if (!(p > 0 && p <= 1)) add(path + ".sparse.p", num(p) + " is not a probability; allowed: (0, 1]");
    }
    check_init(path + ".init", q.init());
    if (q.has_bias_init()) check_init(path + ".bias_init", q.bias_init());
    check_delay(path + ".delay", q.delay());
    // apply_defaults copies the forward delay here: only an explicit, different one
    // needs its own check, else a bad forward delay would be reported twice.
    if (!pb::util::MessageDifferencer::Equals(q.feedback().delay(), q.delay())) {
      check_delay(path + ".feedback.delay", q.feedback().delay());
    }
    check_feedback(path, q);
    if (q.has_message()) check_message_format(path + ".message", q.message());
    if (q.has_feedback_message()) {
      check_message_format(path + ".feedback_message", q.feedback_message());
      if (q.feedback().kind() == v1::NONE)
        add(path + ".feedback_message", "is set, but feedback.kind is NONE: no errors travel back through this "
                                        "projection; allowed: no feedback_message, or a feedback kind");
    }
  }
}

// Fixed-point messages: a sign bit and at least one more, at most a 32-bit integer; a
// positive finite range.
void checker::check_message_format(const std::string& path, const v1::MessageFormat& f) {
  if (f.bits() < 2 || f.bits() > 32)
    add(path + ".bits", std::to_string(f.bits()) + " bits is not a supported fixed-point width; allowed: 2 to 32 "
                        "(the sign bit included)");
  if (!(std::isfinite(f.scale()) && f.scale() > 0))
    add(path + ".scale", num(f.scale()) + " is not a range; allowed: a finite number > 0 (the largest magnitude a "
                         "message carries)");
}

// Errors cannot flow into a clamped input; B's options only make sense for RANDOM.
void checker::check_feedback(const std::string& path, const v1::Projection& q) {
  const v1::Feedback& fb = q.feedback();
  const auto pre = pop_index_.find(q.pre());
  if (fb.kind() != v1::NONE && pre != pop_index_.end() &&
      model_.populations(pre->second).role() == v1::INPUT)
    add(path + ".feedback.kind", v1::FeedbackKind_Name(fb.kind()) + " sends errors into '" + q.pre() +
                                     "', the INPUT population, which is clamped to the data; allowed: NONE");
  if (fb.kind() != v1::RANDOM && (fb.tie_to_forward() || fb.has_init()))
    add(path + ".feedback", "init and tie_to_forward describe the random matrix B; allowed only with kind: RANDOM");
  if (fb.kind() == v1::RANDOM && fb.has_init()) check_init(path + ".feedback.init", fb.init());
  // Feedback alignment is defined for the error wave of Z-IL (= backprop); the IL and
  // DP neurons and their synchronous forms send their signals back through W^T.
  if (fb.kind() == v1::RANDOM && model_.rule().kind_case() != v1::Rule::kZil &&
      model_.rule().kind_case() != v1::Rule::KIND_NOT_SET)
    add(path + ".feedback.kind", "RANDOM (feedback alignment) is implemented for rule zil only; allowed with "
                                 "this rule: SYMMETRIC or NONE");
  if (!(std::isfinite(q.lr_scale()) && q.lr_scale() >= 0))
    add(path + ".lr_scale", num(q.lr_scale()) + " is not allowed; allowed: a finite number >= 0 (0 means 1)");
  if (!(std::isfinite(q.weight_decay()) && q.weight_decay() >= 0))
    add(path + ".weight_decay", num(q.weight_decay()) + " is not allowed; allowed: a finite number >= 0");
}

void checker::check_init(const std::string& path, const v1::WeightInit& w) {
  const double s = w.scale();
  if (!std::isfinite(s)) {
    add(path + ".scale", num(s) + " is not finite; allowed: a finite number");
  } else if ((w.law() == v1::NORMAL || w.law() == v1::UNIFORM) && s <= 0) {
    add(path + ".scale", v1::InitLaw_Name(w.law()) + " needs scale > 0 (the " +
                             (w.law() == v1::NORMAL ? "standard deviation" : "half-width") + "), got " + num(s) +
                             "; allowed: > 0");
  } else if (w.law() == v1::XAVIER_UNIFORM && s < 0) {
    add(path + ".scale", "XAVIER_UNIFORM gain " + num(s) + " is negative; allowed: > 0 (0 means 1)");
  }
}

void checker::check_delay(const std::string& path, const v1::Delay& d) {
  static const std::string zero = "zero delay is not allowed: every message takes at least one tick; allowed: >= 1";
  if (d.has_constant()) {
    if (d.constant().ticks() == 0) add(path + ".constant.ticks", zero);
    // The event calendar holds one bucket per tick of the longest delay.
    if (d.constant().ticks() > max_constant_delay_ticks)
      add(path + ".constant.ticks", std::to_string(d.constant().ticks()) + " ticks is longer than supported (the "
                                    "event calendar spans the longest delay); allowed: 1 to " +
                                    std::to_string(max_constant_delay_ticks));
  } else if (d.has_uniform()) {
    const v1::UniformDelay& u = d.uniform();
    if (u.min() == 0) add(path + ".uniform.min", zero);
    if (u.max() < u.min()) {
      add(path + ".uniform.max", "max " + std::to_string(u.max()) + " is less than min " + std::to_string(u.min()) +
                                     "; allowed: min <= max <= " + std::to_string(max_delay_ticks));
    } else if (u.max() > max_delay_ticks) {
      add(path + ".uniform.max", std::to_string(u.max()) + " ticks is longer than supported; allowed: max <= " +
                                     std::to_string(max_delay_ticks));
    }
  }
  if (d.jitter_max() > max_delay_ticks)
    add(path + ".jitter_max", std::to_string(d.jitter_max()) + " ticks is longer than supported; allowed: 0 to " +
                                  std::to_string(max_delay_ticks));
  const double p = d.drop_probability();
  if (!(p >= 0 && p < 1))
    add(path + ".drop_probability", num(p) + " is not a loss probability; allowed: 0 <= drop_probability < 1 "
                                    "(1 would lose every message)");
}

}  // namespace phaseless::io::detail
