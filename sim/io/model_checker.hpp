#pragma once
// Private to validate_model: the checker it runs, split over two files by subject.
// model_validate.cpp holds the core checks (populations, projections, feedback, init,
// delays, cycles and reachability, rule, data, run settings); model_validate_graph.cpp
// the computational-graph features (shapes, conv, one_to_one, unrolling, PRODUCT,
// BILINEAR and SOFTMAX vertices); model_validate_record.cpp the recording inside samples.
// Include it from those files only.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "sim/io/model_limits.hpp"
#include "sim/io/model_validate.hpp"

namespace phaseless::io::detail {

namespace v1 = phaseless::v1;

// The name as it can be shown: bytes outside printable ASCII as \xNN (model_validate.cpp).
std::string shown(const std::string& s);
// Shortest text that reads back as the same double ("0.1", "nan", "-inf").
std::string num(double x);
// A name made of letters, digits and '_', not starting with a digit.
bool is_identifier(const std::string& s);

class checker {
 public:
  checker(const loaded_model& m, const source_map& src) : m_(m), model_(m.model), src_(src) {}

  // Runs every check and throws one core::user_error listing all problems, if any.
  void run();

 private:
  void add(const std::string& path, const std::string& what) { lines_.push_back(src_.where(path) + path + ": " + what); }

  std::string pop_name(int i) const { return model_.populations(i).name(); }

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
  static std::string shape_text(std::uint64_t c, std::uint64_t h, std::uint64_t w) {
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
  }

  // Where a population's layout is written: its shape, or its size when it has none.
  std::string layout_path(int i) const {
    return "populations[" + std::to_string(i) + "]" + (model_.populations(i).has_shape() ? ".shape" : ".size");
  }

  // The connectivity field's name, "" when unset.
  static std::string connectivity_name(const v1::Projection& q) {
    return q.connectivity_case() ? q.GetDescriptor()->FindFieldByNumber(q.connectivity_case())->name() : "";
  }

  // "h@1, h@2, h@3": the names of an unrolled population's steps.
  std::string step_names(int i) const {
    std::string s;
    const std::uint32_t T = steps(i);
    for (std::uint32_t t = 1; t <= T; ++t) {
      if (T > 6 && t == 4) s += ", ...", t = T;   // short for a long unroll: h@1, h@2, h@3, ..., h@T
      s += (t > 1 ? ", " : "") + pop_name(i) + "@" + std::to_string(t);
    }
    return s;
  }

  // The populations as built, which is what record.populations names.
  std::string recordable_populations() const {
    std::string s;
    const int n = model_.populations_size();
    for (int i = 0; i < n && i < max_listed; ++i) s += (s.empty() ? "" : ", ") + (steps(i) ? step_names(i) : pop_name(i));
    if (n > max_listed) s += ", ... (" + std::to_string(n) + " populations in all)";
    return s.empty() ? "(none)" : s;
  }

  // "in, h1, out": at most max_listed names, then a count, so that each message stays
  // short however many populations a model has.
  static constexpr int max_listed = 20;
  std::string known_populations() const {
    std::string s;
    const int n = model_.populations_size();
    for (int i = 0; i < n && i < max_listed; ++i) s += (s.empty() ? "" : ", ") + pop_name(i);
    if (n > max_listed) s += ", ... (" + std::to_string(n) + " in all)";
    return s.empty() ? "(none)" : s;
  }

  // Whether `name` names a step of an unrolled population (model_validate.cpp).
  bool is_step_name(const std::string& name) const;

  // The core checks (model_validate.cpp).
  void check_enums(const google::protobuf::Message& msg, const std::string& prefix);
  void check_populations();
  int lookup(const std::string& path, const std::string& name);
  void check_projections();
  void check_feedback(const std::string& path, const v1::Projection& q);
  void check_init(const std::string& path, const v1::WeightInit& w);
  void check_delay(const std::string& path, const v1::Delay& d);
  void check_message_format(const std::string& path, const v1::MessageFormat& f);
  void find_cycles(int u, std::vector<int>& color, std::vector<int>& stack);

  // The graph as built (network_builder): an unrolled population is one vertex per
  // step, so a step that cannot reach the output is found like any dead end.
  struct unrolled_graph {
    std::vector<int> first;                  // per population: its first vertex
    std::vector<std::vector<int>> adj;       // per vertex: successors
  };
  unrolled_graph unroll_graph() const;
  static std::vector<bool> reachable_from(const unrolled_graph& g, int start, bool backward);
  std::string unseen(const unrolled_graph& g, const std::vector<bool>& seen, int i) const;
  void check_graph();
  void check_optimizer(const std::string& path, const v1::Optimizer& o);
  void check_rate(const std::string& rule, double old_lr, bool has_optimizer, const v1::Optimizer* o,
                  const char* example);
  void check_dp(const v1::DP& d);
  void check_il(const v1::Rule& r);
  void check_rule();
  void check_data();
  void check_run_settings();
  void check_record_events();   // record.events (model_validate_record.cpp)
  int recorded_population(const std::string& name) const;   // its population index, or -1

  // The computational-graph features (model_validate_graph.cpp).
  void check_shape(const std::string& path, const v1::Population& p);
  void check_unroll_combine(const std::string& path, const v1::Population& p);
  bool check_connectivity(const std::string& path, const v1::Projection& q, int pre, int post);
  void check_conv(const std::string& path, const v1::Conv& c, const v1::Population& a, const v1::Population& b);
  void check_products();
  void check_vertices();
  void check_graph_features();

  const loaded_model& m_;
  const v1::Model& model_;
  const source_map& src_;
  std::vector<std::string> lines_;
  data_summary data_;
  std::map<std::string, int> pop_index_;
  int input_ = -1;
  int output_ = -1;
  bool graph_complete_ = true;  // one INPUT, one OUTPUT, every projection resolved and accepted
  std::vector<std::vector<std::pair<int, int>>> edges_;  // per population: (post, projection index)
};

}  // namespace phaseless::io::detail
