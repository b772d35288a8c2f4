// Eager mode (DESIGN R4): neurons react to whatever has arrived. With uniform
// delays every input of a step arrives in one tick, so eager must equal dataflow
// exactly; with random delays neurons fire on partial input and results differ,
// but the network must still learn a learnable task.
#include <doctest/doctest.h>

#include <algorithm>

#include "sim/baseline/backprop.hpp"
#include "sim/rules/event_network.hpp"
#include "tests/support/specs.hpp"

using namespace phaseless;
using namespace phaseless::core;

namespace {

// Labels from a fixed random linear teacher: argmax(T x), learnable by the student.
dataset teacher_data(std::size_t n, std::size_t cols, std::size_t classes, std::uint64_t seed) {
  dataset d = test::make_data(n, cols, classes, 0, seed);
  counter_rng r(1234, 99);   // one teacher for every data seed
  std::vector<double> t(classes * cols);
  for (auto& v : t) v = r.uniform(-1, 1);
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t best = 0;
    double bv = -1e300;
    for (std::size_t c = 0; c < classes; ++c) {
      double s = 0;
      for (std::size_t j = 0; j < cols; ++j) s += t[c * cols + j] * (d.x[k * cols + j] - 0.5);
      if (s > bv) bv = s, best = c;
    }
    d.labels[k] = static_cast<std::uint8_t>(best);
  }
  return d;
}

template <class Real>
std::vector<std::vector<Real>> train(const network_spec& spec, const dataset& d, std::size_t n, mode_kind mode,
                                     double* accuracy = nullptr, const dataset* test = nullptr) {
  std::vector<std::uint64_t> order(n);
  for (std::size_t k = 0; k < n; ++k) order[k] = k % d.rows;
  rules::event_network<Real> net(spec, d, order, rules::critical_path(spec) + 1, mode, 1);
  net.run_samples(n);
  if (accuracy) {
    std::vector<const std::vector<Real>*> b(spec.populations.size());
    std::vector<Real> none;
    for (pop_t v = 0; v < spec.populations.size(); ++v) b[v] = v == spec.input ? &none : &net.bias(v);
    *accuracy = baseline::evaluate<Real>(spec, net.synapses(), b, *test).accuracy;
  }
  std::vector<std::vector<Real>> w;
  for (auto& s : net.synapses()) w.push_back(s.w);
  return w;
}

}  // namespace

TEST_CASE("eager equals dataflow when every delay is the same") {
  test::mlp_options o{{6, 5, 4, 3}, activation_kind::tanh, loss_kind::softmax_ce};
  o.delay_min = o.delay_max = 2;
  const auto spec = test::make_mlp(o);
  const auto d = test::make_data(10, 6, 3, 0, 5);
  CHECK(train<double>(spec, d, 10, mode_kind::eager) == train<double>(spec, d, 10, mode_kind::dataflow));
}

TEST_CASE("eager with random delays fires on partial input, differs from dataflow, and still learns") {
  test::mlp_options o{{8, 16, 3}, activation_kind::tanh, loss_kind::softmax_ce};
  o.delay_min = 1;
  o.delay_max = 6;
  o.lr = 0.1;
  const auto spec = test::make_mlp(o);
  const auto d = teacher_data(400, 8, 3, 11), test = teacher_data(300, 8, 3, 12);
  double before = 0, eager = 0, flow = 0;
  train<double>(spec, d, 0, mode_kind::eager, &before, &test);
  const auto we = train<double>(spec, d, 3000, mode_kind::eager, &eager, &test);
  const auto wd = train<double>(spec, d, 3000, mode_kind::dataflow, &flow, &test);
  CHECK(we != wd);                 // asynchrony is visible in the weights
  CHECK(flow > before + 0.25);     // the task is learnable (chance is 1/3)
  CHECK(eager > before + 0.25);    // and eager relaxation learns it too
  MESSAGE("accuracy before " << before << ", dataflow " << flow << ", eager " << eager);
}
