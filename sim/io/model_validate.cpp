// Semantic validation. It never stops at the first problem: a user editing a model
// wants the whole list, each with the place to edit and what would be accepted.
// The checks of computational-graph features are in model_validate_graph.cpp.
#include "sim/io/model_validate.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/model_checker.hpp"

namespace phaseless::io {
namespace detail {
namespace {

namespace pb = google::protobuf;

// Shortest text that reads back as the same double ("0.1", "nan", "-inf").
std::string num(double x) {
  std::array<char, 32> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), x);
  return std::string(buf.data(), res.ptr);
}

bool is_identifier(const std::string& s) {
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (s.empty() || !alpha(s[0])) return false;
  for (char c : s) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

}  // namespace

// The name as it can be shown: bytes outside printable ASCII (a NUL, a control
// character) as \xNN, so a message never carries them to the terminal.
std::string shown(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out;
}

void checker::run() {
  check_enums(model_, "");
  if (model_.schema_version() != 1) {
    add("schema_version", model_.schema_version() == 0
                              ? "missing; allowed: 1 (write `schema_version: 1` at the top of the file)"
                              : "unsupported version " + std::to_string(model_.schema_version()) + "; allowed: 1");
  }
  // The model's name is stored in the trace as text: a NUL would cut it short.
  if (const std::size_t at = model_.name().find_first_of(std::string("\0\n\r", 3)); at != std::string::npos)
    add("name", "'" + shown(model_.name()) + "' holds a NUL or line break at byte " + std::to_string(at) +
                    "; allowed: one line of text without NUL bytes");
  check_populations();
  check_projections();
  check_graph();
  check_graph_features();
  check_rule();
  check_data();
  check_run_settings();
  // Only for an otherwise valid model: rejected sizes or names would make it meaningless.
  if (lines_.empty())
    check_model_memory(model_, data_, [this](const std::string& path, const std::string& what) { add(path, what); });
  if (!lines_.empty()) {
    // A long list helps nobody and a generated model can have thousands: the first
    // problems, then a count, so the output stays linear in the model's size.
    std::string all;
    for (std::size_t k = 0; k < lines_.size() && k < max_reported_problems; ++k)
      all += (all.empty() ? "" : "\n") + lines_[k];
    if (lines_.size() > max_reported_problems)
      all += "\n" + src_.where("") + "and " + std::to_string(lines_.size() - max_reported_problems) +
             " more problems (the first " + std::to_string(max_reported_problems) + " are listed; fix them and validate again)";
    throw core::user_error(all);
  }
}

// "h@2" names step 2 of an unrolled population h.
bool checker::is_step_name(const std::string& name) const {
  const std::size_t at = name.rfind('@');
  if (at == std::string::npos) return false;
  const auto it = pop_index_.find(name.substr(0, at));
  std::uint32_t t = 0;
  const char* end = name.data() + name.size();
  const auto [ptr, ec] = std::from_chars(name.data() + at + 1, end, t);
  return it != pop_index_.end() && ec == std::errc() && ptr == end && name[at + 1] != '0' && t >= 1 &&
         t <= steps(it->second);
}

// Text format accepts any number for an enum (proto3 enums are open), so a value
// like `role: 7` parses; reflection finds every such field wherever it is.
void checker::check_enums(const pb::Message& msg, const std::string& prefix) {
  const pb::Descriptor& d = *msg.GetDescriptor();
  const pb::Reflection& r = *msg.GetReflection();
  for (int i = 0; i < d.field_count(); ++i) {
    const pb::FieldDescriptor* f = d.field(i);
    const std::string path = prefix + (prefix.empty() ? "" : ".") + f->name();
    auto check_value = [&](const std::string& p, int v) {
      if (f->enum_type()->FindValueByNumber(v) == nullptr) {
        add(p, "unknown value " + std::to_string(v) + "; allowed: " + enum_names(*f->enum_type()));
      }
    };
    if (f->is_repeated()) {
      for (int k = 0; k < r.FieldSize(msg, f); ++k) {
        const std::string p = path + "[" + std::to_string(k) + "]";
        if (f->enum_type()) check_value(p, r.GetRepeatedEnumValue(msg, f, k));
        if (f->message_type()) check_enums(r.GetRepeatedMessage(msg, f, k), p);
      }
    } else if (f->enum_type()) {
      check_value(path, r.GetEnumValue(msg, f));
    } else if (f->message_type() && r.HasField(msg, f)) {
      check_enums(r.GetMessage(msg, f), path);
    }
  }
}

void checker::check_populations() {
  for (int i = 0; i < model_.populations_size(); ++i) {
    const v1::Population& p = model_.populations(i);
    const std::string path = "populations[" + std::to_string(i) + "]";
    if (p.name().empty()) {
      add(path + ".name", "missing; allowed: a unique name matching [A-Za-z_][A-Za-z0-9_]*");
    } else if (auto [it, fresh] = pop_index_.emplace(p.name(), i); !fresh) {
      add(path + ".name", "duplicate population name '" + p.name() + "' (populations[" +
                              std::to_string(it->second) + "] has it too); allowed: unique names");
    } else if (!is_identifier(p.name())) {
      // Still indexed above, so projections naming it do not add "no population" noise.
      add(path + ".name", "'" + shown(p.name()) + "' is not a valid name; allowed: [A-Za-z_][A-Za-z0-9_]*");
    }
    if (p.role() == v1::ROLE_UNSPECIFIED) add(path + ".role", "missing; allowed: INPUT, HIDDEN, OUTPUT");
    if (p.size() < 1 || p.size() > max_population_size) {
      add(path + ".size", (p.size() == 0 ? std::string("missing or 0") : std::to_string(p.size()) + " is too large") +
                              "; allowed: 1 to " + std::to_string(max_population_size));
    }
    if (p.role() == v1::INPUT && p.bias()) {
      add(path + ".bias", "the INPUT population is clamped to the data, so it cannot have a bias; allowed: false");
    }
    check_shape(path, p);
    check_unroll_combine(path, p);
    for (auto [role, slot] : {std::pair{v1::INPUT, &input_}, std::pair{v1::OUTPUT, &output_}}) {
      if (p.role() != role) continue;
      if (*slot < 0) {
        *slot = i;
      } else {
        graph_complete_ = false;  // reachability from "the" input/output is ill-defined
        add(path + ".role", "a second " + v1::Role_Name(role) + " population ('" + model_.populations(*slot).name() +
                                "' is the first); allowed: exactly one " + v1::Role_Name(role) + " population");
      }
    }
  }
  if (input_ < 0) add("populations", "no INPUT population; allowed: exactly one population with role INPUT");
  if (output_ < 0) add("populations", "no OUTPUT population; allowed: exactly one population with role OUTPUT");
}

// Returns the population's index, or -1 after reporting why the name is unusable.
int checker::lookup(const std::string& path, const std::string& name) {
  if (name.empty()) {
    add(path, "missing; allowed: a population name (" + known_populations() + ")");
    return -1;
  }
  const auto it = pop_index_.find(name);
  if (it == pop_index_.end()) {
    add(path, "no population named '" + shown(name) + "'; known populations: " + known_populations());
    return -1;
  }
  return it->second;
}

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

// Depth-first search; a projection that reaches a population still on the stack
// closes a cycle, which is reported with the populations along it.
void checker::find_cycles(int u, std::vector<int>& color, std::vector<int>& stack) {
  color[u] = 1;
  stack.push_back(u);
  for (auto [v, j] : edges_[u]) {
    if (v == u && steps(u) != 0) continue;   // an unrolled population's recurrence: h@t-1 -> h@t
    if (color[v] == 1) {
      std::string cycle;
      for (auto it = std::find(stack.begin(), stack.end(), v); it != stack.end(); ++it) cycle += pop_name(*it) + " -> ";
      add("projections[" + std::to_string(j) + "]", "closes a cycle in the population graph: " + cycle + pop_name(v) +
                                                        "; allowed: feed-forward (acyclic) connections only");
    } else if (color[v] == 0) {
      find_cycles(v, color, stack);
    }
  }
  stack.pop_back();
  color[u] = 2;
}

checker::unrolled_graph checker::unroll_graph() const {
  unrolled_graph g;
  const int n = static_cast<int>(edges_.size());
  int count = 0;
  for (int i = 0; i < n; ++i) g.first.push_back(count), count += std::max<int>(static_cast<int>(steps(i)), 1);
  g.adj.resize(count);
  auto at = [&](int i, std::uint32_t t) { return g.first[i] + (steps(i) ? static_cast<int>(t) - 1 : 0); };
  for (int u = 0; u < n; ++u)
    for (auto [v, j] : edges_[u]) {
      const std::uint32_t Tu = steps(u), Tv = steps(v);
      if (Tv == 0) {
        g.adj[at(u, Tu)].push_back(at(v, 0));   // from the last step (many-to-one)
      } else if (u == v) {
        for (std::uint32_t t = 2; t <= Tv; ++t) g.adj[at(u, t - 1)].push_back(at(v, t));
      } else {
        for (std::uint32_t t = 1; t <= Tv; ++t) g.adj[at(u, Tu ? t : 0)].push_back(at(v, t));
      }
    }
  return g;
}

std::vector<bool> checker::reachable_from(const unrolled_graph& g, int start, bool backward) {
  const std::size_t n = g.adj.size();
  std::vector<std::vector<int>> adj(n);
  for (std::size_t u = 0; u < n; ++u) {
    for (int v : g.adj[u]) backward ? adj[v].push_back(static_cast<int>(u)) : adj[u].push_back(v);
  }
  std::vector<bool> seen(n, false);
  std::vector<int> frontier{start};
  seen[start] = true;
  while (!frontier.empty()) {
    const int u = frontier.back();
    frontier.pop_back();
    for (int v : adj[u]) {
      if (!seen[v]) seen[v] = true, frontier.push_back(v);
    }
  }
  return seen;
}

// "'h1'", or for an unrolled population the steps not in `seen`: "h@1, h@2 (steps of 'h')".
std::string checker::unseen(const unrolled_graph& g, const std::vector<bool>& seen, int i) const {
  if (steps(i) == 0) return seen[g.first[i]] ? "" : "'" + pop_name(i) + "'";
  std::vector<std::uint32_t> missed;
  for (std::uint32_t t = 1; t <= steps(i); ++t)
    if (!seen[g.first[i] + t - 1]) missed.push_back(t);
  std::string s;
  for (std::size_t k = 0; k < missed.size(); ++k) {
    if (missed.size() > 6 && k == 3) s += ", ...", k = missed.size() - 1;   // short for a long unroll
    s += (s.empty() ? "" : ", ") + pop_name(i) + "@" + std::to_string(missed[k]);
  }
  if (missed.size() > 6) s += " (" + std::to_string(missed.size()) + " steps)";
  return s.empty() ? s : s + " (steps of the unrolled population '" + pop_name(i) + "')";
}

void checker::check_graph() {
  const int n = model_.populations_size();
  std::vector<int> color(n, 0);
  std::vector<int> stack;
  for (int u = 0; u < n; ++u) {
    if (color[u] == 0) find_cycles(u, color, stack);
  }
  check_products();
  check_vertices();
  // With a projection rejected, "unreachable" would mostly echo that error.
  if (!graph_complete_) return;
  const unrolled_graph g = unroll_graph();
  if (input_ >= 0) {
    const std::vector<bool> seen = reachable_from(g, g.first[input_], false);
    for (int i = 0; i < n; ++i) {
      const std::string what = unseen(g, seen, i);
      if (what.empty() || model_.populations(i).role() == v1::INPUT) continue;
      add("populations[" + std::to_string(i) + "]",
          what + " is not reachable from the INPUT population '" + pop_name(input_) +
              "'; allowed: every HIDDEN and OUTPUT population on a projection path from the input");
    }
  }
  if (output_ >= 0) {
    const std::vector<bool> seen = reachable_from(g, g.first[output_], true);
    for (int i = 0; i < n; ++i) {
      const std::string what = unseen(g, seen, i);
      if (what.empty() || model_.populations(i).role() != v1::HIDDEN) continue;
      add("populations[" + std::to_string(i) + "]",
          "the OUTPUT population '" + pop_name(output_) + "' is not reachable from " + what +
              ", so it never affects the loss; allowed: every HIDDEN population on a path to the output" +
              (steps(i) ? " (only the last step feeds a population that is not unrolled; a projection from '" +
                              pop_name(i) + "' to itself links the steps)"
                        : ""));
    }
  }
}

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

void checker::check_data() {
  auto ref = [this](int i) {
    return population_ref{i >= 0 ? &model_.populations(i) : nullptr, "populations[" + std::to_string(i) + "].size"};
  };
  const report_fn report = [this](const std::string& path, const std::string& what) { add(path, what); };
  const data_summary data = check_model_data(m_, ref(input_), ref(output_), report);
  data_ = data;
  const v1::Data& d = model_.data();
  if (!(std::isfinite(d.pixel_scale()) && d.pixel_scale() > 0)) {
    add("data.pixel_scale", num(d.pixel_scale()) + " is not a finite positive number; allowed: > 0 (0 means 1/255)");
  }
  if (!std::isfinite(d.pixel_offset())) add("data.pixel_offset", num(d.pixel_offset()) + " is not finite");
}

void checker::check_run_settings() {
  const v1::Schedule& s = model_.schedule();
  if (s.epochs() < 1) add("schedule.epochs", "must be >= 1");
  if (s.batch_size() < 1) add("schedule.batch_size", "must be >= 1");
  const v1::Execution& e = model_.execution();
  const double t = e.threshold();
  if (!std::isfinite(t) || t < 0) {
    add("execution.threshold", num(t) + " is not a finite number >= 0; allowed: >= 0");
  } else if (t > 0 && model_.rule().has_zil() && e.mode() != v1::EAGER) {
    // A Z-IL neuron sends one settled prediction per sample in dataflow: nothing to suppress.
    add("execution.threshold", num(t) + " > 0 only applies in EAGER mode, but the mode is " +
                                   v1::Mode_Name(e.mode() == v1::MODE_UNSPECIFIED ? v1::DATAFLOW : e.mode()) +
                                   " and the rule is zil (its dataflow neurons send one settled prediction each); "
                                   "allowed: 0, or execution.mode EAGER (rules il, il_prox and dp: either mode)");
  }
  if (e.threads() > max_threads) {
    add("execution.threads", std::to_string(e.threads()) + " is too many; allowed: 1 to " + std::to_string(max_threads));
  }
  const auto& rec = model_.record().populations();
  std::map<std::string, int> listed;
  for (int k = 0; k < rec.size(); ++k) {
    const std::string path = "record.populations[" + std::to_string(k) + "]";
    if (auto [it, fresh] = listed.emplace(rec[k], k); !fresh) {
      add(path, "'" + shown(rec[k]) + "' is listed twice (record.populations[" + std::to_string(it->second) +
                    "] has it too); allowed: each population once");
    } else if (const auto it = pop_index_.find(rec[k]); it != pop_index_.end()) {
      // A trace records populations as built: an unrolled one exists only as its steps.
      if (steps(it->second))
        add(path, "'" + rec[k] + "' is unrolled, so it is recorded step by step; allowed: " + step_names(it->second));
    } else if (!is_step_name(rec[k])) {
      add(path, "no population named '" + shown(rec[k]) + "'; known populations: " + recordable_populations());
    }
  }
  check_record_events();
}

}  // namespace detail

void validate_model(const loaded_model& m, const source_map& where) { detail::checker(m, where).run(); }

}  // namespace phaseless::io
