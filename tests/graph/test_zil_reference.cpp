// Z-IL by messages on seven computational graphs, six loaded from model files
// (tests/models/good/zil_graph/): an MLP, a CNN with per-channel shared biases, an
// unrolled many-to-one RNN, a residual block without identity vertices, a
// multiplicative vertex, single-head attention (BILINEAR and SOFTMAX vertices); and the
// same attention built in code (tests/support/graph_specs.hpp); every projection has random delays 1..7 both ways. One
// training step (a batch of 4) must equal two independent oracles to 1e-9 relative:
//   - torch autograd gradients stored in data/zil_graph/<case>.h5 by
//     tools/make_zil_graph_reference.py (float64; the script checks them against
//     finite differences to 3e-10 and stops above 1e-6),
//   - fourth-order central finite differences here (error ~1e-12).
// 1e-9 leaves three orders of magnitude above double rounding of these tiny nets.
#include <doctest/doctest.h>

#include <string>

#include "sim/baseline/levelling.hpp"
#include "sim/baseline/zil_schedule.hpp"
#include "sim/io/model_loader.hpp"
#include "sim/io/network_builder.hpp"
#include "tests/support/graph_oracle.hpp"
#include "tests/support/graph_specs.hpp"
#include "tests/support/h5_reference.hpp"

using namespace phaseless;
using namespace phaseless::test;

namespace {

struct reference_case {
  network_spec spec;
  dataset data;
  flat torch_step;   // the weights after lr * (-grad), in the flat layout
};

// Writes `values` (a parameter of the reference) into the spec: a tie's theta and
// all its copies, a projection's own weights, or a population's bias. `step`
// applies the same to a flat vector (for the expected step) instead.
void place(const network_spec& spec, const std::string& name, const std::vector<double>& values,
           const std::function<void(int proj, std::size_t s, double)>& syn,
           const std::function<void(pop_t v, index_t i, double)>& bias) {
  for (std::size_t t = 0; t < spec.ties.size(); ++t) {
    if (spec.ties[t].name != name) continue;
    REQUIRE(values.size() == spec.ties[t].theta.size());
    for (std::size_t k = 0; k < spec.projections.size(); ++k)
      if (spec.projections[k].tie == int(t))
        for (std::size_t s = 0; s < spec.projections[k].param.size(); ++s) syn(int(k), s, values[spec.projections[k].param[s]]);
    for (pop_t v = 0; v < spec.populations.size(); ++v)
      if (spec.populations[v].bias_tie == int(t))
        for (index_t i = 0; i < spec.populations[v].size; ++i) bias(v, i, values[spec.populations[v].bias_param[i]]);
    return;
  }
  for (std::size_t k = 0; k < spec.projections.size(); ++k)
    if (spec.projections[k].name == name) {
      REQUIRE(values.size() == spec.projections[k].syn.size());
      for (std::size_t s = 0; s < values.size(); ++s) syn(int(k), s, values[s]);
      return;
    }
  for (pop_t v = 0; v < spec.populations.size(); ++v)
    if (spec.populations[v].name + ".bias" == name) {
      REQUIRE(values.size() == spec.populations[v].size);
      for (index_t i = 0; i < values.size(); ++i) bias(v, i, values[i]);
      return;
    }
  FAIL("reference parameter '" << name << "' matches no tie, projection or bias of the model");
}

// The case's network: its model file, or `built` (the code-built attention; a model file
// under another name).
reference_case load_case(const std::string& name, const network_spec* built = nullptr) {
  const auto file = zil_graph_reference(name);
  reference_case c;
  c.spec = built ? *built : io::build_network_spec(io::load_model(zil_graph_model(name)).model);
  auto& spec = c.spec;
  spec.learning.lr = read_attr(file, "lr");
  for (const auto& p : list_group(file, "params")) {
    const auto v = read_array(file, "params/" + p).v;
    place(spec, p, v, [&](int k, std::size_t s, double w) { spec.projections[k].syn.w[s] = w; },
          [&](pop_t q, index_t i, double b) { spec.populations[q].b[i] = b; });
    for (auto& t : spec.ties)
      if (t.name == p) t.theta = v;
  }
  const auto x = read_array(file, "x");
  auto& d = c.data;
  d.rows = x.shape[0];
  d.cols = x.shape[1];
  d.x.assign(x.v.begin(), x.v.end());   // float32-representable by construction
  if (has_object(file, "labels")) {
    for (auto l : read_labels(file, "labels")) d.labels.push_back(static_cast<std::uint8_t>(l));
    d.classes = spec.populations[spec.output].size;
  } else {
    const auto t = read_array(file, "targets");
    d.target_cols = t.shape[1];
    d.y.assign(t.v.begin(), t.v.end());
    d.labels.assign(d.rows, 0);
  }
  // Expected: every copy of a parameter moves by -lr * its gradient.
  c.torch_step = initial_params(spec);
  std::vector<std::size_t> off;
  std::size_t o = 0;
  for (const auto& p : spec.projections) {
    off.push_back(o);
    o += p.syn.size();
  }
  auto bias_at = [&](pop_t v, index_t i) {
    std::size_t b = o;
    for (pop_t q = 0; q < v; ++q)
      if (q != spec.input) b += spec.populations[q].size;
    return b + i;
  };
  for (const auto& p : list_group(file, "grads")) {
    const auto g = read_array(file, "grads/" + p).v;
    place(spec, p, g, [&](int k, std::size_t s, double v) { c.torch_step[off[k] + s] -= spec.learning.lr * v; },
          [&](pop_t q, index_t i, double v) { c.torch_step[bias_at(q, i)] -= spec.learning.lr * v; });
  }
  return c;
}

void check_case(const std::string& name, const network_spec* built = nullptr) {
  const auto c = load_case(name, built);
  const auto before = initial_params(c.spec);
  const auto ev = event_step(c.spec, c.data);
  const double vs_torch = relative_step_error(before, ev, c.torch_step);
  const double vs_fd = relative_step_error(before, ev, fd_step(c.spec, c.data));
  MESSAGE(name, ": Z-IL messages vs torch ", vs_torch, ", vs finite differences ", vs_fd);
  CHECK(vs_torch <= 1e-9);
  CHECK(vs_fd <= 1e-9);
  CHECK(event_step(c.spec, c.data, 2) == ev);   // bit for bit at any shard count
  // The paper's version: the layer-timed synchronous schedule, after levelling (a
  // no-op except on the residual block, which gets one identity vertex).
  const auto lev = baseline::level(c.spec);
  baseline::zil_schedule<double> z(lev);
  const double paper = relative_step_error(before, original_part(c.spec, lev, sync_step(lev, z, c.data)), c.torch_step);
  MESSAGE(name, ": paper's schedule on the levelled graph (", lev.populations.size() - c.spec.populations.size(),
          " identity vertices) vs torch ", paper);
  CHECK(paper <= 1e-9);
}

}  // namespace

TEST_CASE("Z-IL reference: MLP, delays 1..7") { check_case("mlp"); }
TEST_CASE("Z-IL reference: CNN with shared kernels and per-channel biases, delays 1..7") { check_case("cnn"); }
TEST_CASE("Z-IL reference: unrolled many-to-one RNN, delays 1..7") { check_case("rnn"); }
TEST_CASE("Z-IL reference: residual block without identity vertices, delays 1..7") {
  check_case("residual");
  // Ablation (spec Z4): the paper's schedule on the unlevelled block is not backprop.
  const auto c = load_case("residual");
  for (auto kind : {baseline::distance_kind::shortest, baseline::distance_kind::longest}) {
    baseline::zil_schedule<double> z(c.spec, kind);
    const double err = relative_step_error(initial_params(c.spec), sync_step(c.spec, z, c.data), c.torch_step);
    MESSAGE("residual, unlevelled, paper's schedule (", std::string(kind == baseline::distance_kind::shortest ? "shortest" : "longest"),
            " distance) vs torch ", err);
    CHECK(err > 0.05);   // the spec measured 0.80 and 1.25
  }
}
TEST_CASE("Z-IL reference: multiplicative vertex, delays 1..7") { check_case("product"); }
TEST_CASE("Z-IL reference: single-head attention (bilinear and softmax vertices), delays 1..7") {
  const auto spec = make_attention(6, 1, 7);
  check_case("attention", &spec);
}
TEST_CASE("Z-IL reference: single-head attention from a model file (BILINEAR, SOFTMAX, operand, rows), delays 1..7") {
  // The model is tests/models/good/zil_graph/attention.textproto; its reference case is
  // attention_model (channel-major, so not the code-built case above).
  const auto spec = io::build_network_spec(io::load_model(zil_graph_model("attention")).model);
  check_case("attention_model", &spec);
}
