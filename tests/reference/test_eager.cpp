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
  const auto spec = test::make_mlp(o);
  const auto d = test::teacher_data(400, 8, 3, 11), held_out = test::teacher_data(300, 8, 3, 12);
  test::weights we, wd;
  const double before = test::accuracy_after<double>(spec, d, held_out, 0, mode_kind::eager);
  const double eager = test::accuracy_after<double>(spec, d, held_out, 3000, mode_kind::eager, &we);
  const double flow = test::accuracy_after<double>(spec, d, held_out, 3000, mode_kind::dataflow, &wd);
  CHECK(we != wd);                 // asynchrony is visible in the weights
  CHECK(flow > before + 0.25);     // the task is learnable (chance is 1/3)
  CHECK(eager > before + 0.25);    // and eager relaxation learns it too
  MESSAGE("accuracy before " << before << ", dataflow " << flow << ", eager " << eager);
}
