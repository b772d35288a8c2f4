// Semantic validation. It never stops at the first problem: a user editing a model
// wants the whole list, each with the place to edit and what would be accepted.
#include "sim/io/model_validate.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/core/errors.hpp"

namespace phaseless::io {
namespace {

namespace pb = google::protobuf;
namespace v1 = phaseless::v1;

constexpr std::uint32_t max_population_size = 10'000'000;
constexpr std::uint32_t max_delay_ticks = 64;
constexpr std::uint32_t max_threads = 256;
constexpr std::uint32_t max_unroll = 10000;

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

class checker {
 public:
  checker(const loaded_model& m, const source_map& src) : m_(m), model_(m.model), src_(src) {}

  void run() {
    check_enums(model_, "");
    if (model_.schema_version() != 1) {
      add("schema_version", model_.schema_version() == 0
                                ? "missing; allowed: 1 (write `schema_version: 1` at the top of the file)"
                                : "unsupported version " + std::to_string(model_.schema_version()) + "; allowed: 1");
    }
    check_populations();
    check_projections();
    check_graph();
    check_graph_features();
    check_rule();
    check_data();
    check_run_settings();
    if (!lines_.empty()) {
      std::string all;
      for (const std::string& l : lines_) all += (all.empty() ? "" : "\n") + l;
      throw core::user_error(all);
    }
  }

 private:
  void add(const std::string& path, const std::string& what) { lines_.push_back(src_.where(path) + path + ": " + what); }

  // "h@1, h@2, h@3": the names of an unrolled population's steps.
  std::string step_names(int i) const {
    std::string s;
    for (std::uint32_t t = 1; t <= steps(i); ++t) s += (t > 1 ? ", " : "") + pop_name(i) + "@" + std::to_string(t);
    return s;
  }

  // "h@2" names step 2 of an unrolled population h.
  bool is_step_name(const std::string& name) const {
    const std::size_t at = name.rfind('@');
    if (at == std::string::npos) return false;
    const auto it = pop_index_.find(name.substr(0, at));
    std::uint32_t t = 0;
    const char* end = name.data() + name.size();
    const auto [ptr, ec] = std::from_chars(name.data() + at + 1, end, t);
    return it != pop_index_.end() && ec == std::errc() && ptr == end && name[at + 1] != '0' && t >= 1 &&
           t <= steps(it->second);
  }

  // The populations as built, which is what record.populations names.
  std::string recordable_populations() const {
    std::string s;
    for (int i = 0; i < model_.populations_size(); ++i)
      s += (s.empty() ? "" : ", ") + (steps(i) ? step_names(i) : pop_name(i));
    return s.empty() ? "(none)" : s;
  }

  std::string known_populations() const {
    std::string s;
    for (const auto& p : model_.populations()) s += (s.empty() ? "" : ", ") + p.name();
    return s.empty() ? "(none)" : s;
  }

  // Text format accepts any number for an enum (proto3 enums are open), so a value
  // like `role: 7` parses; reflection finds every such field wherever it is.
  void check_enums(const pb::Message& msg, const std::string& prefix) {
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

  void check_populations() {
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
        add(path + ".name", "'" + p.name() + "' is not a valid name; allowed: [A-Za-z_][A-Za-z0-9_]*");
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
  int lookup(const std::string& path, const std::string& name) {
    if (name.empty()) {
      add(path, "missing; allowed: a population name (" + known_populations() + ")");
      return -1;
    }
    const auto it = pop_index_.find(name);
    if (it == pop_index_.end()) {
      add(path, "no population named '" + name + "'; known populations: " + known_populations());
      return -1;
    }
    return it->second;
  }

  void check_projections() {
    std::map<std::string, int> names;
    std::map<std::pair<int, int>, int> pairs;
    edges_.assign(model_.populations_size(), {});
    for (int j = 0; j < model_.projections_size(); ++j) {
      const v1::Projection& q = model_.projections(j);
      const std::string path = "projections[" + std::to_string(j) + "]";
      if (q.name().empty()) {
        add(path + ".name", "missing; allowed: a unique name (it keys the seed, --set paths and the trace)");
      } else if (auto [it, fresh] = names.emplace(q.name(), j); !fresh) {
        add(path + ".name", "duplicate projection name '" + q.name() + "' (projections[" + std::to_string(it->second) +
                                "] has it too); allowed: unique names");
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
    }
  }

  // Errors cannot flow into a clamped input; B's options only make sense for RANDOM.
  void check_feedback(const std::string& path, const v1::Projection& q) {
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

  // A fixed nonlinear vertex (attention): BILINEAR or SOFTMAX.
  static bool vertex(const v1::Population& p) { return p.combine() == v1::BILINEAR || p.combine() == v1::SOFTMAX; }

  // A population as a matrix (rows, cols) = (C, H*W); unshaped: (size, 1). {0, 0} when its
  // shape is unusable (reported elsewhere).
  std::pair<std::uint64_t, std::uint64_t> matrix_of(const v1::Population& p) const {
    if (!p.has_shape()) return {p.size(), 1};
    if (!shape_ok(p)) return {0, 0};
    return {p.shape().channels(), std::uint64_t{p.shape().height()} * p.shape().width()};
  }
  static std::string dims(std::uint64_t r, std::uint64_t c) { return std::to_string(r) + "x" + std::to_string(c); }

  // Where a population's layout is written: its shape, or its size when it has none.
  std::string layout_path(int i) const {
    return "populations[" + std::to_string(i) + "]" + (model_.populations(i).has_shape() ? ".shape" : ".size");
  }

  // The connectivity field's name, "" when unset.
  static std::string connectivity_name(const v1::Projection& q) {
    return q.connectivity_case() ? q.GetDescriptor()->FindFieldByNumber(q.connectivity_case())->name() : "";
  }

  // The in-projections of BILINEAR and SOFTMAX populations: operand / rows connectivity,
  // fixed, symmetric feedback, their count, and the matrix shapes.
  void check_vertices() {
    for (int j = 0; j < model_.projections_size(); ++j) {
      const v1::Projection& q = model_.projections(j);
      const std::string path = "projections[" + std::to_string(j) + "]";
      const auto post = pop_index_.find(q.post());
      const v1::Population* b = post == pop_index_.end() ? nullptr : &model_.populations(post->second);
      const std::string conn = connectivity_name(q);
      const std::string conn_path = path + (conn.empty() ? "" : "." + conn);
      if (b != nullptr && b->combine() == v1::BILINEAR && !q.has_operand())
        add(conn_path, conn + " into '" + b->name() + "', whose combine is BILINEAR (a matrix product of its two "
                       "in-projections); allowed: operand {} or operand { transpose: true }");
      else if (b != nullptr && b->combine() == v1::SOFTMAX && !q.has_rows())
        add(conn_path, conn + " into '" + b->name() + "', whose combine is SOFTMAX (a softmax over each row of its "
                       "in-projection); allowed: rows {}");
      else if (b != nullptr && q.has_operand() && b->combine() != v1::BILINEAR)
        add(conn_path, "operand is a factor of a matrix product, but '" + b->name() + "' has combine " +
                           v1::Combine_Name(b->combine() ? b->combine() : v1::SUM) +
                           "; allowed: dense, sparse, conv or one_to_one, or combine BILINEAR on '" + b->name() + "'");
      else if (b != nullptr && q.has_rows() && b->combine() != v1::SOFTMAX)
        add(conn_path, "rows feeds a row-wise softmax, but '" + b->name() + "' has combine " +
                           v1::Combine_Name(b->combine() ? b->combine() : v1::SUM) +
                           "; allowed: dense, sparse, conv or one_to_one, or combine SOFTMAX on '" + b->name() + "'");
      if ((q.has_operand() || q.has_rows()) && !q.fixed())
        add(path + ".fixed", conn + " weights scale a fixed nonlinear vertex and never learn (put the learnable "
                             "maps before it); allowed: fixed: true");
      if ((q.has_operand() || q.has_rows()) && q.feedback().kind() == v1::RANDOM)
        add(path + ".feedback.kind", "RANDOM: errors leave a " + std::string(q.has_operand() ? "BILINEAR" : "SOFTMAX") +
                                         " vertex through its Jacobian, which has no random substitute; allowed: "
                                         "SYMMETRIC or NONE");
    }
    std::set<int> bad_layout;   // vertices whose layout or operands were reported (or unknown)
    for (int i = 0; i < model_.populations_size(); ++i) {
      const v1::Population& p = model_.populations(i);
      if (!vertex(p) || p.role() == v1::INPUT) continue;
      bad_layout.insert(i);   // until its layout passes below
      std::vector<int> in;
      std::string names;
      for (int j = 0; j < model_.projections_size(); ++j)
        if (model_.projections(j).post() == p.name()) {
          in.push_back(j);
          names += std::string(names.empty() ? "" : ", ") + "'" + model_.projections(j).name() + "'";
        }
      const bool bil = p.combine() == v1::BILINEAR;
      const std::size_t want = bil ? 2 : 1;
      const std::string path = "populations[" + std::to_string(i) + "]";
      if (in.size() != want) {
        add(path + ".combine", "combine " + v1::Combine_Name(p.combine()) + " takes exactly " + std::to_string(want) +
                                   " in-projection" + (bil ? "s (the operands X and Y of P = X' Y')" : " (the rows it normalizes)") +
                                   ", but '" + p.name() + "' has " + std::to_string(in.size()) +
                                   (in.empty() ? "" : " (" + names + ")") + "; allowed: exactly " + std::to_string(want));
        continue;
      }
      // The shapes, once the connectivity is right and every operand's layout is known (not
      // already reported: a wrong layout upstream would echo here).
      const auto [R, N] = matrix_of(p);
      std::pair<std::uint64_t, std::uint64_t> op[2];   // X' and Y' as (rows, cols)
      bool known = R != 0;
      for (std::size_t k = 0; k < want; ++k) {
        const v1::Projection& q = model_.projections(in[k]);
        const auto it = pop_index_.find(q.pre());
        if (it == pop_index_.end() || !(bil ? q.has_operand() : q.has_rows()) || bad_layout.count(it->second)) {
          known = false;
          continue;
        }
        const auto m = matrix_of(model_.populations(it->second));
        known = known && m.first != 0;
        op[k] = bil && q.operand().transpose() ? std::pair{m.second, m.first} : m;
      }
      if (!known) continue;
      if (!bil) {
        const v1::Projection& q = model_.projections(in[0]);
        const v1::Population& a = model_.populations(pop_index_.at(q.pre()));
        const bool same = a.has_shape() && p.has_shape()
                              ? a.shape().channels() == p.shape().channels() && a.shape().height() == p.shape().height() &&
                                    a.shape().width() == p.shape().width()
                              : op[0] == std::pair{R, N} && a.size() == p.size();
        if (same) bad_layout.erase(i);
        else
          add(layout_path(i), "'" + p.name() + "' is the SOFTMAX of the rows of '" + a.name() + "' (" +
                                  dims(op[0].first, op[0].second) + ": " + std::to_string(op[0].first) + " rows of " +
                                  std::to_string(op[0].second) + "), so it must have the same shape; allowed: " +
                                  (a.has_shape() ? "shape { channels: " + std::to_string(a.shape().channels()) +
                                                       " height: " + std::to_string(a.shape().height()) +
                                                       " width: " + std::to_string(a.shape().width()) + " }"
                                                 : "size " + std::to_string(a.size()) + " without a shape"));
        continue;
      }
      const std::string x = model_.projections(in[0]).pre(), y = model_.projections(in[1]).pre();
      if (op[0].second != op[1].first) {
        add("projections[" + std::to_string(in[1]) + "].operand",
            "'" + p.name() + "' = X' Y' with X' from '" + x + "' (" + dims(op[0].first, op[0].second) + ") and Y' from '" +
                y + "' (" + dims(op[1].first, op[1].second) + "): the inner dimensions " + std::to_string(op[0].second) +
                " and " + std::to_string(op[1].first) + " differ; allowed: operands whose inner dimensions match "
                "(transpose: true reads a population's matrix transposed; a shape (C, H, W) is C rows of H*W)");
        continue;
      }
      if (R == op[0].first && N == op[1].second) bad_layout.erase(i);
      else
        add(layout_path(i), "'" + p.name() + "' = X' Y' is " + dims(op[0].first, op[1].second) + " (X' from '" + x +
                                "' " + dims(op[0].first, op[0].second) + ", Y' from '" + y + "' " +
                                dims(op[1].first, op[1].second) + "), but its layout is " + dims(R, N) +
                                "; allowed: shape { channels: " + std::to_string(op[0].first) + " height: 1 width: " +
                                std::to_string(op[1].second) + " } (size " +
                                std::to_string(op[0].first * op[1].second) + "), or channels " +
                                std::to_string(op[0].first) + " with height * width = " + std::to_string(op[1].second));
    }
  }

  // Steps of an unrolled population (0: not unrolled, or its unroll was rejected).
  std::uint32_t steps(int i) const {
    const v1::Population& p = model_.populations(i);
    return p.role() == v1::HIDDEN && p.unroll() >= 2 && p.unroll() <= max_unroll ? p.unroll() : 0;
  }

  // A usable shape: every side >= 1 and the product equal to size (else reported).
  bool shape_ok(const v1::Population& p) const {
    const v1::Shape& s = p.shape();
    return p.has_shape() && s.channels() >= 1 && s.height() >= 1 && s.width() >= 1 &&
           std::uint64_t{s.channels()} * s.height() * s.width() == p.size();
  }

  static std::string shape_text(std::uint64_t c, std::uint64_t h, std::uint64_t w) {
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
  }

  void check_shape(const std::string& path, const v1::Population& p) {
    if (!p.has_shape()) return;
    const v1::Shape& s = p.shape();
    bool sides = true;
    for (auto [f, v] : {std::pair{"channels", s.channels()}, std::pair{"height", s.height()}, std::pair{"width", s.width()}})
      if (v < 1) {
        add(path + ".shape." + f, "missing or 0; allowed: >= 1");
        sides = false;
      }
    const std::uint64_t n = std::uint64_t{s.channels()} * s.height() * s.width();
    if (sides && n != p.size())
      add(path + ".shape", "channels * height * width = " + shape_text(s.channels(), s.height(), s.width()) + " = " +
                               std::to_string(n) + ", but '" + p.name() + "' has size " + std::to_string(p.size()) +
                               "; allowed: a shape whose product is " + std::to_string(p.size()) + ", or size: " +
                               std::to_string(n));
  }

  void check_unroll_combine(const std::string& path, const v1::Population& p) {
    if (p.unroll() != 0) {
      if (p.role() != v1::HIDDEN && p.role() != v1::ROLE_UNSPECIFIED)
        add(path + ".unroll", "'" + p.name() + "' is an " + v1::Role_Name(p.role()) +
                                  " population; only a HIDDEN population can be unrolled; allowed: 0 (not unrolled)");
      else if (p.unroll() < 2 || p.unroll() > max_unroll)
        add(path + ".unroll", std::to_string(p.unroll()) + " steps is out of range; allowed: 0 (not unrolled) or 2 to " +
                                  std::to_string(max_unroll));
    }
    if (vertex(p)) {
      const std::string c = "combine " + v1::Combine_Name(p.combine());
      if (p.role() == v1::INPUT)
        add(path + ".combine", "the INPUT population is clamped to the data and combines nothing; allowed: SUM");
      else if (p.bias())
        add(path + ".bias", c + " is a fixed nonlinear vertex (" +
                                (p.combine() == v1::BILINEAR ? "a matrix product" : "a row-wise softmax") +
                                ") and has no bias; allowed: bias: false, or combine SUM");
      if (p.unroll() != 0)
        add(path + ".unroll", c + " cannot be unrolled; allowed: 0 (not unrolled)");
      return;
    }
    if (p.combine() != v1::PRODUCT) return;
    if (p.role() == v1::INPUT)
      add(path + ".combine", "the INPUT population is clamped to the data and combines nothing; allowed: SUM");
    else if (p.bias())
      add(path + ".bias", "combine PRODUCT multiplies its in-projections (mu = prod_k W_k x_k) and has no bias; "
                          "allowed: bias: false, or combine SUM");
  }

  // Conv, one-to-one, step_slice and the unrolled wiring of one resolved projection.
  // Returns false when the projection has no defined place in the unrolled graph.
  bool check_connectivity(const std::string& path, const v1::Projection& q, int pre, int post) {
    const v1::Population& a = model_.populations(pre);
    const v1::Population& b = model_.populations(post);
    if (q.has_conv()) check_conv(path + ".conv", q.conv(), a, b);
    if (q.has_one_to_one() && a.size() != b.size())
      add(path + ".one_to_one", "connects neuron i of '" + a.name() + "' (size " + std::to_string(a.size()) +
                                    ") to neuron i of '" + b.name() + "' (size " + std::to_string(b.size()) +
                                    "); allowed: equal sizes, or dense/sparse/conv");
    const std::uint32_t Ta = steps(pre), Tb = steps(post);
    if (Tb != 0 && !q.has_dense())
      add(path + (q.connectivity_case() ? "." + q.GetDescriptor()->FindFieldByNumber(q.connectivity_case())->name() : ""),
          "projections into the unrolled population '" + b.name() + "' are dense (every step reads all of pre, or "
          "its step_slice); allowed: dense");
    if (q.step_slice() != 0) {
      if (Ta != 0 || Tb == 0) {
        add(path + ".step_slice", "applies only from a population that is not unrolled into an unrolled one, but '" +
                                      a.name() + "' is " + (Ta ? "" : "not ") + "unrolled and '" + b.name() + "' is " +
                                      (Tb ? "" : "not ") + "unrolled; allowed: 0");
      } else if (std::uint64_t{q.step_slice()} * Tb != a.size()) {
        const std::string fit = a.size() % Tb == 0 ? std::to_string(a.size() / Tb) + " (" : "";
        add(path + ".step_slice", "step_slice " + std::to_string(q.step_slice()) + " x " + std::to_string(Tb) +
                                      " steps of '" + b.name() + "' = " + std::to_string(std::uint64_t{q.step_slice()} * Tb) +
                                      " neurons, but the pre population '" + a.name() + "' has " +
                                      std::to_string(a.size()) + "; allowed: " + fit + "step_slice * steps = size of '" +
                                      a.name() + "'" + (fit.empty() ? "" : ")") + ", or 0 (every step reads all of pre)");
      }
    }
    if (Ta != 0 && Tb != 0 && pre != post && Ta != Tb) {
      add(path, "'" + a.name() + "' is unrolled over " + std::to_string(Ta) + " steps and '" + b.name() + "' over " +
                    std::to_string(Tb) + "; a projection between unrolled populations runs step by step (" + a.name() +
                    "@t -> " + b.name() + "@t); allowed: equal unroll");
      return false;
    }
    return true;
  }

  void check_conv(const std::string& path, const v1::Conv& c, const v1::Population& a, const v1::Population& b) {
    const std::uint32_t K = c.kernel(), S = c.stride() == 0 ? 1 : c.stride(), P = c.padding();
    if (K < 1) add(path + ".kernel", "missing or 0; allowed: a kernel side >= 1");
    if (K >= 1 && P >= K)
      add(path + ".padding", std::to_string(P) + " is not less than the kernel side " + std::to_string(K) +
                                 "; allowed: 0 to " + std::to_string(K - 1));
    for (const v1::Population* p : {&a, &b})
      if (!p->has_shape())
        add(path, "needs a shape on " + std::string(p == &a ? "pre" : "post") + " population '" + p->name() + "' (size " +
                      std::to_string(p->size()) + "); allowed: shape { channels: ... height: ... width: ... } on '" +
                      p->name() + "'");
    if (K < 1 || P >= K || !shape_ok(a) || !shape_ok(b)) return;
    const v1::Shape& in = a.shape();
    const v1::Shape& out = b.shape();
    const std::string over = "a conv of kernel " + std::to_string(K) + " stride " + std::to_string(S) + " padding " +
                             std::to_string(P) + " over '" + a.name() + "' (" +
                             shape_text(in.channels(), in.height(), in.width()) + ")";
    const std::uint64_t H = in.height() + 2ull * P, W = in.width() + 2ull * P;
    if (H < K || W < K) {
      add(path + ".kernel", over + " does not fit: the padded input is " + std::to_string(H) + "x" + std::to_string(W) +
                                "; allowed: kernel <= " + std::to_string(std::min(H, W)) + ", or more padding");
      return;
    }
    const std::uint64_t Ho = (H - K) / S + 1, Wo = (W - K) / S + 1;
    if (out.height() != Ho || out.width() != Wo)
      add("populations[" + std::to_string(pop_index_.at(b.name())) + "].shape",
          "'" + b.name() + "' has shape " + shape_text(out.channels(), out.height(), out.width()) + ", but " + over +
              " gives " + shape_text(out.channels(), Ho, Wo) + " (H_out = (H + 2 padding - kernel) / stride + 1); "
              "allowed: shape { channels: " + std::to_string(out.channels()) + " height: " + std::to_string(Ho) +
              " width: " + std::to_string(Wo) + " } (size " + std::to_string(out.channels() * Ho * Wo) + ")");
  }

  // Shared parameters, product vertices, one-to-one relays and unrolling are built for
  // the Z-IL error wave in dataflow order; the other rules and EAGER mode do not read them.
  void check_graph_features() {
    std::vector<std::pair<std::string, std::string>> uses;   // (field path, what)
    for (int i = 0; i < model_.populations_size(); ++i) {
      const v1::Population& p = model_.populations(i);
      const std::string path = "populations[" + std::to_string(i) + "]";
      if (p.unroll() != 0) uses.push_back({path + ".unroll", "unroll"});
      if (p.combine() == v1::PRODUCT || vertex(p))
        uses.push_back({path + ".combine", "combine " + v1::Combine_Name(p.combine())});
      if (p.fixed_bias() && !p.bias()) add(path + ".fixed_bias", "needs a bias to fix; allowed: bias: true, or no fixed_bias");
      if (p.fixed_bias() && (model_.rule().has_il() || model_.rule().has_il_prox() || model_.rule().has_dp()))
        add(path + ".fixed_bias", "is supported by rule zil only; allowed: rule zil, or no fixed_bias");
      if (p.bias() && shape_ok(p) && p.shape().height() * p.shape().width() > 1)
        uses.push_back({path + ".bias", "a bias shared per channel (shape with height * width > 1)"});
    }
    for (int j = 0; j < model_.projections_size(); ++j) {
      const v1::Projection& q = model_.projections(j);
      const std::string path = "projections[" + std::to_string(j) + "]";
      if (q.has_conv()) uses.push_back({path + ".conv", "conv"});
      if (q.has_one_to_one()) uses.push_back({path + ".one_to_one", "one_to_one"});
      if (q.has_operand()) uses.push_back({path + ".operand", "operand"});
      if (q.has_rows()) uses.push_back({path + ".rows", "rows"});
      if (q.fixed()) uses.push_back({path + ".fixed", "fixed"});
      if (q.step_slice() != 0) uses.push_back({path + ".step_slice", "step_slice"});
    }
    const v1::Rule& r = model_.rule();
    const bool other_rule = r.has_il() || r.has_il_prox() || r.has_dp();
    const std::string rule = r.has_il() ? "il" : r.has_il_prox() ? "il_prox" : "dp";
    for (const auto& [path, what] : uses) {
      if (other_rule)
        add(path, what + " is supported by rule zil only, but the rule is " + rule + "; allowed: rule zil, or a plain "
                  "(dense or sparse, unshared) network");
      else if (model_.execution().mode() == v1::EAGER)
        add(path, what + " is supported in dataflow only (execution.mode DATAFLOW), but the mode is EAGER; allowed: "
                  "execution.mode DATAFLOW");
    }
  }

  void check_init(const std::string& path, const v1::WeightInit& w) {
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

  void check_delay(const std::string& path, const v1::Delay& d) {
    static const std::string zero = "zero delay is not allowed: every message takes at least one tick; allowed: >= 1";
    if (d.has_constant()) {
      if (d.constant().ticks() == 0) add(path + ".constant.ticks", zero);
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
  }

  std::string pop_name(int i) const { return model_.populations(i).name(); }

  // Depth-first search; a projection that reaches a population still on the stack
  // closes a cycle, which is reported with the populations along it.
  void find_cycles(int u, std::vector<int>& color, std::vector<int>& stack) {
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

  // The graph as built (network_builder): an unrolled population is one vertex per
  // step, so a step that cannot reach the output is found like any dead end.
  struct unrolled_graph {
    std::vector<int> first;                  // per population: its first vertex
    std::vector<std::vector<int>> adj;       // per vertex: successors
  };
  unrolled_graph unroll_graph() const {
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

  static std::vector<bool> reachable_from(const unrolled_graph& g, int start, bool backward) {
    const std::size_t n = g.adj.size();
    std::vector<std::vector<int>> adj(n);
    for (std::size_t u = 0; u < n; ++u) {
      for (int v : g.adj[u]) backward ? adj[v].push_back(static_cast<int>(u)) : adj[u].push_back(v);
    }
    std::vector<bool> seen(n, false);
    std::vector<int> todo{start};
    seen[start] = true;
    while (!todo.empty()) {
      const int u = todo.back();
      todo.pop_back();
      for (int v : adj[u]) {
        if (!seen[v]) seen[v] = true, todo.push_back(v);
      }
    }
    return seen;
  }

  // "'h1'", or for an unrolled population the steps not in `seen`: "h@1, h@2 (steps of 'h')".
  std::string unseen(const unrolled_graph& g, const std::vector<bool>& seen, int i) const {
    if (steps(i) == 0) return seen[g.first[i]] ? "" : "'" + pop_name(i) + "'";
    std::string s;
    for (std::uint32_t t = 1; t <= steps(i); ++t)
      if (!seen[g.first[i] + t - 1]) s += (s.empty() ? "" : ", ") + pop_name(i) + "@" + std::to_string(t);
    return s.empty() ? s : s + " (steps of the unrolled population '" + pop_name(i) + "')";
  }

  void check_products() {
    for (int i = 0; i < model_.populations_size(); ++i) {
      const v1::Population& p = model_.populations(i);
      if (p.combine() != v1::PRODUCT || p.role() == v1::INPUT) continue;
      std::string names;
      int k = 0;
      for (const v1::Projection& q : model_.projections())
        if (q.post() == p.name() && q.pre() != p.name()) names += std::string(k++ ? ", " : "") + "'" + q.name() + "'";
      if (k < 2)
        add("populations[" + std::to_string(i) + "].combine",
            "combine PRODUCT multiplies its in-projections, but '" + p.name() + "' has " + std::to_string(k) +
                (k ? " (" + names + ")" : "") + (steps(i) ? " besides its recurrence (step 1 has none)" : "") +
                "; allowed: at least 2 in-projections, or combine SUM");
    }
  }

  void check_graph() {
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
  void check_optimizer(const std::string& path, const v1::Optimizer& o) {
    const double lr = o.lr();
    if (!(std::isfinite(lr) && lr > 0)) add(path + ".lr", num(lr) + " is not a finite number > 0; allowed: > 0, e.g. 0.001");
    if (!(o.momentum() >= 0 && o.momentum() < 1)) add(path + ".momentum", num(o.momentum()) + " is out of range; allowed: [0, 1)");
    if (o.momentum() != 0 && o.kind() == v1::Optimizer::ADAM)
      add(path + ".momentum", "is an SGD setting, but kind is ADAM; allowed: 0 (use beta1 for Adam)");
    if (!(std::isfinite(o.weight_decay()) && o.weight_decay() >= 0))
      add(path + ".weight_decay", num(o.weight_decay()) + " is not a finite number >= 0; allowed: >= 0");
    if (!(o.beta1() >= 0 && o.beta1() < 1)) add(path + ".beta1", num(o.beta1()) + " is out of range; allowed: [0, 1)");
    if (!(o.beta2() >= 0 && o.beta2() < 1)) add(path + ".beta2", num(o.beta2()) + " is out of range; allowed: [0, 1)");
    if (!(std::isfinite(o.eps()) && o.eps() > 0)) add(path + ".eps", num(o.eps()) + " is not a finite number > 0; allowed: > 0");
  }

  // Dual propagation (spec dp-fa.md §2.6, §7): ranges, and the squared-loss
  // output closed form, which is ill-posed when (1 - alpha) beta >= 1.
  void check_dp(const v1::DP& d) {
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
    if (model_.execution().mode() == v1::EAGER)
      add("execution.mode", "EAGER is not implemented for rule dp yet (dyads react in the dataflow order of the "
                            "inference sweeps, spec dp-fa.md §2.3); allowed: DATAFLOW");
  }

  // IL and IL-prox (spec pc-family.md §2.3-§2.5; defaults §5, applied before this).
  void check_il(const v1::Rule& r) {
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
      nonneg("adam_lr", p.adam_lr());
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
      positive("lr", p.lr(), "0.03");
      nonneg("gamma_top", p.gamma_top());
      nonneg("gamma_bot", p.gamma_bot());
      nonneg("gamma_dec", p.gamma_dec());
      if (!(p.clamp() >= 0 && p.clamp() <= 1))
        add(at + "clamp", num(p.clamp()) + " is out of range; allowed: [0, 1] (1: hard clamp to the label)");
    }
  }

  void check_rule() {
    const v1::Rule& r = model_.rule();
    if (r.has_il() || r.has_il_prox()) {
      check_il(r);
    } else if (r.has_dp()) {
      check_dp(r.dp());
    } else if (!r.has_zil()) {
      add("rule", "no learning rule; allowed: zil { lr: ... }, il { lr: ... }, il_prox { alpha: ... }, dp { optimizer { ... } }");
    } else {
      const double lr = r.zil().lr();
      const std::string allowed = "; allowed: a finite number > 0, e.g. 0.01";
      if (std::isnan(lr)) add("rule.zil.lr", "is NaN" + allowed);
      else if (std::isinf(lr)) add("rule.zil.lr", "is infinite (" + num(lr) + ")" + allowed);
      else if (lr < 0) add("rule.zil.lr", "is negative (" + num(lr) + "): it would climb the loss" + allowed);
      else if (lr == 0 && !r.zil().has_optimizer())   // an optimizer block carries its own rate
        add("rule.zil.lr", "is 0 or missing: nothing would be learned" + allowed);
      const double g = r.zil().gamma();
      if (!(g > 0 && g <= 1)) {
        add("rule.zil.gamma", num(g) + " is out of range; allowed: (0, 1], normally 1 (0 means 1)");
      }
      if (r.zil().has_optimizer()) check_optimizer("rule.zil.optimizer", r.zil().optimizer());
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

  void check_data() {
    const v1::Population* in = input_ >= 0 ? &model_.populations(input_) : nullptr;
    check_model_data(m_, in, "populations[" + std::to_string(input_) + "].size",
                     [this](const std::string& path, const std::string& what) { add(path, what); });
    const v1::Data& d = model_.data();
    if (!(std::isfinite(d.pixel_scale()) && d.pixel_scale() > 0)) {
      add("data.pixel_scale", num(d.pixel_scale()) + " is not a finite positive number; allowed: > 0 (0 means 1/255)");
    }
    if (!std::isfinite(d.pixel_offset())) add("data.pixel_offset", num(d.pixel_offset()) + " is not finite");
  }

  void check_run_settings() {
    const v1::Schedule& s = model_.schedule();
    if (s.epochs() < 1) add("schedule.epochs", "must be >= 1");
    if (s.batch_size() < 1) add("schedule.batch_size", "must be >= 1");
    const v1::Execution& e = model_.execution();
    const double t = e.threshold();
    if (!std::isfinite(t) || t < 0) {
      add("execution.threshold", num(t) + " is not a finite number >= 0; allowed: >= 0");
    } else if (t > 0 && e.mode() != v1::EAGER) {
      add("execution.threshold", num(t) + " > 0 only applies in EAGER mode, but the mode is " +
                                     v1::Mode_Name(e.mode() == v1::MODE_UNSPECIFIED ? v1::DATAFLOW : e.mode()) +
                                     "; allowed: 0, or execution.mode EAGER");
    }
    if (e.threads() > max_threads) {
      add("execution.threads", std::to_string(e.threads()) + " is too many; allowed: 1 to " + std::to_string(max_threads));
    }
    const auto& rec = model_.record().populations();
    for (int k = 0; k < rec.size(); ++k) {
      const std::string path = "record.populations[" + std::to_string(k) + "]";
      if (const auto it = pop_index_.find(rec[k]); it != pop_index_.end()) {
        // A trace records populations as built: an unrolled one exists only as its steps.
        if (steps(it->second))
          add(path, "'" + rec[k] + "' is unrolled, so it is recorded step by step; allowed: " + step_names(it->second));
      } else if (!is_step_name(rec[k])) {
        add(path, "no population named '" + rec[k] + "'; known populations: " + recordable_populations());
      }
    }
  }

  const loaded_model& m_;
  const v1::Model& model_;
  const source_map& src_;
  std::vector<std::string> lines_;
  std::map<std::string, int> pop_index_;
  int input_ = -1;
  int output_ = -1;
  bool graph_complete_ = true;  // one INPUT, one OUTPUT, every projection resolved and accepted
  std::vector<std::vector<std::pair<int, int>>> edges_;  // per population: (post, projection index)
};

}  // namespace

void validate_model(const loaded_model& m, const source_map& where) { checker(m, where).run(); }

}  // namespace phaseless::io
