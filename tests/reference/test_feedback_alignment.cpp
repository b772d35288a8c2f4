// Feedback alignment (Lillicrap et al. 2016; spec dp-fa.md §5): errors travel back
// through a fixed random matrix B in the same event engine as Z-IL.
#include <doctest/doctest.h>

#include <cmath>

#include "sim/baseline/backprop.hpp"
#include "sim/rules/event_network.hpp"
#include "tests/support/specs.hpp"
#include "tests/support/train.hpp"

using namespace phaseless;
using namespace phaseless::core;

using test::train_both;
using rel_fn = double (*)(const test::weights&, const test::weights&);
const rel_fn rel = test::relative_error;

TEST_CASE("feedback alignment with B := W^T reproduces Z-IL (backprop) bit for bit") {
  test::mlp_options o{{7, 6, 5, 3}, activation_kind::relu, loss_kind::softmax_ce};
  const auto d = test::make_data(12, 7, 3, 0, 61);
  auto [zil_ev, zil_bp] = train_both<double>(test::make_mlp(o), d, 12);
  o.tie_feedback = true;   // the FA code path, with B read live from W
  auto [fa_ev, fa_bp] = train_both<double>(test::make_mlp(o), d, 12);
  CHECK(fa_ev == zil_ev);
  CHECK(fa_bp == zil_bp);
}

TEST_CASE("feedback alignment by messages equals its synchronous form (uniform and random delays)") {
  for (tick_t dmax : {1, 5}) {
    CAPTURE(dmax);
    test::mlp_options o{{7, 6, 5, 3}, activation_kind::tanh, loss_kind::mse};
    o.random_feedback = true;
    o.delay_max = dmax;
    const auto spec = test::make_mlp(o);
    const auto d = test::make_data(10, 7, 3, 3, 62);
    auto [ev, bp] = train_both<double>(spec, d, 10);
    if (dmax == 1) {
      for (std::size_t p = 0; p < ev.size(); ++p) CHECK(ev[p] == bp[p]);   // same kernels, same order
    } else {
      CHECK(rel(ev, bp) < 1e-12);   // errors summed in arrival order: reassociation only
    }
    // And it is not backprop: B != W^T changes the hidden updates.
    o.random_feedback = false;
    auto [zev, zbp] = train_both<double>(test::make_mlp(o), d, 10);
    CHECK(rel(ev, zev) > 1e-3);
    CHECK(ev.back() != zev.back());
  }
}

TEST_CASE("per-projection learning rate and weight decay: one step against the closed form") {
  test::mlp_options o{{3, 2}, activation_kind::identity, loss_kind::mse};
  o.lr = 0.1;
  o.lr_scale = 0.5;
  o.weight_decay = 0.2;
  o.bias = false;
  const auto spec = test::make_mlp(o);
  const auto d = test::make_data(1, 3, 2, 2, 63);
  auto [ev, bp] = train_both<double>(spec, d, 1);
  CHECK(ev == bp);
  // Linear output, squared loss: w_ij <- w_ij + lr s (t_i - mu_i) x_j - lr s lambda w_ij.
  const auto& w0 = spec.projections[0].syn.w;
  for (index_t i = 0; i < 2; ++i) {
    double mu = 0;
    for (index_t j = 0; j < 3; ++j) mu += w0[i * 3 + j] * d.x[j];
    for (index_t j = 0; j < 3; ++j) {
      const double want = w0[i * 3 + j] + 0.1 * 0.5 * (d.y[i] - mu) * d.x[j] - 0.1 * 0.5 * 0.2 * w0[i * 3 + j];
      CHECK(ev[0][i * 3 + j] == doctest::Approx(want).epsilon(1e-14));
    }
  }
}
