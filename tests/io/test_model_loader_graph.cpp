// Network builder: the layouts it gives graph features (conv, shared biases,
// unrolled populations, product/one-to-one/fixed, attention's operand and rows), checked
// against independent enumerations, and the names graph models keep for --set and record.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "sim/core/network_spec.hpp"
#include "sim/io/network_builder.hpp"
#include "tests/support/loader_support.hpp"

using namespace phaseless::test::loader;

// ---- Graph features: the layouts network_builder gives conv, shared biases, unrolling ----

namespace {

using phaseless::core::network_spec;
using phaseless::core::projection_spec;

network_spec build(const fs::path& file, const std::vector<std::string>& overrides = {}) {
  return phaseless::io::build_network_spec(load_model(file, overrides).model);
}

const projection_spec& projection(const network_spec& s, const std::string& name) {
  for (const auto& p : s.projections)
    if (p.name == name) return p;
  FAIL("no projection " << name);
  throw std::logic_error("unreachable");
}

int population(const network_spec& s, const std::string& name) {
  for (std::size_t v = 0; v < s.populations.size(); ++v)
    if (s.populations[v].name == name) return static_cast<int>(v);
  return -1;
}

// Every shared weight and bias starts at its parameter's value; members name their tie.
void check_ties(const network_spec& s) {
  for (const auto& p : s.projections) {
    if (p.tie < 0) {
      CHECK(p.param.empty());
      continue;
    }
    INFO("projection ", p.name);
    REQUIRE(p.tie < static_cast<int>(s.ties.size()));
    const auto& theta = s.ties[p.tie].theta;
    REQUIRE(p.param.size() == p.syn.w.size());
    for (std::size_t k = 0; k < p.param.size(); ++k) {
      REQUIRE(p.param[k] < theta.size());
      CHECK(p.syn.w[k] == theta[p.param[k]]);
    }
    CHECK((p.name == s.ties[p.tie].name || p.name.starts_with(s.ties[p.tie].name + "@")));
  }
  for (const auto& q : s.populations) {
    if (q.bias_tie < 0) {
      CHECK(q.bias_param.empty());
      continue;
    }
    INFO("population ", q.name);
    const auto& t = s.ties[q.bias_tie];
    REQUIRE(q.bias_param.size() == q.size);
    REQUIRE(q.b.size() == q.size);
    for (std::size_t i = 0; i < q.size; ++i) CHECK(q.b[i] == t.theta[q.bias_param[i]]);
  }
}

}  // namespace

TEST_CASE("network_builder: a model without graph features has no ties and plastic projections") {
  const network_spec s = build(minimal);
  CHECK(s.ties.empty());
  for (const auto& p : s.projections) {
    CHECK(p.plastic);
    CHECK(p.tie == -1);
  }
  for (const auto& q : s.populations) CHECK(q.bias_tie == -1);
  CHECK(s.populations[1].b.size() == 8);
}

TEST_CASE("network_builder: a padded, strided conv matches a brute-force enumeration") {
  temp_dir tmp;
  // in 2x5x4, kernel 3, stride 2, padding 1: H_out = (5 + 2 - 3) / 2 + 1 = 3, W_out = (4 + 2 - 3) / 2 + 1 = 2.
  const auto file = tmp.write("conv.textproto", R"(schema_version: 1
populations { name: "in" role: INPUT size: 40 shape { channels: 2 height: 5 width: 4 } }
populations { name: "c" role: HIDDEN size: 18 activation: TANH bias: true shape { channels: 3 height: 3 width: 2 } }
populations { name: "out" role: OUTPUT size: 2 }
projections { name: "k" pre: "in" post: "c" conv { kernel: 3 stride: 2 padding: 1 } lr_scale: 0.5 weight_decay: 0.01 }
projections { name: "w" pre: "c" post: "out" }
rule { loss: MSE zil { optimizer { lr: 0.1 } } }
data { teacher { kind: LINEAR inputs: 40 outputs: 2 train_samples: 4 } }
)");
  const network_spec s = build(file);
  const projection_spec& k = projection(s, "k");
  const int Cin = 2, H = 5, W = 4, Cout = 3, Ho = 3, Wo = 2, K = 3, S = 2, P = 1;
  // Expected synapses by walking every (post, pre) pair: pre (ci, iy, ix) is in the window
  // of post (co, oy, ox) when its kernel offset iy - (oy S - P) lies in [0, K), same for x.
  std::map<int, std::vector<std::pair<int, int>>> want;   // row -> (col, param), cols ascending
  for (int co = 0; co < Cout; ++co)
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox)
        for (int ci = 0; ci < Cin; ++ci)
          for (int iy = 0; iy < H; ++iy)
            for (int ix = 0; ix < W; ++ix) {
              const int ky = iy - (oy * S - P), kx = ix - (ox * S - P);
              if (ky < 0 || ky >= K || kx < 0 || kx >= K) continue;
              want[(co * Ho + oy) * Wo + ox].push_back({(ci * H + iy) * W + ix, ((co * Cin + ci) * K + ky) * K + kx});
            }
  CHECK_FALSE(k.syn.dense);
  REQUIRE(k.syn.n_post == 18);
  REQUIRE(k.syn.n_pre == 40);
  std::size_t total = 0;
  for (int i = 0; i < 18; ++i) {
    INFO("row ", i);
    const auto& row = want[i];
    REQUIRE(k.syn.row_end(i) - k.syn.row_begin(i) == row.size());
    for (std::size_t n = 0; n < row.size(); ++n) {
      CHECK(k.syn.col[k.syn.row_begin(i) + n] == static_cast<unsigned>(row[n].first));
      CHECK(k.param[k.syn.row_begin(i) + n] == static_cast<unsigned>(row[n].second));
    }
    total += row.size();
  }
  CHECK(k.syn.w.size() == total);
  CHECK(total == 210);   // per channel pair, (2 + 3 + 2) rows x (2 + 3) columns of taps inside the padding
  REQUIRE(k.tie >= 0);
  const auto& t = s.ties[k.tie];
  CHECK(t.name == "k");
  CHECK(t.theta.size() == std::size_t(Cout * Cin * K * K));
  CHECK(t.lr_scale == 0.5);
  CHECK(t.weight_decay == 0.01);
  for (double x : t.theta) CHECK(std::abs(x) <= 1 / std::sqrt(18.0));   // UNIFORM_FAN_IN, fan_in Cin K K
  CHECK(std::set<double>(t.theta.begin(), t.theta.end()).size() == t.theta.size());
  // The bias of c: one per channel, shared by its 3x2 positions.
  const auto& c = s.populations[population(s, "c")];
  REQUIRE(c.bias_tie >= 0);
  CHECK(s.ties[c.bias_tie].name == "c.bias");
  CHECK(s.ties[c.bias_tie].theta.size() == 3);
  for (unsigned i = 0; i < 18; ++i) CHECK(c.bias_param[i] == i / 6);
  CHECK(c.b[0] == c.b[5]);
  CHECK(c.b[0] != c.b[6]);
  check_ties(s);
}

TEST_CASE("network_builder: the tiny CNN, with feedback alignment on a conv") {
  const network_spec s = build(models_dir / "good" / "graph_cnn.textproto", {"projections[k2].feedback.kind=RANDOM"});
  REQUIRE(s.populations.size() == 4);
  const auto& k1 = projection(s, "k1");
  const auto& k2 = projection(s, "k2");
  CHECK(k1.syn.w.size() == 3 * 22 * 22);   // 22 = 2 + 6 * 3 + 2 valid taps along each side of 8 with padding 1
  CHECK(k2.syn.w.size() == 4 * 9 * 27);    // no padding: every window is full
  CHECK(s.ties[k1.tie].theta.size() == 27);
  CHECK(s.ties[k2.tie].theta.size() == 108);
  CHECK(s.ties[s.populations[1].bias_tie].theta.size() == 3);
  CHECK(s.ties[s.populations[2].bias_tie].theta.size() == 4);
  CHECK(projection(s, "w3").tie == -1);
  // B: per synapse, untied, the layout of W.
  CHECK(k2.feedback == phaseless::core::feedback_kind::random);
  CHECK(k2.b.col == k2.syn.col);
  CHECK(k2.b.w.size() == k2.syn.w.size());
  CHECK(k2.b.w != k2.syn.w);
  check_ties(s);
}

TEST_CASE("network_builder: an unrolled RNN becomes steps, tied copies and a many-to-one readout") {
  const network_spec s = build(models_dir / "good" / "graph_rnn.textproto");
  std::vector<std::string> names;
  for (const auto& p : s.populations) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"in", "h@1", "h@2", "h@3", "out"});
  CHECK(s.topo == std::vector<phaseless::core::pop_t>{0, 1, 2, 3, 4});
  std::vector<std::tuple<std::string, std::string, std::string>> links;
  for (const auto& p : s.projections) links.emplace_back(p.name, s.populations[p.pre].name, s.populations[p.post].name);
  using L = std::tuple<std::string, std::string, std::string>;
  CHECK(links == std::vector<L>{{"wx@1", "in", "h@1"}, {"wx@2", "in", "h@2"}, {"wh@2", "h@1", "h@2"},
                                {"wx@3", "in", "h@3"}, {"wh@3", "h@2", "h@3"}, {"wo", "h@3", "out"}});
  const int wx = projection(s, "wx@1").tie, wh = projection(s, "wh@2").tie;
  REQUIRE(wx >= 0);
  REQUIRE(wh >= 0);
  CHECK(s.ties[wx].name == "wx");
  CHECK(s.ties[wx].theta.size() == 5 * 4);   // n_post x step_slice, post-major
  CHECK(s.ties[wh].name == "wh");
  CHECK(s.ties[wh].theta.size() == 25);
  for (int t = 1; t <= 3; ++t) {
    const auto& x = projection(s, "wx@" + std::to_string(t));
    CHECK(x.tie == wx);
    CHECK_FALSE(x.syn.dense);
    CHECK(x.syn.n_pre == 12);
    for (unsigned i = 0; i < 5; ++i)
      for (unsigned j = 0; j < 4; ++j) {
        const auto k = x.syn.row_begin(i) + j;
        CHECK(x.syn.col[k] == (t - 1) * 4 + j);   // step t reads in[(t-1) 4, t 4)
        CHECK(x.param[k] == i * 4 + j);
      }
  }
  for (int t = 2; t <= 3; ++t) {
    const auto& h = projection(s, "wh@" + std::to_string(t));
    CHECK(h.tie == wh);
    CHECK(h.syn.dense);
    for (std::size_t k = 0; k < h.param.size(); ++k) CHECK(h.param[k] == k);
  }
  const auto& wo = projection(s, "wo");
  CHECK(wo.tie == -1);
  CHECK(wo.syn.dense);
  // One bias for every step.
  const int bias = s.populations[1].bias_tie;
  REQUIRE(bias >= 0);
  CHECK(s.ties[bias].name == "h.bias");
  CHECK(s.ties[bias].theta.size() == 5);
  for (int v = 1; v <= 3; ++v) {
    CHECK(s.populations[v].bias_tie == bias);
    CHECK(s.populations[v].bias_param == std::vector<std::uint32_t>{0, 1, 2, 3, 4});
    CHECK(s.populations[v].b == s.ties[bias].theta);
  }
  CHECK(s.populations[4].bias_tie == -1);
  check_ties(s);
}

TEST_CASE("network_builder: each step's copy draws its own delays") {
  const network_spec s = build(models_dir / "good" / "graph_rnn.textproto",
                               {"projections[wh].delay={uniform {min: 1 max: 9}}"});
  const auto& a = projection(s, "wh@2");
  const auto& b = projection(s, "wh@3");
  REQUIRE(a.forward.klass.size() == 25);
  REQUIRE(b.forward.klass.size() == 25);
  CHECK(a.forward.klass != b.forward.klass);
}

TEST_CASE("network_builder: product vertices, one-to-one relays and fixed projections") {
  const network_spec s = build(models_dir / "good" / "graph_product.textproto");
  using phaseless::core::combine_kind;
  CHECK(s.populations[population(s, "p")].combine == combine_kind::product);
  CHECK(s.populations[population(s, "a")].combine == combine_kind::sum);
  for (const char* name : {"ra", "rb", "skip"}) {
    const auto& r = projection(s, name);
    INFO(name);
    CHECK_FALSE(r.plastic);
    CHECK(r.tie == -1);
    CHECK_FALSE(r.syn.dense);
    REQUIRE(r.syn.w.size() == 3);
    for (unsigned i = 0; i < 3; ++i) {
      CHECK(r.syn.row_end(i) - r.syn.row_begin(i) == 1);
      CHECK(r.syn.col[i] == i);
      CHECK(r.syn.w[i] == 1.0);   // CONSTANT 1: an identity relay
    }
  }
  CHECK(projection(s, "wo").plastic);
  CHECK(s.ties.empty());
}

TEST_CASE("network_builder: attention from a model file: operand and rows layouts") {
  // q, k, v, z: (4, 1, 3) = 4 x 3 matrices, entry [c, t] = neuron 3c + t; S, A: 3 x 3.
  const network_spec s = build(models_dir / "good" / "zil_graph" / "attention.textproto");
  using phaseless::core::combine_kind;
  CHECK(s.populations[population(s, "S")].combine == combine_kind::bilinear);
  CHECK(s.populations[population(s, "A")].combine == combine_kind::softmax);
  CHECK(s.populations[population(s, "z")].combine == combine_kind::bilinear);
  CHECK_NOTHROW(phaseless::core::check_vertices(s));
  CHECK(s.ties.size() == 3);   // the three 1x1 conv kernels
  auto row = [](const projection_spec& p, unsigned i) {
    std::vector<unsigned> cols;
    for (auto k = p.syn.row_begin(i); k < p.syn.row_end(i); ++k) cols.push_back(p.syn.col[k]);
    return cols;
  };
  for (const char* name : {"sq", "sk", "sa", "zv", "za"}) {
    const auto& p = projection(s, name);
    INFO(name);
    CHECK_FALSE(p.plastic);
    CHECK(p.tie == -1);
    CHECK_FALSE(p.syn.dense);
    for (double w : p.syn.w) CHECK(w == (std::string(name) == "sq" ? 0.5 : 1.0));
  }
  // S = q^T k: neuron (r, c) = (1, 2) = 5 reads q^T[1, m] = q[m, 1] and k[m, 2], m = 0..3.
  CHECK(row(projection(s, "sq"), 5) == std::vector<unsigned>{1, 4, 7, 10});
  CHECK(row(projection(s, "sk"), 5) == std::vector<unsigned>{2, 5, 8, 11});
  // A = softmax over the rows of S: neuron (2, 1) = 7 reads row 2 of S.
  CHECK(row(projection(s, "sa"), 7) == std::vector<unsigned>{6, 7, 8});
  // z = v A^T: neuron (2, 1) = 7 reads v[2, m] and A^T[m, 1] = A[1, m], m = 0..2.
  CHECK(row(projection(s, "zv"), 7) == std::vector<unsigned>{6, 7, 8});
  CHECK(row(projection(s, "za"), 7) == std::vector<unsigned>{3, 4, 5});
}

TEST_CASE("model_loader: graph models keep model names for --set and step names for record") {
  const fs::path rnn = models_dir / "good" / "graph_rnn.textproto";
  const network_spec s = build(rnn, {"populations[h].size=7"});
  CHECK(s.populations[2].size == 7);
  CHECK(contains(load_error(rnn, {"populations[h].unroll=4"}),
                 "projections[0].step_slice: step_slice 4 x 4 steps of 'h' = 16 neurons, "
                 "but the pre population 'in' has 12; allowed: 3 (step_slice * steps = size of 'in')"));
  CHECK(contains(load_error(rnn, {"record.populations[0]=h@4"}),
                 "no population named 'h@4'; known populations: in, h@1, h@2, h@3, out"));
  CHECK(contains(load_error(rnn, {"rule={dp {optimizer {lr: 0.001}}}"}), "unroll is supported by rule zil only, but the rule is dp"));
}
