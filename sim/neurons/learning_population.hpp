#pragma once
// What the runner may ask of any learning population, whatever its rule: its
// biases (for snapshots and evaluation), the loss it accumulated (output), and its
// per-neuron state elements for activity reports (SONATA element ids 0..k-1).
#include <string>
#include <vector>

#include "sim/core/types.hpp"
#include "sim/core/population.hpp"

namespace phaseless::neurons {

template <class Real>
class learning_population : public core::population_model {
 public:
  virtual std::vector<Real>& bias() = 0;
  virtual double take_loss() = 0;                    // summed since the last call
  // Relaxation energy summed over samples (and this population's neurons) since the
  // last call; rules without relaxation report 0.
  virtual double take_energy() { return 0; }
  virtual std::vector<std::string> elements() const = 0;
  virtual Real element(core::index_t i, unsigned k) const = 0;
};

// How a divergence message ends. In eager mode the result also depends on the delays
// (and on jitter and loss), so the learning rate is not the only suspect.
inline std::string diverged_hint(core::mode_kind mode) {
  return mode == core::mode_kind::eager
             ? "learning diverged (EAGER mode: the result depends on the delays, jitter and message loss; "
               "check the same model in DATAFLOW mode, where only the learning rate matters)"
             : "learning diverged (try a smaller learning rate)";
}

}  // namespace phaseless::neurons
