// record.events: which populations, samples and neurons are recorded inside a sample.
// Each list must be non-empty where it is required, name existing things once each,
// and stay within the bounds of model_limits.hpp.
#include <map>
#include <set>
#include <string>

#include "sim/io/model_checker.hpp"

namespace phaseless::io::detail {

int checker::recorded_population(const std::string& name) const {
  if (const auto it = pop_index_.find(name); it != pop_index_.end()) return steps(it->second) ? -1 : it->second;
  if (!is_step_name(name)) return -1;
  return pop_index_.at(name.substr(0, name.rfind('@')));
}

void checker::check_record_events() {
  if (!model_.record().has_events()) return;
  const v1::Record::Events& ev = model_.record().events();
  const std::string at = "record.events.";
  const auto& pops = ev.population();
  if (pops.empty()) add(at + "population", "empty; list at least one population whose messages to record");
  if (pops.size() > max_recorded_populations)
    add(at + "population", std::to_string(pops.size()) + " populations; allowed: at most " +
                               std::to_string(max_recorded_populations));
  std::map<std::string, int> listed;
  std::uint32_t smallest = ~std::uint32_t{0};
  for (int k = 0; k < pops.size() && pops.size() <= max_recorded_populations; ++k) {
    const std::string path = at + "population[" + std::to_string(k) + "]";
    const int v = recorded_population(pops[k]);
    if (auto [it, fresh] = listed.emplace(pops[k], k); !fresh)
      add(path, "'" + shown(pops[k]) + "' is listed twice (" + at + "population[" + std::to_string(it->second) +
                    "] has it too); allowed: each population once");
    else if (const auto it = pop_index_.find(pops[k]); it != pop_index_.end() && steps(it->second))
      add(path, "'" + pops[k] + "' is unrolled, so it is recorded step by step; allowed: " + step_names(it->second));
    else if (v < 0)
      add(path, "no population named '" + shown(pops[k]) + "'; known populations: " + recordable_populations());
    else if (v != input_)   // the input population keeps no state: neurons do not apply to it
      smallest = std::min(smallest, model_.populations(v).size());
  }
  const auto& samples = ev.samples();
  if (samples.empty()) add(at + "samples", "empty; list at least one training sample (0-based) to record");
  if (samples.size() > max_recorded_samples)
    add(at + "samples", std::to_string(samples.size()) + " samples; allowed: at most " +
                            std::to_string(max_recorded_samples));
  // The run's samples: epochs x training rows, cut at max_samples (known once the data are).
  std::uint64_t total = data_.train_rows * model_.schedule().epochs();
  if (model_.schedule().max_samples()) total = std::min<std::uint64_t>(total, model_.schedule().max_samples());
  std::set<std::uint64_t> seen;
  for (int k = 0; k < samples.size() && samples.size() <= max_recorded_samples; ++k) {
    const std::string path = at + "samples[" + std::to_string(k) + "]";
    if (!seen.insert(samples[k]).second)
      add(path, std::to_string(samples[k]) + " is listed twice; allowed: each sample once");
    else if (data_.train_rows > 0 && samples[k] >= total)
      add(path, std::to_string(samples[k]) + " is beyond the run, which trains " + std::to_string(total) +
                    " samples; allowed: 0 to " + std::to_string(total == 0 ? 0 : total - 1));
  }
  const auto& neurons = ev.neurons();
  if (neurons.size() > max_recorded_neurons)
    add(at + "neurons", std::to_string(neurons.size()) + " neurons; allowed: at most " +
                            std::to_string(max_recorded_neurons));
  std::set<std::uint32_t> chosen;
  for (int k = 0; k < neurons.size() && neurons.size() <= max_recorded_neurons; ++k) {
    const std::string path = at + "neurons[" + std::to_string(k) + "]";
    if (!chosen.insert(neurons[k]).second)
      add(path, std::to_string(neurons[k]) + " is listed twice; allowed: each neuron once");
    else if (smallest != ~std::uint32_t{0} && neurons[k] >= smallest)
      add(path, std::to_string(neurons[k]) + " is not a neuron of every listed population (the smallest has " +
                    std::to_string(smallest) + "); allowed: 0 to " + std::to_string(smallest - 1));
  }
}

}  // namespace phaseless::io::detail
