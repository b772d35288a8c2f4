#pragma once
// What the benchmark and the profile driver share: a model's training data, network
// and sample order, loaded as a run would load them, and the hand-written reference
// (handwritten.hpp) built from the same network's initial weights.
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/core/network_spec.hpp"
#include "sim/io/idx.hpp"
#include "sim/io/model_loader.hpp"
#include "sim/io/network_builder.hpp"
#include "sim/io/session.hpp"
#include "tools/bench/handwritten.hpp"

namespace phaseless::bench {

struct setup {
  core::dataset train;
  core::network_spec spec;
  std::vector<std::uint64_t> order;
  core::tick_t interval = 0;
};

inline setup load_setup(const io::loaded_model& lm) {
  const auto& m = lm.model;
  if (!m.data().has_idx()) throw std::runtime_error("the benchmark needs a model with IDX data");
  setup s;
  const auto& idx = m.data().idx();
  s.train = io::load_idx(io::resolve_data_path(lm, idx.train_images()), io::resolve_data_path(lm, idx.train_labels()),
                         m.data().pixel_scale(), m.data().train_subset());
  for (float& x : s.train.x) x += static_cast<float>(m.data().pixel_offset());
  s.spec = io::build_network_spec(m);
  s.order = io::sample_order(m, s.train.rows);
  s.interval = io::presentation_interval(m, s.spec);
  return s;
}

// The hand-written MLP of a chain of dense projections with softmax cross-entropy,
// or an empty optional-like result (no layers) when the network is not one.
inline std::vector<hand_layer> hand_layers(const core::network_spec& spec) {
  std::vector<hand_layer> out;
  if (spec.learning.loss != core::loss_kind::softmax_ce || spec.learning.batch != 1) return {};
  core::pop_t v = spec.input;
  while (v != spec.output) {
    const core::projection_spec* p = nullptr;
    for (const auto& q : spec.projections)
      if (q.pre == v) {
        if (p || !q.syn.dense || q.tie >= 0) return {};
        p = &q;
      }
    if (!p) return {};
    const auto& post = spec.populations[p->post];
    hand_layer l;
    l.n_in = int(p->syn.n_pre);
    l.n_out = int(p->syn.n_post);
    l.f = static_cast<act>(static_cast<int>(post.activation));   // same enumerator order
    l.w.assign(p->syn.w.begin(), p->syn.w.end());
    l.b.assign(l.n_out, 0.f);
    if (post.bias)
      for (int i = 0; i < l.n_out; ++i) l.b[i] = static_cast<float>(post.b[i]);
    out.push_back(std::move(l));
    v = p->post;
  }
  if (spec.populations[spec.input].activation != core::activation_kind::identity) return {};
  return out;
}

}  // namespace phaseless::bench
