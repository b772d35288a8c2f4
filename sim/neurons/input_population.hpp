#pragma once
// Input neurons: clamped to the data. A clamp message names the dataset row of the
// sample (one message to the whole population, like any emission); each neuron
// takes its own feature and sends f(x) to its children.
#include <vector>

#include "sim/core/per_shard.hpp"
#include "sim/neurons/wiring.hpp"

namespace phaseless::neurons {

class input_population final : public population_model {
 public:
  // Real-independent: values travel as double.
  input_population(const population_spec& spec, const dataset* data, out_t activity_out, unsigned shards);
  void deliver(std::uint32_t local_port, std::span<const event> events, shard_context& ctx) override;
  void react(shard_context& ctx) override;

 private:
  const dataset* data_;
  activation_kind f_;
  out_t activity_out_;
  std::vector<std::uint64_t> row_;      // by shard: the clamped dataset row
  std::vector<tag_t> tag_;              // by shard
  std::vector<char> pending_;           // by shard
  per_shard<std::vector<double>> values_;     // by shard: the frame being sent
};

}  // namespace phaseless::neurons
