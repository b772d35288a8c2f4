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

TEST_CASE("eager with random delays fires on partial input, differs from dataflow, and still learns") {
  test::mlp_options o{{8, 16, 3}, activation_kind::tanh, loss_kind::softmax_ce};
  o.delay_min = 1;
  o.delay_max = 6;
  o.lr = 0.1;
  const auto r = test::eager_and_dataflow(test::make_mlp(o), 3000);
  CHECK(r.w_eager != r.w_flow);          // asynchrony is visible in the weights
  CHECK(r.flow > r.before + 0.25);       // the task is learnable (chance is 1/3)
  CHECK(r.eager > r.before + 0.25);      // and eager relaxation learns it too
  MESSAGE("accuracy before " << r.before << ", dataflow " << r.flow << ", eager " << r.eager);
}
