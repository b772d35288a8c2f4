// Eager mode (DESIGN R4): neurons react to whatever has arrived. With uniform
// delays every input of a step arrives in one tick, so eager must equal dataflow
// exactly; with random delays neurons fire on partial input and results differ,
// but the network must still learn a learnable task.
#include <doctest/doctest.h>

#include "tests/support/specs.hpp"
#include "tests/support/train.hpp"

using namespace phaseless;
using namespace phaseless::core;

TEST_CASE("eager equals dataflow when every delay is the same") {
  test::mlp_options o{{6, 5, 4, 3}, activation_kind::tanh, loss_kind::softmax_ce};
  o.delay_min = o.delay_max = 2;
  const auto spec = test::make_mlp(o);
  const auto d = test::make_data(10, 6, 3, 0, 5);
  CHECK(test::train_event<double>(spec, d, 10, mode_kind::eager) ==
        test::train_event<double>(spec, d, 10, mode_kind::dataflow));
}

// Z-IL's error is final (one inference step, gamma = 1, no relaxation to correct it),
// so a neuron may compute it only from its settled prediction: eager neurons send
// partial predictions as refinements, but the error waits for every parent's settled
// value (and, at a softmax output, every sibling's settled logit). Before, the first
// partial message counted as the sender's value, the output's error gate closed while
// its prediction still held mostly the previous sample's activity, and every weight
// learned the current label against the previous sample (the default Fashion-MNIST
// model diverged at sample 1,060 with delays 1..6). Oracle: dataflow, which equals
// backprop; the two differ only in the order errors are summed into g (tolerance
// 1e-12 relative in double: a few ulp per sample over 300 samples, against an O(1)
// difference before).
TEST_CASE("eager Z-IL and FA with random delays on every projection learn what dataflow learns") {
  for (bool fa : {false, true}) {
    CAPTURE(fa);
    test::mlp_options o{{8, 16, 12, 3}, activation_kind::relu, loss_kind::softmax_ce};
    o.delay_min = 1;
    o.delay_max = 6;
    o.lr = 0.1;
    o.random_feedback = fa;
    const auto spec = test::make_mlp(o);
    const auto d = test::teacher_data(300, 8, 3, 11);
    auto run = [&](mode_kind mode) {
      rules::event_network<double> net(spec, d, test::rows_in_order(300, d.rows), rules::critical_path(spec) + 1,
                                       mode, 1);
      net.run_samples(300);
      return std::pair{test::weights_of(net.synapses()), net.totals().events};
    };
    const auto [w_eager, events_eager] = run(mode_kind::eager);
    const auto [w_flow, events_flow] = run(mode_kind::dataflow);
    CHECK(test::relative_error(w_eager, w_flow) < 1e-12);
    CHECK(events_eager > events_flow);   // partial predictions did travel ahead of the settled ones
  }
}

TEST_CASE("eager Z-IL with random delays learns a learnable task") {
  test::mlp_options o{{8, 16, 3}, activation_kind::tanh, loss_kind::softmax_ce};
  o.delay_min = 1;
  o.delay_max = 6;
  o.lr = 0.1;
  const auto r = test::eager_and_dataflow(test::make_mlp(o), 3000);
  CHECK(r.flow > r.before + 0.25);       // the task is learnable (chance is 1/3)
  CHECK(r.eager > r.before + 0.25);      // and eager Z-IL learns it too
  MESSAGE("accuracy before " << r.before << ", dataflow " << r.flow << ", eager " << r.eager);
}
