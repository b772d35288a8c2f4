#pragma once
// The data source (R6): a one-neuron population that presents one training sample
// per presentation interval. At each presentation it sends a clamp message to the
// input population and a target message to the output population, both carrying
// the dataset row and the sample's tag, and sets its own timer for the next one.
#include <vector>

#include "sim/core/population.hpp"

namespace phaseless::neurons {

using namespace phaseless::core;

class data_source final : public population_model {
 public:
  data_source(std::vector<std::uint64_t> order, out_t clamp_out, out_t target_out, out_t timer_out)
      : order_(std::move(order)), clamp_out_(clamp_out), target_out_(target_out), timer_out_(timer_out) {}

  void deliver(std::uint32_t, std::span<const event> events, shard_context&) override {
    for (const event& e : events) {
      next_ = tag_sample(e.tag);
      pending_ = true;
    }
  }

  void react(shard_context& ctx) override {
    if (!pending_ || ctx.lo >= ctx.hi) return;
    pending_ = false;
    const std::uint64_t s = next_;
    const tag_t tag = make_tag(s, 0);
    const double row = static_cast<double>(order_[s]);
    ctx.out.emit(clamp_out_, 0, tag, row);
    ctx.out.emit(target_out_, 0, tag, row);
    if (s + 1 < order_.size()) ctx.out.set_timer(timer_out_, 0, make_tag(s + 1, 0));
  }

  const std::vector<std::uint64_t>& order() const { return order_; }

 private:
  std::vector<std::uint64_t> order_;
  out_t clamp_out_, target_out_, timer_out_;
  std::uint64_t next_ = 0;
  bool pending_ = false;
};

}  // namespace phaseless::neurons
