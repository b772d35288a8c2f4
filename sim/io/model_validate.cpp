// Semantic validation. It never stops at the first problem: a user editing a model
// wants the whole list, each with the place to edit and what would be accepted.
// The checks of computational-graph features are in model_validate_graph.cpp, of
// projections in model_validate_projections.cpp, of the rule in model_validate_rule.cpp.
#include "sim/io/model_validate.hpp"

#include <google/protobuf/descriptor.h>

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
}  // namespace

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
