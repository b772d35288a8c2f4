#pragma once
// The synchronous form of a learning rule (matrix form, layer by layer, one sample
// at a time): the user-facing baseline of `phaseless compare` and the oracle the
// event engine must equal in dataflow mode. One implementation per rule.
#include <vector>

#include "sim/core/dataset.hpp"
#include "sim/core/network_spec.hpp"

namespace phaseless::baseline {

// An accumulator's value since the last call, and reset (the take_* reads).
inline double take(double& acc) {
  const double v = acc;
  acc = 0;
  return v;
}

template <class Real>
class sync_engine {
 public:
  virtual ~sync_engine() = default;
  // One training sample; updates are applied at batch ends (every `batch` samples
  // and at the last of `samples_total`).
  virtual void train(const core::dataset& data, std::uint64_t row, std::uint64_t sample,
                     std::uint64_t samples_total) = 0;
  virtual std::vector<core::synapse_matrix<Real>>& synapses() = 0;
  virtual std::vector<Real>& bias(core::pop_t v) = 0;
  virtual double take_loss() = 0;                    // summed since the last call
  virtual double take_energy() { return 0; }         // relaxation energy summed since the last call
  virtual std::uint64_t synaptic_ops() const = 0;    // multiply-adds of transmission
};

}  // namespace phaseless::baseline
